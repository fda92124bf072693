from langneurons.io import read_jsonl, write_jsonl
from langneurons.judge import make_judge
from langneurons.judging import (
    ANSWER_FIELDS,
    control_table,
    generation_tables,
    judge_answers,
    shuffled_control,
    steering_tables,
)
from langneurons.models import load_for_job
from langneurons.runlog import start

log = start(snakemake)
languages, methods, cfg = snakemake.params.languages, snakemake.params.methods, snakemake.params.judge
generated = {method: read_jsonl(path, ANSWER_FIELDS) for method, path in zip(methods, snakemake.input.generated)}
steered = [r for path in snakemake.input.steered for r in read_jsonl(path, (*ANSWER_FIELDS, "kind"))]

uncertainty = snakemake.params.uncertainty
# each normal answer scored against another question of its language: a judge that reads the question scores it lower
control = {method: shuffled_control(records, uncertainty["seed"]) for method, records in generated.items()}

lm = load_for_job(snakemake) if cfg["backend"] == "local" else None
everything = [r for records in (*generated.values(), steered, *control.values()) for r in records]
judge = make_judge(cfg, lm, snakemake.params.cache, languages, snakemake.params.generation)
judge_answers(everything, languages, judge, cfg["max_missing"])  # a JudgeError ends the job in one line (runlog)

outputs = snakemake.output
for k, method in enumerate(methods):
    write_jsonl(generated[method], outputs.answers[k])
    tables = generation_tables(generated[method], languages, uncertainty)
    tables["quality"].to_csv(outputs.quality[k], float_format="%.3f")
    tables["accuracy"].to_csv(outputs.accuracy[k], float_format="%.3f")
    tables["quality_ci"].to_csv(outputs.quality_ci[k], index=False, float_format="%.3f")
    tables["accuracy_ci"].to_csv(outputs.accuracy_ci[k], index=False, float_format="%.3f")
    control_table(generated[method], control[method], languages).to_csv(outputs.quality_control[k], float_format="%.3f")
    tables["confusion"].to_csv(outputs.confusion[k], index=False, float_format="%.3f")
if outputs.steering:
    answers, offtarget, crosslingual, offtarget_ci, crosslingual_ci, confusion = outputs.steering
    write_jsonl(steered, answers)
    tables = steering_tables(steered, generated, languages, uncertainty)
    tables["offtarget"].to_csv(offtarget, float_format="%.3f")
    tables["crosslingual"].to_csv(crosslingual, index=False, float_format="%.3f")
    tables["offtarget_ci"].to_csv(offtarget_ci, index=False, float_format="%.3f")
    tables["crosslingual_ci"].to_csv(crosslingual_ci, index=False, float_format="%.3f")
    tables["confusion"].to_csv(confusion, index=False, float_format="%.3f")
