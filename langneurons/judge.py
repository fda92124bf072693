"""Content-quality judge for the open-ended generation experiment.

The paper (Tang et al., ACL 2024, Section 5) had GPT-4 rate each generated
answer from 1 to 5. This module provides three interchangeable judges with
the same interface, ``judge.score(items) -> list[Judgement]`` (input order):

``OpenAIJudge``
    Any OpenAI-compatible chat-completions endpoint (OpenAI itself, Azure-style
    proxies, vLLM, llama.cpp server, ...), temperature 0. Bounded concurrency,
    exponential backoff on rate limits / server errors / timeouts / connection
    errors, re-asking when a reply holds no valid score, and a disk cache of
    every successful judgement (one small JSON file per sha256(model, prompt)),
    so a rerun after a crash or a config change only pays for new items.
    One bad item never raises and never loses the others: it comes back as
    ``Judgement(None, reason)``. Only configuration errors that would fail
    every item (bad key, no permission, unknown model/endpoint) raise
    :class:`JudgeError`.

``LocalJudge``
    Offline: the expected value of the next-token distribution of a local
    causal LM restricted to the tokens "1".."5". **Much weaker than a
    GPT-4-class judge** (a small model's digit preferences are only loosely
    related to answer quality); use it for smoke runs and offline sanity
    checks, not for numbers to compare with the paper.

``NoJudge``
    Scores nothing: every item is ``Judgement(None, "judge disabled")``.

:func:`make_judge` builds one of them from the ``judge`` config section.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import os
import random
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parent / "data" / "prompts"
DEFAULT_TEMPLATE_PATH = PROMPTS_DIR / "judge.txt"
DEFAULT_LOCAL_TEMPLATE_PATH = PROMPTS_DIR / "judge_local.txt"

LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "fr": "French",
    "es": "Spanish",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ja": "Japanese",
}

BACKENDS = ("openai", "local", "none")

#: HTTP statuses below 500 that are retried (with backoff) like 5xx, timeouts and connection errors.
RETRY_STATUSES = (408, 409, 429)

#: What is said to the judge when its reply held no valid score.
REASK_MESSAGE = 'Reply with the score only, in the form "Score: N" where N is an integer from 1 to 5.'


class JudgeError(RuntimeError):
    """A judge configuration problem that would fail every item (raised, never recorded per item)."""


class MissingAPIKey(JudgeError):
    """The environment variable that should hold the API key is unset or empty."""


@dataclass
class JudgeItem:
    question: str
    answer: str
    language: str  # a code (en, zh, ...) or an English language name


@dataclass
class Judgement:
    score: float | None
    missing_reason: str | None = None


# ---------------------------------------------------------------- prompts


def language_name(language: str) -> str:
    """English name of a language code (en -> English); unknown codes pass through unchanged."""
    return LANGUAGE_NAMES.get(str(language).strip().lower(), language)


_PLACEHOLDER = re.compile(r"\{(question|answer|language)\}")


def render_prompt(template: str, item) -> str:
    """Fill ``{question}``, ``{answer}`` and ``{language}`` in ``template``.

    A single pass substitutes only these three placeholders: other braces in the
    template stay literal, and placeholder-like text inside a question or an
    answer is never expanded (no ``str.format`` surprises, no injection).
    """
    values = {
        "question": str(item.question),
        "answer": str(item.answer),
        "language": language_name(item.language),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def load_template(path: str | Path | None = None, local: bool = False) -> str:
    """The template text at ``path``, or the bundled one (``judge_local.txt`` when ``local``)."""
    if path is None:
        path = DEFAULT_LOCAL_TEMPLATE_PATH if local else DEFAULT_TEMPLATE_PATH
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"judge prompt template '{path}' does not exist")
    return check_template(path.read_text(encoding="utf-8"), str(path))


def check_template(template: str, where: str = "judge template") -> str:
    missing = [p for p in ("{question}", "{answer}") if p not in template]
    if missing:
        raise ValueError(f"{where} lacks the placeholder(s) {', '.join(missing)}")
    return template


# ---------------------------------------------------------------- parsing

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


# ---------------------------------------------------------------- judges


class NoJudge:
    """The judge is disabled: every item is missing with reason "judge disabled"."""

    backend = "none"

    def score(self, items) -> list[Judgement]:
        return [Judgement(None, "judge disabled") for _ in items]

    def describe(self) -> dict:
        return {"backend": "none"}


class OpenAIJudge:
    """A GPT-4-class judge behind any OpenAI-compatible chat-completions endpoint.

    ``requests_made`` counts every HTTP request sent (first tries, retries and
    re-asks), ``cache_hits`` every item answered from ``cache_dir`` without a
    request; ``retries`` and ``reasks`` count the two kinds of repeat. The API
    key is read from ``os.environ[api_key_env]`` and kept only inside the
    client: it is never logged nor written to the cache (which holds the
    model, the prompt, the reply and the score).

    ``cache_dir=None`` disables the disk cache (every run pays again).
    """

    backend = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        template: str | None = None,
        cache_dir: str | Path | None = None,
        concurrency: int = 4,
        max_retries: int = 4,
        timeout: float = 60.0,
        backoff: float = 1.0,
        invalid_retries: int = 2,
        max_tokens: int | None = None,
    ):
        from openai import OpenAI

        if not model or not isinstance(model, str):
            raise ValueError("OpenAIJudge needs a model name (judge.model), e.g. 'gpt-4o'")
        if int(concurrency) < 1:
            raise ValueError(f"judge concurrency must be >= 1, got {concurrency}")
        if int(max_retries) < 0 or int(invalid_retries) < 0:
            raise ValueError("judge max_retries and invalid_retries must be >= 0")
        if not float(timeout) > 0:
            raise ValueError(f"judge timeout must be > 0 seconds, got {timeout}")
        key = os.environ.get(api_key_env)
        if not key:
            raise MissingAPIKey(
                f"The judge needs an API key in the environment variable {api_key_env}, which is "
                f"unset or empty. Export it (export {api_key_env}=...), point judge.api_key_env at "
                "the variable that holds it (any non-empty value works for a local server without "
                "keys), or set judge.backend to 'local' or 'none'."
            )
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.template = check_template(template if template is not None else load_template())
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.backoff = float(backoff)
        self.invalid_retries = int(invalid_retries)
        self.max_tokens = max_tokens
        self._secret = key  # only for redacting error messages; never stored elsewhere
        self._client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=self.timeout)
        self._lock = threading.Lock()
        self._abort = threading.Event()
        self._sleep = time.sleep
        self.requests_made = 0
        self.cache_hits = 0
        self.retries = 0
        self.reasks = 0
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:  # no key
        return f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def describe(self) -> dict:
        return {
            "backend": "openai",
            "model": self.model,
            "base_url": self.base_url,
            "template_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest(),
        }

    # ------------------------------------------------------------ cache

    def cache_key(self, prompt: str) -> str:
        return hashlib.sha256(json.dumps([self.model, prompt], ensure_ascii=False).encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.json"

    def _load(self, key: str) -> float | None:
        if self.cache_dir is None:
            return None
        path = self._cache_path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            score = record["score"]
            if score is None or not 1 <= float(score) <= 5:
                raise ValueError(f"bad score {score!r}")
            return float(score)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("ignoring unreadable judge cache entry %s (%s)", path, err)
            return None

    def _store(self, key: str, prompt: str, reply: str, score: int) -> None:
        if self.cache_dir is None:
            return
        record = {"model": self.model, "score": score, "reply": reply, "prompt": prompt, "created": time.time()}
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{key[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, ensure_ascii=False)
            os.replace(tmp, self._cache_path(key))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    # ------------------------------------------------------------ scoring

    def score(self, items) -> list[Judgement]:
        """One Judgement per item, in input order; identical prompts are asked once."""
        items = list(items)
        self._abort.clear()
        results: list[Judgement | None] = [None] * len(items)
        pending: dict[str, tuple[str, list[int]]] = {}
        for i, item in enumerate(items):
            prompt = render_prompt(self.template, item)
            key = self.cache_key(prompt)
            cached = self._load(key)
            if cached is not None:
                results[i] = Judgement(cached)
                with self._lock:
                    self.cache_hits += 1
            elif key in pending:
                pending[key][1].append(i)
            else:
                pending[key] = (prompt, [i])
        log.info(
            "judge %s: %d items, %d cached, %d to ask",
            self.model,
            len(items),
            len(items) - sum(len(ix) for _, ix in pending.values()),
            len(pending),
        )

        fatal: list[BaseException] = []
        if pending:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(pending))) as pool:
                futures = {pool.submit(self._judge_uncached, key, prompt): key for key, (prompt, _) in pending.items()}
                for future in as_completed(futures):
                    key = futures[future]
                    try:
                        judgement = future.result()
                    except JudgeError as err:
                        fatal.append(err)
                        self._abort.set()
                        judgement = Judgement(None, self._redact(str(err)))
                    except Exception as err:  # a bug or an unexpected client error: this item only
                        log.exception("judge request failed unexpectedly")
                        judgement = Judgement(None, self._redact(f"unexpected error: {type(err).__name__}: {err}"))
                    for i in pending[key][1]:
                        results[i] = Judgement(judgement.score, judgement.missing_reason)
        if fatal:
            raise fatal[0]
        missing = sum(r.score is None for r in results)
        if missing:
            log.warning("judge %s: %d of %d items have no score", self.model, missing, len(items))
        return results

    def _judge_uncached(self, key: str, prompt: str) -> Judgement:
        """Ask until a valid score, the retry budget or the re-ask budget runs out."""
        import openai

        messages = [{"role": "user", "content": prompt}]
        failures = 0
        invalid = 0
        while True:
            if self._abort.is_set():
                return Judgement(None, "aborted: another request hit a fatal error")
            try:
                reply = self._request(messages)
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
                raise JudgeError(
                    self._redact(
                        f"judge request rejected ({type(err).__name__}, HTTP {getattr(err, 'status_code', '?')}): "
                        f"{err}. Check the key in {self.api_key_env}, judge.model and judge.base_url."
                    )
                ) from None
            except (openai.APIConnectionError, openai.APIStatusError) as err:  # timeouts are connection errors
                status = getattr(err, "status_code", None)
                if status is not None and status not in RETRY_STATUSES and status < 500:
                    # 400, 413, 422, ...: this item cannot be judged; asking again will not help
                    reason = self._redact(f"{type(err).__name__} (HTTP {status}): {err}")
                    log.warning("judge rejected an item: %s", reason)
                    return Judgement(None, f"request rejected: {reason}")
                failures += 1
                reason = self._redact(f"{type(err).__name__}: {err}")
                if failures > self.max_retries:
                    log.warning("judge request failed %d times, giving up on this item: %s", failures, reason)
                    return Judgement(None, f"request failed after {failures} attempts: {reason}")
                delay = self._delay(failures, err)
                log.info("judge request failed (%s); retry %d/%d in %.2f s", reason, failures, self.max_retries, delay)
                with self._lock:
                    self.retries += 1
                self._sleep(delay)
                continue
            score = parse_score(reply)
            if score is not None:
                self._store(key, prompt, reply, score)
                return Judgement(float(score))
            invalid += 1
            if invalid > self.invalid_retries:
                log.warning("judge gave no valid score in %d replies; last: %r", invalid, _clip(reply))
                return Judgement(None, f"no score in reply: {_clip(reply)!r}")
            with self._lock:
                self.reasks += 1
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": reply},
                {"role": "user", "content": REASK_MESSAGE},
            ]

    def _request(self, messages: list[dict]) -> str:
        with self._lock:
            self.requests_made += 1
        kwargs = dict(model=self.model, messages=messages, temperature=0)
        if self.max_tokens:
            kwargs["max_tokens"] = int(self.max_tokens)
        response = self._client.chat.completions.create(**kwargs)
        if not response.choices:
            return ""
        return response.choices[0].message.content or ""

    def _delay(self, failures: int, err) -> float:
        """Exponential backoff with jitter; a server's Retry-After (capped at 60 s) is honoured."""
        delay = self.backoff * (2 ** (failures - 1)) * (1 + 0.25 * random.random())
        response = getattr(err, "response", None)
        retry_after = None
        if response is not None:
            try:
                retry_after = float(response.headers.get("retry-after"))
            except (TypeError, ValueError):
                retry_after = None
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            delay = max(delay, min(retry_after, 60.0))
        return delay

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _clip(text: str, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


class LocalJudge:
    """Offline judge: expected score under a local causal LM's next-token distribution.

    After the rendered prompt (trailing whitespace removed; the bundled
    ``judge_local.txt`` ends with "Score (1-5):") the next-token logits are
    restricted to the tokens "1".."5", softmaxed and averaged:
    ``score = sum_k k * p(k)``, a float in [1, 5]. Prompts are batched with
    LEFT padding, an attention mask and mask-derived position ids, so a batch
    gives the same scores as one prompt at a time.

    This is **much weaker than a GPT-4-class judge**: a small model's
    preference among digit tokens is only loosely tied to answer quality and
    is biased by the prompt's wording. Good for smoke runs and offline checks;
    do not compare its numbers with the paper's GPT-4 ratings.
    """

    backend = "local"

    def __init__(self, lm, template: str | None = None, batch_size: int = 8):
        if int(batch_size) < 1:
            raise ValueError(f"judge batch_size must be >= 1, got {batch_size}")
        self.lm = lm
        self.template = check_template(template if template is not None else load_template(local=True))
        self.batch_size = int(batch_size)
        self.digit_ids = digit_token_ids(lm.tokenizer)

    def describe(self) -> dict:
        return {
            "backend": "local",
            "model": getattr(getattr(self.lm.model, "config", None), "_name_or_path", None),
            "template_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest(),
        }

    def score(self, items) -> list[Judgement]:
        import torch

        prompts = [render_prompt(self.template, item).rstrip() for item in items]
        if not prompts:
            return []
        tokenizer = self.lm.tokenizer
        encoded = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))  # less padding per batch
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        base = self.lm.base()
        takes_positions = "position_ids" in inspect.signature(base.forward).parameters
        values = torch.arange(1, 6, dtype=torch.float32)
        scores: list[float] = [0.0] * len(prompts)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(encoded[i]) for i in batch)
                ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # LEFT padding: the last position is the prompt's end
                    seq = encoded[i]
                    ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
                    mask[row, width - len(seq) :] = 1
                kwargs = dict(input_ids=ids.to(self.lm.device), attention_mask=mask.to(self.lm.device), use_cache=False)
                if takes_positions:
                    kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(self.lm.device)
                hidden = base(**kwargs).last_hidden_state[:, -1]
                logits = self.lm.adapter.logits(self.lm.model, hidden).float()
                probs = torch.softmax(logits[:, self.digit_ids], dim=-1).cpu()
                for row, value in zip(batch, (probs * values).sum(-1).tolist()):
                    scores[row] = min(5.0, max(1.0, float(value)))
        return [Judgement(s) for s in scores]


