from transformers import AutoTokenizer

from langneurons.runlog import start
from langneurons.tasks import write_bundled_task

log = start(snakemake)
info = __import__("json").loads(open(snakemake.input.model, encoding="utf-8").read())
tokenizer = AutoTokenizer.from_pretrained(info["path"], trust_remote_code=info.get("trust_remote_code", False))
cfg = {"tasks": {"bundled": snakemake.params.bundled}, "corpus": {"valid_topics": snakemake.params.valid_topics}}
for lang, data, task in zip(snakemake.params.languages, snakemake.output.data, snakemake.output.task):
    n, single = write_bundled_task(lang, cfg, data, task, tokenizer)
    log.info(
        "%s: %d items, %d with every choice one token of %s's tokenizer", lang, n, single, snakemake.wildcards.model
    )
