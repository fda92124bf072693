from langneurons import plots
from langneurons.io import atomic_write
from langneurons.neuronsets import load_neurons
from langneurons.runlog import start
from langneurons.uncertainty import load_parts, stability_tables

log = start(snakemake)
languages, methods, shards = snakemake.params.languages, snakemake.params.methods, snakemake.params.shards
paths = list(snakemake.input.parts)  # language-major: every shard of the first language, then the next
pieces = [load_parts(paths[k * shards : (k + 1) * shards]) for k in range(len(languages))]
full = {method: load_neurons(path, languages) for method, path in zip(methods, snakemake.input.neurons)}
tables = stability_tables(methods, pieces, full, languages, snakemake.params.selection, snakemake.params.parts)
for method, out in zip(methods, snakemake.output.tables):
    with atomic_write(out, None) as tmp:
        tables[method].to_csv(tmp, index=False, float_format="%.4f")
    halves = tables[method].query("comparison == 'split_half'")
    log.info("%s split-half Jaccard: %s", method, dict(zip(halves["language"], halves["jaccard"].round(3))))
plots.stability_plot(tables, f"{snakemake.wildcards.model}: stability of the neuron sets", snakemake.output.figure)
