"""Neuron selection: LAPE (the paper's method) and the baselines LAP, LAVE, PV, random.

All methods return ``neurons[lang][layer]`` = sorted LongTensor of neuron
indices, languages in config order: the format of the authors' released
``*.neuron.pth`` files.

LAPE follows the authors' ``identify.py`` exactly:
  1. p[l, j, k] = activation probability; normalise over languages (L1) and take
     the entropy over languages (LAPE);
  2. filter: the ``filter_rate`` quantile of *all* p values (k-th smallest with
     k = round(N * filter_rate)); a neuron with no language strictly above it
     gets entropy +inf;
  3. keep the round(layers * d_ff * top_rate) neurons with the lowest entropy;
  4. assign each kept neuron to every language whose p is strictly above the
     ``activation_bar_ratio`` quantile of all p (so one neuron can serve two
     languages, e.g. zh and ja).
Ties in entropy are broken by position (stable sort), where the authors' topk
leaves the order unspecified.

The baselines (the paper's Section 3.3): LAP keeps, per language, every neuron
whose activation probability exceeds a threshold (0.95), whatever count that
gives (``lap_budget`` instead takes LAPE's count per language, the highest
probabilities first); LAVE runs LAPE's procedure on mean activation values; PV
runs it on inverse parameter variations (see ``pv`` and docs/pv.md); random
draws LAPE's count per language and layer.
"""

from __future__ import annotations

import math

import torch

from .errors import ConfigError

Neurons = list[list[torch.Tensor]]  # [lang][layer] -> LongTensor


def kth_smallest(values: torch.Tensor, rate: float) -> float:
    """The k-th smallest value with k = round(numel * rate), as in the authors' code."""
    flat = values.flatten()
    k = min(max(1, round(flat.numel() * rate)), flat.numel())
    return flat.kthvalue(k).values.item()


def language_entropy(scores: torch.Tensor) -> torch.Tensor:
    """Entropy over the last (language) axis of L1-normalised non-negative scores."""
    normed = scores / scores.sum(dim=-1, keepdim=True)
    normed = torch.nan_to_num(normed, nan=0.0)
    logs = torch.where(normed > 0, normed.log(), torch.zeros_like(normed))
    return -(normed * logs).sum(dim=-1)


def entropy_select(
    scores: torch.Tensor, top_rate: float = 0.01, filter_rate: float = 0.95, activation_bar_ratio: float = 0.95
) -> Neurons:
    """LAPE's procedure on any non-negative per-language scores [layers, d_ff, langs]."""
    if scores.dim() != 3:
        raise ValueError(f"scores must be [layers, d_ff, langs], got {tuple(scores.shape)}")
    if (scores < 0).any():
        raise ValueError("scores must be non-negative")
    layers, d_ff, n_langs = scores.shape
    entropy = language_entropy(scores)
    filter_value = kth_smallest(scores, filter_rate)
    entropy[(scores > filter_value).sum(dim=-1) == 0] = torch.inf
    n_keep = round(layers * d_ff * top_rate)
    if n_keep == 0:  # an empty set would give 0/0 ratios downstream
        raise ConfigError(
            f"selection.top_rate {top_rate:g} keeps no neurons ({layers} x {d_ff} neurons x {top_rate:g} rounds to 0); "
            f"set it to at least {1 / (layers * d_ff):.2g}"
        )
    kept = torch.sort(entropy.flatten(), stable=True).indices[:n_keep]
    bar = kth_smallest(scores, activation_bar_ratio)
    kept_scores = scores.reshape(-1, n_langs)[kept]  # [n_keep, langs]
    if not (kept_scores > bar).any():
        raise ConfigError(
            f"selection.top_rate {top_rate:g} keeps {n_keep} neurons but none is above the "
            f"selection.activation_bar_ratio ({activation_bar_ratio:g}) quantile in any language; raise "
            "selection.top_rate or lower selection.activation_bar_ratio"
        )
    return [_split_by_layer(kept[kept_scores[:, k] > bar], layers, d_ff) for k in range(n_langs)]


def _split_by_layer(flat_index: torch.Tensor, layers: int, d_ff: int) -> list[torch.Tensor]:
    flat_index = flat_index.sort().values
    layer_of = flat_index // d_ff
    return [(flat_index[layer_of == l] % d_ff).long() for l in range(layers)]


def lape(probs: torch.Tensor, **rates) -> Neurons:
    """Language activation probability entropy (the paper's method)."""
    return entropy_select(probs, **rates)


