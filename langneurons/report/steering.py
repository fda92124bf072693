"""Section "Steering": the off-target language problem and cross-lingual steering, with example answers."""

from __future__ import annotations

import pandas as pd

from ..errors import InputFileError
from .formatting import (
    ANSWER_CHARS,
    PROMPT_CHARS,
    cell,
    fmt_float,
    fmt_interval,
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
from .reading import RERUN, Run

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
                "offtarget_table": None if off is None else _offtarget_table(off, run.langs, off_ci),
                "offtarget_path": str(run.path("offtarget", model=name)),
                "crosslingual_tables": [] if cross is None else _crosslingual_tables(run, name, cross),
                "crosslingual_path": str(run.path("crosslingual", model=name)),
                "samples": _samples(answers) if answers else None,
                "confusion_table": None if confusion is None else _confusion_table(confusion),
                "missing": absent if len(absent) == len(files) else None,  # nothing at all for this model
            }
        )
    return {
        "models": blocks,
        "configured": bool(run.config["steering"]["method"]),
        "found": any(not b["missing"] for b in blocks),
    }


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
