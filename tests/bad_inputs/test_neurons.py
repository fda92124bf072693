"""Bad neuron files, statistics files, imports, CLI arguments and empty selections.

Each case builds its input in a temporary folder and checks three things:
- the exit status or exception;
- a one-line message that names the file or the config key (never a traceback,
  never torch's advice to switch off ``weights_only``);
- that an output already on disk is left as it was.
"""

import pytest
import torch

from langneurons.cli import main
from langneurons.config import validate_config
from langneurons.errors import ConfigError
from langneurons.neuronsets import import_neurons

from ..conftest import REPO

LANGS = ["en", "zh", "fr"]
LAYERS, D_FF = 2, 16
KEY = "selection.imported.languages"


class Opaque:
    """Not a tensor, list or dict: a file holding it must not be unpickled."""


def neurons(**change):
    """A good set (3 languages, 2 layers) with ``change[(lang, layer)]`` replacing one entry."""
    out = [[torch.tensor([k, k + 3 + layer]) for layer in range(LAYERS)] for k in range(len(LANGS))]
    for (k, layer), value in change.get("at", {}).items():
        out[k][layer] = value
    return out


def save(obj):
    return lambda path: torch.save(obj, path)


def truncated(path):
    torch.save(neurons(), path)
    path.write_bytes(path.read_bytes()[:100])


# Neuron files that are broken in themselves: (writer, message part); the message also names the file.
BROKEN_NEURON_FILES = [
    pytest.param(lambda path: path.write_bytes(b""), "is empty", id="empty"),
    pytest.param(truncated, "truncated, or not a file written by torch.save", id="truncated"),
    pytest.param(lambda path: path.write_text("en zh fr\n"), "not a file written by torch.save", id="text"),
    pytest.param(save([[Opaque()]]), "torch.save file of tensors, lists and dicts only", id="pickled-object"),
    pytest.param(lambda path: path.mkdir(), "is a folder", id="folder"),
    pytest.param(lambda path: None, "does not exist", id="missing"),
    pytest.param(save({"n": 5, "over_zero": torch.zeros(2, 16)}), "is not a neuron file", id="statistics-file"),
    pytest.param(save(neurons(at={(1, 0): torch.tensor([1.9, 4.0])})), "layer 0 holds float32 values", id="float"),
    pytest.param(save(neurons(at={(0, 1): torch.ones(2, 2, dtype=torch.long)})), "has shape (2, 2)", id="2-D"),
    pytest.param(save(neurons(at={(1, 1): torch.tensor([2, -3, 7])})), "negative neuron index -3", id="negative"),
    pytest.param(save(neurons(at={(2, 0): torch.tensor([5, 5, 9])})), "lists neuron 5 2 times", id="repeated"),
    pytest.param(
        save(neurons(at={(0, 1): torch.tensor([3, 2**40])})), "index 1099511627776, beyond any model's", id="huge-index"
    ),
    pytest.param(
        save([[[t] for t in per_layer] for per_layer in neurons()]),
        "layer 0 is a list, not a tensor",
        id="extra-nesting",
    ),
    pytest.param(
        save([[t.tolist() for t in per_layer] for per_layer in neurons()]), "is a list, not a tensor", id="plain-lists"
    ),
    pytest.param(save([[], [], []]), "holds no layers", id="no-layers"),
    pytest.param(
        save([per_layer[:1] if k == 1 else per_layer for k, per_layer in enumerate(neurons())]),
        "different numbers of layers (1, 2)",
        id="ragged-layers",
    ),
    pytest.param(save(neurons(at={(0, 0): torch.tensor([1, 2], dtype=torch.complex64)})), "complex64", id="complex"),
]


def one_line(message: str, *names: str) -> None:
    assert message.strip() and "\n" not in message.strip(), message
    assert "Traceback" not in message and "weights_only" not in message
    for name in names:
        assert name in message, (name, message)


