"""Stages split into jobs: zero, negative or more jobs than the stage has work is one config line at dry run."""

import copy
import re
import subprocess

import pytest
import yaml

from langneurons.config import validate_config
from langneurons.errors import ConfigError

from ..conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SMOKE = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())

# The smoke config's work: 3 languages x (1 + 3 x 5 methods) = 48 perplexity evaluations; 19 draws of 4 distinct
# methods (random shares LAPE's) x 3 languages x 4 valid sequences = 912 null rows, 29 blocks of 32; 5 conditions
# x 3 languages x 2 questions = 30 prompts, 4 batches of 8; steering 6 + 8 prompts, 2 batches; the sweep's 2 held-out
# questions x (3 baselines + 3 x 2 shares + 3 x 5 points + 2 unsteered + 2 pairs x 5 points), 9 batches of 8; 50 answers to judge;
# the tasks stage's 5 conditions (normal, random, 3 languages deactivated).
CASES = [
    ("perplexity", "jobs", 0, "perplexity.jobs"),
    ("perplexity", "jobs", -2, "perplexity.jobs"),
    ("perplexity", "jobs", 49, "perplexity.jobs"),
    ("uncertainty", "null_jobs", 0, "uncertainty.null_jobs"),
    ("uncertainty", "null_jobs", 30, "uncertainty.null_jobs"),
    ("generation", "jobs", -1, "generation.jobs"),
    ("generation", "jobs", 5, "generation.jobs"),
    ("steering", "jobs", 3, "steering.jobs"),
    ("steering", "sweep_jobs", 0, "steering.sweep_jobs"),
    ("steering", "sweep_jobs", 10, "steering.sweep_jobs"),
    ("judge", "jobs", 0, "judge.jobs"),
    ("judge", "jobs", 51, "judge.jobs"),
    ("tasks", "jobs", 0, "tasks.jobs"),
    ("tasks", "jobs", 6, "tasks.jobs"),
]
MOST = {
    "perplexity.jobs": 48,
    "uncertainty.null_jobs": 29,
    "generation.jobs": 4,
    "steering.jobs": 2,
    "steering.sweep_jobs": 9,
    "judge.jobs": 50,
    "tasks.jobs": 5,
}


def config(section, key, value):
    cfg = copy.deepcopy(SMOKE)
    cfg.setdefault(section, {})[key] = value
    return cfg


@pytest.mark.parametrize("section, key, value, name", CASES, ids=[f"{c[3]}={c[2]}" for c in CASES])
def test_one_line_names_the_setting(section, key, value, name):
    with pytest.raises(ConfigError) as err:
        validate_config(config(section, key, value), SCHEMA)
    lines = [line for line in str(err.value).splitlines() if not line.startswith("Every key")]
    assert len(lines) == 1 and re.match(rf"Config error: {re.escape(name)}: ", lines[0]), lines
    if value > 0:
        assert f"set at most {MOST[name]}" in lines[0], lines


@pytest.mark.parametrize("name, most", MOST.items())
def test_as_many_jobs_as_the_work_is_fine(name, most):
    section, key = name.split(".")
    validate_config(config(section, key, most), SCHEMA)


def test_stages_that_do_not_run_are_not_checked():
    cfg = config("generation", "jobs", 100)
    cfg["generation"]["methods"] = []
    cfg["steering"]["method"] = None
    cfg["judge"]["jobs"] = 100
    cfg["steering"]["jobs"] = 100
    validate_config(cfg, SCHEMA)


def test_dry_run_stops_with_one_line(tmp_path):
    cfg = config("perplexity", "jobs", 49)
    cfg["results"], cfg["resources_dir"] = str(tmp_path / "results"), str(tmp_path / "resources")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        ["snakemake", "-n", "--configfile", str(path)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode != 0
    errors = [line for line in run.stderr.strip().splitlines() if not line.startswith("Using workflow specific")]
    assert errors == [
        "Config error: perplexity.jobs: 49 jobs for 48 evaluations (each language with none and with each "
        "language's neurons off, per method): a job would have nothing to do; set at most 48"
    ], run.stderr
    assert not (tmp_path / "results").exists()
