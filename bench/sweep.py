"""What the steering sweep and the deactivation dose-response cost, against today's main steering.

    python bench/sweep.py --results results --resources resources [--configfile config.yaml] [--out FILE]

Reads a finished run's model, statistics, steering neurons and valid tokens, and
times, in one process (so a busy machine slows every part alike): the main
steering as configured (the tables' questions, one setting), the sweep's
answers (``steering.run_sweep``), the local judge on both, and the deactivation
dose-response's perplexities (``perplexity.deactivation_curve``). Prints each
time, per answer and per evaluation, and the sweep's cost scaled to a given
time of the main steering's generation (``--main-seconds``, e.g. the steer
job's time in a quiet run). ``--out`` saves the judged sweep answers (JSONL).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from langneurons.activations import load_stats, stack_stats
from langneurons.config import steering_modes, validate_config
from langneurons.corpus import load_tokens
from langneurons.generation import load_instructions, load_template
from langneurons.io import write_jsonl
from langneurons.judge import make_judge
from langneurons.judging import judge_answers
from langneurons.models import load_prepared
from langneurons.neuronsets import load_neurons
from langneurons.paths import PREPARED_MODEL, Results, fill
from langneurons.perplexity import deactivation_curve
from langneurons.questions import load_questions
from langneurons.steering import run_steering, run_sweep, sweep_questions
from langneurons.sweep import repetition_share

ROOT = Path(__file__).resolve().parents[1]


def timed(label: str, fn, count: int | None = None, unit: str = "answer"):
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    n = count if count is not None else len(out)
    print(f"{label}: {n} {unit}s in {seconds:.1f} s ({seconds / max(n, 1):.3f} s per {unit})", flush=True)
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", default="config.yaml")
    parser.add_argument("--results", required=True, help="a finished run's results folder")
    parser.add_argument("--resources", required=True, help="its resources folder (the prepared model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--main-seconds", type=float, default=45.6, help="the main steering's time to scale to")
    parser.add_argument("--out", help="save the judged sweep answers here (JSONL)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cfg = validate_config(
        yaml.safe_load((ROOT / args.configfile).read_text()), ROOT / "workflow" / "schemas" / "config.schema.yaml"
    )
    model, langs, steering, gen = next(iter(cfg["models"])), cfg["languages"], cfg["steering"], cfg["generation"]
    results = Results(args.results)
    lm = load_prepared(Path(args.resources) / Path(fill(PREPARED_MODEL, model=model)).parent)
    neurons = load_neurons(results.path("neurons", model=model, method=steering["method"]), langs)
    probs, means = stack_stats([load_stats(results.path("stats", model=model, lang=lang)) for lang in langs])
    first = cfg["questions"]["max_questions"]
    tables = {lang: load_questions(cfg["questions"], lang)[:first] for lang in langs}
    bundled = steering["sweep"]["question_set"] == "bundled"
    sweep_set = {**cfg["questions"], "source": "bundled"} if bundled else cfg["questions"]
    every = {lang: load_questions(sweep_set, lang) for lang in langs}
    template, instructions = load_template(gen["template"]), load_instructions(gen["instructions"])
    judge = make_judge(cfg["judge"], lm, None, langs, gen)

    main_answers, main_s = timed(
        "main steering",
        lambda: run_steering(lm, neurons, means, tables, template, instructions, gen, steering, {}, False),
    )
    _, main_judge_s = timed(
        "judge, main steering (with calibration)",
        lambda: judge_answers(main_answers, langs, judge, cfg["judge"]["max_missing"]) or main_answers,
    )
    questions = sweep_questions(every, steering["sweep"]["questions"])
    swept, sweep_s = timed(
        "sweep",
        lambda: run_sweep(
            lm, neurons, means, probs, questions, template, instructions, gen, steering, steering_modes(), {}
        ),
    )
    _, sweep_judge_s = timed("judge, sweep", lambda: judge_answers(swept, langs, judge, 0) or swept)
    valid = {lang: load_tokens(results.path("tokens", model=model, lang=lang, split="valid")) for lang in langs}
    shares = steering["sweep"]["shares"]
    evaluations = len(langs) * (1 + len(shares)) if shares else 0
    ppl_s = 0.0
    if shares:
        table, ppl_s = timed(
            "deactivation perplexity",
            lambda: deactivation_curve(lm, valid, neurons, probs, langs, shares, 4),
            evaluations,
            "evaluation",
        )
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    scale = args.main_seconds / main_s
    print(
        f"scaled to a main steering of {args.main_seconds:g} s: sweep generation {sweep_s * scale:.0f} s, "
        f"its judging {sweep_judge_s * scale:.0f} s, dose-response perplexity {ppl_s * scale:.0f} s "
        f"(main steering's judging: {main_judge_s * scale:.0f} s)"
    )
    if args.out:
        for r in swept:
            r["repetition"] = repetition_share(r["answer"])
        write_jsonl(swept, args.out)


if __name__ == "__main__":
    main()
