"""Cost of one condition of the tasks stage on the embedded model, against a perplexity row measured in the same
process (interleaved), so that a busy machine can still say what the stage costs on a quiet one.

    python bench/tasks_cost.py --results RESULTS --resources RESOURCES [--rounds 2] [--batch 4 16]

Needs a finished default run's prepared model, valid tokens and bundled task folder (the ``bundled_tasks`` rule).
One perplexity row = the 7 languages' valid splits (256 tokens each) with nothing deactivated: the quiet default
run spends about 1.5 s per such evaluation (bench/RESULTS.md: 252 evaluations in 6 min 19 s), which turns the
measured ratio into seconds. Prints JSON: wall and CPU seconds per variant, the ratios, and the normal accuracy.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch

from langneurons.corpus import load_tokens
from langneurons.models import load_prepared
from langneurons.perplexity import perplexity
from langneurons.tasks import evaluate, harness_model, load_harness_tasks

LANGS = ["en", "zh", "fr", "es", "vi", "id", "ja"]
QUIET_PPL_EVAL_S = 379 / 252  # bench/RESULTS.md: the default run's perplexity job, per evaluation


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--resources", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[4, 16])
    args = ap.parse_args()
    torch.set_num_threads(2)
    lm = load_prepared(Path(args.resources) / "models" / "gemma3-270m")
    valid = {lang: load_tokens(Path(args.results) / "gemma3-270m" / "tokens" / f"{lang}.valid.pt") for lang in LANGS}
    specs = {f"langneurons_next_word_{lang}": {"language": lang, "metric": None} for lang in LANGS}
    manager, tasks = load_harness_tasks(specs, [str(Path(args.results) / "gemma3-270m" / "tasks" / "bundled")])
    settings = {"num_fewshot": None, "limit": None, "bootstrap_iters": 1000, "seed": 1234}
    models = {b: harness_model(lm, b) for b in args.batch}
    times: dict[str, list[tuple[float, float]]] = {}
    accuracy = {}

    def timed(name, fn):
        w, c = time.perf_counter(), cpu()
        out = fn()
        times.setdefault(name, []).append((time.perf_counter() - w, cpu() - c))
        print(name, [round(x, 2) for x in times[name][-1]], flush=True)  # as it goes (stderr keeps the progress)
        return out

    for r in range(args.rounds):
        order = ["ppl", *args.batch] if r % 2 == 0 else [*reversed(args.batch), "ppl"]
        for variant in order:
            if variant == "ppl":
                timed("ppl_row", lambda: [perplexity(lm, valid[lang], 4) for lang in LANGS])
            else:
                result = timed(f"harness_b{variant}", lambda v=variant: evaluate(models[v], manager, tasks, settings))
                accuracy = {t: round(v["acc,none"], 4) for t, v in result["results"].items()}
    summary = {}
    ppl_wall = sum(w for w, _ in times["ppl_row"]) / len(times["ppl_row"])
    ppl_cpu = sum(c for _, c in times["ppl_row"]) / len(times["ppl_row"])
    for name, values in times.items():
        wall = sum(w for w, _ in values) / len(values)
        cpu_s = sum(c for _, c in values) / len(values)
        summary[name] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu_s, 2),
            "wall_ratio_to_ppl_row": round(wall / ppl_wall, 3),
            "cpu_ratio_to_ppl_row": round(cpu_s / ppl_cpu, 3),
            "quiet_estimate_s": round(cpu_s / ppl_cpu * QUIET_PPL_EVAL_S * len(LANGS), 1),
        }
    print(json.dumps({"variants": summary, "normal_accuracy": accuracy, "rounds": args.rounds}, indent=1))


if __name__ == "__main__":
    main()
