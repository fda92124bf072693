"""Section "Setup and provenance": models, settings, tokens per language, time and memory per stage."""

from __future__ import annotations

from ..bundled import DEVIATIONS
from .formatting import NOT_RUN, cell, fmt_duration, fmt_int, fmt_mb, fmt_pct, label, num, table
from .provenance import stage_times
from .reading import Run

SPLITS = ("train", "valid")


def build(run: Run) -> dict:
    stages_table = _stages_table(run)
    return {
        "models_table": _models_table(run),
        "settings_table": _settings_table(run),
        "tokens": [_tokens(run, model) for model in run.models],
        "corpus_checks": _corpus_checks(run),
        "stages_table": stages_table,
        "stages_missing": None if stages_table else str(run.results.benchmarks),
        "deviations_table": deviations_table(),
    }


def deviations_table() -> dict:
    """The table of ``langneurons/data/deviations.md`` (also in the README): where we differ from the authors' code."""
    text = DEVIATIONS.read_text(encoding="utf-8")
    lines = [line.strip().strip("|") for line in text.splitlines() if line.startswith("|")]
    cells = [[part.strip().replace("`", "") for part in line.split(" | ")] for line in lines]
    return table(cells[0], cells[2:], kind="text")  # cells[1] is the markdown separator


def _models_table(run: Run) -> dict:
    rows = []
    for name in run.models:
        cfg = run.config["models"][name]
        layers, d_ff = run.architecture(name)
        src = cfg["source"]
        where = cfg["path"] or {"embedded": "bundled Gemma-3-270M package", "random": "tiny random model"}.get(src, "–")
        rows.append(
            [
                name,
                src,
                where,
                cfg["dtype"],
                fmt_int(cfg["seq_len"]),
                num(fmt_int(layers)),
                num(fmt_int(d_ff)),
                num(fmt_int(layers * d_ff) if layers and d_ff else "–"),
            ]
        )
    return table(
        ["Model", "Source", "Path", "dtype", "Sequence length", "Layers", "FFN neurons / layer", "FFN neurons"], rows
    )


def _settings_table(run: Run) -> dict:
    config = run.config
    corpus, sel, ses = config["corpus"], config["selection"], config["ses"]
    questions, steering, judge = config["questions"], config["steering"], config["judge"]
    limit = questions["max_questions"]
    rows = [
        ["Languages", ", ".join(config["languages"])],
        ["Corpus source", corpus["source"]],
        ["Train token budget / language", fmt_int(corpus["train_tokens"])],
        ["Valid token budget / language", fmt_int(corpus["valid_tokens"])],
        ["Selection methods", ", ".join(map(label, sel["methods"]))],
        ["top_rate", fmt_pct(sel["top_rate"], signed=False)],
        ["filter_rate", str(sel["filter_rate"])],
        ["activation_bar_ratio", str(sel["activation_bar_ratio"])],
        ["Random seed", str(sel["seed"])],
        ["PPL methods", ", ".join(map(label, run.ppl_methods))],
        ["SES items", f"{ses['items']}, first {ses['max_items']}"],
        ["Questions", questions["source"] + (f", first {limit} per language" if limit else ", all")],
        ["Generation methods", ", ".join(map(label, config["generation"]["methods"])) or f"none ({NOT_RUN})"],
        [
            "Steering",
            f"{label(steering['method'])}, mode {steering['mode']}" if steering["method"] else f"none ({NOT_RUN})",
        ],
        ["Judge", judge["backend"] + (f" ({judge['model']})" if judge["model"] else "")],
    ]
    return table(["Setting", "Value"], rows)


def _tokens(run: Run, model: str) -> dict:
    """Tokens per language: train and valid split, and counted by the activation statistics."""
    rows, found, totals = [], False, [0, 0, 0]
    for lang in run.langs:
        values = []
        for split in SPLITS:
            tokens = run.torch("tokens", keys=("n_tokens",), model=model, lang=lang, split=split)
            values.append(None if tokens is None else int(tokens["n_tokens"]))
        stats = run.stats(model, lang)
        values.append(None if stats is None else int(stats["n"]))
        found = found or any(v is not None for v in values)
        totals = [t + (v or 0) for t, v in zip(totals, values)]
        rows.append([lang] + [num(fmt_int(v)) for v in values])
    rows.append([cell("all", "total")] + [num(fmt_int(t), "total") for t in totals])
    # the folders of both kinds of file, named through their patterns
    first = {"model": model, "lang": run.langs[0]}
    folders = [run.path("tokens", split=SPLITS[0], **first).parent, run.path("stats", **first).parent]
    return {
        "model": model,
        "table": table(["Language", "Train tokens", "Valid tokens", "Counted tokens"], rows) if found else None,
        "missing": None if found else [str(f) for f in folders],
    }


