import time

from langneurons.activations import collect_stats, save_stats
from langneurons.corpus import load_tokens
from langneurons.runlog import load_for_rule, run_settings, start

log = start(snakemake)
lm = load_for_rule(snakemake, snakemake.input.model)
tokens = load_tokens(snakemake.input.tokens)
shard, shards = int(snakemake.wildcards.shard), snakemake.params.shards
t0 = time.time()
stats = collect_stats(lm, tokens, run_settings(snakemake)["batch_size"], shard, shards)
elapsed = time.time() - t0
save_stats(
    stats,
    snakemake.output[0],
    language=snakemake.wildcards.lang,
    model=snakemake.wildcards.model,
    shard=shard,
    shards=shards,
    seconds=elapsed,
)
log.info("counted %d tokens in %.1f s (%.0f tokens/s)", stats["n"], elapsed, stats["n"] / max(elapsed, 1e-9))
