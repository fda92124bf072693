"""Judge prompts: the bundled templates, language names, rendering, and reading the score out of a reply."""

from __future__ import annotations

import re
from pathlib import Path

from ..bundled import JUDGE_TEMPLATE
from .base import JudgeItem

#: What is said to the judge when its reply held no valid score.
REASK_MESSAGE = 'Reply with the score only, in the form "Score: N" where N is an integer from 1 to 5.'


def language_name(language: str) -> str:
    """English name of an ISO 639-1 code (zh -> Chinese); anything else (a name, an unknown code) unchanged."""
    from lingua import IsoCode639_1, Language

    code = getattr(IsoCode639_1, str(language).strip().upper(), None)
    return Language.from_iso_code_639_1(code).name.title() if code is not None else language


_PLACEHOLDER = re.compile(r"\{(question|answer|language)\}")


def render_prompt(template: str, item: JudgeItem) -> str:
    """Fill ``{question}``, ``{answer}`` and ``{language}`` (the expected answer language, by name).

    A single pass substitutes only these three placeholders: other braces in the
    template stay literal, and placeholder-like text inside a question or an
    answer is never expanded (no ``str.format`` surprises, no injection).
    """
    values = {"question": str(item.question), "answer": str(item.answer), "language": language_name(item.language)}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def load_template(path: str | Path | None = None) -> str:
    """The template at ``path`` (``judge.prompt``, checked by the config gate), or the bundled one when None."""
    return (Path(path) if path is not None else JUDGE_TEMPLATE).read_text(encoding="utf-8")


_NUM = r"(\d+(?:\.\d+)?)"
# "1-5", "1 to 5", "(1-5)", "on a scale of/from 1 to 5": the scale, not a score.
_SCALE = re.compile(r"\(?\s*(?:on\s+a\s+scale\s+(?:of|from)\s+)?\b1\s*(?:-|–|—|to)\s*5\b\s*\)?", re.IGNORECASE)
# A score after a label: "Score: 4", "Rating: 4/5", "score of 4", "rating is 4 out of 5".
_LABELLED = re.compile(
    r"\b(?:score|rating|grade)\b\s*(?:is\s*|of\s*|[:：=]\s*)?"
    + _NUM
    + r"(?:\s*(?:/|out\s+of)\s*"
    + _NUM
    + r")?"
    + r"([ \t]*(?:-|–|—|to|or|and)[ \t]*\d)?",
    re.IGNORECASE,
)
# A bare fraction anywhere: "4/5", "4 out of 5".
_FRACTION = re.compile(r"(?<![\d.])" + _NUM + r"\s*(?:/|out\s+of)\s*" + _NUM + r"(?!\.?\d)", re.IGNORECASE)
# The whole reply is one number ("4", "4.", " 4 ").
_BARE = re.compile(r"^\s*" + _NUM + r"\s*[.!]?\s*$")


def parse_score(text) -> int | None:
    """The 1-5 rating in a judge's reply, or None when absent, ambiguous or out of range.

    Markdown emphasis (``*``, ``_``, backticks, ``#``) and mentions of the scale
    itself ("1-5", "(1-5)", "on a scale of 1 to 5") are removed first. Then the
    first of these rules that finds any candidate decides:

    1. labelled: "Score: 4", "Rating: 4/5", "score of 4", "My rating is 4";
    2. a fraction out of 5: "4/5", "4 out of 5";
    3. the whole reply is a number: "4", "**3**", "4.".

    The reply is accepted only if every candidate of that rule is the same
    whole number from 1 to 5 (4.0 counts as 4). It is rejected (None) when the
    candidates disagree ("Score: 2 ... Score: 4"), when a labelled score is a
    range or alternative ("Score: 3-4", "3 or 4"), when a fraction is not out
    of 5 ("8/10"), when the number is not a whole number in range ("7", "0",
    "3.5") and when no rule applies ("I like it", "between 3 and 4", and even
    "I'd give it a 4": a lone number in prose is not trusted as a score, so
    the judge is re-asked instead of guessing).
    """
    if text is None:
        return None
    text = re.sub(r"[*_`#]", "", str(text))
    text = _SCALE.sub(" ", text)

    candidates: list[tuple[str, str | None]] = []
    for match in _LABELLED.finditer(text):
        if match.group(3):  # "Score: 3-4", "Score: 3 or 4"
            return None
        candidates.append((match.group(1), match.group(2)))
    if not candidates:
        candidates = [(m.group(1), m.group(2)) for m in _FRACTION.finditer(text)]
    if not candidates:
        bare = _BARE.match(text)
        candidates = [(bare.group(1), None)] if bare else []
    if not candidates:
        return None

    scores = set()
    for value, denominator in candidates:
        if denominator is not None and float(denominator) != 5:
            return None
        number = float(value)
        if not number.is_integer() or not 1 <= number <= 5:
            return None
        scores.add(int(number))
    return scores.pop() if len(scores) == 1 else None
