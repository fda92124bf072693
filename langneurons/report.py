"""The final report: one self-contained HTML page from a results folder.

``collect(results_dir, config)`` reads whatever the workflow has produced so
far (a stage that has not run yet is reported as missing, never dropped) and
returns a template context of already formatted tables and inlined figures;
``render(context, template_dir, out_path)`` renders ``index.html.j2`` from
``template_dir`` (the repository's ``report/`` folder) into one HTML file that
makes no network request: figures are ``data:image/png;base64`` URIs, CSS is
inline.

Sections follow the paper's order: setup and provenance, identified neurons,
perplexity under deactivation, sentence embedding similarity, generation under
deactivation, steering.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import math
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

SECTIONS = [
    ("setup", "Setup and provenance"),
    ("neurons", "Identified neurons"),
    ("ppl", "Perplexity under deactivation"),
    ("ses", "Sentence embedding similarity"),
    ("generation", "Generation under deactivation"),
    ("steering", "Steering"),
]
ALL_METHODS = ["lape", "lap", "lave", "random"]
METHOD_LABELS = {"lape": "LAPE", "lap": "LAP", "lave": "LAVE", "random": "Random", "imported": "Imported"}
PACKAGES = ["torch", "transformers", "langneurons", "snakemake"]
# pipeline order of the rules (benchmark folders); unknown stages follow alphabetically
STAGE_ORDER = [
    "prepare_model",
    "corpus",
    "tokenize",
    "count_activations",
    "merge_stats",
    "select_neurons",
    "import_neurons",
    "compare_neurons",
    "perplexity",
    "ses",
    "model_figures",
    "ses_figure",
    "questions",
    "generate",
    "steer",
    "judge",
    "report",
]
NOT_RUN = "not configured / not run"
ANSWER_CHARS = 280
PROMPT_CHARS = 120


# --------------------------------------------------------------------------- formatting


def _num(x) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def fmt_int(x) -> str:
    v = _num(x)
    return "–" if v is None else f"{int(round(v)):,}"


def fmt_float(x, digits: int = 2) -> str:
    v = _num(x)
    if v is None:
        return "–"
    text = f"{v:.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.0*", text) else text


def fmt_ppl(x) -> str:
    """Perplexity: 2 decimals."""
    return fmt_float(x, 2)


def fmt_sim(x) -> str:
    """Cosine similarity: 3 decimals."""
    return fmt_float(x, 3)


def fmt_pct(x, signed: bool = True, digits: int = 2) -> str:
    """A fraction as a percentage (0.1234 -> '+12.34%')."""
    v = _num(x)
    if v is None:
        return "–"
    v *= 100
    if round(v, digits) == 0:
        v = 0.0
    return f"{v:+.{digits}f}%" if signed and v != 0 else f"{v:.{digits}f}%"


def fmt_share(x, digits: int = 1) -> str:
    """A share in [0, 1] (or already in percent when above 1) as an unsigned percentage."""
    v = _num(x)
    if v is None:
        return "–"
    return fmt_pct(v if abs(v) <= 1 else v / 100, signed=False, digits=digits)


def fmt_duration(seconds) -> str:
    v = _num(seconds)
    if v is None:
        return "–"
    if v < 60:
        return f"{v:.1f} s"
    minutes, sec = divmod(int(round(v)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_mb(mb) -> str:
    v = _num(mb)
    if v is None:
        return "–"
    return f"{v / 1024:.2f} GiB" if v >= 1024 else f"{v:.0f} MB"


def _truncate(text, limit: int) -> str:
    """One line of at most ``limit`` characters, control characters (raw model output) dropped."""
    text = "" if text is None else str(text)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cell(text, *classes, style: str | None = None, title: str | None = None) -> dict:
    return {"text": str(text), "cls": " ".join(c for c in classes if c), "style": style, "title": title}


def num(text, *classes, **kw) -> dict:
    return cell(text, "num", *classes, **kw)


def table(head: list[str], rows: list[list], caption: str, kind: str = "", note: str | None = None) -> dict:
    """A formatted table: ``head`` labels, ``rows`` of cells (str or ``cell`` dicts; the first is a row header)."""
    rows = [[c if isinstance(c, dict) else cell(c) for c in row] for row in rows]
    return {"head": head, "rows": rows, "caption": caption, "kind": kind, "note": note}


def _heat(value, vmax, rgb=(220, 38, 38), vmin: float = 0.0) -> str | None:
    """Inline background for a heat-map cell (value scaled from vmin to vmax; none at or below vmin)."""
    v = _num(value)
    if v is None or vmax is None or vmax <= vmin or v <= vmin:
        return None
    alpha = 0.08 + 0.55 * min(1.0, (v - vmin) / (vmax - vmin))
    return f"background-color: rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.2f})"


# --------------------------------------------------------------------------- reading


def _read_csv(path: Path, **kw) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, **kw)
    except Exception:  # an empty or half-written table counts as missing
        return None


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    if not path.is_file():
        return rows
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return rows


def _torch_load(path: Path) -> dict | None:
    if not path.is_file():
        return None
    import torch

    for kw in ({"mmap": True}, {}):
        try:
            return torch.load(path, map_location="cpu", weights_only=True, **kw)
        except Exception:
            continue
    return None


def image_data_uri(path: Path) -> str:
    data = Path(path).read_bytes()
    mime = (
        "image/png"
        if data[:8] == b"\x89PNG\r\n\x1a\n"
        else {
            ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg",
            ".svg": "image/svg+xml",
            ".gif": "image/gif",
        }.get(Path(path).suffix.lower(), "image/png")
    )
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _rel(path: Path, root: Path) -> str:
    """A path as the reader knows it: under the results folder as it was given."""
    try:
        return str(root / path.relative_to(root))
    except ValueError:
        return str(path)


def figure(path: Path, root: Path, caption: str, alt: str) -> dict:
    found = path.is_file()
    return {
        "src": image_data_uri(path) if found else None,
        "missing": None if found else _rel(path, root),
        "caption": caption,
        "alt": alt,
        "path": _rel(path, root),
    }


# --------------------------------------------------------------------------- provenance


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
    for d in [*dirs, Path.cwd(), Path(__file__).resolve().parents[1]]:
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


def _benchmark(path: Path) -> tuple[float, float | None] | None:
    """Wall seconds and peak resident memory (MB) from a Snakemake benchmark file."""
    try:
        table = pd.read_csv(path, sep="\t")
        seconds = float(table["s"].iloc[0])
    except (OSError, ValueError, KeyError, IndexError, pd.errors.ParserError):
        return None
    rss = pd.to_numeric(table.get("max_rss", pd.Series(dtype=float)), errors="coerce").max()
    return seconds, None if pd.isna(rss) else float(rss)


def stage_times(results: Path, models: list[str], skip: tuple[str, ...] = ("report",)) -> list[dict]:
    """Wall time and peak memory per stage (and model), from the benchmark files under ``{results}/benchmarks``.

    A benchmark file is written when its job ends: its modification time is the
    job's end, minus its seconds its start. ``skip``: stages left out (the
    report rule, while it runs, would see only an earlier run's file).
    """
    bench = results / "benchmarks"
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
        measured = _benchmark(path)
        if measured:
            end = _dt.datetime.fromtimestamp(path.stat().st_mtime)
            groups.setdefault((stage, model), []).append((end - _dt.timedelta(seconds=measured[0]), end, measured[1]))

    def order(key):
        stage, model = key
        rank = STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)
        return rank, stage, models.index(model) if model in models else -1

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


# --------------------------------------------------------------------------- config helpers


def _methods(config: dict) -> list[str]:
    return list((config.get("selection") or {}).get("methods") or ALL_METHODS)


def _ppl_methods(config: dict) -> list[str]:
    return list((config.get("perplexity") or {}).get("methods") or _methods(config))


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method.upper())


def method_description(method: str, config: dict) -> str:
    sel = config.get("selection") or {}
    top, flt, bar = sel.get("top_rate", 0.01), sel.get("filter_rate", 0.95), sel.get("activation_bar_ratio", 0.95)
    return {
        "lape": (
            f"LAPE (the paper's method): activation probability of each FFN neuron per language (share of the "
            f"language's train tokens on which its output is > 0), normalised over languages; among neurons "
            f"above the {flt} quantile in some language, the {fmt_pct(top, signed=False)} of all neurons with "
            f"the lowest entropy are kept and assigned to every language whose probability exceeds the "
            f"{bar} quantile."
        ),
        "lap": (
            "LAP baseline: per language, the neurons with the highest activation probability, as many as LAPE "
            "found for that language."
        ),
        "lave": "LAVE baseline: LAPE's procedure on mean activation values (clamped at 0) instead of probabilities.",
        "random": (
            f"Random baseline: neurons drawn at random (seed {sel.get('seed', 0)}) with LAPE's count per "
            f"language and layer."
        ),
        "imported": (
            "Imported: a published neuron file in the authors' format"
            + (f" ({(sel.get('imported') or {}).get('path')})" if (sel.get("imported") or {}).get("path") else "")
            + ", validated against the model and reordered to this run's languages."
        ),
    }.get(method, f"{_label(method)} selection.")


def _configured(config: dict, key: str) -> bool:
    """Whether the config asks for a stage: generation.methods non-empty, steering.method set."""
    section = config.get(key)
    if not isinstance(section, dict):
        return bool(section)
    if key == "generation":
        return bool(section.get("methods"))
    if key == "steering":
        return bool(section.get("method"))
    return bool(section)


def method_short(method: str, config: dict) -> str:
    top = (config.get("selection") or {}).get("top_rate", 0.01)
    return {
        "lape": f"selected by LAPE (lowest entropy of activation probability over languages, {fmt_pct(top, False)} "
        f"of all neurons)",
        "lap": "selected by the LAP baseline (highest activation probability per language)",
        "lave": "selected by the LAVE baseline (LAPE on mean activation values)",
        "random": "drawn by the random baseline (LAPE's count per language and layer)",
        "imported": "from the imported, published neuron file",
    }.get(method, f"selected by {_label(method)}")


def _status(config: dict, key: str) -> str:
    return "configured, not run yet" if _configured(config, key) else NOT_RUN


# --------------------------------------------------------------------------- sections


def _languages(frame_columns, config_langs: list[str]) -> list[str]:
    cols = [c for c in frame_columns if c not in ("total", "layer", "language", "deactivated", "condition")]
    return [c for c in config_langs if c in cols] + [c for c in cols if c not in config_langs]


def _architecture(mdir: Path, langs: list[str]) -> tuple[int | None, int | None]:
    for lang in langs:
        stats = _torch_load(mdir / "stats" / f"{lang}.pt")
        if stats and "over_zero" in stats:
            shape = tuple(stats["over_zero"].shape)
            if len(shape) == 2:
                return int(shape[0]), int(shape[1])
    return None, None


def setup_section(results: Path, config: dict, models: list[str], langs: list[str]) -> dict:
    corpus, sel = config.get("corpus") or {}, config.get("selection") or {}
    arch = {}
    model_rows = []
    for name in models:
        cfg = (config.get("models") or {}).get(name) or {}
        layers, d_ff = _architecture(results / name, langs)
        arch[name] = (layers, d_ff)
        src = cfg.get("source", "–")
        where = cfg.get("path") or (
            "bundled Gemma-3-270M package" if src == "embedded" else "tiny random model" if src == "random" else "–"
        )
        model_rows.append(
            [
                name,
                src,
                where,
                cfg.get("dtype", "auto"),
                fmt_int(cfg.get("seq_len")),
                num(fmt_int(layers)),
                num(fmt_int(d_ff)),
                num(fmt_int(layers * d_ff) if layers and d_ff else "–"),
            ]
        )
    models_table = table(
        ["Model", "Source", "Path", "dtype", "Sequence length", "Layers", "FFN neurons / layer", "FFN neurons"],
        model_rows,
        "Models analysed. Layers and FFN width are read from the activation statistics.",
    )
    settings = [
        ["Languages", ", ".join(langs)],
        ["Corpus source", corpus.get("source", "–")],
        ["Train token budget / language", fmt_int(corpus.get("train_tokens"))],
        ["Valid token budget / language", fmt_int(corpus.get("valid_tokens"))],
        ["Selection methods", ", ".join(_label(m) for m in _methods(config))],
        ["top_rate", fmt_pct(sel.get("top_rate", 0.01), signed=False)],
        ["filter_rate", str(sel.get("filter_rate", 0.95))],
        ["activation_bar_ratio", str(sel.get("activation_bar_ratio", 0.95))],
        ["Random seed", str(sel.get("seed", 0))],
        ["PPL methods", ", ".join(_label(m) for m in _ppl_methods(config))],
    ]
    ses_cfg = config.get("ses") or {}
    if ses_cfg:
        settings.append(["SES items", f"{ses_cfg.get('items', 'questions')}, first {ses_cfg.get('max_items', 40)}"])
    questions = config.get("questions") if isinstance(config.get("questions"), dict) else {}
    if questions:
        limit = questions.get("max_questions")
        settings.append(
            [
                "Questions",
                f"{questions.get('source', 'bundled')}" + (f", first {limit} per language" if limit else ", all"),
            ]
        )
    generation = config.get("generation") if isinstance(config.get("generation"), dict) else {}
    settings.append(
        [
            "Generation methods",
            ", ".join(_label(m) for m in generation.get("methods") or []) or "none (" + NOT_RUN + ")",
        ]
    )
    steering = config.get("steering") if isinstance(config.get("steering"), dict) else {}
    settings.append(
        [
            "Steering",
            f"{_label(steering['method'])}, mode {steering.get('mode', 'replace')}"
            if steering.get("method")
            else "none (" + NOT_RUN + ")",
        ]
    )
    judge = config.get("judge") if isinstance(config.get("judge"), dict) else {}
    if judge:
        settings.append(
            ["Judge", judge.get("backend", "local") + (f" ({judge['model']})" if judge.get("model") else "")]
        )
    settings_table = table(["Setting", "Value"], settings, "Science settings of this run (from the configuration).")

    tokens = []
    for name in models:
        rows, found = [], False
        totals = [0, 0, 0]
        for lang in langs:
            vals = []
            for split in ("train", "valid"):
                tok = _torch_load(results / name / "tokens" / f"{lang}.{split}.pt")
                vals.append(tok.get("n_tokens") if tok else None)
            stats = _torch_load(results / name / "stats" / f"{lang}.pt")
            vals.append(int(stats["n"]) if stats and "n" in stats else None)
            found = found or any(v is not None for v in vals)
            totals = [t + (v or 0) for t, v in zip(totals, vals)]
            rows.append([lang] + [num(fmt_int(v)) for v in vals])
        rows.append([cell("all", "total")] + [num(fmt_int(t), "total") for t in totals])
        tokens.append(
            {
                "model": name,
                "table": table(
                    ["Language", "Train tokens", "Valid tokens", "Counted tokens"],
                    rows,
                    f"{name}: tokens per language and split (train: neuron statistics; valid: perplexity). "
                    f"Counted = tokens seen by the activation statistics.",
                )
                if found
                else None,
                "missing": None
                if found
                else (f"{name}: no token or statistics files under {_rel(results / name, results)}/tokens and stats"),
            }
        )

    times = stage_times(results, models)
    stage_rows = [
        [
            r["stage"],
            r["model"] or "–",
            num(r["jobs"]),
            num(fmt_duration(r["job_seconds"])),
            num(fmt_duration(r["elapsed_seconds"])),
            num(fmt_mb(r["peak_mb"])),
            r["start"].strftime("%Y-%m-%d %H:%M:%S"),
        ]
        for r in times
    ]
    if times:
        start, end = min(r["start"] for r in times), max(r["end"] for r in times)
        peaks = [r["peak_mb"] for r in times if r["peak_mb"] is not None]
        stage_rows.append(
            [
                cell("whole run", "total"),
                cell("", "total"),
                num(sum(r["jobs"] for r in times), "total"),
                num(fmt_duration(sum(r["job_seconds"] for r in times)), "total"),
                num(fmt_duration((end - start).total_seconds()), "total"),
                num(fmt_mb(max(peaks) if peaks else None), "total"),
                cell(start.strftime("%Y-%m-%d %H:%M:%S"), "total"),
            ]
        )
    stages_table = (
        table(
            ["Stage (rule)", "Model", "Jobs", "Job time (sum)", "Elapsed", "Peak memory", "First start"],
            stage_rows,
            "Wall time and peak memory per stage, from Snakemake's benchmark files under benchmarks/. Job time adds "
            "the jobs up; elapsed runs from the first job's start to the last job's end (jobs may overlap); peak "
            "memory is the largest resident set size of any one job (host memory, not GPU memory).",
        )
        if times
        else None
    )
    missing = None if times else f"no benchmark files under {_rel(results / 'benchmarks', results)}"
    return {
        "models_table": models_table,
        "settings_table": settings_table,
        "tokens": tokens,
        "stages_table": stages_table,
        "stages_missing": missing,
    }, arch


def neurons_section(results: Path, config: dict, models: list[str], langs: list[str], arch: dict) -> dict:
    methods = _methods(config)
    summary_rows, blocks = [], []
    summary_langs: list[str] = []
    for name in models:
        ndir, fdir = results / name / "neurons", results / name / "figures"
        block = {"model": name, "methods": [], "missing": []}
        layers, d_ff = arch.get(name, (None, None))
        for method in methods:
            counts = _read_csv(ndir / f"{method}.counts.csv", index_col="layer")
            if counts is None:
                block["missing"].append(_rel(ndir / f"{method}.counts.csv", results))
                continue
            mlangs = _languages(counts.columns, langs)
            summary_langs += [lang for lang in mlangs if lang not in summary_langs]
            total = counts["total"] if "total" in counts else counts[mlangs].sum(axis=1)
            all_neurons = layers * d_ff if layers and d_ff else None
            unique_hint = (
                (
                    f" ({fmt_pct(total.sum() / all_neurons, signed=False)} of all FFN neurons, counting a "
                    f"neuron once per language)"
                )
                if all_neurons
                else ""
            )
            summary_rows.append((name, method, {lang: counts[lang].sum() for lang in mlangs}, total.sum(), all_neurons))
            vmax = counts[mlangs].to_numpy().max() if len(counts) else 0
            rows = [
                [str(layer)]
                + [
                    num(fmt_int(counts.loc[layer, lang]), style=_heat(counts.loc[layer, lang], vmax, (37, 99, 235)))
                    for lang in mlangs
                ]
                + [num(fmt_int(total.loc[layer]), "total")]
                for layer in counts.index
            ]
            rows.append(
                [cell("all", "total")]
                + [num(fmt_int(counts[lang].sum()), "total") for lang in mlangs]
                + [num(fmt_int(total.sum()), "total")]
            )
            counts_table = table(
                ["Layer"] + mlangs + ["Total"],
                rows,
                f"{name}, {_label(method)}: neurons per layer and language{unique_hint}.",
                kind="wide",
            )
            overlap = _read_csv(ndir / f"{method}.overlap.csv", index_col="language")
            jaccard = _read_csv(ndir / f"{method}.jaccard.csv", index_col="language")
            overlap_table = None
            if overlap is not None:
                olangs = _languages(overlap.columns, langs)
                orows = []
                for a in olangs:
                    row = [a]
                    for b in olangs:
                        text = fmt_int(overlap.loc[a, b]) if a in overlap.index else "–"
                        if jaccard is not None and a in jaccard.index and b in jaccard.columns:
                            text += f" ({fmt_float(jaccard.loc[a, b], 2)})"
                        row.append(num(text, "diag" if a == b else ""))
                    orows.append(row)
                overlap_table = table(
                    ["Language"] + olangs,
                    orows,
                    f"{name}, {_label(method)}: neurons shared by two languages (Jaccard index in "
                    f"parentheses); the diagonal is the language's own count.",
                    kind="wide",
                )
            desc = method_description(method, config)
            block["methods"].append(
                {
                    "method": method,
                    "label": _label(method),
                    "description": desc,
                    "counts_table": counts_table,
                    "overlap_table": overlap_table,
                    "layers_fig": figure(
                        fdir / f"layers_{method}.png",
                        results,
                        f"{name}, {_label(method)}: number of language-specific neurons per layer, "
                        f"stacked by language (a neuron serving two languages counts for both); "
                        f"neurons {method_short(method, config)}.",
                        f"{name} {_label(method)} neurons per layer",
                    ),
                    "overlap_fig": figure(
                        fdir / f"overlap_{method}.png",
                        results,
                        f"{name}, {_label(method)}: left, the number of neurons shared by each pair "
                        f"of languages (diagonal: the language's own count); right, the Jaccard index "
                        f"|A ∩ B| / |A ∪ B| of the two neuron sets (layer and index must match).",
                        f"{name} {_label(method)} neuron overlap",
                    ),
                }
            )
        block["imported_table"] = _imported_table(ndir / "imported_vs_lape.csv", langs, name)
        blocks.append(block)
    summary = None
    if summary_rows:
        head = (["Model"] if len(models) > 1 else []) + ["Method"] + summary_langs + ["Total", "Share of FFN neurons"]
        rows = []
        for name, method, per_lang, total, all_neurons in summary_rows:
            row = ([name] if len(models) > 1 else []) + [cell(_label(method), "lape" if method == "lape" else "")]
            row += [num(fmt_int(per_lang.get(lang))) for lang in summary_langs]
            row += [num(fmt_int(total)), num(fmt_pct(total / all_neurons, signed=False) if all_neurons else "–")]
            rows.append(row)
        summary = table(
            head,
            rows,
            "Language-specific neurons per language and selection method (all layers). "
            "A neuron assigned to two languages counts for both; the share is the total "
            "over all FFN neurons of the model.",
        )
    return {
        "summary": summary,
        "models": blocks,
        "by_method": _by_method(blocks, methods, config),
        "imported": any(b["imported_table"] for b in blocks),
    }


def _imported_table(path: Path, langs: list[str], name: str) -> dict | None:
    """The published (imported) neuron set against ours (LAPE), summed over layers per language."""
    frame = _read_csv(path)
    if frame is None or not {"language", "imported", "lape", "shared"} <= set(frame.columns):
        return None
    sums = frame.groupby("language")[["imported", "lape", "shared"]].sum()
    order = [lang for lang in langs if lang in sums.index] + [x for x in sums.index if x not in langs]
    rows = []
    for lang in order + ["all"]:
        r = sums.sum() if lang == "all" else sums.loc[lang]
        union = r["imported"] + r["lape"] - r["shared"]
        cls = "total" if lang == "all" else ""
        rows.append(
            [cell(lang, cls)]
            + [num(fmt_int(r[c]), cls) for c in ("imported", "lape", "shared")]
            + [num(fmt_float(r["shared"] / union, 3) if union else "–", cls)]
        )
    return table(
        ["Language", "Imported", "LAPE (ours)", "Shared", "Jaccard"],
        rows,
        f"{name}: the imported, published neuron set against the LAPE set of this run, summed over "
        f"layers (a neuron counts as shared when layer and index match).",
    )


def _by_method(blocks: list[dict], methods: list[str], config: dict) -> list[dict]:
    """Pivot per-model blocks to one entry per method with the models side by side (None = missing)."""
    out = []
    for method in methods:
        per_model = []
        for block in blocks:
            entry = next((e for e in block["methods"] if e["method"] == method), None)
            missing = next((m for m in block["missing"] if Path(m).name.startswith(f"{method}.")), None)
            per_model.append({"model": block["model"], "entry": entry, "missing": missing})
        out.append(
            {
                "method": method,
                "label": _label(method),
                "description": method_description(method, config),
                "models": per_model,
            }
        )
    return out


def _specificity(spec: pd.DataFrame | None, ppl: pd.DataFrame) -> pd.DataFrame:
    if spec is None:
        from .perplexity import specificity

        spec = specificity(ppl)
    spec = spec.copy()
    col = spec["own_is_largest"]
    spec["own_is_largest"] = col.astype(str).str.lower().isin(["true", "1", "1.0"]) if col.dtype != bool else col
    return spec


def ppl_section(results: Path, config: dict, models: list[str], langs: list[str]) -> dict:
    methods = _ppl_methods(config)
    valid_budget = (config.get("corpus") or {}).get("valid_tokens")
    budget = f" ({fmt_int(valid_budget)}-token budget per language)" if valid_budget else ""
    comparison_rows, blocks = [], []
    for name in models:
        pdir, fdir = results / name / "ppl", results / name / "figures"
        block = {"model": name, "methods": [], "missing": []}
        for method in methods:
            ppl = _read_csv(pdir / f"{method}.csv", index_col="deactivated")
            if ppl is None or "none" not in ppl.index:
                block["missing"].append(_rel(pdir / f"{method}.csv", results))
                continue
            plangs = _languages(ppl.columns, langs)
            base = ppl.loc["none", plangs]
            rel = ppl.drop(index="none")[plangs] / base - 1
            vmax = max(float(rel.to_numpy().max()), 1e-12) if rel.size else 0
            rows = [[cell("none", "base")] + [num(fmt_ppl(base[lang]), "base") for lang in plangs]]
            for off in rel.index:
                rows.append(
                    [off]
                    + [
                        num(
                            f"{fmt_ppl(ppl.loc[off, lang])} ({fmt_pct(rel.loc[off, lang])})",
                            "diag" if off == lang else "",
                            style=_heat(rel.loc[off, lang], vmax),
                        )
                        for lang in plangs
                    ]
                )
            ppl_table = table(
                ["Deactivated ↓ / evaluated →"] + plangs,
                rows,
                f"{name}, {_label(method)}: perplexity on each language's valid split{budget}: first row with no "
                f"neuron deactivated, then with the {_label(method)} neurons of one language deactivated (set to 0); "
                f"in parentheses the change relative to the first row. Own language (diagonal) outlined.",
                kind="wide",
            )
            spec = _specificity(_read_csv(pdir / f"{method}.specificity.csv", index_col="deactivated"), ppl)
            spec_rows = [
                [
                    off,
                    num(fmt_pct(r["own_increase"]), "diag"),
                    num(fmt_pct(r["max_other_increase"])),
                    num(fmt_pct(r["mean_other_increase"])),
                    cell(
                        "✓ yes" if r["own_is_largest"] else "✗ no", "center", "good" if r["own_is_largest"] else "bad"
                    ),
                    num(fmt_float(r["ratio"], 2)),
                ]
                for off, r in spec.iterrows()
            ]
            spec_table = table(
                [
                    "Deactivated",
                    "Own increase",
                    "Max other increase",
                    "Mean other increase",
                    "Own hit hardest",
                    "Ratio",
                ],
                spec_rows,
                f"{name}, {_label(method)}: specificity. Own = relative PPL change of the deactivated language; "
                f"max / mean other = over the other languages; ratio = own / max(mean other, 0.001).",
            )
            own = [str(i) for i, r in spec.iterrows() if r["own_is_largest"]]
            comparison_rows.append(
                {
                    "model": name,
                    "method": method,
                    "own": own,
                    "n": len(spec),
                    "ratio": spec["ratio"].mean(),
                    "own_mean": spec["own_increase"].mean(),
                    "other_mean": spec["mean_other_increase"].mean(),
                }
            )
            block["methods"].append(
                {
                    "method": method,
                    "label": _label(method),
                    "ppl_table": ppl_table,
                    "spec_table": spec_table,
                    "summary": (
                        f"Own language hit hardest for {len(own)} of {len(spec)} languages"
                        + (f" ({', '.join(own)})" if own else "")
                        + f"; mean ratio {fmt_float(spec['ratio'].mean())}."
                    ),
                    "fig": figure(
                        fdir / f"ppl_{method}.png",
                        results,
                        f"{name}, {_label(method)}: relative perplexity change (%) on each evaluated language "
                        f"(columns) when the {_label(method)} neurons of one language (rows) are deactivated "
                        f"by setting their activation to 0, against the unmodified model; computed on the "
                        f"valid split{budget}. A dark diagonal means the neurons matter for their own "
                        f"language only.",
                        f"{name} {_label(method)} perplexity change heat map",
                    ),
                }
            )
        blocks.append(block)
    comparison = None
    if comparison_rows:
        multi = len(models) > 1
        head = (["Model"] if multi else []) + [
            "Method",
            "Own language hit hardest",
            "Languages",
            "Mean own increase",
            "Mean other increase",
            "Mean ratio",
        ]
        rows = []
        for r in comparison_rows:
            lape = "lape" if r["method"] == "lape" else ""
            rows.append(
                ([r["model"]] if multi else [])
                + [
                    cell(_label(r["method"]), lape),
                    num(f"{len(r['own'])} / {r['n']}", lape),
                    cell(", ".join(r["own"]) or "none", lape),
                    num(fmt_pct(r["own_mean"]), lape),
                    num(fmt_pct(r["other_mean"]), lape),
                    num(fmt_float(r["ratio"], 2), lape),
                ]
            )
        comparison = table(
            head,
            rows,
            "LAPE against the baselines: for how many languages deactivating that language's "
            "neurons raises its own perplexity more than any other language's, and the mean "
            "ratio own / mean other increase (higher = more language-specific).",
        )
    return {"comparison": comparison, "models": blocks, "by_method": _by_method(blocks, methods, config)}


def ses_section(results: Path, config: dict, models: list[str], langs: list[str]) -> dict:
    ses_cfg = config.get("ses") or {}
    items = f"the first {ses_cfg.get('max_items', 40)} bundled {ses_cfg.get('items', 'questions')}"
    curves, blocks = {}, []
    for name in models:
        ses = _read_csv(results / name / "ses.csv")
        if ses is None:
            blocks.append({"model": name, "missing": _rel(results / name / "ses.csv", results), "pair_table": None})
            continue
        mean = ses[ses["lang_a"] == "all"].set_index("layer")["similarity"]
        pairs = ses[ses["lang_a"] != "all"]
        if mean.empty:
            mean = pairs.groupby("layer")["similarity"].mean()
        curves[name] = mean
        by_pair = pairs.groupby(["lang_a", "lang_b"])["similarity"].mean()
        plangs = [lang for lang in langs if lang in set(pairs["lang_a"]) | set(pairs["lang_b"])]
        plangs += sorted((set(pairs["lang_a"]) | set(pairs["lang_b"])) - set(plangs))
        rows = []
        vals = by_pair.to_numpy()
        vmax = float(vals.max()) if len(vals) else 0
        vmin = float(vals.min()) - 0.1 * (vmax - float(vals.min())) if len(vals) else 0  # contrast between pairs
        for a in plangs:
            row = [a]
            for b in plangs:
                if a == b:
                    row.append(num("–", "diag"))
                    continue
                v = by_pair.get((a, b), by_pair.get((b, a)))
                row.append(num(fmt_sim(v), style=_heat(v, vmax, (22, 163, 74), vmin)))
            rows.append(row)
        blocks.append(
            {
                "model": name,
                "missing": None,
                "pair_table": table(
                    ["Language"] + plangs,
                    rows,
                    f"{name}: SES per language pair, averaged over all layers.",
                    kind="wide",
                ),
            }
        )
    layer_table = summary_table = None
    if curves:
        layers = sorted(set().union(*[set(c.index) for c in curves.values()]))
        rows = [[str(layer)] + [num(fmt_sim(c.get(layer))) for c in curves.values()] for layer in layers]
        layer_table = table(
            ["Layer"] + list(curves),
            rows,
            "Mean SES over all language pairs per layer (0 = embedding output, l = output of decoder block l).",
        )
        srows = []
        for name, c in curves.items():
            peak = c.idxmax()
            srows.append(
                [
                    name,
                    num(len(c) - 1),
                    num(fmt_sim(c.iloc[0])),
                    num(f"{fmt_sim(c.max())} (layer {peak})"),
                    num(fmt_sim(c.iloc[-1])),
                    num(fmt_sim(c.mean())),
                ]
            )
        summary_table = table(
            ["Model", "Decoder layers", "Embeddings", "Peak", "Last layer", "Mean"],
            srows,
            "SES summary: mean over all language pairs at the embeddings, at the most similar "
            "layer and at the last layer.",
        )
    fig = figure(
        results / "figures" / "ses.png",
        results,
        f"Sentence embedding similarity per layer, one curve per model: for {items} (the same content in "
        f"every language), each layer's hidden states are mean-pooled over the item's tokens; SES is the "
        f"cosine similarity between the pooled vectors of the same item in two languages, averaged over "
        f"items and over all language pairs.",
        "SES per layer",
    )
    return {"figure": fig, "layer_table": layer_table, "summary_table": summary_table, "models": blocks}


def _condition_table(frame: pd.DataFrame, langs: list[str], fmt, caption: str, rgb) -> dict:
    qlangs = _languages(frame.columns, langs)
    order = (
        [c for c in ["normal", "random"] if c in frame.index]
        + [c for c in langs if c in frame.index]
        + [c for c in frame.index if c not in ["normal", "random", *langs]]
    )
    vals = frame[qlangs].to_numpy(dtype=float)
    vmax = float(pd.Series(vals.ravel()).max()) if vals.size else 0
    rows = []
    for cond in order:
        label = {"normal": "none (normal)", "random": "random neurons"}.get(cond, cond)
        rows.append(
            [cell(label, "base" if cond == "normal" else "")]
            + [
                num(fmt(frame.loc[cond, q]), "diag" if cond == q else "", style=_heat(frame.loc[cond, q], vmax, rgb))
                for q in qlangs
            ]
        )
    return table(["Deactivated ↓ / question language →"] + qlangs, rows, caption, kind="wide")


def _condition_means(frame: pd.DataFrame, langs: list[str]) -> dict:
    qlangs = _languages(frame.columns, langs)
    out = {}
    for key in ("normal", "random"):
        out[key] = frame.loc[key, qlangs].astype(float).mean() if key in frame.index else None
    own = [float(frame.loc[q, q]) for q in qlangs if q in frame.index]
    other = [float(frame.loc[c, q]) for c in frame.index if c in qlangs for q in qlangs if q != c]
    out["own"] = sum(own) / len(own) if own else None
    out["other"] = sum(other) / len(other) if other else None
    return out


def _samples(records: list[dict], langs: list[str], caption: str) -> dict | None:
    if not records:
        return None
    qid = records[0].get("question_id")
    chosen = [r for r in records if r.get("question_id") == qid]
    rank = {"normal": 0, "random": 1}
    chosen.sort(
        key=lambda r: (
            langs.index(r.get("language")) if r.get("language") in langs else 99,
            rank.get(r.get("condition"), 2),
        )
    )
    keep = [r for r in chosen if r.get("condition") in ("normal", "random", r.get("language"))][: 3 * len(langs)]
    rows = [
        [
            r.get("language", "–"),
            r.get("condition", "–"),
            cell(r.get("lang_detected", "–"), "center"),
            num(fmt_float(r.get("score"), 1)),
            cell(_truncate(r.get("prompt"), PROMPT_CHARS), "text"),
            cell(_truncate(r.get("answer"), ANSWER_CHARS), "text"),
        ]
        for r in keep
    ]
    return table(
        ["Question language", "Deactivated", "Detected", "Score", "Prompt", "Answer"],
        rows,
        caption + f" Question {qid}; answers cut at {ANSWER_CHARS} characters.",
        kind="text",
    )


def _judge_note(config: dict) -> str:
    """Who scored the answers, and the caveat that a local judge is weaker than the paper's GPT-4."""
    judge = config.get("judge")
    judge = judge if isinstance(judge, dict) else ({"backend": "local", "model": judge} if judge else {})
    backend = judge.get("backend") or ("openai" if judge.get("model") else "none")
    language = " The language accuracy (detected language of each answer) does not depend on the judge."
    if backend == "none":
        return "No judge (judge.backend: none): answers have no quality score." + language
    if backend == "openai":
        who = judge.get("model") or "an unnamed model"
        return (
            f"Answers were scored 1–5 by {who} through an OpenAI-compatible server. The paper used GPT-4; a "
            f"smaller or local judge is much weaker than GPT-4-class judges, so its scores are noisy and not "
            f"on the paper's scale: compare conditions within this report only." + language
        )
    who = f" ({judge['model']})" if judge.get("model") else " (the analysed model itself)"
    return (
        f"Answers were scored 1–5 by a local judge{who}. A local judge is much weaker than the GPT-4-class "
        f"judge used in the paper: its scores are noisy and not on the paper's scale, so compare conditions "
        f"within this report only." + language
    )


