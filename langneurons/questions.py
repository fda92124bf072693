"""Question sets for open-ended generation, one list per language (parallel ids).

- ``bundled``: 40 parallel questions per language written for this project.
- ``mvicuna``: the authors' multilingual Vicuna questions (70 per language),
  downloaded from their public repository (``questions.url``, ``{lang}`` is
  filled in). Offline, download the files by hand into ``questions.dir``.
- ``files``: per language a ``.txt`` (one question per line) or ``.jsonl``
  (field ``question``, optional ``id``).

The ``questions`` rule writes the whole set; generation and steering take the
first ``questions.max_questions``, SES the first ``ses.max_items`` of the
set aligned across languages (``parallel_questions``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from .bundled import bundled_questions_file
from .errors import InputFileError
from .io import download, iter_jsonl_lines, read_jsonl, read_text


def question_file(path: str | Path) -> list[dict]:
    """``[{"id", "question"}]`` from ``.jsonl`` (field ``question``, optional ``id``) or text (one per line).

    Every line is checked; a bad one raises ``InputFileError`` naming the file and line.
    """
    path = Path(path)
    if path.suffix != ".jsonl":
        lines = [line.strip() for line in read_text(path).splitlines()]
        rows = [{"id": f"q{i + 1:02d}", "question": q} for i, q in enumerate(q for q in lines if q)]
    else:
        rows, first_line = [], {}
        for number, record in iter_jsonl_lines(path, required={"question": str}):
            if not record["question"].strip():
                raise InputFileError(f"{path}, line {number}: the question is empty")
            qid = record.get("id")
            if qid is None:
                qid = f"q{len(rows) + 1:02d}"
            elif not isinstance(qid, (str, int)) or isinstance(qid, bool):
                raise InputFileError(f"{path}, line {number}: 'id' must be a string or a number")
            qid = str(qid)
            if qid in first_line:
                raise InputFileError(f"{path}, line {number}: id {qid!r} is already used on line {first_line[qid]}")
            first_line[qid] = number
            rows.append({"id": qid, "question": record["question"].strip()})
    if not rows:
        raise InputFileError(f"{path} holds no questions (it is empty or blank)")
    return rows


def fetch_mvicuna(lang: str, url_template: str, folder: str | Path) -> Path:
    """The mvicuna file for ``lang`` in ``folder``, downloaded if it is not there yet."""
    path = Path(folder) / f"{lang}.txt"
    return download(
        url_template.format(lang=lang),
        path,
        f"Download that file by hand and put it at {path}, or use questions.source: bundled.",
    )


def load_questions(cfg: dict, lang: str) -> list[dict]:
    """``[{"id", "question"}]`` for one language: the whole configured set (a config the gate has checked)."""
    if cfg["source"] == "bundled":
        return question_file(bundled_questions_file(lang))
    if cfg["source"] == "mvicuna":
        return question_file(fetch_mvicuna(lang, cfg["url"], cfg["dir"]))
    return question_file(cfg["files"][lang])


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
            raise InputFileError(
                f"question files {paths[first]} ({len(order)} questions) and {paths[lang]} ({len(rows)}) are not "
                f"parallel (ids {', '.join(wrong[:5])}{', ...' if len(wrong) > 5 else ''} missing or repeated): "
                "SES needs the same question ids in every language; fix the question files or set ses.items: passages"
            )
        by_id = {q["id"]: q for q in rows}
        aligned[lang] = [by_id[i] for i in order]
    return aligned
