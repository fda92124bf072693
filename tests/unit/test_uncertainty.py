"""Uncertainty: bootstrap intervals with known answers, exact part statistics, the random null, stability."""

import math

import numpy as np
import pytest
import torch

from langneurons.activations import (
    collect_stats,
    collect_stats_in_parts,
    merge_stats,
    part_cuts,
    save_stats,
    stack_stats,
)
from langneurons.methods import select
from langneurons.perplexity import NLL, save_nll
from langneurons.uncertainty import (
    bootstrap_ci,
    condition_ci_table,
    empirical_p,
    jaccard,
    load_parts,
    mean,
    null_increases,
    null_seeds,
    null_table,
    ppl_ci_table,
    prefix_fractions,
    split_at,
    stability_tables,
    z_score,
)

from .test_activations import token_file


# ----------------------------------------------------------------------------- bootstrap
def test_bootstrap_of_a_half_and_half_sample_gives_binomial_quantiles():
    # resampling 10 values of which 5 are 1: the replicate mean is Binomial(10, 1/2) / 10, whose
    # 2.5% and 97.5% quantiles are 0.2 and 0.8 (P(X <= 1) = 1.1%, P(X <= 2) = 5.5%)
    estimate, lo, hi = bootstrap_ci([0, 1] * 5, mean, n_boot=20000, seed=0, confidence=0.95)
    assert (estimate, lo, hi) == (0.5, 0.2, 0.8)


def test_bootstrap_of_a_normal_sample_matches_the_normal_interval():
    sample = np.random.default_rng(3).normal(10, 2, size=400)
    estimate, lo, hi = bootstrap_ci(sample, mean, n_boot=4000, seed=1, confidence=0.95)
    half = 1.96 * sample.std(ddof=1) / math.sqrt(len(sample))
    assert estimate == pytest.approx(sample.mean())
    assert lo == pytest.approx(estimate - half, abs=0.05) and hi == pytest.approx(estimate + half, abs=0.05)


def test_bootstrap_is_seeded_and_degenerate_samples_are_explicit():
    a = bootstrap_ci([1.0, 4.0, 2.0, 8.0], mean, 500, seed=7, confidence=0.9)
    assert a == bootstrap_ci([1.0, 4.0, 2.0, 8.0], mean, 500, seed=7, confidence=0.9)
    assert a != bootstrap_ci([1.0, 4.0, 2.0, 8.0], mean, 500, seed=8, confidence=0.9)
    assert bootstrap_ci([3.0], mean, 100, 0, 0.95) == (3.0, 3.0, 3.0)  # one unit: zero width
    assert all(math.isnan(x) for x in bootstrap_ci([], mean, 100, 0, 0.95))


def test_condition_ci_table_groups_orders_and_skips_missing_values():
    records = [
        *({"condition": "en", "language": "zh", "ok": v} for v in [1, 0, 1, 1]),
        *({"condition": "normal", "language": "zh", "ok": v} for v in [True] * 4),
        *({"condition": "normal", "language": "en", "ok": v} for v in [0, 1, None]),
    ]
    table = condition_ci_table(records, ["en", "zh"], "ok", n_boot=2000, seed=0, confidence=0.95)
    assert list(zip(table.condition, table.language)) == [("normal", "en"), ("normal", "zh"), ("en", "zh")]
    row = table.set_index(["condition", "language"]).loc[("en", "zh")]
    assert row["ok"] == 0.75 and row["n"] == 4 and 0 <= row["lo"] <= 0.75 <= row["hi"] == 1.0
    assert table.set_index(["condition", "language"]).loc[("normal", "en"), "n"] == 2  # the None is left out
    full = table.set_index(["condition", "language"]).loc[("normal", "zh")]
    assert (full["lo"], full["hi"]) == (1.0, 1.0)


def _nll(blocks, tokens):
    blocks, tokens = torch.tensor(blocks, dtype=torch.float64), torch.tensor(tokens)
    return NLL(float(blocks.sum()), int(tokens.sum()), blocks, tokens, torch.zeros(len(blocks), dtype=torch.long))


