"""The offline local judge: likelihood mechanics, degeneration, calibration, and the shuffled control.

The tiny random model cannot tell good answers from bad ones, so the score-level
tests replace its likelihoods with a stand-in that finds every answer fluent and
more likely after its question (full content), and check what the other
components do. tests/integration/test_embedded_model.py checks the real model.
"""

from __future__ import annotations

import math

import pytest
import torch

from langneurons.judge import JudgeItem, Judgement, make_judge
from langneurons.judge.likelihood import Calibration, answer_logprobs
from langneurons.judge.local import LocalJudge, copied_shares
from langneurons.judging import control_table, shuffled_control

from ..conftest import loaded
from ..judge_fakes import judge_config

LANGS = ["en", "zh", "fr"]
ANSWER_EN = "Drink a cup of warm milk, turn off your phone an hour early and read a calm book in bed."
ANSWER_ZH = "睡前一小时关掉手机，喝一杯温牛奶，然后在床上读一本安静的书。"


@pytest.fixture(scope="module")
def lm():
    return loaded("LlamaForCausalLM", num_layers=2)


@pytest.fixture
def open_judge(lm):
    """A judge that finds every answer fluent and related (full content): the score shows the other components."""
    judge = LocalJudge(lm, LANGS)
    judge._logprobs = lambda pairs: [-1.0 + 0.01 * len(context) for context, _ in pairs]  # a longer context helps
    judge.calibrations.update(
        {lang: Calibration(fluency_good=-2.0, fluency_bad=-9.0, relevance_good=1e-3) for lang in LANGS}
    )
    return judge


def test_answer_logprobs_match_the_full_model_and_do_not_depend_on_the_batch(lm):
    tok = lm.tokenizer
    contexts = [tok("Q: " + "a much longer question " * k + "?\nA:")["input_ids"] for k in (0, 1, 6, 2)]
    answers = [tok(text, add_special_tokens=False)["input_ids"] for text in (" yes", " no, never " * 5, " maybe", "")]
    batched = answer_logprobs(lm, contexts, answers, batch_size=4)
    alone = [answer_logprobs(lm, [c], [a], batch_size=1)[0] for c, a in zip(contexts, answers)]
    with torch.inference_mode():
        for c, a, value in zip(contexts[:3], answers[:3], batched[:3]):
            logits = lm.model(torch.tensor([c + a])).logits[0, len(c) - 1 : -1]
            expected = logits.log_softmax(-1).gather(1, torch.tensor(a)[:, None]).mean().item()
            assert value == pytest.approx(expected, abs=1e-4)
    assert batched[:3] == pytest.approx(alone[:3], abs=1e-5)
    assert math.isnan(batched[3]) and math.isnan(alone[3])  # an empty answer has no likelihood


def test_copied_shares_count_echo_and_repetition():
    question = [1, 2, 3, 4, 5]
    assert copied_shares([9, 8, 7, 6, 5, 4], question, n=2) == (0.0, 0.0)
    assert copied_shares([1, 2, 3, 4, 5], question, n=2) == (1.0, 0.0)  # the question, repeated back
    assert copied_shares([7, 7, 7, 7, 7], question, n=2) == (0.0, 0.75)  # one token over and over
    assert copied_shares([1, 2], question, n=4) == (0.0, 0.0)  # too short to hold an n-gram


def test_empty_answers_score_one(open_judge):
    (empty,) = open_judge.details([JudgeItem("How can I sleep?", "  ", "en")])
    assert empty.score == 1.0 and empty.tokens == 0
    assert open_judge.score([]) == []


def test_an_answer_in_another_language_scores_one(open_judge):
    items = [
        JudgeItem("How can I fall asleep faster?", ANSWER_EN, "en"),
        JudgeItem("我怎样才能更快入睡？", ANSWER_EN, "zh"),  # English answer, Chinese expected
        JudgeItem("我怎样才能更快入睡？", ANSWER_ZH, "zh"),
    ]
    right, wrong, chinese = open_judge.details(items)
    assert wrong.detected == "en" and wrong.score == 1.0
    assert right.score > 4.5 and chinese.score > 4.5
    assert [j.score for j in open_judge.score(items)] == [right.score, wrong.score, chinese.score]


def test_echoes_repetitions_and_very_short_answers_score_low(open_judge):
    question = "How can I fall asleep faster when I feel stressed?"
    answers = [question, "Milk milk milk milk milk milk milk milk milk milk.", "Milk.", ANSWER_EN]
    echo, loop, short, good = open_judge.details([JudgeItem(question, a, "en") for a in answers])
    assert echo.echo > 0.9 and echo.score < 1.5
    assert loop.repetition > 0.5 and loop.score < 2.5
    assert short.score < good.score
    assert good.score > 4.5


