"""One hook mechanism for counting, deactivation and activation (steering).

``NeuronHooks`` registers one forward hook per layer on the module whose output
is the neuron activation ([batch, pos, d_ff]). Each call of the hook
(1) applies that layer's edits in place and (2) feeds the result to a
statistics recorder when one is attached. The hook always returns None: a
forward hook that returns a value replaces the module output, and counting
must not. Idle, it costs one Python call per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby

import torch

from .models import LoadedModel

MODES = ("zero", "replace", "add", "multiply")


@dataclass
class Edit:
    """Change neurons ``index`` of one layer's activation.

    zero:     set to 0 (the paper's deactivation);
    replace:  set to ``strength * values`` (the paper's activation: the mean activation, strength 1);
    add:      add ``strength * values``;
    multiply: multiply by ``strength``.
    """

    index: torch.Tensor  # [k] long
    mode: str = "zero"
    values: torch.Tensor | None = None  # [k]
    strength: float = 1.0
    rows: slice | None = None  # batch rows it applies to; None = all

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"edit mode '{self.mode}' is not one of {', '.join(MODES)}")
        if self.mode in ("replace", "add") and (self.values is None or len(self.values) != len(self.index)):
            raise ValueError(f"mode '{self.mode}' needs one value per neuron")

    def to(self, device, dtype) -> Edit:
        values = None if self.values is None else self.values.to(device, dtype)
        return Edit(self.index.to(device), self.mode, values, self.strength, self.rows)

    def apply(self, act: torch.Tensor) -> None:  # act: [batch, pos, d_ff], edited in place
        if self.index.numel() == 0:
            return
        if self.rows is not None:
            act = act[self.rows]  # a view: the edits below still land in the module's output
        if self.mode == "zero":
            act.index_fill_(-1, self.index, 0)
        elif self.mode == "replace":
            act[..., self.index] = self.values if self.strength == 1 else self.strength * self.values
        elif self.mode == "add":
            act[..., self.index] += self.strength * self.values
        else:
            act[..., self.index] *= self.strength


Plan = dict[int, list[Edit]]  # layer -> edits applied in order


class StatsRecorder:
    """Per-layer count of activations > 0 and sum of activations, O(layers x d_ff).

    Each hook call adds into per-batch int32 / float32 buffers of the same dtype
    as its reductions (no casts, two small kernels per layer); ``flush`` moves
    them into the int64 / float64 totals once per batch. int32 is exact for a
    batch (far fewer than 2^31 tokens).
    """

    def __init__(self, num_layers: int, num_neurons: int, device):
        self.over_zero = torch.zeros(num_layers, num_neurons, dtype=torch.int64, device=device)
        self.sum = torch.zeros(num_layers, num_neurons, dtype=torch.float64, device=device)
        self._count = torch.zeros(num_layers, num_neurons, dtype=torch.int32, device=device)
        self._sum = torch.zeros(num_layers, num_neurons, dtype=torch.float32, device=device)
        self.n = 0

    def record(self, layer: int, act: torch.Tensor) -> None:
        flat = act.reshape(-1, act.shape[-1])
        self._count[layer] += (flat > 0).sum(0, dtype=torch.int32)
        self._sum[layer] += flat.sum(0, dtype=torch.float32)

    def flush(self, tokens: int) -> None:
        """End of a batch of ``tokens`` tokens: add the batch buffers to the totals."""
        self.over_zero += self._count
        self.sum += self._sum
        self._count.zero_()
        self._sum.zero_()
        self.n += tokens


class NeuronHooks:
    """Forward hooks on every layer's activation module; edits switchable per call.

    Use as a context manager so the hooks are removed afterwards; removing them
    restores the plain model exactly.
    """

    def __init__(self, lm: LoadedModel):
        self.lm = lm
        self.modules = lm.adapter.activation_modules(lm.model)
        self.plan: Plan = {}
        self.recorder: StatsRecorder | None = None
        self._handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.modules)]

    def _hook(self, layer: int):
        def hook(module, inputs, act):
            for edit in self.plan.get(layer, ()):
                edit.apply(act)
            if self.recorder is not None:
                self.recorder.record(layer, act)
            return None

        return hook

    def set_plan(self, plan: Plan | None) -> None:
        """Replace the active edits (None or {} = plain model)."""
        if not plan:
            self.plan = {}
            return
        dtype = next(self.lm.model.parameters()).dtype
        placed = {}
        for layer, edits in plan.items():
            device = _layer_device(self.lm, layer)  # differs per layer under device_map="auto"
            placed[layer] = [e.to(device, dtype) for e in edits if e.index.numel()]
        self.plan = {k: v for k, v in placed.items() if v}

    def set_row_plans(self, plans: Sequence[Plan]) -> None:
        """One plan per batch row: row ``i`` of each forward pass gets ``plans[i]``.

        Consecutive rows with the same plan object share its edits (one slice of
        rows), so a batch mixing a few conditions costs a few edits per layer.
        Edits act on each row's own activations, so a row's result is the one
        it gets alone under its plan.
        """
        combined: Plan = {}
        first = 0
        for _, group in groupby(plans, key=id):
            rows_of_plan = list(group)
            plan, rows = rows_of_plan[0], slice(first, first + len(rows_of_plan))
            for layer, edits in plan.items():
                combined.setdefault(layer, []).extend(replace(e, rows=rows) for e in edits)
            first = rows.stop
        self.set_plan(combined)

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self.plan = {}
        self.recorder = None

    def __enter__(self) -> NeuronHooks:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _layer_device(lm: LoadedModel, layer: int) -> torch.device:
    block = lm.adapter.blocks(lm.model)[layer]
    return next(block.parameters()).device


# ----------------------------------------------------------------------- plan builders
def deactivation_plan(neurons: Sequence[torch.Tensor]) -> Plan:
    """Set the given neurons (one index tensor per layer) to 0."""
    return {layer: [Edit(idx.long(), "zero")] for layer, idx in enumerate(neurons) if len(idx)}


def activation_plan(
    neurons: Sequence[torch.Tensor], means: torch.Tensor, mode: str = "replace", strength: float = 1.0
) -> Plan:
    """Activate neurons: set them to / add ``strength`` x their mean activation, or multiply them by ``strength``.

    ``means``: [layers, d_ff] mean activation on the target language's corpus.
    """
    if mode == "zero":
        raise ValueError("use deactivation_plan for mode 'zero'")
    plan: Plan = {}
    for layer, idx in enumerate(neurons):
        if len(idx):
            idx = idx.long()
            values = None if mode == "multiply" else means[layer, idx].float()
            plan[layer] = [Edit(idx, mode, values, strength)]
    return plan


def combine(*plans: Plan) -> Plan:
    """Apply several plans one after another (e.g. deactivate S, then activate T)."""
    out: Plan = {}
    for plan in plans:
        for layer, edits in plan.items():
            out.setdefault(layer, []).extend(edits)
    return out
