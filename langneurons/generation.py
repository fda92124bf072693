"""Open-ended generation under interventions (deactivation, steering).

Prompts are the authors' (their ``generation.py``): ``Q: {question}{instruction}\\nA:``
where the instruction asks for an answer in the question's language (both are
data files in ``langneurons/data/prompts``). Decoding is greedy with repetition
penalty 1.1 and stops at ``\\nQ:`` / ``\\nA:``; prompts are batched with left
padding and a KV cache, and an answer does not depend on its batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .bundled import GENERATION_TEMPLATE, INSTRUCTIONS
from .hooks import NeuronHooks, Plan, activation_plan, combine, deactivation_plan
from .models import LoadedModel
from .selection import Neurons
from .splitting import part_range

STOPS = ("\nQ:", "\nA:")  # the authors' stop strings: the model starts a new question or answer


def load_template(path: str | None = None) -> str:
    return (Path(path) if path else GENERATION_TEMPLATE).read_text(encoding="utf-8")


def load_instructions(path: str | None = None) -> dict[str, str]:
    source = Path(path) if path else INSTRUCTIONS
    return json.loads(source.read_text(encoding="utf-8"))


def build_prompt(template: str, question: str, instruction: str = "") -> str:
    return template.format(question=question.strip(), instruction=instruction)


def cut_at_stop(text: str, stops: Iterable[str]) -> str:
    """The answer up to the first stop string (the stop itself removed), stripped."""
    end = len(text)
    for stop in stops:
        found = text.find(stop)
        if found != -1:
            end = min(end, found)
    return text[:end].strip()


class UnpaddedRepetitionPenalty:
    """Repetition penalty (as in CTRL and vLLM) on each row's own tokens only: its prompt and its answer so far.

    transformers' built-in penalty also sees the left padding of shorter
    prompts, and pad is EOS for LLaMA-style tokenizers, so a row's EOS would be
    penalised or not depending on which prompts share its batch. ``padding``
    [batch, prompt width] is True at the padding positions.
    """

    def __init__(self, penalty: float, padding: torch.Tensor):
        self.penalty, self.padding = penalty, padding

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        padding = F.pad(self.padding, (0, input_ids.shape[1] - self.padding.shape[1]), value=False)
        # padding positions point at the row's last token, which is real and penalised anyway
        ids = torch.where(padding, input_ids[:, -1:], input_ids)
        seen = scores.gather(1, ids)
        # in place: generate() hands each step a fresh copy of the logits (a [batch, vocab] copy costs time)
        return scores.scatter_(1, ids, torch.where(seen < 0, seen * self.penalty, seen / self.penalty))


@torch.inference_mode()
def generate_tokens(
    lm: LoadedModel,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int = 8,
    repetition_penalty: float = 1.1,
    stops: tuple[str, ...] = STOPS,
    progress: bool = False,
    before_batch: Callable[[int, int], None] | None = None,
) -> list[list[int]]:
    """Greedy answer tokens for ``prompts`` (up to EOS or a stop string), the same whatever the batching.

    Batches are left-padded; the padding is masked out of attention (positions
    follow the mask) and out of the repetition penalty. ``before_batch(start,
    stop)`` is called before the batch of ``prompts[start:stop]`` is generated
    (``run_conditions`` sets each row's intervention there).
    """
    tok = lm.tokenizer
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    eos = lm.model.generation_config.eos_token_id
    # a row ends at any of the model's EOS tokens; a finished row is then filled with pad
    ends = {tok.eos_token_id, tok.pad_token_id, *(eos if isinstance(eos, list) else [eos])} - {None}
    answers: list[list[int]] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="generating", unit="batch", disable=not progress):
        if before_batch is not None:
            before_batch(start, min(start + batch_size, len(prompts)))
        enc = tok(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(lm.device)
        out = lm.model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            repetition_penalty=1.0,  # UnpaddedRepetitionPenalty instead (1.0 also overrides a model's own default)
            logits_processor=[UnpaddedRepetitionPenalty(repetition_penalty, enc["attention_mask"] == 0)],
            stop_strings=list(stops) or None,
            tokenizer=tok,
            pad_token_id=tok.pad_token_id,
        )
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            end = next((i for i, t in enumerate(row) if t in ends), len(row))
            answers.append(row[:end])
    return answers


def generate(lm: LoadedModel, prompts: list[str], *args, stops: tuple[str, ...] = STOPS, **kwargs) -> list[str]:
    """Greedy answers for ``prompts`` (``generate_tokens``, same arguments), decoded and cut at the stop strings."""
    tokens = generate_tokens(lm, prompts, *args, stops=stops, **kwargs)
    return [cut_at_stop(text, stops) for text in lm.tokenizer.batch_decode(tokens, skip_special_tokens=True)]


def deactivation_conditions(
    neurons: Neurons, random_neurons: Neurons, languages: list[str]
) -> dict[str, dict[str, Plan]]:
    """Paper's conditions: normal, random (random neurons matched to the question language), each language off.

    Returns condition -> question language -> plan. Conditions that apply one
    plan to every question language share the plan object (one edit per layer
    for all their rows of a batch).
    """
    plain: Plan = {}
    conditions = {
        "normal": {lang: plain for lang in languages},
        "random": {lang: deactivation_plan(random_neurons[q]) for q, lang in enumerate(languages)},
    }
    for k, off in enumerate(languages):
        plan = deactivation_plan(neurons[k])
        conditions[off] = {lang: plan for lang in languages}
    return conditions


def steering_plan(
    neurons: Neurons, means: torch.Tensor, source: int | None, target: int, mode: str = "replace", strength: float = 1.0
) -> Plan:
    """Activate the target language's neurons (its mean activations); deactivate the source's first.

    ``means``: [layers, d_ff, langs] mean activation per language (stats sum / n).
    """
    on = activation_plan(neurons[target], means[..., target], mode=mode, strength=strength)
    return on if source is None else combine(deactivation_plan(neurons[source]), on)


def answer_rows(
    lm: LoadedModel, prompts: list[str], plans: list[Plan], gen_cfg: dict, progress: bool = False
) -> list[str]:
    """The answer to every prompt under its own plan, in batches of ``gen_cfg["batch_size"]`` filled across plans
    (``NeuronHooks.set_row_plans``); each answer is the one its prompt gets alone under its plan."""
    with NeuronHooks(lm) as hooks:
        return generate(
            lm,
            prompts,
            gen_cfg["max_new_tokens"],
            gen_cfg["batch_size"],
            gen_cfg["repetition_penalty"],
            stops=tuple(gen_cfg["stop"]),
            progress=progress,
            before_batch=lambda start, stop: hooks.set_row_plans(plans[start:stop]),
        )


#: One prompt of the generation and steering experiments: (condition, question language, question, prompt, plan).
Item = tuple[str, str, dict, str, Plan]


def condition_items(
    questions: dict[str, list[dict]], prompts: dict[str, list[str]], plans: dict[str, dict[str, Plan]]
) -> list[Item]:
    """Every (condition, question language) plan's prompts, in the order one job answers them."""
    return [
        (condition, lang, question, prompt, plan)
        for condition, per_lang in plans.items()
        for lang, plan in per_lang.items()
        for question, prompt in zip(questions[lang], prompts[lang], strict=True)
    ]


def batch_share(items: int, batch_size: int, part: int, parts: int) -> slice:
    """Job ``part`` of ``parts``'s share of ``items`` answered in batches of ``batch_size`` from the first: an
    even share of the batches, whole ones (so the job's batches are exactly one job's)."""
    share = part_range(-(-items // batch_size), part, parts)
    return slice(share.start * batch_size, min(share.stop * batch_size, items))


def run_items(lm: LoadedModel, items: list[Item], gen_cfg: dict, meta: dict, progress: bool = False) -> list[dict]:
    """Answer ``items`` (``condition_items``) in batches of ``gen_cfg["batch_size"]``; one record per answer.

    All prompts of all conditions go through ``generate`` in batches, each row
    under its own plan (``NeuronHooks.set_row_plans``): on a large vocabulary
    each decoding step reads the whole LM head, so full batches are much faster
    than one batch per plan, and a row's answer is the one it gets alone under
    its plan.
    """
    answers = answer_rows(lm, [prompt for _, _, _, prompt, _ in items], [plan for *_, plan in items], gen_cfg, progress)
    return [
        {
            **meta,
            "condition": condition,
            "language": lang,
            "question_id": question["id"],
            "question": question["question"],
            "prompt": prompt,
            "answer": answer,
        }
        for (condition, lang, question, prompt, _), answer in zip(items, answers, strict=True)
    ]


def run_conditions(
    lm: LoadedModel,
    questions: dict[str, list[dict]],
    prompts: dict[str, list[str]],
    plans: dict[str, dict[str, Plan]],
    gen_cfg: dict,
    meta: dict,
    progress: bool = False,
    part: int = 0,
    parts: int = 1,
) -> list[dict]:
    """Generate for every (condition, question language) plan; one record per answer.

    ``part`` of ``parts``: only that job's even share of the batches of
    ``gen_cfg["batch_size"]`` prompts (``generation.jobs``); the shares of all
    jobs, in order, are one job's records (``run_items``).
    """
    items = condition_items(questions, prompts, plans)
    share = batch_share(len(items), gen_cfg["batch_size"], part, parts)
    return run_items(lm, items[share], gen_cfg, meta, progress)
