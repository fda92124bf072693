"""Perplexity equals a direct computation from the model's logits; per-block NLL; matrices and specificity."""

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from langneurons.hooks import NeuronHooks, deactivation_plan
from langneurons.perplexity import (
    CHUNK,
    batch_nll,
    condition_nll,
    load_nll,
    nll,
    perplexity,
    perplexity_matrix,
    ppl_change,
    relative_matrix,
    save_nll,
    specificity,
)

from ..conftest import loaded


def tokens(n_seq=3, seq_len=20, remainder=7):
    gen = torch.Generator().manual_seed(1)
    return {
        "sequences": torch.randint(3, 259, (n_seq, seq_len), generator=gen, dtype=torch.int32),
        "remainder": torch.randint(3, 259, (remainder,), generator=gen, dtype=torch.int32),
        "seq_len": seq_len,
    }


def per_sequence_nll(lm, toks):
    """Summed NLL of each sequence (the remainder last), straight from the model's logits."""
    seqs = [s for s in toks["sequences"].long()] + [toks["remainder"].long()]
    with torch.no_grad():
        return [
            (F.cross_entropy(lm.model(input_ids=s[None]).logits[0, :-1], s[1:], reduction="sum").item(), len(s) - 1)
            for s in seqs
        ]


def direct(lm, toks):
    sums = per_sequence_nll(lm, toks)
    return math.exp(sum(t for t, _ in sums) / sum(n for _, n in sums))


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
    tables, evaluations = perplexity_matrix(lm, valid, {"m1": neurons, "m2": neurons}, langs, batch_size=2, block=8)
    t = tables["m1"]
    assert list(t.index) == ["none", "aa", "bb"] and list(t.columns) == langs
    assert t.loc["bb"].equals(t.loc["none"])  # nothing deactivated for bb
    assert t.loc["aa", "aa"] != t.loc["none", "aa"]
    assert tables["m2"].equals(t)
    assert list(evaluations["m1"]) == ["none", "aa", "bb"] and evaluations["m1"]["none"] is evaluations["m2"]["none"]
    assert t.loc["aa", "bb"] == evaluations["m1"]["aa"]["bb"].ppl


def test_total_is_the_chunked_cross_entropy_bit_for_bit():
    # the tables must not change now that per-token values are kept: same sum, same order
    lm = loaded("GPT2LMHeadModel", num_layers=2, d_ff=48)
    batch = tokens(n_seq=2, seq_len=300)["sequences"].long()
    hidden = lm.base()(input_ids=batch).last_hidden_state[:, :-1]
    before = 0.0
    for start in range(0, hidden.shape[1], CHUNK):
        logits = lm.adapter.logits(lm.model, hidden[:, start : start + CHUNK]).float()
        before += F.cross_entropy(
            logits.flatten(0, 1), batch[:, 1:][:, start : start + CHUNK].flatten(), reduction="sum"
        ).item()
    total, per_token = batch_nll(lm, batch)
    assert total == before
    assert per_token.shape == (2, 299) and per_token.sum().item() == pytest.approx(total, rel=1e-5)


def test_blocks_stay_inside_sequences_and_add_up(tmp_path):
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=48)
    toks = tokens(n_seq=3, seq_len=20, remainder=7)
    result = nll(lm, toks, batch_size=2, block=8)
    # 19 predictions per sequence: blocks of 8, 8, 3; the remainder's 6: one block
    assert result.block_tokens.tolist() == [8, 8, 3] * 3 + [6]
    assert result.sequence.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    per_sequence = torch.zeros(4, dtype=torch.float64).index_add_(0, result.sequence, result.blocks)
    for got, (want, _) in zip(per_sequence.tolist(), per_sequence_nll(lm, toks)):
        assert got == pytest.approx(want, rel=1e-5)
    assert result.count == 3 * 19 + 6 and result.ppl == pytest.approx(direct(lm, toks), rel=1e-5)
    assert nll(lm, toks, batch_size=3).block_tokens.tolist() == [19, 19, 19, 6]  # no block: one per sequence
    save_nll({"none": {"aa": result}, "aa": {"aa": result}}, ["aa"], 8, tmp_path / "m.nll.pt")
    record = load_nll(tmp_path / "m.nll.pt")
    assert record["conditions"] == ["none", "aa"] and record["block_tokens"] == 8
    assert torch.equal(record["nll"]["aa"]["aa"], result.blocks) and torch.equal(
        record["tokens"]["aa"], result.block_tokens
    )


def test_conditions_share_batches_and_each_row_gets_its_own_result(monkeypatch):
    """Conditions (language, plan) batched together equal each condition evaluated alone under its plan."""
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=48)
    valid = {"aa": tokens(n_seq=2, seq_len=20, remainder=7), "bb": tokens(n_seq=1, seq_len=20, remainder=1)}
    off = [torch.arange(0, 48, 3), torch.arange(5)]
    conditions = [("aa", {}), ("bb", deactivation_plan(off)), ("aa", deactivation_plan(off)), ("bb", {})]
    calls = []
    monkeypatch.setattr(
        "langneurons.perplexity.batch_nll", lambda lm, b, **kw: calls.append(len(b)) or batch_nll(lm, b, **kw)
    )
    got = condition_nll(lm, valid, conditions, batch_size=4, block=8)
    monkeypatch.undo()
    # rows of 20 tokens from all four conditions (2 + 1 + 2 + 1) fill a batch of 4 and one of 2; aa's two
    # remainders of 7 tokens share the last one (bb's one-token remainder predicts nothing)
    assert calls == [4, 2, 2]
    with NeuronHooks(lm) as hooks:
        for (lang, plan), result in zip(conditions, got):
            hooks.set_plan(plan)
            alone = nll(lm, valid[lang], batch_size=1, block=8)
            assert result.block_tokens.tolist() == alone.block_tokens.tolist()
            assert result.sequence.tolist() == alone.sequence.tolist()
            assert result.blocks.numpy() == pytest.approx(alone.blocks.numpy(), rel=1e-5)
            assert result.ppl == pytest.approx(alone.ppl, rel=1e-5)
    assert got[0].ppl != got[2].ppl  # the plan reached its rows only


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
