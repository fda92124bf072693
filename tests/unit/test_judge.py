"""The content-quality judges: score parsing, prompts, the OpenAI judge against a scripted local
OpenAI-compatible server (the SDK's retries, re-asks, stalls, key hygiene), the disk cache in front of
any judge and the factory (the local judge: test_local_judge.py).

Everything runs on 127.0.0.1; timeouts are short and every loop is bounded.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from langneurons.bundled import JUDGE_TEMPLATE as TEMPLATE
from langneurons.errors import JudgeError, MissingAPIKey
from langneurons.judge import (
    CachedJudge,
    JudgeItem,
    Judgement,
    NoJudge,
    language_name,
    make_judge,
    parse_score,
    render_prompt,
)
from langneurons.judge.openai_backend import OpenAIJudge
from langneurons.judge.prompts import REASK_MESSAGE

from ..judge_fakes import FakeOpenAI, free_port, judge_config

SECRET = "sk-test-SECRET-0123456789"
TIMEOUT_S = 0.75


# ---------------------------------------------------------------- parse_score


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Score: 4", 4),
        ("4", 4),
        ("  5\n", 5),
        ("4.", 4),
        ("Rating: 4/5", 4),
        ("**3**", 3),
        ("**Score:** 2", 2),
        ("Score: **4**", 4),
        ("score of 1", 1),
        ("My rating is 5.", 5),
        ("Score (1-5): 2", 2),
        ("On a scale of 1 to 5, I rate it 4 out of 5.", 4),
        ("4/5", 4),
        ("Score: 4.0", 4),
        ("Score: 5\n\nScore: 5", 5),
        ("Score： 3", 3),  # full-width colon
        ("Score: 4\n- 5 would need more detail", 4),
        # absent, ambiguous or out of range -> None
        ("7", None),
        ("0", None),
        ("Score: 6", None),
        ("Score: 3.5", None),
        ("between 3 and 4", None),
        ("Score: 3-4", None),
        ("Score: 3 or 4", None),
        ("Score: 2\nScore: 4", None),
        ("8/10", None),
        ("Rating: 10/10", None),
        ("I like it", None),
        ("I'd give it a 4.", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_score(text, expected):
    assert parse_score(text) == expected


# ---------------------------------------------------------------- prompts


def test_language_names():
    names = [language_name(c) for c in ["en", "zh", "fr", "es", "vi", "id", "ja"]]
    assert names == ["English", "Chinese", "French", "Spanish", "Vietnamese", "Indonesian", "Japanese"]
    assert language_name("ZH") == "Chinese" and language_name("de") == "German"  # any ISO 639-1 code
    assert language_name("Korean") == "Korean" and language_name("xx") == "xx"  # names and unknown codes pass


def test_render_prompt_fills_only_the_three_placeholders():
    template = 'Q={question} A={answer} L={language} json={"x": 1} {other}'
    item = JudgeItem(question="Why {answer}?", answer="Because {language}.", language="fr")
    assert render_prompt(template, item) == 'Q=Why {answer}? A=Because {language}. L=French json={"x": 1} {other}'


def test_bundled_template_asks_for_the_expected_language():
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "{question}" in text and "{answer}" in text and "{language}" in text
    # the judge is told the language the answer should be in, never "the user asked in" it
    assert "asked in {language}" not in text
    assert "Score: N" in text


# ---------------------------------------------------------------- OpenAI judge


def scripted(prompt: str, attempt: int, body: dict):
    """Replies by the marker QID=<kind>-<n> in the question (attempt counts every request of that prompt)."""
    kind = re.search(r"QID=(\w+)-", prompt).group(1)
    reask = len(body["messages"]) > 1
    return {
        "good": "Score: 4",
        "bad": "I like it",  # never a score, even when re-asked
        "fixlater": "Score: 2" if reask else "I like it",
        "flaky429": 429 if attempt == 1 else "Score: 3",
        "flaky500": 500 if attempt == 1 else "**5**",
        "down": 500,
        "stall": None,
        "reject": 400,
        "auth": 401,
    }[kind]


@pytest.fixture
def server():
    fake = FakeOpenAI(scripted)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


def openai_judge(base_url: str, cache_dir=None, **values):
    cfg = judge_config(**{"backend": "openai", "model": "judge-model", "base_url": base_url, **values})
    return make_judge(cfg, cache_dir=cache_dir)


def item(qid: str, lang: str = "en") -> JudgeItem:
    return JudgeItem(question=f"Question QID={qid} ?", answer=f"An answer to {qid}.", language=lang)


def asked(server, kind: str) -> int:
    return sum(f"QID={kind}-" in p for p in server.prompts())


def assert_no_secret(directory: Path) -> list[Path]:
    files = [p for p in Path(directory).rglob("*") if p.is_file()]
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    return files


def test_sdk_retries_reasks_and_missing_items_keep_order(server, key, caplog):
    caplog.set_level(logging.DEBUG)
    kinds = ["good-1", "flaky429-1", "bad-1", "flaky500-1", "stall-1", "down-1", "fixlater-1", "reject-1", "good-2"]
    judge = openai_judge(server.base_url, max_retries=1, timeout=TIMEOUT_S)  # the SDK's own default is 2
    results = dict(zip(kinds, judge.score([item(k) for k in kinds])))

    assert results["good-1"] == Judgement(4.0) == results["good-2"]
    assert results["flaky429-1"] == Judgement(3.0)  # a 429 retried by the SDK
    assert results["flaky500-1"] == Judgement(5.0)  # one 500 retried
    assert results["fixlater-1"] == Judgement(2.0)  # no score, asked once more, then a score
    assert results["good-1"].reply == "Score: 4"
    where = f"{server.base_url}/ (judge.base_url)"
    assert results["bad-1"].score is None and results["bad-1"].missing_reason == "no score in the reply: 'I like it'"
    assert results["stall-1"].missing_reason.startswith(f"timed out at {where} after 1 retry")
    assert results["down-1"].missing_reason.startswith(f"HTTP 500 from {where} (after 1 retry)")
    assert results["reject-1"].missing_reason.startswith(f"HTTP 400 from {where} (not retried)")

    # requests: a retry of 429/5xx/timeouts (max_retries=1), one re-ask without a score, none for a 400
    counts = {k: asked(server, k.split("-")[0]) for k in kinds}
    assert counts == {
        "good-1": 2,  # good-1 and good-2
        "good-2": 2,
        "flaky429-1": 2,
        "bad-1": 2,
        "flaky500-1": 2,
        "stall-1": 2,
        "down-1": 2,
        "fixlater-1": 2,
        "reject-1": 1,
    }
    assert judge.requests_made == 2 + 1 + 2 + 1 + 1 + 1 + 2 + 1 == 11  # first asks and re-asks, not retries
    for request in server.requests:
        assert request["authorization"] == f"Bearer {SECRET}"
        assert request["body"]["temperature"] == 0 and request["body"]["model"] == "judge-model"
    reasks = [r["body"]["messages"] for r in server.requests if len(r["body"]["messages"]) > 1]
    assert len(reasks) == 2
    for messages in reasks:
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[1]["content"] == "I like it" and messages[2]["content"] == REASK_MESSAGE
    assert SECRET not in caplog.text
    assert all(SECRET not in (r.missing_reason or "") for r in results.values())
    assert SECRET not in repr(judge)


def test_endpoint_down_gives_a_reason_naming_the_server(key):
    url = f"http://127.0.0.1:{free_port()}/v1"
    (result,) = openai_judge(url, max_retries=1, timeout=TIMEOUT_S).score([item("good-1")])
    assert result.score is None
    assert (
        result.missing_reason
        == f"no connection at {url}/ (judge.base_url) after 1 retry: [Errno 111] Connection refused"
    )


def test_rejected_key_stops_the_judge_without_leaking_it(server, key, caplog):
    caplog.set_level(logging.DEBUG)
    judge = openai_judge(server.base_url, concurrency=1)
    with pytest.raises(JudgeError) as info:
        judge.score([item("auth-1"), item("good-1"), item("good-2")])
    message = str(info.value)
    assert "HTTP 401" in message and "OPENAI_API_KEY (judge.api_key_env)" in message and "***" in message
    assert SECRET not in message and SECRET not in caplog.text
    assert asked(server, "auth") == 1 and asked(server, "good") == 0  # no retries, nothing asked after it


def test_missing_api_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKey, match=r"OPENAI_API_KEY \(judge.api_key_env\), which is unset"):
        openai_judge("http://127.0.0.1:9/v1")
    monkeypatch.setenv("MY_JUDGE_KEY", "")
    with pytest.raises(MissingAPIKey, match="MY_JUDGE_KEY"):
        openai_judge("http://127.0.0.1:9/v1", api_key_env="MY_JUDGE_KEY")


def test_empty_input(server, key):
    assert openai_judge(server.base_url).score([]) == [] and server.requests == []


# ---------------------------------------------------------------- cache


def test_cache_second_run_is_free_and_new_items_only_pay_for_themselves(server, key, tmp_path):
    cache = tmp_path / "judge_cache"
    items = [item("good-a", "zh"), item("good-b", "fr"), item("bad-c", "ja")]
    first = openai_judge(server.base_url, cache)
    assert isinstance(first, CachedJudge)
    assert [r.score for r in first.score(items)] == [4.0, 4.0, None]
    assert len(server.requests) == 4  # bad-c was asked twice (a re-ask)

    second = openai_judge(server.base_url, cache)
    assert [r.score for r in second.score(items + [item("good-new", "vi")])] == [4.0, 4.0, None, 4.0]
    assert second.hits == 2  # only the unscored item and the new one are asked
    assert sorted(re.search(r"QID=(\S+)", p).group(1) for p in server.prompts()[4:]) == ["bad-c", "bad-c", "good-new"]

    files = assert_no_secret(cache)
    assert len(files) == 3 and all(f.suffix == ".json" for f in files)  # scored items only, no temporary files
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert record["score"] == 4 and record["reply"] == "Score: 4" and "QID=good-" in record["request"]
    assert record["identity"] == {"backend": "openai", "model": "judge-model", "base_url": server.base_url + "/"}


def test_cache_key_holds_the_model_the_server_and_the_request(server, key, tmp_path):
    first = openai_judge(server.base_url, tmp_path)
    same = openai_judge(server.base_url, tmp_path)
    other_model = openai_judge(server.base_url, tmp_path, model="another-judge")
    other_server = openai_judge(server.base_url.replace("127.0.0.1", "localhost"), tmp_path)
    a = item("good-a")
    assert first.key(a) == same.key(a)
    assert len({first.key(a), other_model.key(a), other_server.key(a), first.key(item("good-b"))}) == 4
    assert first.key(a) != first.key(JudgeItem(a.question, a.answer, "zh"))  # the expected language is asked
    first.score([a])
    other_server.score([a])  # same model, another server: asked again
    assert len(server.requests) == 2 and other_server.hits == 0


class CountingJudge:
    """A backend that scores by answer length (1-5; else no score), counts what it is asked, fails when told to."""

    identity = {"backend": "counting"}

    def __init__(self, fail_on: str | None = None):
        self.asked: list[JudgeItem] = []
        self.fail_on = fail_on

    def render(self, item: JudgeItem) -> str:
        return f"{item.question}|{item.answer}|{item.language}"

    def score(self, items) -> list[Judgement]:
        items = list(items)
        if any(i.answer == self.fail_on for i in items):
            raise JudgeError("boom")
        self.asked += items
        return [Judgement(float(len(i.answer))) if 1 <= len(i.answer) <= 5 else Judgement(None, "no") for i in items]


def test_any_backend_can_be_cached_and_each_chunk_is_kept_when_a_later_one_fails(tmp_path):
    items = [JudgeItem(f"q{i}", "a" * (i % 7), "en") for i in range(10)]  # answer lengths 0-6, then 0-2
    failing = CachedJudge(CountingJudge(fail_on="a" * 6), tmp_path, chunk=4)  # the 2nd chunk holds item 6
    with pytest.raises(JudgeError):
        failing.score(items)
    assert len(list(tmp_path.glob("*.json"))) == 3  # the first chunk's scores (items 1-3) are kept
    backend = CountingJudge()
    cached = CachedJudge(backend, tmp_path, chunk=4)
    assert [r.score for r in cached.score(items)] == [None, 1.0, 2.0, 3.0, 4.0, 5.0, None, None, 1.0, 2.0]
    assert [i.question for i in backend.asked] == ["q0"] + [f"q{i}" for i in range(4, 10)] and cached.hits == 3


def test_unreadable_cache_entry_is_asked_again(tmp_path, caplog):
    judge = CachedJudge(CountingJudge(), tmp_path)
    judge.score([JudgeItem("q", "abc", "en")])
    (entry,) = tmp_path.glob("*.json")
    entry.write_text("{not json")
    again = CachedJudge(CountingJudge(), tmp_path)
    assert again.score([JudgeItem("q", "abc", "en")]) == [Judgement(3.0)] and again.hits == 0
    assert "unreadable judge cache entry" in caplog.text and json.loads(entry.read_text())["score"] == 3.0


ITEMS = [
    JudgeItem("How can I sleep better?", "Go to bed at the same time every day.", "en"),
    JudgeItem("Comment économiser de l'argent ?", "Faites une liste.", "fr"),
    JudgeItem("如何学习?", "每天练习。" * 5, "zh"),
    JudgeItem("Q", "", "ja"),
    JudgeItem("¿Qué es un volcán?", "Una montaña que puede expulsar lava, ceniza y gases.", "es"),
]


# ---------------------------------------------------------------- factory


def test_make_judge_builds_each_backend_from_the_validated_config(server, key, tmp_path):
    assert NoJudge().score(ITEMS[:2]) == [Judgement(None, "judge disabled (judge.backend: none)")] * 2
    assert isinstance(make_judge(judge_config(backend="none")), NoJudge)

    remote = openai_judge(server.base_url, concurrency=2, max_retries=1, timeout=5)
    assert isinstance(remote, OpenAIJudge)  # no cache_dir: not cached
    assert (remote.concurrency, remote.max_retries, remote._client.timeout) == (2, 1, 5)
    assert remote.template == TEMPLATE.read_text(encoding="utf-8")
    cached = openai_judge(server.base_url, tmp_path / "c")
    assert isinstance(cached, CachedJudge) and cached.score([item("good-f")]) == [Judgement(4.0)]
    assert len(list((tmp_path / "c").glob("*.json"))) == 1

    custom = tmp_path / "mine.txt"
    custom.write_text("Rate {question} / {answer} in {language}.", encoding="utf-8")
    assert openai_judge(server.base_url, prompt=str(custom)).template == custom.read_text()
