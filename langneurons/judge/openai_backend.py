"""The paper's judge: a GPT-4-class model behind any OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..errors import JudgeError, MissingAPIKey
from .base import JudgeItem, Judgement
from .prompts import REASK_MESSAGE, parse_score, render_prompt


class OpenAIJudge:
    """Scores items through ``/chat/completions`` (OpenAI, vLLM, llama.cpp server, Ollama, ...), temperature 0.

    Retries are the openai SDK's: up to ``max_retries`` more tries after
    timeouts, connection errors and HTTP 408, 409, 429 and 5xx, with
    exponential backoff that honours the server's Retry-After. A reply that
    holds no valid score is asked again once. An item that still has no score
    comes back as ``Judgement(None, reason)``; only what would fail every item
    (a rejected key, no permission, an unknown model or endpoint) raises
    :class:`JudgeError`. The API key is read from ``os.environ[api_key_env]``
    and stays inside the client: it is in no log, reason or identity.
    """

    def __init__(
        self,
        model: str,
        template: str,
        base_url: str | None,
        api_key_env: str,
        concurrency: int,
        max_retries: int,
        timeout: float,
    ):
        from openai import OpenAI

        key = os.environ.get(api_key_env)
        if not key:
            raise MissingAPIKey(
                f"the judge needs an API key in the environment variable {api_key_env} (judge.api_key_env), "
                f"which is unset or empty: export {api_key_env}=... (any non-empty value for a local server "
                "without keys), or set judge.backend to local or none"
            )
        self._secret = key  # only to redact error messages
        self._client = OpenAI(base_url=base_url, api_key=key, max_retries=max_retries, timeout=timeout)
        self.model, self.template, self.api_key_env = model, template, api_key_env
        self.concurrency, self.max_retries = concurrency, max_retries
        self.base_url = str(self._client.base_url)  # base_url None: the SDK's default (or OPENAI_BASE_URL)
        self.identity = {"backend": "openai", "model": model, "base_url": self.base_url}
        self.requests_made = 0  # calls to the endpoint, first asks and re-asks (the SDK's retries not counted)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # no key
        return f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def render(self, item: JudgeItem) -> str:
        return render_prompt(self.template, item)

    def score(self, items) -> list[Judgement]:
        """One Judgement per item, in input order, ``concurrency`` requests at a time."""
        stop = threading.Event()

        def judge(item: JudgeItem) -> Judgement:
            if stop.is_set():
                return Judgement(None, "not asked: the judge failed on another item")
            try:
                return self._judge(item)
            except JudgeError:
                stop.set()
                raise

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(judge, item) for item in items]
        return [future.result() for future in futures]  # the first JudgeError, if any, is raised here

    def _judge(self, item: JudgeItem) -> Judgement:
        messages = [{"role": "user", "content": self.render(item)}]
        reply = self._ask(messages)
        if isinstance(reply, str) and parse_score(reply) is None:  # asked once more, for the score alone
            messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": REASK_MESSAGE}]
            reply = self._ask(messages)
        if isinstance(reply, Judgement):
            return reply
        score = parse_score(reply)
        if score is None:
            return Judgement(None, f"no score in the reply: {_clip(reply)!r}", reply)
        return Judgement(float(score), None, reply)

    def _ask(self, messages: list[dict]) -> str | Judgement:
        """The reply's text, or a missing Judgement saying why there is none (after the SDK's retries)."""
        import openai

        with self._lock:
            self.requests_made += 1
        where = f"{self.base_url} (judge.base_url)"
        try:
            response = self._client.chat.completions.create(model=self.model, messages=messages, temperature=0)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
            raise JudgeError(
                self._redact(
                    f"the judge server at {where} rejected the request with HTTP {err.status_code}: {err.message}; "
                    f"check the key in {self.api_key_env} (judge.api_key_env), judge.model and judge.base_url"
                )
            ) from None
        except openai.APIConnectionError as err:  # timeouts included
            what = "timed out" if isinstance(err, openai.APITimeoutError) else "no connection"
            cause = err.__cause__ or err
            return Judgement(None, self._redact(f"{what} at {where} after {self._retries}: {cause}"))
        except openai.APIStatusError as err:
            retried = err.status_code in (408, 409, 429) or err.status_code >= 500
            tries = f"after {self._retries}" if retried else "not retried"
            return Judgement(None, self._redact(f"HTTP {err.status_code} from {where} ({tries}): {err.message}"))
        return (response.choices[0].message.content or "") if response.choices else ""

    @property
    def _retries(self) -> str:
        return f"{self.max_retries} {'retry' if self.max_retries == 1 else 'retries'}"

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***")


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
