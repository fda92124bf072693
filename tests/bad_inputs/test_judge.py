"""Bad judge inputs: each gives one clear message naming the config key or the file, before any work is
lost. Through `snakemake -n`: tests/bad_inputs/test_config.py (judge.model); the paper configs dry-run without
an API key (only the judge job needs it): tests/integration/test_paper_configs.py."""

import pytest

from langneurons.errors import ConfigError, InputFileError, MissingAPIKey
from langneurons.io import read_jsonl, write_jsonl
from langneurons.judge import make_judge
from langneurons.judging import ANSWER_FIELDS

from ..judge_fakes import judge_config


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
