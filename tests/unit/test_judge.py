"""The content-quality judge: score parsing, prompts, the OpenAI judge against a
scripted local OpenAI-compatible server (retries, re-asks, stalls, cache, key
hygiene), the local LM judge and the factory.

Everything runs on 127.0.0.1; timeouts are short and every loop is bounded.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from langneurons.judge import (
    DEFAULT_LOCAL_TEMPLATE_PATH,
    DEFAULT_TEMPLATE_PATH,
    REASK_MESSAGE,
    JudgeError,
    JudgeItem,
    Judgement,
    LocalJudge,
    MissingAPIKey,
    NoJudge,
    OpenAIJudge,
    digit_token_ids,
    language_name,
    make_judge,
    parse_score,
    render_prompt,
)

from ..conftest import loaded

SECRET = "sk-test-SECRET-0123456789"
STALL_S = 2.0  # longer than the client timeout below; bounded and released at shutdown
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
    assert [language_name(c) for c in ["en", "zh", "fr", "es", "vi", "id", "ja"]] == [
        "English",
        "Chinese",
        "French",
        "Spanish",
        "Vietnamese",
        "Indonesian",
        "Japanese",
    ]
    assert language_name("ZH") == "Chinese"
    assert language_name("de") == "de"  # unknown codes pass through
    assert language_name("Korean") == "Korean"


def test_render_prompt_fills_only_the_three_placeholders():
    template = 'Q={question} A={answer} L={language} json={"x": 1} {other}'
    item = JudgeItem(question="Why {answer}?", answer="Because {language}.", language="fr")
    out = render_prompt(template, item)
    assert out == 'Q=Why {answer}? A=Because {language}. L=French json={"x": 1} {other}'
    assert render_prompt("{language}", JudgeItem("q", "a", "xx")) == "xx"


def test_bundled_templates():
    for path in (DEFAULT_TEMPLATE_PATH, DEFAULT_LOCAL_TEMPLATE_PATH):
        text = path.read_text(encoding="utf-8")
        assert "{question}" in text and "{answer}" in text and "{language}" in text
    assert "Score: N" in DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8")
    assert DEFAULT_LOCAL_TEMPLATE_PATH.read_text(encoding="utf-8").rstrip().endswith("Score (1-5):")
    prompt = render_prompt(DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8"), JudgeItem("Q?", "A.", "ja"))
    assert "Japanese" in prompt and "Q?" in prompt and "A." in prompt


# ---------------------------------------------------------------- fake server


class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1, scripted per question.

    Each question holds a marker ``QID=<kind>-<n>``; the kind decides the reply:
      good       "Score: 4"              flaky429  429 twice, then "Score: 3"
      bad        "I like it" (always)    flaky500  500 once, then "Score: 5"
      stall      sleeps past the timeout down      500 always
      fixlater   "I like it", then "Score: 2" when re-asked
      auth       401 echoing the key     reject    400
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.attempts: dict[str, int] = {}
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})
                prompt = body["messages"][0]["content"]
                qid = re.search(r"QID=(\S+)", prompt).group(1)
                with fake.lock:
                    fake.attempts[qid] = attempt = fake.attempts.get(qid, 0) + 1
                    fake.requests.append({"qid": qid, "body": body, "authorization": self.headers.get("Authorization")})
                kind = qid.split("-")[0]
                reask = len(body["messages"]) > 1
                try:
                    if kind == "good":
                        self._reply(body, "Score: 4")
                    elif kind == "bad":
                        self._reply(body, "I like it")
                    elif kind == "fixlater":
                        self._reply(body, "Score: 2" if reask else "I like it")
                    elif kind == "flaky429":
                        if attempt <= 2:
                            self._error(429, "rate_limit_exceeded")
                        else:
                            self._reply(body, "Score: 3")
                    elif kind == "flaky500":
                        if attempt <= 1:
                            self._error(500, "server_error")
                        else:
                            self._reply(body, "**5**")
                    elif kind == "down":
                        self._error(500, "server_error")
                    elif kind == "stall":
                        fake.release.wait(STALL_S)
                        self._reply(body, "Score: 1")
                    elif kind == "auth":
                        auth = self.headers.get("Authorization", "")
                        self._error(401, "invalid_api_key", f"Incorrect API key provided: {auth[7:]}")
                    elif kind == "reject":
                        self._error(400, "context_length_exceeded")
                    else:
                        self._error(500, "unknown kind")
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def _reply(self, body, text):
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 1700000000,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                                "logprobs": None,
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                    },
                )

            def _error(self, status, code, message=None):
                self._send(status, {"error": {"message": message or code, "type": code, "param": None, "code": code}})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def count(self, kind: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if kind is None or r["qid"].split("-")[0] == kind)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    fake = FakeOpenAI()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


def judge_for(server, cache_dir, **kwargs):
    options = dict(
        model="judge-model",
        base_url=server.base_url,
        cache_dir=cache_dir,
        concurrency=4,
        max_retries=2,
        timeout=TIMEOUT_S,
        backoff=0.01,
        invalid_retries=1,
    )
    options.update(kwargs)
    return OpenAIJudge(**options)


def item(qid: str, lang: str = "en") -> JudgeItem:
    return JudgeItem(question=f"Question QID={qid} ?", answer=f"An answer to {qid}.", language=lang)


def assert_no_secret(directory: Path):
    files = [p for p in Path(directory).rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data and b"SECRET" not in data, path
    return files


# ---------------------------------------------------------------- OpenAI judge


def test_retries_reasks_and_missing_items_keep_order(server, key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    kinds = ["good-1", "flaky429-1", "bad-1", "flaky500-1", "stall-1", "down-1", "fixlater-1", "good-2"]
    judge = judge_for(server, tmp_path / "cache")
    results = judge.score([item(k) for k in kinds])

    assert len(results) == len(kinds) and all(isinstance(r, Judgement) for r in results)
    by_kind = dict(zip(kinds, results))
    assert by_kind["good-1"] == Judgement(4.0) and by_kind["good-2"] == Judgement(4.0)
    assert by_kind["flaky429-1"] == Judgement(3.0)  # two 429s retried
    assert by_kind["flaky500-1"] == Judgement(5.0)  # one 500 retried
    assert by_kind["fixlater-1"] == Judgement(2.0)  # malformed, re-asked, then valid
    bad = by_kind["bad-1"]
    assert (
        bad.score is None and bad.missing_reason.startswith("no score in reply") and "I like it" in bad.missing_reason
    )
    stall = by_kind["stall-1"]
    assert stall.score is None and "3 attempts" in stall.missing_reason and "Timeout" in stall.missing_reason
    down = by_kind["down-1"]
    assert down.score is None and "3 attempts" in down.missing_reason and "InternalServerError" in down.missing_reason

    # request counts: 1 + (1 + 2 retries) + (1 + 1 re-ask) + (1 + 1) + 3 + 3 + (1 + 1 re-ask) + 1
    assert server.count("good") == 2
    assert server.count("flaky429") == 3
    assert server.count("bad") == 2
    assert server.count("flaky500") == 2
    assert server.count("stall") == 3
    assert server.count("down") == 3
    assert server.count("fixlater") == 2
    assert judge.requests_made == server.count() == 17
    assert judge.retries == 2 + 1 + 2 + 2 and judge.reasks == 2 and judge.cache_hits == 0

    for request in server.requests:
        assert request["authorization"] == f"Bearer {SECRET}"
        assert request["body"]["temperature"] == 0 and request["body"]["model"] == "judge-model"
    reasks = [r["body"]["messages"] for r in server.requests if len(r["body"]["messages"]) > 1]
    assert len(reasks) == 2
    for messages in reasks:
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[1]["content"] == "I like it" and messages[2]["content"] == REASK_MESSAGE

    # only the successes are cached; the rerun asks again only for the missing ones
    files = assert_no_secret(tmp_path / "cache")
    assert len([f for f in files if f.suffix == ".json"]) == 5 and not [f for f in files if f.suffix == ".tmp"]
    before = server.count()
    again = judge_for(server, tmp_path / "cache", max_retries=0, invalid_retries=0)
    rerun = again.score([item(k) for k in kinds])
    assert [r.score for r in rerun] == [4.0, 3.0, None, 5.0, None, None, 2.0, 4.0]
    assert again.cache_hits == 5 and again.requests_made == 3 == server.count() - before
    assert {r["qid"] for r in server.requests[before:]} == {"bad-1", "stall-1", "down-1"}

    assert SECRET not in caplog.text and "SECRET" not in caplog.text
    assert SECRET not in repr(judge)


def test_cache_second_run_is_free_and_new_items_only_pay_for_themselves(server, key, tmp_path):
    cache = tmp_path / "judge_cache"
    items = [item("good-a", "zh"), item("good-b", "fr"), item("good-c", "ja")]
    first = judge_for(server, cache)
    assert [r.score for r in first.score(items)] == [4.0, 4.0, 4.0]
    assert first.requests_made == 3 == server.count()

    second = judge_for(server, cache)
    assert [r.score for r in second.score(items)] == [4.0, 4.0, 4.0]
    assert second.requests_made == 0 and second.cache_hits == 3 and server.count() == 3

    third = judge_for(server, cache)
    results = third.score(items[:2] + [item("good-new", "vi")] + items[2:])
    assert [r.score for r in results] == [4.0] * 4
    assert third.requests_made == 1 and third.cache_hits == 3
    assert server.requests[-1]["qid"] == "good-new" and server.count() == 4

    # identical prompts in one call are asked once; another judge model is another key
    other = judge_for(server, cache, model="another-judge")
    dup = other.score([item("good-dup"), item("good-dup"), item("good-a", "zh")])
    assert [r.score for r in dup] == [4.0] * 3 and other.requests_made == 2 and other.cache_hits == 0

    files = assert_no_secret(cache)
    assert len(files) == 6 and all(f.suffix == ".json" for f in files)
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert record["score"] == 4 and "prompt" in record and "reply" in record
    assert all(SECRET not in json.dumps(json.loads(f.read_text(encoding="utf-8"))) for f in files)


def test_corrupt_cache_entry_is_asked_again(server, key, tmp_path):
    judge = judge_for(server, tmp_path)
    judge.score([item("good-x")])
    (entry,) = list(tmp_path.glob("*.json"))
    entry.write_text("{not json")
    again = judge_for(server, tmp_path)
    assert again.score([item("good-x")]) == [Judgement(4.0)]
    assert again.requests_made == 1 and again.cache_hits == 0
    assert json.loads(entry.read_text())["score"] == 4


def test_bad_request_is_missing_without_retries(server, key, tmp_path):
    judge = judge_for(server, tmp_path)
    results = judge.score([item("reject-1"), item("good-1")])
    assert results[0].score is None and "request rejected" in results[0].missing_reason
    assert "400" in results[0].missing_reason
    assert results[1] == Judgement(4.0)
    assert server.count("reject") == 1


def test_auth_failure_raises_without_leaking_the_key(server, key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    judge = judge_for(server, tmp_path)
    with pytest.raises(JudgeError) as info:
        judge.score([item("auth-1"), item("auth-2")])
    assert "OPENAI_API_KEY" in str(info.value) and SECRET not in str(info.value)
    assert SECRET not in caplog.text
    assert server.count("auth") <= 2  # no retries on a bad key
    assert_no_secret(tmp_path)


def test_missing_api_key_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKey, match="OPENAI_API_KEY"):
        OpenAIJudge(model="gpt-4o", cache_dir=tmp_path)
    monkeypatch.setenv("MY_JUDGE_KEY", "")
    with pytest.raises(MissingAPIKey, match="MY_JUDGE_KEY"):
        OpenAIJudge(model="gpt-4o", api_key_env="MY_JUDGE_KEY")
    with pytest.raises(MissingAPIKey, match="OPENAI_API_KEY"):
        make_judge({"backend": "openai", "model": "gpt-4o"})


def test_empty_input(server, key, tmp_path):
    judge = judge_for(server, tmp_path)
    assert judge.score([]) == [] and judge.requests_made == 0


# ---------------------------------------------------------------- local judge


ITEMS = [
    JudgeItem("How can I sleep better?", "Go to bed at the same time every day.", "en"),
    JudgeItem("Comment économiser de l'argent ?", "Faites une liste.", "fr"),
    JudgeItem("如何学习?", "每天练习。" * 5, "zh"),
    JudgeItem("Q", "", "ja"),
    JudgeItem("¿Qué es un volcán?", "Una montaña que puede expulsar lava, ceniza y gases.", "es"),
]


def test_local_judge_scores_in_range_and_batching_matches_one_by_one(tiny_llama):
    batched = LocalJudge(tiny_llama, batch_size=4).score(ITEMS)
    single = LocalJudge(tiny_llama, batch_size=1).score(ITEMS)
    assert len(batched) == len(ITEMS)
    for b, s in zip(batched, single):
        assert b.missing_reason is None and 1.0 <= b.score <= 5.0
        assert b.score == pytest.approx(s.score, abs=1e-4)
    assert len({round(b.score, 6) for b in batched}) > 1  # different prompts, different scores
    assert LocalJudge(tiny_llama).score([]) == []


def test_local_judge_is_the_expected_digit(tiny_llama):
    template = "Q: {question}\nA: {answer}\nScore (1-5):"
    judge = LocalJudge(tiny_llama, template)
    (result,) = judge.score(ITEMS[:1])
    ids = tiny_llama.tokenizer(render_prompt(template, ITEMS[0]), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = tiny_llama.model(input_ids=ids).logits[0, -1]
    digits = [tiny_llama.tokenizer.convert_tokens_to_ids(d) for d in "12345"]
    probs = torch.softmax(logits[digits].float(), -1)
    assert result.score == pytest.approx(float((probs * torch.arange(1, 6)).sum()), abs=1e-5)


@pytest.mark.parametrize("arch", ["GPT2LMHeadModel", "OPTForCausalLM", "BloomForCausalLM", "Gemma3ForCausalLM"])
def test_local_judge_left_padding_across_architectures(arch):
    lm = loaded(arch, num_layers=1, d_ff=32)
    batched = LocalJudge(lm, batch_size=5).score(ITEMS)
    single = LocalJudge(lm, batch_size=1).score(ITEMS)
    for b, s in zip(batched, single):
        assert 1.0 <= b.score <= 5.0 and b.score == pytest.approx(s.score, abs=1e-4)


def test_digit_token_ids_of_the_byte_tokenizer(tiny_llama):
    ids = digit_token_ids(tiny_llama.tokenizer)
    assert len(set(ids)) == 5
    assert [tiny_llama.tokenizer.decode([i]) for i in ids] == list("12345")


# ---------------------------------------------------------------- NoJudge and factory


def test_no_judge():
    assert NoJudge().score(ITEMS[:2]) == [Judgement(None, "judge disabled")] * 2
    assert isinstance(make_judge({"backend": "none"}), NoJudge)
    assert isinstance(make_judge({}), NoJudge)
    assert isinstance(make_judge(None), NoJudge)


def test_make_judge_builds_each_backend(server, key, tmp_path, tiny_llama):
    judge = make_judge(
        {
            "backend": "openai",
            "model": "judge-model",
            "base_url": server.base_url,
            "api_key_env": "OPENAI_API_KEY",
            "concurrency": 2,
            "max_retries": 1,
            "timeout": 5,
            "prompt": None,
        },
        cache_dir=tmp_path / "c",
    )
    assert isinstance(judge, OpenAIJudge)
    assert (judge.concurrency, judge.max_retries, judge.timeout) == (2, 1, 5.0)
    assert judge.template == DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8")
    assert judge.score([item("good-f")]) == [Judgement(4.0)]
    assert len(list((tmp_path / "c").glob("*.json"))) == 1

    custom = tmp_path / "mine.txt"
    custom.write_text("Rate QID-free {question} / {answer} in {language}. Score (1-5):", encoding="utf-8")
    local = make_judge({"backend": "local", "prompt": str(custom), "batch_size": 2}, lm=tiny_llama)
    assert isinstance(local, LocalJudge) and local.batch_size == 2 and local.template == custom.read_text()
    default_local = make_judge({"backend": "local", "model": None}, lm=tiny_llama)
    assert default_local.template == DEFAULT_LOCAL_TEMPLATE_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "cfg, error, match",
    [
        ({"backend": "gpt4"}, ValueError, "not one of: openai, local, none"),
        ({"backend": "openai"}, ValueError, "judge.model"),
        ({"backend": "openai", "model": ""}, ValueError, "judge.model"),
        ({"backend": "local"}, ValueError, "lm="),
        ({"backend": "openai", "model": "m", "concurrency": 0}, ValueError, "concurrency"),
        ({"backend": "openai", "model": "m", "max_retries": -1}, ValueError, "max_retries"),
        ({"backend": "openai", "model": "m", "timeout": 0}, ValueError, "timeout"),
        ({"backend": "openai", "model": "m", "concurrency": "four"}, ValueError, "concurrency"),
        ({"backend": "openai", "model": "m", "concurrency": 2.5}, ValueError, "concurrency"),
        ({"backend": "openai", "model": "m", "prompt": "/nonexistent/judge.txt"}, FileNotFoundError, "nonexistent"),
        ({"backend": "openai", "model": "m", "temperature": 0}, ValueError, "unknown judge config key"),
    ],
)
def test_make_judge_errors(cfg, error, match, key):
    with pytest.raises(error, match=match):
        make_judge(cfg)


def test_make_judge_rejects_template_without_placeholders(tmp_path, key):
    bad = tmp_path / "bad.txt"
    bad.write_text("Rate this: {answer}")
    with pytest.raises(ValueError, match=r"\{question\}"):
        make_judge({"backend": "openai", "model": "m", "prompt": str(bad)})
