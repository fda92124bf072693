"""Parameter variation (PV): how much each FFN neuron moves when the model is tuned on one language.

For one language, a copy of the model is instruction-tuned from its starting
weights for a fixed budget (``selection.pv``: steps, sequences per step,
tokens per sequence, learning rate, optimizer, seed); the tuning jobs of all
languages start from the same weights and differ only in their data. Only
what the measure needs is trained: each neuron's own parameters, i.e. the
input projections (gate and up: one row each; plus the bias entry of plain
MLPs) and the output projection (down: one column), found through the model
adapter. Attention, norms, embeddings and the shared output bias stay frozen.

Each trained weight W is reparametrised as ``W0 + D``: W0 is the frozen
starting weight, D a trainable tensor of the same shape and dtype, starting at
zero. The forward pass sees ``W0 + D`` (ordinary fine-tuning), but the change
itself is kept apart, so no copy of the starting weights is needed and small
updates are not rounded away against large weights in bf16. The variation of
neuron n is the relative L2 change of all its parameters together:

    v[n] = ||D_n|| / ||W0_n||

(the neuron-level form of the "rate of change" of parameters in Zhao et al.,
2023, which the paper's PV baseline follows). Relative, not absolute, so that
neurons of layers with different weight scales can be ranked together.
``selection.pv`` turns the variations of all languages into neurons; see
docs/pv.md for the whole definition.
"""

from __future__ import annotations

import logging
import math
import random

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from .answer_batch import Batch, answer_states, collate, pad_id
from .errors import ConfigError, InputFileError
from .io import atomic_write, load_torch
from .models import LoadedModel

log = logging.getLogger(__name__)

PROMPT = "Q: {instruction}\nA:"  # the format of the generation prompts, so tuning teaches the format used later


# --------------------------------------------------------------------------- data
def prompt_text(example: dict) -> str:
    instruction = example["instruction"].strip()
    if (example.get("input") or "").strip():
        instruction += "\n" + example["input"].strip()
    return PROMPT.format(instruction=instruction)


def encode(example: dict, tokenizer, seq_len: int) -> tuple[list[int], int]:
    """Token ids of prompt and answer (+ EOS), cut to ``seq_len``, and the prompt's length.

    The loss covers only the answer, as in instruction tuning.
    """
    prompt = tokenizer(prompt_text(example)).input_ids  # BOS first where the model uses one
    answer = tokenizer(" " + example["output"].strip(), add_special_tokens=False).input_ids
    if tokenizer.eos_token_id is not None:
        answer.append(tokenizer.eos_token_id)
    return (prompt + answer)[:seq_len], len(prompt)


def make_batches(examples: list[dict], tokenizer, seq_len: int, batch_size: int, steps: int, seed: int) -> list[Batch]:
    """``steps`` batches of ``batch_size`` examples: a seeded shuffle, repeated when the data runs out."""
    encoded = [enc for enc in (encode(ex, tokenizer, seq_len) for ex in examples) if len(enc[0]) > enc[1]]
    if not encoded:
        raise ConfigError(
            f"selection.pv.seq_len: no tuning example keeps an answer token within selection.pv.seq_len = {seq_len} "
            f"({len(examples)} examples): raise seq_len"
        )
    if len(encoded) < len(examples):
        log.warning(
            "%d of %d examples have no answer token within %d tokens",
            len(examples) - len(encoded),
            len(examples),
            seq_len,
        )
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < steps * batch_size:
        epoch = list(range(len(encoded)))
        rng.shuffle(epoch)
        order += epoch
    pad = pad_id(tokenizer)
    return [collate([encoded[i] for i in order[s * batch_size : (s + 1) * batch_size]], pad) for s in range(steps)]


