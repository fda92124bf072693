"""Perplexity of each language's valid split, plain or with neurons deactivated.

The decoder runs once per batch; logits are computed from its final hidden
states in chunks of positions, so no [batch, seq, vocab] tensor for a whole
batch (2 GB for Gemma's 262k vocabulary at 4 x 512) is ever held.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F

from .batching import resolve_batch_size
from .corpus import iter_batches
from .hooks import NeuronHooks, deactivation_plan
from .models import LoadedModel
from .selection import Neurons

CHUNK = 128  # positions per logits chunk


@torch.inference_mode()
def batch_nll(lm: LoadedModel, batch: torch.Tensor, chunk: int = CHUNK) -> float:
    """Summed negative log-likelihood of every next token of one batch [b, seq] (on the model's device)."""
    hidden = lm.base()(input_ids=batch, use_cache=False).last_hidden_state[:, :-1]
    targets = batch[:, 1:].to(hidden.device)
    total = 0.0
    for start in range(0, hidden.shape[1], chunk):
        logits = lm.adapter.logits(lm.model, hidden[:, start : start + chunk]).float()
        total += F.cross_entropy(
            logits.flatten(0, 1), targets[:, start : start + chunk].flatten(), reduction="sum"
        ).item()
    return total


def nll(lm: LoadedModel, tokens: dict, batch_size: int) -> tuple[float, int]:
    """Summed negative log-likelihood of every next token, and how many were predicted."""
    total, count = 0.0, 0
    for batch in iter_batches(tokens, batch_size):
        total += batch_nll(lm, batch.to(lm.device))
        count += batch.shape[0] * (batch.shape[1] - 1)
    return total, count


def perplexity(lm: LoadedModel, tokens: dict, batch_size: int) -> float:
    total, count = nll(lm, tokens, batch_size)
    return math.exp(total / count)


def perplexity_matrix(
    lm: LoadedModel,
    valid: dict[str, dict],
    neuron_sets: dict[str, Neurons],
    languages: list[str],
    batch_size: int | str,
    progress=None,
) -> dict[str, pd.DataFrame]:
    """PPL per condition (rows: none, then each deactivated language) and evaluated language (columns).

    ``neuron_sets`` maps a method name to its neurons[lang][layer]; the
    ``none`` row is computed once and shared by every method. One model load
    serves all conditions: hooks switch the deactivated set between calls.
    ``batch_size`` may be ``"auto"`` (the most sequences that fit the free GPU memory).
    """
    tables: dict[str, pd.DataFrame] = {}
    seq_len = max(int(valid[lang]["seq_len"]) for lang in languages)
    batch_size = resolve_batch_size(
        batch_size,
        lm,
        lambda ids: batch_nll(lm, ids),
        seq_len,
        max(len(valid[lang]["sequences"]) for lang in languages),
    )
    with NeuronHooks(lm) as hooks:
        none_row = {}
        for lang in languages:
            none_row[lang] = perplexity(lm, valid[lang], batch_size)
            if progress:
                progress.update(1)
        for method, neurons in neuron_sets.items():
            rows = {"none": none_row}
            for k, off in enumerate(languages):
                hooks.set_plan(deactivation_plan(neurons[k]))
                rows[off] = {}
                for lang in languages:
                    rows[off][lang] = perplexity(lm, valid[lang], batch_size)
                    if progress:
                        progress.update(1)
                hooks.set_plan(None)
            table = pd.DataFrame.from_dict(rows, orient="index")[languages]
            table.index.name = "deactivated"
            tables[method] = table
    return tables


def ppl_change(table: pd.DataFrame) -> pd.DataFrame:
    """Absolute and relative change of every row against the ``none`` row (long format)."""
    base = table.loc["none"]
    rows = []
    for off, row in table.drop(index="none").iterrows():
        for lang in table.columns:
            rows.append(
                {
                    "deactivated": off,
                    "evaluated": lang,
                    "ppl": row[lang],
                    "ppl_none": base[lang],
                    "delta": row[lang] - base[lang],
                    "relative": row[lang] / base[lang] - 1,
                }
            )
    return pd.DataFrame(rows)


def relative_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Relative PPL change (rows deactivated, columns evaluated)."""
    return table.drop(index="none") / table.loc["none"] - 1


def specificity(table: pd.DataFrame) -> pd.DataFrame:
    """Per deactivated language: is its own language hit hardest, and diagonal / mean off-diagonal.

    The ratio compares the relative PPL increase of the deactivated language with
    the mean relative increase of the other languages (floored at 1e-3 so a
    near-zero off-diagonal does not explode it).
    """
    rel = relative_matrix(table)
    rows = []
    for off in rel.index:
        if off not in rel.columns:
            continue
        own = rel.loc[off, off]
        others = rel.loc[off].drop(off)
        rows.append(
            {
                "deactivated": off,
                "own_increase": own,
                "max_other_increase": others.max(),
                "mean_other_increase": others.mean(),
                "own_is_largest": bool(own > others.max()),
                "ratio": own / max(others.mean(), 1e-3),
            }
        )
    return pd.DataFrame(rows).set_index("deactivated")
