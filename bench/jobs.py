"""What one more job of a split stage costs, and the model's throughput settings, on the embedded default.

    python bench/jobs.py [--model DIR] [--work DIR] [--reps 3] [--threads 2] [--out bench/jobs]

Splitting a stage into jobs (perplexity.jobs, uncertainty.null_jobs, generation.jobs, steering.jobs,
judge.jobs) repeats per job what every model job does before its work: start Python, import torch,
transformers and the package, load the prepared model. Each repetition runs that in a fresh process, as
a ``*_part`` job does, and reports its wall time and parts (medians of ``--reps``).

It also measures what ``models.<name>.throughput`` asks for, the way the default run works: ``forward``,
tokens/s of the perplexity step (the decoder and the LM head in chunks, 4 sequences of 512 tokens) and
``decode``, new tokens/s of greedy generation (64 bundled questions at once, 40 new tokens each).

``--model`` is a prepared model folder; without it the embedded model is prepared into ``--work`` once.
Writes ``results.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# What a model job does before its work (workflow/scripts/*.py: runlog, the model, the stage's modules).
JOB = """
import json, sys, time
start = time.perf_counter()
import torch
torch.set_num_threads({threads})
import langneurons.perplexity, langneurons.uncertainty, langneurons.generation, langneurons.judge.local
from langneurons.models import load_prepared
imported = time.perf_counter()
lm = load_prepared({model!r})
loaded = time.perf_counter()
print(json.dumps({{"imports": imported - start, "load": loaded - imported}}))
"""


def job_start(model: Path, threads: int) -> dict:
    begin = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", JOB.format(model=str(model), threads=threads)], capture_output=True, text=True
    )
    wall = time.perf_counter() - begin
    if run.returncode:
        raise SystemExit(run.stderr[-2000:])
    return {"wall": wall, **json.loads(run.stdout.strip().splitlines()[-1])}


def throughput(model: Path, threads: int, reps: int) -> dict:
    import torch

    from langneurons.bundled import bundled_questions_file
    from langneurons.generation import build_prompt, generate_tokens, load_instructions, load_template
    from langneurons.io import read_jsonl
    from langneurons.models import load_prepared
    from langneurons.perplexity import batch_nll

    torch.set_num_threads(threads)
    lm = load_prepared(model)
    ids = torch.randint(10, 1000, (4, 512), generator=torch.Generator().manual_seed(0))
    batch_nll(lm, ids)  # warm-up
    forward = []
    for _ in range(reps):
        begin = time.perf_counter()
        batch_nll(lm, ids)
        forward.append(ids.numel() / (time.perf_counter() - begin))
    template, instructions = load_template(), load_instructions()
    prompts = []
    for lang in ("en", "zh", "fr", "es", "vi", "id", "ja"):
        for q in read_jsonl(bundled_questions_file(lang))[:10]:
            prompts.append(build_prompt(template, q["question"], instructions[lang]))
    prompts = prompts[:64]
    decode = []
    for _ in range(reps):
        begin = time.perf_counter()
        answers = generate_tokens(lm, prompts, 40, batch_size=64)
        decode.append(sum(len(a) for a in answers) / (time.perf_counter() - begin))
    return {"forward": statistics.median(forward), "decode": statistics.median(decode), "prompts": len(prompts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a prepared model folder (default: prepare the embedded model)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/langneurons-bench-jobs"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "jobs")
    args = parser.parse_args()

    model = args.model
    if model is None:
        from langneurons.models import prepare_model

        model = args.work / "gemma3-270m"
        if not (model / "model.json").is_file():
            begin = time.perf_counter()
            prepare_model({"source": "embedded"}, model)
            print(f"prepared the embedded model in {time.perf_counter() - begin:.0f} s")
    starts = [job_start(model, args.threads) for _ in range(args.reps)]
    start = {key: statistics.median(s[key] for s in starts) for key in ("wall", "imports", "load")}
    rates = throughput(model, args.threads, args.reps)
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads},
        "job_start": start,
        "job_start_runs": starts,
        "throughput": rates,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print("| what | median |")
    print("| --- | --- |")
    print(f"| one more job: process, imports and model load | {start['wall']:.1f} s |")
    print(f"| of which imports (torch, transformers, langneurons) | {start['imports']:.1f} s |")
    print(f"| of which loading the prepared model | {start['load']:.1f} s |")
    print(f"| throughput.forward (perplexity step, 4 x 512) | {rates['forward']:.0f} tokens/s |")
    print(
        f"| throughput.decode (greedy, {rates['prompts']} prompts x 40 new tokens) | {rates['decode']:.0f} new tokens/s |"
    )


if __name__ == "__main__":
    main()