@pytest.mark.parametrize("arch", ["LlamaForCausalLM", "GPT2LMHeadModel", "Gemma3ForCausalLM"])
def test_scores_do_not_depend_on_the_other_items_or_the_batch_size(arch):
    model = loaded(arch, num_layers=1, d_ff=32)
    items = [
        JudgeItem("How can I sleep?", ANSWER_EN, "en"),
        JudgeItem("我怎样才能更快入睡？", ANSWER_ZH, "zh"),
        JudgeItem("Comment dormir ?", "Buvez un verre de lait chaud et lisez un livre calme au lit ce soir.", "fr"),
    ]
    together = LocalJudge(model, LANGS, batch_size=3).score(items)
    alone = [LocalJudge(model, LANGS, batch_size=1).score([item])[0] for item in items]
    assert [j.score for j in together] == pytest.approx([j.score for j in alone], abs=1e-5)
    assert all(j.missing_reason is None and 1.0 <= j.score <= 5.0 for j in together)


def test_a_language_without_reference_passages_borrows_the_mean_calibration(lm, caplog):
    judge = LocalJudge(lm, ["en", "zh", "de"], references={"en": _refs("en"), "zh": _refs("zh")})
    judge.score([JudgeItem("Wie?", "Guten Morgen, wie geht es dir heute? Mir geht es sehr gut, danke.", "de")])
    en, zh, de = (judge.calibrations[lang] for lang in ("en", "zh", "de"))
    assert de.fluency_good == pytest.approx((en.fluency_good + zh.fluency_good) / 2)
    assert "no reference passages for de" in caplog.text
    with pytest.raises(ValueError, match="no reference passages for de"):
        LocalJudge(lm, ["de"], references={}).score([JudgeItem("?", "Guten Morgen, wie geht es dir heute?", "de")])


def _refs(lang: str) -> list[dict]:
    from langneurons.bundled import bundled_passages

    return bundled_passages(lang)[:4]


def test_an_answer_language_outside_the_configured_ones_is_an_error(lm):
    with pytest.raises(ValueError, match="answers expected in de, not among the languages"):
        LocalJudge(lm, LANGS).score([JudgeItem("Wie?", "So.", "de")])


def test_make_judge_builds_the_local_judge_on_the_generation_prompt(lm, tmp_path):
    template = tmp_path / "template.txt"
    template.write_text("Question: {question}{instruction}\nAnswer:", encoding="utf-8")
    generation = {"template": str(template), "instructions": None}
    judge = make_judge(judge_config(backend="local", batch_size=2), lm, tmp_path / "cache", LANGS, generation)
    assert isinstance(judge, LocalJudge) and judge.batch_size == 2  # never cached: no API calls to save
    assert judge.render(JudgeItem("Why?", "Because.", "en")) == "Question: Why? Answer in English.\nAnswer:"
    assert judge.score([JudgeItem("Why?", "Because the sky is blue and the sun is bright today.", "en")])[
        0
    ] != Judgement(None)
    with pytest.raises(ValueError, match="pass lm="):
        make_judge(judge_config(backend="local"))


# ---------------------------------------------------------------- the shuffled control


def record(lang: str, q: int, condition: str = "normal", **extra) -> dict:
    return {"condition": condition, "language": lang, "question_id": q, "question": f"{lang} question {q}", **extra}


def test_shuffled_control_never_keeps_an_answer_with_its_own_question():
    records = [
        record(lang, q, cond, answer=f"{cond} {q}")
        for lang in ("en", "zh")
        for q in range(5)
        for cond in ("normal", "en")
    ]
    control = shuffled_control(records, seed=3)
    normal = [r for r in records if r["condition"] == "normal"]
    assert len(control) == len(normal)  # only the answers made with nothing deactivated
    for r, c in zip(normal, control):
        assert c["answer"] == r["answer"] and c["language"] == r["language"] and c["own_question"] == r["question"]
        assert c["question"] != r["question"] and c["question"].startswith(r["language"])
    # a permutation of the questions within each language, seeded
    assert sorted(c["question"] for c in control) == sorted(r["question"] for r in normal)
    assert shuffled_control(records, seed=3) == control
    assert shuffled_control(records, seed=4) != control
    # steered answers are paired within the language they should be in
    steered = [record("es", q, target="zh") for q in range(3)]
    assert all(c["question"].startswith("es") for c in shuffled_control(steered))
    with pytest.raises(ValueError, match="two different questions in 'fr'; set questions.max_questions >= 2"):
        shuffled_control([record("fr", 0)] * 2)


def test_control_table_compares_matched_and_shuffled_per_language():
    records = [
        record("zh", 0, score=4.0),
        record("en", 0, score=3.0),
        record("en", 1, score=5.0),
        record("en", 1, "en", score=1.0),
    ]
    control = [record("zh", 1, score=2.0), record("en", 1, score=1.0), record("en", 0, score=2.0)]
    table = control_table(records, control, ["en", "zh", "fr"])
    assert list(table.index) == ["en", "zh"] and list(table.columns) == ["matched", "shuffled", "difference", "n"]
    assert (
        table.loc["en", "matched"] == 4.0
        and table.loc["en", "shuffled"] == 1.5
        and table.loc["en", "difference"] == 2.5
    )
    assert table.loc["zh", "n"] == 1
    unscored = control_table([record("en", 0, score=None)], [record("en", 1, score=None)], ["en"])  # judge: none
    assert math.isnan(unscored.loc["en", "matched"]) and math.isnan(unscored.loc["en", "difference"])
