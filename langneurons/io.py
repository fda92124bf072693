"""Files: atomic writes, JSONL reading and writing, one-time downloads.

Every file a stage writes goes through ``atomic_write``: the content lands in a
temporary file beside the target and is renamed over it only when complete, so
a killed job never leaves a half-written output that a rerun would trust.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .errors import DownloadError, InputFileError


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[Path | object]:
    """Write ``path`` all at once.

    ``mode`` "w" or "wb" yields an open file; ``mode`` None yields the temporary
    path itself, for writers that take a file name (``torch.save``, ``to_csv``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed name beside the target (one job writes each output): torch.save records the file's
    # name inside the archive, so a random name would make identical results differ byte for byte.
    tmp = path.with_name(path.name + ".tmp")
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


def join_jsonl(paths: Iterable[str | Path], path: str | Path) -> int:
    """The JSONL files ``paths`` joined in order into ``path`` (written atomically); returns how many records."""
    return write_jsonl((record for part in paths for record in iter_jsonl(part)), path)


JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", list: "array", dict: "object"}


def iter_jsonl_lines(path: str | Path, required: Iterable[str] | Mapping[str, type] = ()) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSONL file, checking every line.

    A line that is not UTF-8 or not a JSON object, or lacks one of ``required``
    (or holds null there), raises ``InputFileError`` naming the file and line.
    Where ``required`` maps fields to types, the values must have those types.
    """
    types = dict(required) if isinstance(required, Mapping) else dict.fromkeys(required, object)
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputFileError(
                    f"{path}, line {number}: not UTF-8 text ({err.reason}); save it as UTF-8"
                ) from None
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
            for key, kind in types.items():
                value = record.get(key)
                if value is None:
                    raise InputFileError(f"{path}, line {number}: no {key!r} field; every line needs one")
                if not isinstance(value, kind):
                    want, got = (JSON_TYPES.get(t, t.__name__) for t in (kind, type(value)))
                    raise InputFileError(f"{path}, line {number}: {key!r} must be a JSON {want}, got a {got}")
            yield number, record


def iter_jsonl(path: str | Path, required: Iterable[str] | Mapping[str, type] = ()) -> Iterator[dict]:
    """The objects of a JSONL file, checked line by line as ``iter_jsonl_lines`` does."""
    return (record for _, record in iter_jsonl_lines(path, required))


def read_jsonl(path: str | Path, required: Iterable[str] | Mapping[str, type] = ()) -> list[dict]:
    return list(iter_jsonl(path, required))


def read_text(path: str | Path) -> str:
    """A UTF-8 text file; other encodings raise ``InputFileError`` naming the file and line."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputFileError(f"{path}, line {line}: not UTF-8 text ({err.reason}); save it as UTF-8") from None


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
        raise DownloadError(f"Could not download {url} ({err}). {hint}") from err
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return path


def load_torch(path: str | Path, what: str, *, mmap: bool = False):
    """``torch.load`` a file of tensors, lists, dicts and numbers; ``what`` names the expected content.

    Every saved torch file the package reads comes through here. ``mmap`` maps
    the file instead of reading it whole (large token files, of which a job
    needs a slice); a file in torch's legacy format, which cannot be mapped, is
    read whole. Tensors land on the CPU.

    A missing, empty, truncated or foreign file raises ``InputFileError`` naming it.
    Files holding other Python objects are refused: unpickling them could run code.
    """
    import pickle
    import warnings
    import zipfile

    import torch

    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path} is a folder, not {what}")
    if not path.is_file():
        raise InputFileError(f"{path} does not exist ({what} was expected there)")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path} is empty, not {what}")
    mapped = {"mmap": True} if mmap and zipfile.is_zipfile(path) else {}  # only torch's zip format maps
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, weights_only=True, map_location="cpu", **mapped)
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
