"""Section "Steering": the off-target language problem and cross-lingual steering, with example answers."""

from __future__ import annotations

import pandas as pd

from ..errors import InputFileError
from .formatting import (
    ANSWER_CHARS,
    PROMPT_CHARS,
    cell,
    fmt_float,
    fmt_int,
    fmt_interval,
    fmt_pct,
    fmt_share,
    heat,
    language_columns,
    marked_answer,
    num,
    ordered,
    table,
    truncate,
)
from .generation import CONFUSION_LABELS, lines_cell, pass_cell
from .reading import RERUN, Run, read_csv

CYAN = (8, 145, 178)
OFFTARGET_LABELS = {
    "accuracy_normal": "Language accuracy (normal)",
    "accuracy_steered": "Language accuracy (steered)",
    "quality_normal": "Quality (normal)",
    "quality_steered": "Quality (steered)",
}
CROSS_LABELS = {
    "share_target_steered": "In target (steered)",
    "share_target_unsteered": "In target (unsteered)",
    "share_source_steered": "In source (steered)",
    "quality_steered": "Quality (steered)",
}
SAMPLE_KEYS = ["kind", "condition", "language", "target", "lang_detected", "score"]
SAMPLE_LABELS = {"lang_detected": "Detected", "language": "Question language", "score": "Score"}
CONFUSION = ("kind", "metric", "condition", "language", "expected", "mean", "lo", "hi")
KIND_LABELS = {"offtarget": "off-target", "crosslingual": "cross-lingual"}
MAX_SAMPLES = 30


def build(run: Run) -> dict:
    blocks = []
    for name in run.models:
        off = run.csv("offtarget", index_col=0, model=name)
        off_ci = run.csv("offtarget_ci", columns=CI, model=name)
        cross = run.csv("crosslingual", model=name)
        answers = run.jsonl("steering_answers", model=name)
        confusion = run.csv("steering_confusion", columns=CONFUSION, model=name)
        files = {"offtarget": off, "crosslingual": cross, "steering_answers": answers}
        absent = [str(run.path(result, model=name)) for result, found in files.items() if found is None]
        blocks.append(
            {
                "model": name,
                "sweep": _sweep(run, name),
                "offtarget_table": None if off is None else _offtarget_table(off, run.langs, off_ci),
                "offtarget_path": str(run.path("offtarget", model=name)),
                "crosslingual_tables": [] if cross is None else _crosslingual_tables(run, name, cross),
                "crosslingual_path": str(run.path("crosslingual", model=name)),
                "samples": _samples(answers) if answers else None,
                "confusion_table": None if confusion is None else _confusion_table(confusion),
                "missing": absent if len(absent) == len(files) else None,  # nothing at all for this model
            }
        )
    steering = run.config["steering"]
    return {
        "models": blocks,
        "configured": bool(steering["method"]),
        "found": any(not b["missing"] for b in blocks),
        "sweep_configured": bool(steering["method"]) and steering["sweep"]["strengths"] is not None,
        "shares_configured": bool(steering["method"]) and bool(steering["sweep"]["shares"]),
    }


# ------------------------------------------------------------------------------------------ the sweep
SWEEP = ("kind", "target", "mode", "strength", "n", "success", "quality", "repetition", "base_success", "base_quality")
CHOSEN = ("kind", "target", "mode", "strength", "passed", "success", "quality", "base_quality")
DOSE = ("language", "share", "deactivated", "n", "in_language", "fallback", "detected", "quality", "repetition")
DOSE_PPL = ("language", "share", "ppl", "relative")
SWEEP_SAMPLE_PAIRS = 2  # per kind of steering, the answers of this many (question language, target) along the sweep


def _read(run: Run, name: str, model: str, columns) -> pd.DataFrame | None:
    """A sweep table; language codes stay text (pandas would read "na" or "nan" as missing)."""
    return read_csv(run.path(name, model=model), columns=columns, keep_default_na=False, na_values=[""])


def _setting(mode, strength) -> str:
    return "unsteered" if mode is None or (isinstance(mode, float) and pd.isna(mode)) else f"{mode} {float(strength):g}"


