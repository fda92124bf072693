import pandas as pd

from langneurons import plots
from langneurons.runlog import start
from langneurons.ses import ses_curve

log = start(snakemake)
curves = {model: ses_curve(pd.read_csv(path)) for model, path in zip(snakemake.params.models, snakemake.input)}
plots.ses_plot(curves, snakemake.output[0])
