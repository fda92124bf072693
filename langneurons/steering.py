"""The steering experiment (the paper's Section 5): off-target mitigation and cross-lingual steering, and the sweep
over how strongly to steer.

- Off-target mitigation: the questions of every language L are answered with
  L's own neurons activated (condition ``steered``), and without intervention
  (``normal``) unless the generation experiment's normal answers serve as the
  baseline (same prompts, same decoding).
- Cross-lingual steering: for each source S of ``steering.crosslingual_languages``
  S's questions are answered ``unsteered`` and, for every other language T of
  that list, ``to_T``: S's neurons deactivated and T's activated.

"Activated" is a point (mode, strength): ``steering.mode`` and
``steering.strength`` (the paper: replace with the language's mean
activation), or per kind and target language the point the sweep chose. Each
record names the language it was steered toward in ``target`` (None when
unsteered), which is what :func:`langneurons.evaluation.expected_language`
reads, and the point in ``mode`` and ``strength``.

The sweep (``steering.sweep``) answers its own held-out questions at every point of
``sweep.strengths`` for both kinds, with the unsteered baselines, and the
deactivation dose-response (kind ``deactivation``, condition ``off``): each
language's questions with the first ``share`` of its neurons switched off, the
most specific first (``selection.specificity_order``). All of it is one list of
answer groups (:class:`Group`) that fills the same batches, each row under its
own plan, so a group's answers are the ones it gets alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import InputFileError

if TYPE_CHECKING:  # torch and the model stack load only when steering runs (the workflow checks the config first)
    import torch

    from .hooks import Plan
    from .models import LoadedModel
    from .selection import Neurons

#: The two kinds of steering, in table order; the sweep's deactivation dose-response is kind ``deactivation``.
KINDS = ("offtarget", "crosslingual")
Point = tuple[str, float]  # (mode, strength)


@dataclass
class Group:
    """The answers of one question language under one plan (all its questions)."""

    kind: str  # offtarget, crosslingual or deactivation
    condition: str  # normal, steered, unsteered, to_T or off
    language: str  # of the questions
    target: str | None  # the language steered toward (None: unsteered, or only deactivated)
    plan: Plan = field(repr=False)
    mode: str | None = None
    strength: float | None = None
    share: float | None = None  # deactivation dose-response: share of the language's neurons switched off
    deactivated: int | None = None  # how many neurons that is

    def fields(self) -> dict:
        """What an answer record keeps of its group."""
        out = {"target": self.target, "mode": self.mode, "strength": self.strength}
        if self.kind == "deactivation":
            out.update(share=self.share, deactivated=self.deactivated)
        return out


def crosslingual_pairs(languages: list[str]) -> list[tuple[str, str]]:
    """Every ordered (source, target) pair of different languages, in the given order."""
    return [(source, target) for source in languages for target in languages if target != source]


def crosslingual_condition(target: str) -> str:
    return f"to_{target}"


def sweep_points(strengths: dict[str, Sequence[float]], modes: Sequence[str]) -> list[Point]:
    """The sweep's (mode, strength) points: modes in ``modes`` order, each one's strengths ascending."""
    return [(mode, float(s)) for mode in modes for s in sorted(strengths.get(mode) or ())]


def sweep_questions(questions: dict[str, list[dict]], n: int) -> dict[str, list[dict]]:
    """The sweep's questions: the last ``n`` of every language's set (the config keeps them apart from the
    first ``questions.max_questions``, which the generation and steering tables use)."""
    return {lang: rows[len(rows) - n :] for lang, rows in questions.items()}


def prompts_for(questions: dict[str, list[dict]], template: str, instructions: dict[str, str] | None) -> dict:
    """Each language's prompts, with its answer-in-this-language instruction (none when ``instructions`` is None)."""
    from .generation import build_prompt

    return {
        lang: [build_prompt(template, q["question"], (instructions or {}).get(lang, "")) for q in rows]
        for lang, rows in questions.items()
    }


def steering_groups(
    neurons: Neurons,
    means: torch.Tensor,
    languages: list[str],
    cfg: dict,
    with_normal: bool,
    points: Callable[[str, str], Sequence[Point]],
) -> list[Group]:
    """The answer groups of off-target and cross-lingual steering, each steered group once per point.

    ``points(kind, target)`` gives the (mode, strength) points a target
    language is steered with: one for the main run (``steering.mode`` and
    ``strength``, or the sweep's choice), every point of the sweep for the
    sweep; a point's plan is the same whichever list it comes from.
    ``with_normal``: also the off-target questions without intervention.
    Unsteered groups share one empty plan.
    """
    from .generation import steering_plan

    index = {lang: k for k, lang in enumerate(languages)}
    plain: Plan = {}
    groups = []
    if cfg["offtarget"]:
        if with_normal:
            groups += [Group("offtarget", "normal", lang, None, plain) for lang in languages]
        for lang in languages:
            for mode, strength in points("offtarget", lang):
                plan = steering_plan(neurons, means, None, index[lang], mode=mode, strength=strength)
                groups.append(Group("offtarget", "steered", lang, lang, plan, mode, strength))
    cross = cfg["crosslingual_languages"]
    groups += [Group("crosslingual", "unsteered", source, None, plain) for source in cross]
    by_condition: dict[str, list[Group]] = {}
    for source, target in crosslingual_pairs(cross):
        for mode, strength in points("crosslingual", target):
            plan = steering_plan(neurons, means, index[source], index[target], mode=mode, strength=strength)
            condition = crosslingual_condition(target)
            by_condition.setdefault(condition, []).append(
                Group("crosslingual", condition, source, target, plan, mode, strength)
            )
    return groups + [g for condition in by_condition.values() for g in condition]


