from langneurons.neuronsets import compare_sets, load_neurons
from langneurons.runlog import start

log = start(snakemake)
table = compare_sets(
    load_neurons(snakemake.input.imported, snakemake.params.languages),
    load_neurons(snakemake.input.lape, snakemake.params.languages),
    snakemake.params.languages,
)
table.rename(columns={"a": "imported", "b": "lape"}).to_csv(snakemake.output[0], index=False, float_format="%.4f")
log.info("mean Jaccard per language: %s", table.groupby("language")["jaccard"].mean().round(3).to_dict())
