from langneurons.activations import load_stats, merge_stats, save_stats
from langneurons.runlog import start

log = start(snakemake)
merged = merge_stats([load_stats(path) for path in snakemake.input])
save_stats(merged, snakemake.output[0], language=snakemake.wildcards.lang, model=snakemake.wildcards.model)
log.info("merged %d shards: n = %d tokens", len(snakemake.input), merged["n"])
