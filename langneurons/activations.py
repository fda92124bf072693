"""Activation statistics per language: one pass over the train tokens.

A statistics file (``results/{model}/stats/{lang}.pt``) is a dict:
  n          int                         number of tokens counted
  over_zero  LongTensor   [layers, d_ff] tokens on which the neuron was > 0
  sum        DoubleTensor [layers, d_ff] sum of the activation values
plus metadata (language, model, shard). It is a superset of the authors'
``activation.{lang}.train.*`` files (``{"n": int, "over_zero": Tensor}``), which
load here as well (without ``sum``: LAVE and steering then need our files).

A part-statistics file (``results/{model}/stats/parts/{lang}.{shard}.pt``),
written by the same counting pass, holds ``parts``: the statistics of the
shard's consecutive pieces between the language's part boundaries, each a dict
``start`` (token offset in the language), ``n``, ``over_zero``, ``sum``; merged
per half or per prefix they give the stability analysis (``uncertainty.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm

from .batching import resolve_batch_size
from .corpus import count_batches, iter_batches, shard_range
from .errors import BadInput, InputFileError
from .hooks import NeuronHooks, StatsRecorder
from .io import atomic_write, load_torch
from .models import LoadedModel

log = logging.getLogger(__name__)


def collect_stats(
    lm: LoadedModel, tokens: dict, batch_size: int | str, shard: int = 0, shards: int = 1, progress: bool = True
) -> dict:
    """Count activations > 0 and sum them over one shard of a language's tokens.

    Runs the decoder without the LM head: the head's logits are not needed and
    on large-vocabulary models cost as much as the rest of the forward pass.
    ``batch_size`` may be ``"auto"`` (the most sequences that fit the free GPU memory).
    """
    return collect_stats_in_parts(lm, tokens, batch_size, shard, shards, 1, progress)[0]


@torch.inference_mode()
def collect_stats_in_parts(
    lm: LoadedModel, tokens: dict, batch_size: int | str, shard: int, shards: int, parts: int, progress: bool = True
) -> tuple[dict, list[dict]]:
    """``collect_stats``, plus the statistics of the shard's pieces between part boundaries.

    The language's tokens are cut into ``parts`` near-equal consecutive parts at
    sequence ends (``part_cuts``); the pieces of this shard (cut there and at the
    shard's edges) are returned in order as dicts ``start`` (token offset in the
    language), ``n``, ``over_zero``, ``sum``. Same forward pass, same batches: the
    shard statistics are exactly those of ``collect_stats``. A cut inside a batch
    is served by also counting that batch's first rows; a piece is the difference
    of the running totals at its ends (counts exact, sums to float64 rounding).
    """
    base = lm.base()
    seq_len = int(tokens["seq_len"])
    start, stop = shard_range(len(tokens["sequences"]), shard, shards)
    batch_size = resolve_batch_size(
        batch_size, lm, lambda ids: base(input_ids=ids, use_cache=False), seq_len, stop - start
    )
    # the last shard also counts the remainder: a cut before it lies inside the shard
    last = stop + int(shard == shards - 1 and tokens["remainder"].numel() > 0)
    cuts = [c for c in part_cuts(tokens, parts) if start < c < last]
    totals = [_zero_piece(lm)]  # running totals at the shard start and at each cut
    with NeuronHooks(lm) as hooks:
        recorder = hooks.recorder = PartRecorder(lm.num_layers, lm.num_neurons, lm.device)
        first = start  # index of the batch's first sequence (the remainder is index len(sequences))
        for batch in tqdm(
            iter_batches(tokens, batch_size, shard, shards),
            total=count_batches(tokens, batch_size, shard, shards),
            desc=f"counting shard {shard + 1}/{shards}",
            unit="batch",
            disable=not progress,
        ):
            rows = batch.shape[0]
            totals += [recorder.totals() for c in cuts if c == first]
            recorder.cut_rows = [c - first for c in cuts if first < c < first + rows]
            base(input_ids=batch.to(lm.device), use_cache=False)
            totals += recorder.head_totals()
            recorder.flush(batch.numel())
            first += rows
    stats = {"n": recorder.n, "over_zero": recorder.over_zero.cpu(), "sum": recorder.sum.cpu()}
    totals.append(recorder.totals())
    offset = start * seq_len
    pieces = []
    for before, after in zip(totals, totals[1:]):
        piece = {k: after[k] - before[k] for k in ("n", "over_zero", "sum")}
        pieces.append({"start": offset + before["n"], **piece})
    return stats, pieces


def part_cuts(tokens: dict, parts: int) -> list[int]:
    """Sequence indices where the language's ``parts`` parts meet: the sequence end nearest to k/parts of its tokens.

    Indices count the packed sequences, the remainder (if any) being the last
    one; they depend on the token file alone (not on shards or batch sizes), so
    every shard job cuts at the same places. Parts too small to hold a sequence
    merge with a neighbour.
    """
    n_seq, seq_len, rest = len(tokens["sequences"]), int(tokens["seq_len"]), len(tokens["remainder"])
    ends = [i * seq_len for i in range(n_seq + 1)] + ([n_seq * seq_len + rest] if rest else [])
    cuts = {nearest(ends, k * ends[-1] / parts) for k in range(1, parts)}
    return sorted(c for c in cuts if 0 < c < len(ends) - 1)


def nearest(ends: list[int], target: float) -> int:
    """Index of the value of ``ends`` nearest to ``target`` (the first one on a tie)."""
    return min(range(len(ends)), key=lambda i: (abs(ends[i] - target), i))


def _zero_piece(lm: LoadedModel) -> dict:
    shape = (lm.num_layers, lm.num_neurons)
    return {"n": 0, "over_zero": torch.zeros(shape, dtype=torch.int64), "sum": torch.zeros(shape, dtype=torch.float64)}


class PartRecorder(StatsRecorder):
    """A StatsRecorder that also counts the first ``cut_rows`` rows of the current batch.

    The totals accumulate exactly as in StatsRecorder; the extra work is done
    only for the few batches that hold a part boundary.
    """

    def __init__(self, num_layers: int, num_neurons: int, device):
        super().__init__(num_layers, num_neurons, device)
        self.cut_rows: list[int] = []
        self._heads: dict[int, tuple[torch.Tensor, torch.Tensor, int]] = {}

    def record(self, layer: int, act: torch.Tensor) -> None:
        super().record(layer, act)
        for rows in self.cut_rows:  # act: [batch, pos, d_ff]
            head = act[:rows].reshape(-1, act.shape[-1])
            count, total, _ = self._heads.setdefault(
                rows, (torch.zeros_like(self.over_zero), torch.zeros_like(self.sum), head.shape[0])
            )
            count[layer] += (head > 0).sum(0)
            total[layer] += head.sum(0, dtype=torch.float64)

    def totals(self) -> dict:
        """Running totals up to the end of the last flushed batch (copies, on the CPU)."""
        return {"n": self.n, "over_zero": self.over_zero.to("cpu", copy=True), "sum": self.sum.to("cpu", copy=True)}

    def head_totals(self) -> list[dict]:
        """Running totals at each cut inside the current batch (call before ``flush``); resets the cuts."""
        out = [
            {"n": self.n + tokens, "over_zero": (self.over_zero + count).cpu(), "sum": (self.sum + total).cpu()}
            for count, total, tokens in (self._heads[rows] for rows in sorted(self._heads))
        ]
        self.cut_rows, self._heads = [], {}
        return out


def merge_stats(parts: list[dict]) -> dict:
    """Merge shard statistics by summation (counts exactly; float64 sums of float32 activations)."""
    if not parts:
        raise ValueError("nothing to merge")
    shapes = {tuple(p["over_zero"].shape) for p in parts}
    if len(shapes) != 1:
        raise InputFileError(f"shards disagree on shape: {sorted(shapes)}")
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


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def load_stats(path: str | Path) -> dict:
    """Load our statistics file or the authors' ``{"n", "over_zero"}`` file, checking its values.

    ``n`` must be a whole number (0 for an empty shard), ``over_zero`` finite counts in 0..n, and ``sum``
    (when present) finite and of the same shape: anything else would give NaN or impossible
    activation probabilities downstream.
    """
    data = load_torch(path, "an activation statistics file")
    if not isinstance(data, dict) or "n" not in data or "over_zero" not in data:
        raise InputFileError(
            f"{path} is not an activation statistics file: expected a dict with 'n' and "
            "'over_zero' (and 'sum' for LAVE/steering)"
        )
    over_zero = data["over_zero"]
    if not isinstance(over_zero, torch.Tensor) or over_zero.dim() != 2 or not over_zero.numel():
        shape = tuple(over_zero.shape) if isinstance(over_zero, torch.Tensor) else type(over_zero).__name__
        raise InputFileError(f"{path}: over_zero must be a [layers, d_ff] tensor, got {shape}")
    if over_zero.is_complex() or over_zero.dtype == torch.bool:
        raise InputFileError(f"{path}: over_zero holds {_dtype(over_zero)} values; it must hold counts (integers)")
    n = data["n"]
    n = n.item() if isinstance(n, torch.Tensor) and n.numel() == 1 else n
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not float(n).is_integer() or n < 0:
        raise InputFileError(f"{path}: n (tokens counted) must be a whole number >= 0, got {n!r}")
    data["n"] = n = int(n)
    if not torch.isfinite(over_zero).all():
        raise InputFileError(f"{path}: over_zero holds NaN or infinite values; recount this language")
    low, high = over_zero.min().item(), over_zero.max().item()
    if low < 0 or high > n:
        bad = low if low < 0 else high
        raise InputFileError(
            f"{path}: over_zero holds {bad:g}, outside 0..n = 0..{n}: a neuron fires on at most the "
            "tokens counted; recount this language"
        )
    if "sum" in data:
        total = data["sum"]
        if not isinstance(total, torch.Tensor) or total.shape != over_zero.shape:
            raise InputFileError(f"{path}: sum must be a tensor shaped like over_zero {tuple(over_zero.shape)}")
        if not total.is_floating_point():
            raise InputFileError(f"{path}: sum holds {_dtype(total)} values; it must hold real activation sums")
        if not torch.isfinite(total).all():
            raise InputFileError(f"{path}: sum holds NaN or infinite values; recount this language")
    return data


def stack_stats(stats: list[dict], sources: list[str] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Activation probabilities p [layers, d_ff, langs] and mean values (or None).

    ``sources`` (file names, in order) are named in errors.
    """
    if len(stats) < 2:
        raise BadInput(
            f"language-specific neurons need statistics of at least 2 languages, got {len(stats)}: "
            "specificity compares a neuron's activation across languages"
        )
    names = sources or [f"statistics {k + 1}" for k in range(len(stats))]
    empty = [name for name, s in zip(names, stats) if s["n"] == 0]
    if empty:
        raise InputFileError(f"{', '.join(map(str, empty))}: counted no tokens (n = 0); the language needs train text")
    shapes = [tuple(s["over_zero"].shape) for s in stats]
    if len(set(shapes)) != 1:
        listed = ", ".join(f"{name} {list(shape)}" for name, shape in zip(names, shapes))
        raise InputFileError(f"statistics files disagree on [layers, d_ff]: {listed}; they must come from one model")
    probs = torch.stack([s["over_zero"].double() / s["n"] for s in stats], dim=-1)
    means = None
    if all("sum" in s for s in stats):
        means = torch.stack([s["sum"].double() / s["n"] for s in stats], dim=-1)
    return probs, means
