"""Neuron files (the authors' ``*.neuron.pth`` format) and summaries of them."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import torch

from .selection import Neurons


def save_neurons(neurons: Neurons, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save([[idx.long() for idx in per_layer] for per_layer in neurons], tmp)
    os.replace(tmp, path)


def load_neurons(path: str | Path) -> Neurons:
    data = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(data, (list, tuple)) or not all(isinstance(x, (list, tuple)) for x in data):
        raise ValueError(f"{path} is not a neuron file: expected neurons[lang][layer] = LongTensor")
    return [[torch.as_tensor(idx, dtype=torch.long) for idx in per_layer] for per_layer in data]


def validate_neurons(neurons: Neurons, languages: list[str], num_layers: int, d_ff: int, source: str) -> None:
    """Check that a neuron set fits a model and a language list (clear errors on mismatch)."""
    if len(neurons) != len(languages):
        raise ValueError(
            f"{source}: holds {len(neurons)} languages but {len(languages)} were given "
            f"({', '.join(languages)}); set the language order of the file"
        )
    for lang, per_layer in zip(languages, neurons):
        if len(per_layer) != num_layers:
            raise ValueError(f"{source}: language '{lang}' has {len(per_layer)} layers, the model has {num_layers}")
        for layer, idx in enumerate(per_layer):
            if len(idx) and (idx.min() < 0 or idx.max() >= d_ff):
                raise ValueError(
                    f"{source}: language '{lang}' layer {layer} has neuron index {int(idx.max())} "
                    f"outside 0..{d_ff - 1} (the model's d_ff is {d_ff})"
                )


def counts_table(neurons: Neurons, languages: list[str]) -> pd.DataFrame:
    """Neurons per layer (rows) and language (columns), with a ``total`` column."""
    num_layers = len(neurons[0]) if neurons else 0
    table = pd.DataFrame(
        {lang: [len(idx) for idx in per_layer] for lang, per_layer in zip(languages, neurons)},
        index=pd.RangeIndex(num_layers, name="layer"),
    )
    table["total"] = table.sum(axis=1)
    return table


def overlap_tables(neurons: Neurons, languages: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shared neuron counts and Jaccard index between every pair of languages."""
    sets = [
        {(layer, int(j)) for layer, idx in enumerate(per_layer) for j in idx.tolist()} for per_layer in neurons
    ]
    shared = pd.DataFrame(
        [[len(a & b) for b in sets] for a in sets], index=languages, columns=languages
    )
    jaccard = pd.DataFrame(
        [[len(a & b) / len(a | b) if a | b else 0.0 for b in sets] for a in sets], index=languages, columns=languages
    )
    return shared, jaccard
