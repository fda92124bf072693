"""The smoke workflow, every GPU stage split into parts, through snakemake-executor-plugin-slurm on a real Slurm
cluster: one run from scratch in which a part fails inside its Slurm job and another is cancelled by Slurm while it
runs (as at a time limit), then the same command again.

Needs a running cluster: `bash .ci/slurm.sh start` (root, Debian; a single node on 127.0.0.1 without accounting) or
any cluster whose default partition takes small CPU jobs and shares /tmp with this machine; without one these tests
skip (fail under LANGNEURONS_REQUIRE_SLURM=1, as CI runs them: tests/slurm/conftest.py).

Both snakemake calls run from the repository root (the Snakefile) with the workflow profile profiles/slurm, on the
smoke config with results under pytest's tmp_path, inside `timeout -k 10 LIMIT` (without accounting a plugin that
misread the job states would wait forever); the module's fixture makes them once and each test checks one thing of
them. The local run they are compared with, and its prepared model, are the session's smoke run (``smoke_run`` in
tests/conftest.py), which tests/integration/test_workflow_smoke.py checks: here only what Slurm changes is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO, SmokeRun, write_smoke_config

pytestmark = pytest.mark.slurm

LIMIT = int(os.environ.get("LANGNEURONS_SLURM_TIMEOUT", "1500"))  # seconds per snakemake call (a hang guard)
JOBS = {
    ("perplexity", "jobs"): 3,
    ("uncertainty", "null_jobs"): 2,
    ("generation", "jobs"): 2,  # 4 conditions x 3 languages x 2 questions: batches of 4, 3 per part
    ("steering", "jobs"): 2,
    ("steering", "sweep_jobs"): 2,
    ("judge", "jobs"): 2,
    ("tasks", "jobs"): 2,
}
PART_RULES = {
    "perplexity_part",
    "perplexity_null_part",
    "generate_part",
    "steer_part",
    "steer_sweep_part",
    "judge_part",
    "tasks_part",
}
MERGE_RULES = {"perplexity", "perplexity_null", "generate", "steer", "steer_sweep", "judge", "tasks"}

SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", re.M)
BLOCK = re.compile(r"^(local)?rule (\w+):\n((?:    .*\n)+)", re.M)
ERROR = re.compile(r"^Error in rule (\w+):\n((?:    .*\n)+)", re.M)
FAILED_LOG = re.compile(r"^={80}\n.*?^={80}\n", re.M | re.S)


# --------------------------------------------------------------------- helpers
def snakemake(args: list[str], log: Path) -> tuple[int, str]:
    """Run snakemake from the repo root under `timeout`; all output to `log` (and returned)."""
    cmd = ["timeout", "-k", "10", str(LIMIT), sys.executable, "-m", "snakemake", *args]
    start = time.time()
    with open(log, "w") as out:
        rc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    text = log.read_text()
    print(f"{' '.join(cmd)}\n  -> exit {rc} in {time.time() - start:.0f} s (log: {log})")
    if rc in (124, 137):
        pytest.fail(f"snakemake was still running after {LIMIT} s and was killed (plugin hang?)\n{text[-4000:]}")
    return rc, text


def node_memory_mb() -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%m"], capture_output=True, text=True).stdout.split()
    return min((int(m.rstrip("+")) for m in out if m.rstrip("+").isdigit()), default=0)


def slurm_args(config: Path, logdir: Path) -> list[str]:
    """The user's command (workflow profile + --jobs) plus what fits the 2-core test node."""
    args = [
        "--workflow-profile",
        "profiles/slurm",
        "--configfile",
        str(config),
        "--jobs",
        "4",
        "--max-threads",
        "1",  # count_activations asks for 8 threads; the node has 2 CPUs
        "--slurm-status-command",
        "squeue",  # no accounting: sacct does not work
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--slurm-keep-successful-logs",
        "--slurm-logdir",
        str(logdir),
        "--latency-wait",
        "5",  # one machine: no shared-filesystem delay
        "--keep-going",
    ]
    if node_memory_mb() < 8200:  # the profile asks up to 8000 MB per job
        args += [
            "--default-resources",
            "mem_mb=1000",
            "runtime=10",
            "--set-resources",
            "tokenize:mem_mb=1000",
            "select_neurons:mem_mb=1000",
        ]
    return args


def main_log(text: str) -> str:
    """The log without the job logs that --show-failed-logs inlines (their job ids are the job's own)."""
    return FAILED_LOG.sub("", text)


