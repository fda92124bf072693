"""The paper configs plan offline and without an API key (only the judge job needs it), one dry run each:
per-shard GPU counting jobs and a PV tuning job for every language, SES on the mvicuna questions, a judge job,
and every split stage's part jobs as `langneurons plan` counts them, with the wall times it computes.

(Their settings, without the workflow: tests/unit/test_paper_configs.py.)
"""

import os
import re
import subprocess

import pytest
import yaml

from langneurons.config import split_work, validate_config
from langneurons.splitting import runtime_minutes

from ..conftest import REPO

pytestmark = pytest.mark.integration

PAPER = sorted((REPO / "configs").glob("paper-*.yaml"))


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_config_dry_runs_offline_without_an_api_key(path, tmp_path):
    cfg = {**yaml.safe_load(path.read_text()), "results": str(tmp_path / "results")}
    assert cfg["judge"]["backend"] == "openai"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"} | {"HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["snakemake", "-n", "--configfile", str(config)], cwd=REPO, capture_output=True, text=True, env=env, timeout=300
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    shards, langs = cfg["counting"]["shards"], len(cfg["languages"])
    assert int(jobs["count_activations"]) == shards * langs
    assert int(jobs["pv_tune"]) == langs  # one fine-tuning job per language
    assert "judge" in run.stdout
    ses = re.search(r"^rule ses:\n    input: (.*)$", out, flags=re.M).group(1).split(", ")
    assert [f"{cfg['results']}/questions/{lang}.jsonl" for lang in cfg["languages"]] == ses[1:]

    valid = validate_config(cfg)
    (model,) = valid["models"]
    work = {w.stage: w for w in split_work(valid, model)}
    for stage in ("perplexity", "perplexity_null", "generate", "steer", "steer_sweep", "tasks"):
        assert int(jobs[f"{stage}_part"]) == work[stage].jobs, stage
        assert int(jobs[stage]) == 1  # the merge
    assert "judge_part" not in jobs  # judge.jobs 1: the judge (GPT-4) is one job
    runtimes = dict(re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: .*runtime=(\d+)", out, flags=re.M))
    throughput = valid["models"][model]["throughput"]
    for stage in ("count_activations", "perplexity", "generate", "steer_sweep", "tasks"):
        rule = stage if stage == "count_activations" else f"{stage}_part"
        assert int(runtimes[rule]) == runtime_minutes(work[stage], throughput), rule
