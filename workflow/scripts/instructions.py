from langneurons.errors import InputFileError
from langneurons.instructions import instructions
from langneurons.io import write_jsonl
from langneurons.runlog import start

log = start(snakemake)
source = snakemake.params.source
examples = instructions(source, snakemake.wildcards.lang, source.get("valid_topics"))
if not examples:
    raise InputFileError(f"no instruction examples for '{snakemake.wildcards.lang}' from selection.pv.source {source}")
n = write_jsonl(examples, snakemake.output[0])
log.info("wrote %d instruction examples to %s", n, snakemake.output[0])
