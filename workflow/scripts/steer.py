from tqdm import tqdm

from langneurons.activations import load_stats, stack_stats
from langneurons.generation import build_prompt, load_instructions, load_template, run_conditions, steering_plan
from langneurons.io import read_jsonl, write_jsonl
from langneurons.neuronsets import load_neurons, validate_neurons
from langneurons.runlog import load_for_rule, start

log = start(snakemake)
languages, gen, cfg = snakemake.params.languages, snakemake.params.generation, snakemake.params.steering
lm = load_for_rule(snakemake, snakemake.input.model)
neurons = load_neurons(snakemake.input.neurons)
validate_neurons(neurons, languages, lm.num_layers, lm.num_neurons, snakemake.input.neurons)
_, means = stack_stats([load_stats(path) for path in snakemake.input.stats])
if means is None:
    raise ValueError("steering needs activation sums in the statistics files (mean activations)")
template, instructions = load_template(gen["template"]), load_instructions(gen["instructions"])
first = snakemake.params.max_questions  # None = all
questions = {lang: read_jsonl(path)[:first] for lang, path in zip(languages, snakemake.input.questions)}
with_instruction = {
    lang: [build_prompt(template, q["question"], instructions.get(lang, "")) for q in questions[lang]]
    for lang in languages
}
index = {lang: k for k, lang in enumerate(languages)}
mode, strength = cfg["mode"], cfg["strength"]
meta = {"model": snakemake.wildcards.model, "method": cfg["method"]}

plans = {}
if cfg["offtarget"]:
    if snakemake.params.with_normal:
        plain = {}
        plans["normal"] = {lang: plain for lang in languages}
    plans["steered"] = {lang: steering_plan(neurons, means, None, index[lang], mode, strength) for lang in languages}
records = run_conditions(
    lm,
    questions,
    with_instruction,
    plans,
    gen,
    {**meta, "kind": "offtarget"},
    tqdm(desc="off-target", total=sum(map(len, plans.values()))),
)

cross = [l for l in cfg["crosslingual_languages"] if l in index]
unknown = set(cfg["crosslingual_languages"]) - set(cross)
if unknown:
    raise ValueError(f"steering.crosslingual_languages {sorted(unknown)} are not in languages {languages}")
prompts = (
    with_instruction
    if cfg["crosslingual_instruction"]
    else {lang: [build_prompt(template, q["question"], "") for q in questions[lang]] for lang in cross}
)
bar = tqdm(desc="cross-lingual", total=len(cross) * len(cross))
for source in cross:  # unsteered baseline on the same prompts, then every target
    runs = {"unsteered": {source: {}}}
    runs.update(
        {
            f"to_{target}": {source: steering_plan(neurons, means, index[source], index[target], mode, strength)}
            for target in cross
            if target != source
        }
    )
    for rec in run_conditions(
        lm, {source: questions[source]}, {source: prompts[source]}, runs, gen, {**meta, "kind": "crosslingual"}, bar
    ):
        rec["target"] = rec["condition"][3:] if rec["condition"].startswith("to_") else None
        records.append(rec)
write_jsonl(records, snakemake.output[0])
log.info("%d steered answers (mode %s, strength %s)", len(records), mode, strength)