def jobs_in_log(text: str) -> dict[int, dict]:
    """Snakemake's job blocks of the main log: jobid -> {rule, local, wildcards}."""
    jobs = {}
    for local, rule, body in BLOCK.findall(main_log(text)):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        if "jobid" in fields:
            jobs[int(fields["jobid"])] = {"rule": rule, "local": bool(local), "wildcards": fields.get("wildcards", "")}
    return jobs


def submitted_in_log(text: str) -> dict[int, tuple[str, Path]]:
    """snakemake jobid -> (Slurm job id, Slurm log file)."""
    return {int(job): (slurm_id, Path(log)) for job, slurm_id, log in SUBMITTED.findall(text)}


def slurm_states(ids: list[str]) -> dict[str, tuple[str, str]]:
    """Slurm job id -> (state, comment), from slurmctld (finished jobs stay MinJobAge = 600 s)."""
    run = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%k"], capture_output=True, text=True, check=True
    )
    rows = (line.split("|", 2) for line in run.stdout.splitlines() if line.strip())
    return {i: (state, comment) for i, state, comment in rows}


def check_jobs_ran_on_slurm(text: str, unfinished: dict[str, str] | None = None) -> dict[int, dict]:
    """Every non-local job of this run went through sbatch and COMPLETED (or ended in the state ``unfinished`` gives
    for its Slurm job id); returns the non-local jobs."""
    jobs = jobs_in_log(text)
    remote = {j: info for j, info in jobs.items() if not info["local"]}
    submitted = submitted_in_log(text)
    assert remote, "the log shows no non-local job"
    assert set(submitted) == set(remote), f"jobs without a Slurm job id: {set(remote) - set(submitted)}"
    states = slurm_states([slurm_id for slurm_id, _ in submitted.values()])
    for job, (slurm_id, log) in submitted.items():
        rule = remote[job]["rule"]
        assert slurm_id in states, f"Slurm does not know job {slurm_id} ({rule})"
        state, comment = states[slurm_id]
        assert state == (unfinished or {}).get(slurm_id, "COMPLETED"), f"Slurm job {slurm_id} ({rule}) is {state}"
        assert comment.startswith(f"rule_{rule}"), (slurm_id, rule, comment)
        assert log.is_file(), f"no Slurm log {log} (--slurm-keep-successful-logs)"
    return remote


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- the two runs
@dataclass(frozen=True)
class Runs:
    results: Path
    first: str  # the first run's log: one part failed, one was cancelled
    first_rc: int
    cancelled: str  # the Slurm job id of the cancelled part
    before: dict[Path, int]  # the model's files after the first run and their times
    second: str  # the rerun's log
    second_rc: int

    @property
    def model(self) -> Path:
        return self.results / "tiny-llama"


