"""Corpora per language: where the text comes from, and packing it into tokens.

Two stages with a file between them:

1. ``write_documents``: documents (JSONL, one ``{"text": ...}`` per line) per
   language and split, from one of three sources:
   - ``bundled``: the passages shipped in ``langneurons/data/corpus`` (written for
     this project, parallel across languages); the split is by topic so the valid
     split holds the same content in every language.
   - ``wikipedia``: ``wikimedia/wikipedia`` through ``datasets`` (streaming,
     shuffled with a seed); valid documents come first, train documents after,
     so the splits never share a document.
   - ``files``: the user's text (blank-line separated documents) or JSONL files.
2. ``pack_tokens``: per model, tokenize the documents and pack them into
   sequences of ``seq_len`` tokens (each starting with BOS where the model uses
   one) until the split's token budget is reached.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from .io import read_jsonl, write_jsonl

log = logging.getLogger(__name__)

DATA = resources.files("langneurons") / "data"


# --------------------------------------------------------------------------- sources
def bundled_passages(lang: str) -> list[dict]:
    path = DATA / "corpus" / f"{lang}.jsonl"
    if not path.is_file():
        available = sorted(p.name.split(".")[0] for p in (DATA / "corpus").iterdir())
        raise ValueError(
            f"The bundled corpus has no language '{lang}' (it has {', '.join(available)}). "
            "Use corpus.source: wikipedia or files for other languages."
        )
    return read_jsonl(path)


def bundled_valid_topics(passages: list[dict], valid_topics: int) -> set[str]:
    """Every k-th topic goes to valid, spread over the list (same ids in every language)."""
    ids = [p["id"] for p in passages]
    if not 0 < valid_topics < len(ids):
        raise ValueError(f"corpus.valid_topics must be between 1 and {len(ids) - 1}, got {valid_topics}")
    step = len(ids) / valid_topics
    return {ids[int(i * step + step - 1)] for i in range(valid_topics)}


def bundled_documents(lang: str, split: str, valid_topics: int) -> list[str]:
    passages = bundled_passages(lang)
    valid = bundled_valid_topics(passages, valid_topics)
    return [p["text"] for p in passages if (p["id"] in valid) == (split == "valid")]


def wikipedia_documents(
    lang: str,
    split: str,
    budget_chars: dict[str, int],
    dataset: str,
    snapshot: str,
    seed: int,
    shuffle_buffer: int = 10_000,
) -> Iterator[str]:
    """Documents from a Wikipedia dump in ``datasets`` layout (``{snapshot}.{lang}/*.parquet``).

    ``dataset`` is the hub id (``wikimedia/wikipedia``) or a local directory with
    the same layout. The stream is shuffled with ``seed``; the first documents
    (up to ``budget_chars['valid']`` characters) form the valid split and the
    following ones the train split.
    """
    from datasets import load_dataset

    try:
        stream = load_dataset(dataset, data_dir=f"{snapshot}.{lang}", split="train", streaming=True)
    except Exception as err:
        raise RuntimeError(
            f"Could not open Wikipedia '{dataset}' for '{snapshot}.{lang}': {err}. Check "
            "corpus.wikipedia.snapshot (e.g. 20231101) and the language code; offline, point "
            "corpus.wikipedia.dataset to a local copy with the same folder layout."
        ) from err
    stream = stream.shuffle(seed=seed, buffer_size=shuffle_buffer)
    skip = 0 if split == "valid" else budget_chars["valid"]
    want = budget_chars[split]
    seen = taken = 0
    for row in stream:
        text = row["text"].strip()
        if not text:
            continue
        if seen < skip:
            seen += len(text)
            continue
        yield text
        taken += len(text)
        if taken >= want:
            return


def file_documents(path: str | Path) -> list[str]:
    """Documents from ``.jsonl`` (field ``text``) or plain text (blank-line separated)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {path} does not exist (see corpus.files in the config)")
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
        if rows and "text" not in rows[0]:
            raise ValueError(f"{path}: JSONL corpus lines need a 'text' field")
        return [r["text"] for r in rows if r["text"].strip()]
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return [b.strip() for b in blocks if b.strip()]


def documents(cfg: dict, lang: str, split: str) -> Iterable[str]:
    """The documents of one language and split, as the corpus config says."""
    source = cfg["source"]
    if source == "bundled":
        return bundled_documents(lang, split, cfg["valid_topics"])
    if source == "wikipedia":
        wiki = cfg["wikipedia"]
        budget = {s: cfg[f"{s}_tokens"] * wiki["chars_per_token"] for s in ("train", "valid")}
        return wikipedia_documents(lang, split, budget, wiki["dataset"], wiki["snapshot"], wiki["seed"])
    if source == "files":
        entry = cfg["files"].get(lang)
        if entry is None:
            raise ValueError(f"corpus.files has no entry for language '{lang}'")
        if isinstance(entry, dict):
            return file_documents(entry[split])
        docs = file_documents(entry)
        random.Random(cfg["files_seed"]).shuffle(docs)
        n_valid = max(1, round(len(docs) * cfg["valid_fraction"]))
        return docs[:n_valid] if split == "valid" else docs[n_valid:]
    raise ValueError(f"corpus.source '{source}' is not one of bundled, wikipedia, files")


def write_documents(docs: Iterable[str], out_path: str | Path, progress: bool = True) -> int:
    from tqdm import tqdm

    out_path = Path(out_path)
    docs = tqdm(docs, desc=f"documents {out_path.name}", unit="doc", disable=not progress)
    n = write_jsonl(({"text": text} for text in docs), out_path)
    if n == 0:
        out_path.unlink()
        raise RuntimeError(f"no documents for {out_path}: the corpus source returned nothing")
    return n


# --------------------------------------------------------------------------- tokens
def uses_bos(tokenizer) -> bool:
    """Whether the tokenizer puts BOS first by itself (LLaMA, Gemma: yes; GPT-2: no)."""
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a").input_ids[:1] == [bos]


def pack_tokens(docs: Iterable[str], tokenizer, seq_len: int, budget: int, progress: bool = True) -> dict:
    """Pack documents into sequences of ``seq_len`` tokens, at most ``budget`` tokens in all.

    Documents are joined with EOS; every sequence starts with BOS when the model
    uses one (Gemma's outputs degrade badly without it). Full sequences go into
    ``sequences`` [n, seq_len]; the tail that does not fill one is kept as
    ``remainder`` (a shorter last sequence) so small corpora lose nothing.
    """
    import torch
    from tqdm import tqdm

    bos = tokenizer.bos_token_id if uses_bos(tokenizer) else None
    prefix = [bos] if bos is not None else []
    sep = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    body = seq_len - len(prefix)
    if body < 1:
        raise ValueError(f"seq_len {seq_len} is too short")
    n_full, leftover = divmod(budget, seq_len)
    max_body = n_full * body + max(0, leftover - len(prefix))
    pieces: list[torch.Tensor] = []
    have = n_docs = 0
    with tqdm(total=max_body, desc="tokens", unit="tok", disable=not progress) as bar:
        for text in docs:
            ids = tokenizer(text, add_special_tokens=False).input_ids + sep
            ids = ids[: max_body - have]
            pieces.append(torch.tensor(ids, dtype=torch.int32))
            have += len(ids)
            n_docs += 1
            bar.update(len(ids))
            if have >= max_body:
                break
    stream = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int32)
    n_seq = len(stream) // body
    full = stream[: n_seq * body].reshape(n_seq, body)
    if prefix:
        full = torch.cat([torch.full((n_seq, 1), bos, dtype=torch.int32), full], dim=1)
    tail = stream[n_seq * body :]
    min_tail = 1 if prefix else 2  # a sequence needs two tokens to predict one
    remainder = torch.cat([torch.tensor(prefix, dtype=torch.int32), tail]) if len(tail) >= min_tail else tail[:0]
    n_tokens = full.numel() + remainder.numel()
    if n_tokens == 0:
        raise RuntimeError("the corpus produced no tokens")
    if n_tokens < budget:
        log.warning("corpus exhausted: %d tokens packed, budget was %d", n_tokens, budget)
    return {
        "sequences": full,
        "remainder": remainder,
        "seq_len": seq_len,
        "bos": bos,
        "n_tokens": n_tokens,
        "n_documents": n_docs,
    }


def load_tokens(path: str | Path) -> dict:
    import torch

    data = torch.load(path, weights_only=True)
    for key in ("sequences", "remainder", "seq_len"):
        if key not in data:
            raise ValueError(f"{path} is not a token file (missing '{key}')")
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
