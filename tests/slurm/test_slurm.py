"""The smoke workflow through snakemake-executor-plugin-slurm on a real Slurm cluster.

Needs a running cluster: `bash .ci/slurm.sh start` (root, Debian; a single node on
127.0.0.1 without accounting) or any cluster whose default partition takes small
CPU jobs and shares /tmp with this machine. `.ci/slurm-tests.sh` starts one, runs
these tests with LANGNEURONS_REQUIRE_SLURM=1 (a missing cluster fails instead of
skipping) and stops it.

Every snakemake call runs from the repository root (the Snakefile) with the
workflow profile profiles/slurm, on the smoke config with results under pytest's
tmp_path, and inside `timeout -k 10 LIMIT`: without accounting (sacct) a plugin
that misreads the job states would wait forever. The local run they are compared
with, and its prepared model, are the session's smoke run (``smoke_run`` in
tests/conftest.py), which tests/integration/test_workflow_smoke.py checks: here
only what Slurm changes is checked (every job through sbatch, the same files and
tensors as the local run, failure and resume).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import REPO, SmokeRun, write_smoke_config

pytestmark = pytest.mark.slurm

LIMIT = int(os.environ.get("LANGNEURONS_SLURM_TIMEOUT", "1500"))  # seconds per snakemake call (a hang guard)
# per-call metadata that legitimately differs between runs (wall time of a job)
VOLATILE_KEYS = {"seconds"}

SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", re.M)
BLOCK = re.compile(r"^(local)?rule (\w+):\n((?:    .*\n)+)", re.M)
ERROR = re.compile(r"^Error in rule (\w+):\n((?:    .*\n)+)", re.M)
FAILED_LOG = re.compile(r"^={80}\n.*?^={80}\n", re.M | re.S)


# --------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("slurm")


def write_config(work: Path, name: str, local: SmokeRun) -> tuple[Path, Path]:
    """The local smoke run's config with results in work/name; the model it prepared is shared."""
    path = work / f"{name}.yaml"
    write_smoke_config(path, work / name, local.resources)
    return path, work / name


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


def check_jobs_ran_on_slurm(text: str) -> dict[int, dict]:
    """Every non-local job of this run went through sbatch and COMPLETED; returns the non-local jobs."""
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
        assert state == "COMPLETED", f"Slurm job {slurm_id} ({rule}) is {state}"
        assert comment.startswith(f"rule_{rule}"), (slurm_id, rule, comment)
        assert log.is_file(), f"no Slurm log {log} (--slurm-keep-successful-logs)"
    return remote


def same(a, b, where: str = "") -> None:
    import torch

    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), f"tensor differs at {where}"
    elif isinstance(a, dict):
        assert set(a) == set(b), f"keys differ at {where}: {set(a) ^ set(b)}"
        for key in a:
            if key not in VOLATILE_KEYS:
                same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"lengths differ at {where}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_results(results: Path, reference: SmokeRun) -> None:
    """The local run's files; its tokens, statistics and neuron files equal (tensors with torch.equal)."""
    import torch

    ref_dir, got_dir = reference.model_results, results / reference.model
    ref_files = sorted(p.relative_to(ref_dir) for p in ref_dir.rglob("*") if p.is_file())
    got_files = sorted(p.relative_to(got_dir) for p in got_dir.rglob("*") if p.is_file())
    assert got_files == ref_files
    checked = 0
    for rel in ref_files:
        if rel.parts[0] not in ("tokens", "stats", "neurons"):
            continue
        if rel.suffix in (".pt", ".pth"):
            same(torch.load(got_dir / rel, weights_only=False), torch.load(ref_dir / rel, weights_only=False), str(rel))
        else:
            assert (got_dir / rel).read_bytes() == (ref_dir / rel).read_bytes(), f"{rel} differs"
        checked += 1
    assert any(p.parts[0] == "neurons" for p in ref_files) and any(p.parts[0] == "stats" for p in ref_files)
    assert checked >= 2


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def reference(smoke_run) -> SmokeRun:
    """The same config run locally (--cores 2, one thread per job like the Slurm jobs): the session's smoke run."""
    return smoke_run


