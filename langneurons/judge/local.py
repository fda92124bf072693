"""Offline judge: the expected score under a local causal LM's next-token distribution over "1".."5"."""

from __future__ import annotations

import inspect

from .base import JudgeItem, Judgement
from .prompts import render_prompt


class LocalJudge:
    """Scores items with the analysed model itself, offline.

    After the rendered prompt (trailing whitespace removed; the bundled
    ``judge_local.txt`` ends with "Score (1-5):") the next-token logits are
    restricted to the tokens "1".."5", softmaxed and averaged:
    ``score = sum_k k * p(k)``, a float in [1, 5]. Prompts are batched with
    LEFT padding, an attention mask and mask-derived position ids, so a batch
    gives the same scores as one prompt at a time.

    This is **much weaker than a GPT-4-class judge**: a small model's
    preference among digit tokens is only loosely tied to answer quality and
    is biased by the prompt's wording. Good for smoke runs and offline checks;
    do not compare its numbers with the paper's GPT-4 ratings.
    """

    def __init__(self, lm, template: str, batch_size: int):
        self.lm = lm
        self.template = template
        self.batch_size = batch_size
        self.digit_ids = digit_token_ids(lm.tokenizer)
        name = getattr(getattr(lm.model, "config", None), "_name_or_path", None)
        self.identity = {"backend": "local", "model": name}

    def render(self, item: JudgeItem) -> str:
        return render_prompt(self.template, item).rstrip()

    def score(self, items) -> list[Judgement]:
        import torch

        prompts = [self.render(item) for item in items]
        if not prompts:
            return []
        tokenizer = self.lm.tokenizer
        encoded = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))  # less padding per batch
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        base = self.lm.base()
        takes_positions = "position_ids" in inspect.signature(base.forward).parameters
        values = torch.arange(1, 6, dtype=torch.float32)
        scores: list[float] = [0.0] * len(prompts)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(encoded[i]) for i in batch)
                ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # LEFT padding: the last position is the prompt's end
                    seq = encoded[i]
                    ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
                    mask[row, width - len(seq) :] = 1
                kwargs = dict(input_ids=ids.to(self.lm.device), attention_mask=mask.to(self.lm.device), use_cache=False)
                if takes_positions:
                    kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(self.lm.device)
                hidden = base(**kwargs).last_hidden_state[:, -1]
                logits = self.lm.adapter.logits(self.lm.model, hidden).float()
                probs = torch.softmax(logits[:, self.digit_ids], dim=-1).cpu()
                for row, value in zip(batch, (probs * values).sum(-1).tolist()):
                    scores[row] = min(5.0, max(1.0, float(value)))
        return [Judgement(s) for s in scores]


def digit_token_ids(tokenizer) -> list[int]:
    """Token ids of "1".."5": the last id of each digit encoded alone (no special tokens).

    Sentencepiece tokenizers may prefix a word-boundary token ("▁", "4"), hence
    the last id; ``convert_tokens_to_ids`` is the fallback. The five ids must
    be distinct and decode to their digit.
    """
    ids = []
    for digit in "12345":
        found = None
        encoded = tokenizer.encode(digit, add_special_tokens=False)
        if encoded and tokenizer.decode([encoded[-1]]).strip() == digit:
            found = encoded[-1]
        else:
            direct = tokenizer.convert_tokens_to_ids(digit)
            if direct is not None and direct != getattr(tokenizer, "unk_token_id", None):
                found = direct
        if found is None:
            raise ValueError(f"the tokenizer has no single token for the digit '{digit}'; LocalJudge cannot score")
        ids.append(int(found))
    if len(set(ids)) != 5:
        raise ValueError(f"the digits 1-5 do not map to five distinct tokens ({ids}); LocalJudge cannot score")
    return ids
