"""The smoke workflow with every GPU stage split into jobs (perplexity.jobs, uncertainty.null_jobs,
generation.jobs, steering.jobs, steering.sweep_jobs, judge.jobs, tasks.jobs): the merged files equal the one-job run's, byte for byte, and a
part that failed or was killed is the only part run again.

The one-job run is the session's smoke run (``smoke_run``); the split stages run again from a copy of its
results (the stages before them, and their outputs, are the same in both).
"""

from __future__ import annotations

import copy
import filecmp
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO, SmokeRun, result_files

pytestmark = pytest.mark.integration

MODEL = "tiny-llama"
JOBS = {("perplexity", "jobs"): 3, ("uncertainty", "null_jobs"): 3, ("generation", "jobs"): 3, ("steering", "jobs"): 2}
JOBS[("steering", "sweep_jobs")] = 2
JOBS[("judge", "jobs")] = 3
JOBS[("tasks", "jobs")] = 2
# the outputs of the split stages (and the folders of their parts); everything downstream is made again from them
STAGE_OUTPUTS = ("ppl", "generation", "steering", "judge", "tasks")
BLOCK = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", re.M)


def write_split_config(folder: Path, reference: SmokeRun, results: Path) -> Path:
    """The smoke run's config with results in ``results`` and every GPU stage split (``JOBS``)."""
    cfg = copy.deepcopy(reference.cfg)
    cfg["results"] = str(results)
    for (section, key), jobs in JOBS.items():
        cfg.setdefault(section, {})[key] = jobs
    path = folder / "split.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake(config: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    run = subprocess.run(
        ["snakemake", "--cores", "2", "--max-threads", "1", "--configfile", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def jobs_in(log: str) -> list[tuple[str, dict]]:
    """The jobs of a snakemake run's (or dry run's) output: (rule, wildcards)."""
    jobs = []
    for rule, body in BLOCK.findall(log):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        wildcards = dict(kv.split("=", 1) for kv in fields.get("wildcards", "").split(", ") if "=" in kv)
        jobs.append((rule, wildcards))
    return jobs


def planned(config: Path) -> list[tuple[str, dict]]:
    run = snakemake(config, "-n")
    return jobs_in(run.stdout + run.stderr)


def part_jobs(jobs) -> set[tuple[str, str]]:
    return {(rule, w.get("method", "") + w["part"]) for rule, w in jobs if rule.endswith("_part")}


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, smoke_run):
    work = tmp_path_factory.mktemp("split")
    one = smoke_run.results  # read-only
    split = work / "split"
    shutil.copytree(one, split)  # copy2: the same times, so only what is deleted below runs again
    for name in STAGE_OUTPUTS:
        shutil.rmtree(split / MODEL / name, ignore_errors=True)
    config = write_split_config(work, smoke_run, split)
    snakemake(config)
    return one, split, config


def test_split_stages_write_the_one_job_files_byte_for_byte(runs, smoke_run):
    one, split, _ = runs
    files = result_files(one / MODEL)
    for stage in (
        "ppl/lape.csv",
        "ppl/lape.nll.pt",
        "ppl/null.csv",
        "generation/lape.raw.jsonl",
        "steering/raw.jsonl",
        "steering/sweep.raw.jsonl",
    ):
        assert Path(stage) in files
    assert {p.parts[0] for p in files} >= {"ppl", "generation", "steering", "neurons", "figures"}
    differ = smoke_run.differing_files(split)
    assert not differ, f"differ from the one-job run: {differ}"
    parts = {p.relative_to(split / MODEL).parts[0] for p in (split / MODEL).rglob("parts/*")} - {"stats"}
    assert parts == {"ppl", "generation", "steering", "judge", "tasks"}  # (stats/parts: stability, not jobs)
    assert len(list((split / MODEL / "ppl" / "parts").iterdir())) == 3
    assert len(list((split / MODEL / "ppl" / "null_parts").iterdir())) == 3
    assert len(list((split / MODEL / "generation" / "parts").iterdir())) == 3
    assert len(list((split / MODEL / "judge" / "parts").iterdir())) == 3
    assert len(list((split / MODEL / "tasks" / "parts").iterdir())) == 2
    assert len(list((split / MODEL / "steering" / "sweep_parts").iterdir())) == 2


