"""Section "Identified neurons": neurons per language, layer and method; overlaps; published against ours."""

from __future__ import annotations

from ..neuronsets import jaccard_of_counts
from .formatting import (
    by_method,
    cell,
    fmt_float,
    fmt_int,
    fmt_pct,
    heat,
    label,
    language_columns,
    method_cell,
    num,
    ordered,
    table,
)
from .reading import Run

BLUE = (37, 99, 235)


def build(run: Run) -> dict:
    methods = run.config["selection"]["methods"]
    blocks, totals = [], []
    for name in run.models:
        block = {"model": name, "methods": [], "missing": {}}
        for method in methods:
            counts = run.csv("neuron_counts", columns=("total",), index_col="layer", model=name, method=method)
            if counts is None:
                block["missing"][method] = str(run.path("neuron_counts", model=name, method=method))
                continue
            entry, per_language = _method_entry(run, name, method, counts)
            block["methods"].append(entry)
            totals.append((name, method, per_language, counts["total"].sum()))
        block["stability_table"] = _stability_table(run, name, methods)
        block["stability_fig"] = run.figure("stability_figure", model=name)
        block["imported_table"] = _imported_table(run, name)
        block["imported_path"] = str(run.path("imported_vs_lape", model=name))
        blocks.append(block)
    return {
        "summary": _summary(run, totals) if totals else None,
        "models": blocks,
        "by_method": by_method(blocks, methods),
        "imported": any(b["imported_table"] for b in blocks),
        "stability": any(b["stability_table"] for b in blocks),
    }


STABILITY = ("language", "comparison", "fraction", "tokens", "jaccard")


def _stability_table(run: Run, name: str, methods: list[str]) -> dict | None:
    """Per method and language: Jaccard of the two halves' sets, and of each prefix's set with the full-data set."""
    rows, fractions = [], None
    for method in methods:
        frame = run.csv("stability", columns=STABILITY, model=name, method=method)
        if frame is None:
            continue
        prefix = frame[frame["comparison"] == "prefix"]
        fractions = sorted(prefix["fraction"].unique())
        for lang in ordered(frame["language"].unique(), run.langs):
            half = frame[(frame["comparison"] == "split_half") & (frame["language"] == lang)]
            mine = prefix[prefix["language"] == lang].set_index("fraction")
            rows.append(
                [method_cell(method), lang]
                + [num(fmt_float(half["jaccard"].iloc[0], 2) if len(half) else "–")]
                + [num(fmt_float(mine.loc[f, "jaccard"], 2) if f in mine.index else "–") for f in fractions]
                + [num(fmt_int(half["tokens"].iloc[0]) if len(half) else "–")]
            )
    if not rows:
        return None
    head = ["Method", "Language", "Split-half Jaccard"]
    head += [f"{fmt_pct(f, signed=False, digits=1)} of the data vs all" for f in fractions]
    head += ["Tokens per half"]
    return table(head, rows)


def _all_neurons(run: Run, model: str) -> int | None:
    layers, d_ff = run.architecture(model)
    return layers * d_ff if layers and d_ff else None


def _method_entry(run: Run, name: str, method: str, counts) -> tuple[dict, dict]:
    langs = language_columns(counts, run.langs)
    total = counts["total"]
    vmax = counts[langs].to_numpy().max() if len(counts) else 0
    rows = [
        [str(layer)]
        + [num(fmt_int(counts.loc[layer, lang]), style=heat(counts.loc[layer, lang], vmax, BLUE)) for lang in langs]
        + [num(fmt_int(total.loc[layer]), "total")]
        for layer in counts.index
    ]
    rows.append(
        [cell("all", "total")]
        + [num(fmt_int(counts[lang].sum()), "total") for lang in langs]
        + [num(fmt_int(total.sum()), "total")]
    )
    all_neurons = _all_neurons(run, name)
    entry = {
        "method": method,
        "label": label(method),
        "counts_table": table(["Layer"] + langs + ["Total"], rows, kind="wide"),
        "share": fmt_pct(total.sum() / all_neurons, signed=False) if all_neurons else None,
        "overlap_table": _overlap_table(run, name, method),
        "layers_fig": run.figure("model_figure", model=name, kind="layers", method=method),
        "overlap_fig": run.figure("model_figure", model=name, kind="overlap", method=method),
    }
    return entry, {lang: counts[lang].sum() for lang in langs}


def _overlap_table(run: Run, name: str, method: str) -> dict | None:
    """Shared neurons between two languages, the Jaccard index in parentheses."""
    overlap = run.csv("neuron_overlap", index_col="language", model=name, method=method)
    if overlap is None:
        return None
    jaccard = run.csv("neuron_jaccard", index_col="language", model=name, method=method)
    langs = language_columns(overlap, run.langs)
    rows = []
    for a in langs:
        row = [a]
        for b in langs:
            text = fmt_int(overlap.loc[a, b]) if a in overlap.index else "–"
            if jaccard is not None and a in jaccard.index and b in jaccard.columns:
                text += f" ({fmt_float(jaccard.loc[a, b], 2)})"
            row.append(num(text, "diag" if a == b else ""))
        rows.append(row)
    return table(["Language"] + langs, rows, kind="wide")


def _summary(run: Run, totals: list) -> dict:
    """Neurons per language and method, summed over layers, with their share of all FFN neurons."""
    multi = len(run.models) > 1
    langs: list[str] = []
    for _, _, per_language, _ in totals:
        langs += [lang for lang in per_language if lang not in langs]
    lape = {name: total for name, method, _, total in totals if method == "lape"}
    rows = []
    for name, method, per_language, total in totals:
        all_neurons = _all_neurons(run, name)
        row = ([name] if multi else []) + [method_cell(method)]
        row += [num(fmt_int(per_language.get(lang))) for lang in langs]
        row += [num(fmt_int(total)), num(fmt_pct(total / all_neurons, signed=False) if all_neurons else "–")]
        row += [num(f"{total / lape[name]:.2f}×" if lape.get(name) else "–")]  # 1.00× = LAPE's budget
        rows.append(row)
    head = ["Method"] + langs + ["Total", "Share of FFN neurons", "Total / LAPE's"]
    return table((["Model"] if multi else []) + head, rows)


def _imported_table(run: Run, name: str) -> dict | None:
    """The published (imported) neuron set against ours (LAPE), summed over layers per language."""
    frame = run.csv("imported_vs_lape", columns=("language", "imported", "lape", "shared"), model=name)
    if frame is None:
        return None
    sums = frame.groupby("language")[["imported", "lape", "shared"]].sum()
    rows = []
    for lang in ordered(sums.index, run.langs) + ["all"]:
        r = sums.sum() if lang == "all" else sums.loc[lang]
        cls = "total" if lang == "all" else ""
        rows.append(
            [cell(lang, cls)]
            + [num(fmt_int(r[c]), cls) for c in ("imported", "lape", "shared")]
            + [num(fmt_float(jaccard_of_counts(r["shared"], r["imported"], r["lape"]), 3), cls)]
        )
    return table(["Language", "Imported", "LAPE (ours)", "Shared", "Jaccard"], rows)
