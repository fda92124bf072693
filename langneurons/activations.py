"""Activation statistics per language: one pass over the train tokens.

A statistics file (``results/{model}/stats/{lang}.pt``) is a dict:
  n          int                         number of tokens counted
  over_zero  LongTensor   [layers, d_ff] tokens on which the neuron was > 0
  sum        DoubleTensor [layers, d_ff] sum of the activation values
plus metadata (language, model, shard). It is a superset of the authors'
``activation.{lang}.train.*`` files (``{"n": int, "over_zero": Tensor}``), which
load here as well (without ``sum``: LAVE and steering then need our files).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm

from .batching import resolve_batch_size
from .corpus import count_batches, iter_batches, shard_range
from .hooks import NeuronHooks, StatsRecorder
from .io import atomic_write
from .models import LoadedModel

log = logging.getLogger(__name__)


@torch.inference_mode()
def collect_stats(
    lm: LoadedModel, tokens: dict, batch_size: int | str, shard: int = 0, shards: int = 1, progress: bool = True
) -> dict:
    """Count activations > 0 and sum them over one shard of a language's tokens.

    Runs the decoder without the LM head: the head's logits are not needed and
    on large-vocabulary models cost as much as the rest of the forward pass.
    ``batch_size`` may be ``"auto"`` (the most sequences that fit the free GPU memory).
    """
    base = lm.base()
    start, stop = shard_range(len(tokens["sequences"]), shard, shards)
    batch_size = resolve_batch_size(
        batch_size, lm, lambda ids: base(input_ids=ids, use_cache=False), int(tokens["seq_len"]), stop - start
    )
    with NeuronHooks(lm) as hooks:
        recorder = hooks.recorder = StatsRecorder(lm.num_layers, lm.num_neurons, lm.device)
        for batch in tqdm(
            iter_batches(tokens, batch_size, shard, shards),
            total=count_batches(tokens, batch_size, shard, shards),
            desc=f"counting shard {shard + 1}/{shards}",
            unit="batch",
            disable=not progress,
        ):
            base(input_ids=batch.to(lm.device), use_cache=False)
            recorder.flush(batch.numel())
    return {"n": recorder.n, "over_zero": recorder.over_zero.cpu(), "sum": recorder.sum.cpu()}


def merge_stats(parts: list[dict]) -> dict:
    """Merge shard statistics by summation (counts exactly; float64 sums of float32 activations)."""
    if not parts:
        raise ValueError("nothing to merge")
    shapes = {tuple(p["over_zero"].shape) for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"shards disagree on shape: {sorted(shapes)}")
    merged = {
        "n": sum(int(p["n"]) for p in parts),
        "over_zero": torch.stack([p["over_zero"].long() for p in parts]).sum(0),
    }
    if all("sum" in p for p in parts):
        merged["sum"] = torch.stack([p["sum"].double() for p in parts]).sum(0)
    return merged


def save_stats(stats: dict, path: str | Path, **meta) -> None:
    """Write atomically: a crashed job leaves no file that a rerun would trust."""
    with atomic_write(path, None) as tmp:
        torch.save({**stats, **meta}, tmp)


def load_stats(path: str | Path) -> dict:
    """Load our statistics file or the authors' ``{"n", "over_zero"}`` file."""
    data = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(data, dict) or "n" not in data or "over_zero" not in data:
        raise ValueError(
            f"{path} is not an activation statistics file: expected a dict with 'n' and "
            "'over_zero' (and 'sum' for LAVE/steering)"
        )
    if data["over_zero"].dim() != 2:
        raise ValueError(f"{path}: over_zero must be [layers, d_ff], got {tuple(data['over_zero'].shape)}")
    data["n"] = int(data["n"])
    return data


def stack_stats(stats: list[dict]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Activation probabilities p [layers, d_ff, langs] and mean values (or None)."""
    shapes = {tuple(s["over_zero"].shape) for s in stats}
    if len(shapes) != 1:
        raise ValueError(f"statistics files disagree on [layers, d_ff]: {sorted(shapes)}")
    if any(s["n"] <= 0 for s in stats):
        raise ValueError("a statistics file counted no tokens (n = 0)")
    probs = torch.stack([s["over_zero"].double() / s["n"] for s in stats], dim=-1)
    means = None
    if all("sum" in s for s in stats):
        means = torch.stack([s["sum"].double() / s["n"] for s in stats], dim=-1)
    return probs, means
