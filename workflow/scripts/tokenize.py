import json

import torch
from transformers import AutoTokenizer

from langneurons.corpus import pack_tokens
from langneurons.io import atomic_write, read_jsonl
from langneurons.runlog import start

log = start(snakemake)
info = json.load(open(snakemake.input.model))
tokenizer = AutoTokenizer.from_pretrained(info["path"], trust_remote_code=info.get("trust_remote_code", False))
docs = (row["text"] for row in read_jsonl(snakemake.input.docs))
tokens = pack_tokens(docs, tokenizer, snakemake.params.seq_len, snakemake.params.budget)
with atomic_write(snakemake.output[0], None) as tmp:
    torch.save(tokens, tmp)
log.info(
    "%d tokens in %d full sequences (+%d remainder) from %d documents",
    tokens["n_tokens"],
    len(tokens["sequences"]),
    tokens["remainder"].numel(),
    tokens["n_documents"],
)
