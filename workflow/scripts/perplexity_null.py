from tqdm import tqdm

from langneurons.corpus import load_tokens
from langneurons.io import atomic_write
from langneurons.models import job_settings, load_for_job
from langneurons.neuronsets import load_neurons, validate_neurons
from langneurons.perplexity import load_nll
from langneurons.runlog import start
from langneurons.uncertainty import NO_NEURONS, draw_counts, evaluate_draws, method_draws, null_increases, null_table

log = start(snakemake)
languages = snakemake.params.languages
# the methods with a null (uncertainty.null_draws: a number for all, or one per method), in perplexity order
counts = draw_counts(snakemake.params.draws, snakemake.params.methods)
inputs = dict(zip(snakemake.params.methods, zip(snakemake.input.nll, snakemake.input.neurons)))
records = {method: load_nll(inputs[method][0]) for method in counts}
lm = load_for_job(snakemake)
neurons = {}
for method in counts:
    neurons[method] = load_neurons(inputs[method][1])
    validate_neurons(neurons[method], languages, lm.num_layers, lm.num_neurons, inputs[method][1])
seed = snakemake.params.seed
draws = {method: method_draws(neurons[method], lm.num_neurons, seed, n) for method, n in counts.items()}
valid = {lang: load_tokens(path) for lang, path in zip(languages, snakemake.input.valid)}
batch_size = job_settings(snakemake)["batch_size"]
# every record holds the same none row (one evaluation shared by all methods), in blocks of the same size
reference = next(iter(records.values()))
with tqdm(desc="random draws, own language", unit="eval") as bar:
    evaluated = evaluate_draws(lm, valid, languages, draws, batch_size, reference["block_tokens"], bar)
table = null_table(records, neurons, draws, null_increases(reference, evaluated), languages)
with atomic_write(snakemake.output[0], None) as tmp:
    table.to_csv(tmp, index=False, float_format="%.5f")
for method, rows in table.groupby("method", sort=False):
    tested = rows[rows["note"] != NO_NEURONS]
    shared = sorted(set(tested["draws_like"]) - {method})
    untested = list(rows.loc[rows["note"] == NO_NEURONS, "deactivated"])
    log.info(
        "%s beats every one of its %d random draws (as many neurons per layer%s) for %d/%d languages%s",
        method,
        counts[method],
        f"; the draws of {', '.join(shared)}" if shared else "",
        tested["beats_null"].sum(),
        len(tested),
        f"; no neurons for {', '.join(untested)}" if untested else "",
    )
