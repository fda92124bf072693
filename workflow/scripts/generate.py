# Rules generate_part (one share of a method's batches of prompts: a part file) and generate (all of them, or the
# parts joined in order: the same answers either way).
from langneurons.generation import (
    build_prompt,
    deactivation_conditions,
    load_instructions,
    load_template,
    run_conditions,
)
from langneurons.io import join_jsonl, read_jsonl, write_jsonl
from langneurons.models import load_for_job
from langneurons.neuronsets import load_model_neurons
from langneurons.runlog import job_part, joins_parts, start

log = start(snakemake)
if joins_parts(snakemake):
    joined = join_jsonl(snakemake.input.parts, snakemake.output[0])
    log.info("%d answers from %d parts", joined, len(snakemake.input.parts))
else:
    part, parts = job_part(snakemake)
    languages, cfg = snakemake.params.languages, snakemake.params.generation
    lm = load_for_job(snakemake)
    neurons, random_neurons = (
        load_model_neurons(path, languages, lm) for path in (snakemake.input.neurons, snakemake.input.random)
    )
    template, instructions = load_template(cfg["template"]), load_instructions(cfg["instructions"])
    first = snakemake.params.max_questions  # None = all
    questions = {lang: read_jsonl(path)[:first] for lang, path in zip(languages, snakemake.input.questions)}
    prompts = {
        lang: [build_prompt(template, q["question"], instructions.get(lang, "")) for q in questions[lang]]
        for lang in languages
    }
    plans = deactivation_conditions(neurons, random_neurons, languages)
    meta = {"model": snakemake.wildcards.model, "method": snakemake.wildcards.method}
    records = run_conditions(lm, questions, prompts, plans, cfg, meta, progress=True, part=part, parts=parts)
    write_jsonl(records, snakemake.output[0])
    log.info("%d answers (part %d of %d)", len(records), part + 1, parts)
