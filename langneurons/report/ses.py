"""Section "Sentence embedding similarity": the SES curve per model, per layer and per language pair."""

from __future__ import annotations

from ..ses import ses_curve
from .formatting import fmt_sim, heat, num, ordered, table
from .reading import Run

GREEN = (22, 163, 74)


def build(run: Run) -> dict:
    curves, blocks = {}, []
    for name in run.models:
        ses = run.csv("ses", columns=("layer", "lang_a", "lang_b", "similarity"), model=name)
        if ses is None:
            blocks.append({"model": name, "missing": str(run.path("ses", model=name)), "pair_table": None})
            continue
        curves[name] = ses_curve(ses)
        blocks.append({"model": name, "missing": None, "pair_table": _pair_table(run, ses)})
    return {
        "figure": run.figure("ses_figure"),
        "layer_table": _layer_table(curves) if curves else None,
        "summary_table": _summary_table(curves) if curves else None,
        "models": blocks,
    }


def _pair_table(run: Run, ses) -> dict:
    """SES of every language pair, averaged over all layers."""
    pairs = ses[ses["lang_a"] != "all"]
    by_pair = pairs.groupby(["lang_a", "lang_b"])["similarity"].mean()
    langs = ordered(sorted(set(pairs["lang_a"]) | set(pairs["lang_b"])), run.langs)
    values = by_pair.to_numpy()
    vmax = float(values.max()) if len(values) else 0
    vmin = float(values.min()) - 0.1 * (vmax - float(values.min())) if len(values) else 0  # contrast between pairs
    rows = []
    for a in langs:
        row = [a]
        for b in langs:
            if a == b:
                row.append(num("–", "diag"))
                continue
            v = by_pair.get((a, b), by_pair.get((b, a)))
            row.append(num(fmt_sim(v), style=heat(v, vmax, GREEN, vmin)))
        rows.append(row)
    return table(["Language"] + langs, rows, kind="wide")


def _layer_table(curves: dict) -> dict:
    layers = sorted(set().union(*[set(c.index) for c in curves.values()]))
    rows = [[str(layer)] + [num(fmt_sim(c.get(layer))) for c in curves.values()] for layer in layers]
    return table(["Layer"] + list(curves), rows)


def _summary_table(curves: dict) -> dict:
    rows = []
    for name, c in curves.items():
        rows.append(
            [
                name,
                num(len(c) - 1),
                num(fmt_sim(c.iloc[0])),
                num(f"{fmt_sim(c.max())} (layer {c.idxmax()})"),
                num(fmt_sim(c.iloc[-1])),
                num(fmt_sim(c.mean())),
            ]
        )
    return table(["Model", "Decoder layers", "Embeddings", "Peak", "Last layer", "Mean"], rows)
