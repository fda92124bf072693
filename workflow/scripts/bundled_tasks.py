from langneurons.runlog import start
from langneurons.tasks import write_bundled_task

log = start(snakemake)
lang = snakemake.wildcards.lang
cfg = {"tasks": {"bundled": snakemake.params.bundled}, "corpus": {"valid_topics": snakemake.params.valid_topics}}
n = write_bundled_task(lang, cfg, snakemake.output.data, snakemake.output.task)
log.info("%s: %d items", lang, n)
