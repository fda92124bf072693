"""Question sets for open-ended generation, one list per language (parallel ids).

- ``bundled``: 40 parallel questions per language written for this project.
- ``mvicuna``: the authors' multilingual Vicuna questions (70 per language),
  downloaded from their public repository (``questions.url``, ``{lang}`` is
  filled in). Offline, download the files by hand into ``questions.dir``.
- ``files``: per language a ``.txt`` (one question per line) or ``.jsonl``
  (field ``question``).

The ``questions`` rule writes the whole set; generation and steering take the
first ``questions.max_questions``, SES the first ``ses.max_items`` of the
set aligned across languages (``parallel_questions``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
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
    """``[{"id", "question"}]`` for one language: the whole configured set."""
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
    return rows


def parallel_questions(paths: Mapping[str, str | Path]) -> dict[str, list[dict]]:
    """Question files per language, aligned by id in the first language's order.

    A parallel set holds the same questions in every language: the same ids
    (line numbers for ``.txt`` sources), each once. Anything else is an error
    naming the files, since items that do not match make SES meaningless.
    """
    sets = {lang: read_jsonl(path, required=("id", "question")) for lang, path in paths.items()}
    first = next(iter(sets))
    order = [q["id"] for q in sets[first]]
    aligned = {}
    for lang, rows in sets.items():
        ids = Counter(q["id"] for q in rows)
        wrong = sorted(map(str, (set(order) ^ ids.keys()) | {i for i, n in ids.items() if n > 1}))
        if wrong:
            raise ValueError(
                f"question files {paths[first]} ({len(order)} questions) and {paths[lang]} ({len(rows)}) are not "
                f"parallel (ids {', '.join(wrong[:5])}{', ...' if len(wrong) > 5 else ''} missing or repeated): "
                "SES needs the same question ids in every language; fix the question files or set ses.items: passages"
            )
        by_id = {q["id"]: q for q in rows}
        aligned[lang] = [by_id[i] for i in order]
    return aligned
