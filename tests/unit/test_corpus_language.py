"""The corpus stage's language check: every paragraph identified, those in another language dropped and counted."""

import json
import time

import pytest

from langneurons.bundled import bundled_documents
from langneurons.config import default_languages
from langneurons.corpus import (
    LanguageCheck,
    corpus_splits,
    language_check_mode,
    pack_tokens,
    write_documents,
)
from langneurons.io import read_jsonl
from langneurons.models.tiny import byte_tokenizer

from .test_corpus import wikipedia_copy

LANGS = default_languages()
FRENCH = [
    "Le sommeil est essentiel pour la santé du corps et de l'esprit, et chacun devrait dormir assez.",
    "La cuisine française est connue dans le monde entier pour ses fromages, ses pains et ses vins.",
    "Les trains à grande vitesse relient Paris aux grandes villes du pays en quelques heures seulement.",
    "Au printemps, les jardins publics se remplissent de fleurs et de familles qui se promènent le dimanche.",
    "La Révolution de 1789 a profondément changé la société et les institutions politiques du royaume.",
    "Les élèves apprennent à lire et à écrire dès l'école primaire, puis étudient les sciences au collège.",
]
ENGLISH = [
    "The quick development of railways changed how people travelled across the whole country.",
    "Many of the oldest libraries in the world still keep handwritten books from the Middle Ages.",
]


def files_config(files: dict, **extra) -> dict:
    return {"source": "files", "files": files, "valid_fraction": 0.25, "files_seed": 0, **extra}


def run_stage(cfg: dict, lang: str, out, tokenizer=None, seq_len=None) -> tuple[dict, dict]:
    """The corpus rule's work: documents per split through the language check; ({split: texts}, summary)."""
    check = LanguageCheck(lang, LANGS, language_check_mode(cfg), tokenizer)
    written = {}
    for split, docs in corpus_splits(cfg, lang, tokenizer, seq_len, check):
        n = write_documents(docs, out / f"{lang}.{split}.jsonl", progress=False)
        check.close_split(split, n if cfg["source"] == "wikipedia" else None)
        written[split] = [row["text"] for row in read_jsonl(out / f"{lang}.{split}.jsonl")]
    return written, json.loads(json.dumps(check.summary()))  # as the rule writes it


def test_the_default_drops_for_files_and_wikipedia_and_measures_the_bundled_corpus():
    assert language_check_mode({"source": "files"}) == "drop"
    assert language_check_mode({"source": "wikipedia", "language_filter": None}) == "drop"
    assert language_check_mode({"source": "bundled", "language_filter": None}) == "measure"
    assert language_check_mode({"source": "bundled", "language_filter": True}) == "drop"
    assert language_check_mode({"source": "files", "language_filter": False}) == "off"


def test_paragraphs_of_another_language_in_a_files_corpus_are_dropped_and_counted(tmp_path):
    (tmp_path / "fr.txt").write_text("\n\n".join(FRENCH[:3] + ENGLISH[:1] + FRENCH[3:] + ENGLISH[1:]), "utf-8")
    written, summary = run_stage(files_config({"fr": str(tmp_path / "fr.txt")}), "fr", tmp_path)
    kept = written["valid"] + written["train"]
    assert sorted(kept) == sorted(FRENCH)  # every English paragraph gone, every French one kept
    assert summary["mode"] == "drop" and summary["unit"] == "paragraph"
    splits = summary["splits"]
    assert sum(s["documents"] for s in splits.values()) == 8 and sum(s["documents_kept"] for s in splits.values()) == 6
    assert sum(s["paragraphs_other"] for s in splits.values()) == 2
    assert sum(s["chars_dropped"] for s in splits.values()) == sum(map(len, ENGLISH))
    assert sum(s["chars_kept"] for s in splits.values()) == sum(map(len, FRENCH))
    others = [s["other_languages"] for s in splits.values() if s["other_languages"]]
    assert sum(o.get("en", 0) for o in others) == 2
    assert sorted(e["text"] for e in summary["examples"]) == sorted(ENGLISH)
    assert all(e["language"] == "en" and e["dropped"] for e in summary["examples"])
    # the budget counts only kept text: the packed tokens are those of the French paragraphs alone
    tok = byte_tokenizer()
    packed = pack_tokens(iter(kept), tok, seq_len=64, budget=100_000, progress=False)
    unfiltered = pack_tokens(iter(FRENCH + ENGLISH), tok, seq_len=64, budget=100_000, progress=False)
    assert packed["n_documents"] == 6 and packed["n_tokens"] < unfiltered["n_tokens"]


