"""Section "Generation under deactivation": judge scores, language accuracy and language confusion (LPR, WPR,
LCPR) per condition, example answers with the spans not in the expected language marked."""

from __future__ import annotations

import pandas as pd

from . import formatting as fmt
from .reading import Run

PURPLE, ORANGE = (124, 58, 237), (234, 88, 12)
CONDITION_LABELS = {"normal": "none (normal)", "random": "random neurons"}
MEANS = ("normal", "random", "own", "other")


def build(run: Run) -> dict:
    blocks, summary_rows, confusion_rows = [], [], []
    for name in run.models:
        block = {"model": name, "methods": [], "missing": []}
        for method in run.config["generation"]["methods"]:
            where = {"model": name, "method": method}
            quality = run.csv("quality", index_col="condition", **where)
            if quality is None:
                block["missing"].append(str(run.path("quality", **where)))
                continue
            accuracy = run.csv("language_accuracy", index_col="condition", **where)
            answers = run.jsonl("answers", **where)
            accuracy_ci = _intervals(run.csv("language_accuracy_ci", columns=CI, **where))
            quality_ci = _intervals(run.csv("quality_ci", columns=CI, **where))
            control = run.csv("quality_control", index_col="language", columns=CONTROL, **where)
            confusion = run.csv("confusion", columns=CONFUSION, **where)
            accuracy_table = (
                None if accuracy is None else _condition_table(accuracy, run.langs, fmt.fmt_share, ORANGE, accuracy_ci)
            )
            block["methods"].append(
                {
                    "method": method,
                    "label": fmt.label(method),
                    "quality_table": _condition_table(quality, run.langs, _score, PURPLE, quality_ci),
                    "intervals": bool(quality_ci or accuracy_ci),
                    "accuracy_table": accuracy_table,
                    "accuracy_path": str(run.path("language_accuracy", **where)),
                    "samples": _samples(answers, run.langs) if answers else None,
                    "control_table": None if control is None else _control_table(control, run.langs),
                    "checks": _checks(quality, control, run.langs),
                    "confusion": None if confusion is None else _confusion(confusion, run.langs),
                    "confusion_path": str(run.path("confusion", **where)),
                }
            )
            if confusion is not None:
                confusion_rows += _confusion_summary(name, method, confusion, run.langs)
            quality_means = _condition_means(quality, run.langs)
            accuracy_means = {} if accuracy is None else _condition_means(accuracy, run.langs)
            summary_rows.append(
                [name, fmt.method_cell(method)]
                + [fmt.num(_score(quality_means[k])) for k in MEANS]
                + [fmt.num(fmt.fmt_share(accuracy_means.get(k))) for k in MEANS]
            )
        blocks.append(block)
    head = ["Model", "Method", "Quality: none", "random", "own language", "other language"]
    head += ["Language accuracy: none", "random", "own language", "other language"]
    confusion_head = ["Model", "Method", "Measure", "none", "random", "own language", "other language"]
    return {
        "summary": fmt.table(head, summary_rows) if summary_rows else None,
        "confusion_summary": fmt.table(confusion_head, confusion_rows) if confusion_rows else None,
        "models": blocks,
        "configured": bool(run.config["generation"]["methods"]),
    }


CI = ("condition", "language", "lo", "hi")
CONFUSION = ("metric", "condition", "language", "mean", "lo", "hi")
#: metric -> its name on the page
CONFUSION_LABELS = {
    "accuracy": "Language accuracy (answer level)",
    "lpr": "LPR (line level)",
    "wpr": "WPR (word level)",
    "lcpr": "LCPR",
}


def confusion_frames(confusion: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, dict]]:
    """metric -> (means: condition x language, intervals: (condition, language) -> (lo, hi)) of a confusion file."""
    out = {}
    for metric in CONFUSION_LABELS:
        rows = confusion[confusion["metric"] == metric]
        if rows.empty:
            continue
        frame = rows.pivot_table(index="condition", columns="language", values="mean", aggfunc="first", sort=False)
        out[metric] = (frame, {(r.condition, r.language): (r.lo, r.hi) for r in rows.itertuples()})
    return out


