"""Sentence embedding similarity (SES) across languages, per layer.

For parallel items (the same content in every language), each layer's hidden
states are mean-pooled over the item's tokens (padding and BOS excluded) into
one vector per item and language; SES of a layer is the cosine similarity
between the vectors of the same item in two languages, averaged over items,
reported per language pair and averaged over all pairs. Layer 0 is the
embedding output, layer l the output of decoder block l.
"""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import torch
import torch.nn.functional as F

from .answer_batch import pad_id
from .batching import resolve_batch_size
from .models import LoadedModel


def _hidden_states(lm: LoadedModel, ids: torch.Tensor, attention: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return lm.base()(
        input_ids=ids.to(lm.device), attention_mask=attention.to(lm.device), output_hidden_states=True, use_cache=False
    ).hidden_states


@torch.inference_mode()
def pooled_states(lm: LoadedModel, texts: list[str], batch_size: int | str = 8) -> torch.Tensor:
    """Mean-pooled hidden states [items, layers + 1, hidden] (float32).

    ``batch_size`` may be ``"auto"`` (the most items of the longest length that fit the free GPU memory).
    """
    tok = lm.tokenizer
    pad = pad_id(tok)
    specials = {i for i in (tok.bos_token_id,) if i is not None}
    encoded_all = [tok(t).input_ids for t in texts]
    batch_size = resolve_batch_size(
        batch_size,
        lm,
        lambda ids: _hidden_states(lm, ids, torch.ones_like(ids)),
        max(map(len, encoded_all), default=1),
        len(texts),
    )
    out = []
    for start in range(0, len(texts), batch_size):
        encoded = encoded_all[start : start + batch_size]
        width = max(map(len, encoded))
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        attention = torch.zeros_like(ids)
        for row, seq in enumerate(encoded):
            ids[row, : len(seq)] = torch.tensor(seq)
            attention[row, : len(seq)] = 1
        content = attention.clone()
        for special in specials:
            content[ids == special] = 0
        states = torch.stack([h.float().cpu() for h in _hidden_states(lm, ids, attention)], dim=1)
        out.append(mean_pool(states, content))  # states [b, layers + 1, pos, d]
    return torch.cat(out)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """states [b, layers, pos, d], mask [b, pos] (1 = keep) -> [b, layers, d]."""
    weights = mask[:, None, :, None].to(states.dtype)
    return (states * weights).sum(2) / weights.sum(2).clamp(min=1)


def ses_table(pooled: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Long table: layer, lang_a, lang_b, similarity (item-averaged); plus pair 'mean' rows."""
    langs = list(pooled)
    rows = []
    for a, b in combinations(langs, 2):
        sims = F.cosine_similarity(pooled[a], pooled[b], dim=-1).mean(0)  # [layers]
        rows += [{"layer": l, "lang_a": a, "lang_b": b, "similarity": float(s)} for l, s in enumerate(sims)]
    table = pd.DataFrame(rows)
    mean = table.groupby("layer", as_index=False)["similarity"].mean()
    mean["lang_a"], mean["lang_b"] = "all", "all"
    return pd.concat([table, mean[table.columns]], ignore_index=True)


def ses_curve(table: pd.DataFrame) -> pd.Series:
    """Mean SES over all language pairs, per layer."""
    rows = table[table["lang_a"] == "all"]
    return rows.set_index("layer")["similarity"]
