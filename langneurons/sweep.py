"""How strongly to steer: the sweep's curves, the choice of a setting per target language, and the deactivation
dose-response (docs/steering.md).

The sweep's answers (``steering.run_sweep``), once judged
(``judging.judge_answers``), become three tables:

- ``sweep_table``: per kind of steering (offtarget, crosslingual), target
  language and point (mode, strength): **success** (share of answers in the
  target language, answer level, with its bootstrap interval over questions),
  the line and word levels of language confusion (LPR, WPR, LCPR,
  ``confusion.rates``), **quality** (mean judge score 1-5, with its interval)
  and **repetition** (``repetition_share``), next to the unsteered answers to
  the same questions (``base_*``: the off-target questions answered normally;
  for cross-lingual steering the sources' unsteered answers, whose success is
  the share already in the target language).
- ``chosen_table``: one point per kind and target language, by the rule of
  ``choose``.
- ``deactivation_table``: per language and share of its neurons switched off
  (share 0: the normal answers), the share of answers still in the language,
  the language most of the others are in (where the model falls back to), the
  shares of every detected language, quality and repetition.

Light (pandas, numpy): the report and the figures read the tables, never the model.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .confusion import rates

#: Word n-grams (CJK characters count as words) that ``repetition_share`` compares: the local judge's unit.
REPETITION_NGRAM = 4

SWEEP_COLUMNS = [
    "kind",
    "target",
    "mode",
    "strength",
    "n",
    "success",
    "success_lo",
    "success_hi",
    "lpr",
    "wpr",
    "lcpr",
    "quality",
    "quality_lo",
    "quality_hi",
    "repetition",
    "base_n",
    "base_success",
    "base_quality",
    "base_repetition",
]
CHOSEN_COLUMNS = [
    "kind",
    "target",
    "mode",
    "strength",
    "passed",
    "success",
    "quality",
    "repetition",
    "base_success",
    "base_quality",
    "threshold",
    "margin",
]
DEACTIVATION_COLUMNS = [
    "language",
    "share",
    "deactivated",
    "n",
    "in_language",
    "fallback",
    "fallback_share",
    "detected",
    "quality",
    "repetition",
]


def repetition_share(text: str, n: int = REPETITION_NGRAM) -> float:
    """Degeneration of an answer: the share of its word n-grams that repeat an earlier n-gram of the answer
    (Welleck et al. 2020's seq-rep-n over the answer's own words; CJK characters count as words). 0 for an
    answer of fewer than ``n`` words; a loop ("学习，学习，学习，…") approaches 1."""
    from .judge.local import copied_shares, units

    return copied_shares(units(text or ""), [], n)[1]


def _mean(values) -> float:
    values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else float("nan")


def _interval(values, n_boot: int, seed: int, confidence: float) -> tuple[float, float]:
    from .uncertainty import bootstrap_ci, mean

    values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return float("nan"), float("nan")
    _, lo, hi = bootstrap_ci(values, mean, n_boot, seed, confidence)
    return lo, hi


def _baselines(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """(kind, target) -> the unsteered answers to the same questions: off-target, the target language's normal
    answers; cross-lingual, the unsteered answers of every source steered toward the target."""
    normal: dict[str, list[dict]] = {}
    unsteered: dict[str, list[dict]] = {}
    sources: dict[str, set[str]] = {}
    for r in records:
        if r["kind"] == "offtarget" and r["condition"] == "normal":
            normal.setdefault(r["language"], []).append(r)
        elif r["kind"] == "crosslingual" and r.get("target") is None:
            unsteered.setdefault(r["language"], []).append(r)
        elif r["kind"] == "crosslingual":
            sources.setdefault(r["target"], set()).add(r["language"])
    out = {("offtarget", lang): rows for lang, rows in normal.items()}
    for target, found in sources.items():
        out["crosslingual", target] = [r for source in sorted(found) for r in unsteered.get(source, [])]
    return out


def sweep_table(records: list[dict], languages: list[str], uncertainty: dict) -> pd.DataFrame:
    """The sweep's curves (``SWEEP_COLUMNS``), one row per kind, target language and point.

    ``records``: the sweep's answers, judged and annotated (``score``,
    ``lang_detected``, ``in_expected_language``, ``line_pass``, ``word_pass``)
    and with ``repetition``. Rows in kind order, then target in ``languages``
    order, then the points in the order the sweep ran them.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r["kind"] in ("offtarget", "crosslingual") and r.get("mode") is not None:
            groups.setdefault((r["kind"], r["target"], r["mode"], r["strength"]), []).append(r)
    bases = _baselines(records)
    boot = (uncertainty["bootstrap_samples"], uncertainty["seed"], uncertainty["confidence"])
    rows = []
    for (kind, target, mode, strength), answers in groups.items():
        success = [r["lang_detected"] == target for r in answers]
        quality = [r.get("score") for r in answers]
        levels = rates(
            [
                {"answer_pass": r["in_expected_language"], "line_pass": r["line_pass"], "word_pass": r["word_pass"]}
                for r in answers
            ]
        )
        base = bases.get((kind, target), [])
        rows.append(
            {
                "kind": kind,
                "target": target,
                "mode": mode,
                "strength": strength,
                "n": len(answers),
                "success": _mean(success),
                **dict(zip(("success_lo", "success_hi"), _interval(success, *boot))),
                "lpr": levels["lpr"],
                "wpr": levels["wpr"],
                "lcpr": levels["lcpr"],
                "quality": _mean(quality),
                **dict(zip(("quality_lo", "quality_hi"), _interval(quality, *boot))),
                "repetition": _mean(r["repetition"] for r in answers),
                "base_n": len(base),
                "base_success": _mean(r["lang_detected"] == target for r in base),
                "base_quality": _mean(r.get("score") for r in base),
                "base_repetition": _mean(r["repetition"] for r in base),
            }
        )
    kinds, langs = ("offtarget", "crosslingual"), {lang: k for k, lang in enumerate(languages)}
    rows.sort(key=lambda row: (kinds.index(row["kind"]), langs.get(row["target"], len(langs))))  # stable: points
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def passes(row, threshold: float, margin: float) -> bool:
    """The rule's test of one point: success reaches ``threshold`` and quality is at most ``margin`` below the
    unsteered answers' (not tested where either quality is unknown: no judge)."""
    if not row["success"] >= threshold:
        return False
    quality, base = row["quality"], row["base_quality"]
    return bool(pd.isna(quality) or pd.isna(base) or quality >= base - margin)


