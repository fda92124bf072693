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
   Every source's documents pass ``LanguageCheck`` on the way: each paragraph is identified
   (lingua, restricted to the configured languages) and, where ``corpus.language_filter`` says
   so, a paragraph in another language is dropped before the budget is counted.
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
import re
from collections import Counter, deque
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


def wikipedia_splits(
    cfg: dict, lang: str, tokenizer, seq_len: int, check: LanguageCheck | None = None
) -> Iterator[tuple[str, Iterator[str]]]:
    """(split, documents) for valid, then train: the documents that fill each token budget for this tokenizer.

    ``check`` filters the documents before they are tokenized, so the budgets count only kept text.
    """
    wiki = cfg["wikipedia"]
    prefix, sep = packing_ids(tokenizer)
    texts = wikipedia_stream(lang, wiki["dataset"], wiki["snapshot"], wiki["seed"])
    kept = check.filter(texts) if check else texts
    tokenized = tokenize_documents(kept, tokenizer)
    if check:
        tokenized = check.count_tokens(tokenized)
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
    cfg: dict, lang: str, tokenizer=None, seq_len: int | None = None, check: LanguageCheck | None = None
) -> Iterator[tuple[str, Iterable[str]]]:
    """(split, documents) for valid, then train, as the corpus config says.

    Wikipedia needs the model's ``tokenizer`` and ``seq_len`` (its budgets are
    in that model's tokens), and each split's documents must be consumed before
    the next split is asked for. ``check`` (a ``LanguageCheck``) identifies the
    paragraphs and drops those not in ``lang`` where it is set to.
    """
    if cfg["source"] == "wikipedia":
        yield from wikipedia_splits(cfg, lang, tokenizer, seq_len, check)
    else:
        for split in SPLITS:
            docs = documents(cfg, lang, split)
            yield split, check.filter(docs) if check else docs


# --------------------------------------------------------------------------- language check
#: A paragraph ends at a blank line (a line holding only spaces counts as blank).
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
LANGUAGE_CHECK_MODES = ("drop", "measure", "off")


def language_check_mode(cfg: dict) -> str:
    """What ``corpus.language_filter`` asks: ``drop`` (identify paragraphs, drop those in another
    language), ``measure`` (identify and count, drop nothing) or ``off``.

    The default (null) drops for Wikipedia and the user's files and measures the bundled corpus,
    which was written in its languages: a bundled paragraph that lingua puts elsewhere would be
    lingua's mistake, and dropping it would change the default run's corpus with lingua's version.
    """
    setting = cfg.get("language_filter")
    if setting is None:
        return "measure" if cfg["source"] == "bundled" else "drop"
    return "drop" if setting else "off"


