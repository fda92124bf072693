"""Language confusion: is every line, and every word, of an answer in the language it should be in?

The metrics of the Language Confusion Benchmark (LCB; Marchisio et al., 2024, arXiv:2406.20052),
measured with lingua restricted to the configured languages (``langneurons.langid``). One answer
(``analyse``) is judged at three levels:

- **answer**: lingua on the whole answer is the expected language (the language accuracy of the
  paper's tables);
- **line**: the answer passes the answer level and every line of at least ``MIN_WORDS`` words is
  in the expected language (an answer with no line that long is judged as one line). LCB also
  judges only lines of at least 5 tokens; requiring the answer level too makes the line-level
  pass rate (LPR) never higher than the language accuracy;
- **word**, only for languages written in a non-Latin script (``WORD_LEVEL``: a word in another
  language shows in its script; in Latin-script languages it cannot be told reliably, as LCB
  says): the answer has letters and no word in a script its language does not use (the Latin
  "my" inside Chinese text). Words in capitals only (AI, DNA) are taken for acronyms and pass.
  LCB looks up English dictionary words instead and counts WPR over the answers that pass the
  line level only; here WPR is over all answers, so each answer has its own three verdicts.

Where the answer leaves its language is kept as character spans (``foreign_spans``, for the
report to mark): lines and sentences of at least ``MIN_WORDS`` words that lingua gives another
language, and words in another script. lingua's ``detect_multiple_languages_of`` was measured for
this and left out: on the bundled corpus (clean text in each language) it found other-language
spans in 242 of 560 passages, some of 9 words ("en la ..." as Indonesian inside Spanish), while
lingua on whole sentences of at least 5 words misjudged none of 4,128.

Rates over answers (``rates``; ``uncertainty.confusion_ci_table`` with bootstrap intervals over questions):
LPR and WPR are the shares of answers that pass; LCPR is their harmonic mean, and equals LPR
where WPR is undefined (Latin-script languages). Bad input gives defined values, never an error:
an answer with no letters (empty, digits, blank lines) passes no level and has no expected share;
a language lingua does not know is never identified, so its answers pass neither the answer nor
the line level.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .langid import identify

#: Lines and sentences shorter than this (in words; a Chinese or Japanese character is a word) are
#: not judged on their own: lingua is unreliable on a few words (LCB's threshold, 5 tokens).
MIN_WORDS = 5

#: The scripts each language is written in: a word in any other script is in another language.
SCRIPTS: dict[str, frozenset[str]] = {
    **{lang: frozenset({"latin"}) for lang in "en fr es vi id de it pt nl tr pl ro cs sv da ms tl sw".split()},
    "zh": frozenset({"han"}),
    "ja": frozenset({"han", "hiragana", "katakana"}),
    "ko": frozenset({"hangul", "han"}),
    "ru": frozenset({"cyrillic"}),
    "uk": frozenset({"cyrillic"}),
    "bg": frozenset({"cyrillic"}),
    "ar": frozenset({"arabic"}),
    "fa": frozenset({"arabic"}),
    "hi": frozenset({"devanagari"}),
    "el": frozenset({"greek"}),
    "he": frozenset({"hebrew"}),
    "th": frozenset({"thai"}),
}
#: The languages whose word level is defined: written in a non-Latin script.
WORD_LEVEL = frozenset(lang for lang, scripts in SCRIPTS.items() if "latin" not in scripts)
#: Scripts written without spaces between words: each character is a word.
UNSPACED = frozenset({"han", "hiragana", "katakana", "thai"})
#: The label of a line or sentence lingua could not assign to any language.
UNDETERMINED = "und"

# (part of a character's Unicode name, script), first match wins: "KATAKANA-HIRAGANA PROLONGED
# SOUND MARK" is kana, "FULLWIDTH LATIN CAPITAL LETTER A" Latin, "IDEOGRAPHIC ITERATION MARK" Han
_SCRIPT_NAMES = (
    ("HIRAGANA", "hiragana"),
    ("KATAKANA", "katakana"),
    ("CJK", "han"),
    ("IDEOGRAPH", "han"),
    ("HANGUL", "hangul"),
    ("LATIN", "latin"),
    ("CYRILLIC", "cyrillic"),
    ("ARABIC", "arabic"),
    ("DEVANAGARI", "devanagari"),
    ("GREEK", "greek"),
    ("HEBREW", "hebrew"),
    ("THAI", "thai"),
)
_SENTENCE_END = re.compile(r"[。！？]+|[.!?]+(?=\s|$)")


@lru_cache(maxsize=8192)
def script_of(ch: str) -> str | None:
    """The script of a letter (``latin``, ``han``, ``hiragana``, ...; ``other`` for the rest), None for a non-letter."""
    if not ch.isalpha():
        return None
    if ch < "\u0250":  # ASCII, Latin-1 and Latin Extended-A/B
        return "latin"
    name = unicodedata.name(ch, "")
    return next((script for part, script in _SCRIPT_NAMES if part in name), "other")


def words(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
    """(start, end, script) of every word of ``text[start:end]``.

    A word is a run of letters of one script (combining marks included); in scripts written
    without spaces (Chinese, Japanese, Thai) each character is a word.
    """
    end = len(text) if end is None else end
    found, i = [], start
    while i < end:
        script = script_of(text[i])
        if script is None:
            i += 1
            continue
        j = i + 1
        if script not in UNSPACED:
            while j < end and (script_of(text[j]) == script or unicodedata.category(text[j]).startswith("M")):
                j += 1
        found.append((i, j, script))
        i = j
    return found


def has_words(text: str, n: int) -> bool:
    """Whether ``text`` holds at least ``n`` words (as ``words`` counts them), reading no further than needed."""
    count, i, end = 0, 0, len(text)
    while i < end and count < n:
        script = script_of(text[i])
        i += 1
        if script is None:
            continue
        count += 1
        if script not in UNSPACED:
            while i < end and (script_of(text[i]) == script or unicodedata.category(text[i]).startswith("M")):
                i += 1
    return count >= n


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line that holds a letter, without its surrounding whitespace."""
    spans, start = [], 0
    for line in text.split("\n"):
        end = start + len(line)
        if any(ch.isalpha() for ch in line):
            spans.append(_trim(text, start, end))
        start = end + 1
    return spans


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of the sentences of ``text[start:end]`` (cut after 。！？, or . ! ? before a space)."""
    spans, begin = [], start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append(_trim(text, begin, match.end()))
        begin = match.end()
    if begin < end:
        spans.append(_trim(text, begin, end))
    return [(s, e) for s, e in spans if e > s]


def _merge(spans: Iterable[tuple[int, int, str]], text: str) -> list[list]:
    """Overlapping spans, and spans only whitespace apart, as one; each keeps its longest part's label."""
    merged: list[list] = []  # [start, end, label, longest part's length]
    for start, end, label in sorted(spans, key=lambda s: (s[0], -s[1])):
        if merged and (start <= merged[-1][1] or text[merged[-1][1] : start].isspace()):
            last = merged[-1]
            if end - start > last[3]:
                last[2], last[3] = label, end - start
            last[1] = max(last[1], end)
        else:
            merged.append([start, end, label, end - start])
    return [[start, end, label] for start, end, label, _ in merged]


