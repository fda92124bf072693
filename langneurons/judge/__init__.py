"""Content-quality judges for the open-ended generation experiment.

The paper (Tang et al., ACL 2024, Section 5) had GPT-4 rate each answer from 1
to 5. Every judge here has the same interface:

- ``identity``: a dict saying what produces the scores (backend, model, server);
- ``render(item) -> str``: the request text for a :class:`JudgeItem`;
- ``score(items) -> list[Judgement]``, in input order; an item without a score
  is ``Judgement(None, reason)``.

Backends: ``openai`` (:class:`OpenAIJudge`, any OpenAI-compatible server, the
paper's judge), ``local`` (:class:`LocalJudge`, the analysed model itself,
offline and much weaker) and ``none`` (:class:`NoJudge`). :class:`CachedJudge`
puts a disk cache in front of any of them. :func:`make_judge` builds the one
the validated ``judge`` config section asks for.
"""

from __future__ import annotations

from pathlib import Path

from .base import JudgeError, JudgeItem, Judgement, MissingAPIKey, NoJudge
from .cache import CachedJudge
from .prompts import language_name, load_template, parse_score, render_prompt

__all__ = [
    "CachedJudge",
    "JudgeError",
    "JudgeItem",
    "Judgement",
    "MissingAPIKey",
    "NoJudge",
    "language_name",
    "load_template",
    "make_judge",
    "parse_score",
    "render_prompt",
]


def make_judge(cfg: dict, lm=None, cache_dir: str | Path | None = None):
    """The judge of the ``judge`` config section, validated by the config schema (defaults filled there).

    ``lm`` (a LoadedModel) is the model the local backend scores with. With a
    ``cache_dir`` the openai backend's scores are cached there; the local
    judge's are not (they depend on weights that a path does not identify,
    and recomputing them costs no API calls).
    """
    backend = cfg["backend"]
    if backend == "none":
        return NoJudge()
    template = load_template(cfg["prompt"], backend)
    if backend == "local":
        from .local import LocalJudge

        if lm is None:
            raise ValueError("judge.backend local scores with the analysed model: pass lm= to make_judge")
        return LocalJudge(lm, template, cfg["batch_size"])
    from .openai_backend import OpenAIJudge

    judge = OpenAIJudge(
        model=cfg["model"],
        template=template,
        base_url=cfg["base_url"],
        api_key_env=cfg["api_key_env"],
        concurrency=cfg["concurrency"],
        max_retries=cfg["max_retries"],
        timeout=cfg["timeout"],
    )
    return CachedJudge(judge, cache_dir) if cache_dir is not None else judge
