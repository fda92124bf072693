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
from langneurons.perplexity import NLL, batch_nll, save_nll
from langneurons.selection import random_like
from langneurons.uncertainty import (
    NO_NEURONS,
    bootstrap_ci,
    condition_ci_table,
    draw_counts,
    draws_like,
    empirical_p,
    evaluate_draws,
    jaccard,
    layer_counts,
    load_parts,
    mean,
    method_draws,
    method_null,
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
    neurons = {"m": [[torch.arange(3), torch.arange(2)], [torch.arange(0), torch.arange(0)]]}
    draws = {"m": [random_like(neurons["m"], 8, s) for s in null_seeds(0, 3)]}
    # the draws of y are empty like the method's: not evaluated (evaluate_draws leaves their list empty)
    evaluated = {"m": {"x": [_nll([20.0 + d, 20.0], tokens) for d in (0.0, 1.0, 2.0)], "y": []}}
    increase = null_increases(record, evaluated)
    assert increase["m"]["x"] == pytest.approx([math.exp(d / 20) - 1 for d in (0.0, 1.0, 2.0)])
    out = null_table({"m": record}, neurons, draws, increase, langs).set_index("deactivated")
    assert out.loc["x", "own_increase"] == pytest.approx(math.exp(0.5) - 1)
    assert out.loc["x", "p_value"] == pytest.approx(0.25) and bool(out.loc["x", "beats_null"])
    assert out.loc["x", "min_p"] == pytest.approx(0.25) and out.loc["x", "note"] == ""
    # no neurons for y: nothing to test, a row that says so (not a crash, not a verdict)
    assert out.loc["y", "note"] == NO_NEURONS and not out.loc["y", "beats_null"] and out.loc["y", "draws"] == 0
    assert out.loc["y", ["null_mean", "null_max", "z", "p_value", "min_p"]].isna().all()
    assert list(out["neurons"]) == [5, 0] and list(out["neurons_null"]) == [5, 0]
    assert list(out["draws_like"]) == ["m", ""]


def test_draw_counts_from_a_number_or_a_mapping():
    methods = ["lape", "lap", "random"]
    assert draw_counts(19, methods) == {"lape": 19, "lap": 19, "random": 19}
    assert draw_counts(0, methods) == {}
    assert draw_counts({"random": 19, "lape": 9}, methods) == {"lape": 9, "random": 19}  # perplexity order


def sets(d_ff=48, seed=0):
    """Neuron sets of four methods on 3 languages: lape; random (lape's counts per language and layer);
    lap_budget (lape's count per language, other layers); lap (more neurons; none for the last language)."""
    gen = torch.Generator().manual_seed(seed)

    def pick(counts):
        return [[torch.randperm(d_ff, generator=gen)[:c].sort().values for c in per_layer] for per_layer in counts]

    lape = pick([(3, 0, 2), (1, 1, 1), (0, 4, 0)])
    return {
        "lape": lape,
        "random": random_like(lape, d_ff, seed=99),
        "lap_budget": pick([(0, 5, 0), (3, 0, 0), (2, 1, 1)]),
        "lap": pick([(20, 9, 30), (12, 12, 12), (0, 0, 0)]),
    }


def test_each_methods_draws_keep_its_count_per_language_and_layer(tiny_llama):
    neurons = sets(d_ff=tiny_llama.num_neurons)
    for method, own in neurons.items():
        draws = method_draws(own, tiny_llama.num_neurons, seed=0, draws=5)
        assert len(draws) == 5
        assert all(layer_counts(d) == layer_counts(own) for d in draws), method
        assert all(len(set(idx.tolist())) == len(idx) for d in draws for per_layer in d for idx in per_layer)
        # seeded: the same draws again, and different draws from each other
        again = method_draws(own, tiny_llama.num_neurons, seed=0, draws=5)
        assert all(torch.equal(a, b) for d, e in zip(draws, again) for x, y in zip(d, e) for a, b in zip(x, y))
        if sum(map(sum, layer_counts(own))):
            assert any(not torch.equal(a, b) for a, b in zip(draws[0][0] + draws[0][1], draws[1][0] + draws[1][1]))
    like = draws_like(neurons)
    assert like["random"] == ["lape"] * 3 and like["lape"] == ["lape"] * 3
    assert like["lap_budget"] == ["lap_budget"] * 3 and like["lap"] == ["lap"] * 3


def valid_tokens(languages):
    return {lang: token_file(n_seq=1, seq_len=24, remainder=0, seed=k) for k, lang in enumerate(languages)}


def test_a_method_with_anothers_counts_reuses_its_draws(tiny_llama, monkeypatch):
    """Evaluations are counted in the forward passes: random (LAPE's counts per layer) adds none,
    lap_budget (LAPE's count per language, other layers) adds its own, and rows share batches."""
    languages = ["aa", "bb", "cc"]
    neurons = sets(d_ff=tiny_llama.num_neurons)
    valid = valid_tokens(languages)
    forward = {"rows": 0, "batches": 0}

    def counting(lm, batch, **kw):
        forward["rows"] += len(batch)
        forward["batches"] += 1
        return batch_nll(lm, batch, **kw)

    monkeypatch.setattr("langneurons.perplexity.batch_nll", counting)

    def evaluations(methods, draws=4):
        forward.update(rows=0, batches=0)
        sets_ = {m: method_draws(neurons[m], tiny_llama.num_neurons, 0, draws) for m in methods}
        out = evaluate_draws(tiny_llama, valid, languages, sets_, batch_size=4)
        return forward["rows"], out

    alone, lape = evaluations(["lape"])
    assert alone == 4 * 3 and forward["batches"] == 3  # 12 (draw, language) rows in batches of 4
    shared, both = evaluations(["lape", "random"])
    assert shared == alone  # random's draws are LAPE's: no extra evaluation
    assert all(a is b for lang in languages for a, b in zip(both["lape"][lang], both["random"][lang]))
    more, _ = evaluations(["lape", "random", "lap_budget"])
    assert more == 2 * alone  # other layers: draws of its own
    fewer, _ = evaluations(["lape", "random", "lap"], draws=4)
    assert fewer == alone + 4 * 2  # lap has no neurons for cc: nothing drawn, nothing evaluated
    # the results do not depend on what else shares the batches (to float rounding)
    for lang in languages:
        for a, b in zip(lape["lape"][lang], both["random"][lang]):
            assert a.blocks.numpy() == pytest.approx(b.blocks.numpy(), rel=1e-5)


def test_method_null_tests_a_neuron_file_against_its_own_null(tiny_llama):
    """The library entry point: one set, its own draws, a 'no neurons' row, and the same table on a rerun."""
    languages = ["aa", "bb", "cc"]
    neurons = sets(d_ff=tiny_llama.num_neurons)["lap"]  # none for cc
    valid = valid_tokens(languages)
    table = method_null(tiny_llama, neurons, valid, languages, draws=3, seed=0, batch_size=4, block=8)
    assert list(table["deactivated"]) == languages and set(table["method"]) == {"neurons"}
    assert (table["neurons"] == table["neurons_null"]).all() and list(table["neurons"]) == [59, 36, 0]
    tested = table[table["note"] != NO_NEURONS]
    assert list(tested["deactivated"]) == ["aa", "bb"] and (tested["draws"] == 3).all()
    assert tested["p_value"].between(0.25, 1).all() and (tested["min_p"] == 0.25).all()
    assert (tested["own_increase"] > 0).all()
    cc = table.set_index("deactivated").loc["cc"]
    assert cc["note"] == NO_NEURONS and math.isnan(cc["p_value"]) and cc["own_increase"] == pytest.approx(0, abs=1e-6)
    again = method_null(tiny_llama, neurons, valid, languages, draws=3, seed=0, batch_size=4, block=8)
    assert again.to_csv(index=False) == table.to_csv(index=False)  # seeded: byte-identical reruns


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