def test_a_missing_part_is_the_only_part_planned_again(runs):
    """A part killed before it wrote its file: the merge never ran either."""
    _, split, config = runs
    assert not part_jobs(planned(config))  # finished: nothing to do
    ppl = split / MODEL / "ppl"
    kept = {p: (p.read_bytes(), p.stat()) for p in [ppl / "parts" / "1.pt", *ppl.glob("*.*")] if p.is_file()}
    (ppl / "parts" / "1.pt").unlink()
    for method in ("lape", "lap", "lave", "pv", "random"):  # the merge's files
        for name in (f"{method}.csv", f"{method}.delta.csv", f"{method}.specificity.csv", f"{method}.nll.pt"):
            (ppl / name).unlink()
    try:
        jobs = planned(config)
        assert part_jobs(jobs) == {("perplexity_part", "1")}
        assert "perplexity" in {rule for rule, _ in jobs}  # then the merge (and what reads its files)
    finally:
        for path, (data, stamp) in kept.items():
            path.write_bytes(data)
            os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert not part_jobs(planned(config))


def test_a_failed_part_is_the_only_part_run_again(runs):
    one, split, config = runs
    parts = split / MODEL / "ppl" / "null_parts"
    before = {p.name: p.stat().st_mtime_ns for p in parts.iterdir()}
    (parts / "1.pt").unlink()
    (split / MODEL / "ppl" / "null.csv").unlink()
    blocker = parts / "1.pt.tmp"  # where the job writes before renaming: a folder there makes it fail
    blocker.mkdir()
    run = subprocess.run(
        ["snakemake", "--cores", "2", "--max-threads", "1", "--keep-going", "--configfile", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode != 0 and "Error in rule perplexity_null_part" in run.stdout + run.stderr
    blocker.rmdir()
    jobs = planned(config)
    assert part_jobs(jobs) == {("perplexity_null_part", "1")}
    run = snakemake(config)
    ran = jobs_in(run.stdout + run.stderr)
    assert part_jobs(ran) == {("perplexity_null_part", "1")}
    after = {p.name: p.stat().st_mtime_ns for p in parts.iterdir()}
    assert {name: t for name, t in after.items() if name != "1.pt"} == {n: t for n, t in before.items() if n != "1.pt"}
    assert filecmp.cmp(one / MODEL / "ppl" / "null.csv", split / MODEL / "ppl" / "null.csv", shallow=False)


def test_a_killed_run_redoes_only_the_unfinished_parts(runs):
    """Snakemake and its jobs killed (a lost session, a node failure) while generate's parts run."""
    one, split, config = runs
    parts = split / MODEL / "generation" / "parts"
    shutil.rmtree(parts)
    (split / MODEL / "generation" / "lape.raw.jsonl").unlink()
    (split / MODEL / "generation" / "lape.answers.jsonl").unlink()  # killed before the merge and the judge ran
    logs = split / "logs" / "generate_part" / MODEL
    shutil.rmtree(logs, ignore_errors=True)
    # one job at a time: the first part finishes, the second is killed while it runs (or before it starts)
    proc = subprocess.Popen(
        ["snakemake", "--cores", "1", "--configfile", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 900
        while time.time() < deadline and not (parts.is_dir() and any(p.suffix == ".jsonl" for p in parts.iterdir())):
            assert proc.poll() is None, "snakemake ended before a part finished"
            time.sleep(0.2)
        while time.time() < deadline and len(list(logs.glob("*.log"))) < 2 and proc.poll() is None:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this test started: snakemake and its jobs
        proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in parts.iterdir() if p.suffix == ".jsonl"}
    assert 1 <= len(finished) < 3, finished
    snakemake(config, "--unlock")
    redo = {job for job in part_jobs(planned(config)) if job[0] == "generate_part"}  # (then the judge's, anew)
    assert redo == {("generate_part", f"lape{k}") for k in range(3) if f"lape.{k}.jsonl" not in finished}
    snakemake(config)
    assert {n: t for n, t in ((p.name, p.stat().st_mtime_ns) for p in parts.iterdir()) if n in finished} == finished
    raw = Path("generation") / "lape.raw.jsonl"
    assert (one / MODEL / raw).read_bytes() == (split / MODEL / raw).read_bytes()
    assert filecmp.cmp(
        one / MODEL / "generation" / "lape.answers.jsonl",
        split / MODEL / "generation" / "lape.answers.jsonl",
        shallow=False,
    )