def _sweep(run: Run, name: str) -> dict | None:
    """The sweep of one model: the chosen setting per kind and target, the curves (figures and table), answers
    along the sweep, and the deactivation dose-response (figure and table); None when it was not configured."""
    steering = run.config["steering"]
    if not steering["method"] or (steering["sweep"]["strengths"] is None and not steering["sweep"]["shares"]):
        return None
    curves = _read(run, "sweep", name, SWEEP)
    chosen = _read(run, "sweep_chosen", name, CHOSEN)
    dose = _read(run, "sweep_deactivation", name, DOSE)
    dose_ppl = _read(run, "ppl_deactivation", name, DOSE_PPL)
    answers = run.jsonl("sweep_answers", model=name)
    kinds = [k for k in KIND_LABELS if curves is not None and k in set(curves["kind"])]
    return {
        "chosen_table": None if chosen is None or chosen.empty else _chosen_table(chosen, run.langs),
        "chosen_path": str(run.path("sweep_chosen", model=name)),
        "figures": [{"kind": KIND_LABELS[k], "fig": run.figure("sweep_figure", model=name, kind=k)} for k in kinds],
        "curve_table": None if curves is None or curves.empty else _curve_table(curves),
        "samples": _sweep_samples(answers) if answers else None,
        "dose_figure": run.figure("deactivation_figure", model=name) if steering["sweep"]["shares"] else None,
        "dose_table": None if dose is None or dose.empty else _dose_table(dose, dose_ppl, run.langs),
        "dose_path": str(run.path("sweep_deactivation", model=name)),
        "questions": sorted({r["question_id"] for r in answers or []}),
    }


def _chosen_table(chosen: pd.DataFrame, langs: list[str]) -> dict:
    rows = []
    for kind in KIND_LABELS:
        part = chosen[chosen["kind"] == kind]
        for target in ordered(part["target"], langs):
            r = part[part["target"] == target].iloc[0]
            passed = str(r["passed"]).lower() == "true"
            rows.append(
                [
                    cell(KIND_LABELS[kind]),
                    target,
                    cell(_setting(r["mode"], r["strength"]), "good" if passed else "warn"),
                    cell("yes" if passed else "no: best success", "center"),
                    num(fmt_share(r["success"])),
                    num(fmt_float(r["quality"], 2)),
                    num(fmt_float(r["base_quality"], 2)),
                ]
            )
    head = ["Steering", "Target", "Chosen setting", "Passes the rule", "In target", "Quality", "Quality unsteered"]
    return table(head, rows)


def _curve_table(curves: pd.DataFrame) -> dict:
    rows = []
    for r in curves.itertuples():
        rows.append(
            [
                cell(KIND_LABELS.get(r.kind, r.kind)),
                r.target,
                cell(_setting(r.mode, r.strength)),
                num(fmt_int(r.n)),
                num(fmt_share(r.success) + fmt_interval(r.success_lo, r.success_hi, fmt_share)),
                num(fmt_share(r.lcpr)),
                num(fmt_float(r.quality, 2) + fmt_interval(r.quality_lo, r.quality_hi, lambda v: fmt_float(v, 2))),
                num(fmt_share(r.repetition)),
                num(fmt_share(r.base_success)),
                num(fmt_float(r.base_quality, 2)),
                num(fmt_share(r.base_repetition)),
            ]
        )
    head = ["Steering", "Target", "Setting", "Answers", "In target", "LCPR", "Quality", "Repetition"]
    head += ["In target (unsteered)", "Quality (unsteered)", "Repetition (unsteered)"]
    return table(head, rows)


