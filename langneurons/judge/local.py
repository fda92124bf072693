"""The offline judge: answer quality 1-5 from what the unmodified model can honestly measure.

The paper had GPT-4 rate each answer. Offline, the analysed model (without
interventions) cannot judge helpfulness or correctness, but it can measure
whether an answer

- is written in the expected language (``langid.identify``);
- reads as natural text after the question (*fluency*: mean log-probability
  per token of the answer after the generation prompt with the question);
- belongs to *this* question (*relevance*: pointwise mutual information, the
  fluency minus the mean log-probability of the answer after the same prompt
  with an empty question);
- says something of its own: the shares of its word n-grams copied from the
  question (*echo*) or repeated from earlier in the answer (*repetition*),
  and whether it has enough tokens to say anything.

Fluency and relevance are calibrated per language on reference passages (the
bundled corpus; :class:`~langneurons.judge.likelihood.Calibration`; only the
first :data:`SCORED_TOKENS` tokens of answers and passages are scored). The
score is

    1 + 4 * [in expected language] * (1 - echo - repetition) * min(1, tokens / MIN_TOKENS) * fluency * relevance

so an empty answer, one in another language or one that only repeats the
question scores 1, and an unrelated or garbled answer close to 1. docs/judge.md
has the measurements behind it and what it does not measure.
"""

from __future__ import annotations

import logging
import math
import random
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass

from ..bundled import bundled_languages, bundled_passages
from ..errors import ConfigError, InputFileError
from ..generation import build_prompt, load_instructions, load_template
from ..langid import identify
from .base import JudgeItem, Judgement
from .likelihood import Calibration, answer_logprobs, batch_logprobs, logprob_batches

log = logging.getLogger(__name__)

#: Length in word-like units of the n-grams that count as copied (from the question or earlier in the answer).
NGRAM = 4
#: Answers shorter than this many tokens are scaled down proportionally (too short to answer anything).
MIN_TOKENS = 8
#: The likelihoods look at the first tokens of every answer and reference passage (each costs a full LM-head row).
SCORED_TOKENS = 32
#: Reference passages per language for the calibration.
ANCHORS = 4

#: A likelihood the judge computes: (context token ids, answer token ids).
Pair = tuple[tuple[int, ...], tuple[int, ...]]

#: Word-like units: a CJK character, kana or hangul syllable (scripts written without spaces), or a run of letters/digits.
UNIT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]|[^\W_]+")


def units(text: str) -> list[str]:
    """The text as lower-cased word-like units (words; single characters in CJK scripts)."""
    return UNIT.findall(text.lower())


def copied_shares(answer: list, question: list, n: int = NGRAM) -> tuple[float, float]:
    """(echo, repetition): shares of the answer's n-grams found in the question / earlier in the answer."""
    grams = [tuple(answer[i : i + n]) for i in range(len(answer) - n + 1)]
    if not grams:
        return 0.0, 0.0
    in_question = {tuple(question[i : i + n]) for i in range(len(question) - n + 1)}
    seen: set = set()
    echo = repeated = 0
    for gram in grams:
        if gram in in_question:
            echo += 1
        elif gram in seen:
            repeated += 1
        seen.add(gram)
    return echo / len(grams), repeated / len(grams)


def bundled_references(languages) -> dict[str, list[dict]]:
    """The bundled corpus passages (``topic``, ``text``) of every language that has them."""
    have = bundled_languages()
    return {lang: bundled_passages(lang) for lang in languages if lang in have}


@dataclass
class Quality:
    """One answer's score and the components it was made of (for logs and tests)."""

    score: float  # 1 + 4 * in_language * (1 - echo - repetition) * length factor * content
    detected: str | None  # language of the answer, None when undetectable
    tokens: int  # answer tokens scored
    fluency: float  # mean log p(answer | question prompt), nats per token
    relevance: float  # fluency minus mean log p(answer | prompt without question)
    echo: float  # share of n-grams copied from the question
    repetition: float  # share of n-grams repeated within the answer
    content: float  # calibrated fluency times calibrated relevance, in [0, 1] (NaN: not needed)