def analyse(text: str, expected: str, languages: Sequence[str]) -> dict:
    """The language of an answer as a whole, per line and per word, against the ``expected`` language.

    ``languages``: the languages lingua chooses from (the configured ones). Returns a JSON-able
    dict: ``language`` (of the whole answer, or None), ``answer_pass``; ``lines`` (lines judged),
    ``lines_expected`` (of those, in the expected language), ``line_languages`` (each judged line's
    language), ``line_pass``; ``word_pass`` (None where the word level is undefined); the spans of
    the answer not in the expected language, ``foreign_spans`` ([start, end, label] character
    offsets; the label is a language code, ``und`` for undetermined, or a script name for a word),
    the ``other_languages`` and ``other_scripts`` they hold, and ``expected_share``, the share of
    the answer's letters outside those spans (None for an answer with no letters).
    """
    text = text or ""
    languages = tuple(languages)
    word_level = expected in WORD_LEVEL
    lines = _lines(text)
    if not lines:  # empty, blank lines, digits or punctuation only: in no language at all
        return {
            "language": None,
            "answer_pass": False,
            "lines": 0,
            "lines_expected": 0,
            "line_languages": [],
            "line_pass": False,
            "word_pass": False if word_level else None,
            "foreign_spans": [],
            "other_languages": [],
            "other_scripts": [],
            "expected_share": None,
        }
    language = identify(text, languages)
    judged = [(s, e) for s, e in lines if has_words(text[s:e], MIN_WORDS)] or [(lines[0][0], lines[-1][1])]
    line_languages = [identify(text[s:e], languages) for s, e in judged]
    spans = []
    for (start, end), found in zip(judged, line_languages):
        if found != expected:
            spans.append((start, end, found or UNDETERMINED))
            continue
        parts = _sentences(text, start, end)
        if len(parts) < 2:  # one sentence: the line's verdict is the sentence's
            continue
        for s, e in parts:
            if has_words(text[s:e], MIN_WORDS) and (sentence := identify(text[s:e], languages)) != expected:
                spans.append((s, e, sentence or UNDETERMINED))
    own = SCRIPTS.get(expected)
    foreign_words = (
        []
        if own is None
        else [(s, e, script) for s, e, script in words(text) if script not in own and not text[s:e].isupper()]
    )
    merged = _merge(spans + foreign_words, text)
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    inside = sum(1 for i in letters if any(s <= i < e for s, e, _ in merged))
    return {
        "language": language,
        "answer_pass": language == expected,
        "lines": len(judged),
        "lines_expected": sum(found == expected for found in line_languages),
        "line_languages": line_languages,
        "line_pass": language == expected and all(found == expected for found in line_languages),
        "word_pass": not foreign_words if word_level else None,
        "foreign_spans": merged,
        "other_languages": sorted({label for *_, label in spans if label != UNDETERMINED}),
        "other_scripts": sorted({script for *_, script in foreign_words}),
        "expected_share": 1 - inside / len(letters),
    }