def _sweep_samples(answers: list[dict]) -> dict:
    """For the first sweep question: per kind, the answers of the first (question language, target) pairs at
    every point, after the unsteered answer to the same question; per language, the dose-response's answers."""
    qid = answers[0].get("question_id")
    first = [r for r in answers if r.get("question_id") == qid]
    rows = []

    def add(r, label):
        rows.append(
            [
                cell(label),
                r.get("language"),
                cell(r.get("target") or "–"),
                cell(
                    _setting(r.get("mode"), r.get("strength")) if r["kind"] != "deactivation" else f"{r['share']:g} off"
                ),
                cell(r.get("lang_detected") or "–"),
                num(fmt_float(r.get("score"), 1)),
                num(fmt_share(r.get("repetition"))),
                cell(marked_answer(r.get("answer"), r.get("foreign_spans"), ANSWER_CHARS), "text"),
            ]
        )

    for kind in KIND_LABELS:
        pairs = list(dict.fromkeys((r["language"], r["target"]) for r in first if r["kind"] == kind and r.get("mode")))
        for language, target in pairs[:SWEEP_SAMPLE_PAIRS]:
            base = "normal" if kind == "offtarget" else "unsteered"
            for r in first:
                if r["kind"] == kind and r["language"] == language and r["condition"] == base:
                    add(r, KIND_LABELS[kind])
            for r in first:
                if r["kind"] == kind and r["language"] == language and r.get("target") == target and r.get("mode"):
                    add(r, KIND_LABELS[kind])
    for language in list(dict.fromkeys(r["language"] for r in first if r["kind"] == "deactivation"))[
        :SWEEP_SAMPLE_PAIRS
    ]:
        for r in first:
            if r["language"] == language and (
                r["kind"] == "deactivation" or (r["kind"], r["condition"]) == ("offtarget", "normal")
            ):
                add({**r, "kind": "deactivation", "share": r.get("share") or 0.0}, "deactivation")
    head = ["Steering", "Question language", "Target", "Setting", "Detected", "Score", "Repetition", "Answer"]
    return {"question": qid, "answer_chars": ANSWER_CHARS, "table": table(head, rows, kind="text")}


def _dose_table(dose: pd.DataFrame, ppl: pd.DataFrame | None, langs: list[str]) -> dict:
    own = {} if ppl is None else {(r.language, float(r.share)): (r.ppl, r.relative) for r in ppl.itertuples()}
    rows = []
    for lang in ordered(dose["language"].unique(), langs):
        for r in dose[dose["language"] == lang].itertuples():
            value, relative = own.get((lang, float(r.share)), (None, None))
            rows.append(
                [
                    lang,
                    num(fmt_share(r.share, 0)),
                    num(fmt_int(r.deactivated)),
                    num(fmt_float(value, 2)),
                    num(fmt_pct(relative, digits=0) if relative is not None else "–"),
                    num(fmt_share(r.in_language)),
                    cell(r.fallback if isinstance(r.fallback, str) and r.fallback else "–"),
                    cell(r.detected),
                    num(fmt_float(r.quality, 2)),
                    num(fmt_share(r.repetition)),
                ]
            )
    head = ["Language", "Share off", "Neurons off", "Own PPL", "PPL change", "Answers in language", "Falls back to"]
    head += ["Answer languages", "Quality", "Repetition"]
    return table(head, rows)


CI = ("metric", "condition", "language", "lo", "hi")
# off-target table column -> (metric, condition) of its interval in offtarget.ci.csv
OFFTARGET_CI = {
    "accuracy_normal": ("in_expected_language", "normal"),
    "accuracy_steered": ("in_expected_language", "steered"),
    "quality_normal": ("score", "normal"),
    "quality_steered": ("score", "steered"),
}


def _offtarget_table(off: pd.DataFrame, langs: list[str], ci) -> dict:
    """Per question language: share of answers in that language and judge score, normally and steered,
    each with its bootstrap interval over questions when ``ci`` (offtarget.ci.csv) has one."""
    cols = [c for c in OFFTARGET_LABELS if c in off.columns] + [c for c in off.columns if c not in OFFTARGET_LABELS]
    bounds = {} if ci is None else {(r.metric, r.condition, r.language): (r.lo, r.hi) for r in ci.itertuples()}

    def fmt(col, value):
        return fmt_share(value) if col.startswith("accuracy") else fmt_float(value, 2)

    def text(col, lang):
        lo_hi = bounds.get((*OFFTARGET_CI.get(col, ("", "")), lang), (None, None))
        return fmt(col, off.loc[lang, col]) + fmt_interval(*lo_hi, lambda v: fmt(col, v))

    rows = [[lang] + [num(text(c, lang)) for c in cols] for lang in ordered(off.index, langs)]
    rows.append([cell("mean", "total")] + [num(fmt(c, off[c].astype(float).mean()), "total") for c in cols])
    return table(["Question language"] + [OFFTARGET_LABELS.get(c, c.replace("_", " ")) for c in cols], rows)


