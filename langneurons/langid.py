"""Language identification of answers, offline (lingua ships its models)."""

from __future__ import annotations

from functools import lru_cache

from .errors import ConfigError


@lru_cache(maxsize=8)
def detector(languages: tuple[str, ...]):
    """A lingua detector restricted to ``languages`` (ISO 639-1 codes)."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    try:
        langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in languages]
    except AttributeError as err:
        raise ConfigError(f"language identification does not know one of {languages}: {err}") from None
    return LanguageDetectorBuilder.from_languages(*langs).build()


def identify(text: str, languages: list[str]) -> str | None:
    """The ISO code of the language ``text`` is written in, or None (empty / no letters)."""
    if not text or not any(ch.isalpha() for ch in text):
        return None
    found = detector(tuple(languages)).detect_language_of(text)
    return found.iso_code_639_1.name.lower() if found else None


def accuracy(detected: list[str | None], expected: list[str]) -> float:
    """Share of answers written in the expected language (undetectable answers count as wrong)."""
    if not expected:
        return float("nan")
    return sum(d == e for d, e in zip(detected, expected)) / len(expected)