# -------------------------------------------------------------------- tests
def test_smoke_workflow_on_slurm_equals_local_run(work, reference):
    config, results = write_config(work, "slurm", reference)
    rc, text = snakemake(slurm_args(config, work / "slurm_logs"), work / "slurm.log")
    assert rc == 0, text[-6000:]
    remote = check_jobs_ran_on_slurm(text)
    rules = {info["rule"] for info in remote.values()}
    assert {"tokenize", "count_activations", "select_neurons"} <= rules, rules
    # localrules stayed on this machine
    local_rules = {info["rule"] for info in jobs_in_log(text).values() if info["local"]}
    assert {"corpus", "merge_stats"} <= local_rules and not local_rules & rules
    assert_same_results(results, reference)


def test_failed_job_is_reported_and_resume_redoes_only_what_is_missing(work, reference):
    config, results = write_config(work, "resume", reference)
    # A broken corpus file for zh (not JSON): the corpus rule sees all its outputs (the
    # language check copied from the reference) and does not run, so tokenize[zh] fails
    # inside its Slurm job; en and fr go on (--keep-going).
    corpus = results / "corpus"
    corpus.mkdir(parents=True)
    for split in ("train", "valid"):
        (corpus / f"zh.{split}.jsonl").write_text("this is not JSON\n")
    shutil.copy2(reference.results / "corpus" / "zh.language_check.json", corpus / "zh.language_check.json")

    rc, text = snakemake(slurm_args(config, work / "resume_logs.1"), work / "resume.1.log")
    assert rc != 0, "a run with a failed job exited 0"
    jobs, submitted = jobs_in_log(text), submitted_in_log(text)
    errors = [
        (rule, int(m.group(1)))
        for rule, body in ERROR.findall(main_log(text))
        if (m := re.search(r"^    jobid: (\d+)$", body, re.M))
    ]
    assert any(rule == "tokenize" and "lang=zh" in jobs[job]["wildcards"] for rule, job in errors), text[-6000:]
    # the failure was Slurm's: the jobs of tokenize[zh] (one per split) ended FAILED
    failed = [
        slurm_id
        for job, (slurm_id, _) in submitted.items()
        if jobs[job]["rule"] == "tokenize" and "lang=zh" in jobs[job]["wildcards"]
    ]
    assert len(failed) == 2
    states = slurm_states(failed)
    assert all(states[slurm_id][0] == "FAILED" for slurm_id in failed), states
    # en was counted and merged; no selection from activation statistics ran (they
    # need zh). PV tunes on instruction data, not on the corpus, so it may have finished.
    model = results / reference.model
    assert (model / "stats" / "en.pt").is_file()
    assert not (model / "stats" / "zh.pt").exists()
    neurons = model / "neurons"
    from_stats = [p.name for p in neurons.iterdir() if not p.name.startswith("pv.")] if neurons.exists() else []
    assert not from_stats, from_stats
    before = mtimes(model)
    assert before

    # fix the input (the corpus the rule writes for this config) and run the same command again
    for split in ("train", "valid"):
        shutil.copy2(reference.results / "corpus" / f"zh.{split}.jsonl", corpus / f"zh.{split}.jsonl")
        os.utime(corpus / f"zh.{split}.jsonl")  # newer than anything tokenize[zh] left behind
    rc, text = snakemake(slurm_args(config, work / "resume_logs.2"), work / "resume.2.log")
    assert rc == 0, text[-6000:]
    remote = check_jobs_ran_on_slurm(text)
    redone = [info for info in jobs_in_log(text).values() if "lang=en" in info["wildcards"]]
    assert not redone, f"jobs finished in the first run ran again: {redone}"
    assert {info["rule"] for info in remote.values()} >= {"tokenize", "count_activations", "select_neurons"}
    after = mtimes(model)
    changed = [str(p) for p, t in before.items() if after.get(p) != t]
    assert not changed, f"outputs of the first run were rewritten: {changed}"
    assert_same_results(results, reference)
