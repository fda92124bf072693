from langneurons.evaluation import annotate_languages, condition_table, crosslingual_table, offtarget_table
from langneurons.io import read_jsonl, write_jsonl
from langneurons.judge import JudgeItem, make_judge
from langneurons.runlog import load_for_rule, start

log = start(snakemake)
languages, methods, cfg = snakemake.params.languages, snakemake.params.methods, snakemake.params.judge
generated = {method: read_jsonl(path) for method, path in zip(methods, snakemake.input.generated)}
steered = read_jsonl(snakemake.input.steered[0]) if snakemake.input.steered else []
everything = [r for records in generated.values() for r in records] + steered

annotate_languages(everything, languages)
lm = load_for_rule(snakemake, snakemake.input.model) if cfg["backend"] == "local" else None
judge = make_judge(cfg, lm=lm, cache_dir=snakemake.params.cache)
# each distinct (question, answer, language) is judged once
unique = {}
for r in everything:
    question = r["prompt"]
    unique.setdefault((question, r["answer"], r["language"]), JudgeItem(question, r["answer"], r["language"]))
keys = list(unique)
judgements = dict(zip(keys, judge.score([unique[k] for k in keys])))
for r in everything:
    verdict = judgements[(r["prompt"], r["answer"], r["language"])]
    r["score"], r["score_missing"] = verdict.score, verdict.missing_reason
missing = sum(r["score"] is None for r in everything)
log.info("judged %d distinct answers with backend %s; %d answers without a score", len(keys), cfg["backend"], missing)

for method, out, quality, accuracy in zip(
    methods, snakemake.output.answers, snakemake.output.quality, snakemake.output.accuracy
):
    records = generated[method]
    write_jsonl(records, out)
    condition_table(records, languages, "score").to_csv(quality, float_format="%.3f")
    condition_table(records, languages, "in_expected_language").to_csv(accuracy, float_format="%.3f")

if snakemake.output.steering:
    answers_out, offtarget_out, cross_out = snakemake.output.steering
    write_jsonl(steered, answers_out)
    off = [r for r in steered if r.get("kind") == "offtarget"]
    normal = [r for r in off if r["condition"] == "normal"]
    if not normal and generated:
        normal = [r for r in next(iter(generated.values())) if r["condition"] == "normal"]
    offtarget_table(normal, [r for r in off if r["condition"] == "steered"], languages).to_csv(
        offtarget_out, float_format="%.3f"
    )
    crosslingual_table([r for r in steered if r.get("kind") == "crosslingual"]).to_csv(
        cross_out, index=False, float_format="%.3f"
    )
