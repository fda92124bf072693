"""Prompt building, stop handling, batched generation, steering values, questions, language ID."""

import pytest
import torch

from langneurons.activations import collect_stats, stack_stats
from langneurons.evaluation import condition_table, crosslingual_table, offtarget_table
from langneurons.generation import (
    UnpaddedRepetitionPenalty,
    build_prompt,
    cut_at_stop,
    deactivation_conditions,
    generate,
    generate_tokens,
    load_instructions,
    load_template,
    steering_plan,
)
from langneurons.hooks import NeuronHooks, activation_plan, deactivation_plan
from langneurons.langid import accuracy, identify
from langneurons.questions import fetch_mvicuna, load_questions

from ..conftest import loaded

LANGS = ["en", "zh", "fr", "es", "vi", "id", "ja"]


def test_prompt_and_instructions_are_the_authors():
    # typed from answer_lang and load_dataset in generation.py of RUCAIBox/Language-Specific-Neurons
    # (commit 1ec944cf): the prompt is f"Q: {line.strip() + answer_lang[lang]}\nA:"
    assert load_instructions() == {
        "en": " Answer in English.",
        "zh": "请用中文回答。",
        "fr": " Veuillez répondre en français.",
        "es": " Por favor responda en español.",
        "vi": " Hãy trả lời bằng tiếng Việt.",
        "id": " Tolong dijawab dalam bahasa Indonesia.",
        "ja": "日本語で答えてください。",
    }
    template = load_template()
    assert template == "Q: {question}{instruction}\nA:"
    assert build_prompt(template, " Why is the sky blue? \n", " Answer in English.") == (
        "Q: Why is the sky blue? Answer in English.\nA:"
    )
    assert build_prompt(template, "天为什么是蓝的？", "请用中文回答。") == "Q: 天为什么是蓝的？请用中文回答。\nA:"


def test_cut_at_stop():
    assert cut_at_stop(" Because of scattering.\nQ: next question", ["\nQ:", "\nA:"]) == "Because of scattering."
    assert cut_at_stop("one\nA: two\nQ: three", ["\nQ:", "\nA:"]) == "one"
    assert cut_at_stop("no stop here ", ["\nQ:"]) == "no stop here"


def test_penalty_skips_left_padding():
    scores = torch.tensor([[2.0, -1.0, 4.0, 1.0], [2.0, -1.0, 4.0, 1.0]])
    ids = torch.tensor([[0, 0, 1, 3], [2, 1, 1, 3]])  # row 0: two padding positions holding token 0
    padding = torch.tensor([[True, True, False], [False, False, False]])  # prompt width 3, one answer token so far
    out = UnpaddedRepetitionPenalty(2.0, padding)(ids, scores.clone())
    assert out[0].tolist() == [2.0, -2.0, 4.0, 0.5]  # token 0 only padded: not penalised
    assert out[1].tolist() == [2.0, -2.0, 2.0, 0.5]  # once per token, whatever its count


def test_batched_generation_equals_one_by_one():
    lm = loaded("LlamaForCausalLM", seed=0, num_layers=2, d_ff=48)
    tok = lm.tokenizer
    tok.pad_token = tok.eos_token  # as for LLaMA: padding is EOS
    prompts = ["Q: hi\nA:", "Q: " + "a rather long question about many different things, " * 6 + "?\nA:", "Q: x y\nA:"]
    prompts.append("Q: what is the capital of France and why?\nA:")
    assert generate_tokens(lm, prompts, 16, 4, repetition_penalty=1.1) != generate_tokens(lm, prompts, 16, 4, 1.0)
    # make EOS about as likely as the best token, so that answers stop at different lengths and a
    # penalty on the padding (EOS) of the shorter prompts would change where their answers stop
    with torch.no_grad():
        enc = tok(prompts, return_tensors="pt", padding=True)
        hidden = lm.model.model(**enc).last_hidden_state[enc["attention_mask"].bool()]
        best = (hidden @ lm.model.lm_head.weight.T).max(-1).values.mean()
        mean = hidden.mean(0)
        lm.model.lm_head.weight[tok.eos_token_id] = mean / mean.dot(mean) * best
    together = generate_tokens(lm, prompts, 12, batch_size=4, repetition_penalty=1.1, stops=())
    alone = [generate_tokens(lm, [p], 12, batch_size=1, repetition_penalty=1.1, stops=())[0] for p in prompts]
    assert together == alone
    assert len({len(t) for t in together}) > 1  # some answers stopped at EOS, others ran on
    assert tok.padding_side == "left"


