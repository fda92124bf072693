"""For judge tests: a judge config as the workflow sees it, and a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from langneurons.config import validate_config

from .conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def judge_config(**values) -> dict:
    """The ``judge`` section after schema validation (defaults filled in), as the workflow passes it."""
    config = {"models": {"m": {"source": "random"}}, "judge": values}
    return validate_config(config, SCHEMA)["judge"]


def free_port() -> int:
    """A loopback port with nothing listening on it (an endpoint that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeOpenAI:
    """Serves chat completions; ``reply(prompt, attempt, body)`` decides each answer.

    ``reply`` returns the reply text, or an int HTTP status for an error (sent
    with ``retry-after-ms: 1`` so the SDK's retries are fast), or None to stall
    until the server closes. ``attempt`` counts the requests for that prompt
    (first message), re-asks and retries included. Every request is recorded.
    """

    def __init__(self, reply, port: int = 0):
        self.reply = reply
        self.lock = threading.Lock()
        self.requests: list[dict] = []
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
                with fake.lock:
                    attempt = 1 + sum(r["prompt"] == prompt for r in fake.requests)
                    fake.requests.append(
                        {"prompt": prompt, "body": body, "authorization": self.headers.get("Authorization")}
                    )
                answer = fake.reply(prompt, attempt, body)
                try:
                    if answer is None:
                        fake.release.wait(10)
                    elif isinstance(answer, int):
                        message = f"error {answer}, Authorization: {self.headers.get('Authorization', '')}"
                        self._send(answer, {"error": {"message": message, "type": "error", "code": str(answer)}})
                    else:
                        self._send(200, _completion(body["model"], answer))
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "1")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def prompts(self) -> list[str]:
        with self.lock:
            return [r["prompt"] for r in self.requests]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }
