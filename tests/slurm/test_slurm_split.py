"""Split stages on a real Slurm cluster: each part of perplexity, the random null, generation, steering and
the judge is a Slurm job, the merges run on the login node, the results equal the local one-job run byte for
byte, and a part that failed or was cancelled mid-way is the only part submitted again.

The stages before the split ones are not run again: the results of a local one-job run are copied (with their
times) and the split stages' outputs removed. Helpers come from test_slurm.py, the cluster check from conftest.py.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO, SmokeRun
from .test_slurm import (
    LIMIT,
    check_jobs_ran_on_slurm,
    jobs_in_log,
    slurm_args,
    slurm_states,
    snakemake,
    submitted_in_log,
    write_config,
)

pytestmark = pytest.mark.slurm

JOBS = {
    ("perplexity", "jobs"): 3,
    ("uncertainty", "null_jobs"): 2,
    ("generation", "jobs"): 2,  # two languages: 4 conditions x 2 x 2 questions, 2 batches of 8
    ("steering", "jobs"): 2,
    ("judge", "jobs"): 2,
}
SPLIT_STAGES = ("ppl", "generation", "steering", "judge")  # their outputs and parts, removed before the split run
PART_RULES = {"perplexity_part", "perplexity_null_part", "generate_part", "steer_part", "judge_part"}
MERGE_RULES = {"perplexity", "perplexity_null", "generate", "steer", "judge"}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("slurm_split")


@pytest.fixture(scope="module")
def reference(smoke_run) -> SmokeRun:
    """The local one-job run: the session's smoke run (read-only)."""
    return smoke_run


def split_config(work: Path, name: str, reference: SmokeRun) -> tuple[Path, Path]:
    """The reference's results copied (times kept), the split stages' outputs removed, a config that splits them."""
    config, results = write_config(work, name, reference)
    shutil.copytree(reference.results, results)
    for stage in SPLIT_STAGES:
        shutil.rmtree(results / reference.model / stage, ignore_errors=True)
    cfg = yaml.safe_load(config.read_text())
    for (section, key), jobs in JOBS.items():
        cfg.setdefault(section, {})[key] = jobs
    config.write_text(yaml.safe_dump(cfg))  # keys sorted as the reference's: its params read the same
    return config, results


def same_as_reference(results: Path, reference: SmokeRun) -> None:
    ref, got = reference.model_results, results / reference.model
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file() and p.suffix != ".html")
    assert any(p.parts[0] == "ppl" for p in files) and any(p.parts[0] == "generation" for p in files)
    differ = [str(p) for p in files if not filecmp.cmp(ref / p, got / p, shallow=False)]
    assert not differ, f"differ from the local one-job run: {differ}"


def parts_of(jobs: dict) -> set[tuple[str, str]]:
    return {(info["rule"], info["wildcards"]) for info in jobs.values() if info["rule"] in PART_RULES}


def test_split_stages_on_slurm_equal_the_local_one_job_run(work, reference):
    config, results = split_config(work, "split", reference)
    rc, text = snakemake(slurm_args(config, work / "split_logs"), work / "split.log")
    assert rc == 0, text[-6000:]
    remote = check_jobs_ran_on_slurm(text)
    counts = {rule: sum(info["rule"] == rule for info in remote.values()) for rule in PART_RULES}
    assert counts == {
        "perplexity_part": 3,
        "perplexity_null_part": 2,
        "generate_part": 2,
        "steer_part": 2,
        "judge_part": 2,
    }
    local = {info["rule"] for info in jobs_in_log(text).values() if info["local"]}
    assert MERGE_RULES <= local and not MERGE_RULES & {info["rule"] for info in remote.values()}
    same_as_reference(results, reference)


def test_a_failed_and_a_cancelled_part_are_the_only_parts_submitted_again(work, reference):
    config, results = split_config(work, "resume", reference)
    model = results / reference.model
    name = reference.model
    # the null's part 1 fails inside its Slurm job (a folder where it writes), and generate's part 1 is
    # cancelled by Slurm while it runs (scancel, as at a time limit); the other parts finish (keep-going)
    (model / "ppl" / "null_parts").mkdir(parents=True)
    (model / "ppl" / "null_parts" / "1.pt.tmp").mkdir()
    log = work / "resume.1.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["timeout", "-k", "10", str(LIMIT), sys.executable, "-m", "snakemake", *slurm_args(config, work / "r1")],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    cancelled = None
    while cancelled is None and proc.poll() is None:
        run = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True)
        for line in run.stdout.splitlines():
            slurm_id, comment = line.split("|", 1)
            if comment.startswith("rule_generate_part") and comment.endswith("_1"):
                subprocess.run(["scancel", slurm_id], check=True)
                cancelled = slurm_id
        time.sleep(0.5)
    proc.wait()
    text = log.read_text()
    assert cancelled, f"generate part 1 was not seen running on Slurm:\n{text[-4000:]}"
    assert proc.returncode not in (0, 124, 137), text[-4000:]
    assert slurm_states([cancelled])[cancelled][0] == "CANCELLED"
    jobs, submitted = jobs_in_log(text), submitted_in_log(text)
    failed = [
        s
        for j, (s, _) in submitted.items()
        if jobs[j]["rule"] == "perplexity_null_part" and "part=1" in jobs[j]["wildcards"]
    ]
    assert len(failed) == 1 and slurm_states(failed)[failed[0]][0] == "FAILED"
    finished = {
        p: p.stat().st_mtime_ns
        for folder in ("ppl/parts", "ppl/null_parts", "generation/parts")
        for p in (model / folder).glob("*.*")
        if p.suffix in (".pt", ".jsonl")
    }
    assert sum(p.parent.name == "null_parts" for p in finished) == 1  # part 0
    assert sum(p.parent.parent.name == "generation" for p in finished) == 1  # part 0

    (model / "ppl" / "null_parts" / "1.pt.tmp").rmdir()
    rc, text = snakemake(slurm_args(config, work / "r2"), work / "resume.2.log")
    assert rc == 0, text[-6000:]
    remote = check_jobs_ran_on_slurm(text)
    # the failed and the cancelled part, and the judge's parts, which waited for generate's merge
    assert parts_of(remote) == {
        ("perplexity_null_part", f"model={name}, part=1"),
        ("generate_part", f"model={name}, method=lape, part=1"),
        ("judge_part", f"model={name}, part=0"),
        ("judge_part", f"model={name}, part=1"),
    }
    for path, stamp in finished.items():
        assert path.stat().st_mtime_ns == stamp, f"{path} was written again"
    same_as_reference(results, reference)
