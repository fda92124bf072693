import copy

from langneurons.config import validate_config
from langneurons.models import prepare_model
from langneurons.runlog import start

log = start(snakemake)
spec = dict(snakemake.params.spec)
path = prepare_model(spec, snakemake.output[0].rsplit("/", 1)[0])
log.info("prepared %s", path)
# Now that the model's size and context are recorded, the settings that must fit them are checked
# (the dry run does the same on later runs): a mismatch stops here, before any heavy job.
validate_config(copy.deepcopy(dict(snakemake.config)))