def test_ppl_intervals_are_paired_over_blocks(tmp_path):
    # condition "a" adds exactly log(2) nats to every token: the PPL doubles in every resample,
    # so the paired interval has zero width however different the blocks are
    none = [3.0, 9.0, 1.0, 6.0]
    tokens = [4, 4, 4, 2]
    shifted = [v + math.log(2) * t for v, t in zip(none, tokens)]
    evaluations = {"none": {"a": _nll(none, tokens)}, "a": {"a": _nll(shifted, tokens)}}
    save_nll(evaluations, ["a"], 4, tmp_path / "m.nll.pt")
    record = torch.load(tmp_path / "m.nll.pt", weights_only=True)
    table = ppl_ci_table(record, n_boot=300, seed=0, confidence=0.95)
    row = table.iloc[0]
    assert (row["deactivated"], row["evaluated"], row["units"]) == ("a", "a", 4)
    assert row["relative"] == pytest.approx(1.0) and row["lo"] == pytest.approx(1.0) and row["hi"] == pytest.approx(1.0)
    # an uneven change (only the second block is hit) gives a real interval around the estimate
    evaluations["a"]["a"] = _nll([3.0, 9.0 + 4.0, 1.0, 6.0], tokens)
    save_nll(evaluations, ["a"], 4, tmp_path / "m.nll.pt")
    row = ppl_ci_table(torch.load(tmp_path / "m.nll.pt", weights_only=True), 300, 0, 0.95).iloc[0]
    assert row["relative"] == pytest.approx(math.exp(4 / 14) - 1)
    assert row["lo"] < row["relative"] < row["hi"] and row["lo"] >= 0


# ----------------------------------------------------------------------------- null
def test_empirical_p_and_z_on_constructed_draws():
    draws = [0.1, 0.2, 0.3, 0.4]
    assert empirical_p(0.5, draws) == pytest.approx(1 / 5)  # beats every draw: the smallest possible p
    assert empirical_p(0.3, draws) == pytest.approx(3 / 5)  # ties count against the method
    assert empirical_p(0.0, draws) == pytest.approx(1.0)
    assert z_score(0.5, draws) == pytest.approx((0.5 - 0.25) / np.std(draws, ddof=1))
    assert math.isnan(z_score(0.5, [0.1]))
    assert null_seeds(5, 3) == [6, 7, 8]


def test_null_table_on_constructed_draws():
    langs = ["x", "y"]
    tokens = [10, 10]
    none = {"x": _nll([20.0, 20.0], tokens), "y": _nll([30.0, 30.0], tokens)}
    # the method raises x's NLL by 0.5 nats per token (PPL x e^0.5) and leaves y's untouched (no neurons)
    evaluations = {"none": none, "x": {"x": _nll([25.0, 25.0], tokens), "y": none["y"]}, "y": none}
    record = {
        "languages": langs,
        "conditions": list(evaluations),
        "tokens": {lang: none[lang].block_tokens for lang in langs},
        "nll": {cond: {lang: row[lang].blocks for lang in langs} for cond, row in evaluations.items()},
    }
    draws = [{"x": _nll([20.0 + d, 20.0], tokens), "y": _nll([30.0, 30.0 + d], tokens)} for d in (0.0, 1.0, 2.0)]
    increase = null_increases(record, draws, langs)
    assert increase["x"] == pytest.approx([math.exp(d / 20) - 1 for d in (0.0, 1.0, 2.0)])
    neurons = {"m": [[torch.arange(3), torch.arange(2)], [torch.arange(0), torch.arange(0)]]}
    out = null_table({"m": record}, increase, neurons, [4, 2], langs).set_index("deactivated")
    assert out.loc["x", "own_increase"] == pytest.approx(math.exp(0.5) - 1)
    assert out.loc["x", "p_value"] == pytest.approx(0.25) and bool(out.loc["x", "beats_null"])
    # no change at all ties with the draw that changes nothing: not better than random
    assert out.loc["y", "own_increase"] == 0 and out.loc["y", "p_value"] == 1 and not out.loc["y", "beats_null"]
    assert list(out["neurons"]) == [5, 0] and list(out["neurons_null"]) == [4, 2] and set(out["draws"]) == {3}


# ----------------------------------------------------------------------------- part statistics
def test_cuts_are_sequence_ends_nearest_to_equal_shares():
    tokens = token_file(n_seq=11, seq_len=16, remainder=5)  # 181 tokens; sequence ends 16, 32, ...
    assert part_cuts(tokens, 2) == [6]  # 90.5 -> 96
    assert part_cuts(tokens, 8) == [1, 3, 4, 6, 7, 8, 10]
    assert part_cuts(token_file(n_seq=2, seq_len=16, remainder=0), 8) == [1]  # tiny: parts merge


