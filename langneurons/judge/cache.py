"""A disk cache of scores in front of any judge, so a rerun pays only for what is not scored yet."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from ..io import atomic_write
from .base import JudgeItem, Judgement

log = logging.getLogger(__name__)


class CachedJudge:
    """``judge`` with every score kept in ``cache_dir``: one JSON file per sha256(identity, request).

    The key holds the judge's identity (backend, model, server URL) and the
    full request text (template, bare question, expected language, answer), so
    another judge model, another server or another prompt is another key.
    Only scores are kept; an item without one is asked again next time.
    Items are sent ``chunk`` at a time and each chunk's scores are stored as
    soon as it is done, so a killed or failed run loses at most one chunk.
    Files hold the identity, the request, the score and the reply (never a key).
    """

    def __init__(self, judge, cache_dir: str | Path, chunk: int = 64):
        self.judge, self.cache_dir, self.chunk = judge, Path(cache_dir), chunk
        self.identity = judge.identity
        self.hits = 0

    def render(self, item: JudgeItem) -> str:
        return self.judge.render(item)

    def key(self, item: JudgeItem) -> str:
        text = json.dumps([self.identity, self.render(item)], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def score(self, items) -> list[Judgement]:
        items = list(items)
        keys = [self.key(item) for item in items]
        results: list[Judgement | None] = [self._load(key) for key in keys]
        todo = [i for i, result in enumerate(results) if result is None]
        self.hits += len(items) - len(todo)
        log.info(
            "judge %s: %d of %d items cached, %d to ask", self.identity, len(items) - len(todo), len(items), len(todo)
        )
        for start in range(0, len(todo), self.chunk):
            part = todo[start : start + self.chunk]
            for i, judgement in zip(part, self.judge.score([items[i] for i in part])):
                results[i] = judgement
                if judgement.score is not None:
                    self._store(keys[i], items[i], judgement)
        return results

    def _path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.json"

    def _load(self, key: str) -> Judgement | None:
        path = self._path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            score = float(record["score"])
            if not 1 <= score <= 5:
                raise ValueError(f"score {score} is not in 1-5")
            return Judgement(score, None, record.get("reply"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("asking again for an unreadable judge cache entry %s (%s)", path, err)
            return None

    def _store(self, key: str, item: JudgeItem, judgement: Judgement) -> None:
        record = {
            "identity": self.identity,
            "request": self.render(item),
            "score": judgement.score,
            "reply": judgement.reply,
            "created": time.time(),
        }
        with atomic_write(self._path(key)) as fh:
            json.dump(record, fh, ensure_ascii=False)
