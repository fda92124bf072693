"""The paper configs plan offline (dry run): per-shard GPU counting jobs and a PV tuning job for every language."""

import os
import re
import subprocess

import pytest
import yaml

from ..conftest import REPO

PAPER = sorted((REPO / "configs").glob("paper-*.yaml"))


def test_all_paper_models_have_configs():
    names = {p.stem for p in PAPER}
    assert {"paper-llama2-7b", "paper-llama2-13b", "paper-llama2-70b", "paper-bloom-7b", "paper-mistral-7b"} <= names


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_config_dry_runs_offline(path):
    cfg = yaml.safe_load(path.read_text())
    env = {**os.environ, "OPENAI_API_KEY": "dummy-for-dry-run", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["snakemake", "-n", "--configfile", str(path)], cwd=REPO, capture_output=True, text=True, env=env, timeout=300
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
    shards, langs = cfg["counting"]["shards"], len(cfg["languages"])
    assert int(jobs["count_activations"]) == shards * langs
    assert int(jobs["pv_tune"]) == langs and "pv" in cfg["selection"]["methods"]  # one fine-tuning job per language
    model = next(iter(cfg["models"].values()))
    assert model["source"] == "hf" and model["dtype"] == "bfloat16"
    if "70b" in path.stem:
        assert model["gpus"] > 1 and model["device_map"] == "auto"
    if "bloom" in path.stem:
        assert "ja" not in cfg["languages"]  # as the authors did
