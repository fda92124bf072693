from langneurons.corpus import DATA, bundled_documents
from langneurons.io import read_jsonl
from langneurons.runlog import load_for_rule, run_settings, start
from langneurons.ses import pooled_states, ses_curve, ses_table

log = start(snakemake)
cfg = snakemake.params.ses
lm = load_for_rule(snakemake, snakemake.input.model)
pooled = {}
for lang in snakemake.params.languages:
    if cfg["items"] == "questions":
        texts = [q["question"] for q in read_jsonl(DATA / "questions" / f"{lang}.jsonl")]
    else:
        texts = bundled_documents(lang, "valid", snakemake.params.valid_topics)
    pooled[lang] = pooled_states(lm, texts[: cfg["max_items"]], batch_size=run_settings(snakemake)["batch_size"])
    log.info("%s: pooled %d items", lang, len(pooled[lang]))
table = ses_table(pooled)
table.to_csv(snakemake.output[0], index=False, float_format="%.5f")
curve = ses_curve(table)
log.info("mean SES per layer: %s", ", ".join(f"{l}:{v:.3f}" for l, v in curve.items()))
