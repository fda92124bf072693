from langneurons.activations import load_stats, stack_stats
from langneurons.neuronsets import counts_table, overlap_tables, save_neurons
from langneurons.runlog import start
from langneurons.selection import select

log = start(snakemake)
languages = snakemake.params.languages
probs, means = stack_stats([load_stats(path) for path in snakemake.input])
neurons = select(snakemake.wildcards.method, probs, means, snakemake.params.selection)
save_neurons(neurons, snakemake.output.neurons)
table = counts_table(neurons, languages)
table.to_csv(snakemake.output.counts)
shared, jaccard = overlap_tables(neurons, languages)
shared.to_csv(snakemake.output.overlap, index_label="language")
jaccard.to_csv(snakemake.output.jaccard, index_label="language", float_format="%.4f")
log.info("neurons per language: %s", table.drop(columns="total").sum().to_dict())