class LanguageCheck:
    """The paragraphs of one language's documents identified, and those in another language dropped.

    The unit is the paragraph (text between blank lines), not the document: another language in a
    Wikipedia article is a quotation, a title, a section (the authors' repository was asked whether
    English passages in other Wikipedias bias the neurons); dropping the whole article would lose
    its text in the language, keeping it would count the English. Lines are too short to identify
    reliably, and the user's text files already hold one paragraph per document. A paragraph of
    fewer than ``confusion.MIN_WORDS`` words (a heading) is not judged alone and stays with its
    document, unless every judged paragraph of the document goes; a document with no paragraph that
    long is judged whole, and one with fewer words in all (or no letters) is kept unjudged: lingua
    cannot tell a language from so little. Identification runs in batches through lingua's
    parallel detection.

    ``filter(documents)`` yields the kept text of each document (unchanged where nothing is
    dropped) and records what it found; ``count_tokens`` notes the tokens of the kept documents the
    Wikipedia source takes; ``close_split`` books the documents written to a split, and ``summary``
    returns the counts per split with a few dropped examples (JSON-able).
    """

    def __init__(self, lang: str, languages: list[str], mode: str, tokenizer=None, examples: int = 5, batch: int = 64):
        if mode not in LANGUAGE_CHECK_MODES:
            raise ValueError(f"language check mode {mode!r} is not one of {LANGUAGE_CHECK_MODES}")
        self.lang, self.languages, self.mode = lang, list(languages), mode
        self.tokenizer, self.max_examples, self.batch = tokenizer, examples, batch
        self.pending: deque[dict] = deque()  # per document, in order, until a split books it
        self.splits: dict[str, dict] = {}
        self.examples: list[dict] = []
        self._tokens: deque[dict] = deque()  # kept documents waiting for their token count (Wikipedia)

    def filter(self, docs: Iterable[str]) -> Iterator[str]:
        chunk: list[str] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= self.batch:
                yield from self._check(chunk)
                chunk = []
        if chunk:
            yield from self._check(chunk)

    def _check(self, docs: list[str]) -> Iterator[str]:
        from .confusion import MIN_WORDS, has_words
        from .langid import identify_many

        if self.mode == "off":
            for doc in docs:
                self._book(doc, doc, [], 0)
                yield doc
            return
        units = []  # per document: its units (paragraphs, or the whole document) and whether each is judged
        for doc in docs:
            paragraphs = PARAGRAPH_BREAK.split(doc)
            judged = [has_words(p, MIN_WORDS) for p in paragraphs]
            if not any(judged) and has_words(doc, MIN_WORDS):  # short paragraphs only: the document is judged whole
                paragraphs, judged = [doc], [True]
            units.append((paragraphs, judged))  # (fewer words in all: too short to tell, kept unjudged)
        found = iter(identify_many([p for ps, js in units for p, j in zip(ps, js) if j], self.languages))
        for doc, (paragraphs, judged) in zip(docs, units):
            languages = [next(found) if j else self.lang for j in judged]  # a short paragraph goes with its document
            foreign = [(p, lang) for p, lang in zip(paragraphs, languages) if lang != self.lang]
            kept: str | None = doc
            if self.mode == "drop" and foreign:
                keep = [p for p, lang in zip(paragraphs, languages) if lang == self.lang]
                in_language = any(j and lang == self.lang for j, lang in zip(judged, languages))
                kept = "\n\n".join(keep) if in_language else None
            self._book(doc, kept, foreign, sum(judged))
            if kept is not None:
                yield kept

    def _book(self, doc: str, kept: str | None, foreign: list[tuple[str, str | None]], judged: int) -> None:
        """Record one document's outcome (``kept``: its text after the check, None when dropped whole)."""
        dropped = self.mode == "drop"
        outcome = {
            "kept": kept is not None,
            "trimmed": kept is not None and kept != doc,
            "paragraphs": judged,
            "paragraphs_other": len(foreign),
            "chars": len(doc),
            "chars_kept": len(kept or ""),
            "chars_other": sum(len(p) for p, _ in foreign),
            "tokens_kept": None,
            "tokens_dropped": None,
            "other_languages": Counter(found or "und" for _, found in foreign),
        }
        if dropped and self.tokenizer is not None and foreign:
            removed = [p for p, _ in foreign] if kept is not None else [doc]
            outcome["tokens_dropped"] = sum(map(len, self.tokenizer(removed, add_special_tokens=False).input_ids))
        elif self.tokenizer is not None:
            outcome["tokens_dropped"] = 0
        for paragraph, found in foreign[: max(0, self.max_examples - len(self.examples))]:
            self.examples.append({"language": found or "und", "dropped": dropped, "text": paragraph[:300]})
        self.pending.append(outcome)
        if kept is not None:
            self._tokens.append(outcome)

    def count_tokens(self, tokenized: Iterator[tuple[str, list[int]]]) -> Iterator[tuple[str, list[int]]]:
        """Pass (document, token ids) through, noting each kept document's token count (in order)."""
        for text, ids in tokenized:
            self._tokens.popleft()["tokens_kept"] = len(ids)
            yield text, ids

    def close_split(self, split: str, written: int | None = None) -> dict:
        """Book the next ``written`` kept documents (and the dropped ones among them) to ``split``; None: all."""
        row = {
            "documents": 0,
            "documents_kept": 0,
            "documents_trimmed": 0,
            "paragraphs": 0,
            "paragraphs_other": 0,
            "chars": 0,
            "chars_kept": 0,
            "chars_other": 0,
            "tokens_kept": None,
            "tokens_dropped": None,
        }
        other: Counter = Counter()
        while self.pending and (written is None or row["documents_kept"] < written):
            outcome = self.pending.popleft()
            row["documents"] += 1
            row["documents_kept"] += outcome["kept"]
            row["documents_trimmed"] += outcome["trimmed"]
            for key in ("paragraphs", "paragraphs_other", "chars", "chars_kept", "chars_other"):
                row[key] += outcome[key]
            for key in ("tokens_kept", "tokens_dropped"):
                if outcome[key] is not None:
                    row[key] = (row[key] or 0) + outcome[key]
            other.update(outcome["other_languages"])
        row["chars_dropped"] = row["chars"] - row["chars_kept"]
        row["other_languages"] = dict(other.most_common())
        self.splits[split] = row
        return row

    def summary(self) -> dict:
        return {
            "language": self.lang,
            "mode": self.mode,
            "unit": "paragraph",
            "splits": self.splits,
            "examples": self.examples,
        }


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
