"""Reading a results folder for the report, strictly.

Only an absent file means "not run yet" (the readers return None). A file that
is present but cannot be read (a bad CSV, a bad JSONL line, a corrupt torch
file, a missing column) is an error naming the file: the report never shows a
broken result as missing. Every path comes from ``langneurons/paths.py``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from ..config import ppl_methods
from ..errors import InputFileError
from ..io import load_torch
from ..io import read_jsonl as _read_jsonl
from ..paths import Results

RERUN = "delete it and rerun the workflow to write it again"


def read_csv(path: Path, columns=(), **kw) -> pd.DataFrame | None:
    """A CSV table (``kw`` go to ``pandas.read_csv``), None when absent; ``columns`` must be there."""
    if not path.exists():
        return None
    try:
        frame = pd.read_csv(path, **kw)
    except Exception as err:  # pandas raises several kinds for a bad table
        raise InputFileError(f"{path}: not a readable CSV table ({_first_line(err)}); {RERUN}") from None
    lacking = [c for c in columns if c not in frame.columns and c != frame.index.name]
    if lacking:
        raise InputFileError(f"{path}: no column {', '.join(map(repr, lacking))}; {RERUN}")
    return frame


def read_jsonl(path: Path) -> list[dict] | None:
    """The records of a JSONL file, None when absent (a bad line is an error naming file and line)."""
    return _read_jsonl(path) if path.exists() else None


def read_json(path: Path, keys=()) -> dict | None:
    """A JSON object, None when absent; ``keys`` must be in it."""
    import json

    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: not readable JSON ({_first_line(err)}); {RERUN}") from None
    lacking = [k for k in keys if not isinstance(data, dict) or k not in data]
    if lacking:
        raise InputFileError(f"{path}: no {', '.join(map(repr, lacking))} in the JSON object; {RERUN}")
    return data


def read_torch(path: Path, keys=()) -> dict | None:
    """A dict saved with ``torch.save`` (memory-mapped: token files are large), None when absent."""
    if not path.exists():
        return None
    try:
        data = load_torch(path, "a torch file", mmap=True)
    except InputFileError as err:  # the message starts with the path; here it is "{path}: problem; fix"
        problem = str(err).removeprefix(str(path)).strip()
        raise InputFileError(f"{path}: {problem}; {RERUN}") from None
    lacking = [k for k in keys if not isinstance(data, dict) or k not in data]
    if lacking:
        raise InputFileError(f"{path}: no {', '.join(map(repr, lacking))} in the saved dict; {RERUN}")
    return data


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def image_data_uri(path: Path) -> str:
    data = Path(path).read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        mime = "image/png"
    else:
        suffixes = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml", ".gif": "image/gif"}
        mime = suffixes.get(Path(path).suffix.lower(), "image/png")
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


class Run:
    """What every section reads: the results folder, the validated config, its models and languages.

    ``config`` is the config as the workflow validated it (defaults filled in by
    ``langneurons.config.validate_config``); sections read it as given.
    Results are named as in ``langneurons.paths.RESULT_PATTERNS``.
    """

    def __init__(self, results_dir, config: dict):
        self.results = Results(results_dir)
        self.config = config
        self.models: list[str] = list(config["models"])
        self.langs: list[str] = list(config["languages"])
        self._stats: dict[tuple[str, str], dict | None] = {}

    @property
    def ppl_methods(self) -> list[str]:
        """The methods of the perplexity matrices (the schema: null = all of selection.methods)."""
        return ppl_methods(self.config)

    def path(self, name: str, **values) -> Path:
        return self.results.path(name, **values)

    def csv(self, name: str, columns=(), index_col=None, **values) -> pd.DataFrame | None:
        return read_csv(self.path(name, **values), columns=columns, index_col=index_col)

    def jsonl(self, name: str, **values) -> list[dict] | None:
        return read_jsonl(self.path(name, **values))

    def json(self, name: str, keys=(), **values) -> dict | None:
        return read_json(self.path(name, **values), keys)

    def torch(self, name: str, keys=(), **values) -> dict | None:
        return read_torch(self.path(name, **values), keys)

    def figure(self, name: str, **values) -> dict:
        """An inlined image (``src``), or the path it is missing at (``missing``)."""
        path = self.path(name, **values)
        found = path.is_file()
        return {"src": image_data_uri(path) if found else None, "missing": None if found else str(path)}

    def stats(self, model: str, lang: str) -> dict | None:
        """A language's activation statistics (read once: the setup and neuron sections both need them)."""
        key = (model, lang)
        if key not in self._stats:
            self._stats[key] = self.torch("stats", keys=("n", "over_zero"), model=model, lang=lang)
        return self._stats[key]

    def architecture(self, model: str) -> tuple[int | None, int | None]:
        """Layers and FFN neurons per layer, from the shape of the activation statistics."""
        for lang in self.langs:
            stats = self.stats(model, lang)
            if stats is not None:
                shape = tuple(stats["over_zero"].shape)
                if len(shape) != 2:
                    path = self.path("stats", model=model, lang=lang)
                    raise InputFileError(f"{path}: over_zero must be [layers, d_ff], got {shape}; {RERUN}")
                return int(shape[0]), int(shape[1])
        return None, None
