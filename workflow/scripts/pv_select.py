from langneurons.neuronsets import save_neurons, write_summaries
from langneurons.pv import load_variations
from langneurons.runlog import start
from langneurons.selection import pv

log = start(snakemake)
out = snakemake.output
variation = load_variations(snakemake.input, snakemake.params.languages)
neurons = pv(variation, **snakemake.params.rates)
save_neurons(neurons, out.neurons)
table = write_summaries(neurons, snakemake.params.languages, out.counts, out.overlap, out.jaccard)
log.info("neurons per language: %s", table.drop(columns="total").sum().to_dict())
