import torch

from langneurons.config import check_sequence_splits
from langneurons.corpus import check_token_count, pack_tokens, prepared_tokenizer
from langneurons.io import atomic_write, iter_jsonl
from langneurons.runlog import start

log = start(snakemake)
lang, split = snakemake.wildcards.lang, snakemake.wildcards.split
tokenizer = prepared_tokenizer(snakemake.input.model)
docs = (row["text"] for row in iter_jsonl(snakemake.input.docs, required={"text": str}))
budget = snakemake.params.budget
tokens = pack_tokens(docs, tokenizer, snakemake.params.seq_len, budget)
# checked here, not a param: changing the guard alone recomputes nothing
minimum = snakemake.config["corpus"]["min_tokens"][split]
check_token_count(tokens["n_tokens"], budget, minimum, lang, split, snakemake.input.docs)
if split == "train":  # counting splits these sequences into shards and stability parts
    check_sequence_splits(snakemake.config, lang, len(tokens["sequences"]) + bool(tokens["remainder"].numel()))
with atomic_write(snakemake.output[0], None) as tmp:
    torch.save(tokens, tmp)
log.info(
    "%d tokens in %d full sequences (+%d remainder) from %d documents",
    tokens["n_tokens"],
    len(tokens["sequences"]),
    tokens["remainder"].numel(),
    tokens["n_documents"],
)