def lave(means: torch.Tensor, **rates) -> Neurons:
    """LAPE's procedure on mean activation *values* (clamped at 0: a negative mean counts as inactive)."""
    return entropy_select(means.clamp(min=0), **rates)


def lap(probs: torch.Tensor, threshold: float) -> Neurons:
    """The paper's LAP: per language, every neuron whose activation probability is above ``threshold``."""
    layers, d_ff, n_langs = probs.shape
    return [
        _split_by_layer((probs[..., k].flatten() > threshold).nonzero().flatten(), layers, d_ff) for k in range(n_langs)
    ]


def lap_budget(probs: torch.Tensor, budget: list[int]) -> Neurons:
    """LAP matched to a budget: per language, the ``budget[k]`` neurons with the highest activation probability."""
    layers, d_ff, n_langs = probs.shape
    out = []
    for k in range(n_langs):
        top = torch.sort(probs[..., k].flatten(), descending=True, stable=True).indices[: budget[k]]
        out.append(_split_by_layer(top, layers, d_ff))
    return out


def pv(variation: torch.Tensor, **rates) -> Neurons:
    """Parameter variation: LAPE's procedure on inverse variations [layers, d_ff, langs] (docs/pv.md).

    ``variation[l, j, k]`` is how much neuron (l, j) changed when the model was
    tuned on language k (``langneurons.pv``). Each language's variations are
    first divided by their median over all neurons: how much one tuning run
    moves the model overall (its loss, its answers' length) says nothing about
    single neurons. A neuron specific to k then changes little on k and much on
    the others, so its inverse variation concentrates on k: low entropy. Filter
    and assignment are LAPE's quantile rules on the inverse variations, i.e. a
    neuron is assigned to k when its variation on k is among the smallest
    ``1 - activation_bar_ratio`` of all (normalised) variations.
    """
    if (variation < 0).any():
        raise ValueError("parameter variations must be non-negative")
    variation = variation.double()
    typical = variation.flatten(0, 1).median(dim=0).values
    if (typical <= 0).any():
        k = int((typical <= 0).nonzero()[0]) + 1
        raise ConfigError(
            f"selection.pv: the tuning run of language {k} (config order) left most neurons unchanged: raise selection.pv.steps or lr"
        )
    # an unchanged neuron (variation 0) gets a huge finite score, not inf (inf / inf would be NaN)
    return entropy_select(1 / (variation / typical).clamp(min=1e-100), **rates)


def random_like(reference: Neurons, d_ff: int, seed: int = 0) -> Neurons:
    """Random neurons with the same count per language and layer as ``reference``."""
    gen = torch.Generator().manual_seed(seed)
    return [
        [torch.randperm(d_ff, generator=gen)[: len(idx)].sort().values for idx in per_layer] for per_layer in reference
    ]


def specificity_order(probs: torch.Tensor, neurons: list[torch.Tensor], k: int) -> list[tuple[int, int]]:
    """Language ``k``'s neurons (one index tensor per layer) as (layer, index), the most specific first.

    The order is LAPE's: ascending entropy over the languages of the neuron's
    activation probabilities ``probs`` [layers, d_ff, langs] (whichever method
    selected the neurons); ties go to the higher probability in ``k``, then to
    the lower layer and index. The deactivation dose-response switches off the
    first share of this list.
    """
    pairs = [(layer, int(i)) for layer, idx in enumerate(neurons) for i in idx.tolist()]
    if not pairs:
        return []
    layers = torch.tensor([layer for layer, _ in pairs])
    index = torch.tensor([i for _, i in pairs])
    rows = probs[layers, index].double()  # [n, langs]
    entropy = language_entropy(rows)
    keys = sorted(range(len(pairs)), key=lambda j: (entropy[j].item(), -rows[j, k].item(), pairs[j]))
    return [pairs[j] for j in keys]


def top_share(order: list[tuple[int, int]], share: float, layers: int) -> list[torch.Tensor]:
    """The first ``share`` of ``order`` (at least one neuron for a share above 0), as one sorted tensor per layer."""
    keep = order[: math.ceil(share * len(order) - 1e-9)]
    return [torch.tensor(sorted(i for layer, i in keep if layer == l), dtype=torch.long) for l in range(layers)]


def totals(neurons: Neurons) -> list[int]:
    return [sum(len(idx) for idx in per_layer) for per_layer in neurons]
