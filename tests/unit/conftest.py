"""tests/unit start no other program: a test that runs snakemake, the console script or another process belongs
under tests/integration (the fast command in the README leaves it out)."""

import os
import shlex
import subprocess

import pytest

# programs the library itself may ask: the report's provenance reads the git commit
ALLOWED = {"git"}


class _NoProcess(subprocess.Popen):
    def __init__(self, args, *rest, **kwargs):
        program = kwargs.get("executable") or (shlex.split(args)[0] if isinstance(args, str) else args[0])
        if os.path.basename(os.fspath(program)) not in ALLOWED:
            raise AssertionError(f"a unit test started {args!r}: move it to tests/integration")
        super().__init__(args, *rest, **kwargs)


@pytest.fixture(autouse=True)
def no_subprocesses(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", _NoProcess)