CHECK_KEYS = ("language", "mode", "splits", "examples")
CHECK_MODES = {"drop": "dropped", "measure": "measured only", "off": "not checked"}
CHECK_COUNTS = (
    "documents",
    "documents_kept",
    "documents_trimmed",
    "paragraphs",
    "paragraphs_other",
    "chars_kept",
    "chars_dropped",
    "tokens_kept",
    "tokens_dropped",
)


def _corpus_checks(run: Run) -> list[dict]:
    """The corpus stage's language check per language (one block; per model for Wikipedia, fetched per model)."""
    wikipedia = run.config["corpus"]["source"] == "wikipedia"
    places = [{"model": model} for model in run.models] if wikipedia else [{}]
    name = "wikipedia_corpus_check" if wikipedia else "corpus_check"
    blocks = []
    for where in places:
        checks = {lang: run.json(name, keys=CHECK_KEYS, lang=lang, **where) for lang in run.langs}
        found = {lang: check for lang, check in checks.items() if check is not None}
        rows, examples, totals = [], [], dict.fromkeys(CHECK_COUNTS)
        for lang, check in found.items():
            sums = dict.fromkeys(CHECK_COUNTS)
            other: dict[str, int] = {}
            for split in check["splits"].values():
                for key in CHECK_COUNTS:
                    if split.get(key) is not None:
                        sums[key] = (sums[key] or 0) + split[key]
                for code, n in split.get("other_languages", {}).items():
                    other[code] = other.get(code, 0) + n
            for key, value in sums.items():
                if value is not None:
                    totals[key] = (totals[key] or 0) + value
            found_in = ", ".join(f"{code} {n}" for code, n in sorted(other.items(), key=lambda kv: -kv[1])) or "–"
            rows.append(
                [lang, CHECK_MODES.get(check["mode"], check["mode"])]
                + [num(fmt_int(sums[key])) for key in CHECK_COUNTS[:5]]
                + [found_in]
                + [num(fmt_int(sums[key])) for key in CHECK_COUNTS[5:]]
            )
            examples += [
                [
                    lang,
                    e.get("language", "–"),
                    "dropped" if e.get("dropped") else "kept",
                    cell(e.get("text", ""), "text"),
                ]
                for e in check["examples"]
            ]
        if rows:
            rows.append(
                [cell("all", "total"), cell("", "total")]
                + [num(fmt_int(totals[key]), "total") for key in CHECK_COUNTS[:5]]
                + [cell("", "total")]
                + [num(fmt_int(totals[key]), "total") for key in CHECK_COUNTS[5:]]
            )
        head = ["Language", "Other-language paragraphs", "Documents", "Kept", "Trimmed", "Paragraphs judged"]
        head += ["Not in the language", "Found instead", "Characters kept", "Characters dropped"]
        head += ["Tokens kept", "Tokens dropped"]
        missing = [str(run.path(name, lang=lang, **where)) for lang in run.langs if checks[lang] is None]
        blocks.append(
            {
                "model": where.get("model"),
                "table": table(head, rows) if rows else None,
                "examples": table(
                    ["Language", "Identified as", "Outcome", "Paragraph (first 300 characters)"], examples, kind="text"
                )
                if examples
                else None,
                "missing": missing,
            }
        )
    return blocks


def _stages_table(run: Run) -> dict | None:
    times = stage_times(run.results.root, run.models)
    if not times:
        return None
    rows = [
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
    start, end = min(r["start"] for r in times), max(r["end"] for r in times)
    peaks = [r["peak_mb"] for r in times if r["peak_mb"] is not None]
    rows.append(
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
    return table(["Stage (rule)", "Model", "Jobs", "Job time (sum)", "Elapsed", "Peak memory", "First start"], rows)
