"""Corpus sources and packing; the bundled data is parallel and sized as promised."""

import json
import random

import pytest
import torch

from langneurons.bundled import DATA, bundled_documents, bundled_passages, bundled_valid_topics
from langneurons.config import default_languages
from langneurons.corpus import (
    body_tokens,
    check_token_count,
    corpus_splits,
    documents,
    file_documents,
    iter_batches,
    load_tokens,
    pack_tokens,
    tokenize_documents,
    write_documents,
)
from langneurons.errors import InputFileError
from langneurons.io import read_jsonl
from langneurons.models.tiny import byte_tokenizer

DEFAULT_LANGUAGES = default_languages()

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
    # a language without a file is the config gate's (tests/bad_inputs/test_config.py)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        file_documents(tmp_path / "missing.txt")


def test_packing_streams_documents_into_the_plain_concatenation():
    """Streamed, batched packing gives what cutting the joined token stream into sequences gives."""
    tok = byte_tokenizer()
    rng = random.Random(0)
    docs = ["".join(rng.choice("abcdefgh ") for _ in range(rng.randint(1, 90))) for _ in range(40)]
    stream = [i for d in docs for i in tok(d, add_special_tokens=False).input_ids + [tok.eos_token_id]]
    body = 15  # seq_len 16 after BOS
    for budget in (16, 17, 100, 1000, 10_000):
        packed = pack_tokens(iter(docs), tok, seq_len=16, budget=budget, progress=False)
        used = stream[: min(len(stream), budget // 16 * body + max(0, budget % 16 - 1))]
        rows = [[tok.bos_token_id] + used[i : i + body] for i in range(0, len(used) - body + 1, body)]
        assert packed["sequences"].tolist() == rows
        tail = used[len(rows) * body :]
        assert packed["remainder"].tolist() == ([tok.bos_token_id] + tail if tail else [])
        assert packed["n_tokens"] == 16 * len(rows) + (1 + len(tail) if tail else 0)
        if budget % 16 != 1:  # else the last sequence would be BOS alone, with nothing to predict
            assert packed["n_tokens"] == min(budget, len(stream) + len(rows) + bool(tail))
    # batches of any size tokenize the same
    small = [ids for _, ids in tokenize_documents(docs, tok, batch_chars=1)]
    assert small == [ids for _, ids in tokenize_documents(docs, tok, batch_chars=10**9)]


def test_token_files_round_trip(tmp_path):
    tok = byte_tokenizer()
    packed = pack_tokens(["abc " * 100], tok, seq_len=16, budget=200, progress=False)
    torch.save(packed, tmp_path / "t.pt")
    loaded = load_tokens(tmp_path / "t.pt")
    assert torch.equal(loaded["sequences"], packed["sequences"]) and loaded["n_tokens"] == 200
    torch.save({"sequences": packed["sequences"]}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a token file"):
        load_tokens(tmp_path / "bad.pt")


def test_minimum_tokens_per_language_and_split(caplog):
    with pytest.raises(InputFileError) as err:
        check_token_count(5, budget=1024, minimum=4096, lang="zh", split="train", docs="corpus/zh.train.jsonl")
    message = str(err.value)
    for part in ("zh train", "corpus/zh.train.jsonl", "5 tokens", "1024 required", "corpus.min_tokens.train"):
        assert part in message
    check_token_count(1024, budget=1024, minimum=4096, lang="zh", split="train", docs="x")  # capped at the budget
    with caplog.at_level("WARNING"):
        check_token_count(5000, budget=8000, minimum=4096, lang="ja", split="train", docs="x")
    assert "ja train: corpus exhausted: 5000 tokens packed, budget was 8000" in caplog.text


def wikipedia_copy(root, lang, n_docs):
    """A local folder laid out like wikimedia/wikipedia: {snapshot}.{lang}/*.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / f"20231101.{lang}"
    folder.mkdir(parents=True)
    texts = [f"Bài viết số {i}. " + "nội dung " * (5 + i % 7) for i in range(n_docs)]
    texts[3] = "   "  # empty articles are skipped
    pq.write_table(
        pa.table({"id": [str(i) for i in range(n_docs)], "title": ["t"] * n_docs, "text": texts}),
        folder / "train-00000-of-00001.parquet",
    )


def wikipedia_corpus(root, out, seed=1, train=600, valid=200, seq_len=32):
    """The corpus stage, then the packing stage, as the rules run them: {split: (documents, tokens)}."""
    tok = byte_tokenizer()
    cfg = {
        "source": "wikipedia",
        "train_tokens": train,
        "valid_tokens": valid,
        "wikipedia": {"dataset": str(root), "snapshot": "20231101", "seed": seed},
    }
    result = {}
    for split, docs in corpus_splits(cfg, "vi", tok, seq_len):
        write_documents(docs, out / f"{split}.jsonl", progress=False)
        texts = [row["text"] for row in read_jsonl(out / f"{split}.jsonl")]
        result[split] = (texts, pack_tokens(iter(texts), tok, seq_len, cfg[f"{split}_tokens"], progress=False))
    return result


@pytest.mark.usefixtures("quick_stream_shutdown")
def test_wikipedia_source_gives_exactly_the_token_budget(tmp_path):
    """The real `datasets` streaming path, on a local folder laid out like wikimedia/wikipedia."""
    wikipedia_copy(tmp_path / "wiki", "vi", 60)
    first = wikipedia_corpus(tmp_path / "wiki", tmp_path / "a")
    (valid, valid_tokens), (train, train_tokens) = first["valid"], first["train"]
    assert valid_tokens["n_tokens"] == 200 and train_tokens["n_tokens"] == 600
    # no more documents than the budget needs: all but the last would not fill it
    need = body_tokens(600, seq_len=32, n_prefix=1)
    assert sum(len(d.encode()) + 1 for d in train[:-1]) < need <= sum(len(d.encode()) + 1 for d in train)
    assert not set(valid) & set(train) and "" not in valid + train
    assert wikipedia_corpus(tmp_path / "wiki", tmp_path / "b")["valid"][0] == valid  # seeded
    assert wikipedia_corpus(tmp_path / "wiki", tmp_path / "c", seed=2)["valid"][0] != valid
    with pytest.raises(RuntimeError, match="Could not open Wikipedia"):
        wikipedia_corpus(tmp_path / "nowhere", tmp_path / "d")


@pytest.mark.usefixtures("quick_stream_shutdown")
def test_wikipedia_source_too_small_fails_clearly(tmp_path, caplog):
    wikipedia_copy(tmp_path / "wiki", "vi", 12)  # about 1,000 byte tokens in all
    with caplog.at_level("WARNING"):
        packed = wikipedia_corpus(tmp_path / "wiki", tmp_path / "a", train=5000)["train"][1]
    assert "Wikipedia 20231101.vi train: the source ran out" in caplog.text
    assert packed["n_tokens"] < 5000
    with pytest.raises(InputFileError, match="vi train: .* fewer than the 4096 required"):
        check_token_count(packed["n_tokens"], 5000, 4096, "vi", "train", tmp_path / "a" / "train.jsonl")
    with pytest.raises(InputFileError, match="no documents"):  # nothing left for train at all
        wikipedia_corpus(tmp_path / "wiki", tmp_path / "b", valid=5000)
