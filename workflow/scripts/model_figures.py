import pandas as pd

from langneurons import plots
from langneurons.paths import Results
from langneurons.perplexity import relative_matrix
from langneurons.runlog import start

log = start(snakemake)
model = snakemake.wildcards.model
results = Results(snakemake.config["results"])


def figure(kind: str, method: str):
    return results.path("model_figure", model=model, kind=kind, method=method)


for method, counts, overlap, jaccard in zip(
    snakemake.params.methods, snakemake.input.counts, snakemake.input.overlap, snakemake.input.jaccard
):
    table = pd.read_csv(counts, index_col="layer")
    plots.layer_distribution(table, f"{model}: {method.upper()} neurons per layer", figure("layers", method))
    plots.overlap_heatmap(
        pd.read_csv(overlap, index_col="language"),
        pd.read_csv(jaccard, index_col="language"),
        f"{model}: {method.upper()} neuron overlap between languages",
        figure("overlap", method),
    )
for method, ppl in zip(snakemake.params.ppl_methods, snakemake.input.ppl):
    rel = relative_matrix(pd.read_csv(ppl, index_col="deactivated"))
    plots.ppl_heatmap(rel, f"{model}: PPL change, {method.upper()} neurons deactivated", figure("ppl", method))
log.info("figures written to %s", figure("ppl", "x").parent)
