"""Neuron files (the authors' ``*.neuron.pth`` format) and summaries of them."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch

from .errors import ConfigError, InputFileError, MissingInput
from .io import atomic_write, download, load_torch
from .selection import Neurons

log = logging.getLogger(__name__)


def save_neurons(neurons: Neurons, path: str | Path) -> None:
    with atomic_write(path, None) as tmp:
        torch.save([[idx.long() for idx in per_layer] for per_layer in neurons], tmp)


def load_neurons(path: str | Path) -> Neurons:
    """Read a neuron file (ours or the authors'): ``neurons[lang][layer]`` = 1-D integer tensor."""
    data = load_torch(path, "a neuron file")
    if not isinstance(data, (list, tuple)) or not data or not all(isinstance(x, (list, tuple)) for x in data):
        raise InputFileError(
            f"{path} is not a neuron file: expected a list of languages, each a list of layers "
            "of neuron indices (neurons[lang][layer] = LongTensor)"
        )
    return [[_indices(idx, path, k, layer) for layer, idx in enumerate(per_layer)] for k, per_layer in enumerate(data)]


def _indices(value, path, k: int, layer: int) -> torch.Tensor:
    """One layer's indices as a LongTensor; floats are refused, not truncated."""
    where = f"{path}: language list {k} (0-based), layer {layer}"
    try:
        idx = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise InputFileError(f"{where} is {type(value).__name__}, not a tensor of neuron indices") from None
    if idx.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    if idx.dim() != 1:
        raise InputFileError(f"{where} has shape {tuple(idx.shape)}; neuron indices must be a 1-D tensor")
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise InputFileError(
            f"{where} holds {str(idx.dtype).removeprefix('torch.')} values; neuron indices must be integers (LongTensor)"
        )
    return idx.long()


def validate_neurons(
    neurons: Neurons,
    languages: list[str],
    num_layers: int,
    d_ff: int | None,
    source: str,
    languages_key: str = "the language list",
) -> None:
    """Check that a neuron set fits a model and a language list (clear errors on mismatch).

    Indices must be 0 <= index < ``d_ff`` (no upper bound when ``d_ff`` is None) and
    appear at most once per language and layer: a repeated index would count twice.
    ``languages_key`` names where the language list comes from, for the fix.
    """
    if len(neurons) != len(languages):
        raise InputFileError(
            f"{source} holds {len(neurons)} language lists but {languages_key} names {len(languages)} "
            f"({', '.join(languages)}); set {languages_key} to the file's {len(neurons)} languages in order "
            "(docs/imported.md lists the authors' files)"
        )
    for lang, per_layer in zip(languages, neurons):
        if len(per_layer) != num_layers:
            raise InputFileError(f"{source}: language '{lang}' has {len(per_layer)} layers, the model has {num_layers}")
        for layer, idx in enumerate(per_layer):
            if not len(idx):
                continue
            where = f"{source}: language '{lang}' layer {layer}"
            if idx.min() < 0:
                raise InputFileError(f"{where} has negative neuron index {int(idx.min())}; indices start at 0")
            if d_ff is not None and idx.max() >= d_ff:
                raise InputFileError(
                    f"{where} has neuron index {int(idx.max())} outside 0..{d_ff - 1} (the model's d_ff is {d_ff})"
                )
            values, counts = idx.unique(return_counts=True)
            if counts.max() > 1:
                twice = int(values[counts.argmax()])
                raise InputFileError(
                    f"{where} lists neuron {twice} {int(counts.max())} times; a neuron appears once per "
                    "language and layer (repeats would inflate the counts)"
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


def jaccard_of_counts(shared: int, size_a: int, size_b: int) -> float:
    """Jaccard index from set sizes: ``shared`` / (``size_a`` + ``size_b`` - ``shared``).

    Two empty sets give NaN: their Jaccard index is undefined (0/0). It is not
    0.0 (that would say "nothing in common", as for two disjoint non-empty
    sets) and not 1.0 (that would call a selection that found nothing for a
    language perfectly stable). A CSV writes NaN as an empty field and the
    report shows "–". Every Jaccard index in the package comes from here.
    """
    union = size_a + size_b - shared
    return shared / union if union else float("nan")


def jaccard(a: set, b: set) -> float:
    """Jaccard index |a ∩ b| / |a ∪ b| of two sets; NaN when both are empty (see ``jaccard_of_counts``)."""
    return jaccard_of_counts(len(a & b), len(a), len(b))


def neuron_sets(neurons: Neurons) -> list[set[tuple[int, int]]]:
    """Per language, the set of (layer, neuron) pairs."""
    return [{(layer, int(j)) for layer, idx in enumerate(per_layer) for j in idx.tolist()} for per_layer in neurons]


def overlap_tables(neurons: Neurons, languages: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shared neuron counts and Jaccard index (``jaccard``) between every pair of languages."""
    sets = neuron_sets(neurons)
    shared = pd.DataFrame([[len(a & b) for b in sets] for a in sets], index=languages, columns=languages)
    index = pd.DataFrame([[jaccard(a, b) for b in sets] for a in sets], index=languages, columns=languages)
    return shared, index


def distinct_per_layer(neurons: Neurons) -> list[int]:
    """Neurons per layer counted once, however many languages they serve."""
    num_layers = len(neurons[0]) if neurons else 0
    return [len(set().union(*(per_layer[layer].tolist() for per_layer in neurons))) for layer in range(num_layers)]


IMPORTED_LANGUAGES = "selection.imported.languages"


def check_imported_languages(file_languages: list[str], languages: list[str]) -> list[str]:
    """The configured languages the imported file lacks; an error for repeated or non-overlapping names."""
    repeated = sorted({lang for lang in file_languages if file_languages.count(lang) > 1})
    if repeated:
        raise ConfigError(
            f"{IMPORTED_LANGUAGES} names {', '.join(repeated)} more than once; it lists the file's languages "
            "in order, one name per list"
        )
    missing = [lang for lang in languages if lang not in file_languages]
    if len(missing) == len(languages):
        raise ConfigError(
            f"{IMPORTED_LANGUAGES} ({', '.join(file_languages)}) shares no language with languages "
            f"({', '.join(languages)}): nothing would be imported; set it to the file's language order"
        )
    return missing


def import_neurons(
    source: str, file_languages: list[str], languages: list[str], num_layers: int, d_ff: int, cache_dir: str | Path
) -> Neurons:
    """A published neuron file (path or URL), validated and reordered to ``languages``.

    Languages the file lacks get no neurons, with a warning (e.g. the authors' BLOOM file has no ja).
    """
    missing = check_imported_languages(file_languages, languages)
    path = Path(source)
    if "://" in source:
        path = download(
            source,
            Path(cache_dir) / Path(source.split("?")[0]).name,
            "Download the neuron file and set selection.imported.path to its local path.",
        )
    if not path.exists():
        raise MissingInput(f"neuron file {path} does not exist (selection.imported.path)")
    neurons = load_neurons(path)
    validate_neurons(neurons, file_languages, num_layers, d_ff, str(source), IMPORTED_LANGUAGES)
    if missing:
        log.warning(
            "%s has no neurons for %s (not in %s): the imported set leaves them empty",
            source,
            ", ".join(missing),
            IMPORTED_LANGUAGES,
        )
    by_lang = dict(zip(file_languages, neurons))
    empty = [torch.zeros(0, dtype=torch.long) for _ in range(num_layers)]
    return [by_lang.get(lang, empty) for lang in languages]


def compare_sets(a: Neurons, b: Neurons, languages: list[str]) -> pd.DataFrame:
    """Per language and layer: sizes of two neuron sets, their intersection and Jaccard index."""
    rows = []
    for lang, per_a, per_b in zip(languages, a, b):
        for layer, (ia, ib) in enumerate(zip(per_a, per_b)):
            sa, sb = set(ia.tolist()), set(ib.tolist())
            rows.append(
                {
                    "language": lang,
                    "layer": layer,
                    "a": len(sa),
                    "b": len(sb),
                    "shared": len(sa & sb),
                    "jaccard": jaccard(sa, sb),
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
