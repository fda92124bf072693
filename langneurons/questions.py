"""Question sets for open-ended generation, one list per language (parallel ids).

- ``bundled``: 40 parallel questions per language written for this project.
- ``mvicuna``: the authors' multilingual Vicuna questions (70 per language),
  downloaded from their public repository (``questions.url``, ``{lang}`` is
  filled in). Offline, download the files by hand into ``questions.dir``.
- ``files``: per language a ``.txt`` (one question per line) or ``.jsonl``
  (field ``question``).
"""

from __future__ import annotations

from pathlib import Path

from .corpus import DATA
from .io import download, read_jsonl

MVICUNA_URL = "https://raw.githubusercontent.com/RUCAIBox/Language-Specific-Neurons/main/data/mvicuna/{lang}.txt"


def _lines(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
        if rows and "question" not in rows[0]:
            raise ValueError(f"{path}: JSONL questions need a 'question' field")
        return [{"id": r.get("id", f"q{i + 1:02d}"), "question": r["question"]} for i, r in enumerate(rows)]
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"id": f"q{i + 1:02d}", "question": q} for i, q in enumerate(lines)]


def fetch_mvicuna(lang: str, url_template: str, folder: str | Path) -> Path:
    """The mvicuna file for ``lang`` in ``folder``, downloaded if it is not there yet."""
    path = Path(folder) / f"{lang}.txt"
    return download(
        url_template.format(lang=lang),
        path,
        f"Download that file by hand and put it at {path}, or use questions.source: bundled.",
    )


def load_questions(cfg: dict, lang: str) -> list[dict]:
    """``[{"id", "question"}]`` for one language, at most ``cfg["max_questions"]``."""
    source = cfg["source"]
    if source == "bundled":
        rows = [{"id": r["id"], "question": r["question"]} for r in read_jsonl(DATA / "questions" / f"{lang}.jsonl")]
    elif source == "mvicuna":
        rows = _lines(fetch_mvicuna(lang, cfg["url"], cfg["dir"]))
    elif source == "files":
        if lang not in cfg["files"]:
            raise ValueError(f"questions.files has no entry for language '{lang}'")
        path = Path(cfg["files"][lang])
        if not path.is_file():
            raise FileNotFoundError(f"question file {path} does not exist (questions.files.{lang})")
        rows = _lines(path)
    else:
        raise ValueError(f"questions.source '{source}' is not one of bundled, mvicuna, files")
    if not rows:
        raise ValueError(f"no questions for language '{lang}'")
    return rows[: cfg["max_questions"]] if cfg.get("max_questions") else rows
