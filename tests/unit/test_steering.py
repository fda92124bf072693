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
from langneurons.selection import specificity_order, top_share
from langneurons.steering import (
    crosslingual_pairs,
    deactivation_groups,
    run_steering,
    run_sweep,
    steering_groups,
    sweep_points,
    sweep_questions,
)

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


MODES = ["replace", "add", "multiply"]
STRENGTHS = {"multiply": [4, 2], "replace": [1, 0.5], "add": [2]}


def steering_cfg(**values):
    cfg = {
        "method": "lape",
        "mode": "replace",
        "strength": 1.0,
        "offtarget": True,
        "crosslingual_languages": ["es", "zh"],
        "crosslingual_instruction": False,
        "sweep": {"strengths": STRENGTHS, "questions": 1, "shares": [0.5, 1.0], "success": 0.9, "margin": 0.5},
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


def same_plan(a, b) -> bool:
    """Two plans edit the same neurons of the same layers the same way (values, strength, rows)."""
    if a.keys() != b.keys():
        return False
    for layer in a:
        if len(a[layer]) != len(b[layer]):
            return False
        for x, y in zip(a[layer], b[layer]):
            values = (x.values is None and y.values is None) or (
                x.values is not None and y.values is not None and torch.equal(x.values, y.values)
            )
            if not (torch.equal(x.index, y.index) and x.mode == y.mode and values and x.strength == y.strength):
                return False
            if x.rows != y.rows:
                return False
    return True


def test_sweep_points_in_mode_order_strengths_ascending():
    assert sweep_points(STRENGTHS, MODES) == [
        ("replace", 0.5),
        ("replace", 1.0),
        ("add", 2.0),
        ("multiply", 2.0),
        ("multiply", 4.0),
    ]
    assert sweep_points({}, MODES) == []


def test_sweep_plans_equal_the_single_setting_plans_at_each_point(neurons_and_means):
    """Every group the sweep steers at a point has the plan the main steering builds with that point alone."""
    neurons, means = neurons_and_means
    points = sweep_points(STRENGTHS, MODES)
    swept = steering_groups(neurons, means, LANGS, steering_cfg(), False, lambda kind, target: points)
    assert len([g for g in swept if g.mode]) == len(points) * (3 + 2)  # 3 off-target languages, 2 ordered pairs
    for mode, strength in points:
        point = [(mode, strength)]
        single = steering_groups(
            neurons, means, LANGS, steering_cfg(mode=mode, strength=strength), False, lambda k, t, p=point: p
        )
        at_point = [g for g in swept if g.mode is None or (g.mode, g.strength) == (mode, strength)]
        assert [(g.kind, g.condition, g.language, g.target, g.mode, g.strength) for g in at_point] == [
            (g.kind, g.condition, g.language, g.target, g.mode, g.strength) for g in single
        ]
        assert all(same_plan(a.plan, b.plan) for a, b in zip(at_point, single, strict=True))


def test_sweep_parts_are_the_one_job_answers(lm, neurons_and_means):
    """steering.sweep_jobs: each part answers an even share of the shared batches; joined in order, one job's."""
    neurons, means = neurons_and_means
    probs = torch.rand(2, 48, len(LANGS), generator=torch.Generator().manual_seed(0))
    args = (lm, neurons, means, probs, sweep_questions(QUESTIONS, 1), TEMPLATE, INSTRUCTIONS, GEN, steering_cfg())
    one = run_sweep(*args, MODES, {"model": "m"})
    assert len(one) == 36  # 9 batches of 4
    for parts in (2, 9):
        shares = [run_sweep(*args, MODES, {"model": "m"}, part=k, parts=parts) for k in range(parts)]
        assert all(shares) and [r for share in shares for r in share] == one


def test_sweep_answers_equal_the_single_setting_answers(lm, neurons_and_means):
    """Batched across points, kinds and the dose-response, each answer is the one its point gets on its own."""
    neurons, means = neurons_and_means
    probs = torch.rand(2, 48, len(LANGS), generator=torch.Generator().manual_seed(0))
    held_out = sweep_questions(QUESTIONS, 1)
    assert all(rows == QUESTIONS[lang][-1:] for lang, rows in held_out.items())
    records = run_sweep(
        lm, neurons, means, probs, held_out, TEMPLATE, INSTRUCTIONS, GEN, steering_cfg(), MODES, {"model": "m"}
    )
    kinds = {(r["kind"], r["condition"]) for r in records}
    assert kinds == {
        ("offtarget", "normal"),
        ("offtarget", "steered"),
        ("crosslingual", "unsteered"),
        ("crosslingual", "to_zh"),
        ("crosslingual", "to_es"),
        ("deactivation", "off"),
    }
    assert (
        len(records) == 3 + 5 * 3 + 2 + 5 * 2 + 2 * 3
    )  # normal, points x languages, unsteered, points x pairs, shares
    for mode, strength in [("add", 2.0), ("multiply", 4.0)]:
        single = run_steering(
            lm,
            neurons,
            means,
            held_out,
            TEMPLATE,
            INSTRUCTIONS,
            GEN,
            steering_cfg(mode=mode, strength=strength),
            {"model": "m"},
            True,
        )
        answers = {(r["kind"], r["condition"], r["language"]): r["answer"] for r in single}
        for r in records:
            if (r["mode"], r["strength"]) == (mode, strength) or r["condition"] in ("normal", "unsteered"):
                assert r["answer"] == answers[r["kind"], r["condition"], r["language"]], r
    off = [r for r in records if r["kind"] == "deactivation"]
    assert {(r["language"], r["share"]) for r in off} == {(lang, s) for lang in LANGS for s in (0.5, 1.0)}
    assert all(r["target"] is None and r["deactivated"] == (3 if r["share"] == 1.0 else 2) for r in off)


def test_main_steering_with_the_chosen_points(lm, neurons_and_means):
    chosen = {("offtarget", lang): ("add", 2.0) for lang in LANGS} | {
        ("crosslingual", "zh"): ("multiply", 4.0),
        ("crosslingual", "es"): ("replace", 0.5),
    }
    neurons, means = neurons_and_means
    records = run_steering(
        lm, neurons, means, QUESTIONS, TEMPLATE, INSTRUCTIONS, GEN, steering_cfg(), {}, False, chosen=chosen
    )
    for r in records:
        if r["target"] is not None:
            assert (r["mode"], r["strength"]) == chosen[r["kind"], r["target"]]
        else:
            assert r["mode"] is None and r["strength"] is None
    with pytest.raises(ValueError, match="run the sweep again"):
        run_steering(lm, neurons, means, QUESTIONS, TEMPLATE, INSTRUCTIONS, GEN, steering_cfg(), {}, False, chosen={})


def test_deactivation_switches_off_the_most_specific_first():
    # 1 layer, 4 neurons, 2 languages: neuron 0 fires only in en, 1 and 2 in both (2 more in en), 3 only in en but
    # weakly; en's neurons are 0-3
    probs = torch.tensor([[[0.9, 0.0], [0.5, 0.5], [0.8, 0.4], [0.1, 0.0]]])
    neurons = [[torch.tensor([0, 1, 2, 3])], [torch.tensor([1])]]
    order = specificity_order(probs, neurons[0], 0)
    assert order == [(0, 0), (0, 3), (0, 2), (0, 1)]  # entropy 0, 0 (higher p first), then 0.64, then ln 2
    assert [t.tolist() for t in top_share(order, 0.5, 1)] == [[0, 3]]
    assert [t.tolist() for t in top_share(order, 0.1, 1)] == [[0]]  # a share above 0 switches off one at least
    assert [t.tolist() for t in top_share(order, 1.0, 1)] == [[0, 1, 2, 3]]
    groups = deactivation_groups(neurons, probs, ["en", "zh"], [1.0, 0.25])
    assert [(g.language, g.share, g.deactivated) for g in groups] == [
        ("en", 0.25, 1),
        ("en", 1.0, 4),
        ("zh", 0.25, 1),
        ("zh", 1.0, 1),
    ]
