"""What every judge takes and gives back, and the judge that scores nothing."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge: the bare question, the answer, and the language the answer should be in."""

    question: str
    answer: str
    language: str  # a code (en, zh, ...) or an English language name


@dataclass(frozen=True)
class Judgement:
    """A 1-5 score, or None with the reason why there is none; ``reply`` is the judge's text, if any."""

    score: float | None
    missing_reason: str | None = None
    reply: str | None = field(default=None, compare=False)


class NoJudge:
    """``judge.backend: none``: every item is missing with reason "judge disabled"."""

    identity = {"backend": "none"}

    def render(self, item: JudgeItem) -> str:
        return ""

    def score(self, items) -> list[Judgement]:
        return [Judgement(None, "judge disabled (judge.backend: none)") for _ in items]
