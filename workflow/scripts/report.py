import sys

from langneurons.errors import InputFileError
from langneurons.report import collect, render
from langneurons.runlog import start

log = start(snakemake)
config = snakemake.params.config
try:
    context = collect(config["results"], config)
except InputFileError as err:  # a result file that is present but unreadable: one line naming it
    log.error("%s", err)
    sys.exit(1)
out = render(context, snakemake.params.templates, snakemake.output[0])
log.info("report for %s written to %s (%d bytes)", ", ".join(context["models"]), out, out.stat().st_size)
