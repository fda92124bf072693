"""Language identification, offline (lingua ships its models), restricted to the configured languages.

One detector per language list, built once: answers (``identify``), their lines and sentences
(``langneurons.confusion``) and corpus paragraphs (``langneurons.corpus``) are all told by it.
A code lingua does not know is left out of the detector (the workflow's config gate refuses it
before any job runs; a library caller gets "not identified" for it, never an error).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def supported_languages() -> tuple[str, ...]:
    """The ISO 639-1 codes lingua identifies, sorted."""
    from lingua import Language

    return tuple(sorted(lang.iso_code_639_1.name.lower() for lang in Language.all()))


@lru_cache(maxsize=8)
def detector(languages: tuple[str, ...]):
    """A lingua detector restricted to ``languages`` (ISO 639-1 codes lingua knows); None when it knows none."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    known = [code for code in languages if code in supported_languages()]
    if len(known) < len(languages):
        log.warning("language identification (lingua) does not know %s", ", ".join(sorted(set(languages) - set(known))))
    if not known:
        return None
    langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in known]
    return LanguageDetectorBuilder.from_languages(*langs).build()


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def identify(text: str, languages: Sequence[str]) -> str | None:
    """The ISO code of the language ``text`` is written in, or None (empty, no letters, or lingua cannot tell)."""
    if not text or not has_letters(text):
        return None
    return _detect(detector(tuple(languages)), text)


def identify_many(texts: Sequence[str], languages: Sequence[str]) -> list[str | None]:
    """``identify`` for many texts at once (lingua spreads them over its threads): the same answers."""
    found: list[str | None] = [None] * len(texts)
    todo = [k for k, text in enumerate(texts) if text and has_letters(text)]
    detect = detector(tuple(languages))
    if detect is None or not todo:
        return found
    for k, language in zip(todo, detect.detect_languages_in_parallel_of([texts[k] for k in todo])):
        found[k] = language.iso_code_639_1.name.lower() if language else None
    return found


def _detect(detect, text: str) -> str | None:
    if detect is None:
        return None
    language = detect.detect_language_of(text)
    return language.iso_code_639_1.name.lower() if language else None


def accuracy(detected: list[str | None], expected: list[str]) -> float:
    """Share of answers written in the expected language (undetectable answers count as wrong)."""
    if not expected:
        return float("nan")
    return sum(d == e for d, e in zip(detected, expected)) / len(expected)
