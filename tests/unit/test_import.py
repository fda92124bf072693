"""Importing published neuron sets: good files, and a clear error for each kind of mismatch."""

import pytest
import torch

from langneurons.neuronsets import compare_sets, import_neurons

AUTHORS_ORDER = ["en", "zh", "fr", "es", "vi", "id", "ja"]


def authors_file(tmp_path, langs=7, layers=4, d_ff=16, top=None):
    neurons = [
        [torch.tensor(sorted({(k + l) % d_ff, (3 * k + 1) % d_ff})) for l in range(layers)] for k in range(langs)
    ]
    if top is not None:
        neurons[0][0] = torch.tensor([0, top])
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


@pytest.mark.parametrize(
    "kwargs, file_kwargs, message",
    [
        ({"file_languages": AUTHORS_ORDER[:6]}, {}, "holds 7 languages but 6 were given"),
        ({"num_layers": 5}, {}, "has 4 layers, the model has 5"),
        ({"d_ff": 16}, {"top": 40}, "index 40 outside 0..15"),
    ],
)
def test_mismatches_are_named(tmp_path, kwargs, file_kwargs, message):
    path, _ = authors_file(tmp_path, **file_kwargs)
    args = {
        "file_languages": AUTHORS_ORDER,
        "languages": AUTHORS_ORDER,
        "num_layers": 4,
        "d_ff": 16,
        "cache_dir": tmp_path / "cache",
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        import_neurons(str(path), **args)


def test_missing_file_and_wrong_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="selection.imported.path"):
        import_neurons(str(tmp_path / "nope.pth"), AUTHORS_ORDER, AUTHORS_ORDER, 4, 16, tmp_path)
    torch.save({"n": 1}, tmp_path / "stats.pt")
    with pytest.raises(ValueError, match="not a neuron file"):
        import_neurons(str(tmp_path / "stats.pt"), AUTHORS_ORDER, AUTHORS_ORDER, 4, 16, tmp_path)


def test_compare_sets_jaccard():
    a = [[torch.tensor([1, 2, 3])], [torch.tensor([], dtype=torch.long)]]
    b = [[torch.tensor([2, 3, 4])], [torch.tensor([], dtype=torch.long)]]
    table = compare_sets(a, b, ["x", "y"])
    row = table.iloc[0]
    assert (row.shared, row.jaccard) == (2, 0.5)
    assert table.iloc[1].isna().jaccard
