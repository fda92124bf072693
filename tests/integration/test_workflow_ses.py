"""The workflow's SES on any parallel question set: files given per language, compared item by item."""

import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from langneurons.models import load_prepared
from langneurons.ses import pooled_states, ses_table

from ..conftest import REPO

pytestmark = pytest.mark.integration


def test_workflow_ses_on_a_parallel_files_question_set(tmp_path):
    texts = {
        "en": ["Where is the train station?", "What should I cook tonight?", "Why do cats purr?"],
        "zh": ["火车站在哪里？", "我今晚应该做什么菜？", "猫为什么会发出呼噜声？"],
        "fr": ["Où est la gare ?", "Que devrais-je cuisiner ce soir ?", "Pourquoi les chats ronronnent-ils ?"],
    }
    files = {}
    for lang, lines in texts.items():
        files[lang] = str(tmp_path / f"{lang}.txt")
        Path(files[lang]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg.update(
        results=str(tmp_path / "results"),
        resources_dir=str(tmp_path / "resources"),
        questions={"source": "files", "files": files},
        ses={"items": "questions", "max_items": 10},
    )
    cfg["steering"]["sweep"]["question_set"] = "bundled"  # the files' questions are the tables'
    config = tmp_path / "config.yaml"
    target = tmp_path / "results" / "tiny-llama" / "ses.csv"

    def snakemake(*flags):
        config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        args = ["snakemake", str(target), "--cores", "2", "--max-threads", "1", "--configfile", str(config), *flags]
        run = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return run.stdout + run.stderr

    snakemake()
    # the workflow's SES is SES on exactly these questions, item by item across languages
    lm = load_prepared(str(tmp_path / "resources" / "models" / "tiny-llama"))
    expected = ses_table({lang: pooled_states(lm, lines) for lang, lines in texts.items()})
    got = pd.read_csv(target)
    assert set(zip(got.lang_a, got.lang_b)) == {("en", "zh"), ("en", "fr"), ("zh", "fr"), ("all", "all")}
    pd.testing.assert_frame_equal(got, expected, atol=1e-4, rtol=0)
    # how many questions generation takes is not an SES input
    cfg["questions"]["max_questions"] = 2
    assert "Nothing to be done" in snakemake("-n")
