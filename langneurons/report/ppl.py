"""Section "Perplexity under deactivation": PPL matrices, specificity, LAPE against the baselines."""

from __future__ import annotations

from ..io import InputFileError
from ..perplexity import relative_matrix
from .formatting import (
    by_method,
    cell,
    fmt_float,
    fmt_pct,
    fmt_ppl,
    heat,
    label,
    language_columns,
    method_cell,
    num,
    table,
)
from .reading import RERUN, Run

SPECIFICITY = ("own_increase", "max_other_increase", "mean_other_increase", "own_is_largest", "ratio")


def build(run: Run) -> dict:
    blocks, entries = [], []
    for name in run.models:
        block = {"model": name, "methods": [], "missing": {}}
        for method in run.ppl_methods:
            entry = _method_entry(run, name, method)
            if isinstance(entry, str):
                block["missing"][method] = entry
                continue
            block["methods"].append(entry)
            entries.append(entry)
        blocks.append(block)
    return {
        "comparison": _comparison(run, entries) if entries else None,
        "models": blocks,
        "by_method": by_method(blocks, run.ppl_methods),
    }


def _method_entry(run: Run, name: str, method: str) -> dict | str:
    """The tables and figure of one method, or the path of the first missing file."""
    where = {"model": name, "method": method}
    ppl = run.csv("ppl", index_col="deactivated", **where)
    spec = run.csv("ppl_specificity", columns=SPECIFICITY, index_col="deactivated", **where)
    for found, result in ((ppl, "ppl"), (spec, "ppl_specificity")):
        if found is None:
            return str(run.path(result, **where))
    if "none" not in ppl.index:
        raise InputFileError(f"{run.path('ppl', **where)}: no row 'none' (nothing deactivated); {RERUN}")
    if spec["own_is_largest"].dtype != bool:
        path = run.path("ppl_specificity", **where)
        raise InputFileError(f"{path}: own_is_largest must be True or False on every row; {RERUN}")
    own = [str(off) for off, r in spec.iterrows() if r["own_is_largest"]]
    return {
        "method": method,
        "label": label(method),
        "ppl_table": _ppl_table(run, ppl),
        "spec_table": _spec_table(spec),
        "model": name,
        "own": own,  # the languages whose own perplexity rises most
        "n": len(spec),
        "mean_ratio": spec["ratio"].mean(),
        "mean_own": spec["own_increase"].mean(),
        "mean_other": spec["mean_other_increase"].mean(),
        "fig": run.figure("model_figure", model=name, kind="ppl", method=method),
    }


def _ppl_table(run: Run, ppl) -> dict:
    """Perplexity with nothing and with each language's neurons deactivated, the relative change in parentheses."""
    langs = language_columns(ppl, run.langs)
    rel = relative_matrix(ppl[langs])
    vmax = max(float(rel.to_numpy().max()), 1e-12) if rel.size else 0
    rows = [[cell("none", "base")] + [num(fmt_ppl(ppl.loc["none", lang]), "base") for lang in langs]]
    for off in rel.index:
        rows.append(
            [off]
            + [
                num(
                    f"{fmt_ppl(ppl.loc[off, lang])} ({fmt_pct(rel.loc[off, lang])})",
                    "diag" if off == lang else "",
                    style=heat(rel.loc[off, lang], vmax),
                )
                for lang in langs
            ]
        )
    return table(["Deactivated ↓ / evaluated →"] + langs, rows, kind="wide")


def _spec_table(spec) -> dict:
    rows = [
        [
            off,
            num(fmt_pct(r["own_increase"]), "diag"),
            num(fmt_pct(r["max_other_increase"])),
            num(fmt_pct(r["mean_other_increase"])),
            cell("✓ yes" if r["own_is_largest"] else "✗ no", "center", "good" if r["own_is_largest"] else "bad"),
            num(fmt_float(r["ratio"], 2)),
        ]
        for off, r in spec.iterrows()
    ]
    head = ["Deactivated", "Own increase", "Max other increase", "Mean other increase", "Own hit hardest", "Ratio"]
    return table(head, rows)


def _comparison(run: Run, entries: list[dict]) -> dict:
    """Per model and method: for how many languages the own language is hit hardest, and the mean ratio."""
    multi = len(run.models) > 1
    rows = []
    for e in entries:
        lape = "lape" if e["method"] == "lape" else ""
        rows.append(
            ([e["model"]] if multi else [])
            + [
                method_cell(e["method"]),
                num(f"{len(e['own'])} / {e['n']}", lape),
                cell(", ".join(e["own"]) or "none", lape),
                num(fmt_pct(e["mean_own"]), lape),
                num(fmt_pct(e["mean_other"]), lape),
                num(fmt_float(e["mean_ratio"], 2), lape),
            ]
        )
    head = ["Method", "Own language hit hardest", "Languages", "Mean own increase", "Mean other increase", "Mean ratio"]
    return table((["Model"] if multi else []) + head, rows)