def generation_section(results: Path, config: dict, models: list[str], langs: list[str]) -> dict:
    methods = _methods(config)
    blocks, summary_rows = [], []
    for name in models:
        gdir = results / name / "generation"
        found = sorted(p.name.split(".")[0] for p in gdir.glob("*.quality.csv")) if gdir.is_dir() else []
        mlist = [m for m in methods if m in found] + [m for m in found if m not in methods]
        block = {
            "model": name,
            "methods": [],
            "status": _status(config, "generation"),
            "missing": None if mlist else f"no {_rel(gdir, results)}/*.quality.csv",
        }
        for method in mlist:
            quality = _read_csv(gdir / f"{method}.quality.csv", index_col="condition")
            accuracy = _read_csv(gdir / f"{method}.language_accuracy.csv", index_col="condition")
            entry = {
                "method": method,
                "label": _label(method),
                "quality_table": None,
                "accuracy_table": None,
                "samples_table": None,
            }
            qmeans = _condition_means(quality, langs) if quality is not None else {}
            amean = _condition_means(accuracy, langs) if accuracy is not None else {}
            if quality is not None:
                entry["quality_table"] = _condition_table(
                    quality,
                    langs,
                    lambda v: fmt_float(v, 2),
                    f"{name}, {_label(method)}: mean judge score (1–5) of the answers to the questions in each "
                    f"language "
                    f"(columns), with no neurons deactivated, with random neurons deactivated, and with one "
                    f"language's {_label(method)} neurons deactivated (rows).",
                    (124, 58, 237),
                )
            if accuracy is not None:
                entry["accuracy_table"] = _condition_table(
                    accuracy,
                    langs,
                    fmt_share,
                    f"{name}, {_label(method)}: share of answers detected to be in the question's language, per "
                    f"condition (rows) and question language (columns).",
                    (234, 88, 12),
                )
            entry["samples_table"] = _samples(
                _read_jsonl(gdir / f"{method}.answers.jsonl"),
                langs,
                f"{name}, {_label(method)}: example answers with no neurons, random neurons and the question "
                f"language's own neurons deactivated.",
            )
            summary_rows.append(
                [name, cell(_label(method), "lape" if method == "lape" else "")]
                + [num(fmt_float(qmeans.get(k), 2)) for k in ("normal", "random", "own", "other")]
                + [num(fmt_share(amean.get(k))) for k in ("normal", "random", "own", "other")]
            )
            block["methods"].append(entry)
        blocks.append(block)
    summary = None
    if summary_rows:
        summary = table(
            [
                "Model",
                "Method",
                "Quality: none",
                "random",
                "own language",
                "other language",
                "Language accuracy: none",
                "random",
                "own language",
                "other language",
            ],
            summary_rows,
            "Means over question languages: with nothing deactivated, with random neurons deactivated, "
            "with the question language's own neurons deactivated (diagonal) and with another "
            "language's neurons deactivated (off-diagonal).",
        )
    return {
        "summary": summary,
        "models": blocks,
        "judge_note": _judge_note(config),
        "status": None if summary_rows else _status(config, "generation"),
    }


