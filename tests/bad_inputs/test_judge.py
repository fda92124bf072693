"""Bad judge inputs: each gives one clear message naming the config key or the file, before any work is
lost; and the paper configs dry-run without an API key (only the judge job needs it)."""

import os
import subprocess

import pytest
import yaml

from langneurons.errors import ConfigError, InputFileError, MissingAPIKey
from langneurons.io import read_jsonl, write_jsonl
from langneurons.judge import make_judge
from langneurons.judging import ANSWER_FIELDS

from ..conftest import REPO
from ..judge_fakes import judge_config

PAPER_CONFIGS = sorted((REPO / "configs").glob("paper-*.yaml"))


@pytest.mark.parametrize(
    "values, where",
    [
        ({"backend": "openai"}, "judge.model: backend openai needs the judge model's name"),
        ({"backend": "openai", "model": ""}, "judge.model: '' "),
        ({"backend": "gpt4"}, "judge.backend: 'gpt4' is not one of"),
        ({"concurrency": 0}, "judge.concurrency: 0 is less than the minimum of 1"),
        ({"timeout": 0}, "judge.timeout: 0 is less than or equal to the minimum of 0"),
        ({"max_retries": -1}, "judge.max_retries: -1 is less than the minimum of 0"),
        ({"max_missing": -1}, "judge.max_missing: -1 is less than the minimum of 0"),
        ({"max_missing": 0.5}, "judge.max_missing: 0.5 is not of type 'integer'"),
        ({"temperature": 0}, "judge: Additional properties are not allowed ('temperature' was unexpected)"),
    ],
)
def test_config_mistakes_name_the_key(values, where):
    with pytest.raises(ConfigError) as info:
        judge_config(**values)
    assert where in str(info.value)


def test_bad_templates_name_judge_prompt(tmp_path):
    """Caught when the config is validated (a dry run), before any judge is built."""
    with pytest.raises(ConfigError, match=r"judge.prompt: the template file /nonexistent/judge.txt does not exist"):
        judge_config(backend="openai", model="m", prompt="/nonexistent/judge.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("Rate this: {answer}")
    with pytest.raises(ConfigError, match=rf"judge.prompt: the template {bad} lacks {{question}}; add them"):
        judge_config(backend="openai", model="m", prompt=str(bad))


def test_missing_api_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("JUDGE_KEY_THAT_IS_NOT_SET", raising=False)
    with pytest.raises(MissingAPIKey, match=r"JUDGE_KEY_THAT_IS_NOT_SET \(judge.api_key_env\), which is unset"):
        make_judge(judge_config(backend="openai", model="m", api_key_env="JUDGE_KEY_THAT_IS_NOT_SET"))


def test_answers_without_the_bare_question_name_the_file_and_line(tmp_path):
    path = tmp_path / "lape.raw.jsonl"  # written by an older version: no "question" field
    write_jsonl(
        [{"condition": "normal", "language": "en", "question_id": "q1", "prompt": "Q: x\nA:", "answer": "y"}], path
    )
    with pytest.raises(InputFileError, match=rf"{path}, line 1: no 'question' field"):
        read_jsonl(path, ANSWER_FIELDS)


def dry_run(config: dict, tmp_path, env=None):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    command = ["snakemake", "-n", "--configfile", str(path)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)


def smoke(tmp_path, **sections):
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    return {**config, "results": str(tmp_path / "results"), **sections}


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"judge": {"backend": "openai"}}, "judge.model: backend openai needs the judge model's name"),
        (
            {"steering": {"crosslingual_languages": ["en", "de"]}},
            "steering.crosslingual_languages: ['de'] not in languages ['en', 'zh', 'fr']",
        ),
    ],
)
def test_config_mistakes_fail_the_dry_run(tmp_path, sections, message):
    run = dry_run(smoke(tmp_path, **sections), tmp_path)
    assert run.returncode != 0 and message in run.stdout + run.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("config", PAPER_CONFIGS, ids=[p.stem for p in PAPER_CONFIGS])
def test_paper_configs_dry_run_without_an_api_key(config, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    settings = {**yaml.safe_load(config.read_text()), "results": str(tmp_path / "results")}
    assert settings["judge"]["backend"] == "openai"
    run = dry_run(settings, tmp_path, env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "judge" in run.stdout
