"""Judging orchestration on hand-made answer records: what each answer is judged on, deduplication,
failing loudly on missing scores, the off-target baseline and the tables."""

import pytest

from langneurons.errors import JudgeError
from langneurons.judge import CachedJudge, JudgeItem, Judgement, NoJudge
from langneurons.judging import (
    check_missing,
    generation_tables,
    judge_answers,
    judge_item,
    offtarget_baseline,
    score_answers,
    steering_tables,
)

LANGS = ["en", "zh"]
ANSWERS = {"en": "The sky is blue because air scatters blue light more.", "zh": "天空是蓝色的，因为空气散射蓝光。"}


def record(condition, language, answer_language=None, kind=None, target=None, qid="q1", **extra):
    question = {"en": "Why is the sky blue?", "zh": "天空为什么是蓝色的？"}[language]
    r = {
        "condition": condition,
        "language": language,
        "question_id": qid,
        "question": question,
        "prompt": f"Q: {question}\nA:",
        "answer": ANSWERS[answer_language or language],
        **extra,
    }
    if kind:
        r.update(kind=kind, target=target)
    return r


class ScriptedJudge:
    """Scores 4 unless the answer is in ``unscored``; records every item it is asked."""

    identity = {"backend": "scripted"}

    def __init__(self, unscored=(), reason="HTTP 500 from http://judge/v1/ (judge.base_url) (after 4 retries)"):
        self.unscored, self.reason, self.asked = set(unscored), reason, []

    def render(self, item):
        return repr(item)

    def score(self, items):
        self.asked += items
        return [Judgement(None, self.reason) if i.answer in self.unscored else Judgement(4.0) for i in items]


def test_judge_item_is_the_bare_question_and_the_expected_language():
    plain = record("zh", "zh")  # generation: deactivation condition, no target
    assert judge_item(plain) == JudgeItem("天空为什么是蓝色的？", ANSWERS["zh"], "zh")
    crossed = record("to_en", "zh", "en", kind="crosslingual", target="en")
    assert judge_item(crossed) == JudgeItem("天空为什么是蓝色的？", ANSWERS["en"], "en")
    baseline = record("unsteered", "zh", kind="crosslingual", target=None)
    assert judge_item(baseline).language == "zh"


def test_each_distinct_answer_is_judged_once():
    records = [
        record("normal", "en"),
        record("random", "en"),  # same question, answer and expected language as normal: judged once
        record("steered", "en", kind="offtarget", target="en"),  # same again
        record("to_en", "zh", "en", kind="crosslingual", target="en"),
        record("unsteered", "zh", "en", kind="crosslingual", target=None),  # same answer, expected zh: judged apart
    ]
    judge = ScriptedJudge()
    score_answers(records, judge)
    assert len(judge.asked) == 3
    assert all(r["score"] == 4.0 and r["score_missing"] is None for r in records)


def test_missing_scores_fail_the_job_with_how_many_and_why(tmp_path):
    records = [record(c, lang, qid=q) for c in ("normal", "zh") for lang in LANGS for q in ("q1", "q2")]
    for r in records:  # distinct answers per record
        r["answer"] += f" ({r['condition']} {r['question_id']})"
    unscored = {r["answer"] for r in records if r["language"] == "zh"}
    with pytest.raises(JudgeError) as info:
        judge_answers(records, LANGS, CachedJudge(ScriptedJudge(unscored), tmp_path), max_missing=0)
    assert str(info.value) == (
        "4 of 8 answers have no score (judge.max_missing allows 0): "
        "4 x HTTP 500 from http://judge/v1/ (judge.base_url) (after 4 retries). "
        "Check the judge, then rerun: scored answers are cached, only the missing ones are asked again"
    )
    # the rerun asks only for what has no score yet
    again = ScriptedJudge()
    judge_answers(records, LANGS, CachedJudge(again, tmp_path), max_missing=0)
    assert sorted(i.answer for i in again.asked) == sorted(unscored)

    tolerated = [dict(r) for r in records]
    judge_answers(tolerated, LANGS, ScriptedJudge(unscored), max_missing=4)  # within judge.max_missing
    assert [r["score_missing"] is not None for r in tolerated] == [r["language"] == "zh" for r in records]
    assert all(r["expected_language"] == r["language"] and "in_expected_language" in r for r in tolerated)


