"""Section "Perplexity under deactivation": PPL matrices, specificity, LAPE against the baselines, each
method against its own random null."""

from __future__ import annotations

from ..errors import InputFileError
from ..perplexity import relative_matrix
from ..uncertainty import NULL_COLUMNS
from .formatting import (
    by_method,
    cell,
    fmt_float,
    fmt_interval,
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


NULL = tuple(c for c in NULL_COLUMNS if c not in ("null_sd", "neurons_null", "note"))  # the columns shown
CI = ("deactivated", "evaluated", "relative", "lo", "hi")


def build(run: Run) -> dict:
    blocks, entries = [], []
    for name in run.models:
        block = {"model": name, "methods": [], "missing": {}}
        null = run.csv("ppl_null", columns=NULL, model=name)
        for method in run.ppl_methods:
            entry = _method_entry(run, name, method, None if null is None else null[null["method"] == method])
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


def _method_entry(run: Run, name: str, method: str, null) -> dict | str:
    """The tables and figure of one method, or the path of the first missing file.

    ``null``: the method's rows of its own random null (``ppl/null.csv``), None when it was not computed.
    """
    where = {"model": name, "method": method}
    ppl = run.csv("ppl", index_col="deactivated", **where)
    ci = run.csv("ppl_ci", columns=CI, **where)
    intervals = {} if ci is None else {(r.deactivated, r.evaluated): (r.lo, r.hi) for r in ci.itertuples()}
    null = None if null is None or null.empty else null.set_index("deactivated")
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
        "ppl_table": _ppl_table(run, ppl, intervals),
        "spec_table": _spec_table(spec, null),
        **_null_summary(method, null),
        "intervals": bool(intervals),
        "model": name,
        "own": own,  # the languages whose own perplexity rises most
        "n": len(spec),
        "mean_ratio": spec["ratio"].mean(),
        "mean_own": spec["own_increase"].mean(),
        "mean_other": spec["mean_other_increase"].mean(),
        "fig": run.figure("model_figure", model=name, kind="ppl", method=method),
    }


def _null_summary(method: str, null) -> dict:
    """What the method's own null says: the languages above every draw (of those it has neurons for), the draws
    and the smallest p they allow, and the methods whose draws it shares (equal counts per layer)."""
    if null is None:
        return {"beats_null": None, "null_tested": None, "null_draws": None, "null_min_p": None, "null_shared": []}
    tested = null[null["neurons"] > 0]
    draws = int(tested["draws"].max()) if len(tested) else 0
    return {
        "beats_null": [str(off) for off, r in tested.iterrows() if r["beats_null"]],
        "null_tested": len(tested),
        "null_draws": draws,
        "null_min_p": 1 / (draws + 1),
        "null_shared": [label(m) for m in dict.fromkeys(tested["draws_like"]) if m != method],
    }


def _ppl_table(run: Run, ppl, intervals: dict) -> dict:
    """Perplexity with nothing and with each language's neurons deactivated, the relative change in parentheses
    with its bootstrap interval (``intervals[(deactivated, evaluated)] = (lo, hi)``) when there is one."""
    langs = language_columns(ppl, run.langs)
    rel = relative_matrix(ppl[langs])
    vmax = max(float(rel.to_numpy().max()), 1e-12) if rel.size else 0
    rows = [[cell("none", "base")] + [num(fmt_ppl(ppl.loc["none", lang]), "base") for lang in langs]]
    for off in rel.index:
        rows.append(
            [off]
            + [
                num(
                    f"{fmt_ppl(ppl.loc[off, lang])} ({fmt_pct(rel.loc[off, lang])}"
                    f"{fmt_interval(*intervals.get((off, lang), (None, None)), _pct1)})",
                    "diag" if off == lang else "",
                    style=heat(rel.loc[off, lang], vmax),
                )
                for lang in langs
            ]
        )
    return table(["Deactivated ↓ / evaluated →"] + langs, rows, kind="wide")


def _pct1(x) -> str:
    return fmt_pct(x, digits=1)


def _spec_table(spec, null) -> dict:
    """Specificity per deactivated language; with the method's own random null, where the own increase falls
    against it ("no neurons" where the method has none for the language: nothing to test)."""
    rows = []
    for off, r in spec.iterrows():
        row = [
            off,
            num(fmt_pct(r["own_increase"]), "diag"),
            num(fmt_pct(r["max_other_increase"])),
            num(fmt_pct(r["mean_other_increase"])),
            cell("✓ yes" if r["own_is_largest"] else "✗ no", "center", "good" if r["own_is_largest"] else "bad"),
            num(fmt_float(r["ratio"], 2)),
        ]
        if null is not None:
            n = null.loc[off] if off in null.index else None
            beats = n is not None and bool(n["beats_null"])
            if n is not None and n["neurons"] == 0:
                verdict = cell("no neurons", "center")
            else:
                verdict = cell(
                    "✓ above all" if beats else "≈ not distinguishable", "center", "good" if beats else "bad"
                )
            row += [
                num("–" if n is None else f"{fmt_pct(n['null_mean'], digits=1)} / {fmt_pct(n['null_max'], digits=1)}"),
                num("–" if n is None else fmt_float(n["z"], 1)),
                num("–" if n is None else fmt_float(n["p_value"], 3)),
                verdict,
            ]
        rows.append(row)
    head = ["Deactivated", "Own increase", "Max other increase", "Mean other increase", "Own hit hardest", "Ratio"]
    if null is not None:
        head += ["Own random null: mean / max", "z", "p", "Against the random null"]
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
                num("–" if e["beats_null"] is None else f"{len(e['beats_null'])} / {e['null_tested']}", lape),
                num("–" if not e["null_draws"] else f"{e['null_draws']} ({fmt_float(e['null_min_p'], 3)})", lape),
            ]
        )
    head = ["Method", "Own language hit hardest", "Languages", "Mean own increase", "Mean other increase", "Mean ratio"]
    head += ["Own increase above every random draw of its own null", "Draws (smallest p)"]
    return table((["Model"] if multi else []) + head, rows)
