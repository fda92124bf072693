"""Files: atomic writes, JSONL reading and writing, one-time downloads.

Every file a stage writes goes through ``atomic_write``: the content lands in a
temporary file beside the target and is renamed over it only when complete, so
a killed job never leaves a half-written output that a rerun would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


class InputFileError(ValueError):
    """A file given to the workflow cannot be used; the message names the file (and line) and the fix."""


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[Path | object]:
    """Write ``path`` all at once.

    ``mode`` "w" or "wb" yields an open file; ``mode`` None yields the temporary
    path itself, for writers that take a file name (``torch.save``, ``to_csv``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; results are as readable as any other file
    try:
        if mode is None:
            yield Path(tmp)
        else:
            with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
                yield fh
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_jsonl(records: Iterable[dict], path: str | Path) -> int:
    """One JSON object per line, written atomically; returns how many."""
    n = 0
    with atomic_write(path) as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_jsonl(path: str | Path, required: Iterable[str] = ()) -> Iterator[dict]:
    """The objects of a JSONL file, one per non-blank line, checking every line.

    A line that is not a JSON object, or lacks one of ``required`` (or holds
    null there), raises ``InputFileError`` naming the file and line.
    """
    required = tuple(required)
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputFileError(
                    f"{path}, line {number}: not valid JSON ({err.msg}); fix or remove the line"
                ) from None
            if not isinstance(record, dict):
                raise InputFileError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}")
            for key in required:
                if record.get(key) is None:
                    raise InputFileError(f"{path}, line {number}: no {key!r} field; every line needs one")
            yield record


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> list[dict]:
    return list(iter_jsonl(path, required))


def download(url: str, path: str | Path, hint: str) -> Path:
    """Fetch ``url`` into ``path`` once (atomically); ``hint`` says what to do when offline."""
    import urllib.request

    path = Path(path)
    if path.is_file():
        return path
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except Exception as err:
        raise RuntimeError(f"Could not download {url} ({err}). {hint}") from err
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return path


def load_torch(path: str | Path, what: str):
    """``torch.load`` a file of tensors, lists, dicts and numbers; ``what`` names the expected content.

    A missing, empty, truncated or foreign file raises ``InputFileError`` naming it.
    Files holding other Python objects are refused: unpickling them could run code.
    """
    import pickle
    import warnings

    import torch

    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path} is a folder, not {what}")
    if not path.is_file():
        raise InputFileError(f"{path} does not exist ({what} was expected there)")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path} is empty, not {what}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise InputFileError(
                f"{path} is not {what}: it is not a torch.save file of tensors, lists and dicts only, "
                "and loading anything else could run code"
            ) from None
        reason = "not a file written by torch.save"
    except Exception:
        reason = "truncated, or not a file written by torch.save"
    raise InputFileError(f"{path} cannot be read as {what}: {reason}")
