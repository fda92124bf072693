"""The registry of neuron selection methods: what each one is called, what it reads, how it is run.

Everything that lists methods reads it: the config schema's ``selection.methods`` enum (a test
holds them equal), the ``select_neurons`` rule's wildcard and the stability rule (common.smk),
the report's labels and the command line's ``identify --method`` choices. Adding a method is one
entry here (and, for a statistics method, its algorithm in ``selection``).

Light on purpose: no torch until a method runs (the workflow reads this while Snakemake parses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputFileError

if TYPE_CHECKING:
    import torch

    from .selection import Neurons

#: ``select(probs, means, selection_cfg)``: probs and means are [layers, d_ff, languages].
Selector = Callable[["torch.Tensor", "torch.Tensor | None", dict], "Neurons"]


@dataclass(frozen=True)
class Method:
    name: str
    label: str  # its name in the report and in tables
    summary: str  # one line: how it selects
    #: where its neurons come from: "statistics" (the merged activation statistics alone, rule
    #: select_neurons), "tuning" (per-language tuned copies of the model, PV) or "file" (imported)
    source: str
    select: Selector | None = None  # statistics methods only
    needs_sums: bool = False  # reads activation sums, not only counts
    #: selecting again on parts of the data means something (not for random draws)
    stability: bool = False


def rates_of(cfg: dict) -> dict:
    """LAPE's three rates from the ``selection`` config (shared by LAPE, LAVE and PV)."""
    return {k: cfg[k] for k in ("top_rate", "filter_rate", "activation_bar_ratio")}


def _lape(probs, means, cfg):
    from .selection import lape

    return lape(probs, **rates_of(cfg))


def _lap(probs, means, cfg):
    from .selection import lap

    return lap(probs, cfg["lap"]["threshold"])


def _lap_budget(probs, means, cfg):
    from .selection import lap_budget, totals

    return lap_budget(probs, totals(_lape(probs, means, cfg)))


def _lave(probs, means, cfg):
    from .selection import lave

    return lave(means, **rates_of(cfg))


def _random(probs, means, cfg):
    from .selection import random_like

    return random_like(_lape(probs, means, cfg), probs.shape[1], cfg["seed"])


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "lape",
            "LAPE",
            "the paper's method: lowest entropy of activation probability over languages",
            "statistics",
            _lape,
            stability=True,
        ),
        Method(
            "lap",
            "LAP",
            "every neuron whose activation probability is above selection.lap.threshold",
            "statistics",
            _lap,
            stability=True,
        ),
        Method(
            "lap_budget",
            "LAP (LAPE's budget)",
            "per language the neurons of highest activation probability, LAPE's count",
            "statistics",
            _lap_budget,
            stability=True,
        ),
        Method(
            "lave",
            "LAVE",
            "LAPE's procedure on mean activation values",
            "statistics",
            _lave,
            needs_sums=True,
            stability=True,
        ),
        Method("pv", "PV", "parameter variation between per-language tuned copies (docs/pv.md)", "tuning"),
        Method("random", "Random", "random neurons, LAPE's count per language and layer", "statistics", _random),
        Method("imported", "Imported", "a published neuron file in the authors' format", "file"),
    )
}


def statistics_methods() -> list[str]:
    """The methods that select from the merged statistics alone (rule select_neurons, ``langneurons identify``)."""
    return [name for name, m in METHODS.items() if m.source == "statistics"]


def stability_methods() -> list[str]:
    return [name for name, m in METHODS.items() if m.stability]


def label(method: str) -> str:
    """A method's name in the report and in tables (LAPE, LAP, ...)."""
    return METHODS[method].label if method in METHODS else method.upper()


def select(method: str, probs: torch.Tensor, means: torch.Tensor | None, selection: dict) -> Neurons:
    """Run one statistics method with the thresholds of the ``selection`` config."""
    spec = METHODS[method]
    if spec.select is None:
        raise ValueError(f"selection method '{method}' does not select from statistics (its source: {spec.source})")
    if spec.needs_sums and means is None:
        raise InputFileError(f"{spec.label} needs activation sums: these statistics files have only counts")
    return spec.select(probs, means, selection)
