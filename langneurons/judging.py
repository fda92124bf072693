"""Judging the answers of the generation and steering experiments, and their tables in the paper's shape.

Every answer is judged on its bare question, the language it should be in
(:func:`langneurons.evaluation.expected_language`: the steering target, else
the question's language) and the answer itself; answers that share all three
are judged once. Judging fails loudly: when more answers than
``judge.max_missing`` have no score after the retries, :func:`judge_answers`
raises :class:`JudgeError` saying how many and why. What was scored stays in the
judge's cache, so the rerun asks only for the rest.
"""

from __future__ import annotations

import logging
import random
from collections import Counter

import pandas as pd

from .confusion import TABLE_COLUMNS
from .errors import ConfigError, InputFileError, JudgeError
from .evaluation import annotate_languages, condition_table, crosslingual_table, expected_language, offtarget_table
from .judge import CachedJudge, JudgeItem
from .splitting import part_range

log = logging.getLogger(__name__)

#: The fields every answer record (generation and steering) must hold.
ANSWER_FIELDS = ("condition", "language", "question_id", "question", "answer")


def judge_item(record: dict) -> JudgeItem:
    """What the judge sees of an answer: the bare question, the answer and the expected language."""
    return JudgeItem(question=record["question"], answer=record["answer"], language=expected_language(record))


def distinct_items(records: list[dict]) -> list[JudgeItem]:
    """What the judge is asked: each distinct item of ``records`` once, in first-seen order."""
    return list(dict.fromkeys(judge_item(r) for r in records))


def score_answers(records: list[dict], judge) -> None:
    """Set ``score`` and ``score_missing`` (why there is no score, else None) on every record."""
    items = distinct_items(records)
    verdicts = dict(zip(items, judge.score(items)))
    for r in records:
        verdict = verdicts[judge_item(r)]
        r["score"], r["score_missing"] = verdict.score, verdict.missing_reason
    log.info("judged %d distinct answers of %d (%s)", len(items), len(records), judge.identity)


def check_missing(records: list[dict], max_missing: int, cached: bool) -> None:
    """Raise JudgeError when more than ``max_missing`` answers have no score, with the most common reasons."""
    missing = [r for r in records if r["score"] is None]
    for r in missing:
        log.warning("no score for %s %s %s: %s", r["condition"], r["language"], r["question_id"], r["score_missing"])
    if len(missing) <= max_missing:
        return
    reasons = Counter(r["score_missing"] for r in missing).most_common()
    shown = "; ".join(f"{n} x {reason}" for reason, n in reasons[:3])
    if len(reasons) > 3:
        shown += f"; {len(reasons) - 3} other reasons (see the log)"
    rerun = "rerun: scored answers are cached, only the missing ones are asked again" if cached else "rerun"
    raise JudgeError(
        f"{len(missing)} of {len(records)} answers have no score (judge.max_missing allows {max_missing}): "
        f"{shown}. Check the judge, then {rerun}"
    )


def judge_answers(records: list[dict], languages: list[str], judge, max_missing: int) -> None:
    """Language identification and judge score of every record, in place; JudgeError when too many lack a score."""
    annotate_languages(records, languages)
    score_answers(records, judge)
    if judge.identity["backend"] != "none":  # a disabled judge scores nothing, on purpose
        check_missing(records, max_missing, cached=isinstance(judge, CachedJudge))


def answers_to_judge(
    generated: dict[str, list[dict]], steered: list[dict], seed: int
) -> tuple[dict[str, list[dict]], list[dict]]:
    """The shuffled control of each method's answers, and every record the judge scores (generation, steering,
    control), in the order the judge job scores them."""
    control = {method: shuffled_control(records, seed) for method, records in generated.items()}
    return control, [r for records in (*generated.values(), steered, *control.values()) for r in records]


