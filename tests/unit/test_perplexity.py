"""Perplexity equals a direct computation from the model's logits; matrices and specificity."""

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from langneurons.perplexity import perplexity, perplexity_matrix, ppl_change, relative_matrix, specificity

from ..conftest import loaded


def tokens(n_seq=3, seq_len=20, remainder=7):
    gen = torch.Generator().manual_seed(1)
    return {
        "sequences": torch.randint(3, 259, (n_seq, seq_len), generator=gen, dtype=torch.int32),
        "remainder": torch.randint(3, 259, (remainder,), generator=gen, dtype=torch.int32),
        "seq_len": seq_len,
    }


def direct(lm, toks):
    seqs = [s for s in toks["sequences"].long()] + [toks["remainder"].long()]
    total, count = 0.0, 0
    with torch.no_grad():
        for s in seqs:
            logits = lm.model(input_ids=s[None]).logits[0]
            total += F.cross_entropy(logits[:-1], s[1:], reduction="sum").item()
            count += len(s) - 1
    return math.exp(total / count)


@pytest.mark.parametrize("arch", ["LlamaForCausalLM", "Gemma3ForCausalLM", "GPT2LMHeadModel", "OPTForCausalLM"])
def test_perplexity_equals_direct_computation(arch):
    lm = loaded(arch, num_layers=2, d_ff=48)
    toks = tokens()
    assert perplexity(lm, toks, batch_size=2) == pytest.approx(direct(lm, toks), rel=1e-5)


def test_softcapping_is_applied():
    lm = loaded("Gemma2ForCausalLM", num_layers=1, d_ff=32)
    lm.model.config.final_logit_softcapping = 0.5  # strong cap: a visible difference
    toks = tokens(n_seq=1)
    assert perplexity(lm, toks, batch_size=1) == pytest.approx(direct(lm, toks), rel=1e-5)


def test_matrix_rows_and_shared_none_row():
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=48)
    langs = ["aa", "bb"]
    valid = {"aa": tokens(2), "bb": tokens(1)}
    neurons = [[torch.arange(10), torch.arange(10)], [torch.tensor([], dtype=torch.long)] * 2]
    tables = perplexity_matrix(lm, valid, {"m1": neurons, "m2": neurons}, langs, batch_size=2)
    t = tables["m1"]
    assert list(t.index) == ["none", "aa", "bb"] and list(t.columns) == langs
    assert t.loc["bb"].equals(t.loc["none"])  # nothing deactivated for bb
    assert t.loc["aa", "aa"] != t.loc["none", "aa"]
    assert tables["m2"].equals(t)


def test_specificity_on_hand_made_matrix():
    table = pd.DataFrame({"x": [10.0, 30.0, 11.0], "y": [20.0, 21.0, 20.0]}, index=["none", "x", "y"])
    rel = relative_matrix(table)
    assert rel.loc["x", "x"] == pytest.approx(2.0) and rel.loc["x", "y"] == pytest.approx(0.05)
    spec = specificity(table)
    assert bool(spec.loc["x", "own_is_largest"]) and not bool(spec.loc["y", "own_is_largest"])
    assert spec.loc["x", "ratio"] == pytest.approx(2.0 / 0.05)
    delta = ppl_change(table)
    row = delta[(delta.deactivated == "x") & (delta.evaluated == "x")].iloc[0]
    assert row["delta"] == 20.0 and row["relative"] == pytest.approx(2.0)