SAMPLE_KEYS = ["kind", "condition", "language", "target", "lang_detected", "score"]
SAMPLE_LABELS = {"lang_detected": "Detected", "language": "Question language", "score": "Score"}


def _steering_samples(answers: list[dict], name: str) -> dict | None:
    """One answer per (kind, condition, question language), for the first question."""
    if not answers:
        return None
    qid = answers[0].get("question_id")
    seen, keep = set(), []
    for r in answers:
        key = (r.get("kind"), r.get("condition"), r.get("language"), r.get("target"))
        if r.get("question_id") == qid and key not in seen:
            seen.add(key)
            keep.append(r)
    keep = keep[:30]
    keys = [k for k in SAMPLE_KEYS if any(k in r for r in keep)] or [
        k for k in keep[0] if k not in ("model", "prompt", "answer")
    ]
    rows = []
    for r in keep:
        row = [cell(_truncate(r.get(k), 40) if r.get(k) is not None else "–") for k in keys]
        if "score" in keys:
            row[keys.index("score")] = num(fmt_float(r.get("score"), 1))
        rows.append(
            row
            + [
                cell(_truncate(r.get("prompt"), PROMPT_CHARS), "text"),
                cell(_truncate(r.get("answer"), ANSWER_CHARS), "text"),
            ]
        )
    return table(
        [SAMPLE_LABELS.get(k, k.replace("_", " ").capitalize()) for k in keys] + ["Prompt", "Answer"],
        rows,
        f"{name}: example answers with steering (question {qid}; one per kind, condition and "
        f"language; cut at {ANSWER_CHARS} characters).",
        kind="text",
    )


