"""Answer likelihoods under the unmodified model, and their calibration to [0, 1] per language.

The local judge (:mod:`langneurons.judge.local`) scores an answer's *fluency*
(mean log-probability per token after the generation prompt with the question)
and *relevance* (pointwise mutual information: that fluency minus the one after
the same prompt with an empty question). Both are in nats per token, whose
meaning differs between languages and models, so each is mapped onto [0, 1]
with reference passages (:class:`Calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..answer_batch import answer_states, collate, pad_id

#: LM-head rows computed at once (each is a vocabulary-sized row of logits).
HEAD_CHUNK = 256


def logprob_batches(contexts: list[list[int]], answers: list[list[int]], batch_size: int = 16) -> list[list[int]]:
    """The batches ``answer_logprobs`` runs, as indices into its lists: the non-empty answers ordered by
    length (sequences of similar length share a batch), ``batch_size`` at a time."""
    todo = sorted((i for i in range(len(answers)) if answers[i]), key=lambda i: len(contexts[i]) + len(answers[i]))
    return [todo[start : start + batch_size] for start in range(0, len(todo), batch_size)]


@torch.inference_mode()
def batch_logprobs(lm, contexts: list[list[int]], answers: list[list[int]]) -> list[float]:
    """Mean log-probability of each (non-empty) answer after its context, all in one batch (right-padded, so a
    row's value does not depend on the other rows); the LM head runs only where answer tokens are predicted."""
    batch = collate([(c + a, len(c)) for c, a in zip(contexts, answers)], pad_id(lm.tokenizer))
    hidden, targets = answer_states(lm, batch)
    logprobs = torch.cat(
        [
            token_logprobs(lm, hidden[s : s + HEAD_CHUNK], targets[s : s + HEAD_CHUNK])
            for s in range(0, len(targets), HEAD_CHUNK)
        ]
    )
    return [part.mean().item() for part in logprobs.split([len(a) for a in answers])]


def answer_logprobs(lm, contexts: list[list[int]], answers: list[list[int]], batch_size: int = 16) -> list[float]:
    """Mean log-probability (nats per token) of each answer's token ids after its context's; NaN if empty.

    Sequences of similar length share a batch (``logprob_batches``; ``answer_batch``: right-padded,
    so a row's value does not depend on the other rows); the LM head runs only
    at the positions that predict answer tokens, in chunks.
    """
    out = [math.nan] * len(answers)
    for rows in logprob_batches(contexts, answers, batch_size):
        values = batch_logprobs(lm, [contexts[i] for i in rows], [answers[i] for i in rows])
        for i, value in zip(rows, values):
            out[i] = value
    return out


def token_logprobs(lm, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) for each row of final hidden states (on the CPU)."""
    logits = lm.adapter.logits(lm.model, hidden).float()
    return -F.cross_entropy(logits, targets.to(logits.device), reduction="none").cpu()


@dataclass(frozen=True)
class Calibration:
    """Reference points of one language, in nats per token.

    Fluency maps linearly from a shuffled passage (0) to a passage after its
    topic (1); relevance from PMI 0 (the question makes the answer no more
    likely than no question: an unrelated answer) to the PMI of a passage
    after its topic (1). Values outside are clipped.
    """

    fluency_good: float
    fluency_bad: float
    relevance_good: float

    def fluency(self, value: float) -> float:
        return between(value, self.fluency_bad, self.fluency_good)

    def relevance(self, value: float) -> float:
        return between(value, 0.0, self.relevance_good)

    def informative(self) -> bool:
        return self.fluency_good > self.fluency_bad and self.relevance_good > 0


def between(value: float, low: float, high: float) -> float:
    """Where ``value`` lies from ``low`` (0) to ``high`` (1), clipped; 0.5 when the anchors are not ordered."""
    if not high > low:
        return 0.5
    return min(1.0, max(0.0, (value - low) / (high - low)))
