"""Importing published neuron sets: good files and the documented orders (bad files: tests/bad_inputs)."""

import logging
import math
import re

import pytest
import torch
import yaml

from langneurons import uncertainty
from langneurons.neuronsets import compare_sets, import_neurons, jaccard, jaccard_of_counts, overlap_tables

from ..conftest import REPO

DOC = REPO / "docs" / "imported.md"

AUTHORS_ORDER = ["en", "zh", "fr", "es", "vi", "id", "ja"]


def authors_file(tmp_path, langs=7, layers=4, d_ff=16):
    neurons = [
        [torch.tensor(sorted({(k + l) % d_ff, (3 * k + 1) % d_ff})) for l in range(layers)] for k in range(langs)
    ]
    path = tmp_path / "LLaMA-2-7B.neuron.pth"
    torch.save(neurons, path)
    return path, neurons


def test_good_file_is_reordered_to_config_languages(tmp_path):
    path, raw = authors_file(tmp_path)
    got = import_neurons(str(path), AUTHORS_ORDER, ["ja", "en"], 4, 16, tmp_path / "cache")
    assert [i.tolist() for i in got[0]] == [i.tolist() for i in raw[6]]
    assert [i.tolist() for i in got[1]] == [i.tolist() for i in raw[0]]


def test_file_without_a_language_gives_it_no_neurons(tmp_path):
    path, _ = authors_file(tmp_path, langs=6)  # like the authors' BLOOM file: no ja
    got = import_neurons(str(path), AUTHORS_ORDER[:6], AUTHORS_ORDER, 4, 16, tmp_path / "cache")
    assert all(len(i) == 0 for i in got[6]) and all(len(i) for i in got[0])


def test_url_goes_through_the_download_path(tmp_path):
    path, raw = authors_file(tmp_path)
    got = import_neurons(path.as_uri(), AUTHORS_ORDER, AUTHORS_ORDER, 4, 16, tmp_path / "cache")
    assert (tmp_path / "cache" / path.name).is_file()
    assert [i.tolist() for i in got[2]] == [i.tolist() for i in raw[2]]


def test_languages_the_file_lacks_are_named_in_a_warning(tmp_path, caplog):
    path, _ = authors_file(tmp_path, langs=6)
    with caplog.at_level(logging.WARNING, logger="langneurons.neuronsets"):
        import_neurons(str(path), AUTHORS_ORDER[:6], ["en", "ja", "zh"], 4, 16, tmp_path / "cache")
    assert "no neurons for ja" in caplog.text and "selection.imported.languages" in caplog.text


def documented_orders() -> dict[str, list[str]]:
    """File name -> language order, from the table in docs/imported.md."""
    rows = re.findall(r"^\| `([^`]+\.neuron\.pth)` \| (\d) \|[^`|]*`\[([^\]]*)\]`", DOC.read_text(), flags=re.M)
    return {name: [lang.strip() for lang in order.split(",")] for name, _, order in rows}


def test_docs_list_every_authors_file_with_as_many_languages_as_lists():
    orders = documented_orders()
    assert len(orders) == 7
    counts = dict(re.findall(r"^\| `([^`]+\.neuron\.pth)` \| (\d) \|", DOC.read_text(), flags=re.M))
    assert all(len(orders[name]) == int(counts[name]) for name in orders)


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@pytest.mark.parametrize("config", sorted((REPO / "configs").glob("paper-*.yaml")), ids=lambda p: p.stem)
def test_paper_configs_import_their_models_file_in_the_documented_order(config):
    cfg = yaml.safe_load(config.read_text())
    imported = cfg["selection"]["imported"]
    name = imported["path"].rsplit("/", 1)[-1]
    assert _squash(name.removesuffix(".neuron.pth")) == _squash(next(iter(cfg["models"])))  # LLaMA-2-7B ~ llama2-7b
    assert imported["languages"] == documented_orders()[name]
    assert set(imported["languages"]) & set(cfg["languages"])


def test_compare_sets_jaccard():
    a = [[torch.tensor([1, 2, 3])], [torch.tensor([], dtype=torch.long)]]
    b = [[torch.tensor([2, 3, 4])], [torch.tensor([], dtype=torch.long)]]
    table = compare_sets(a, b, ["x", "y"])
    row = table.iloc[0]
    assert (row.shared, row.jaccard) == (2, 0.5)
    assert table.iloc[1].isna().jaccard


def test_one_jaccard_with_nan_for_two_empty_sets():
    """The overlap table, the import comparison and the stability table share one Jaccard convention."""
    assert jaccard({1, 2}, {2, 3}) == jaccard_of_counts(1, 2, 2) == 1 / 3
    assert jaccard({1}, {2}) == 0.0  # disjoint: nothing in common
    assert math.isnan(jaccard(set(), set())) and math.isnan(jaccard_of_counts(0, 0, 0))  # undefined
    assert uncertainty.jaccard is jaccard
    empty = torch.zeros(0, dtype=torch.long)
    shared, index = overlap_tables([[torch.tensor([1, 2]), empty], [empty, empty]], ["x", "y"])
    assert shared.loc["y", "y"] == 0 and math.isnan(index.loc["y", "y"])
    assert index.loc["x", "x"] == 1.0 and index.loc["x", "y"] == 0.0
