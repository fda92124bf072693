"""The errors that mean "the input is wrong": a config value, a file, a model, a command line, an
answer from an API. Their message names the problem and the fix, so jobs and the command line
report them in one line (``runlog``, ``cli``); every other exception is a bug and keeps its
traceback. Each subclass also keeps a builtin base, so code that catches ``ValueError`` (or
``FileNotFoundError``, ``RuntimeError``) still catches it.

A leaf module: it imports nothing, so any module may raise these.
"""

from __future__ import annotations


class BadInput(Exception):
    """Input the user can fix; the message says what is wrong and how to fix it."""


class ConfigError(BadInput, ValueError):
    """A config value (or a combination of values) that cannot work; the message names the key."""


class InputFileError(BadInput, ValueError):
    """A file given to the workflow cannot be used; the message names the file (and line) and the fix."""


class MissingInput(BadInput, FileNotFoundError):
    """A file the workflow needs does not exist; the message says which rule or setting provides it."""


class DownloadError(BadInput, RuntimeError):
    """A model, data set or file could not be fetched; the message says how to provide it offline."""


class UnsupportedArchitecture(BadInput, ValueError):
    """A model whose architecture has no adapter (or cannot be hooked); the message lists the supported ones."""


class JudgeError(BadInput, RuntimeError):
    """A judge problem that fails the judging job (bad configuration, rejected key, scores missing)."""


class MissingAPIKey(JudgeError):
    """The environment variable that should hold the API key is unset or empty."""


class CommandError(BadInput, ValueError):
    """A mistake on the command line."""