def _crosslingual_tables(cross: pd.DataFrame, langs: list[str], name: str, how: str) -> list[dict]:
    """Long (source, target, share_target_steered, ...) or square (source x target) cross-lingual results."""
    rgb = (8, 145, 178)
    if {"source", "target"} <= set(cross.columns):
        value = "share_target_steered" if "share_target_steered" in cross.columns else cross.columns[2]
        present = set(cross["source"]) | set(cross["target"])
        order = [lang for lang in langs if lang in present] + sorted(present - set(langs))
        matrix = cross.pivot_table(index="source", columns="target", values=value, aggfunc="mean")
        srcs = [x for x in order if x in matrix.index]
        tgts = [x for x in order if x in matrix.columns]
        rows = [
            [src]
            + [
                num("–", "diag")
                if src == tgt
                else num(fmt_share(matrix.loc[src, tgt]), style=_heat(matrix.loc[src, tgt], 1.0, rgb))
                for tgt in tgts
            ]
            for src in srcs
        ]
        out = [
            table(
                ["Question language ↓ / steered to →"] + tgts,
                rows,
                f"{name}: cross-lingual steering: share of answers in the target language when a question in "
                f"the source language is answered with {how}.",
                kind="wide",
            )
        ]
        labels = {
            "share_target_steered": "In target (steered)",
            "share_target_unsteered": "In target (unsteered)",
            "share_source_steered": "In source (steered)",
            "quality_steered": "Quality (steered)",
        }
        cols = [c for c in cross.columns if c not in ("source", "target")]
        long_rows = []
        for _, r in cross.iterrows():
            long_rows.append(
                [r["source"], cell(r["target"])]
                + [num(fmt_float(r[c], 2) if c.startswith("quality") else fmt_share(r[c])) for c in cols]
            )
        out.append(
            table(
                ["Source", "Target"] + [labels.get(c, c.replace("_", " ")) for c in cols],
                long_rows,
                f"{name}: cross-lingual steering per language pair, steered against unsteered answers "
                f"(quality: judge score 1–5).",
            )
        )
        return out
    tlangs = _languages(cross.columns, langs)
    srcs = [lang for lang in langs if lang in cross.index] + [x for x in cross.index if x not in langs]
    rows = [
        [src]
        + [
            num(
                fmt_share(cross.loc[src, tgt]), "diag" if src == tgt else "", style=_heat(cross.loc[src, tgt], 1.0, rgb)
            )
            for tgt in tlangs
        ]
        for src in srcs
    ]
    return [
        table(
            ["Question language ↓ / steered to →"] + tlangs,
            rows,
            f"{name}: cross-lingual steering: share of answers in the target language when a question in the "
            f"source language is answered with {how}.",
            kind="wide",
        )
    ]


