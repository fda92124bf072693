from langneurons.models import prepare_model
from langneurons.runlog import start

log = start(snakemake)
spec = dict(snakemake.params.spec)
path = prepare_model(spec, snakemake.output[0].rsplit("/", 1)[0])
log.info("prepared %s", path)
