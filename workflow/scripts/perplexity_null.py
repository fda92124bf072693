from tqdm import tqdm

from langneurons.activations import load_stats, stack_stats
from langneurons.corpus import load_tokens
from langneurons.io import atomic_write
from langneurons.models import job_settings, load_for_job
from langneurons.neuronsets import load_neurons
from langneurons.perplexity import load_nll, own_language_nll
from langneurons.runlog import start
from langneurons.selection import totals
from langneurons.uncertainty import null_increases, null_table, random_draws

log = start(snakemake)
languages, methods, draws = snakemake.params.languages, snakemake.params.methods, snakemake.params.draws
records = {method: load_nll(path) for method, path in zip(methods, snakemake.input.nll)}
neurons = {method: load_neurons(path) for method, path in zip(methods, snakemake.input.neurons)}
probs, means = stack_stats([load_stats(path) for path in snakemake.input.stats])
null_sets = random_draws(probs, means, snakemake.params.selection, draws)
lm = load_for_job(snakemake)
valid = {lang: load_tokens(path) for lang, path in zip(languages, snakemake.input.valid)}
batch_size = job_settings(snakemake)["batch_size"]
# every record holds the same none row (one evaluation shared by all methods), in blocks of the same size
reference = next(iter(records.values()))
with tqdm(total=draws * len(languages), desc="random draws, own language", unit="eval") as bar:
    evaluated = own_language_nll(lm, valid, null_sets, languages, batch_size, reference["block_tokens"], bar)
increase = null_increases(reference, evaluated, languages)
counts = totals(null_sets[0])
table = null_table(records, increase, neurons, counts, languages)
with atomic_write(snakemake.output[0], None) as tmp:
    table.to_csv(tmp, index=False, float_format="%.5f")
for method, rows in table.groupby("method", sort=False):
    log.info(
        "%s beats every one of %d random draws for %d/%d languages", method, draws, rows["beats_null"].sum(), len(rows)
    )
