"""LAPE on a hand-made tensor whose answer is derived by hand (the authors' identify.py semantics)."""

import math

import pytest
import torch

from langneurons.methods import METHODS, select, stability_methods, statistics_methods
from langneurons.selection import (
    entropy_select,
    kth_smallest,
    lap,
    lap_budget,
    lape,
    lave,
    pv,
    random_like,
    totals,
)

# p[layer, neuron, lang] for 2 layers x 5 neurons x 3 languages (30 values)
P = torch.tensor(
    [
        [
            [0.90, 0.05, 0.05],  # L0 n0: lang0-specific
            [0.50, 0.50, 0.50],  # L0 n1: max 0.50 is NOT strictly above the filter value 0.52 -> +inf
            [0.001, 0.0, 0.02],  # L0 n2: lowest finite entropy of all, but low p everywhere -> +inf
            [0.10, 0.10, 0.12],
            [0.0, 0.0, 0.0],  # L0 n4: never active: normalisation gives NaN -> 0 entropy -> must be +inf
        ],
        [
            [0.05, 0.70, 0.60],  # L1 n0: shared by lang1 and lang2 (like zh/ja)
            [0.20, 0.20, 0.20],
            [0.03, 0.04, 0.80],  # L1 n2: lang2-specific
            [0.55, 0.52, 0.58],  # L1 n3: passes the filter, but entropy ~ ln 3: not in the top 3
            [0.15, 0.12, 0.11],
        ],
    ],
    dtype=torch.float64,
)


def entropy(row):
    total = sum(row)
    return -sum(x / total * math.log(x / total) for x in row if x > 0)


def test_hand_derivation_of_thresholds_and_entropies():
    # 30 values, filter_rate 0.8 -> k = round(24) -> the 24th smallest = the 7th largest:
    # 0.90 0.80 0.70 0.60 0.58 0.55 [0.52] 0.50 0.50 0.50 ...
    assert kth_smallest(P, 0.8) == 0.52
    # activation_bar_ratio 0.9 -> 27th smallest = 4th largest = 0.60
    assert kth_smallest(P, 0.9) == 0.60
    # finite entropies after the filter: L1n2 < L0n0 < L1n0 < L1n3
    e = {
        k: entropy(P[l, n].tolist())
        for k, (l, n) in {"L0n0": (0, 0), "L1n0": (1, 0), "L1n2": (1, 2), "L1n3": (1, 3)}.items()
    }
    assert e["L1n2"] < e["L0n0"] < e["L1n0"] < e["L1n3"]
    assert entropy(P[0, 2].tolist()) < e["L1n2"]  # L0n2 would win without the +inf filter


def as_lists(neurons):
    return [[idx.tolist() for idx in per_layer] for per_layer in neurons]


def test_lape_matches_hand_result_with_shared_neuron():
    # keep round(10 * 0.3) = 3 neurons: L1n2, L0n0, L1n0; assign where p > 0.52
    got = lape(P, top_rate=0.3, filter_rate=0.8, activation_bar_ratio=0.8)
    assert as_lists(got) == [
        [[0], []],  # lang0: L0 n0
        [[], [0]],  # lang1: L1 n0
        [[], [0, 2]],  # lang2: L1 n0 (shared with lang1) and L1 n2
    ]


def test_activation_bar_separate_from_filter():
    # bar 0.60 (strict): L1n0 has 0.70 for lang1 but 0.60 for lang2 -> lang1 only
    got = lape(P, top_rate=0.3, filter_rate=0.8, activation_bar_ratio=0.9)
    assert as_lists(got) == [[[0], []], [[], [0]], [[], [2]]]


def test_filter_gives_inf_entropy_even_to_zero_neurons():
    # keep 2: the two lowest finite entropies; L0n2 and L0n4 (all zero) must not appear
    got = lape(P, top_rate=0.2, filter_rate=0.8, activation_bar_ratio=0.8)
    assert as_lists(got) == [[[0], []], [[], []], [[], [2]]]


def test_output_format_is_authors_format():
    got = lape(P, top_rate=0.3, filter_rate=0.8, activation_bar_ratio=0.8)
    assert len(got) == 3 and all(len(per_layer) == 2 for per_layer in got)
    assert all(idx.dtype == torch.long for per_layer in got for idx in per_layer)


def test_lave_clamps_negative_means():
    means = P.clone()
    means[0, 3] = torch.tensor([-1.0, -2.0, 0.65])  # clamped to [0, 0, 0.65]: entropy 0
    # values now: 0.90 0.80 0.70 0.65 0.60 0.58 [0.55] ... -> filter and bar at 0.55
    got = lave(means, top_rate=0.3, filter_rate=0.8, activation_bar_ratio=0.8)
    # keep L0n3 (entropy 0), L1n2, L0n0; L1n0 (rank 4) drops out
    assert as_lists(got) == [[[0], []], [[], []], [[3], [2]]]
    with pytest.raises(ValueError, match="non-negative"):
        entropy_select(-P)


