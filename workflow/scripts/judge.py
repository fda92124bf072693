import sys

from langneurons.io import read_jsonl, write_jsonl
from langneurons.judge import JudgeError, make_judge
from langneurons.judging import ANSWER_FIELDS, generation_tables, judge_answers, steering_tables
from langneurons.runlog import load_for_rule, start

log = start(snakemake)
languages, methods, cfg = snakemake.params.languages, snakemake.params.methods, snakemake.params.judge
generated = {method: read_jsonl(path, ANSWER_FIELDS) for method, path in zip(methods, snakemake.input.generated)}
steered = [r for path in snakemake.input.steered for r in read_jsonl(path, (*ANSWER_FIELDS, "kind"))]

lm = load_for_rule(snakemake, snakemake.input.model) if cfg["backend"] == "local" else None
everything = [r for records in generated.values() for r in records] + steered
try:
    judge = make_judge(cfg, lm=lm, cache_dir=snakemake.params.cache)
    judge_answers(everything, languages, judge, cfg["max_missing"])
except JudgeError as err:  # one clear line, in the log and on the console; no traceback
    log.error("%s", err)
    print(f"judge: {err}", file=sys.__stderr__)
    sys.exit(1)

outputs = snakemake.output
for method, answers, quality, accuracy in zip(methods, outputs.answers, outputs.quality, outputs.accuracy):
    write_jsonl(generated[method], answers)
    tables = generation_tables(generated[method], languages)
    tables["quality"].to_csv(quality, float_format="%.3f")
    tables["accuracy"].to_csv(accuracy, float_format="%.3f")
if outputs.steering:
    answers, offtarget, crosslingual = outputs.steering
    write_jsonl(steered, answers)
    tables = steering_tables(steered, generated, languages)
    tables["offtarget"].to_csv(offtarget, float_format="%.3f")
    tables["crosslingual"].to_csv(crosslingual, index=False, float_format="%.3f")