# ------------------------------------------------------------------ judging split into jobs (judge.jobs)
def judge_share(judge, items: list[JudgeItem], part: int, parts: int) -> dict:
    """What job ``part`` of ``parts`` of judging ``items`` (``distinct_items``) computes, as a JSON object.

    A judge with a model pass (the local judge) computes the likelihoods of its even share of the batches one
    job would run (``LocalJudge.likelihood_batches``), so the merged scores are one job's to the last bit;
    any other judge scores its share of the items (the openai judge's cache keeps them for the merge).
    """
    record = {"backend": judge.identity["backend"], "part": part, "parts": parts}
    if hasattr(judge, "likelihood_batches"):
        batches = judge.likelihood_batches(items)
        share = part_range(len(batches), part, parts)
        values = judge.likelihoods([batches[k] for k in share])
        log.info("judge part %d of %d: %d of %d likelihood batches", part + 1, parts, len(share), len(batches))
        return {
            **record,
            "batches": len(batches),
            "likelihoods": [[list(c), list(a), v] for (c, a), v in values.items()],
        }
    share = part_range(len(items), part, parts)
    share = items[share.start : share.stop]
    verdicts = judge.score(share)
    scored = sum(v.score is not None for v in verdicts)
    log.info("judge part %d of %d: %d of %d answers scored", part + 1, parts, scored, len(share))
    return {**record, "items": len(share), "scored": scored}


def preload_shares(judge, shares: list[dict], paths: list[str]) -> None:
    """Give ``judge`` the work of all its jobs (``judge_share``'s records, in part order), after checking that they
    are the parts of one run with this backend. The local judge then computes nothing; the openai judge
    finds its jobs' scores in its cache and asks only for what is still unscored."""
    for k, (share, path) in enumerate(zip(shares, paths)):
        if (share.get("backend"), share.get("part"), share.get("parts")) != (judge.identity["backend"], k, len(shares)):
            raise InputFileError(
                f"{path} is part {share.get('part')} of {share.get('parts')} (judge {share.get('backend')}), not "
                f"part {k} of {len(shares)} (judge {judge.identity['backend']}): delete it and rerun judge_part"
            )
    if hasattr(judge, "preload"):
        if len({share["batches"] for share in shares}) > 1:
            raise InputFileError(f"the judge part files {', '.join(paths)} come from different runs: rerun judge_part")
        judge.preload({(tuple(c), tuple(a)): v for share in shares for c, a, v in share["likelihoods"]}, complete=True)


def shuffled_control(records: list[dict], seed: int = 0) -> list[dict]:
    """Copies of the ``normal`` answers, each paired with a different question of its language.

    A judge that reads the question should score these below the matched
    answers. Within each expected language the distinct questions are put in a
    seeded random order and every answer gets the question after its own in
    that cycle, so no answer keeps its own question (``own_question`` keeps it).
    """
    normal = [r for r in records if r["condition"] == "normal"]
    cycles: dict[str, list[str]] = {}
    for r in normal:
        cycles.setdefault(expected_language(r), []).append(r["question"])
    successor = {}
    for lang, questions in cycles.items():
        cycle = list(dict.fromkeys(questions))
        if len(cycle) < 2:
            raise ConfigError(
                f"questions.max_questions: the shuffled control needs two different questions in '{lang}'; set questions.max_questions >= 2"
            )
        random.Random(f"{seed}:{lang}").shuffle(cycle)
        successor.update({(lang, q): cycle[(k + 1) % len(cycle)] for k, q in enumerate(cycle)})
    return [
        {**r, "question": successor[expected_language(r), r["question"]], "own_question": r["question"]} for r in normal
    ]


def control_table(records: list[dict], control: list[dict], languages: list[str]) -> pd.DataFrame:
    """Per expected language: mean score of the ``normal`` answers with their own question and with another one."""
    matched = [r for r in records if r["condition"] == "normal"]
    frame = pd.DataFrame(
        {
            "language": [expected_language(r) for r in matched + control],
            "pairing": ["matched"] * len(matched) + ["shuffled"] * len(control),
            "score": pd.to_numeric([r["score"] for r in matched + control], errors="coerce"),  # None: NaN
        }
    )
    table = frame.groupby(["language", "pairing"])["score"].mean().unstack("pairing")
    table = table.reindex(index=[lang for lang in languages if lang in set(frame["language"])])
    table = table.reindex(columns=["matched", "shuffled"])
    table.columns.name = None
    table["difference"] = table["matched"] - table["shuffled"]
    table["n"] = frame[frame["pairing"] == "matched"].groupby("language").size()
    return table