def deactivation_groups(neurons: Neurons, probs: torch.Tensor, languages: list[str], shares: Sequence[float]):
    """The deactivation dose-response: per language and share, the language's questions with that share of its
    neurons switched off, the most specific first (``selection.specificity_order``)."""
    from .hooks import deactivation_plan
    from .selection import specificity_order, top_share

    layers = probs.shape[0]
    groups = []
    for k, lang in enumerate(languages):
        order = specificity_order(probs, neurons[k], k)
        for share in sorted(shares):
            off = top_share(order, share, layers)
            count = sum(len(idx) for idx in off)
            groups.append(Group("deactivation", "off", lang, None, deactivation_plan(off), None, None, share, count))
    return groups


def run_groups(
    lm: LoadedModel,
    groups: list[Group],
    questions: dict[str, list[dict]],
    prompts: dict[str, dict[str, list[str]]],
    gen_cfg: dict,
    meta: dict,
    progress: bool = False,
    part: int = 0,
    parts: int = 1,
) -> list[dict]:
    """One record per answer of every group; all rows fill the same batches, each under its group's plan.

    ``prompts``: kind -> question language -> prompts (in ``questions`` order); ``part`` of ``parts``: that
    job's even share of the batches (the shares of all jobs, in order, are one job's records).
    """
    from .generation import answer_rows, batch_share

    rows = [
        (group, question, prompt)
        for group in groups
        for question, prompt in zip(questions[group.language], prompts[group.kind][group.language], strict=True)
    ]
    rows = rows[batch_share(len(rows), gen_cfg["batch_size"], part, parts)]
    answers = answer_rows(lm, [p for *_, p in rows], [g.plan for g, *_ in rows], gen_cfg, progress)
    return [
        {
            **meta,
            "kind": group.kind,
            "condition": group.condition,
            "language": group.language,
            "question_id": question["id"],
            "question": question["question"],
            "prompt": prompt,
            "answer": answer,
            **group.fields(),
        }
        for (group, question, prompt), answer in zip(rows, answers, strict=True)
    ]


def kind_prompts(questions, template: str, instructions: dict[str, str], cfg: dict) -> dict[str, dict[str, list]]:
    """Prompts per kind: off-target and deactivation with the answer-in-this-language instruction, cross-lingual
    with it only when ``steering.crosslingual_instruction``."""
    instructed = prompts_for(questions, template, instructions)
    cross = instructed if cfg["crosslingual_instruction"] else prompts_for(questions, template, None)
    return {"offtarget": instructed, "crosslingual": cross, "deactivation": instructed}


def _need_means(means) -> None:
    if means is None:
        raise InputFileError("steering needs mean activations: the statistics files hold no 'sum'; count them again")


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
    chosen: dict[tuple[str, str], Point] | None = None,
    part: int = 0,
    parts: int = 1,
) -> list[dict]:
    """All steered answers, one record per answer (``kind``: offtarget or crosslingual).

    ``questions``: language -> [{"id", "question"}], languages in neuron-file
    order; ``means``: [layers, d_ff, languages] mean activations;
    ``with_normal``: also answer the off-target questions without intervention;
    ``chosen``: the sweep's point per (kind, target language) (``sweep.chosen_points``),
    else every target is steered with ``steering.mode`` and ``steering.strength``;
    ``part`` of ``parts``: only that job's even share of the batches (``steering.jobs``); the shares of all
    jobs, in order, are one job's records.
    """
    _need_means(means)
    languages = list(questions)
    if chosen is None:
        fixed = [(cfg["mode"], float(cfg["strength"]))]

        def points(kind, target):
            return fixed
    else:

        def points(kind, target):
            if (kind, target) not in chosen:
                raise InputFileError(
                    f"the sweep chose no setting for {kind} steering toward {target}: the chosen strengths come "
                    "from other steering settings; run the sweep again"
                )
            return [chosen[kind, target]]

    groups = steering_groups(neurons, means, languages, cfg, with_normal, points)
    prompts = kind_prompts(questions, template, instructions, cfg)
    return run_groups(lm, groups, questions, prompts, gen_cfg, meta, progress, part, parts)


def run_sweep(
    lm: LoadedModel,
    neurons: Neurons,
    means: torch.Tensor | None,
    probs: torch.Tensor,
    questions: dict[str, list[dict]],
    template: str,
    instructions: dict[str, str],
    gen_cfg: dict,
    cfg: dict,
    modes: Sequence[str],
    meta: dict,
    progress: bool = False,
    part: int = 0,
    parts: int = 1,
) -> list[dict]:
    """The sweep's answers to its ``questions``: every point of ``sweep.strengths`` for both kinds of steering,
    the unsteered baselines (``normal``: the off-target questions, also share 0 of the dose-response;
    ``unsteered``: the cross-lingual sources), and the deactivation dose-response of ``sweep.shares``.
    ``part`` of ``parts``: that job's even share of the batches (``run_groups``)."""
    languages = list(questions)
    sweep = cfg["sweep"]
    points = sweep_points(sweep["strengths"] or {}, modes)
    groups = [Group("offtarget", "normal", lang, None, {}) for lang in languages]
    if points:
        _need_means(means)
        groups += steering_groups(neurons, means, languages, cfg, False, lambda kind, target: points)
    groups += deactivation_groups(neurons, probs, languages, sweep["shares"])
    prompts = kind_prompts(questions, template, instructions, cfg)
    return run_groups(lm, groups, questions, prompts, gen_cfg, meta, progress, part, parts)
