import time

from langneurons.activations import collect_stats_in_parts, save_stats
from langneurons.corpus import load_tokens
from langneurons.models import job_settings, load_for_job
from langneurons.runlog import start

log = start(snakemake)
lm = load_for_job(snakemake)
tokens = load_tokens(snakemake.input.tokens)
shard, shards = int(snakemake.wildcards.shard), snakemake.params.shards
t0 = time.time()
stats, parts = collect_stats_in_parts(
    lm, tokens, job_settings(snakemake)["batch_size"], shard, shards, snakemake.params.parts
)
elapsed = time.time() - t0
meta = {"language": snakemake.wildcards.lang, "model": snakemake.wildcards.model, "shard": shard, "shards": shards}
save_stats(stats, snakemake.output.stats, **meta, seconds=elapsed)
save_stats({"parts": parts}, snakemake.output.parts, **meta)
log.info("counted %d tokens in %.1f s (%.0f tokens/s)", stats["n"], elapsed, stats["n"] / max(elapsed, 1e-9))
log.info("%d part statistics for the stability analysis", len(parts))