def _confusion(confusion: pd.DataFrame, langs: list[str]) -> dict:
    """The LPR, WPR and LCPR tables (condition x question language) and the checks against language accuracy."""
    frames = confusion_frames(confusion)
    tables = [
        {
            "metric": metric,
            "label": CONFUSION_LABELS[metric],
            "table": _condition_table(frame, langs, fmt.fmt_share, ORANGE, ci),
        }
        for metric, (frame, ci) in frames.items()
        if metric != "accuracy"
    ]
    return {"tables": tables, "checks": _confusion_checks(frames, langs)}


def _confusion_checks(frames: dict, langs: list[str]) -> dict:
    """LPR is never above language accuracy (cells where it is not), and own-language deactivation lowers LPR at
    least as much as it lowers accuracy (languages where it does, of those with both numbers)."""
    if "accuracy" not in frames or "lpr" not in frames:
        return {}
    accuracy, lpr = frames["accuracy"][0], frames["lpr"][0]
    cells = [(c, q) for c in lpr.index for q in lpr.columns if c in accuracy.index and q in accuracy.columns]
    pairs = [(float(lpr.loc[c, q]), float(accuracy.loc[c, q])) for c, q in cells]
    pairs = [(a, b) for a, b in pairs if a == a and b == b]  # both defined
    own = [
        q
        for q in langs
        if {"normal", q} <= set(lpr.index) & set(accuracy.index) and q in lpr.columns and q in accuracy.columns
    ]
    drops = [(lpr.loc["normal", q] - lpr.loc[q, q], accuracy.loc["normal", q] - accuracy.loc[q, q]) for q in own]
    return {
        "lpr_above": sum(a > b + 1e-9 for a, b in pairs),
        "cells": len(pairs),
        "drop_at_least": sum(d_lpr >= d_acc - 1e-9 for d_lpr, d_acc in drops),
        "drop_n": len(drops),
    }


def _confusion_summary(model: str, method: str, confusion: pd.DataFrame, langs: list[str]) -> list[list]:
    """Rows of the confusion summary: per measure, its means over question languages as in the quality summary."""
    rows = []
    for metric, (frame, _) in confusion_frames(confusion).items():
        means = _condition_means(frame, langs)
        measured = fmt.language_columns(frame, langs)
        name = CONFUSION_LABELS[metric] + (f" ({', '.join(measured)})" if metric == "wpr" else "")
        rows.append([model, fmt.method_cell(method), name] + [fmt.num(fmt.fmt_share(means[k])) for k in MEANS])
    return rows


CONTROL = ("language", "matched", "shuffled", "difference")


def _intervals(frame) -> dict:
    """(condition, language) -> (lo, hi) from an interval file (``*.ci.csv``); empty when there is none."""
    return {} if frame is None else {(r.condition, r.language): (r.lo, r.hi) for r in frame.itertuples()}


def _score(value) -> str:
    return fmt.fmt_float(value, 2)


def _condition_order(frame: pd.DataFrame, langs: list[str]) -> list[str]:
    first = [c for c in ["normal", "random", *langs] if c in frame.index]
    return first + [c for c in frame.index if c not in first]


def _condition_table(frame: pd.DataFrame, langs: list[str], write, rgb, intervals: dict) -> dict:
    """Rows: nothing, random neurons and each language's neurons deactivated; columns: question language.

    ``write`` formats a value; each mean is followed by its bootstrap interval over questions when
    ``intervals`` has one.
    """
    qlangs = fmt.language_columns(frame, langs)
    values = frame[qlangs].to_numpy(dtype=float)
    vmax = float(pd.Series(values.ravel()).max()) if values.size else 0
    rows = [
        [fmt.cell(CONDITION_LABELS.get(cond, cond), "base" if cond == "normal" else "")]
        + [
            fmt.num(
                write(frame.loc[cond, q]) + fmt.fmt_interval(*intervals.get((cond, q), (None, None)), write),
                "diag" if cond == q else "",
                style=fmt.heat(frame.loc[cond, q], vmax, rgb),
            )
            for q in qlangs
        ]
        for cond in _condition_order(frame, langs)
    ]
    return fmt.table(["Deactivated ↓ / question language →"] + qlangs, rows, kind="wide")


