"""A job's error output: bad input is one line saying what to fix, a bug keeps its traceback."""

import io
import sys

import pytest

from langneurons import runlog
from langneurons.errors import BadInput, ConfigError, InputFileError, MissingInput


def report(monkeypatch, err: BaseException) -> tuple[str, str]:
    """What the job's excepthook writes for ``err``: (log file, terminal)."""
    log, terminal = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.delenv("LANGNEURONS_DEBUG", raising=False)
    runlog._one_line_errors(terminal, "perplexity")
    try:
        raise err
    except BaseException as raised:
        sys.excepthook(type(raised), raised, raised.__traceback__)
    return log.getvalue(), terminal.getvalue()


@pytest.mark.parametrize(
    "err",
    [
        ConfigError("selection.top_rate: keeps no neurons; raise it"),
        InputFileError("a.csv, line 3: not a number"),
        MissingInput("model.json is missing: run prepare_model first"),
    ],
)
def test_bad_input_is_one_line_in_the_log_and_on_the_terminal(monkeypatch, err):
    log, terminal = report(monkeypatch, err)
    assert log == terminal == f"error in rule perplexity: {err}\n"
    assert isinstance(err, BadInput)


@pytest.mark.parametrize(
    "err", [ValueError("shape mismatch [4, 8] vs [4, 9]"), RuntimeError("CUDA out of memory"), KeyError("x")]
)
def test_a_bug_keeps_its_traceback(monkeypatch, err):
    log, terminal = report(monkeypatch, err)
    assert "Traceback (most recent call last)" in log and "test_runlog.py" in log
    assert terminal == ""  # the default hook writes to the log (stderr) only


def test_debug_keeps_the_traceback_of_bad_input(monkeypatch):
    log, terminal = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setenv("LANGNEURONS_DEBUG", "1")
    runlog._one_line_errors(terminal, "perplexity")
    try:
        raise ConfigError("selection.top_rate: keeps no neurons")
    except ConfigError as raised:
        sys.excepthook(type(raised), raised, raised.__traceback__)
    assert "Traceback" in log.getvalue()


def test_bad_input_keeps_its_builtin_base():
    """Code that catches ValueError / FileNotFoundError still catches the bad-input errors."""
    assert issubclass(ConfigError, ValueError) and issubclass(InputFileError, ValueError)
    assert issubclass(MissingInput, FileNotFoundError)
