from tqdm import tqdm

from langneurons.activations import load_stats, stack_stats
from langneurons.corpus import load_tokens
from langneurons.io import atomic_write
from langneurons.models import job_settings, load_for_job
from langneurons.neuronsets import load_model_neurons
from langneurons.perplexity import deactivation_curve
from langneurons.runlog import start

log = start(snakemake)
languages, shares = snakemake.params.languages, snakemake.params.shares
lm = load_for_job(snakemake)
valid = {lang: load_tokens(path) for lang, path in zip(languages, snakemake.input.valid)}
neurons = load_model_neurons(snakemake.input.neurons, languages, lm)
probs, _ = stack_stats([load_stats(path) for path in snakemake.input.stats])
with tqdm(total=len(languages) * (1 + len(shares)), desc="perplexity evaluations", unit="eval") as bar:
    table = deactivation_curve(lm, valid, neurons, probs, languages, shares, job_settings(snakemake)["batch_size"], bar)
with atomic_write(snakemake.output[0], None) as tmp:
    table.to_csv(tmp, index=False, float_format="%.4f")
full = table[table["share"] == max(shares)]
log.info("own-language PPL change at share %g: %s", max(shares), dict(zip(full["language"], full["relative"].round(2))))
