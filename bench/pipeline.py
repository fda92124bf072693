"""End to end: the whole workflow from a cold start, its time and peak memory per stage.

    python bench/pipeline.py [--configfile config.yaml] [--cores all] [--out bench/pipeline]

Runs ``snakemake --cores all`` on the config with ``results`` and
``resources_dir`` pointed into an empty scratch folder, so every stage runs,
model preparation (the embedded default's GGUF conversion) included. Each rule
writes a Snakemake benchmark file (wall seconds, peak resident memory); the
stages are summed from them the same way the report's provenance table is.
Writes ``results.json`` and ``RESULTS.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from langneurons.config import validate_config
from langneurons.report import fmt_duration, fmt_mb, stage_times

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 30 * 60
TARGET_PEAK_MB = 8 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configfile", default="config.yaml")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--scratch", help="folder for results and resources (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--out", default=str(ROOT / "bench" / "pipeline"))
    parser.add_argument(
        "--finished",
        nargs=2,
        metavar=("RESULTS", "WALL_SECONDS"),
        help="summarise a cold-start run made elsewhere (e.g. from a fresh clone): its results folder and wall time",
    )
    args = parser.parse_args()

    config = validate_config(
        yaml.safe_load((ROOT / args.configfile).read_text()), ROOT / "workflow" / "schemas" / "config.schema.yaml"
    )
    if args.finished:
        results, wall = Path(args.finished[0]), float(args.finished[1])
        summarise(
            config, results, wall, f"snakemake --cores {args.cores}", "in a fresh clone, outside this script", args
        )
        return
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="langneurons-bench-")).resolve()
    results, resources = scratch / "results", scratch / "resources"
    if results.exists() or resources.exists():
        sys.exit(f"{scratch} already holds results or resources: a cold start needs an empty folder")
    command = [
        "snakemake",
        "--cores",
        args.cores,
        "--configfile",
        args.configfile,
        "--config",
        f"results={results}",
        f"resources_dir={resources}",
    ]
    print("running:", " ".join(command), flush=True)
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"snakemake failed (exit {run.returncode}); the scratch folder {scratch} is kept for its logs")
    summarise(
        config, results, wall, " ".join(command[:5]), "with results and resources_dir in an empty scratch folder", args
    )
    if not args.keep and not args.scratch:
        shutil.rmtree(scratch)


def summarise(config: dict, results: Path, wall: float, snakemake_command: str, where: str, args) -> None:
    """Write results.json and RESULTS.md for a finished run: whole wall time, per-stage job times and peaks."""
    stages = stage_times(results, list(config["models"]), skip=())
    peak = max((s["peak_mb"] for s in stages if s["peak_mb"] is not None), default=None)
    record = {
        "command": "python bench/pipeline.py " + " ".join(sys.argv[1:]),
        "snakemake_command": snakemake_command,
        "where": where,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "wall_seconds": wall,
        "peak_rss_mb": peak,
        "targets": {"wall_seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_PEAK_MB},
        "stages": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in s.items()} for s in stages],
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(record, indent=2))
    lines = [
        "# End to end, cold start",
        "",
        f"Command: `{record['command']}`, which summarises `{record['snakemake_command']}` run {record['where']}.",
        "",
        f"Machine: {record['machine']}.",
        "",
        f"Whole run: {fmt_duration(wall)} (target {fmt_duration(TARGET_SECONDS)}: "
        f"{'met' if wall <= TARGET_SECONDS else 'NOT met'}); largest peak memory of one job: {fmt_mb(peak)} "
        f"(target below {fmt_mb(TARGET_PEAK_MB)}: "
        f"{'met' if peak is not None and peak < TARGET_PEAK_MB else 'NOT met'}).",
        "",
        "| stage (rule) | model | jobs | job time (sum) | elapsed | peak memory of one job |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {s['stage']} | {s['model'] or '-'} | {s['jobs']} | {fmt_duration(s['job_seconds'])} | "
            f"{fmt_duration(s['elapsed_seconds'])} | {fmt_mb(s['peak_mb'])} |"
            for s in stages
        ],
        "",
        "Job time adds up a stage's jobs; elapsed runs from its first job's start to its last job's end. Jobs of "
        f"different stages overlap when cores allow ({args.cores}), so job times add up to more than the whole "
        "run. Peak memory is the largest resident set size of one job (host memory).",
        "",
    ]
    (out / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
