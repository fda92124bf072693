"""The real embedded model (Gemma-3-270M) on small budgets: the paper's key result.

Deactivating a language's LAPE neurons must hurt that language most (diagonal
dominance), and more specifically than deactivating random neurons.
"""

import shutil

import pytest
import torch

from langneurons.activations import collect_stats, stack_stats
from langneurons.config import default_languages
from langneurons.corpus import documents, pack_tokens
from langneurons.methods import select
from langneurons.models import load_prepared, prepare_model
from langneurons.perplexity import perplexity_matrix, specificity

from ..conftest import REPO

DEFAULT_LANGUAGES = default_languages()

pytestmark = pytest.mark.integration

CORPUS = {"source": "bundled", "valid_topics": 16}
SELECTION = {"top_rate": 0.01, "filter_rate": 0.95, "activation_bar_ratio": 0.95, "seed": 0}


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    prepared = REPO / "resources" / "models" / "gemma3-270m"
    if not (prepared / "model.json").exists():  # fresh clone: convert the GGUF once, here
        prepared = tmp_path_factory.mktemp("gemma")
        prepare_model({"source": "embedded"}, prepared)
    torch.set_num_threads(2)
    lm = load_prepared(prepared)
    yield lm
    if prepared.parent.name.startswith("gemma"):
        shutil.rmtree(prepared, ignore_errors=True)


def test_embedded_model_is_gemma3_and_knows_languages(gemma):
    from langneurons.perplexity import perplexity

    assert gemma.adapter.architecture == "Gemma3ForCausalLM"
    assert (gemma.num_layers, gemma.num_neurons) == (18, 2048)
    for lang in ("en", "zh", "ja"):
        valid = pack_tokens(documents(CORPUS, lang, "valid"), gemma.tokenizer, 256, 256, progress=False)
        assert perplexity(gemma, valid, batch_size=1) < 100  # a random model: ~262k (its vocabulary)


def test_lape_neurons_are_language_specific(gemma):
    train = {
        l: pack_tokens(documents(CORPUS, l, "train"), gemma.tokenizer, 512, 4096, progress=False)
        for l in DEFAULT_LANGUAGES
    }
    valid = {
        l: pack_tokens(documents(CORPUS, l, "valid"), gemma.tokenizer, 256, 128, progress=False)
        for l in DEFAULT_LANGUAGES
    }
    stats = [collect_stats(gemma, train[l], batch_size=4, progress=False) for l in DEFAULT_LANGUAGES]
    probs, means = stack_stats(stats)
    sets = {m: select(m, probs, means, SELECTION) for m in ("lape", "random")}
    assert all(sum(len(i) for i in per_layer) > 0 for per_layer in sets["lape"])  # every language has neurons
    tables, _ = perplexity_matrix(gemma, valid, sets, DEFAULT_LANGUAGES, batch_size=4)
    lape, rand = specificity(tables["lape"]), specificity(tables["random"])
    print(tables["lape"].round(2).to_string())
    print(lape.round(3).to_string())
    assert lape["own_is_largest"].sum() >= 6, lape
    assert lape["ratio"].mean() > rand["ratio"].mean()
    # deactivating zh neurons multiplies zh perplexity (31 -> 443 on these tokens; own-language increases 1.2-15.1,
    # mean specificity ratio 37 against random's 2.9; en, with few neurons of its own, is the one not largest)
    assert tables["lape"].loc["zh", "zh"] > 2 * tables["lape"].loc["none", "zh"]


def test_local_judge_reads_the_question_and_the_language(gemma):
    """The offline judge: an answer scores higher with its own question than with another, and 1 in the wrong language."""
    from langneurons.judge import JudgeItem
    from langneurons.judge.local import LocalJudge

    sleep_en, capital_en = "How can I fall asleep faster?", "What is the capital of France and why is it famous?"
    sleep_zh, capital_zh = "我怎样才能更快入睡？", "法国的首都是哪里？它为什么有名？"
    answers = {
        "en": "Go to bed at the same time every night, avoid coffee after noon and keep your bedroom dark and cool.",
        "zh": "每天晚上在同一时间上床睡觉，下午不要喝咖啡，并保持卧室黑暗和凉爽。",
    }
    judge = LocalJudge(gemma, ["en", "zh"])
    matched_en, shuffled_en, matched_zh, shuffled_zh, wrong_language = judge.details(
        [
            JudgeItem(sleep_en, answers["en"], "en"),
            JudgeItem(capital_en, answers["en"], "en"),
            JudgeItem(sleep_zh, answers["zh"], "zh"),
            JudgeItem(capital_zh, answers["zh"], "zh"),
            JudgeItem(sleep_zh, answers["en"], "zh"),
        ]
    )
    print(judge.calibrations, matched_en, shuffled_en, matched_zh, shuffled_zh, sep="\n")
    assert all(c.informative() for c in judge.calibrations.values())  # real text beats word salad on the real model
    assert matched_en.relevance > shuffled_en.relevance and matched_en.score > shuffled_en.score + 1
    assert matched_zh.relevance > shuffled_zh.relevance and matched_zh.score > shuffled_zh.score + 1
    assert matched_en.score > 3 and matched_zh.score > 3
    assert wrong_language.score == 1.0