@pytest.mark.parametrize("batch_size, shards", [(3, 1), (4, 2), (1, 3), (11, 1)])
def test_split_half_merge_equals_counting_each_half(tiny_llama, tmp_path, batch_size, shards):
    tokens = token_file(n_seq=11, seq_len=16, remainder=5)
    paths = []
    for shard in range(shards):
        stats, parts = collect_stats_in_parts(tiny_llama, tokens, batch_size, shard, shards, 8, progress=False)
        alone = collect_stats(tiny_llama, tokens, batch_size, shard, shards, progress=False)
        assert torch.equal(stats["over_zero"], alone["over_zero"]) and torch.equal(stats["sum"], alone["sum"])
        save_stats({"parts": parts}, tmp_path / f"en.{shard}.pt", shard=shard)
        paths.append(tmp_path / f"en.{shard}.pt")
    pieces = load_parts(paths)
    first, second = split_at(pieces, 0.5)
    halves = merge_stats(first), merge_stats(second)
    # the half boundary falls after sequence 6 (96 of 181 tokens); count each half on its own
    counted = (
        collect_stats(tiny_llama, {**tokens, "sequences": tokens["sequences"][:6], "remainder": torch.zeros(0)}, 2),
        collect_stats(tiny_llama, {**tokens, "sequences": tokens["sequences"][6:]}, 2),
    )
    for merged, direct in zip(halves, counted):
        assert merged["n"] == direct["n"]
        assert torch.equal(merged["over_zero"], direct["over_zero"])
        torch.testing.assert_close(merged["sum"], direct["sum"], rtol=1e-6, atol=1e-6)  # float32 batch partials


def test_parts_that_do_not_tile_the_tokens_are_refused(tmp_path, tiny_llama):
    _, parts = collect_stats_in_parts(tiny_llama, token_file(), 4, 0, 1, 4, progress=False)
    save_stats({"parts": parts[1:]}, tmp_path / "en.0.pt")
    with pytest.raises(ValueError, match="do not tile"):
        load_parts([tmp_path / "en.0.pt"])


# ----------------------------------------------------------------------------- stability
def _piece(start, n, p):
    """Statistics of n tokens with activation probabilities p [layers, d_ff] (mean values = p)."""
    return {"start": start, "n": n, "over_zero": (p * n).round().long(), "sum": p.double() * n}


def test_stability_tables_on_planted_neurons():
    # every neuron fires on 10% of the tokens of every language except planted ones (90%): a's two in layer 0,
    # b's two in layer 1; c's pair moves halfway through c's tokens from neurons 10-11 to 20-21
    def part(lang, i):
        p = torch.full((2, 50), 0.1)
        planted = {
            "a": [(0, 0), (0, 1)],
            "b": [(1, 0), (1, 1)],
            "c": [(1, 10), (1, 11)] if i < 2 else [(1, 20), (1, 21)],
        }
        for layer, j in planted[lang]:
            p[layer, j] = 0.9
        return _piece(100 * i, 100, p)

    langs = ["a", "b", "c"]
    pieces = [[part(lang, i) for i in range(4)] for lang in langs]
    selection = {"top_rate": 0.08, "filter_rate": 0.95, "activation_bar_ratio": 0.95, "seed": 0}
    full = {
        m: select(m, *stack_stats([merge_stats(p) for p in pieces]), selection) for m in ["lape", "lave"]
    }  # c: all four neurons
    tables = stability_tables(["lape", "lave"], pieces, full, langs, selection, parts=4)
    for table in tables.values():
        assert list(table.columns) == [
            "language",
            "comparison",
            "fraction",
            "tokens",
            "jaccard",
            "neurons_a",
            "neurons_b",
        ]
        assert list(table.comparison) == ["split_half"] * 3 + ["prefix"] * 6
        assert list(table.fraction) == [0.5] * 3 + [0.25] * 3 + [0.5] * 3
        assert list(table.tokens) == [200] * 3 + [100] * 3 + [200] * 3
        assert list(table.jaccard) == [1.0, 1.0, 0.0] + [1.0, 1.0, 0.5] * 2
        assert list(table.neurons_a) == [2] * 9 and list(table.neurons_b) == [2, 2, 2] + [2, 2, 4] * 2
    assert prefix_fractions(8) == [0.125, 0.25, 0.5] and prefix_fractions(2) == [0.5]
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3) and math.isnan(jaccard(set(), set()))
