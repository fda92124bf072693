"""What language confusion adds to the judge: every distinct answer of a finished run analysed per line and
per word (``confusion.analyse``) against identifying the answer as a whole only (``langid.identify``, what the
judge did before), interleaved rounds in one process.

    python bench/confusion_cost.py --results <run>/results [--rounds 3] [--out bench/confusion_cost.json]

The answers are those the judge jobs analyse: generation, steering and the sweep (``*answers.jsonl``), each
distinct (answer, expected language) once, as ``evaluation.annotate_languages`` does. Lingua's models load in
an untimed warm-up pass.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from langneurons.confusion import analyse
from langneurons.evaluation import expected_language
from langneurons.io import read_jsonl
from langneurons.langid import identify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    files = sorted(args.results.glob("*/generation/*.answers.jsonl")) + sorted(
        args.results.glob("*/steering/*answers.jsonl")
    )
    if not files:
        raise SystemExit(f"no answers files under {args.results}/*/generation or */steering: finish a run first")
    records = [r for path in files for r in read_jsonl(path)]
    languages = sorted({r["language"] for r in records} | {expected_language(r) for r in records})
    items = list(dict.fromkeys((r["answer"], expected_language(r)) for r in records))

    def whole():
        for text, _ in items:
            identify(text, languages)

    def per_line_and_word():
        for text, expected in items:
            analyse(text, expected, languages)

    whole(), per_line_and_word()  # warm-up: lingua's models
    times: dict[str, list[float]] = {"answer level only": [], "answer, line and word level": []}
    for _ in range(args.rounds):
        for name, fn in (("answer level only", whole), ("answer, line and word level", per_line_and_word)):
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    added = medians["answer, line and word level"] - medians["answer level only"]
    result = {
        "files": [str(p.relative_to(args.results)) for p in files],
        "answers": len(records),
        "distinct": len(items),
        "cpu_seconds": times,
        "median_cpu_seconds": medians,
        "added_cpu_seconds": added,
    }
    print(f"{len(records)} answers, {len(items)} distinct (answer, expected language), {args.rounds} rounds (CPU s):")
    for name, value in medians.items():
        print(f"  {name:28s} {value:6.2f}")
    print(f"  added by lines and words     {added:6.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