def test_steering_replaces_with_the_stored_means():
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=48)
    gen = torch.Generator().manual_seed(0)
    stats = [
        collect_stats(
            lm,
            {
                "sequences": torch.randint(3, 259, (4, 16), generator=gen, dtype=torch.int32),
                "remainder": torch.zeros(0, dtype=torch.int32),
                "seq_len": 16,
            },
            2,
            progress=False,
        )
        for _ in range(2)
    ]
    _, means = stack_stats(stats)
    neurons = [[torch.tensor([1, 5]), torch.tensor([7])], [torch.tensor([2]), torch.tensor([3, 9])]]
    acts = {}
    with NeuronHooks(lm) as hooks:
        hooks.set_plan(steering_plan(neurons, means, source=0, target=1))
        extra = [
            m.register_forward_hook(lambda m, i, o, l=l: acts.__setitem__(l, o.clone()))
            for l, m in enumerate(hooks.modules)
        ]
        with torch.no_grad():
            lm.model(input_ids=torch.randint(3, 259, (1, 5)))
        for h in extra:
            h.remove()
    stored = [s["sum"] / s["n"] for s in stats][1]
    assert torch.allclose(acts[0][..., 2], stored[0, 2].float().expand(1, 5))
    assert torch.allclose(acts[1][..., [3, 9]], stored[1, [3, 9]].float().expand(1, 5, 2))
    assert (acts[0][..., [1, 5]] == 0).all() and (acts[1][..., 7] == 0).all()  # source deactivated


def test_deactivation_conditions_follow_the_paper():
    neurons = [[torch.tensor([k])] for k in range(3)]
    random = [[torch.tensor([10 + k])] for k in range(3)]
    conditions = deactivation_conditions(neurons, random, ["en", "zh", "ja"])
    assert list(conditions) == ["normal", "random", "en", "zh", "ja"]
    assert conditions["normal"]["zh"] == {}
    assert conditions["random"]["ja"][0][0].index.tolist() == [12]  # random set of the question's language
    assert conditions["zh"]["en"][0][0].index.tolist() == [1]
    # one plan for every question language: generated together
    assert conditions["zh"]["en"] is conditions["zh"]["ja"]


def test_grouped_generation_keeps_records_aligned():
    from langneurons.generation import run_conditions

    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=48)
    questions = {l: [{"id": f"q{i}", "question": f"{l} question {i}"} for i in range(3)] for l in ("en", "zh")}
    prompts = {l: [f"Q: {l} question {i}\nA:" for i in range(3)] for l in ("en", "zh")}
    shared = {}
    plans = {"normal": {"en": shared, "zh": shared}}
    cfg = {"max_new_tokens": 4, "batch_size": 4, "repetition_penalty": 1.1, "stop": []}
    records = run_conditions(lm, questions, prompts, plans, cfg, {"model": "m"})
    assert [(r["language"], r["question_id"]) for r in records] == [
        (l, f"q{i}") for l in ("en", "zh") for i in range(3)
    ]
    alone = generate(lm, [prompts["zh"][1]], max_new_tokens=4, batch_size=1, stops=())
    assert records[4]["prompt"] == prompts["zh"][1] and records[4]["answer"] == alone[0]


def test_batches_mixing_conditions_answer_as_each_plan_alone():
    """Batches cut across conditions and languages; every answer is its prompt's under its own plan."""
    from langneurons.generation import run_conditions

    lm = loaded("LlamaForCausalLM", seed=3, num_layers=2, d_ff=48)
    langs = ("en", "zh", "ja")
    questions = {
        l: [{"id": f"q{i}", "question": f"{l} question number {i}" + "!" * i} for i in range(2)] for l in langs
    }
    prompts = {l: [f"Q: {q['question']}\nA:" for q in questions[l]] for l in langs}
    values = 4 * torch.randn(2, 48, generator=torch.Generator().manual_seed(0))
    off = deactivation_plan([torch.arange(0, 48, 2)] * 2)
    plans = {
        "normal": {l: {} for l in langs},
        "steered": {l: activation_plan([torch.arange(k, 48, 3)] * 2, values) for k, l in enumerate(langs)},
        "off": {l: off for l in langs},  # one plan object for every language
    }
    cfg = {"max_new_tokens": 6, "batch_size": 4, "repetition_penalty": 1.1, "stop": []}
    records = run_conditions(lm, questions, prompts, plans, cfg, {"model": "m"})  # 18 prompts, batches of 4
    assert [(r["condition"], r["language"], r["question_id"]) for r in records] == [
        (c, l, f"q{i}") for c in plans for l in langs for i in range(2)
    ]
    with NeuronHooks(lm) as hooks:
        for r in records:
            hooks.set_plan(plans[r["condition"]][r["language"]])
            assert r["answer"] == generate(lm, [r["prompt"]], 6, 1, stops=())[0], r
    per_prompt = {}
    for r in records:
        per_prompt.setdefault(r["prompt"], set()).add(r["answer"])
    assert all(len(answers) > 1 for answers in per_prompt.values())  # the plans change every prompt's answer


