"""Provenance: package versions, git commit, config hash, and wall time and memory per stage."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from ..errors import InputFileError
from ..paths import Results
from .formatting import cell, table

PACKAGES = ["torch", "transformers", "langneurons", "snakemake"]
# pipeline order of the rules (benchmark folders), the parts of a split stage (`<rule>_part`) just before their
# rule; unknown stages follow alphabetically
STAGE_ORDER = [
    "prepare_model",
    "corpus",
    "wikipedia_corpus",
    "tokenize",
    "count_activations",
    "merge_stats",
    "select_neurons",
    "instructions",
    "pv_tune",
    "pv_select",
    "import_neurons",
    "compare_neurons",
    "stability",
    "perplexity",
    "perplexity_ci",
    "perplexity_null",
    "bundled_tasks",
    "tasks",
    "ses",
    "model_figures",
    "ses_figure",
    "questions",
    "generate",
    "steer_sweep",
    "judge_sweep",
    "deactivation_ppl",
    "steering_figures",
    "steer",
    "judge",
    "report",
]


def config_hash(config: dict) -> str:
    """sha256 of the canonical JSON of the config (sorted keys, no whitespace)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def package_versions() -> list[tuple[str, str]]:
    versions = [("python", sys.version.split()[0])]
    for name in PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return versions


def git_commit(*dirs) -> str:
    """HEAD of the first git work tree among ``dirs`` (``+ uncommitted changes`` when dirty), else 'unknown'."""
    for d in [*dirs, Path.cwd(), Path(__file__).resolve().parents[2]]:
        try:
            run = subprocess.run(["git", "-C", str(d), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
            if run.returncode != 0:
                continue
            commit = run.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(d), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            return commit + (" (+ uncommitted changes)" if dirty.returncode == 0 and dirty.stdout.strip() else "")
        except (OSError, subprocess.SubprocessError):
            continue
    return "unknown"


def provenance(config: dict) -> dict:
    """Date, versions, commit and config hash of this report, with the table the setup section shows."""
    prov = {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "config_hash": config_hash(config),
        "config_text": yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
    }
    prov["table"] = table(
        ["Item", "Value"],
        [
            ["Report date", prov["date"]],
            ["Git commit", cell(prov["git_commit"], "mono")],
            ["Config sha256", cell(prov["config_hash"], "mono", title="sha256 of the canonical JSON of the config")],
        ]
        + [[f"{name} version", cell(version, "mono")] for name, version in prov["versions"]],
    )
    return prov


def read_benchmark(path: Path) -> tuple[float, float | None]:
    """Wall seconds and peak resident memory (MB) from a Snakemake benchmark file."""
    try:
        frame = pd.read_csv(path, sep="\t")
        seconds = float(frame["s"].iloc[0])
    except Exception as err:
        raise InputFileError(
            f"{path}: not a readable Snakemake benchmark file ({err}); delete it and rerun its rule"
        ) from None
    rss = pd.to_numeric(frame.get("max_rss", pd.Series(dtype=float)), errors="coerce").max()
    return seconds, None if pd.isna(rss) else float(rss)


def stage_times(results, models: list[str], skip: tuple[str, ...] = ("report",)) -> list[dict]:
    """Wall time and peak memory per stage (and model), from the benchmark files of the results folder.

    A benchmark file is written when its job ends: its modification time is the
    job's end, minus its seconds its start. ``skip``: stages left out (the
    report rule, while it runs, would see only an earlier run's file).
    """
    bench = Results(results).benchmarks
    groups: dict[tuple[str, str], list[tuple[_dt.datetime, _dt.datetime, float | None]]] = {}
    if not bench.is_dir():
        return []
    for path in sorted(bench.rglob("*.tsv")):
        parts = path.relative_to(bench).parts
        stage = parts[0] if len(parts) > 1 else path.stem
        if stage in skip:
            continue
        names = list(parts[1:-1]) + [path.stem]
        model = next((n for n in names if n in models), "")
        seconds, peak = read_benchmark(path)
        end = _dt.datetime.fromtimestamp(path.stat().st_mtime)
        groups.setdefault((stage, model), []).append((end - _dt.timedelta(seconds=seconds), end, peak))

    def order(key):
        stage, model = key
        whole = stage.removesuffix("_part")  # the parts of a split stage (perplexity_part) come just before it
        rank = STAGE_ORDER.index(whole) if whole in STAGE_ORDER else len(STAGE_ORDER)
        return rank, whole, stage == whole, stage, models.index(model) if model in models else -1

    rows = []
    for key in sorted(groups, key=order):
        jobs = groups[key]
        start, end = min(s for s, _, _ in jobs), max(e for _, e, _ in jobs)
        peaks = [m for _, _, m in jobs if m is not None]
        rows.append(
            {
                "stage": key[0],
                "model": key[1],
                "jobs": len(jobs),
                "job_seconds": sum((e - s).total_seconds() for s, e, _ in jobs),
                "elapsed_seconds": (end - start).total_seconds(),
                "start": start,
                "end": end,
                "peak_mb": max(peaks) if peaks else None,
            }
        )
    return rows
