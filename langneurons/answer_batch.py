"""Prompt + answer sequences in one right-padded batch, and the model's states where it predicts the answer.

PV tunes on the answer tokens of instruction examples (``pv.answer_loss``);
the local judge scores the likelihood of generated answers
(``judge.likelihood.answer_logprobs``). Both run the decoder once over
``prompt + answer`` and apply the LM head only at the positions that predict
answer tokens. Rows are right-padded, so every row's positions start at 0 and
a row's states do not depend on the other rows of its batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100  # label of positions that are not answer tokens (prompt, padding)


@dataclass
class Batch:
    ids: torch.Tensor  # [b, t]
    mask: torch.Tensor  # [b, t] attention mask (1 = token, 0 = padding)
    labels: torch.Tensor  # [b, t] ids, IGNORE on prompt and padding


def pad_id(tokenizer) -> int:
    """The id that pads batches: the tokenizer's pad token, else EOS, else 0 (padding is always masked)."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    return tokenizer.eos_token_id or 0


def collate(encoded: list[tuple[list[int], int]], pad: int) -> Batch:
    """Right-padded batch of (prompt + answer ids, prompt length); labels keep only answer tokens."""
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    labels = torch.full_like(ids, IGNORE)
    mask = torch.zeros_like(ids)
    for row, (seq, n_prompt) in enumerate(encoded):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        labels[row, n_prompt : len(seq)] = ids[row, n_prompt : len(seq)]
    return Batch(ids, mask, labels)


def answer_states(lm, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Final hidden states at the positions that predict answer tokens [n, hidden], and those tokens [n].

    Row by row, in order: row 0's answer tokens first.
    """
    ids, mask = batch.ids.to(lm.device), batch.mask.to(lm.device)
    hidden = lm.base()(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    targets = batch.labels[:, 1:].to(hidden.device)  # the state at position t predicts token t + 1
    keep = targets != IGNORE
    return hidden[:, :-1][keep], targets[keep]
