from langneurons.io import atomic_write
from langneurons.perplexity import load_nll
from langneurons.runlog import start
from langneurons.uncertainty import ppl_ci_table

log = start(snakemake)
cfg = snakemake.params.uncertainty
for path, out in zip(snakemake.input, snakemake.output):
    record = load_nll(path)
    table = ppl_ci_table(record, cfg["bootstrap_samples"], cfg["seed"], cfg["confidence"])
    with atomic_write(out, None) as tmp:
        table.to_csv(tmp, index=False, float_format="%.5f")
    log.info(
        "%s: %d cells, %.0f%% intervals from %d replicates over blocks of %s tokens",
        out,
        len(table),
        100 * cfg["confidence"],
        cfg["bootstrap_samples"],
        record["block_tokens"],
    )