def choose(curve: pd.DataFrame, threshold: float, margin: float, modes: Sequence[str]) -> dict:
    """The chosen point of one kind and target language's curve (rows of ``sweep_table``).

    Among the points that pass (``passes``): per mode the smallest passing
    strength (the weakest push that works), then of those the one with the
    highest quality (ties: higher success, then ``modes`` order). When no
    point passes: the highest success (ties: higher quality, then the smaller
    strength, then ``modes`` order), marked ``passed`` False.
    """
    if curve.empty:
        raise ValueError("choose needs at least one point")
    rank = {mode: k for k, mode in enumerate(modes)}

    def quality(row):
        return -math.inf if pd.isna(row["quality"]) else row["quality"]

    rows = [row for _, row in curve.iterrows()]
    passing = [row for row in rows if passes(row, threshold, margin)]
    if passing:
        weakest = {}
        for row in sorted(passing, key=lambda row: row["strength"]):
            weakest.setdefault(row["mode"], row)
        best = min(weakest.values(), key=lambda row: (-quality(row), -row["success"], rank[row["mode"]]))
    else:
        best = min(
            rows, key=lambda row: (-row["success"], -quality(row), row["strength"], rank.get(row["mode"], len(rank)))
        )
    return {
        "kind": best["kind"],
        "target": best["target"],
        "mode": best["mode"],
        "strength": float(best["strength"]),
        "passed": bool(passing),
        "success": best["success"],
        "quality": best["quality"],
        "repetition": best["repetition"],
        "base_success": best["base_success"],
        "base_quality": best["base_quality"],
        "threshold": threshold,
        "margin": margin,
    }


def chosen_table(sweep: pd.DataFrame, threshold: float, margin: float, modes: Sequence[str]) -> pd.DataFrame:
    """One chosen point per kind and target language (``CHOSEN_COLUMNS``), in the sweep table's order."""
    rows = [choose(curve, threshold, margin, modes) for _, curve in sweep.groupby(["kind", "target"], sort=False)]
    return pd.DataFrame(rows, columns=CHOSEN_COLUMNS)


def chosen_points(table: pd.DataFrame) -> dict[tuple[str, str], tuple[str, float]]:
    """(kind, target) -> (mode, strength) of a chosen table (what the main steering runs with)."""
    return {(r.kind, r.target): (r.mode, float(r.strength)) for r in table.itertuples()}


def read_chosen(path) -> dict[tuple[str, str], tuple[str, float]]:
    """``chosen_points`` of a chosen-strengths file (written by the judge_sweep rule)."""
    from .errors import InputFileError

    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as err:
        raise InputFileError(
            f"{path}: cannot be read as the sweep's chosen strengths ({err}); run the sweep again"
        ) from None
    missing = {"kind", "target", "mode", "strength"} - set(table.columns)
    if missing:
        raise InputFileError(
            f"{path} lacks {', '.join(sorted(missing))}: not a chosen-strengths file; run the sweep again"
        )
    return chosen_points(table)


def deactivation_table(records: list[dict], languages: list[str]) -> pd.DataFrame:
    """The deactivation dose-response's answers (``DEACTIVATION_COLUMNS``), per language and share switched off.

    Share 0 is the language's normal answers to the same questions. ``fallback``
    is the language most of the answers not in the question's language are in
    (None when all are in it or none has a language); ``detected`` lists every
    detected language's share, most frequent first ("none" for an answer in no
    language).
    """
    groups: dict[tuple[str, float], list[dict]] = {}
    deactivated: dict[tuple[str, float], int] = {}
    for r in records:
        if r["kind"] == "offtarget" and r["condition"] == "normal":
            key = (r["language"], 0.0)
            deactivated[key] = 0
        elif r["kind"] == "deactivation":
            key = (r["language"], float(r["share"]))
            deactivated[key] = r["deactivated"]
        else:
            continue
        groups.setdefault(key, []).append(r)
    if not any(r["kind"] == "deactivation" for r in records):
        return pd.DataFrame(columns=DEACTIVATION_COLUMNS)
    rows = []
    for lang in languages:
        for share in sorted(s for l, s in groups if l == lang):
            answers = groups[lang, share]
            found = Counter(r["lang_detected"] or "none" for r in answers)
            others = Counter({k: v for k, v in found.items() if k not in (lang, "none")})
            fallback, count = others.most_common(1)[0] if others else (None, 0)
            rows.append(
                {
                    "language": lang,
                    "share": share,
                    "deactivated": deactivated[lang, share],
                    "n": len(answers),
                    "in_language": found[lang] / len(answers),
                    "fallback": fallback,
                    "fallback_share": count / len(answers),
                    "detected": " ".join(f"{k}:{v / len(answers):.2f}" for k, v in found.most_common()),
                    "quality": _mean(r.get("score") for r in answers),
                    "repetition": _mean(r["repetition"] for r in answers),
                }
            )
    return pd.DataFrame(rows, columns=DEACTIVATION_COLUMNS)
