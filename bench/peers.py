"""Counting as other interpretability libraries do it, for bench/run.py.

Optional: each peer runs only where its package is installed
(``pip install nnsight transformer_lens``; not a dependency of the project).
Every peer returns a function that counts one batch into its own
``over_zero``/``sum`` tensors, so the benchmark can check that it did the same
work as ours (same counts) before comparing speeds.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


class PeerCounts:
    def __init__(self, layers: int, d_ff: int, device):
        self.over_zero = torch.zeros(layers, d_ff, dtype=torch.long, device=device)
        self.sum = torch.zeros(layers, d_ff, dtype=torch.float64, device=device)

    def reset(self) -> None:
        self.over_zero.zero_()
        self.sum.zero_()


def nnsight_counter(lm, ids: torch.Tensor) -> tuple[Callable[[], None], PeerCounts] | None:
    """nnsight used well: a trace of the decoder without the LM head, reductions saved per layer."""
    if importlib.util.find_spec("nnsight") is None:
        return None
    from nnsight import NNsight

    base = lm.base()
    blocks = _get(lm.model, lm.adapter.layers)
    layers_path = next(name for name, module in base.named_modules() if module is blocks)
    traced = NNsight(base)
    paths = [f"{layers_path}.{i}.{lm.adapter.activation}" for i in range(lm.num_layers)]
    counts = PeerCounts(lm.num_layers, lm.num_neurons, lm.device)

    def count() -> None:
        over_zero, sums = [], []
        with traced.trace(input_ids=ids, use_cache=False):
            for path in paths:
                act = _get(traced, path).output
                over_zero.append((act > 0).sum((0, 1)).save())
                sums.append(act.sum((0, 1)).save())
        counts.over_zero += torch.stack(over_zero)
        counts.sum += torch.stack(sums).double()

    return count, counts


def transformerlens_counter(model_dir: str, load, ids: torch.Tensor) -> tuple[Callable[[], None], PeerCounts] | None:
    """TransformerLens 4 (TransformerBridge): ``run_with_hooks`` on each MLP's ``hook_pre``.

    The bridge switches the model it wraps to eager attention, so it gets its
    own copy (``load()``), leaving ours untouched. It has no way to run every
    block without the LM head (``stop_at_layer`` stops before a block), so its
    forward includes the head, as a TransformerLens user's would.
    """
    if importlib.util.find_spec("transformer_lens") is None:
        return None
    from transformer_lens.model_bridge import TransformerBridge

    lm = load()
    act_fn = lm.adapter.activation_modules(lm.model)[0]  # hook_pre is the gate projection, before the activation
    bridge = TransformerBridge.boot_transformers(
        model_dir,
        hf_model=lm.model,
        tokenizer=lm.tokenizer,
        device=str(lm.device),
        dtype=next(lm.model.parameters()).dtype,
    )
    counts = PeerCounts(lm.num_layers, lm.num_neurons, lm.device)

    def hook(pre, hook):
        layer = int(hook.name.split(".")[1])
        act = act_fn(pre)
        counts.over_zero[layer] += (act > 0).sum((0, 1))
        counts.sum[layer] += act.sum((0, 1)).double()

    def count() -> None:
        bridge.run_with_hooks(
            ids.to(lm.device), fwd_hooks=[(lambda name: name.endswith("mlp.hook_pre"), hook)], return_type=None
        )

    return count, counts
