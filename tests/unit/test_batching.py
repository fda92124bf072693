"""Batch sizes from free GPU memory: the arithmetic, and the probe wired to CUDA's memory counters."""

from types import SimpleNamespace

import pytest
import torch

from langneurons import batching
from langneurons.batching import fit_batch_size, resolve_batch_size

GIB = 2**30


def test_fit_uses_the_marginal_cost_of_a_sequence():
    # 1 GiB fixed (weights' workspace, LM-head chunk) + 0.5 GiB per sequence; 10 GiB free, 85% usable
    assert fit_batch_size(10 * GIB, int(1.5 * GIB), 2 * GIB, limit=1000) == int((0.85 * 10 - 1) / 0.5)
    assert fit_batch_size(10 * GIB, int(1.5 * GIB), 2 * GIB, limit=7) == 7  # never more than the stage needs


def test_fit_names_the_fix_when_one_sequence_does_not_fit():
    with pytest.raises(MemoryError, match="seq_len"):
        fit_batch_size(1 * GIB, 3 * GIB, 5 * GIB, limit=8)


def test_numbers_pass_through_and_cpu_auto_is_small(tiny_llama):
    step = lambda ids: pytest.fail("no probe for a fixed batch size or on a CPU")  # noqa: E731
    assert resolve_batch_size(6, tiny_llama, step, 16, limit=100) == 6
    assert resolve_batch_size("auto", tiny_llama, step, 16, limit=100) == batching.CPU_BATCH
    assert resolve_batch_size("auto", tiny_llama, step, 16, limit=2) == 2


class FakeCuda:
    """CUDA's memory counters for a step that allocates ``fixed + per_seq * batch`` bytes at its peak."""

    def __init__(self, free, fixed, per_seq, resident):
        self.free, self.fixed, self.per_seq, self.resident = free, fixed, per_seq, resident
        self.peak = resident
        self.seen = []

    def step(self, ids):
        self.seen.append(tuple(ids.shape))
        self.peak = max(self.peak, self.resident + self.fixed + self.per_seq * ids.shape[0])

    def install(self, monkeypatch):
        cuda = torch.cuda
        monkeypatch.setattr(cuda, "synchronize", lambda device=None: None)
        monkeypatch.setattr(cuda, "empty_cache", lambda: None)
        monkeypatch.setattr(cuda, "current_device", lambda: 0)
        monkeypatch.setattr(cuda, "reset_peak_memory_stats", lambda device=None: setattr(self, "peak", self.resident))
        monkeypatch.setattr(cuda, "memory_allocated", lambda device=None: self.resident)
        monkeypatch.setattr(cuda, "max_memory_allocated", lambda device=None: self.peak)
        monkeypatch.setattr(cuda, "mem_get_info", lambda device=None: (self.free, 80 * GIB))
        monkeypatch.setattr(torch.Tensor, "to", lambda tensor, *args, **kwargs: tensor)  # no CUDA here


def test_auto_probes_the_stage_step_on_one_and_two_sequences(monkeypatch, tiny_llama):
    fake = FakeCuda(free=20 * GIB, fixed=2 * GIB, per_seq=GIB // 4, resident=7 * GIB)
    fake.install(monkeypatch)
    lm = SimpleNamespace(device=torch.device("cuda", 0), model=tiny_llama.model)
    batch = resolve_batch_size("auto", lm, fake.step, seq_len=4096, limit=10_000)
    assert fake.seen == [(1, 4096), (2, 4096)]
    assert batch == int((0.85 * 20 - 2) / 0.25)  # the weights already resident do not count
    # a stage that needs few sequences probes but never asks for more
    assert resolve_batch_size("auto", lm, fake.step, seq_len=4096, limit=3) == 3