def digit_token_ids(tokenizer) -> list[int]:
    """Token ids of "1".."5": the last id of each digit encoded alone (no special tokens).

    Sentencepiece tokenizers may prefix a word-boundary token ("▁", "4"), hence
    the last id; ``convert_tokens_to_ids`` is the fallback. The five ids must
    be distinct and decode to their digit.
    """
    ids = []
    for digit in "12345":
        found = None
        encoded = tokenizer.encode(digit, add_special_tokens=False)
        if encoded and tokenizer.decode([encoded[-1]]).strip() == digit:
            found = encoded[-1]
        else:
            direct = tokenizer.convert_tokens_to_ids(digit)
            if direct is not None and direct != getattr(tokenizer, "unk_token_id", None):
                found = direct
        if found is None:
            raise ValueError(f"the tokenizer has no single token for the digit '{digit}'; LocalJudge cannot score")
        ids.append(int(found))
    if len(set(ids)) != 5:
        raise ValueError(f"the digits 1-5 do not map to five distinct tokens ({ids}); LocalJudge cannot score")
    return ids


# ---------------------------------------------------------------- factory

_KNOWN_KEYS = {
    "backend",
    "model",
    "base_url",
    "api_key_env",
    "concurrency",
    "max_retries",
    "timeout",
    "prompt",
    "backoff",
    "invalid_retries",
    "max_tokens",
    "batch_size",
}


