import json
import os

import torch
from transformers import AutoTokenizer

from langneurons.corpus import pack_tokens, read_jsonl
from langneurons.runlog import start

log = start(snakemake)
info = json.load(open(snakemake.input.model))
tokenizer = AutoTokenizer.from_pretrained(info["path"], trust_remote_code=info.get("trust_remote_code", False))
for split in ("train", "valid"):
    docs = (row["text"] for row in read_jsonl(snakemake.input[split]))
    tokens = pack_tokens(docs, tokenizer, snakemake.params.seq_len, snakemake.params.budgets[split])
    tmp = snakemake.output[split] + ".tmp"
    torch.save(tokens, tmp)
    os.replace(tmp, snakemake.output[split])
    log.info("%s: %d tokens in %d full sequences (+%d remainder) from %d documents", split,
             tokens["n_tokens"], len(tokens["sequences"]), tokens["remainder"].numel(), tokens["n_documents"])
