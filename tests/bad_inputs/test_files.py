"""Bad corpus and question files: one clear line naming the file and the line, never a late or silent failure.

Each case goes through the reader the workflow uses; a representative few also through `snakemake` on
configs/smoke.yaml, checking the exit status and that the rule's log holds the one line and no traceback.
"""

import json
import re
import subprocess

import pytest
import yaml

from langneurons.corpus import check_token_count, file_documents
from langneurons.errors import InputFileError
from langneurons.io import iter_jsonl
from langneurons.questions import load_questions

from ..conftest import REPO

SMOKE = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
LATIN1 = "café".encode("latin-1")


def jsonl(*rows):
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows).encode()


# (id, file name, content, the message after "{path}, line N: " or after "{path} ", line or None)
CORPUS_CASES = [
    ("no-text-field", "c.jsonl", jsonl({"text": "a"}, {"text": "b"}, {"body": "c"}), 3, "no 'text' field"),
    ("null-text", "c.jsonl", jsonl({"text": "a"}, {"text": None}), 2, "no 'text' field"),
    ("text-number", "c.jsonl", jsonl({"text": 5}), 1, "'text' must be a JSON string, got a number"),
    ("not-json", "c.jsonl", jsonl({"text": "a"}, "", '{"text": "b"', {"text": "c"}), 3, "not valid JSON"),
    ("not-object", "c.jsonl", jsonl({"text": "a"}, ["b"]), 2, "expected a JSON object, got list"),
    ("jsonl-not-utf8", "c.jsonl", jsonl({"text": "a"}) + b'{"text": "' + LATIN1 + b'"}\n', 2, "not UTF-8"),
    ("text-not-utf8", "c.txt", b"first\n\nsecond\n" + LATIN1 + b"\n", 4, "not UTF-8"),
    ("empty-text", "c.txt", b"", None, "holds no documents"),
    ("blank-text", "c.txt", b"\n\n  \n", None, "holds no documents"),
    ("blank-jsonl", "c.jsonl", jsonl({"text": " "}, {"text": ""}), None, "holds no documents"),
]

QUESTION_CASES = [
    ("no-question-field", "q.jsonl", jsonl({"question": "a?"}, {"q": "b?"}), 2, "no 'question' field"),
    ("null-question", "q.jsonl", jsonl({"question": "a?"}, {"id": "q2", "question": None}), 2, "no 'question'"),
    ("empty-question", "q.jsonl", jsonl({"question": "a?"}, {"question": "  "}), 2, "the question is empty"),
    ("question-list", "q.jsonl", jsonl({"question": ["a?"]}), 1, "'question' must be a JSON string, got a array"),
    ("bad-id", "q.jsonl", jsonl({"id": ["x"], "question": "a?"}), 1, "'id' must be a string or a number"),
    ("duplicate-id", "q.jsonl", jsonl({"id": 1, "question": "a?"}, {"id": "1", "question": "b?"}), 2, "line 1"),
    ("not-json", "q.jsonl", jsonl({"question": "a?"}, "{question: b}"), 2, "not valid JSON"),
    ("txt-not-utf8", "q.txt", b"a?\n" + LATIN1 + b"?\n", 2, "not UTF-8"),
    ("empty-txt", "q.txt", b"", None, "holds no questions"),
    ("blank-txt", "q.txt", b"  \n\n", None, "holds no questions"),
]


def expect(path, line):
    """The error starts with the file and, where one line is at fault, the line."""
    return pytest.raises(InputFileError, match="^" + re.escape(f"{path}, line {line}: " if line else f"{path} "))


