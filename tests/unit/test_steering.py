"""The steering experiment on a tiny random model: conditions, pairs, targets, prompts, config checks,
and what the judge is asked about a cross-lingual answer."""

import pytest
import torch

from langneurons.config import validate_config
from langneurons.errors import ConfigError
from langneurons.generation import generate, steering_plan
from langneurons.hooks import NeuronHooks
from langneurons.judge import make_judge
from langneurons.judging import judge_item
from langneurons.steering import crosslingual_pairs, run_steering

from ..conftest import loaded
from ..judge_fakes import judge_config

LANGS = ["en", "es", "zh"]
TEMPLATE = "Q: {question}{instruction}\nA:"
INSTRUCTIONS = {"en": " Answer in English.", "es": " Responde en español.", "zh": "请用中文回答。"}
QUESTIONS = {
    "en": [{"id": "q1", "question": "Why is the sky blue?"}, {"id": "q2", "question": "How do bees fly?"}],
    "es": [{"id": "q1", "question": "¿Por qué el cielo es azul?"}, {"id": "q2", "question": "¿Cómo vuelan?"}],
    "zh": [{"id": "q1", "question": "天空为什么是蓝色的？"}, {"id": "q2", "question": "蜜蜂怎么飞？"}],
}
GEN = {"max_new_tokens": 3, "batch_size": 4, "repetition_penalty": 1.1, "stop": ["\nQ:", "\nA:"]}


def steering_cfg(**values):
    cfg = {
        "method": "lape",
        "mode": "replace",
        "strength": 1.0,
        "offtarget": True,
        "crosslingual_languages": ["es", "zh"],
        "crosslingual_instruction": False,
    }
    return {**cfg, **values}


@pytest.fixture(scope="module")
def lm():
    return loaded("LlamaForCausalLM", num_layers=2, d_ff=48)


@pytest.fixture(scope="module")
def neurons_and_means():
    neurons = [[torch.tensor([k, 10 + k]), torch.tensor([20 + k])] for k in range(len(LANGS))]
    means = torch.arange(2 * 48 * len(LANGS), dtype=torch.float64).reshape(2, 48, len(LANGS)) / 50
    return neurons, means


def steer(lm, neurons_and_means, with_normal=False, **cfg):
    neurons, means = neurons_and_means
    return run_steering(
        lm, neurons, means, QUESTIONS, TEMPLATE, INSTRUCTIONS, GEN, steering_cfg(**cfg), {"model": "m"}, with_normal
    )


def test_crosslingual_pairs_are_every_ordered_pair():
    assert crosslingual_pairs(["en", "zh", "es"]) == [
        ("en", "zh"),
        ("en", "es"),
        ("zh", "en"),
        ("zh", "es"),
        ("es", "en"),
        ("es", "zh"),
    ]
    assert crosslingual_pairs(["en"]) == []


def test_config_check_names_the_key():
    def config(**steering):
        return {"models": {"m": {"source": "embedded"}}, "languages": LANGS, "steering": steering}

    with pytest.raises(ConfigError, match=r"steering.crosslingual_languages: \['de'\] not in languages"):
        validate_config(config(crosslingual_languages=["en", "de"]))
    # steering off (and no generation): nothing to check
    validate_config({**config(method=None, crosslingual_languages=["de", "en"]), "generation": {"methods": []}})


def test_conditions_targets_and_prompts(lm, neurons_and_means):
    records = steer(lm, neurons_and_means)
    by = {(r["kind"], r["condition"], r["language"], r["question_id"]): r for r in records}
    assert len(by) == len(records) == 2 * (3 + 2 + 2)  # steered per language; unsteered and to_T per source
    assert {k[:3] for k in by} == {
        *(("offtarget", "steered", lang) for lang in LANGS),
        ("crosslingual", "unsteered", "es"),
        ("crosslingual", "unsteered", "zh"),
        ("crosslingual", "to_zh", "es"),
        ("crosslingual", "to_es", "zh"),
    }
    for r in records:
        target = {"steered": r["language"], "unsteered": None}.get(r["condition"], r["condition"][3:])
        assert r["target"] == target and r["model"] == "m"
        assert r["question"] == QUESTIONS[r["language"]][int(r["question_id"][1]) - 1]["question"]
    # off-target prompts carry the instruction; cross-lingual ones do not (crosslingual_instruction: false)
    assert (
        by[("offtarget", "steered", "es", "q1")]["prompt"] == "Q: ¿Por qué el cielo es azul? Responde en español.\nA:"
    )
    assert by[("crosslingual", "to_zh", "es", "q1")]["prompt"] == "Q: ¿Por qué el cielo es azul?\nA:"

    # each answer is the one generated under its own plan: es's neurons off, zh's on
    neurons, means = neurons_and_means
    with NeuronHooks(lm) as hooks:
        hooks.set_plan(steering_plan(neurons, means, 1, 2))
        alone = generate(lm, ["Q: ¿Cómo vuelan?\nA:"], GEN["max_new_tokens"], 1, stops=tuple(GEN["stop"]))
    assert by[("crosslingual", "to_zh", "es", "q2")]["answer"] == alone[0]


def test_options_change_the_conditions(lm, neurons_and_means):
    records = steer(lm, neurons_and_means, with_normal=True, offtarget=True, crosslingual_languages=[])
    assert {(r["kind"], r["condition"]) for r in records} == {("offtarget", "normal"), ("offtarget", "steered")}
    assert all(r["target"] is None for r in records if r["condition"] == "normal")
    records = steer(lm, neurons_and_means, offtarget=False, crosslingual_instruction=True)
    assert {r["kind"] for r in records} == {"crosslingual"}
    assert all(INSTRUCTIONS[r["language"]] in r["prompt"] for r in records)


def test_steering_needs_mean_activations(lm, neurons_and_means):
    with pytest.raises(ValueError, match="mean activations"):
        run_steering(lm, neurons_and_means[0], None, QUESTIONS, TEMPLATE, INSTRUCTIONS, GEN, steering_cfg(), {}, False)


def test_judge_request_of_a_crosslingual_answer(lm, neurons_and_means, tiny_llama, monkeypatch):
    """Question in es, steered to zh: the judge sees the bare question and Chinese, not the Q:/A: prompt."""
    (record,) = [r for r in steer(lm, neurons_and_means) if r["condition"] == "to_zh" and r["question_id"] == "q1"]
    assert record["language"] == "es"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    judge = make_judge(judge_config(backend="openai", model="gpt-4", base_url="http://127.0.0.1:9/v1"))
    request = judge.render(judge_item(record))
    assert "¿Por qué el cielo es azul?" in request and "Chinese" in request
    assert "Spanish" not in request and "Responde" not in request
    assert "Q:" not in request and "A:" not in request and record["prompt"] not in request
    assert record["answer"] in request
    # the local judge scores the answer after the generation prompt of the bare question, asking for Chinese
    local = make_judge(judge_config(backend="local"), tiny_llama, languages=["en", "zh", "es"])
    assert local.render(judge_item(record)) == "Q: ¿Por qué el cielo es azul?请用中文回答。\nA:"