def run_cancelling(args: list[str], log: Path, rule: str, part: int) -> tuple[int, str | None]:
    """snakemake with ``args`` (under `timeout`); while it runs, `scancel` the Slurm job of that rule's part once it
    is RUNNING. Returns snakemake's exit status and the cancelled job's id (None if it was never seen running)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["timeout", "-k", "10", str(LIMIT), sys.executable, "-m", "snakemake", *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    cancelled = None
    while proc.poll() is None:
        if cancelled is None:
            run = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True)
            for line in run.stdout.splitlines():
                slurm_id, comment = line.split("|", 1)
                if comment.startswith(f"rule_{rule}") and comment.endswith(f"_{part}"):
                    subprocess.run(["scancel", slurm_id], check=True)
                    cancelled = slurm_id
        time.sleep(0.5)
    rc = proc.wait()
    if rc in (124, 137):
        pytest.fail(
            f"snakemake was still running after {LIMIT} s and was killed (plugin hang?)\n{log.read_text()[-4000:]}"
        )
    return rc, cancelled


@pytest.fixture(scope="module")
def runs(tmp_path_factory, smoke_run: SmokeRun) -> Runs:
    """From scratch (the smoke run's prepared model shared): the null's part 1 fails inside its Slurm job (a folder
    where it writes) and generate's part 1 is cancelled while it runs; --keep-going finishes everything else. Then
    the blocking folder is removed and the same command runs again."""
    work = tmp_path_factory.mktemp("slurm")
    config, results = work / "slurm.yaml", work / "results"
    cfg = write_smoke_config(config, results, smoke_run.resources)
    for (section, key), jobs in JOBS.items():
        cfg.setdefault(section, {})[key] = jobs
    config.write_text(yaml.safe_dump(cfg))  # keys sorted as the smoke run's: its params read the same
    blocker = results / smoke_run.model / "ppl" / "null_parts" / "1.pt.tmp"
    blocker.mkdir(parents=True)
    first_rc, cancelled = run_cancelling(slurm_args(config, work / "logs.1"), work / "run.1.log", "generate_part", 1)
    first = (work / "run.1.log").read_text()
    before = mtimes(results / smoke_run.model)
    blocker.rmdir()
    second_rc, second = snakemake(slurm_args(config, work / "logs.2"), work / "run.2.log")
    return Runs(results, first, first_rc, cancelled, before, second, second_rc)


def parts_of(jobs: dict) -> set[tuple[str, str]]:
    return {(info["rule"], info["wildcards"]) for info in jobs.values() if info["rule"] in PART_RULES}


# -------------------------------------------------------------------- tests
def test_every_job_but_the_local_rules_went_through_sbatch(runs):
    assert runs.second_rc == 0, runs.second[-6000:]
    first = check_jobs_ran_on_slurm(runs.first, unfinished={runs.cancelled: "CANCELLED"} | failed_parts(runs))
    second = check_jobs_ran_on_slurm(runs.second)
    rules = {info["rule"] for info in [*first.values(), *second.values()]}
    assert {"tokenize", "count_activations", "pv_tune", "select_neurons", "ses", "judge_sweep"} <= rules, rules
    assert PART_RULES <= rules
    local = {info["rule"] for log in (runs.first, runs.second) for info in jobs_in_log(log).values() if info["local"]}
    assert {"corpus", "merge_stats"} | MERGE_RULES <= local and not local & rules
    counts = {rule: sum(info["rule"] == rule for info in first.values()) for rule in PART_RULES}
    # the judge's parts wait for generate's merge, which waits for the cancelled part
    assert counts == {
        "perplexity_part": 3,
        "perplexity_null_part": 2,
        "generate_part": 2,
        "steer_part": 2,
        "steer_sweep_part": 2,
        "judge_part": 0,
        "tasks_part": 2,
    }


def failed_parts(runs: Runs) -> dict[str, str]:
    jobs, submitted = jobs_in_log(runs.first), submitted_in_log(runs.first)
    failed = [
        slurm_id
        for job, (slurm_id, _) in submitted.items()
        if jobs[job]["rule"] == "perplexity_null_part" and "part=1" in jobs[job]["wildcards"]
    ]
    assert len(failed) == 1, failed
    return {failed[0]: "FAILED"}


def test_a_failed_and_a_cancelled_job_are_reported_and_the_rest_finishes(runs):
    assert runs.first_rc not in (0, 124, 137), runs.first[-4000:]
    assert runs.cancelled, f"generate part 1 was not seen running on Slurm:\n{runs.first[-4000:]}"
    jobs = jobs_in_log(runs.first)
    errors = {
        (rule, jobs[int(m.group(1))]["wildcards"])
        for rule, body in ERROR.findall(main_log(runs.first))
        if (m := re.search(r"^    jobid: (\d+)$", body, re.M))
    }
    name = "tiny-llama"
    assert errors == {
        ("perplexity_null_part", f"model={name}, part=1"),
        ("generate_part", f"model={name}, method=lape, part=1"),
    }, errors
    states = slurm_states([runs.cancelled, *failed_parts(runs)])
    assert states[runs.cancelled][0] == "CANCELLED" and {s for s, _ in states.values()} == {"CANCELLED", "FAILED"}
    # --keep-going: what does not need the two parts finished (the perplexity matrices, steering, the tasks)
    finished = {str(p.relative_to(runs.model)) for p in runs.before}
    for path in ("ppl/lape.csv", "ppl/null_parts/0.pt", "generation/parts/lape.0.jsonl", "steering/raw.jsonl"):
        assert path in finished, path
    assert "tasks/lape.csv" in finished
    assert not finished & {"ppl/null.csv", "ppl/null_parts/1.pt", "generation/lape.raw.jsonl"}


def test_the_rerun_submits_only_the_failed_and_the_cancelled_part_and_what_waited(runs):
    assert runs.second_rc == 0, runs.second[-6000:]
    remote = check_jobs_ran_on_slurm(runs.second)
    name = "tiny-llama"
    assert parts_of(remote) == {
        ("perplexity_null_part", f"model={name}, part=1"),
        ("generate_part", f"model={name}, method=lape, part=1"),
        ("judge_part", f"model={name}, part=0"),
        ("judge_part", f"model={name}, part=1"),
    }
    # nothing the first run finished was written again
    after = mtimes(runs.model)
    rewritten = [str(p.relative_to(runs.model)) for p, t in runs.before.items() if after.get(p) != t]
    assert not rewritten, f"outputs of the first run were written again: {rewritten}"


def test_the_results_equal_the_local_one_job_run(runs, smoke_run):
    assert runs.second_rc == 0, runs.second[-6000:]
    differ = smoke_run.differing_files(runs.results)
    assert not differ, f"differ from the local one-job run: {differ}"
