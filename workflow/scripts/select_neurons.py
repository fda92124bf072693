from langneurons.activations import load_stats, stack_stats
from langneurons.neuronsets import counts_table, save_neurons
from langneurons.selection import select
from langneurons.runlog import start

log = start(snakemake)
probs, means = stack_stats([load_stats(path) for path in snakemake.input])
neurons = select(snakemake.wildcards.method, probs, means, snakemake.params.selection)
save_neurons(neurons, snakemake.output.neurons)
table = counts_table(neurons, snakemake.params.languages)
table.to_csv(snakemake.output.counts)
log.info("neurons per language: %s", table.drop(columns="total").sum().to_dict())