# --------------------------------------------------------------------------- tuning
class AddDelta(nn.Module):
    """Parametrization ``W -> W + delta``, with ``delta`` the trainable change (zero at the start)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.delta = nn.Parameter(torch.zeros_like(weight))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.delta


def answer_loss(lm: LoadedModel, batch: Batch) -> torch.Tensor:
    """Mean next-token cross-entropy over the answer tokens (logits only where a label is)."""
    hidden, targets = answer_states(lm, batch)
    logits = lm.adapter.logits(lm.model, hidden).float()
    return F.cross_entropy(logits, targets.to(logits.device))


def tune(lm: LoadedModel, batches: list[Batch], lr: float, optimizer: str = "sgd") -> dict:
    """Tune the neurons' parameters of ``lm`` on ``batches`` (one step each), in place.

    Returns ``variation`` [layers, d_ff] (relative L2 change of each neuron's
    parameters) and the loss of every step (the loss before that step's update).
    The model keeps the tuned weights. It stays in eval mode (no dropout), so
    the result depends only on the weights and the batches.
    """
    for p in lm.model.parameters():
        p.requires_grad_(False)
    entries = lm.adapter.neuron_parameters(lm.model)
    changes: list[list[AddDelta]] = []
    for layer in entries:
        changes.append([])
        for module, name, _ in layer:
            change = AddDelta(getattr(module, name))
            parametrize.register_parametrization(module, name, change)
            changes[-1].append(change)
    deltas = [c.delta for layer in changes for c in layer]
    opt = torch.optim.SGD(deltas, lr=lr) if optimizer == "sgd" else torch.optim.Adam(deltas, lr=lr)
    losses = []
    try:
        for batch in batches:
            loss = answer_loss(lm, batch)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise FloatingPointError(
                    f"PV tuning diverged at step {len(losses)} (loss {losses[-1]}): lower selection.pv.lr"
                )
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            log.info("step %d/%d: loss %.4f", len(losses), len(batches), losses[-1])
        variation = neuron_variation(entries, [[c.delta.detach() for c in layer] for layer in changes])
    finally:
        with torch.no_grad():  # back to plain weights, now W0 + D
            for layer, layer_changes in zip(entries, changes):
                for (module, name, _), change in zip(layer, layer_changes):
                    parametrize.remove_parametrizations(module, name, leave_parametrized=False)
                    getattr(module, name).add_(change.delta)
    return {"variation": variation, "losses": losses}


def neuron_variation(entries: list[list[tuple[nn.Module, str, int]]], deltas: list[list[torch.Tensor]]) -> torch.Tensor:
    """Relative L2 change ||D_n|| / ||W0_n|| of every neuron [layers, d_ff], over all its parameter slices.

    ``entries`` come from ``Adapter.neuron_parameters`` (the starting weights,
    read while the model is not yet changed), ``deltas`` hold one change per entry.
    """
    rows = []
    for layer, layer_deltas in zip(entries, deltas):
        change = start = 0
        for (module, name, axis), delta in zip(layer, layer_deltas):
            weight = parametrize_original(module, name)
            other = [d for d in range(weight.dim()) if d != axis]
            change = change + delta.float().pow(2).sum(dim=other).cpu()
            start = start + weight.detach().float().pow(2).sum(dim=other).cpu()
        rows.append(change.sqrt() / start.sqrt())
    return torch.stack(rows)


def parametrize_original(module: nn.Module, name: str) -> torch.Tensor:
    """The starting weight of a parameter, parametrised or not."""
    if parametrize.is_parametrized(module, name):
        return module.parametrizations[name].original
    return getattr(module, name)


# --------------------------------------------------------------------------- files
def save_variation(result: dict, path, **meta) -> None:
    """One language's tuning result: ``variation`` [layers, d_ff], ``losses`` and ``meta`` (language, ...)."""
    with atomic_write(path, None) as tmp:
        torch.save({"variation": result["variation"].float(), "losses": result["losses"], **meta}, tmp)


def load_variations(paths: list, languages: list[str]) -> torch.Tensor:
    """Stack the languages' variation files into [layers, d_ff, langs] (languages in config order)."""
    columns = []
    for path, lang in zip(paths, languages):
        data = load_torch(path, "a PV variation file")
        if "variation" not in data:
            raise InputFileError(f"{path} is not a PV variation file (no 'variation'): rerun the pv_tune rule")
        if data.get("language", lang) != lang:
            raise InputFileError(f"{path} holds language '{data['language']}', expected '{lang}'")
        if columns and data["variation"].shape != columns[0].shape:
            raise InputFileError(
                f"{path}: variation shape {tuple(data['variation'].shape)} differs from {tuple(columns[0].shape)}"
            )
        columns.append(data["variation"])
    return torch.stack(columns, dim=-1)