def harmonic_mean(a: float, b: float) -> float:
    """2ab / (a + b); 0 when both are 0, NaN when either is."""
    if math.isnan(a) or math.isnan(b):
        return float("nan")
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def lcpr(lpr: float, wpr: float | None) -> float:
    """LCB's language confusion pass rate: the harmonic mean of LPR and WPR; LPR where WPR is undefined."""
    return lpr if wpr is None or math.isnan(wpr) else harmonic_mean(lpr, wpr)


def _share(values: list) -> float:
    defined = [bool(v) for v in values if v is not None]
    return sum(defined) / len(defined) if defined else float("nan")


def rates(results: Sequence[dict]) -> dict[str, float]:
    """Accuracy (answer level), LPR, WPR (NaN where undefined) and LCPR of ``analyse`` results of one language."""
    accuracy, lpr = _share([r["answer_pass"] for r in results]), _share([r["line_pass"] for r in results])
    wpr = _share([r["word_pass"] for r in results])
    return {"n": len(results), "accuracy": accuracy, "lpr": lpr, "wpr": wpr, "lcpr": lcpr(lpr, wpr)}


#: metric -> the answer record's field (``langneurons.evaluation.annotate_languages`` sets them); LCPR is
#: computed from LPR and WPR (``uncertainty.confusion_ci_table`` gives all four with bootstrap intervals)
METRIC_FIELDS = {"accuracy": "in_expected_language", "lpr": "line_pass", "wpr": "word_pass"}
METRICS = (*METRIC_FIELDS, "lcpr")
TABLE_COLUMNS = ["metric", "condition", "language", "expected", "mean", "lo", "hi", "n"]
