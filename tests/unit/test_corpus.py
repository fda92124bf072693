"""Corpus sources and packing; the bundled data is parallel and sized as promised."""

import json

import pytest

from langneurons import DEFAULT_LANGUAGES
from langneurons.corpus import (
    DATA,
    bundled_documents,
    bundled_passages,
    bundled_valid_topics,
    documents,
    file_documents,
    iter_batches,
    pack_tokens,
    wikipedia_documents,
)
from langneurons.io import read_jsonl
from langneurons.models.tiny import byte_tokenizer

CJK = {"zh", "ja"}


@pytest.mark.parametrize("lang", DEFAULT_LANGUAGES)
def test_bundled_corpus_is_parallel_and_sized(lang):
    passages = bundled_passages(lang)
    english = bundled_passages("en")
    assert len(passages) >= 40
    assert [p["id"] for p in passages] == [p["id"] for p in english]
    for p in passages:
        size = len(p["text"]) if lang in CJK else len(p["text"].split())
        low, high = (200, 350) if lang in CJK else (120, 200)
        assert low <= size <= high, (p["id"], size)


@pytest.mark.parametrize("lang", DEFAULT_LANGUAGES)
def test_bundled_questions_are_parallel(lang):
    questions = read_jsonl(DATA / "questions" / f"{lang}.jsonl")
    english = read_jsonl(DATA / "questions" / "en.jsonl")
    assert len(questions) >= 40
    assert [(q["id"], q["category"]) for q in questions] == [(q["id"], q["category"]) for q in english]
    assert all(q["question"].strip() for q in questions)


def test_bundled_split_is_by_topic_and_same_everywhere():
    ids = [p["id"] for p in bundled_passages("en")]
    valid = bundled_valid_topics(bundled_passages("en"), 16)
    assert len(valid) == 16 and valid <= set(ids)
    for lang in DEFAULT_LANGUAGES:
        assert bundled_valid_topics(bundled_passages(lang), 16) == valid
    train, held = bundled_documents("fr", "train", 16), bundled_documents("fr", "valid", 16)
    assert len(train) == len(ids) - 16 and len(held) == 16 and not set(train) & set(held)
    with pytest.raises(ValueError, match="no language 'xx'"):
        bundled_passages("xx")


def test_packing_budget_bos_and_remainder():
    tok = byte_tokenizer()
    docs = ["abcdefghij" * 3, "klmnop" * 4]  # 30 + 24 bytes, +1 EOS each = 56 body tokens
    packed = pack_tokens(docs, tok, seq_len=16, budget=1000, progress=False)
    seqs = packed["sequences"]
    assert seqs.shape == (3, 16)  # 15 body tokens per sequence after BOS
    assert (seqs[:, 0] == tok.bos_token_id).all()
    assert packed["remainder"][0] == tok.bos_token_id and packed["remainder"].numel() == 1 + 56 - 45
    assert packed["n_tokens"] == seqs.numel() + packed["remainder"].numel()
    # a budget cuts exactly
    small = pack_tokens(docs, tok, seq_len=16, budget=40, progress=False)
    assert small["n_tokens"] == 40 and small["sequences"].shape == (2, 16)
    batches = list(iter_batches(packed, batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 16), (1, 16), (1, 12)]


def test_files_source_text_and_jsonl(tmp_path):
    (tmp_path / "en.txt").write_text("first doc\n\nsecond doc\n\n\nthird doc\n")
    (tmp_path / "zh.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in ["一", "二", "三", "四"]))
    assert file_documents(tmp_path / "en.txt") == ["first doc", "second doc", "third doc"]
    cfg = {
        "source": "files",
        "files": {
            "zh": str(tmp_path / "zh.jsonl"),
            "en": {"train": str(tmp_path / "en.txt"), "valid": str(tmp_path / "en.txt")},
        },
        "valid_fraction": 0.25,
        "files_seed": 0,
    }
    valid, train = documents(cfg, "zh", "valid"), documents(cfg, "zh", "train")
    assert len(valid) == 1 and len(train) == 3 and sorted(valid + train) == ["一", "三", "二", "四"]
    assert len(documents(cfg, "en", "train")) == 3
    with pytest.raises(ValueError, match="no entry for language 'fr'"):
        documents(cfg, "fr", "train")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        file_documents(tmp_path / "missing.txt")


def test_wikipedia_source_on_local_copy(tmp_path):
    """The real `datasets` streaming path, on a local folder laid out like wikimedia/wikipedia."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "wiki" / "20231101.vi"
    folder.mkdir(parents=True)
    texts = [f"Bài viết số {i}. " + "nội dung " * (5 + i % 7) for i in range(60)]
    pq.write_table(
        pa.table({"id": [str(i) for i in range(60)], "title": ["t"] * 60, "text": texts}),
        folder / "train-00000-of-00001.parquet",
    )
    budget = {"valid": 200, "train": 600}
    valid = list(wikipedia_documents("vi", "valid", budget, str(tmp_path / "wiki"), "20231101", seed=1))
    train = list(wikipedia_documents("vi", "train", budget, str(tmp_path / "wiki"), "20231101", seed=1))
    assert sum(map(len, valid)) >= 200 and sum(map(len, train)) >= 600
    assert not set(valid) & set(train)
    again = list(wikipedia_documents("vi", "valid", budget, str(tmp_path / "wiki"), "20231101", seed=1))
    assert again == valid  # seeded
    assert set(valid) != set(
        list(wikipedia_documents("vi", "valid", budget, str(tmp_path / "wiki"), "20231101", seed=2))
    )
    with pytest.raises(RuntimeError, match="Could not open Wikipedia"):
        list(wikipedia_documents("xx", "valid", budget, str(tmp_path / "wiki"), "20231101", seed=1))
