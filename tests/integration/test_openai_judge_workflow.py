"""The workflow with the `openai` judge against an OpenAI-compatible server on loopback.

- With the endpoint down, the judge job fails (non-zero exit, how many answers
  have no score and why) and everything computed before it is kept.
- When the endpoint answers only part of the requests, the job still fails; the
  scored answers are cached, so once the endpoint is healthy the rerun asks only
  for the answers that have no score yet, and a forced rerun asks for nothing.
- The API key reaches the judge through the environment only: it is in no file
  under results/ or .snakemake/.

It starts from a copy of the session's smoke results (tests/conftest.py) without the judge's outputs: the
judge, and the report after it, are the only jobs to run.
"""

import os
import re
import subprocess

import pandas as pd
import pytest

from langneurons.paths import Results

from ..conftest import REPO, write_smoke_config
from ..judge_fakes import FakeOpenAI, free_port

pytestmark = pytest.mark.integration

SECRET = "sk-test-workflow-SECRET-7f3a"
KEY_VAR = "LANGNEURONS_TEST_JUDGE_KEY"
# the judge rule's outputs (workflow/rules/generation.smk): per generation method, and for steering
JUDGED = ("answers", "quality", "language_accuracy", "quality_ci", "language_accuracy_ci", "quality_control")
STEERING_JUDGED = ("steering_answers", "offtarget", "crosslingual", "offtarget_ci", "crosslingual_ci")


def test_openai_judge_fails_loudly_and_the_rerun_asks_only_for_missing_scores(smoke_run, tmp_path):
    port = free_port()  # nothing listens there yet: the endpoint is down
    url = f"http://127.0.0.1:{port}/v1"
    judge = {
        "backend": "openai",
        "model": "judge-model",
        "base_url": url,
        "api_key_env": KEY_VAR,
        "timeout": 10,
        "max_retries": 1,
    }
    path = tmp_path / "openai.yaml"
    cfg = write_smoke_config(path, tmp_path / "results", smoke_run.resources, judge=judge)
    # everything before the judge is finished: the smoke run's results, less the judge's outputs
    smoke_run.copy_results(tmp_path / "results")
    done = Results(cfg["results"])
    outputs = [
        done.path(name, model=smoke_run.model, method=m) for name in JUDGED for m in cfg["generation"]["methods"]
    ]
    outputs += [done.path(name, model=smoke_run.model) for name in STEERING_JUDGED]
    for output in outputs:
        output.unlink()
    env = {**os.environ, KEY_VAR: SECRET}
    command = ["snakemake", "--cores", "2", "--max-threads", "1", "--configfile", str(path)]

    def run(*extra):
        return subprocess.run([*command, *extra], cwd=REPO, capture_output=True, text=True, env=env)

    results = tmp_path / "results" / "tiny-llama"
    down = run()
    output = down.stdout + down.stderr
    assert down.returncode != 0
    started = set(re.findall(r"^(?:local)?rule (\w+):", output, flags=re.M))
    assert started == {"judge"}, started  # the copied results count as finished: only the judge ran
    where = re.escape(f"{url}/ (judge.base_url)")
    pattern = rf"judge: (\d+) of \1 answers have no score \(judge.max_missing allows 0\): \1 x no connection at {where}"
    assert re.search(pattern + r" after 1 retry: \[Errno 111\] Connection refused", output), output[-3000:]
    assert "Check the judge, then rerun: scored answers are cached" in output
    assert "Traceback" not in (tmp_path / "results" / "logs" / "judge" / "tiny-llama.log").read_text()
    # what was computed before the judge stays; the judge's outputs are not there
    assert (results / "generation" / "lape.raw.jsonl").is_file() and (results / "steering" / "raw.jsonl").is_file()
    assert not (results / "generation" / "lape.answers.jsonl").exists()

    server = FakeOpenAI(lambda prompt, attempt, body: 500 if "Chinese" in prompt else "Score: 4", port=port)
    try:
        partial = run()
        assert partial.returncode != 0 and "x HTTP 500 from" in partial.stdout + partial.stderr
        failed = {p for p in server.prompts() if "Chinese" in p}
        assert failed and set(server.prompts()) - failed  # some answers were scored, some not

        server.reply = lambda prompt, attempt, body: "Score: 4"
        asked = len(server.requests)
        healthy = run()
        assert healthy.returncode == 0, healthy.stdout[-3000:] + healthy.stderr[-3000:]
        assert sorted(server.prompts()[asked:]) == sorted(failed)  # only the unscored answers, once each
        assert {r["authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
        answers = pd.read_json(results / "generation" / "lape.answers.jsonl", lines=True)
        assert (answers["score"] == 4).all() and answers["score_missing"].isna().all()

        asked = len(server.requests)
        rerun = run("--forcerun", "judge")
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert len(server.requests) == asked  # everything came from the cache
    finally:
        server.close()

    for folder in (tmp_path / "results", REPO / ".snakemake"):
        for file in folder.rglob("*"):
            try:
                if file.is_file() and file.stat().st_size < 50_000_000:
                    assert SECRET.encode() not in file.read_bytes(), file
            except FileNotFoundError:  # a job of another test's run (pytest-xdist) removed it meanwhile
                continue
