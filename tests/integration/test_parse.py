"""Parsing the workflow (every snakemake start, every dry run) stays light: no torch, no model code."""

import subprocess
import sys

PROBE = """
import atexit, sys
atexit.register(lambda: print("torch imported:", "torch" in sys.modules))
sys.argv = ["snakemake", "-n", "--quiet", "all", *sys.argv[1:]]
from snakemake.cli import main
main()
"""


def test_a_dry_run_imports_no_torch(repo, tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "--config", f"results={tmp_path}/results"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "torch imported: False" in run.stdout, run.stdout[-2000:]
