# Rules perplexity_part (one share of the evaluations: a part file) and perplexity (all the evaluations, or the
# merge of the parts: the tables and the per-block NLL files, the same either way).
from tqdm import tqdm

from langneurons.corpus import load_tokens
from langneurons.models import job_settings, load_for_job, model_shape
from langneurons.neuronsets import load_neurons, validate_neurons
from langneurons.perplexity import (
    assemble,
    evaluate_part,
    evaluation_order,
    load_parts,
    ppl_change,
    save_nll,
    save_part,
    specificity,
)
from langneurons.runlog import job_part, start
from langneurons.splitting import part_range

log = start(snakemake)
languages, methods, block = snakemake.params.languages, snakemake.params.methods, snakemake.params.block


def neuron_files(layers: int, d_ff: int) -> dict:
    sets = {}
    for method, path in zip(methods, snakemake.input.neurons):
        sets[method] = load_neurons(path, languages)
        validate_neurons(sets[method], languages, layers, d_ff, path)
    return sets


def evaluate(part: int, parts: int) -> dict:
    lm = load_for_job(snakemake)
    neuron_sets = neuron_files(lm.num_layers, lm.num_neurons)
    valid = {lang: load_tokens(path) for lang, path in zip(languages, snakemake.input.valid)}
    share = len(part_range(len(evaluation_order(methods, languages)), part, parts))
    with tqdm(total=share, desc=f"perplexity evaluations, part {part + 1}/{parts}", unit="eval") as bar:
        return evaluate_part(
            lm, valid, neuron_sets, languages, job_settings(snakemake)["batch_size"], block, part, parts, bar
        )


def write_tables(evaluated: dict) -> None:
    tables, evaluations = assemble(evaluated, methods, languages)
    outputs = snakemake.output
    for method, out, delta, spec, nll in zip(methods, outputs.ppl, outputs.delta, outputs.specificity, outputs.nll):
        table = tables[method]
        save_nll(evaluations[method], languages, block, nll)
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


if snakemake.rule == "perplexity_part":
    part, parts = job_part(snakemake)
    evaluated = evaluate(part, parts)
    save_part(evaluated, part, parts, block, snakemake.output[0])
    log.info("part %d of %d: %d evaluations", part + 1, parts, len(evaluated))
elif snakemake.input.parts:
    neuron_files(*model_shape(snakemake.input.model))  # checked as the parts checked them
    write_tables(load_parts(snakemake.input.parts, methods, languages, block))
    log.info("merged %d parts", len(snakemake.input.parts))
else:
    write_tables(evaluate(0, 1))