@pytest.mark.parametrize(
    "text, lang",
    [
        ("The weather is lovely today and we are going to the park.", "en"),
        ("今天天气很好，我们去公园散步吧。", "zh"),
        ("Il fait beau aujourd'hui, allons nous promener au parc.", "fr"),
        ("Hoy hace buen tiempo, vamos a pasear por el parque.", "es"),
        ("Hôm nay trời đẹp, chúng ta hãy đi dạo trong công viên.", "vi"),
        ("Cuaca hari ini cerah, mari kita berjalan-jalan di taman.", "id"),
        ("今日はいい天気なので、公園を散歩しましょう。", "ja"),
    ],
)
def test_language_identification_on_known_sentences(text, lang):
    assert identify(text, LANGS) == lang


def test_language_accuracy_counts_undetectable_as_wrong():
    assert identify("", LANGS) is None and identify("1234 !!", LANGS) is None
    assert accuracy(["en", None, "fr"], ["en", "en", "en"]) == pytest.approx(1 / 3)


def test_tables_in_the_papers_shape():
    records = [
        {"condition": c, "language": l, "score": s, "in_expected_language": a}
        for c, l, s, a in [
            ("normal", "en", 4, True),
            ("normal", "zh", 3, True),
            ("zh", "zh", 1, False),
            ("random", "en", 4, True),
            ("zh", "en", 4, True),
            ("en", "en", 2, False),
        ]
    ]
    acc = condition_table(records, ["en", "zh"], "in_expected_language")
    assert list(acc.index) == ["normal", "random", "en", "zh"] and list(acc.columns) == ["en", "zh"]
    assert acc.loc["zh", "zh"] == 0 and acc.loc["normal", "zh"] == 1
    off = offtarget_table(records[:2], [dict(records[0], score=5)], ["en", "zh"])
    assert off.loc["en", "quality_steered"] == 5 and off.loc["en", "accuracy_normal"] == 1
    cross = crosslingual_table(
        [
            {"language": "en", "condition": "unsteered", "target": None, "lang_detected": "en", "score": 3},
            {"language": "en", "condition": "to_zh", "target": "zh", "lang_detected": "zh", "score": 2},
            {"language": "en", "condition": "to_zh", "target": "zh", "lang_detected": "en", "score": 4},
        ]
    )
    row = cross.iloc[0]
    assert (row.source, row.target, row.share_target_steered, row.share_target_unsteered) == ("en", "zh", 0.5, 0.0)


def test_question_sources(tmp_path):
    bundled = load_questions({"source": "bundled", "max_questions": 5}, "vi")
    assert len(bundled) == 40 and bundled[0]["id"] == "q01"  # the whole set: generation takes its first n
    (tmp_path / "ja.txt").write_text("質問一\n\n質問二\n")
    files = load_questions({"source": "files", "files": {"ja": str(tmp_path / "ja.txt")}, "max_questions": None}, "ja")
    assert [q["question"] for q in files] == ["質問一", "質問二"]
    # the mvicuna download path, through the same code, from a local URL
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "fr.txt").write_text("Question un ?\nQuestion deux ?\n")
    cfg = {
        "source": "mvicuna",
        "url": remote.as_uri() + "/{lang}.txt",
        "dir": str(tmp_path / "cache"),
        "max_questions": None,
    }
    assert [q["question"] for q in load_questions(cfg, "fr")] == ["Question un ?", "Question deux ?"]
    assert (tmp_path / "cache" / "fr.txt").is_file()
    with pytest.raises(RuntimeError, match="Download that file by hand and put it at"):
        fetch_mvicuna("xx", remote.as_uri() + "/{lang}.txt", tmp_path / "cache")
