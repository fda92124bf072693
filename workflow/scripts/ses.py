from langneurons.bundled import bundled_documents
from langneurons.models import job_settings, load_for_job
from langneurons.questions import parallel_questions
from langneurons.runlog import start
from langneurons.ses import pooled_states, ses_curve, ses_table

log = start(snakemake)
cfg, languages = snakemake.params.ses, snakemake.params.languages
if cfg["items"] == "questions":  # the configured question set, aligned across languages
    questions = parallel_questions(dict(zip(languages, snakemake.input.questions)))
    texts = {lang: [q["question"] for q in questions[lang]] for lang in languages}
else:
    texts = {lang: bundled_documents(lang, "valid", snakemake.params.valid_topics) for lang in languages}
lm = load_for_job(snakemake)
pooled = {}
for lang in languages:
    items = texts[lang][: cfg["max_items"]]
    pooled[lang] = pooled_states(lm, items, batch_size=job_settings(snakemake)["batch_size"])
    log.info("%s: pooled %d items", lang, len(pooled[lang]))
table = ses_table(pooled)
table.to_csv(snakemake.output[0], index=False, float_format="%.5f")
curve = ses_curve(table)
log.info("mean SES per layer: %s", ", ".join(f"{l}:{v:.3f}" for l, v in curve.items()))
