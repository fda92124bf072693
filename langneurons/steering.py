"""The steering experiment (the paper's Section 5): off-target mitigation and cross-lingual steering.

- Off-target mitigation: the questions of every language L are answered with
  L's own neurons activated (condition ``steered``), and without intervention
  (``normal``) unless the generation experiment's normal answers serve as the
  baseline (same prompts, same decoding).
- Cross-lingual steering: for each source S of ``steering.crosslingual_languages``
  S's questions are answered ``unsteered`` and, for every other language T of
  that list, ``to_T``: S's neurons deactivated and T's activated.

"Activated" follows ``steering.mode`` and ``steering.strength`` (the paper:
replace with the language's mean activation). Each record names the language
it was steered toward in ``target`` (None when unsteered), which is what
:func:`langneurons.evaluation.expected_language` reads.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from .errors import InputFileError

if TYPE_CHECKING:  # torch and the model stack load only when steering runs (the workflow checks the config first)
    import torch

    from .models import LoadedModel
    from .selection import Neurons


def crosslingual_pairs(languages: list[str]) -> list[tuple[str, str]]:
    """Every ordered (source, target) pair of different languages, in the given order."""
    return [(source, target) for source in languages for target in languages if target != source]


def crosslingual_condition(target: str) -> str:
    return f"to_{target}"


def prompts_for(questions: dict[str, list[dict]], template: str, instructions: dict[str, str] | None) -> dict:
    """Each language's prompts, with its answer-in-this-language instruction (none when ``instructions`` is None)."""
    from .generation import build_prompt

    return {
        lang: [build_prompt(template, q["question"], (instructions or {}).get(lang, "")) for q in rows]
        for lang, rows in questions.items()
    }


def run_steering(
    lm: LoadedModel,
    neurons: Neurons,
    means: torch.Tensor | None,
    questions: dict[str, list[dict]],
    template: str,
    instructions: dict[str, str],
    gen_cfg: dict,
    cfg: dict,
    meta: dict,
    with_normal: bool,
    progress: bool = False,
    part: int = 0,
    parts: int = 1,
) -> list[dict]:
    """All steered answers, one record per answer (``kind``: offtarget or crosslingual).

    ``questions``: language -> [{"id", "question"}], languages in neuron-file
    order; ``means``: [layers, d_ff, languages] mean activations;
    ``with_normal``: also answer the off-target questions without intervention.
    ``part`` of ``parts``: only that job's even share of the batches (off-target, then cross-lingual;
    ``steering.jobs``); the shares of all jobs, in order, are one job's records.
    """
    from .generation import batch_share, condition_items, run_items, steering_plan

    languages = list(questions)
    if means is None:
        raise InputFileError("steering needs mean activations: the statistics files hold no 'sum'; count them again")
    index = {lang: k for k, lang in enumerate(languages)}
    steer = partial(steering_plan, neurons, means, mode=cfg["mode"], strength=cfg["strength"])
    instructed = prompts_for(questions, template, instructions)
    cross = cfg["crosslingual_languages"]

    # condition -> question language -> (plan, target)
    plain = {}
    offtarget: dict[str, dict] = {}
    if cfg["offtarget"]:
        if with_normal:
            offtarget["normal"] = {lang: (plain, None) for lang in languages}
        offtarget["steered"] = {lang: (steer(None, index[lang]), lang) for lang in languages}
    crosslingual: dict[str, dict] = {"unsteered": {source: (plain, None) for source in cross}} if cross else {}
    for source, target in crosslingual_pairs(cross):
        plan = steer(index[source], index[target])
        crosslingual.setdefault(crosslingual_condition(target), {})[source] = (plan, target)
    cross_prompts = instructed if cfg["crosslingual_instruction"] else prompts_for(questions, template, None)

    kinds = []
    for kind, conditions, prompts in (
        ("offtarget", offtarget, instructed),
        ("crosslingual", crosslingual, cross_prompts),
    ):
        plans = {name: {lang: plan for lang, (plan, _) in per_lang.items()} for name, per_lang in conditions.items()}
        kinds.append((kind, conditions, condition_items(questions, prompts, plans)))
    # each kind is answered in batches from its start; steering.jobs slices the batches of both, in order
    shares = batch_share([len(items) for *_, items in kinds], gen_cfg["batch_size"], part, parts)
    records = []
    for (kind, conditions, items), share in zip(kinds, shares):
        for record in run_items(lm, items[share], gen_cfg, {**meta, "kind": kind}, progress):
            record["target"] = conditions[record["condition"]][record["language"]][1]
            records.append(record)
    return records