def steering_section(results: Path, config: dict, models: list[str], langs: list[str]) -> dict:
    steer = config.get("steering") if isinstance(config.get("steering"), dict) else {}
    method = _label(steer["method"]) if steer.get("method") else "the selected"
    mode = steer.get("mode", "replace")
    activated = {
        "replace": "set to their mean activation on that language",
        "add": f"increased by {steer.get('strength', 1.0)} x their mean activation on that language",
        "multiply": f"multiplied by {steer.get('strength', 1.0)}",
    }.get(mode, mode)
    how = (
        f"the source language's {method} neurons deactivated and the target language's {method} neurons "
        f"activated ({activated})"
    )
    blocks, any_found = [], False
    for name in models:
        sdir = results / name / "steering"
        off = _read_csv(sdir / "offtarget.csv", index_col=0)
        cross = _read_csv(sdir / "crosslingual.csv")
        answers = _read_jsonl(sdir / "answers.jsonl")
        block = {"model": name, "offtarget_table": None, "crosslingual_tables": [], "samples_table": None}
        if off is not None:
            order = [lang for lang in langs if lang in off.index] + [x for x in off.index if x not in langs]
            labels = {
                "accuracy_normal": "Language accuracy (normal)",
                "accuracy_steered": "Language accuracy (steered)",
                "quality_normal": "Quality (normal)",
                "quality_steered": "Quality (steered)",
            }
            cols = [c for c in labels if c in off.columns] + [c for c in off.columns if c not in labels]

            def fmt(col, value):
                return fmt_share(value) if col.startswith("accuracy") else fmt_float(value, 2)

            rows = [[lang] + [num(fmt(c, off.loc[lang, c])) for c in cols] for lang in order]
            rows.append([cell("mean", "total")] + [num(fmt(c, off[c].astype(float).mean()), "total") for c in cols])
            block["offtarget_table"] = table(
                ["Question language"] + [labels.get(c, c.replace("_", " ")) for c in cols],
                rows,
                f"{name}: off-target language problem. Share of answers in the question's language and mean judge "
                f"score (1–5), normally and with the question language's {method} neurons activated "
                f"({activated}).",
            )
        if cross is not None and len(cross.columns) >= 2:
            if not {"source", "target"} <= set(cross.columns):
                cross = cross.set_index(cross.columns[0])
            block["crosslingual_tables"] = _crosslingual_tables(cross, langs, name, how)
        block["samples_table"] = _steering_samples(answers, name)
        has = off is not None or bool(block["crosslingual_tables"]) or bool(answers)
        any_found = any_found or has
        block["status"] = _status(config, "steering")
        block["missing"] = (
            None if has else (f"no {_rel(sdir, results)}/offtarget.csv, crosslingual.csv or answers.jsonl")
        )
        blocks.append(block)
    return {"models": blocks, "status": None if any_found else _status(config, "steering")}