def _crosslingual_tables(run: Run, name: str, cross: pd.DataFrame) -> list[dict]:
    """Long (source, target, shares...) results: a source x target matrix and one row per pair.

    A square table (source x target) gives the matrix alone.
    """
    if len(cross.columns) < 2:
        raise InputFileError(f"{run.path('crosslingual', model=name)}: expected a table of language pairs; {RERUN}")
    if not {"source", "target"} <= set(cross.columns):
        return [_square(cross.set_index(cross.columns[0]), run.langs)]
    value = "share_target_steered" if "share_target_steered" in cross.columns else cross.columns[2]
    order = ordered(sorted(set(cross["source"]) | set(cross["target"])), run.langs)
    matrix = cross.pivot_table(index="source", columns="target", values=value, aggfunc="mean")
    targets = [x for x in order if x in matrix.columns]
    rows = [
        [src]
        + [
            num("–", "diag")
            if src == tgt
            else num(fmt_share(matrix.loc[src, tgt]), style=heat(matrix.loc[src, tgt], 1.0, CYAN))
            for tgt in targets
        ]
        for src in order
        if src in matrix.index
    ]
    cols = [c for c in cross.columns if c not in ("source", "target")]
    pair_rows = [
        [r["source"], cell(r["target"])]
        + [num(fmt_float(r[c], 2) if c.startswith("quality") else fmt_share(r[c])) for c in cols]
        for _, r in cross.iterrows()
    ]
    return [
        table(["Question language ↓ / steered to →"] + targets, rows, kind="wide"),
        table(["Source", "Target"] + [CROSS_LABELS.get(c, c.replace("_", " ")) for c in cols], pair_rows),
    ]


def _square(cross: pd.DataFrame, langs: list[str]) -> dict:
    targets = language_columns(cross, langs)
    rows = [
        [src]
        + [
            num(fmt_share(cross.loc[src, t]), "diag" if src == t else "", style=heat(cross.loc[src, t], 1.0, CYAN))
            for t in targets
        ]
        for src in ordered(cross.index, langs)
    ]
    return table(["Question language ↓ / steered to →"] + targets, rows, kind="wide")


def _confusion_table(confusion: pd.DataFrame) -> dict:
    """One row per kind, condition and question language (with the language the answers should be in): language
    accuracy, LPR, WPR and LCPR, each with its bootstrap interval over questions."""
    cells: dict[tuple, dict] = {}
    for r in confusion.itertuples():
        key = (r.kind, r.condition, r.language, r.expected)
        cells.setdefault(key, {})[r.metric] = fmt_share(r.mean) + fmt_interval(r.lo, r.hi, fmt_share)
    metrics = [m for m in CONFUSION_LABELS if any(m in v for v in cells.values())]
    rows = [
        [cell(f"{KIND_LABELS.get(kind, kind)}, {condition.replace('to_', 'to ')}"), language, expected]
        + [num(values.get(m, "–")) for m in metrics]
        for (kind, condition, language, expected), values in cells.items()
    ]
    head = ["Steering, condition", "Question language", "Expected language"]
    return table(head + [CONFUSION_LABELS[m] for m in metrics], rows)


def _samples(answers: list[dict]) -> dict:
    """One answer per kind, condition, question language and target, for the first question."""
    qid = answers[0].get("question_id")
    seen, keep = set(), []
    for r in answers:
        key = (r.get("kind"), r.get("condition"), r.get("language"), r.get("target"))
        if r.get("question_id") == qid and key not in seen:
            seen.add(key)
            keep.append(r)
    keep = keep[:MAX_SAMPLES]
    keys = [k for k in SAMPLE_KEYS if any(k in r for r in keep)] or [
        k for k in keep[0] if k not in ("model", "prompt", "answer")
    ]
    rows = []
    for r in keep:
        row = [cell(truncate(r.get(k), 40) if r.get(k) is not None else "–") for k in keys]
        if "score" in keys:
            row[keys.index("score")] = num(fmt_float(r.get("score"), 1))
        text = [
            cell(lines_cell(r), "center"),
            cell(pass_cell(r.get("word_pass")), "center"),
            cell(truncate(r.get("prompt"), PROMPT_CHARS), "text"),
            cell(marked_answer(r.get("answer"), r.get("foreign_spans"), ANSWER_CHARS), "text"),
        ]
        rows.append(row + text)
    head = [SAMPLE_LABELS.get(k, k.replace("_", " ").capitalize()) for k in keys]
    head += ["Lines in language", "Word level", "Prompt", "Answer"]
    return {"question": qid, "answer_chars": ANSWER_CHARS, "table": table(head, rows, kind="text")}
