# Rules steer_part (one share of the steering batches: a part file) and steer (all of them, or the parts joined
# in order: the same answers either way).
from langneurons.activations import load_stats, stack_stats
from langneurons.generation import load_instructions, load_template
from langneurons.io import join_jsonl, read_jsonl, write_jsonl
from langneurons.models import load_for_job
from langneurons.neuronsets import load_model_neurons
from langneurons.runlog import job_part, joins_parts, start
from langneurons.steering import run_steering
from langneurons.sweep import read_chosen

log = start(snakemake)
languages, gen, cfg = snakemake.params.languages, snakemake.params.generation, snakemake.params.steering
if joins_parts(snakemake):
    joined = join_jsonl(snakemake.input.parts, snakemake.output[0])
    log.info("%d steered answers from %d parts", joined, len(snakemake.input.parts))
else:
    part, parts = job_part(snakemake)
    lm = load_for_job(snakemake)
    neurons = load_model_neurons(snakemake.input.neurons, languages, lm)
    _, means = stack_stats([load_stats(path) for path in snakemake.input.stats])
    first = snakemake.params.max_questions  # None = all
    questions = {
        lang: read_jsonl(path, ("id", "question"))[:first] for lang, path in zip(languages, snakemake.input.questions)
    }
    # with a sweep: per kind and target language the (mode, strength) it chose; else steering.mode and strength
    chosen = read_chosen(snakemake.input.chosen[0]) if snakemake.input.chosen else None
    records = run_steering(
        lm,
        neurons,
        means,
        questions,
        load_template(gen["template"]),
        load_instructions(gen["instructions"]),
        gen,
        cfg,
        {"model": snakemake.wildcards.model, "method": cfg["method"]},
        with_normal=snakemake.params.with_normal,
        progress=True,
        chosen=chosen,
        part=part,
        parts=parts,
    )
    write_jsonl(records, snakemake.output[0])
    setting = chosen or f"mode {cfg['mode']}, strength {cfg['strength']}"
    log.info("%d steered answers (%s; part %d of %d)", len(records), setting, part + 1, parts)