# --------------------------------------------------------------------------- entry points


def _status_overview(ctx: dict, models: list[str]) -> dict:
    """Per model and result section: done / partial / not run."""

    def state(done: int, total: int) -> dict:
        if total and done >= total:
            return cell("done", "center", "good")
        return cell("partial", "center", "warn") if done else cell("not run", "center", "bad")

    rows = []
    for i, name in enumerate(models):
        n, p = ctx["neurons"]["models"][i], ctx["ppl"]["models"][i]
        s, g, st = ctx["ses"]["models"][i], ctx["generation"]["models"][i], ctx["steering"]["models"][i]
        rows.append(
            [
                name,
                state(len(n["methods"]), len(n["methods"]) + len(n["missing"])),
                state(len(p["methods"]), len(p["methods"]) + len(p["missing"])),
                state(0 if s["missing"] else 1, 1),
                state(len(g["methods"]), max(1, len(g["methods"]))),
                state(0 if st["missing"] else 1, 1),
            ]
        )
    return table(
        ["Model"] + [title for key, title in SECTIONS[1:]],
        rows,
        "Which stages have results in this folder (a missing stage is stated in its section).",
    )


def collect(results_dir, config: dict) -> dict:
    """Everything the report shows, read from ``results_dir`` (missing stages are marked, not dropped)."""
    results = Path(results_dir)
    config = json.loads(json.dumps(config or {}, default=str))  # plain, JSON-able copy
    models = list(config.get("models") or {})
    if not models and results.is_dir():  # no config: every model folder with neurons
        models = sorted(p.name for p in results.iterdir() if (p / "neurons").is_dir())
    langs = list(config.get("languages") or [])
    now = _dt.datetime.now().astimezone()
    ctx: dict[str, Any] = {
        "title": "Language-specific neurons: results",
        "paper": (
            "Tang et al., “Language-Specific Neurons: The Key to Multilingual Capabilities in Large Language "
            "Models”, ACL 2024 (arXiv:2402.16438)"
        ),
        "sections": [{"id": key, "title": title} for key, title in SECTIONS],
        "models": models,
        "multi": len(models) > 1,
        "languages": langs,
        "results_dir": str(results),
        "not_run": NOT_RUN,
    }
    try:
        import yaml

        config_text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    except Exception:
        config_text = json.dumps(config, indent=2, ensure_ascii=False)
    ctx["provenance"] = {
        "date": now.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "config_hash": config_hash(config),
        "config_text": config_text,
    }
    prov = ctx["provenance"]
    prov["table"] = table(
        ["Item", "Value"],
        [
            ["Report date", prov["date"]],
            ["Git commit", cell(prov["git_commit"], "mono")],
            ["Config sha256", cell(prov["config_hash"], "mono", title="sha256 of the canonical JSON of the config")],
        ]
        + [[f"{name} version", cell(version, "mono")] for name, version in prov["versions"]],
        "Provenance: code version, configuration hash (sha256 of the configuration as canonical JSON: sorted keys, "
        "no whitespace) and package versions of the environment that rendered this report.",
    )
    ctx["setup"], arch = setup_section(results, config, models, langs)
    ctx["neurons"] = neurons_section(results, config, models, langs, arch)
    ctx["ppl"] = ppl_section(results, config, models, langs)
    ctx["ses"] = ses_section(results, config, models, langs)
    ctx["generation"] = generation_section(results, config, models, langs)
    ctx["steering"] = steering_section(results, config, models, langs)
    ctx["overview"] = _status_overview(ctx, models)
    return ctx


def render(context: dict, template_dir, out_path) -> Path:
    """Render ``index.html.j2`` from ``template_dir`` with ``context`` into ``out_path`` (one HTML file)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(template_dir)),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("index.html.j2").render(**context)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
