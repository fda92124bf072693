from langneurons.io import write_jsonl
from langneurons.questions import load_questions
from langneurons.runlog import start

log = start(snakemake)
rows = load_questions(snakemake.params.questions, snakemake.wildcards.lang)
write_jsonl(rows, snakemake.output[0])
log.info("%d questions", len(rows))
