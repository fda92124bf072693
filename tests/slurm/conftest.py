"""The Slurm tests' cluster check: every test here needs a running cluster (`bash .ci/slurm.sh start`); without one
they skip, or fail under LANGNEURONS_REQUIRE_SLURM=1 (as CI runs them)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def no_cluster_reason() -> str | None:
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed (pip install 'langneurons[slurm]')"
    if shutil.which("sinfo") is None:
        return "no Slurm client (sinfo) on PATH; start a test cluster with `bash .ci/slurm.sh start`"
    try:
        run = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s (is slurmctld running? `bash .ci/slurm.sh start`)"
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
        return f"Slurm cluster is not up (sinfo: {last}); start it with `bash .ci/slurm.sh start`"
    states = run.stdout.split()
    if not any(s.rstrip("*~#$@^-+") in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"no usable Slurm node (sinfo node states: {states or 'none'})"
    return None


# session scope: set up before the session's smoke run, so that a missing cluster skips without building it
@pytest.fixture(scope="session", autouse=True)
def cluster():
    reason = no_cluster_reason()
    if reason:
        if os.environ.get("LANGNEURONS_REQUIRE_SLURM") == "1":
            pytest.fail(f"LANGNEURONS_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