def test_a_document_keeps_its_paragraphs_in_the_language_and_loses_the_others(tmp_path):
    mixed = "\n\n".join([FRENCH[0], ENGLISH[0], "Conclusion", FRENCH[1]])
    only_english = "\n\n".join(["Introduction", ENGLISH[1]])
    rows = [{"text": mixed}, {"text": only_english}, {"text": FRENCH[2]}]
    (tmp_path / "fr.jsonl").write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    files = {"fr": {"train": str(tmp_path / "fr.jsonl"), "valid": str(tmp_path / "fr.jsonl")}}
    written, summary = run_stage(files_config(files), "fr", tmp_path)
    # the heading stays with its document; a document whose judged paragraphs all go is dropped whole
    assert written["train"] == ["\n\n".join([FRENCH[0], "Conclusion", FRENCH[1]]), FRENCH[2]]
    train = summary["splits"]["train"]
    assert train["documents"] == 3 and train["documents_kept"] == 2 and train["documents_trimmed"] == 1
    assert train["paragraphs"] == 5 and train["paragraphs_other"] == 2  # headings are not judged alone
    unchecked, _ = run_stage({**files_config(files), "language_filter": False}, "fr", tmp_path)
    assert unchecked["train"] == [r["text"] for r in rows]


def test_measure_mode_drops_nothing_and_off_identifies_nothing(tmp_path):
    (tmp_path / "fr.txt").write_text("\n\n".join(FRENCH + ENGLISH), "utf-8")
    files = {"fr": {"train": str(tmp_path / "fr.txt"), "valid": str(tmp_path / "fr.txt")}}
    check = LanguageCheck("fr", LANGS, "measure")
    docs = list(check.filter(FRENCH + ENGLISH))
    row = check.close_split("train")
    assert docs == FRENCH + ENGLISH and row["paragraphs_other"] == 2 and row["chars_dropped"] == 0
    assert all(not e["dropped"] for e in check.summary()["examples"])
    written, summary = run_stage({**files_config(files), "language_filter": False}, "fr", tmp_path)
    assert written["train"] == FRENCH + ENGLISH and summary["mode"] == "off"
    assert summary["splits"]["train"]["paragraphs"] == 0 and summary["splits"]["train"]["documents"] == 8


def test_the_bundled_corpus_is_in_its_languages():
    """Measured on every bundled passage (80 per language): lingua puts none elsewhere, so nothing would go."""
    start = time.perf_counter()
    for lang in LANGS:
        check = LanguageCheck(lang, LANGS, "drop")
        docs = bundled_documents(lang, "train", 16) + bundled_documents(lang, "valid", 16)
        assert list(check.filter(docs)) == docs, lang
        row = check.close_split("all")
        assert row["documents"] == 80 and row["paragraphs"] == 80 and row["paragraphs_other"] == 0
    assert time.perf_counter() - start < 30  # about 1 s on 2 CPU cores (lingua's models load once)


def test_wikipedia_budget_counts_only_kept_text(tmp_path):
    wikipedia_copy(tmp_path / "wiki", "vi", 60)
    import pyarrow as pa
    import pyarrow.parquet as pq

    # every fifth article becomes English: those are dropped before the budget is counted
    path = next((tmp_path / "wiki" / "20231101.vi").glob("*.parquet"))
    table = pq.read_table(path).to_pydict()
    table["text"] = [ENGLISH[i % 2] if i % 5 == 0 else t for i, t in enumerate(table["text"])]
    pq.write_table(pa.table(table), path)
    cfg = {
        "source": "wikipedia",
        "train_tokens": 600,
        "valid_tokens": 200,
        "wikipedia": {"dataset": str(tmp_path / "wiki"), "snapshot": "20231101", "seed": 1},
    }
    tok = byte_tokenizer()
    written, summary = run_stage(cfg, "vi", tmp_path, tok, seq_len=32)
    assert not set(ENGLISH) & set(written["valid"] + written["train"])
    for split, budget in (("valid", 200), ("train", 600)):
        row = summary["splits"][split]
        assert row["documents_kept"] == len(written[split])
        assert row["tokens_kept"] == sum(len(t.encode()) for t in written[split])
        packed = pack_tokens(iter(written[split]), tok, 32, budget, progress=False)
        assert packed["n_tokens"] == budget  # the budget is filled with kept text
    dropped = sum(s["documents"] - s["documents_kept"] for s in summary["splits"].values())
    assert dropped >= 1 and sum(s["tokens_dropped"] for s in summary["splits"].values()) > 0


@pytest.mark.parametrize("text", ["", "   ", "1234", "\n\n\n"])
def test_documents_without_letters_are_kept_and_not_judged(text):
    check = LanguageCheck("fr", LANGS, "drop")
    assert list(check.filter([text, FRENCH[0]])) == [text, FRENCH[0]]
    assert check.close_split("train")["paragraphs_other"] == 0
