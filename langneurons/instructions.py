"""Instruction data per language, for the parameter-variation baseline (PV).

One record per example: ``{"instruction", "input", "output"}`` (the layout of
Bactrian-X and of Alpaca-style sets), written as JSONL by the ``instructions``
rule and read by every model's tuning jobs. Two sources:

- ``bundled`` (offline): per *train* topic of the bundled corpus an instruction
  in the language ("Write a short text on this topic: {topic}.", translated in
  ``data/prompts/tuning.json``) answered by that topic's passage. The valid
  topics stay out, as they do out of counting: perplexity is measured on them.
- ``dataset``: a multilingual instruction set through ``datasets``, by default
  ``MBZUAI/Bactrian-X`` (one folder of files per language code). A local folder
  with the same layout (``{lang}/*.parquet`` or ``*.jsonl``) goes through the
  same code, so it also serves offline machines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from .bundled import TUNING_INSTRUCTIONS, bundled_passages, bundled_valid_topics
from .errors import ConfigError, DownloadError, InputFileError

FIELDS = ("instruction", "input", "output")


def tuning_templates() -> dict[str, str]:
    return json.loads(TUNING_INSTRUCTIONS.read_text(encoding="utf-8"))


def bundled_instructions(lang: str, valid_topics: int) -> list[dict]:
    """One instruction per train topic, answered by the topic's bundled passage."""
    templates = tuning_templates()
    if lang not in templates:
        raise ConfigError(
            f"selection.pv.source: no bundled tuning instruction for language '{lang}' (there are {', '.join(templates)}); "
            "use selection.pv.source: dataset"
        )
    passages = bundled_passages(lang)
    valid = bundled_valid_topics(passages, valid_topics)
    template = templates[lang]
    return [
        {"instruction": template.format(topic=p["topic"]), "input": "", "output": p["text"]}
        for p in passages
        if p["id"] not in valid
    ]


def dataset_instructions(
    lang: str, dataset: str, examples: int, seed: int, shuffle_buffer: int = 10_000
) -> Iterator[dict]:
    """``examples`` records of ``lang`` from an instruction dataset (hub id or local folder), shuffled with ``seed``."""
    from datasets import load_dataset

    try:
        stream = load_dataset(dataset, data_dir=lang, split="train", streaming=True)
    except Exception as err:
        raise DownloadError(
            f"Could not open instruction dataset '{dataset}' for language '{lang}': {err}. Offline, point "
            "selection.pv.dataset to a local folder with one subfolder of .parquet or .jsonl files per language."
        ) from err
    taken = 0
    for row in stream.shuffle(seed=seed, buffer_size=shuffle_buffer):
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise InputFileError(
                f"instruction dataset '{dataset}' ({lang}) has no field {missing[0]!r}; it needs {FIELDS}"
            )
        if not (row["output"] or "").strip():
            continue
        yield {f: row[f] or "" for f in FIELDS}
        taken += 1
        if taken >= examples:
            return


def instructions(pv_cfg: dict, lang: str, valid_topics: int) -> list[dict]:
    """The tuning examples of one language, as ``selection.pv`` says."""
    if pv_cfg["source"] == "bundled":
        return bundled_instructions(lang, valid_topics)[: pv_cfg["examples"]]
    return list(dataset_instructions(lang, pv_cfg["dataset"], pv_cfg["examples"], pv_cfg["seed"]))
