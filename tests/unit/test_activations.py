"""Counting: exact against a direct count, shards merge exactly, file formats."""

import pytest
import torch

from langneurons.activations import collect_stats, load_stats, merge_stats, save_stats, stack_stats
from langneurons.corpus import iter_batches, shard_range


def token_file(n_seq=9, seq_len=16, remainder=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {
        "sequences": torch.randint(3, 259, (n_seq, seq_len), generator=gen, dtype=torch.int32),
        "remainder": torch.randint(3, 259, (remainder,), generator=gen, dtype=torch.int32),
        "seq_len": seq_len,
    }


def direct_count(lm, tokens, batch_size):
    """Reference: capture every activation with plain hooks, then count and sum in float64."""
    acts = {l: [] for l in range(lm.num_layers)}
    modules = lm.adapter.activation_modules(lm.model)
    handles = [
        m.register_forward_hook(lambda m, i, o, l=l: acts[l].append(o.reshape(-1, o.shape[-1]).clone()))
        for l, m in enumerate(modules)
    ]
    n = 0
    with torch.no_grad():
        for batch in iter_batches(tokens, batch_size):
            lm.model.base_model(input_ids=batch)
            n += batch.numel()
    for h in handles:
        h.remove()
    cat = {l: torch.cat(v) for l, v in acts.items()}
    over_zero = torch.stack([(cat[l] > 0).sum(0) for l in range(lm.num_layers)])
    sums = torch.stack([cat[l].double().sum(0) for l in range(lm.num_layers)])
    return n, over_zero, sums


def test_counts_equal_direct_count(tiny_llama):
    tokens = token_file()
    stats = collect_stats(tiny_llama, tokens, batch_size=4, progress=False)
    n, over_zero, sums = direct_count(tiny_llama, tokens, 4)
    assert stats["n"] == n == 9 * 16 + 5
    assert torch.equal(stats["over_zero"], over_zero)
    torch.testing.assert_close(stats["sum"], sums, rtol=1e-6, atol=1e-6)
    assert stats["over_zero"].dtype == torch.int64 and stats["sum"].dtype == torch.float64


@pytest.mark.parametrize("shards", [2, 3, 4])
def test_merged_shards_equal_unsharded(tiny_llama, shards):
    tokens = token_file(n_seq=11)
    whole = collect_stats(tiny_llama, tokens, batch_size=2, progress=False)
    # each shard job may pick its own batch size (batch_size: auto on different GPUs)
    parts = [collect_stats(tiny_llama, tokens, 1 + shard, shard, shards, progress=False) for shard in range(shards)]
    merged = merge_stats(parts)
    assert merged["n"] == whole["n"]
    assert torch.equal(merged["over_zero"], whole["over_zero"])
    torch.testing.assert_close(merged["sum"], whole["sum"], rtol=1e-6, atol=1e-6)  # float32 batch partials


def test_shards_cover_every_sequence_once():
    for n, k in [(11, 3), (4, 3), (100, 8), (1, 1), (2, 5)]:
        ranges = [shard_range(n, s, k) for s in range(k)]
        covered = [i for a, b in ranges for i in range(a, b)]
        assert covered == list(range(n))
        sizes = [b - a for a, b in ranges]
        assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="outside"):
        shard_range(10, 3, 3)


def test_files_round_trip_and_authors_format(tmp_path, tiny_llama):
    stats = collect_stats(tiny_llama, token_file(), 4, progress=False)
    save_stats(stats, tmp_path / "en.pt", language="en")
    back = load_stats(tmp_path / "en.pt")
    assert back["n"] == stats["n"] and torch.equal(back["over_zero"], stats["over_zero"])
    assert back["language"] == "en"
    # the authors' files hold only n and over_zero
    torch.save({"n": 10, "over_zero": torch.ones(3, 48, dtype=torch.long)}, tmp_path / "authors.pt")
    probs, means = stack_stats([load_stats(tmp_path / "authors.pt")] * 2)
    assert probs.shape == (3, 48, 2) and means is None
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_statistics_files_are_named(tmp_path):
    torch.save([1, 2, 3], tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt is not an activation statistics file"):
        load_stats(tmp_path / "bad.pt")
    a = {"n": 4, "over_zero": torch.zeros(2, 8, dtype=torch.long)}
    b = {"n": 4, "over_zero": torch.zeros(3, 8, dtype=torch.long)}
    with pytest.raises(ValueError, match="disagree"):
        stack_stats([a, b])