@pytest.mark.parametrize(
    "name, content, line, message", [c[1:] for c in CORPUS_CASES], ids=[c[0] for c in CORPUS_CASES]
)
def test_corpus_files(name, content, line, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with expect(path, line) as err:
        file_documents(path)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "name, content, line, message", [c[1:] for c in QUESTION_CASES], ids=[c[0] for c in QUESTION_CASES]
)
def test_question_files(name, content, line, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    cfg = {"source": "files", "files": {"fr": str(path)}, "max_questions": None}
    with expect(path, line) as err:
        load_questions(cfg, "fr")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_documents_file_read_by_tokenize(tmp_path):
    """The tokenize job streams the corpus stage's file and checks every line, not just the first."""
    path = tmp_path / "en.train.jsonl"
    path.write_bytes(jsonl(*[{"text": f"doc {i}"} for i in range(1000)], {"txt": "late"}))
    with expect(path, 1001):
        list(iter_jsonl(path, required={"text": str}))


def test_too_few_tokens():
    with pytest.raises(InputFileError, match=r"^vi valid: the corpus \(c.jsonl\) gives 5 tokens, fewer than the 256"):
        check_token_count(5, 1024, 256, "vi", "valid", "c.jsonl")


# --------------------------------------------------------------------------- through snakemake
def run_smoke(tmp_path, change, *targets):
    """configs/smoke.yaml changed by ``change``, run up to ``targets`` (snakemake arguments)."""
    cfg = json.loads(json.dumps(SMOKE))
    cfg["results"] = str(tmp_path / "results")
    cfg["resources_dir"] = str(tmp_path / "resources")
    change(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run(
        ["snakemake", *targets, "--cores", "1", "--configfile", str(path)],  # --configfile takes every path after it
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def files_corpus(tmp_path, lang, content, split=None):
    """A files corpus for the smoke languages, ``content`` for ``lang`` (for one split, or the whole file)."""
    files = {}
    for other in SMOKE["languages"]:
        path = tmp_path / f"{other}.txt"
        path.write_text("\n\n".join(f"document {i} of {other}: " + "some words " * 40 for i in range(40)))
        files[other] = str(path)
    broken = tmp_path / f"{lang}.jsonl"
    broken.write_bytes(content)
    files[lang] = {"train": str(broken), "valid": files[lang]} if split == "train" else str(broken)
    # the filler is English in every language: the language check (tested in test_corpus_language) stays off
    corpus = {"source": "files", "files": files, "train_tokens": 1024, "valid_tokens": 256, "language_filter": False}
    return broken, corpus


def one_line(run, log_path, *parts):
    """The job failed with one line naming the problem, in its log and on the terminal, and no traceback."""
    assert run.returncode != 0
    text = log_path.read_text()
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("error in rule")]
    assert len(lines) == 1 and all(part in lines[0] for part in parts), text
    assert lines[0] in run.stdout + run.stderr


@pytest.mark.integration
def test_workflow_bad_corpus_line(tmp_path):
    broken, corpus = files_corpus(tmp_path, "zh", jsonl(*[{"text": "一二三"}] * 5, {"content": "四"}))
    run = run_smoke(tmp_path, lambda cfg: cfg.update(corpus=corpus), "--until", "corpus")
    one_line(run, tmp_path / "results" / "logs" / "corpus" / "zh.log", f"{broken}, line 6: no 'text' field")


@pytest.mark.integration
def test_workflow_too_little_text(tmp_path):
    """20 documents of 3 characters (200 tokens) for a train budget of 1,024: the tokenize job stops."""
    _, corpus = files_corpus(tmp_path, "zh", jsonl(*[{"text": "一二三"}] * 20), split="train")
    # only the failing job and what it needs (the model's tokenizer, the corpus), not every language's tokens
    tokens = tmp_path / "results" / "tiny-llama" / "tokens" / "zh.train.pt"
    run = run_smoke(tmp_path, lambda cfg: cfg.update(corpus=corpus), str(tokens))
    one_line(
        run,
        tmp_path / "results" / "logs" / "tokenize" / "tiny-llama" / "zh.train.log",
        "zh train:",
        "fewer than the 1024 required",
        "corpus.min_tokens.train",
    )


@pytest.mark.integration
def test_workflow_null_question(tmp_path):
    questions = tmp_path / "fr.jsonl"
    questions.write_bytes(jsonl({"question": "Pourquoi ?"}, {"question": None}))
    files = {lang: str(questions) for lang in SMOKE["languages"]}

    def change(cfg):
        cfg.update(questions={"source": "files", "files": files})
        cfg["steering"]["sweep"]["question_set"] = "bundled"  # the file's 2 questions are the tables'

    run = run_smoke(tmp_path, change, "--until", "questions")
    log = next((tmp_path / "results" / "logs" / "questions").glob("*.log"))
    one_line(run, log, f"{questions}, line 2: no 'question' field")
