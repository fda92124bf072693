import pandas as pd

from langneurons import plots
from langneurons.paths import Results
from langneurons.runlog import start

log = start(snakemake)
model = snakemake.wildcards.model
results = Results(snakemake.config["results"])
curves = pd.read_csv(snakemake.input.sweep, keep_default_na=False, na_values=[""])
chosen = pd.read_csv(snakemake.input.chosen, keep_default_na=False, na_values=[""])
names = {"offtarget": "off-target steering", "crosslingual": "cross-lingual steering"}
for kind, rows in curves.groupby("kind", sort=False):
    plots.sweep_curves(
        rows,
        chosen[chosen["kind"] == kind],
        snakemake.params.modes,
        f"{model}: {names.get(kind, kind)}, sweep of strengths",
        results.path("sweep_figure", model=model, kind=kind),
    )
if snakemake.input.ppl:
    plots.deactivation_plot(
        pd.read_csv(snakemake.input.ppl, keep_default_na=False, na_values=[""]),
        pd.read_csv(snakemake.input.deactivation, keep_default_na=False, na_values=[""]),
        f"{model}: deactivation dose-response",
        results.path("deactivation_figure", model=model),
    )
log.info("figures written to %s", results.path("deactivation_figure", model=model).parent)
