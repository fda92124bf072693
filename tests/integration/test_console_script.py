"""`python -m langneurons.cli` in its own process: a bad input ends it with one line on stderr, nothing else."""

import subprocess
import sys

import pytest
import torch

from ..unit.test_cli import fake_stats

pytestmark = pytest.mark.integration


def test_console_script_reports_bad_input(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save("nope", bad)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "langneurons.cli",
            "identify",
            "--activations",
            str(bad),
            str(bad),
            "--out",
            str(tmp_path / "x.pth"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and run.stderr.count("\n") == 1  # one line, no traceback or warnings
    assert run.stderr.startswith(f"langneurons: error: {bad} is not an activation statistics file")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "langneurons.cli",
            "identify",
            "--method",
            "lave",
            "--activations",
            *fake_stats(tmp_path, 2),
            "--out",
            str(tmp_path / "x.pth"),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "LAVE needs activation sums" in run.stderr