class LocalJudge:
    """``judge.backend: local``: scores answers 1-5 with the unmodified model ``lm`` (see the module docstring).

    ``template`` / ``instructions``: the generation prompt template and the
    answer-in-this-language instructions (null = bundled), so answers are
    scored after the prompt they were generated from. ``references``: per
    language, passages with ``topic`` and ``text`` for the calibration (null =
    the bundled corpus); a language without references borrows the mean
    calibration of the others. Likelihoods are cached per instance, so the
    shuffled control re-uses the question-free pass of the matched answers.
    """

    def __init__(
        self,
        lm,
        languages: list[str],
        template: str | None = None,
        instructions: dict[str, str] | None = None,
        references: dict[str, list[dict]] | None = None,
        batch_size: int = 16,
        seed: int = 0,
    ):
        self.lm, self.languages, self.batch_size, self.seed = lm, list(languages), int(batch_size), seed
        self.template = template if template is not None else load_template()
        self.instructions = instructions if instructions is not None else load_instructions()
        self.references = references if references is not None else bundled_references(self.languages)
        self.calibrations: dict[str, Calibration] = {}
        self._cache: dict[Pair, float] = {}
        self._recording: list[list[Pair]] | None = None  # likelihood_batches: the passes details() asks for
        self._complete = False  # preload(complete=True): every likelihood is given, none may be computed
        self.cost = Counter()  # sequences and tokens run through the model, LM-head rows
        name = getattr(getattr(lm.model, "config", None), "_name_or_path", None)
        self.identity = {"backend": "local", "model": name}

    # -- tokens and prompts
    def render(self, item: JudgeItem) -> str:
        """The prompt the answer's likelihood is computed after (the one it was generated from)."""
        return self._prompt(item.question, item.language)

    def _prompt(self, question: str, lang: str) -> str:
        return build_prompt(self.template, question, self.instructions.get(lang, ""))

    def _answer_ids(self, answer: str) -> list[int]:
        # generated answers follow "A:" after a space that the stored (stripped) answer lost
        if not answer.strip():
            return []
        return self.lm.tokenizer(" " + answer.strip(), add_special_tokens=False)["input_ids"][:SCORED_TOKENS]

    def _context(self, question: str, lang: str) -> list[int]:
        return self.lm.tokenizer(self._prompt(question, lang))["input_ids"]  # special tokens as in generation (BOS)

    def _logprobs(self, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
        keys = [(tuple(c), tuple(a)) for c, a in pairs]
        self._cache.update({k: math.nan for k in keys if not k[1]})  # an empty answer has no likelihood
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo and self._recording is not None:
            self._recording.append(todo)
            self._cache.update(dict.fromkeys(todo, math.nan))
        elif todo and self._complete:
            raise InputFileError(
                f"the judge's part files lack {len(todo)} likelihoods that scoring needs (files of another run?): "
                "delete the judge part files and rerun judge_part"
            )
        elif todo:
            self.cost.update(
                sequences=len(todo),
                tokens=sum(len(c) + len(a) for c, a in todo),
                head_rows=sum(len(a) for _, a in todo),
            )
            values = answer_logprobs(self.lm, [list(c) for c, _ in todo], [list(a) for _, a in todo], self.batch_size)
            self._cache.update(zip(todo, values))
        return [self._cache[k] for k in keys]

    # -- calibration
    def calibrate(self, langs: list[str]) -> None:
        """Calibrations of ``langs`` (from their reference passages, or the mean of the referenced languages)."""
        referenced = [lang for lang in self.languages if len(self.references.get(lang, [])) >= 2]
        if not set(langs) <= set(referenced):  # a borrowed calibration is the mean over every referenced language
            langs = [*langs, *referenced]
        langs = [lang for lang in dict.fromkeys(langs) if lang not in self.calibrations]
        own = [lang for lang in langs if lang in referenced]
        pairs, slots = [], {}
        for lang in own:
            passages = random.Random(f"{self.seed}:{lang}").sample(
                self.references[lang], min(ANCHORS, len(self.references[lang]))
            )
            texts = [self._answer_ids(p["text"]) for p in passages]
            shuffled = [random.Random(f"{self.seed}:{lang}:{k}").sample(t, len(t)) for k, t in enumerate(texts)]
            topics = [self._context(p["topic"], lang) for p in passages]
            empty = self._context("", lang)
            groups = {"good": zip(topics, texts), "empty": ((empty, t) for t in texts), "bad": zip(topics, shuffled)}
            for name, group in groups.items():
                group = list(group)
                slots[lang, name] = (len(pairs), len(pairs) + len(group))
                pairs += group
        values = self._logprobs(pairs)
        for lang in own:
            part = {name: values[slice(*slots[lang, name])] for name in ("good", "empty", "bad")}
            self.calibrations[lang] = Calibration(
                fluency_good=statistics.median(part["good"]),
                fluency_bad=statistics.median(part["bad"]),
                relevance_good=statistics.median(g - e for g, e in zip(part["good"], part["empty"])),
            )
            if self._recording is not None:
                continue
            log.info("local judge calibration %s: %s", lang, self.calibrations[lang])
            if not self.calibrations[lang].informative():
                log.warning("local judge calibration %s: a good anchor does not beat a bad one (a random model?)", lang)
        missing = [lang for lang in langs if lang not in referenced]
        if not missing:
            return
        if not referenced:
            raise ConfigError(
                f"judge.backend: the local judge has no reference passages for {', '.join(missing)} (the bundled corpus covers "
                "en, zh, fr, es, vi, id, ja): add a language that has them, or use judge.backend: openai"
            )
        known = [self.calibrations[lang] for lang in referenced]
        mean = Calibration(*(statistics.fmean(getattr(c, f) for c in known) for f in Calibration.__dataclass_fields__))
        if self._recording is None:
            log.warning("local judge: no reference passages for %s; using the mean calibration", ", ".join(missing))
        for lang in missing:
            self.calibrations[lang] = mean

    # -- scoring
    def details(self, items: list[JudgeItem]) -> list[Quality]:
        """Score and components of every item, in input order.

        The likelihoods are computed only where the score depends on them: an
        empty answer, one in another language or one made only of copies
        scores 1 whatever its likelihoods (those stay NaN).
        """
        unknown = sorted({it.language for it in items} - set(self.languages))
        if unknown:
            raise InputFileError(f"answers expected in {', '.join(unknown)}, not among the languages {self.languages}")
        results, factors = [], []
        answer_ids = [self._answer_ids(it.answer) for it in items]
        for it, ids in zip(items, answer_ids):
            echo, repetition = copied_shares(units(it.answer), units(it.question))
            detected = identify(it.answer, self.languages)
            factors.append((detected == it.language) * (1 - echo - repetition) * min(1.0, len(ids) / MIN_TOKENS))
            results.append(Quality(1.0, detected, len(ids), math.nan, math.nan, echo, repetition, math.nan))
        todo = [k for k, factor in enumerate(factors) if factor > 0]
        self.calibrate([items[k].language for k in todo])
        answers = [answer_ids[k] for k in todo]
        with_q = self._logprobs(
            [(self._context(items[k].question, items[k].language), a) for k, a in zip(todo, answers)]
        )
        without_q = self._logprobs([(self._context("", items[k].language), a) for k, a in zip(todo, answers)])
        for k, lp, lp0 in zip(todo, with_q, without_q):
            q, cal = results[k], self.calibrations[items[k].language]
            q.fluency, q.relevance = lp, lp - lp0
            q.content = cal.fluency(q.fluency) * cal.relevance(q.relevance)
            q.score = 1 + 4 * factors[k] * q.content
        return results

    # -- splitting (judge.jobs): the model passes of scoring, computed by several jobs, then scored from them
    def likelihood_batches(self, items: list[JudgeItem]) -> list[list[Pair]]:
        """The batches of (context, answer) token pairs that ``score(items)`` runs through the model, in the order
        it runs them (calibration, then the answers after their question, then after none): what is known before
        any is computed. ``likelihoods`` of a share of them, ``preload``ed together, give ``score`` those values."""
        saved = self._cache, self.calibrations, self.cost
        self._cache, self.calibrations, self._recording = {}, {}, []
        try:
            self.details(items)
            passes = self._recording
        finally:
            self._cache, self.calibrations, self.cost = saved
            self._recording = None
        return [
            [todo[i] for i in rows]
            for todo in passes
            for rows in logprob_batches([list(c) for c, _ in todo], [list(a) for _, a in todo], self.batch_size)
        ]

    def likelihoods(self, batches: list[list[Pair]]) -> dict[Pair, float]:
        """The mean log-probability of every pair of ``batches`` (from ``likelihood_batches``), batch by batch."""
        out = {}
        for batch in batches:
            values = batch_logprobs(self.lm, [list(c) for c, _ in batch], [list(a) for _, a in batch])
            out.update(zip(batch, values))
            self.cost.update(sequences=len(batch), tokens=sum(len(c) + len(a) for c, a in batch))
        return out

    def preload(self, likelihoods: dict[Pair, float], complete: bool = False) -> None:
        """Use these likelihoods instead of computing them; ``complete``: they are all, compute none (an error)."""
        self._cache.update(likelihoods)
        self._complete = complete

    def score(self, items) -> list[Judgement]:
        """Scores 1-5, in input order (the local judge always gives one)."""
        items = list(items)
        scores = [Judgement(q.score) for q in self.details(items)]
        log.info(
            "local judge: %d answers; cost so far %s; calibrations %s",
            len(items),
            dict(self.cost),
            {lang: asdict(c) for lang, c in self.calibrations.items()},
        )
        return scores
