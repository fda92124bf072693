"""Section "Downstream tasks": lm-evaluation-harness tasks under every condition, per method: the heat map of the
change from normal, the table with intervals and the specificity (does deactivating L's neurons hurt L's tasks
most?)."""

from __future__ import annotations

from ..errors import InputFileError
from ..tasks import task_methods
from .formatting import by_method, cell, fmt_float, fmt_interval, label, num, table
from .reading import RERUN, Run

COLUMNS = ("condition", "task", "language", "metric", "primary", "higher_is_better", "value", "stderr", "normal")
COLUMNS += ("delta", "delta_lo", "delta_hi", "n")
SPECIFICITY = ("own_drop", "max_other_drop", "mean_other_drop", "own_is_largest", "ratio")
RED, BLUE = (220, 38, 38), (37, 99, 235)


def build(run: Run) -> dict:
    methods = task_methods(run.config)
    blocks = []
    for name in run.models:
        block = {"model": name, "methods": [], "missing": {}}
        for method in methods:
            entry = _method_entry(run, name, method)
            if isinstance(entry, str):
                block["missing"][method] = entry
            else:
                block["methods"].append(entry)
        blocks.append(block)
    return {
        "configured": bool(methods),
        "models": blocks,
        "by_method": by_method(blocks, methods),
        "any": any(b["methods"] for b in blocks),
    }


def _method_entry(run: Run, name: str, method: str) -> dict | str:
    where = {"model": name, "method": method}
    frame = run.csv("task_table", columns=COLUMNS, **where)
    spec = run.csv("task_specificity", columns=SPECIFICITY, index_col="deactivated", **where)
    for found, result in ((frame, "task_table"), (spec, "task_specificity")):
        if found is None:
            return str(run.path(result, **where))
    if frame["primary"].dtype != bool or "normal" not in set(frame["condition"]):
        raise InputFileError(f"{run.path('task_table', **where)}: no normal rows or a bad primary column; {RERUN}")
    if len(spec) and spec["own_is_largest"].dtype != bool:
        raise InputFileError(f"{run.path('task_specificity', **where)}: own_is_largest must be True or False; {RERUN}")
    primary = frame[frame["primary"]]
    own = [str(off) for off, r in spec.iterrows() if r["own_is_largest"]]
    normal = primary[primary["condition"] == "normal"]
    return {
        "method": method,
        "label": label(method),
        "model": name,
        "fig": run.figure("task_figure", **where),
        "table": _table(run, primary),
        "metrics_table": _metrics_table(frame) if len(frame) > len(primary) else None,
        "spec_table": _spec_table(spec) if len(spec) else None,
        "own": own,
        "n": len(spec),
        "mean_ratio": float(spec["ratio"].mean()) if len(spec) else None,
        "normal": [f"{r.task} ({r.language}) {fmt_float(r.value, 2)}" for r in normal.itertuples()],
        "tasks": len(normal),
    }


def _signed(x) -> str:
    return fmt_float(x, 2) if x != x or x < 0 else f"+{fmt_float(x, 2)}"


def _table(run: Run, primary) -> dict:
    """Each task's primary metric under every condition: value ± stderr (harness), change from normal [interval]."""
    tasks = list(dict.fromkeys(primary["task"]))
    order = {lang: i for i, lang in enumerate(run.langs)}
    tasks.sort(key=lambda t: order.get(str(primary.loc[primary["task"] == t, "language"].iloc[0]), 99))
    conditions = list(dict.fromkeys(primary["condition"]))
    by_cell = {(r.condition, r.task): r for r in primary.itertuples()}
    deltas = primary.loc[primary["condition"] != "normal", "delta"].abs()
    vmax = max(float(deltas.max()) if len(deltas) else 0.0, 1e-12)
    rows = []
    for condition in conditions:
        row = [cell(condition, "base" if condition == "normal" else "")]
        for task in tasks:
            r = by_cell.get((condition, task))
            if r is None:
                row.append(num("–"))
                continue
            text = f"{fmt_float(r.value, 2)} ± {fmt_float(r.stderr, 2)}"
            if condition == "normal":
                row.append(num(text, "base"))
                continue
            hurt = -r.delta if r.higher_is_better else r.delta
            style = _heat(abs(r.delta), vmax, RED if hurt > 0 else BLUE)
            own = condition == r.language
            row.append(
                num(
                    f"{text} ({_signed(r.delta)}{fmt_interval(r.delta_lo, r.delta_hi, lambda x: fmt_float(x, 2))})",
                    "diag" if own else "",
                    style=style,
                )
            )
        rows.append(row)
    head = ["Condition ↓ / task →"] + [
        f"{t} ({primary.loc[primary['task'] == t, 'language'].iloc[0]}, {primary.loc[primary['task'] == t, 'metric'].iloc[0]})"
        for t in tasks
    ]
    return table(head, rows, kind="wide")


def _heat(value, vmax, rgb) -> str | None:
    if value != value or value <= 0:
        return None
    alpha = 0.08 + 0.55 * min(1.0, value / vmax)
    return f"background-color: rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.2f})"


def _metrics_table(frame) -> dict:
    """Every metric the harness reported (long format), for tasks with more than one."""
    rows = [
        [
            r.condition,
            r.task,
            r.metric,
            num(fmt_float(r.value, 3)),
            num(fmt_float(r.stderr, 3)),
            num("–" if r.condition == "normal" else _signed(r.delta)),
            num("–" if r.condition == "normal" else fmt_interval(r.delta_lo, r.delta_hi, lambda x: fmt_float(x, 3))),
        ]
        for r in frame.itertuples()
    ]
    return table(["Condition", "Task", "Metric", "Value", "Stderr", "Change", "Interval"], rows)


def _spec_table(spec) -> dict:
    rows = []
    for off, r in spec.iterrows():
        rows.append(
            [
                off,
                num(_signed(r["own_drop"]), "diag"),
                num(_signed(r["max_other_drop"])),
                num(_signed(r["mean_other_drop"])),
                cell("✓ yes" if r["own_is_largest"] else "✗ no", "center", "good" if r["own_is_largest"] else "bad"),
                num(fmt_float(r["ratio"], 2)),
            ]
        )
    head = ["Deactivated", "Own drop", "Max other drop", "Mean other drop", "Own hurt most", "Ratio"]
    return table(head, rows)
