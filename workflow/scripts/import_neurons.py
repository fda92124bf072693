from langneurons.models import model_shape
from langneurons.neuronsets import import_neurons, save_neurons, write_summaries
from langneurons.runlog import start

log = start(snakemake)
cfg, languages, out = snakemake.params.imported, snakemake.params.languages, snakemake.output
num_layers, d_ff = model_shape(snakemake.input.model)
neurons = import_neurons(cfg["path"], cfg["languages"], languages, num_layers, d_ff, snakemake.params.downloads)
save_neurons(neurons, out.neurons)
table = write_summaries(neurons, languages, out.counts, out.overlap, out.jaccard)
log.info("imported %s: neurons per language %s", cfg["path"], table.drop(columns="total").sum().to_dict())