def _control_table(control: pd.DataFrame, langs: list[str]) -> dict:
    """Rows: the normal answers scored with their own question, with another one, the difference; columns: language."""
    qlangs = [lang for lang in langs if lang in control.index]
    labels = {"matched": "own question", "shuffled": "another question (shuffled)", "difference": "difference"}
    rows = [[fmt.cell(label)] + [fmt.num(_score(control.loc[q, key])) for q in qlangs] for key, label in labels.items()]
    return fmt.table(["Question paired with the answer ↓ / language →"] + qlangs, rows, kind="wide")


def _checks(quality: pd.DataFrame, control: pd.DataFrame | None, langs: list[str]) -> dict:
    """Does the judge discriminate? Languages whose own-neurons condition scores below normal, and whose
    shuffled control scores below the matched answers (counts of the languages that have both numbers)."""
    own = [q for q in fmt.language_columns(quality, langs) if q in quality.index and "normal" in quality.index]
    out = {"own_below": sum(quality.loc[q, q] < quality.loc["normal", q] for q in own), "own_n": len(own)}
    if control is not None:
        compared = control.dropna(subset=["matched", "shuffled"])
        out |= {"shuffled_below": int((compared["shuffled"] < compared["matched"]).sum()), "shuffled_n": len(compared)}
    return out


def _condition_means(frame: pd.DataFrame, langs: list[str]) -> dict:
    """Means over question languages: nothing and random deactivated, own language's (diagonal), another's."""
    qlangs = fmt.language_columns(frame, langs)
    out = {key: frame.loc[key, qlangs].astype(float).mean() if key in frame.index else None for key in MEANS[:2]}
    own = [float(frame.loc[q, q]) for q in qlangs if q in frame.index]
    other = [float(frame.loc[c, q]) for c in frame.index if c in qlangs for q in qlangs if q != c]
    out["own"] = sum(own) / len(own) if own else None
    out["other"] = sum(other) / len(other) if other else None
    return out


def _samples(records: list[dict], langs: list[str]) -> dict:
    """The first question's answers in every language: nothing, random and its own language's neurons deactivated."""
    qid = records[0].get("question_id")
    rank = {"normal": 0, "random": 1}
    chosen = sorted(
        (r for r in records if r.get("question_id") == qid),
        key=lambda r: (
            langs.index(r["language"]) if r.get("language") in langs else 99,
            rank.get(r.get("condition"), 2),
        ),
    )
    keep = [r for r in chosen if r.get("condition") in ("normal", "random", r.get("language"))][: 3 * len(langs)]
    rows = [
        [
            r.get("language", "–"),
            r.get("condition", "–"),
            fmt.cell(r.get("lang_detected", "–"), "center"),
            fmt.cell(lines_cell(r), "center"),
            fmt.cell(pass_cell(r.get("word_pass")), "center"),
            fmt.num(fmt.fmt_float(r.get("score"), 1)),
            fmt.cell(fmt.truncate(r.get("prompt"), fmt.PROMPT_CHARS), "text"),
            fmt.cell(fmt.marked_answer(r.get("answer"), r.get("foreign_spans"), fmt.ANSWER_CHARS), "text"),
        ]
        for r in keep
    ]
    head = ["Question language", "Deactivated", "Detected", "Lines in language", "Word level", "Score"]
    head += ["Prompt", "Answer"]
    return {"question": qid, "answer_chars": fmt.ANSWER_CHARS, "table": fmt.table(head, rows, kind="text")}


def lines_cell(record: dict) -> str:
    """Judged lines in the expected language, of all judged lines ("2/3"); "–" for answers judged before LPR."""
    if record.get("lines") is None:
        return "–"
    return f"{record.get('lines_expected', 0)}/{record['lines']}"


def pass_cell(value) -> str:
    return "–" if value is None else ("pass" if value else "fail")
