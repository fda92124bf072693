from tqdm import tqdm

from langneurons.corpus import load_tokens
from langneurons.models import job_settings, load_for_job
from langneurons.neuronsets import load_neurons, validate_neurons
from langneurons.perplexity import perplexity_matrix, ppl_change, save_nll, specificity
from langneurons.runlog import start

log = start(snakemake)
languages, methods = snakemake.params.languages, snakemake.params.methods
lm = load_for_job(snakemake)
valid = {lang: load_tokens(path) for lang, path in zip(languages, snakemake.input.valid)}
neuron_sets = {}
for method, path in zip(methods, snakemake.input.neurons):
    neuron_sets[method] = load_neurons(path, languages)
    validate_neurons(neuron_sets[method], languages, lm.num_layers, lm.num_neurons, path)
total = len(languages) * (1 + len(languages) * len(methods))
with tqdm(total=total, desc="perplexity evaluations", unit="eval") as bar:
    tables, evaluations = perplexity_matrix(
        lm, valid, neuron_sets, languages, job_settings(snakemake)["batch_size"], snakemake.params.block, bar
    )
for method, out, delta, spec, nll in zip(
    methods, snakemake.output.ppl, snakemake.output.delta, snakemake.output.specificity, snakemake.output.nll
):
    table = tables[method]
    save_nll(evaluations[method], languages, snakemake.params.block, nll)
    table.to_csv(out, float_format="%.4f")
    ppl_change(table).to_csv(delta, index=False, float_format="%.5f")
    summary = specificity(table)
    summary.to_csv(spec, float_format="%.4f")
    log.info(
        "%s: own language hit hardest for %d/%d languages; mean diagonal/off-diagonal ratio %.2f",
        method,
        summary["own_is_largest"].sum(),
        len(summary),
        summary["ratio"].mean(),
    )
