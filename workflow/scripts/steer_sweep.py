# Rules steer_sweep_part (one share of the sweep's batches: a part file) and steer_sweep (all of them, or the parts
# joined in order: the same answers either way).
from langneurons.activations import load_stats, stack_stats
from langneurons.generation import load_instructions, load_template
from langneurons.io import join_jsonl, read_jsonl, write_jsonl
from langneurons.models import load_for_job
from langneurons.neuronsets import load_model_neurons
from langneurons.runlog import job_part, joins_parts, start
from langneurons.steering import run_sweep, sweep_questions

log = start(snakemake)
languages, gen, cfg = snakemake.params.languages, snakemake.params.generation, snakemake.params.steering
if joins_parts(snakemake):
    joined = join_jsonl(snakemake.input.parts, snakemake.output[0])
    log.info("%d sweep answers from %d parts", joined, len(snakemake.input.parts))
else:
    part, parts = job_part(snakemake)
    lm = load_for_job(snakemake)
    neurons = load_model_neurons(snakemake.input.neurons, languages, lm)
    probs, means = stack_stats([load_stats(path) for path in snakemake.input.stats])
    every = {lang: read_jsonl(path, ("id", "question")) for lang, path in zip(languages, snakemake.input.questions)}
    questions = sweep_questions(every, cfg["sweep"]["questions"])  # the last ones: held out from the tables
    records = run_sweep(
        lm,
        neurons,
        means,
        probs,
        questions,
        load_template(gen["template"]),
        load_instructions(gen["instructions"]),
        gen,
        cfg,
        snakemake.params.modes,
        {"model": snakemake.wildcards.model, "method": cfg["method"]},
        progress=True,
        part=part,
        parts=parts,
    )
    write_jsonl(records, snakemake.output[0])
    log.info(
        "%d sweep answers to questions %s (strengths %s, shares %s; part %d of %d)",
        len(records),
        [q["id"] for q in questions[languages[0]]],
        cfg["sweep"]["strengths"],
        cfg["sweep"]["shares"],
        part + 1,
        parts,
    )
