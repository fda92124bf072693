from langneurons.corpus import documents, write_documents
from langneurons.runlog import start

log = start(snakemake)
for split in ("valid", "train"):
    path = snakemake.output[split]
    n = write_documents(documents(snakemake.params.corpus, snakemake.wildcards.lang, split), path)
    log.info("%s: wrote %d documents to %s", split, n, path)