def cli_fails(capsys, argv, status=1) -> str:
    """Run the CLI in-process; it must exit with ``status`` and one ``langneurons: error:`` line."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == status, err
    assert err.startswith("langneurons: error: ") and err.count("\n") == 1, err
    one_line(err)
    return err


def imported(tmp_path, obj=None, file_languages=LANGS, languages=LANGS, d_ff=D_FF, layers=LAYERS):
    path = tmp_path / "authors.neuron.pth"
    torch.save(neurons() if obj is None else obj, path)
    return import_neurons(str(path), file_languages, languages, layers, d_ff, tmp_path / "cache")


@pytest.mark.parametrize("write, message", BROKEN_NEURON_FILES)
def test_broken_neuron_file_in_inspect(tmp_path, capsys, write, message):
    path = tmp_path / "bad.neuron.pth"
    write(path)
    err = cli_fails(capsys, ["inspect", str(path), "--languages", *LANGS])
    one_line(err, str(path), message)


@pytest.mark.parametrize("write, message", BROKEN_NEURON_FILES)
def test_broken_neuron_file_in_import(tmp_path, write, message):
    path = tmp_path / "bad.neuron.pth"
    write(path)
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        import_neurons(str(path), LANGS, LANGS, LAYERS, D_FF, tmp_path / "cache")
    one_line(str(err.value), str(path))
    if "does not exist" not in message:  # a missing path names the config key instead
        assert message in str(err.value)


@pytest.mark.parametrize(
    "kwargs, names",
    [
        pytest.param({"file_languages": ["en", "zh", "en"]}, [KEY, "names en more than once"], id="repeated-name"),
        pytest.param({"file_languages": ["de", "it", "pt"]}, [KEY, "shares no language"], id="no-overlap"),
        pytest.param({"file_languages": LANGS[:2]}, [KEY, "holds 3 language lists", "names 2"], id="list-count"),
        pytest.param({"d_ff": 6}, ["authors.neuron.pth", "language 'fr' layer 1", "index 6 outside 0..5"], id="d_ff"),
        pytest.param({"layers": 3}, ["authors.neuron.pth", "has 2 layers, the model has 3"], id="layers"),
    ],
)
def test_imported_file_that_does_not_fit_the_config(tmp_path, kwargs, names):
    with pytest.raises(ValueError) as err:
        imported(tmp_path, **kwargs)
    one_line(str(err.value), *names)


def test_negative_index_is_reported_with_its_language_layer_and_value(tmp_path):
    with pytest.raises(ValueError) as err:
        imported(tmp_path, neurons(at={(1, 1): torch.tensor([-7, 2, 9])}), file_languages=["es", "fr", "zh"])
    one_line(str(err.value), "language 'fr' layer 1 has negative neuron index -7")


def test_missing_imported_path_names_the_key(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        import_neurons(str(tmp_path / "nope.pth"), LANGS, LANGS, LAYERS, D_FF, tmp_path)
    one_line(str(err.value), "nope.pth", "selection.imported.path")


def test_repeated_imported_language_fails_config_validation():
    config = {"selection": {"imported": {"languages": ["en", "zh", "en"]}}}
    with pytest.raises(ConfigError, match=r"selection\.imported\.languages: .* non-unique"):
        validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")


# Statistics files for `langneurons identify`: over_zero [2, 16] of 100 tokens per language.
def stats(n=100, over_zero=None, seed=0, **extra):
    gen = torch.Generator().manual_seed(seed)
    over_zero = torch.randint(0, 100, (2, 16), generator=gen) if over_zero is None else over_zero
    return {"n": n, "over_zero": over_zero, **extra}


def nan_counts():
    counts = stats()["over_zero"].double()
    counts[1, 3] = float("nan")
    return counts


def too_many():
    counts = stats()["over_zero"]
    counts[0, 5] = 101
    return counts


BAD_STATS = [
    pytest.param(save(stats(over_zero=nan_counts())), "over_zero holds NaN", id="nan-counts"),
    pytest.param(save(stats(sum=torch.full((2, 16), float("nan")))), "sum holds NaN", id="nan-sum"),
    pytest.param(save(stats(over_zero=too_many())), "over_zero holds 101, outside 0..n = 0..100", id="over-zero>n"),
    pytest.param(save(stats(n=0, over_zero=torch.zeros(2, 16))), "counted no tokens (n = 0)", id="n=0"),
    pytest.param(save(stats(n=-5)), "n (tokens counted) must be a whole number >= 0, got -5", id="n<0"),
    pytest.param(save(stats(n=float("nan"))), "must be a whole number >= 0, got nan", id="n=nan"),
    pytest.param(save({"over_zero": torch.zeros(2, 16)}), "not an activation statistics file", id="no-n"),
    pytest.param(save(stats(over_zero=torch.zeros(16))), "over_zero must be a [layers, d_ff] tensor", id="1-D"),
    pytest.param(lambda path: path.write_bytes(b""), "is empty", id="empty"),
    pytest.param(truncated, "truncated", id="truncated"),
    pytest.param(lambda path: path.mkdir(), "is a folder", id="folder"),
    pytest.param(
        save(stats(over_zero=torch.zeros(2, 16, dtype=torch.complex64))), "over_zero holds complex64", id="complex"
    ),
    pytest.param(save(stats(over_zero=torch.zeros(2, 16, dtype=torch.bool))), "over_zero holds bool", id="bool"),
    pytest.param(save(stats(sum=torch.zeros(2, 16, dtype=torch.int64))), "sum holds int64", id="integer-sum"),
]


@pytest.fixture
def good_stats(tmp_path):
    paths = []
    for k in range(2):
        paths.append(tmp_path / f"good{k}.pt")
        torch.save(stats(seed=k), paths[-1])
    return [str(p) for p in paths]


@pytest.fixture
def previous_out(tmp_path):
    """An output from an earlier run: a failing identify must leave it as it was."""
    out = tmp_path / "lape.neuron.pth"
    torch.save(neurons(), out)
    before = out.read_bytes()
    yield out
    assert out.read_bytes() == before


@pytest.mark.parametrize("write, message", BAD_STATS)
def test_bad_statistics_file(tmp_path, capsys, good_stats, previous_out, write, message):
    bad = tmp_path / "bad.pt"
    write(bad)
    err = cli_fails(capsys, ["identify", "--activations", good_stats[0], str(bad), "--out", str(previous_out)])
    one_line(err, str(bad), message)


@pytest.mark.parametrize(
    "args, status, names",
    [
        pytest.param(["--top-rate", "0"], 2, ["--top-rate", "(0, 1], got 0"], id="top-rate=0"),
        pytest.param(["--top-rate", "2"], 2, ["--top-rate", "got 2"], id="top-rate=2"),
        pytest.param(["--top-rate", "-1"], 2, ["--top-rate", "got -1"], id="top-rate=-1"),
        pytest.param(["--filter-rate", "nan"], 2, ["--filter-rate", "[0, 1], got nan"], id="filter-rate=nan"),
        pytest.param(["--top-rate", "1e-6"], 1, ["selection.top_rate 1e-06 keeps no neurons"], id="keeps-nothing"),
        pytest.param(
            ["--top-rate", "0.5", "--activation-bar-ratio", "1"],
            1,
            ["keeps 16 neurons but none is above the selection.activation_bar_ratio (1) quantile"],
            id="bar-keeps-nothing",
        ),
        pytest.param(["--languages", "en"], 1, ["--activations gives 2 files", "--languages names 1"], id="names"),
        pytest.param(["--languages", "en", "en"], 1, ["--languages names en more than once"], id="repeated"),
    ],
)
def test_bad_identify_arguments(capsys, good_stats, previous_out, args, status, names):
    err = cli_fails(capsys, ["identify", "--activations", *good_stats, "--out", str(previous_out), *args], status)
    one_line(err, *names)


def test_identify_needs_two_languages(capsys, good_stats, previous_out):
    err = cli_fails(capsys, ["identify", "--activations", good_stats[0], "--out", str(previous_out)])
    one_line(err, "at least 2 languages, got 1")


def test_statistics_of_different_models(tmp_path, capsys, good_stats, previous_out):
    other = tmp_path / "other-model.pt"
    torch.save(stats(over_zero=torch.zeros(3, 16, dtype=torch.long)), other)
    err = cli_fails(capsys, ["identify", "--activations", good_stats[0], str(other), "--out", str(previous_out)])
    one_line(err, f"{good_stats[0]} [2, 16]", f"{other} [3, 16]")


def test_inspect_language_names_must_match_the_file(tmp_path, capsys):
    path = tmp_path / "set.neuron.pth"
    torch.save(neurons(), path)
    err = cli_fails(capsys, ["inspect", str(path), "--languages", "en", "zh"])
    one_line(err, str(path), "holds 3 language lists", "--languages names 2")


def test_unsorted_layers_are_sorted_with_a_warning(tmp_path, caplog):
    from langneurons.neuronsets import load_neurons

    path = tmp_path / "unsorted.neuron.pth"
    torch.save(neurons(at={(1, 1): torch.tensor([9, 2, 5])}), path)
    with caplog.at_level("WARNING"):
        loaded = load_neurons(path, LANGS)
    assert loaded[1][1].tolist() == [2, 5, 9] and loaded[0][0].tolist() == [0, 3]
    assert "1 layer lists were not in ascending order" in caplog.text
