"""Content-quality judges for the open-ended generation experiment.

The paper (Tang et al., ACL 2024, Section 5) had GPT-4 rate each answer from 1
to 5. Every judge here has the same interface:

- ``identity``: a dict saying what produces the scores (backend, model, server);
- ``render(item) -> str``: the request text for a :class:`JudgeItem`;
- ``score(items) -> list[Judgement]``, in input order; an item without a score
  is ``Judgement(None, reason)``.

Backends: ``openai`` (:class:`OpenAIJudge`, any OpenAI-compatible server, the
paper's judge), ``local`` (:class:`~langneurons.judge.local.LocalJudge`: the
unmodified analysed model measures language, fluency, relevance and
degeneration offline; much weaker, see docs/judge.md) and ``none`` (:class:`NoJudge`). :class:`CachedJudge`
puts a disk cache in front of any of them. :func:`make_judge` builds the one
the validated ``judge`` config section asks for.
"""

from __future__ import annotations

from pathlib import Path

from .base import JudgeItem, Judgement, NoJudge
from .cache import CachedJudge
from .prompts import language_name, load_template, parse_score, render_prompt

__all__ = [
    "CachedJudge",
    "JudgeItem",
    "Judgement",
    "NoJudge",
    "language_name",
    "load_template",
    "make_judge",
    "parse_score",
    "render_prompt",
]


def make_judge(cfg: dict, lm=None, cache_dir: str | Path | None = None, languages=(), generation=None):
    """The judge of the ``judge`` config section, validated by the config schema (defaults filled there).

    The local backend scores with ``lm`` (a LoadedModel, unmodified) in
    ``languages``, after the generation prompt that ``generation`` (the
    ``generation`` config section: template and instructions files, null =
    bundled) describes. With a ``cache_dir`` the openai backend's scores are
    cached there; the local judge's are not (they depend on weights that a path
    does not identify, and recomputing them costs no API calls).
    """
    backend = cfg["backend"]
    if backend == "none":
        return NoJudge()
    if backend == "local":
        from ..generation import load_instructions
        from ..generation import load_template as load_generation_template
        from .local import LocalJudge

        if lm is None:
            raise ValueError("judge.backend local scores with the analysed model: pass lm= to make_judge")
        generation = generation or {}
        return LocalJudge(
            lm,
            list(languages),
            template=load_generation_template(generation.get("template")),
            instructions=load_instructions(generation.get("instructions")),
            batch_size=cfg["batch_size"],
        )
    from .openai_backend import OpenAIJudge

    judge = OpenAIJudge(
        model=cfg["model"],
        template=load_template(cfg["prompt"]),
        base_url=cfg["base_url"],
        api_key_env=cfg["api_key_env"],
        concurrency=cfg["concurrency"],
        max_retries=cfg["max_retries"],
        timeout=cfg["timeout"],
    )
    return CachedJudge(judge, cache_dir) if cache_dir is not None else judge
