import time

from langneurons.io import read_jsonl
from langneurons.models import load_for_job
from langneurons.pv import make_batches, save_variation, tune
from langneurons.runlog import start

log = start(snakemake)
cfg = snakemake.params.tuning
lm = load_for_job(snakemake)
examples = read_jsonl(snakemake.input.examples)
batches = make_batches(examples, lm.tokenizer, cfg["seq_len"], cfg["batch_size"], cfg["steps"], cfg["seed"])
t0 = time.time()
result = tune(lm, batches, cfg["lr"], cfg["optimizer"])
seconds = time.time() - t0
trained = sum(int((b.labels != -100).sum()) for b in batches)
save_variation(result, snakemake.output[0], language=snakemake.wildcards.lang, answer_tokens=trained, seconds=seconds)
losses = result["losses"]
log.info("tuned on %d answer tokens in %.1f s; loss %.3f -> %.3f", trained, seconds, losses[0], losses[-1])
