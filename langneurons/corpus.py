"""Corpora per language: where the text comes from, and packing it into tokens.

Two stages with a file between them:

1. Documents (JSONL, one ``{"text": ...}`` per line) per language and split,
   valid first, then train (``corpus_splits``), from one of three sources:
   - ``bundled``: the passages shipped in ``langneurons/data/corpus`` (written for
     this project, parallel across languages); the split is by topic so the valid
     split holds the same content in every language.
   - ``wikipedia``: ``wikimedia/wikipedia`` through ``datasets`` (streaming,
     shuffled with a seed), fetched per model: each split takes documents until
     the model's tokenizer reaches the split's token budget, so the packing stage
     gets exactly the budget. Valid documents come first, train documents after,
     so the splits never share a document.
   - ``files``: the user's text (blank-line separated documents) or JSONL files.
2. ``pack_tokens``: per model, tokenize the documents (streamed, in batches) and
   pack them into sequences of ``seq_len`` tokens (each starting with BOS where
   the model uses one) until the split's token budget is reached.
   ``check_token_count`` then holds the result against ``corpus.min_tokens``.

Every reader checks every line of its file and names the file and line of a
bad one (``InputFileError``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from .bundled import bundled_documents
from .errors import ConfigError, DownloadError, InputFileError, MissingInput
from .io import iter_jsonl, load_torch, read_text, write_jsonl

log = logging.getLogger(__name__)

SPLITS = ("valid", "train")  # the order the documents are written in: valid first


# --------------------------------------------------------------------------- sources
def wikipedia_stream(lang: str, dataset: str, snapshot: str, seed: int, shuffle_buffer: int = 10_000) -> Iterator[str]:
    """Every non-empty document of a Wikipedia dump in ``datasets`` layout (``{snapshot}.{lang}/*.parquet``).

    ``dataset`` is the hub id (``wikimedia/wikipedia``) or a local directory with
    the same layout. The stream is shuffled with ``seed``.
    """
    from datasets import load_dataset

    try:
        stream = load_dataset(dataset, data_dir=f"{snapshot}.{lang}", split="train", streaming=True)
    except Exception as err:
        raise DownloadError(
            f"Could not open Wikipedia '{dataset}' for '{snapshot}.{lang}': {err}. Check "
            "corpus.wikipedia.snapshot (e.g. 20231101) and the language code; offline, point "
            "corpus.wikipedia.dataset to a local copy with the same folder layout."
        ) from err
    for row in stream.shuffle(seed=seed, buffer_size=shuffle_buffer):
        text = row["text"].strip()
        if text:
            yield text


def take_tokens(tokenized: Iterator[tuple[str, list[int]]], need: int, per_document: int, what: str) -> Iterator[str]:
    """Documents from ``tokenized`` until their tokens (+ ``per_document`` separators each) reach ``need``.

    ``tokenized`` is shared between splits: what this split leaves is the next
    split's start. Running out is logged here; the packing stage decides
    whether what there is suffices (``corpus.min_tokens``).
    """
    have = 0
    while have < need:
        item = next(tokenized, None)
        if item is None:
            log.warning("%s: the source ran out at %d of %d document tokens", what, have, need)
            return
        text, ids = item
        have += len(ids) + per_document
        yield text


def wikipedia_splits(cfg: dict, lang: str, tokenizer, seq_len: int) -> Iterator[tuple[str, Iterator[str]]]:
    """(split, documents) for valid, then train: the documents that fill each token budget for this tokenizer."""
    wiki = cfg["wikipedia"]
    prefix, sep = packing_ids(tokenizer)
    texts = wikipedia_stream(lang, wiki["dataset"], wiki["snapshot"], wiki["seed"])
    tokenized = tokenize_documents(texts, tokenizer)
    try:
        for split in SPLITS:
            need = body_tokens(cfg[f"{split}_tokens"], seq_len, len(prefix))
            yield split, take_tokens(tokenized, need, len(sep), f"Wikipedia {wiki['snapshot']}.{lang} {split}")
    finally:
        texts.close()  # the rest of the stream is not needed: close its files now, not at interpreter exit


def file_documents(path: str | Path) -> list[str]:
    """Documents from ``.jsonl`` (field ``text``) or plain text (blank-line separated)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"corpus file {path} does not exist (see corpus.files in the config)")
    if path.suffix == ".jsonl":
        docs = [row["text"].strip() for row in iter_jsonl(path, required={"text": str})]
    else:
        docs = [block.strip() for block in read_text(path).split("\n\n")]
    docs = [doc for doc in docs if doc]
    if not docs:
        raise InputFileError(f"{path} holds no documents (it is empty or blank); see corpus.files in the config")
    return docs


def documents(cfg: dict, lang: str, split: str) -> list[str]:
    """The documents of one language and split from the bundled corpus or the user's files."""
    source = cfg["source"]
    if source == "bundled":
        return bundled_documents(lang, split, cfg["valid_topics"])
    if source == "files":
        entry = cfg["files"][lang]
        if isinstance(entry, dict):
            return file_documents(entry[split])
        docs = file_documents(entry)
        random.Random(cfg["files_seed"]).shuffle(docs)
        n_valid = max(1, round(len(docs) * cfg["valid_fraction"]))
        return docs[:n_valid] if split == "valid" else docs[n_valid:]
    raise ValueError("Wikipedia documents depend on the model's tokenizer: use corpus_splits with a tokenizer")


def corpus_splits(
    cfg: dict, lang: str, tokenizer=None, seq_len: int | None = None
) -> Iterator[tuple[str, Iterable[str]]]:
    """(split, documents) for valid, then train, as the corpus config says.

    Wikipedia needs the model's ``tokenizer`` and ``seq_len`` (its budgets are
    in that model's tokens), and each split's documents must be consumed before
    the next split is asked for.
    """
    if cfg["source"] == "wikipedia":
        yield from wikipedia_splits(cfg, lang, tokenizer, seq_len)
    else:
        for split in SPLITS:
            yield split, documents(cfg, lang, split)


def write_documents(docs: Iterable[str], out_path: str | Path, progress: bool = True) -> int:
    from tqdm import tqdm

    out_path = Path(out_path)
    docs = tqdm(docs, desc=f"documents {out_path.name}", unit="doc", disable=not progress)
    n = write_jsonl(({"text": text} for text in docs), out_path)
    if n == 0:
        out_path.unlink()
        raise InputFileError(f"no documents for {out_path}: the corpus source returned nothing")
    return n


# --------------------------------------------------------------------------- tokens
def prepared_tokenizer(model_json: str | Path):
    """The tokenizer of a model prepared by the ``prepare_model`` rule (never downloads)."""
    import json

    from transformers import AutoTokenizer

    info = json.loads(Path(model_json).read_text())
    return AutoTokenizer.from_pretrained(info["path"], trust_remote_code=info.get("trust_remote_code", False))


def uses_bos(tokenizer) -> bool:
    """Whether the tokenizer puts BOS first by itself (LLaMA, Gemma: yes; GPT-2: no)."""
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a").input_ids[:1] == [bos]


def packing_ids(tokenizer) -> tuple[list[int], list[int]]:
    """The tokens that open every sequence (BOS where the model uses one) and that follow every document (EOS)."""
    prefix = [tokenizer.bos_token_id] if uses_bos(tokenizer) else []
    sep = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    return prefix, sep


def body_tokens(budget: int, seq_len: int, n_prefix: int) -> int:
    """Document tokens (separators included) that fill ``budget`` packed tokens of sequences opening with ``n_prefix``."""
    body = seq_len - n_prefix
    if body < 1:
        raise ConfigError(f"seq_len {seq_len} is too short: raise the model's seq_len")
    n_full, leftover = divmod(budget, seq_len)
    return n_full * body + max(0, leftover - n_prefix)


def tokenize_documents(docs: Iterable[str], tokenizer, batch_chars: int = 1 << 18) -> Iterator[tuple[str, list[int]]]:
    """(document, token ids) for each document, tokenized in batches of about ``batch_chars`` characters.

    A fast tokenizer encodes a batch in one call (in parallel where it may); the
    ids are the same as one call per document.
    """
    batch: list[str] = []
    size = 0
    for text in docs:
        batch.append(text)
        size += len(text)
        if size >= batch_chars:
            yield from zip(batch, tokenizer(batch, add_special_tokens=False).input_ids)
            batch, size = [], 0
    if batch:
        yield from zip(batch, tokenizer(batch, add_special_tokens=False).input_ids)


def _place(rows, spill, start: int, chunk) -> None:
    """Write ``chunk`` at document-token position ``start``: into the rows' bodies, past their end into ``spill``."""
    body = rows.shape[1]
    while len(chunk):
        row, col = divmod(start, body)
        if col == 0 and len(chunk) >= body and row < len(rows):  # whole rows at once
            n = min(len(chunk) // body, len(rows) - row)
            rows[row : row + n] = chunk[: n * body].reshape(n, body)
            k = n * body
        else:
            target = rows[row, col:] if row < len(rows) else spill[col:]
            k = min(len(target), len(chunk))
            target[:k] = chunk[:k]
        chunk = chunk[k:]
        start += k


def pack_tokens(docs: Iterable[str], tokenizer, seq_len: int, budget: int, progress: bool = True) -> dict:
    """Pack documents into sequences of ``seq_len`` tokens, at most ``budget`` tokens in all.

    Documents are joined with EOS; every sequence starts with BOS when the model
    uses one (Gemma's outputs degrade badly without it). Full sequences go into
    ``sequences`` [n, seq_len]; the tail that does not fill one is kept as
    ``remainder`` (a shorter last sequence) so small corpora lose nothing.

    The documents are streamed and tokenized in batches; the tokens go straight
    into an array of the budget's size, so memory holds that array and one batch.
    """
    import numpy as np
    import torch
    from tqdm import tqdm

    prefix, sep = packing_ids(tokenizer)
    need = body_tokens(budget, seq_len, len(prefix))
    n_full = budget // seq_len
    sequences = np.empty((n_full, seq_len), dtype=np.int32)
    sequences[:, : len(prefix)] = prefix
    rows = sequences[:, len(prefix) :]  # the document tokens of each sequence (a view)
    spill = np.empty(seq_len - len(prefix), dtype=np.int32)  # of the last, shorter sequence
    have = n_docs = 0
    with tqdm(total=need, desc="tokens", unit="tok", disable=not progress) as bar:
        for _, ids in tokenize_documents(docs, tokenizer):
            chunk = np.asarray(ids + sep, dtype=np.int32)[: need - have]
            _place(rows, spill, have, chunk)
            have += len(chunk)
            n_docs += 1
            bar.update(len(chunk))
            if have >= need:
                break
    n_seq, rest = divmod(have, rows.shape[1])
    tail = spill[:rest] if n_seq == n_full else rows[n_seq, :rest]
    min_tail = 1 if prefix else 2  # a sequence needs two tokens to predict one
    remainder = np.concatenate([np.asarray(prefix, dtype=np.int32), tail]) if rest >= min_tail else tail[:0]
    full = torch.from_numpy(sequences if n_seq == n_full else sequences[:n_seq].copy())  # a short corpus: copy
    remainder = torch.from_numpy(remainder.copy())
    n_tokens = full.numel() + remainder.numel()
    if n_tokens == 0:
        raise InputFileError("the corpus produced no tokens: check that its documents hold text")
    return {
        "sequences": full,
        "remainder": remainder,
        "seq_len": seq_len,
        "bos": prefix[0] if prefix else None,
        "n_tokens": n_tokens,
        "n_documents": n_docs,
    }


def check_token_count(n_tokens: int, budget: int, minimum: int, lang: str, split: str, docs: str | Path) -> None:
    """Fewer tokens than ``min_tokens`` (capped at the budget) is an error; fewer than the budget a warning."""
    required = min(minimum, budget)
    if n_tokens < required:
        raise InputFileError(
            f"{lang} {split}: the corpus ({docs}) gives {n_tokens} tokens, fewer than the "
            f"{required} required (corpus.min_tokens.{split} = {minimum}, corpus.{split}_tokens = {budget}); "
            f"add text for {lang} or lower corpus.min_tokens.{split}"
        )
    if n_tokens < budget:
        log.warning("%s %s: corpus exhausted: %d tokens packed, budget was %d", lang, split, n_tokens, budget)


def load_tokens(path: str | Path) -> dict:
    data = load_torch(path, "a token file", mmap=True)  # a counting shard reads only its own sequences
    for key in ("sequences", "remainder", "seq_len"):
        if key not in data:
            raise InputFileError(f"{path} is not a token file (missing '{key}')")
    return data


def shard_range(n_sequences: int, shard: int, shards: int) -> tuple[int, int]:
    """Sequence range of one shard: an even split, whatever batch size each job picks.

    Jobs of one language may choose different batch sizes (``batch_size: auto``
    on GPUs with different free memory), so the split must not depend on it;
    every sequence is counted exactly once either way.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    return shard * n_sequences // shards, (shard + 1) * n_sequences // shards


def iter_batches(tokens: dict, batch_size: int, shard: int = 0, shards: int = 1) -> Iterator[torch.Tensor]:
    """LongTensor batches [b, seq_len] of one shard; the remainder (if any) goes last, alone."""
    seqs = tokens["sequences"]
    start, stop = shard_range(len(seqs), shard, shards)
    for i in range(start, stop, batch_size):
        yield seqs[i : min(i + batch_size, stop)].long()
    if shard == shards - 1 and tokens["remainder"].numel() > 0:
        yield tokens["remainder"].long().unsqueeze(0)


def count_batches(tokens: dict, batch_size: int, shard: int = 0, shards: int = 1) -> int:
    start, stop = shard_range(len(tokens["sequences"]), shard, shards)
    extra = int(shard == shards - 1 and tokens["remainder"].numel() > 0)
    return -(-(stop - start) // batch_size) + extra