def make_judge(cfg: dict | None, lm=None, cache_dir: str | Path | None = None):
    """Build the judge that the ``judge`` config section asks for.

    Keys: ``backend`` (openai | local | none; default none), ``model`` (openai:
    the judge model, required), ``base_url`` (openai: endpoint, null = OpenAI),
    ``api_key_env`` (default OPENAI_API_KEY), ``concurrency`` (4),
    ``max_retries`` (4), ``timeout`` (60 s), ``prompt`` (template path, null =
    bundled), and optionally ``backoff`` (1 s), ``invalid_retries`` (2),
    ``max_tokens`` (null) and ``batch_size`` (local, 8). ``lm`` (a
    LoadedModel) is required for the local backend; ``cache_dir`` is where
    the openai backend caches its judgements (null = no cache).
    """
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(f"unknown judge config key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KNOWN_KEYS))}")
    backend = cfg.get("backend") or "none"
    if backend not in BACKENDS:
        raise ValueError(f"judge.backend '{backend}' is not one of: {', '.join(BACKENDS)}")
    if backend == "none":
        return NoJudge()

    def number(key, default, kind, minimum):
        value = cfg.get(key)
        if value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not math.isfinite(value))
            or (kind is int and value != int(value))
        ):
            raise ValueError(f"judge.{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        value = kind(value)
        if value < minimum:
            raise ValueError(f"judge.{key} must be >= {minimum}, got {value!r}")
        return value

    prompt = cfg.get("prompt")
    if prompt is not None and not isinstance(prompt, (str, Path)):
        raise ValueError(f"judge.prompt must be a path to a template file or null, got {prompt!r}")
    template = load_template(prompt, local=backend == "local")

    if backend == "local":
        if lm is None:
            raise ValueError("judge.backend 'local' needs a loaded model: pass lm= to make_judge")
        return LocalJudge(lm, template, batch_size=number("batch_size", 8, int, 1))

    model = cfg.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"judge.backend 'openai' needs judge.model, e.g. 'gpt-4o' (got {model!r})")
    base_url = cfg.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.strip()):
        raise ValueError(f"judge.base_url must be a URL or null, got {base_url!r}")
    api_key_env = cfg.get("api_key_env") or "OPENAI_API_KEY"
    if not isinstance(api_key_env, str):
        raise ValueError(f"judge.api_key_env must be the name of an environment variable, got {api_key_env!r}")
    timeout = number("timeout", 60.0, float, 0.0)
    if timeout <= 0:
        raise ValueError(f"judge.timeout must be > 0 seconds, got {timeout!r}")
    return OpenAIJudge(
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        template=template,
        cache_dir=cache_dir,
        concurrency=number("concurrency", 4, int, 1),
        max_retries=number("max_retries", 4, int, 0),
        timeout=timeout,
        backoff=number("backoff", 1.0, float, 0.0),
        invalid_retries=number("invalid_retries", 2, int, 0),
        max_tokens=number("max_tokens", None, int, 1),
    )
