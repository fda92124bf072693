"""The command line in-process (the console script in a real process: tests/integration/test_console_script.py)."""

import torch

from langneurons.cli import main
from langneurons.neuronsets import load_neurons


def fake_stats(tmp_path, n_langs=3):
    gen = torch.Generator().manual_seed(0)
    paths = []
    for k in range(n_langs):
        over_zero = torch.randint(0, 50, (4, 100), generator=gen)
        for j in range(n_langs):  # neuron (j, j) fires always for language j and never otherwise
            over_zero[j, j] = 100 if j == k else 0
        path = tmp_path / f"activation.l{k}.train"
        torch.save({"n": 100, "over_zero": over_zero}, path)  # the authors' format: no sums
        paths.append(str(path))
    return paths


def test_identify_and_inspect(tmp_path, capsys):
    paths = fake_stats(tmp_path)
    out = tmp_path / "lape.neuron.pth"
    main(["identify", "--activations", *paths, "--languages", "aa", "bb", "cc", "--out", str(out)])
    neurons = load_neurons(out)
    assert len(neurons) == 3 and all(len(per_layer) == 4 for per_layer in neurons)
    for k in range(3):
        assert k in neurons[k][k].tolist()
    main(["inspect", str(out), "--languages", "aa", "bb", "cc"])
    printed = capsys.readouterr().out
    assert "neurons per language" in printed and "neurons per layer" in printed and "Jaccard" in printed


def test_inspect_counts_shared_neurons_once_in_distinct(tmp_path, capsys):
    layer0 = [torch.tensor([1, 2, 3]), torch.tensor([2, 3, 4]), torch.tensor([3])]  # 7 assignments, 4 neurons
    layer1 = [torch.tensor([5]), torch.tensor([], dtype=torch.long), torch.tensor([5, 6])]  # 3 assignments, 2 neurons
    path = tmp_path / "shared.neuron.pth"
    torch.save([[a, b] for a, b in zip(layer0, layer1)], path)
    main(["inspect", str(path), "--languages", "aa", "bb", "cc"])
    printed = capsys.readouterr().out
    assert "10 neuron-language assignments, 6 distinct neurons" in printed
    table = printed.split("neurons per layer")[1].split("shared neurons")[0].splitlines()
    header = table[1].split()
    rows = {line.split()[0]: dict(zip(header, map(int, line.split()[1:]))) for line in table[3:] if line.strip()}
    assert rows["0"] == {"aa": 3, "bb": 3, "cc": 1, "assignments": 7, "distinct": 4}
    assert rows["1"] == {"aa": 1, "bb": 0, "cc": 2, "assignments": 3, "distinct": 2}
