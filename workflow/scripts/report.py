from pathlib import Path

from langneurons.report import collect, render
from langneurons.runlog import start

log = start(snakemake)
results = Path(snakemake.output[0]).parent.parent  # {results}/report/index.html
context = collect(results, snakemake.params.config)
out = render(context, snakemake.params.templates, snakemake.output[0])
log.info("report for %s written to %s (%d bytes)", ", ".join(context["models"]), out, out.stat().st_size)