def test_lap_keeps_every_neuron_above_the_threshold():
    # the paper's LAP: p > threshold per language, whatever count that gives
    got = lap(P, threshold=0.55)
    assert as_lists(got) == [
        [[0], []],  # lang0: L0n0 (0.90)
        [[], [0]],  # lang1: L1n0 (0.70)
        [[], [0, 2, 3]],  # lang2: L1n0 (0.60), L1n2 (0.80), L1n3 (0.58)
    ]
    # "exceeds" is strict: 0.58 is not above 0.58
    assert as_lists(lap(P, threshold=0.58))[2] == [[], [0, 2]]
    # a neuron above the threshold in every language belongs to every language
    assert as_lists(lap(P, threshold=0.5)) == [[[0], [3]], [[], [0, 3]], [[], [0, 2, 3]]]
    assert totals(lap(P, threshold=0.95)) == [0, 0, 0]


def test_lap_budget_takes_highest_probabilities_per_language():
    got = lap_budget(P, budget=[1, 2, 1])
    assert as_lists(got) == [[[0], []], [[], [0, 3]], [[], [2]]]


# variation[layer, neuron, lang]: how much each neuron changed when tuned on each language
# (every language's median variation is 1, so the per-language normalisation leaves V as it is)
V = torch.tensor(
    [
        [
            [0.01, 1.0, 1.0],  # L0 n0: barely changes on lang0 only -> lang0
            [1.0, 1.0, 1.0],  # L0 n1: same everywhere -> never specific
            [0.0, 0.5, 0.5],  # L0 n2: unchanged on lang0 -> the most specific of all (no inf / NaN)
            [1.0, 1.0, 1.0],
        ],
        [
            [1.0, 0.02, 0.02],  # L1 n0: shared by lang1 and lang2
            [2.0, 2.0, 0.05],  # L1 n1: lang2
            [0.5, 0.6, 1.5],  # L1 n2: 1/v never above the filter value
            [1.0, 1.0, 1.0],
        ],
    ]
)


def test_pv_selects_neurons_that_change_little_on_one_language():
    # scores 1/v, largest first: inf, 100, 50, 50, 20, [2], 2, 2, 1.67, 1 (x12), ... -> with filter_rate 0.75
    # (18th smallest of 24 = 7th largest) filter value and bar are 2: L0n1, L0n3, L1n2, L1n3 drop out.
    # entropies: L0n2 ~ 0 < L0n0 0.11 < L1n1 0.22 < L1n0 0.74 (shared)
    rates = dict(filter_rate=0.75, activation_bar_ratio=0.75)
    assert as_lists(pv(V, top_rate=3 / 8, **rates)) == [[[0, 2], []], [[], []], [[], [1]]]
    assert as_lists(pv(V, top_rate=4 / 8, **rates)) == [[[0, 2], []], [[], [0]], [[], [0, 1]]]
    # a tuning run that moves everything more (a larger learning rate, a harder language) changes nothing
    scaled = V * torch.tensor([30.0, 0.2, 1.0])
    assert as_lists(pv(scaled, top_rate=4 / 8, **rates)) == as_lists(pv(V, top_rate=4 / 8, **rates))
    with pytest.raises(ValueError, match="non-negative"):
        pv(-V)
    with pytest.raises(ValueError, match="language 2 .* left most neurons unchanged"):
        pv(V * torch.tensor([1.0, 0.0, 1.0]))


def test_random_keeps_per_layer_counts_and_is_seeded():
    ref = lape(P, top_rate=0.3, filter_rate=0.8, activation_bar_ratio=0.8)
    a, b = random_like(ref, 5, seed=1), random_like(ref, 5, seed=1)
    assert as_lists(a) == as_lists(b)
    assert [[len(i) for i in pl] for pl in a] == [[len(i) for i in pl] for pl in ref]
    assert totals(a) == totals(ref)


def test_select_dispatch_and_errors():
    cfg = {"top_rate": 0.3, "filter_rate": 0.8, "activation_bar_ratio": 0.8, "seed": 0, "lap": {"threshold": 0.55}}
    assert totals(select("lap_budget", P, None, cfg)) == totals(select("lape", P, None, cfg))
    assert as_lists(select("lap", P, None, cfg)) == as_lists(lap(P, 0.55))
    with pytest.raises(ValueError, match="LAVE needs activation sums"):
        select("lave", P, None, cfg)
    with pytest.raises(ValueError, match="does not select from statistics"):
        select("pv", P, None, cfg)  # PV needs the tuning runs, not activation statistics


def test_registry_is_what_the_schema_and_the_rules_offer(repo):
    """The schema's method enum, the select_neurons wildcard and stability all come from one registry."""
    import yaml

    schema = yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["definitions"]["method"]["enum"] == list(METHODS)
    assert statistics_methods() == ["lape", "lap", "lap_budget", "lave", "random"]
    assert stability_methods() == ["lape", "lap", "lap_budget", "lave"]  # random draws have no stability
    for name in statistics_methods():  # every statistics method runs on the hand-made tensor
        neurons = select(
            name,
            P,
            P,
            {"top_rate": 0.3, "filter_rate": 0.8, "activation_bar_ratio": 0.8, "seed": 0, "lap": {"threshold": 0.55}},
        )
        assert len(neurons) == P.shape[2] and all(len(per_layer) == P.shape[0] for per_layer in neurons)
