"""The data shipped with the package, in one place: the parallel corpus and questions written for
this project (``data/corpus``, ``data/questions``), the prompts (``data/prompts``: the authors'
generation template and answer-in-this-language instructions, the judge prompt, the PV tuning
instructions) and the deviations table. Every module reads them through the names here.

Light on purpose (no torch, no model code): the config gate reads it while Snakemake parses.
"""

from __future__ import annotations

from importlib import resources

from .errors import ConfigError
from .io import read_jsonl

DATA = resources.files("langneurons") / "data"
PROMPTS = DATA / "prompts"
#: The authors' generation prompt, ``Q: {question}{instruction}\nA:``.
GENERATION_TEMPLATE = PROMPTS / "generation.txt"
#: The authors' answer-in-this-language instruction per language (JSON object).
INSTRUCTIONS = PROMPTS / "instructions.json"
#: The openai judge's prompt (the local judge reads none).
JUDGE_TEMPLATE = PROMPTS / "judge.txt"
#: The instruction templates PV tunes on, per language (JSON object).
TUNING_INSTRUCTIONS = PROMPTS / "tuning.json"
#: Where this project differs from the authors' code (README and the report's setup section).
DEVIATIONS = DATA / "deviations.md"


def bundled_languages(kind: str = "corpus") -> list[str]:
    """The languages of a bundled data set (``corpus`` or ``questions``), sorted."""
    return sorted(p.name.removesuffix(".jsonl") for p in (DATA / kind).iterdir() if p.name.endswith(".jsonl"))


def bundled_questions_file(lang: str):
    return DATA / "questions" / f"{lang}.jsonl"


def bundled_passages(lang: str) -> list[dict]:
    """``[{"id", "text"}]``: the language's passages, one per topic, in topic order (the same in every language)."""
    path = DATA / "corpus" / f"{lang}.jsonl"
    if not path.is_file():
        raise ConfigError(
            f"The bundled corpus has no language '{lang}' (it has {', '.join(bundled_languages())}). "
            "Use corpus.source: wikipedia or files for other languages."
        )
    return read_jsonl(path, required={"id": str, "text": str})


def bundled_topic_count() -> int:
    """How many topics the bundled corpus has (the same in every language)."""
    with (DATA / "corpus" / "en.jsonl").open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def bundled_valid_topics(passages: list[dict], valid_topics: int) -> set[str]:
    """Every k-th topic goes to valid, spread over the list (same ids in every language)."""
    ids = [p["id"] for p in passages]
    if not 0 < valid_topics < len(ids):
        raise ConfigError(f"corpus.valid_topics must be between 1 and {len(ids) - 1}, got {valid_topics}")
    step = len(ids) / valid_topics
    return {ids[int(i * step + step - 1)] for i in range(valid_topics)}


def bundled_documents(lang: str, split: str, valid_topics: int) -> list[str]:
    """The texts of the language's ``split`` (valid: ``valid_topics`` topics spread over the list; train: the rest)."""
    passages = bundled_passages(lang)
    valid = bundled_valid_topics(passages, valid_topics)
    return [p["text"] for p in passages if (p["id"] in valid) == (split == "valid")]