def generation_tables(records: list[dict], languages: list[str], uncertainty: dict) -> dict[str, pd.DataFrame]:
    """Mean quality and language accuracy per condition (rows) and question language (columns), with intervals;
    the language confusion table (accuracy, LPR, WPR, LCPR per condition and language, with intervals)."""
    return {
        "quality": condition_table(records, languages, "score"),
        "accuracy": condition_table(records, languages, "in_expected_language"),
        "quality_ci": interval_table(records, languages, ["score"], uncertainty),
        "accuracy_ci": interval_table(records, languages, ["in_expected_language"], uncertainty),
        "confusion": confusion_intervals(records, languages, uncertainty),
    }


def confusion_intervals(records: list[dict], languages: list[str], uncertainty: dict) -> pd.DataFrame:
    """``uncertainty.confusion_ci_table`` with the run's bootstrap settings."""
    from .uncertainty import confusion_ci_table

    return confusion_ci_table(
        records, languages, uncertainty["bootstrap_samples"], uncertainty["seed"], uncertainty["confidence"]
    )


METRICS = {"score": "quality", "in_expected_language": "language accuracy"}


def interval_table(records: list[dict], languages: list[str], metrics: list[str], uncertainty: dict) -> pd.DataFrame:
    """Bootstrap intervals over questions of each metric's mean, per condition and question language.

    Long format: metric (a record field: ``score``, ``in_expected_language``),
    condition, language, mean, lo, hi, n (answers with a value).
    """
    from .uncertainty import condition_ci_table

    frames = []
    for metric in metrics:
        frame = condition_ci_table(
            records,
            languages,
            metric,
            uncertainty["bootstrap_samples"],
            uncertainty["seed"],
            uncertainty["confidence"],
        ).rename(columns={metric: "mean"})
        frames.append(frame.assign(metric=metric))
    columns = ["metric", "condition", "language", "mean", "lo", "hi", "n"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def offtarget_baseline(steered: list[dict], generated: dict[str, list[dict]]) -> list[dict]:
    """The unsteered answers to compare off-target steering with.

    Steering's own ``normal`` answers when it made them, else the generation
    experiment's (same prompts and decoding, no intervention: steering skips
    making them again when generation runs).
    """
    normal = [r for r in steered if r["kind"] == "offtarget" and r["condition"] == "normal"]
    if normal or not generated:
        return normal
    return [r for r in next(iter(generated.values())) if r["condition"] == "normal"]


def steering_tables(
    steered: list[dict], generated: dict[str, list[dict]], languages: list[str], uncertainty: dict
) -> dict[str, pd.DataFrame]:
    """The off-target table (per language, normal vs steered), the cross-lingual table (per pair), their intervals;
    the language confusion table of both kinds (``kind``; per condition, question language and expected language:
    the target language for cross-lingual steering)."""
    baseline = offtarget_baseline(steered, generated)
    steered_offtarget = [r for r in steered if r["kind"] == "offtarget" and r["condition"] == "steered"]
    crosslingual = [r for r in steered if r["kind"] == "crosslingual"]
    parts = [
        confusion_intervals(records, languages, uncertainty).assign(kind=kind)
        for kind, records in (("offtarget", baseline + steered_offtarget), ("crosslingual", crosslingual))
    ]
    parts = [part for part in parts if not part.empty]
    confusion = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["kind", *TABLE_COLUMNS])
    return {
        "offtarget": offtarget_table(baseline, steered_offtarget, languages),
        "crosslingual": crosslingual_table(crosslingual),
        "offtarget_ci": interval_table(baseline + steered_offtarget, languages, list(METRICS), uncertainty),
        "crosslingual_ci": interval_table(crosslingual, languages, list(METRICS), uncertainty),
        "confusion": confusion[["kind", *TABLE_COLUMNS]],
    }
