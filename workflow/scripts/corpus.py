import json

from langneurons.corpus import LanguageCheck, corpus_splits, language_check_mode, prepared_tokenizer, write_documents
from langneurons.io import atomic_write
from langneurons.runlog import start

log = start(snakemake)
cfg, lang = snakemake.params.corpus, snakemake.wildcards.lang
# Wikipedia is fetched per model: its budgets are in that model's tokens
model = snakemake.input.get("model")
tokenizer = prepared_tokenizer(model) if model else None
check = LanguageCheck(lang, snakemake.params.languages, language_check_mode(cfg), tokenizer)
for split, docs in corpus_splits(cfg, lang, tokenizer, snakemake.params.seq_len, check):
    path = snakemake.output[split]
    n = write_documents(docs, path)
    row = check.close_split(split, n if model else None)  # Wikipedia leaves the read-ahead to the next split
    log.info(
        "%s: wrote %d documents to %s; language check (%s): %d of %d paragraphs not in %s, %d characters dropped",
        split,
        n,
        path,
        check.mode,
        row["paragraphs_other"],
        row["paragraphs"],
        lang,
        row["chars_dropped"],
    )
with atomic_write(snakemake.output.check) as fh:
    json.dump(check.summary(), fh, ensure_ascii=False, indent=1)
