"""The workflow with the `openai` judge against an OpenAI-compatible server on loopback.

The API key reaches the judge through the environment only: it must appear in
no file under results/ or .snakemake/, and a rerun of the judge pays nothing
(every judgement is cached on disk).
"""

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import yaml

from ..conftest import REPO

pytestmark = pytest.mark.integration

SECRET = "sk-test-workflow-SECRET-7f3a"
KEY_VAR = "LANGNEURONS_TEST_JUDGE_KEY"


class Judge:
    """Answers every chat completion with 'Score: 4' and counts requests."""

    def __init__(self):
        self.requests = 0
        self.keys = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.requests += 1
                outer.keys.add(self.headers.get("Authorization", ""))
                data = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "Score: 4"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_openai_judge_in_the_workflow_keeps_the_key_secret(tmp_path):
    judge = Judge()
    try:
        cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
        cfg.update(results=str(tmp_path / "results"), resources_dir=str(tmp_path / "resources"), languages=["en", "zh"])
        cfg["counting"]["shards"] = 1
        cfg["selection"]["methods"] = ["lape", "random"]
        cfg["judge"] = {
            "backend": "openai",
            "model": "judge-model",
            "base_url": judge.url,
            "api_key_env": KEY_VAR,
            "timeout": 10,
        }
        path = tmp_path / "openai.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**__import__("os").environ, KEY_VAR: SECRET}
        command = ["snakemake", "--cores", "2", "--max-threads", "1", "--configfile", str(path)]
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert judge.requests > 0 and judge.keys == {f"Bearer {SECRET}"}

        answers = pd.read_json(tmp_path / "results" / "tiny-llama" / "generation" / "lape.answers.jsonl", lines=True)
        assert (answers["score"] == 4).all()

        first = judge.requests
        rerun = subprocess.run(command + ["--forcerun", "judge"], cwd=REPO, capture_output=True, text=True, env=env)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert judge.requests == first  # everything came from the cache

        for folder in (tmp_path / "results", REPO / ".snakemake"):
            for file in folder.rglob("*"):
                if file.is_file() and file.stat().st_size < 50_000_000:
                    assert SECRET.encode() not in file.read_bytes(), file
    finally:
        judge.close()