def test_many_reasons_are_summarised():
    records = [dict(record("normal", "en"), score=None, score_missing=f"reason {i % 5}") for i in range(10)]
    with pytest.raises(JudgeError, match=r"10 of 10 answers .*2 x reason 0; 2 x reason 1; 2 x reason 2; 2 other"):
        check_missing(records, 9, cached=False)
    check_missing(records, 10, cached=False)


def test_a_disabled_judge_is_no_failure():
    records = [record("normal", "en")]
    judge_answers(records, LANGS, NoJudge(), max_missing=0)
    assert records[0]["score"] is None and "judge disabled" in records[0]["score_missing"]


def scored(r, score, detected):
    return dict(
        r, score=score, lang_detected=detected, in_expected_language=detected == (r.get("target") or r["language"])
    )


def test_offtarget_baseline_borrows_generations_normal_answers():
    generated = {"lape": [record("normal", "en"), record("zh", "en")], "lap": [record("normal", "zh")]}
    steered = [record("steered", "en", kind="offtarget", target="en")]
    assert offtarget_baseline(steered, generated) == [generated["lape"][0]]  # the first method's normal answers
    own = record("normal", "en", kind="offtarget", target=None)
    assert offtarget_baseline([own, *steered], generated) == [own]
    assert offtarget_baseline(steered, {}) == []


UNCERTAINTY = {"bootstrap_samples": 200, "seed": 0, "confidence": 0.95}


def test_tables():
    generated = {
        "lape": [
            scored(record("normal", "en"), 4, "en"),
            scored(record("normal", "zh"), 5, "zh"),
            scored(record("zh", "zh", "en"), 2, "en"),
            scored(record("zh", "en"), 3, "en"),
        ]
    }
    tables = generation_tables(generated["lape"], LANGS, UNCERTAINTY)
    assert tables["quality"].loc["zh", "zh"] == 2 and tables["accuracy"].loc["zh", "zh"] == 0
    assert tables["accuracy"].loc["normal"].tolist() == [1, 1]
    ci = tables["quality_ci"].set_index(["condition", "language"])
    assert set(ci["metric"]) == {"score"} and ci.loc[("zh", "zh"), ["mean", "lo", "hi", "n"]].tolist() == [2, 2, 2, 1]
    steered = [
        scored(record("steered", "en", kind="offtarget", target="en"), 5, "en"),
        scored(record("steered", "zh", kind="offtarget", target="zh"), 1, "en"),
        scored(record("unsteered", "en", kind="crosslingual"), 4, "en"),
        scored(record("to_zh", "en", "zh", kind="crosslingual", target="zh"), 3, "zh"),
    ]
    tables = steering_tables(steered, generated, LANGS, UNCERTAINTY)
    off = tables["offtarget"]
    off_ci = tables["offtarget_ci"].set_index(["metric", "condition", "language"])
    assert off_ci.loc[("score", "steered", "zh"), "mean"] == 1 and off_ci.loc[("score", "normal", "zh"), "mean"] == 5
    cross_ci = tables["crosslingual_ci"].set_index(["metric", "condition", "language"])
    assert cross_ci.loc[("in_expected_language", "to_zh", "en"), "mean"] == 1  # answered in the target, zh
    assert off.loc["zh"].tolist() == [1.0, 0.0, 5.0, 1.0]  # accuracy and quality, normal (borrowed) vs steered
    (row,) = tables["crosslingual"].to_dict("records")
    assert row == {
        "source": "en",
        "target": "zh",
        "share_target_steered": 1.0,
        "share_target_unsteered": 0.0,
        "share_source_steered": 0.0,
        "quality_steered": 3.0,
    }
