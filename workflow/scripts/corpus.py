from langneurons.corpus import corpus_splits, prepared_tokenizer, write_documents
from langneurons.runlog import start

log = start(snakemake)
# Wikipedia is fetched per model: its budgets are in that model's tokens
model = snakemake.input.get("model")
tokenizer = prepared_tokenizer(model) if model else None
for split, docs in corpus_splits(
    snakemake.params.corpus, snakemake.wildcards.lang, tokenizer, snakemake.params.seq_len
):
    path = snakemake.output[split]
    n = write_documents(docs, path)
    log.info("%s: wrote %d documents to %s", split, n, path)
