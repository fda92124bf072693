from langneurons.activations import load_stats, stack_stats
from langneurons.methods import select
from langneurons.neuronsets import save_neurons, write_summaries
from langneurons.runlog import start

log = start(snakemake)
out = snakemake.output
probs, means = stack_stats([load_stats(path) for path in snakemake.input], list(snakemake.input))
neurons = select(snakemake.wildcards.method, probs, means, snakemake.params.selection)
save_neurons(neurons, out.neurons)
table = write_summaries(neurons, snakemake.params.languages, out.counts, out.overlap, out.jaccard)
log.info("neurons per language: %s", table.drop(columns="total").sum().to_dict())
