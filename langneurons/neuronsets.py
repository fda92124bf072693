"""Neuron files (the authors' ``*.neuron.pth`` format) and summaries of them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from .io import atomic_write
from .selection import Neurons


def save_neurons(neurons: Neurons, path: str | Path) -> None:
    with atomic_write(path, None) as tmp:
        torch.save([[idx.long() for idx in per_layer] for per_layer in neurons], tmp)


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
    sets = [{(layer, int(j)) for layer, idx in enumerate(per_layer) for j in idx.tolist()} for per_layer in neurons]
    shared = pd.DataFrame([[len(a & b) for b in sets] for a in sets], index=languages, columns=languages)
    jaccard = pd.DataFrame(
        [[len(a & b) / len(a | b) if a | b else 0.0 for b in sets] for a in sets], index=languages, columns=languages
    )
    return shared, jaccard


def import_neurons(
    source: str, file_languages: list[str], languages: list[str], num_layers: int, d_ff: int, cache_dir: str | Path
) -> Neurons:
    """A published neuron file (path or URL), validated and reordered to ``languages``.

    Languages the file lacks get no neurons (e.g. the authors' BLOOM file has no ja).
    """
    path = Path(source)
    if "://" in source:
        from .io import download

        path = download(
            source,
            Path(cache_dir) / Path(source.split("?")[0]).name,
            "Download the neuron file and set selection.imported.path to its local path.",
        )
    if not path.is_file():
        raise FileNotFoundError(f"neuron file {path} does not exist (selection.imported.path)")
    neurons = load_neurons(path)
    validate_neurons(neurons, file_languages, num_layers, d_ff, str(source))
    by_lang = dict(zip(file_languages, neurons))
    empty = [torch.zeros(0, dtype=torch.long) for _ in range(num_layers)]
    return [by_lang.get(lang, empty) for lang in languages]


def compare_sets(a: Neurons, b: Neurons, languages: list[str]) -> pd.DataFrame:
    """Per language and layer: sizes of two neuron sets, their intersection and Jaccard index."""
    rows = []
    for lang, per_a, per_b in zip(languages, a, b):
        for layer, (ia, ib) in enumerate(zip(per_a, per_b)):
            sa, sb = set(ia.tolist()), set(ib.tolist())
            union = len(sa | sb)
            rows.append(
                {
                    "language": lang,
                    "layer": layer,
                    "a": len(sa),
                    "b": len(sb),
                    "shared": len(sa & sb),
                    "jaccard": len(sa & sb) / union if union else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def write_summaries(neurons: Neurons, languages: list[str], counts: str, overlap: str, jaccard: str) -> pd.DataFrame:
    """Counts per layer and language, and overlaps between languages, as CSV files."""
    table = counts_table(neurons, languages)
    table.to_csv(counts)
    shared, jac = overlap_tables(neurons, languages)
    shared.to_csv(overlap, index_label="language")
    jac.to_csv(jaccard, index_label="language", float_format="%.4f")
    return table
