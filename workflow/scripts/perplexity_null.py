# Rules perplexity_null_part (one share of the null's blocks of rows: a part file) and perplexity_null (all the
# rows, or the merge of the parts: ppl/null.csv, the same either way).
from tqdm import tqdm

from langneurons.corpus import load_tokens
from langneurons.io import atomic_write
from langneurons.models import job_settings, load_for_job, model_shape
from langneurons.neuronsets import load_neurons, validate_neurons
from langneurons.perplexity import condition_rows, load_nll, load_rows, nll_from_rows, row_blocks, rows_nll, save_rows
from langneurons.runlog import job_part, start
from langneurons.splitting import part_range
from langneurons.uncertainty import (
    NO_NEURONS,
    draw_counts,
    draw_results,
    method_draws,
    null_conditions,
    null_increases,
    null_table,
)

log = start(snakemake)
languages, seed = snakemake.params.languages, snakemake.params.seed
# the methods with a null (uncertainty.null_draws: a number for all, or one per method), in perplexity order
counts = draw_counts(snakemake.params.draws, snakemake.params.methods)
paths = dict(zip(snakemake.params.methods, snakemake.input.neurons))
valid = {lang: load_tokens(path) for lang, path in zip(languages, snakemake.input.valid)}


def draws_of(layers: int, d_ff: int) -> tuple[dict, dict]:
    """Each method's neurons and its random draws (``method_draws``: cheap, the same in every job)."""
    neurons, draws = {}, {}
    for method, n in counts.items():
        neurons[method] = load_neurons(paths[method])
        validate_neurons(neurons[method], languages, layers, d_ff, paths[method])
        draws[method] = method_draws(neurons[method], d_ff, seed, n)
    return neurons, draws


def evaluate(conditions: list, part: int, parts: int, block: int | None) -> dict:
    rows = condition_rows(valid, conditions)
    blocks = row_blocks(rows)
    share = sum(len(blocks[k]) for k in part_range(len(blocks), part, parts))
    log.info("part %d of %d: %d of %d rows (%d blocks)", part + 1, parts, share, len(rows), len(blocks))
    if not share:
        log.warning("part %d of %d has no rows: the null has fewer blocks than jobs", part + 1, parts)
    with tqdm(total=share, desc=f"random draws, own language, part {part + 1}/{parts}", unit="row") as bar:
        return rows_nll(lm, valid, conditions, job_settings(snakemake)["batch_size"], block, part, parts, bar)


if snakemake.rule == "perplexity_null_part" or not snakemake.input.parts:
    lm = load_for_job(snakemake)
    neurons, draws = draws_of(lm.num_layers, lm.num_neurons)
else:
    neurons, draws = draws_of(*model_shape(snakemake.input.model))
conditions, where = null_conditions(languages, draws)
requested = sum(len(c) for per_lang in where.values() for c in per_lang.values())
log.info("%d random draws x languages: %d distinct evaluations", requested, len(conditions))

if snakemake.rule == "perplexity_null_part":
    part, parts = job_part(snakemake)
    block = snakemake.params.block
    save_rows(evaluate(conditions, part, parts, block), part, parts, block, snakemake.output[0])
else:
    records = {method: load_nll(snakemake.input.nll[snakemake.params.methods.index(method)]) for method in counts}
    # every record holds the same none row (one evaluation shared by all methods), in blocks of the same size
    reference = next(iter(records.values()))
    block = reference["block_tokens"]
    if snakemake.input.parts:
        per_row = load_rows(snakemake.input.parts, block, "random-null")
        log.info("merged %d rows from %d parts", len(per_row), len(snakemake.input.parts))
    else:
        per_row = evaluate(conditions, 0, 1, block)
    evaluated = draw_results(where, nll_from_rows(valid, conditions, per_row))
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
