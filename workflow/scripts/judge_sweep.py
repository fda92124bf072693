from langneurons.io import atomic_write, read_jsonl, write_jsonl
from langneurons.judge import make_judge
from langneurons.judging import ANSWER_FIELDS, judge_answers
from langneurons.models import load_for_job
from langneurons.runlog import start
from langneurons.sweep import chosen_table, deactivation_table, repetition_share, sweep_table

log = start(snakemake)
languages, cfg, sweep = snakemake.params.languages, snakemake.params.judge, snakemake.params.sweep
records = read_jsonl(snakemake.input.answers, (*ANSWER_FIELDS, "kind"))
lm = load_for_job(snakemake) if cfg["backend"] == "local" else None
judge = make_judge(cfg, lm, snakemake.params.cache, languages, snakemake.params.generation)
judge_answers(records, languages, judge, cfg["max_missing"])  # a JudgeError ends the job in one line (runlog)
for r in records:
    r["repetition"] = repetition_share(r["answer"])
write_jsonl(records, snakemake.output.answers)

curves = sweep_table(records, languages, snakemake.params.uncertainty)
chosen = chosen_table(curves, sweep["success"], sweep["margin"], snakemake.params.modes)
dose = deactivation_table(records, languages)
for table, path in (
    (curves, snakemake.output.sweep),
    (chosen, snakemake.output.chosen),
    (dose, snakemake.output.deactivation),
):
    with atomic_write(path, None) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
for r in chosen.itertuples():
    log.info(
        "%s -> %s: %s %g (success %.2f, quality %.2f vs %.2f unsteered%s)",
        r.kind,
        r.target,
        r.mode,
        r.strength,
        r.success,
        r.quality,
        r.base_quality,
        "" if r.passed else "; no point passes the rule",
    )
