"""Batch sizes chosen from free GPU memory (``models.<name>.batch_size: auto``).

The step that a stage runs per batch (counting forward, perplexity forward
with chunked logits, hidden states for SES) is probed on one and on two
sequences of the real length; the difference of the two peaks is the memory
one more sequence costs, the rest is fixed. The batch is as many sequences as
fit into a share of the free memory, on every GPU the model is spread over.
Probing the real step keeps this free of per-architecture formulas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

AUTO = "auto"
CPU_BATCH = 4  # on a CPU, throughput stops rising at a few sequences; memory use keeps rising
HEADROOM = 0.85  # share of the free memory a batch may take (allocator fragmentation, other processes)


def fit_batch_size(free_bytes: int, peak_one: int, peak_two: int, limit: int, headroom: float = HEADROOM) -> int:
    """Largest batch whose peak memory fits ``headroom * free_bytes``, capped at ``limit``.

    ``peak_one``/``peak_two``: peak memory (bytes) of the step on one and on two sequences.
    """
    per_sequence = max(peak_two - peak_one, 1)
    fixed = max(peak_one - per_sequence, 0)
    fits = int((headroom * free_bytes - fixed) // per_sequence)
    if fits < 1:
        raise MemoryError(
            f"one sequence needs {peak_one / 2**30:.2f} GiB but only {free_bytes / 2**30:.2f} GiB of GPU memory "
            "is free: lower models.<name>.seq_len, spread the model over more GPUs (device_map: auto, gpus: N) "
            "or free the GPU"
        )
    return max(1, min(fits, limit))


def _cuda_devices(lm) -> list[int]:
    devices = {p.device.index or 0 for p in lm.model.parameters() if p.device.type == "cuda"}
    return sorted(devices) or [torch.cuda.current_device()]


def _probe(step: Callable[[torch.Tensor], object], ids: torch.Tensor, devices: list[int]) -> list[int]:
    """Peak memory above the current allocation, per device, of one call of ``step``."""
    before = []
    for d in devices:
        torch.cuda.synchronize(d)
        torch.cuda.reset_peak_memory_stats(d)
        before.append(torch.cuda.memory_allocated(d))
    step(ids)
    peaks = []
    for d, b in zip(devices, before):
        torch.cuda.synchronize(d)
        peaks.append(torch.cuda.max_memory_allocated(d) - b)
    return peaks


@torch.inference_mode()
def resolve_batch_size(configured, lm, step: Callable[[torch.Tensor], object], seq_len: int, limit: int) -> int:
    """``configured`` if it is a number; for ``auto`` the largest batch that fits the free GPU memory.

    ``step(ids)`` runs one batch ``ids`` [b, seq_len] of the stage; ``limit`` is
    the most sequences the stage will ever batch (more would only waste a probe).
    """
    limit = max(1, limit)
    if configured != AUTO:
        return int(configured)
    if lm.device.type != "cuda":
        log.info("batch_size auto on %s: %d sequences", lm.device.type, min(CPU_BATCH, limit))
        return min(CPU_BATCH, limit)
    devices = _cuda_devices(lm)
    vocab = getattr(lm.model.config, "vocab_size", 1000)
    ids = torch.randint(1, max(2, min(vocab, 1000)), (2, seq_len), generator=torch.Generator().manual_seed(0))
    ids = ids.to(lm.device)
    torch.cuda.empty_cache()  # cached blocks count as used in mem_get_info
    one = _probe(step, ids[:1], devices)
    two = _probe(step, ids, devices)
    torch.cuda.empty_cache()
    fits = [fit_batch_size(torch.cuda.mem_get_info(d)[0], p1, p2, limit) for d, p1, p2 in zip(devices, one, two)]
    batch = min(fits)
    log.info(
        "batch_size auto: %d sequences of %d tokens (one sequence adds %.0f MiB; limit %d; GPUs %s)",
        batch,
        seq_len,
        max(p2 - p1 for p1, p2 in zip(one, two)) / 2**20,
        limit,
        devices,
    )
    return batch
