# Rules judge_part (one share of the judging: a part file) and judge (all of it, or the parts' work merged: the
# answers with their scores and the tables, the same either way).
import json
from pathlib import Path
from types import SimpleNamespace

from langneurons.io import atomic_write, read_jsonl, write_jsonl
from langneurons.judge import make_judge
from langneurons.judging import (
    ANSWER_FIELDS,
    answers_to_judge,
    control_table,
    distinct_items,
    generation_tables,
    judge_answers,
    judge_share,
    preload_shares,
    steering_tables,
)
from langneurons.models import load_for_job, load_tokenizer
from langneurons.runlog import job_part, joins_parts, start

log = start(snakemake)
languages, methods, cfg = snakemake.params.languages, snakemake.params.methods, snakemake.params.judge
generated = {method: read_jsonl(path, ANSWER_FIELDS) for method, path in zip(methods, snakemake.input.generated)}
steered = [r for path in snakemake.input.steered for r in read_jsonl(path, (*ANSWER_FIELDS, "kind"))]

uncertainty = snakemake.params.uncertainty
# each normal answer scored against another question of its language: a judge that reads the question scores it lower
control, everything = answers_to_judge(generated, steered, uncertainty["seed"])
merging = joins_parts(snakemake)
if cfg["backend"] != "local":
    lm = None
elif merging:  # the parts ran the model: scoring from their likelihoods only tokenizes
    lm = SimpleNamespace(tokenizer=load_tokenizer(Path(snakemake.input.model).parent), model=None)
else:
    lm = load_for_job(snakemake)
judge = make_judge(cfg, lm, snakemake.params.cache, languages, snakemake.params.generation)

if snakemake.rule == "judge_part":
    part, parts = job_part(snakemake)
    share = judge_share(judge, distinct_items(everything), part, parts)
    with atomic_write(snakemake.output[0]) as fh:
        json.dump(share, fh)
else:
    if merging:
        shares = []
        for path in snakemake.input.parts:
            with open(path, encoding="utf-8") as fh:
                shares.append(json.load(fh))
        preload_shares(judge, shares, list(snakemake.input.parts))
    judge_answers(everything, languages, judge, cfg["max_missing"])  # a JudgeError ends the job in one line (runlog)

    outputs = snakemake.output
    for k, method in enumerate(methods):
        write_jsonl(generated[method], outputs.answers[k])
        tables = generation_tables(generated[method], languages, uncertainty)
        tables["quality"].to_csv(outputs.quality[k], float_format="%.3f")
        tables["accuracy"].to_csv(outputs.accuracy[k], float_format="%.3f")
        tables["quality_ci"].to_csv(outputs.quality_ci[k], index=False, float_format="%.3f")
        tables["accuracy_ci"].to_csv(outputs.accuracy_ci[k], index=False, float_format="%.3f")
        control_table(generated[method], control[method], languages).to_csv(
            outputs.quality_control[k], float_format="%.3f"
        )
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
