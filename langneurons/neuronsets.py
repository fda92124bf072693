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


#: No model has an FFN this wide (LLaMA-2-70B: 28,672 neurons per layer): a larger index means the file is not
#: a neuron file, whatever model it was made for (the bound when no model is known, as for ``inspect``).
MAX_PLAUSIBLE_D_FF = 2**20
LAYOUT = "a list of languages, each a list of layers, each a 1-D LongTensor of neuron indices (neurons[lang][layer])"


def load_neurons(path: str | Path, languages: list[str] | None = None) -> Neurons:
    """Read and check a neuron file (ours or the authors'): ``neurons[lang][layer]`` = sorted 1-D LongTensor.

    The one reader of neuron files: every stage, the importer and the CLI read them here, so each
    problem (layout, nesting, dtype, implausible or negative indices, repeats) is one line naming
    the file, the language list and the layer. Unsorted layers are sorted, with a warning (the
    order means nothing to the hooks). ``validate_neurons`` then checks the set against a model.
    ``languages`` (the file's, in order) name the lists in messages.
    """
    data = load_torch(path, "a neuron file")
    if not isinstance(data, (list, tuple)) or not data or not all(isinstance(x, (list, tuple)) for x in data):
        raise InputFileError(f"{path} is not a neuron file: expected {LAYOUT}")
    layers = {len(per_layer) for per_layer in data}
    if layers == {0}:
        raise InputFileError(f"{path} holds no layers (every language list is empty); expected {LAYOUT}")
    if len(layers) > 1:
        raise InputFileError(
            f"{path}: its language lists hold different numbers of layers ({', '.join(map(str, sorted(layers)))}); "
            "every language lists every layer"
        )
    names = languages if languages is not None and len(languages) == len(data) else None
    neurons = [
        [
            _indices(idx, f"{path}: language {f'{names[k]!r}' if names else f'list {k} (0-based)'} layer {layer}")
            for layer, idx in enumerate(per_layer)
        ]
        for k, per_layer in enumerate(data)
    ]
    unsorted = sum(bool(len(idx)) and bool((idx.diff() < 0).any()) for per_layer in neurons for idx in per_layer)
    if unsorted:
        log.warning("%s: %d layer lists were not in ascending order; sorted them", path, unsorted)
        neurons = [[idx.sort().values for idx in per_layer] for per_layer in neurons]
    return neurons


def _indices(value, where: str) -> torch.Tensor:
    """One layer's indices as a LongTensor, checked alone; floats are refused, not truncated."""
    if not isinstance(value, torch.Tensor):
        raise InputFileError(f"{where} is a {type(value).__name__}, not a tensor of neuron indices; expected {LAYOUT}")
    if value.dim() != 1:
        raise InputFileError(f"{where} has shape {tuple(value.shape)}; neuron indices must be a 1-D tensor")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise InputFileError(
            f"{where} holds {str(value.dtype).removeprefix('torch.')} values; neuron indices must be integers "
            "(LongTensor)"
        )
    idx = value.long()
    if len(idx) and idx.min() < 0:
        raise InputFileError(f"{where} has negative neuron index {int(idx.min())}; indices start at 0")
    if len(idx) and idx.max() >= MAX_PLAUSIBLE_D_FF:
        raise InputFileError(
            f"{where} has neuron index {int(idx.max())}, beyond any model's FFN width (< {MAX_PLAUSIBLE_D_FF}): "
            "the file is not a neuron file, or it is damaged"
        )
    values, counts = idx.unique(return_counts=True)
    if len(idx) and counts.max() > 1:
        raise InputFileError(
            f"{where} lists neuron {int(values[counts.argmax()])} {int(counts.max())} times; a neuron appears "
            "once per language and layer (repeats would inflate the counts)"
        )
    return idx


def validate_neurons(
    neurons: Neurons,
    languages: list[str],
    num_layers: int,
    d_ff: int | None,
    source: str,
    languages_key: str = "the language list",
) -> None:
    """Check that a neuron set read by ``load_neurons`` fits a model and a language list.

    One language list per language, ``num_layers`` layers each, indices below ``d_ff`` (the
    plausible bound of ``load_neurons`` alone when ``d_ff`` is None). ``languages_key`` names where
    the language list comes from, for the fix.
    """
    if len(neurons) != len(languages):
        raise InputFileError(
            f"{source} holds {len(neurons)} language lists but {languages_key} names {len(languages)} "
            f"({', '.join(languages)}); set {languages_key} to the file's {len(neurons)} languages in order "
            "(docs/imported.md lists the authors' files)"
        )
    for lang, per_layer in zip(languages, neurons):
        if len(per_layer) != num_layers:
            raise InputFileError(
                f"{source}: language '{lang}' has {len(per_layer)} layers, the model has {num_layers}: "
                "the file was made for another model"
            )
        for layer, idx in enumerate(per_layer):
            if d_ff is not None and len(idx) and idx.max() >= d_ff:
                raise InputFileError(
                    f"{source}: language '{lang}' layer {layer} has neuron index {int(idx.max())} outside "
                    f"0..{d_ff - 1} (the model's d_ff is {d_ff}): the file was made for another model"
                )


def load_model_neurons(path: str | Path, languages: list[str], lm) -> Neurons:
    """``load_neurons``, then ``validate_neurons`` against the loaded model ``lm`` (its layers and d_ff): what
    every stage that applies a neuron file to its model reads."""
    neurons = load_neurons(path, languages)
    validate_neurons(neurons, languages, lm.num_layers, lm.num_neurons, str(path))
    return neurons


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
    neurons = load_neurons(path, file_languages)
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
