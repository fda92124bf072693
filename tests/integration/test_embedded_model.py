"""The real embedded model (Gemma-3-270M) on small budgets: the paper's key result.

Deactivating a language's LAPE neurons must hurt that language most (diagonal
dominance), and more specifically than deactivating random neurons.
"""

import shutil

import pytest
import torch

from langneurons import DEFAULT_LANGUAGES
from langneurons.activations import collect_stats, stack_stats
from langneurons.corpus import documents, pack_tokens
from langneurons.models import load_prepared, prepare_model
from langneurons.perplexity import perplexity_matrix, specificity
from langneurons.selection import select

from ..conftest import REPO

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
        l: pack_tokens(documents(CORPUS, l, "train"), gemma.tokenizer, 512, 8192, progress=False)
        for l in DEFAULT_LANGUAGES
    }
    valid = {
        l: pack_tokens(documents(CORPUS, l, "valid"), gemma.tokenizer, 256, 256, progress=False)
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
    # deactivating zh neurons multiplies zh perplexity (43 -> 209 measured by hand on ~20k tokens)
    assert tables["lape"].loc["zh", "zh"] > 2 * tables["lape"].loc["none", "zh"]
