"""The final report: one self-contained HTML page from a results folder.

``collect(results_dir, config)`` reads whatever the workflow has produced so
far and returns a template context of formatted tables and inlined figures; a
stage that has not run yet is reported as missing, never dropped, and a file
that is present but unreadable is an error naming it. ``render(context,
template_dir, out_path)`` renders ``index.html.j2`` from ``template_dir`` (the
repository's ``report/`` folder) into one HTML file that makes no network
request: figures are ``data:image/png;base64`` URIs, CSS is inline.

One module per section, in the paper's order, each mirroring its template
``report/partials/{section}.html.j2``; a module's ``build(run)`` gets a
``reading.Run`` (results folder, validated config, models, languages) and
returns the section's context. Captions and prose live in the templates.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import atomic_write
from . import generation, neurons, ppl, ses, setup, steering, tasks
from .formatting import NOT_RUN, cell, fmt_duration, fmt_float, fmt_int, fmt_level, fmt_mb, fmt_pct, label, table
from .provenance import provenance, stage_times
from .reading import Run

# what the workflow script (collect, render), the smoke test and bench/pipeline.py import from here
__all__ = ["SECTIONS", "collect", "render", "stage_times", "fmt_duration", "fmt_mb"]

# (context key and template id, heading), in the paper's order
SECTIONS = [
    ("setup", "Setup and provenance"),
    ("neurons", "Identified neurons"),
    ("ppl", "Perplexity under deactivation"),
    ("tasks", "Downstream tasks"),
    ("ses", "Sentence embedding similarity"),
    ("generation", "Generation under deactivation"),
    ("steering", "Steering"),
]
BUILDERS = {
    "setup": setup.build,
    "neurons": neurons.build,
    "ppl": ppl.build,
    "tasks": tasks.build,
    "ses": ses.build,
    "generation": generation.build,
    "steering": steering.build,
}
PAPER = (
    "Tang et al., “Language-Specific Neurons: The Key to Multilingual Capabilities in Large Language Models”, "
    "ACL 2024 (arXiv:2402.16438)"
)


def collect(results_dir, config: dict) -> dict:
    """Everything the report shows, read from ``results_dir``.

    ``config`` is the validated config (``langneurons.config.validate_config``
    fills in the schema's defaults), as the workflow passes it.
    """
    config = json.loads(json.dumps(config, default=str))  # a plain, JSON-able copy
    run = Run(results_dir, config)
    context = {
        "title": "Language-specific neurons: results",
        "paper": PAPER,
        "sections": [{"id": key, "title": title} for key, title in SECTIONS],
        "models": run.models,
        "multi": len(run.models) > 1,
        "languages": run.langs,
        "results_dir": str(results_dir),
        "config": config,
        "not_configured": NOT_RUN,
        "confidence": fmt_level(config["uncertainty"]["confidence"]),  # the intervals' coverage, e.g. "95%"
        "provenance": provenance(config),
    }
    for key, _ in SECTIONS:
        context[key] = BUILDERS[key](run)
    context["overview"] = _overview(context, run.models)
    return context


def _overview(context: dict, models: list[str]) -> dict:
    """Per model and result section: done / partial / not run."""

    def state(done: int, total: int) -> dict:
        if total and done >= total:
            return cell("done", "center", "good")
        return cell("partial", "center", "warn") if done else cell("not run", "center", "bad")

    def methods(block: dict) -> dict:
        return state(len(block["methods"]), len(block["methods"]) + len(block["missing"]))

    rows = []
    for i, name in enumerate(models):
        n, p, t, s, g, st = (context[key]["models"][i] for key, _ in SECTIONS[1:])
        rows.append(
            [
                name,
                methods(n),
                methods(p),
                methods(t),
                state(0 if s["missing"] else 1, 1),
                methods(g),
                state(0 if st["missing"] else 1, 1),
            ]
        )
    return table(["Model"] + [title for _, title in SECTIONS[1:]], rows)


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
    # the formatting of numbers and labels that captions use
    env.filters.update(label=label, pct=fmt_pct, integer=fmt_int, decimals=fmt_float)
    html = env.get_template("index.html.j2").render(**context)
    out = Path(out_path)
    with atomic_write(out) as fh:
        fh.write(html)
    return out
