"""Tables of the generation and steering experiments, in the paper's shape."""

from __future__ import annotations

import pandas as pd

from .confusion import analyse

#: The fields ``annotate_languages`` copies from ``confusion.analyse`` into every answer record.
CONFUSION_FIELDS = (
    "lines",
    "lines_expected",
    "line_languages",
    "line_pass",
    "word_pass",
    "expected_share",
    "other_languages",
    "other_scripts",
    "foreign_spans",
)


def expected_language(record: dict) -> str:
    """The language an answer should be in: the language it was steered toward if any, else the question's.

    The one place that decides it, for language accuracy and for the judge.
    """
    return record.get("target") or record["language"]


def annotate_languages(records: list[dict], languages: list[str]) -> None:
    """Add to every record the expected language, the detected language and whether they agree (answer level),
    and the line and word levels of ``confusion.analyse`` (``CONFUSION_FIELDS``).

    Records that share their answer and expected language (the shuffled control's copies) are analysed once.
    """
    done: dict[tuple[str, str], dict] = {}
    for r in records:
        r["expected_language"] = expected_language(r)
        key = (r["answer"], r["expected_language"])
        if key not in done:
            done[key] = analyse(r["answer"], r["expected_language"], languages)
        found = done[key]
        r["lang_detected"] = found["language"]
        r["in_expected_language"] = found["answer_pass"]
        r.update({field: found[field] for field in CONFUSION_FIELDS})


def condition_table(records: list[dict], languages: list[str], value: str) -> pd.DataFrame:
    """Rows: normal, random, each deactivated language; columns: question language; mean of ``value``."""
    frame = pd.DataFrame(records)
    table = frame.pivot_table(index="condition", columns="language", values=value, aggfunc="mean")
    order = [c for c in ["normal", "random", *languages] if c in table.index]
    table = table.reindex(index=order, columns=languages)
    table.index.name = "condition"
    return table


def offtarget_table(normal: list[dict], steered: list[dict], languages: list[str]) -> pd.DataFrame:
    """Per question language: language accuracy and quality, normal vs steered (own neurons activated)."""

    def by_lang(records, column):
        frame = pd.DataFrame(records)
        if frame.empty:
            return pd.Series(index=languages, dtype=float)
        return frame.groupby("language")[column].mean().reindex(languages)

    table = pd.DataFrame(
        {
            "accuracy_normal": by_lang(normal, "in_expected_language"),
            "accuracy_steered": by_lang(steered, "in_expected_language"),
            "quality_normal": by_lang(normal, "score"),
            "quality_steered": by_lang(steered, "score"),
        }
    )
    table.index.name = "language"
    return table


CROSSLINGUAL_COLUMNS = [
    "source",
    "target",
    "share_target_steered",
    "share_target_unsteered",
    "share_source_steered",
    "quality_steered",
]


def crosslingual_table(records: list[dict]) -> pd.DataFrame:
    """Per source and target: share of answers in the target language, steered and unsteered.

    ``records``: the cross-lingual answers; steered ones name their ``target``, the unsteered baseline has none.
    """
    frame = pd.DataFrame(records)
    if "target" not in frame:
        return pd.DataFrame(columns=CROSSLINGUAL_COLUMNS)
    rows = []
    for (source, target), group in frame[frame.target.notna()].groupby(["language", "target"]):
        base = frame[(frame.language == source) & frame.target.isna()]
        rows.append(
            {
                "source": source,
                "target": target,
                "share_target_steered": (group.lang_detected == target).mean(),
                "share_target_unsteered": (base.lang_detected == target).mean(),
                "share_source_steered": (group.lang_detected == source).mean(),
                "quality_steered": group.score.mean(),
            }
        )
    return pd.DataFrame(rows, columns=CROSSLINGUAL_COLUMNS)
