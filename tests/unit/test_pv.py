"""Parameter variation (PV): instruction data, the neurons' parameters, tuning, variation and selection."""

import copy

import pytest
import torch

import langneurons.pv as pvmod
from langneurons.answer_batch import IGNORE
from langneurons.bundled import bundled_passages, bundled_valid_topics
from langneurons.hooks import NeuronHooks, deactivation_plan
from langneurons.instructions import bundled_instructions, dataset_instructions, tuning_templates
from langneurons.models import ADAPTERS
from langneurons.pv import encode, load_variations, make_batches, neuron_variation, save_variation, tune
from langneurons.selection import pv

from ..conftest import loaded

IDS = torch.randint(3, 259, (2, 9), generator=torch.Generator().manual_seed(0))
EXAMPLES = [
    {"instruction": "Say hello.", "input": "", "output": "Hello, world!"},
    {"instruction": "Repeat", "input": "abc", "output": "abc abc"},
    {"instruction": "Count to three.", "input": "", "output": "one two three"},
]


def neuron_inputs(lm, layer: int) -> torch.Tensor:
    """The [.., d_ff] input of one layer's output projection (what the neurons pass on)."""
    out_module = lm.adapter.neuron_parameters(lm.model)[layer][-1][0]
    seen = {}
    handle = out_module.register_forward_pre_hook(lambda m, args: seen.__setitem__("h", args[0].detach().clone()))
    with torch.no_grad():
        lm.model(input_ids=IDS)
    handle.remove()
    return seen["h"]


# --------------------------------------------------------------------------- the neurons' parameters
@pytest.mark.parametrize("arch", sorted(ADAPTERS))
def test_input_slices_feed_only_their_neuron(arch):
    """Changing neuron j's rows of the input projections changes what neuron j passes on, and nothing else."""
    lm = loaded(arch, num_layers=2, d_ff=48)
    d_ff, j = lm.num_neurons, 5
    before = neuron_inputs(lm, 0)
    with torch.no_grad():
        for module, name, axis in lm.adapter.neuron_parameters(lm.model)[0][:-1]:
            param = getattr(module, name)
            assert param.shape[axis] == d_ff
            param.select(axis, j).add_(0.5)
    after = neuron_inputs(lm, 0)
    others = [k for k in range(d_ff) if k != j]
    assert not torch.allclose(before[..., j], after[..., j])
    torch.testing.assert_close(before[..., others], after[..., others])


@pytest.mark.parametrize("arch", sorted(ADAPTERS))
def test_output_slice_is_the_neurons_only_way_out(arch):
    """Zeroing neuron j's column of the output projection equals deactivating neuron j."""
    lm = loaded(arch, num_layers=2, d_ff=48)
    j = torch.tensor([3, 7])
    with NeuronHooks(lm) as hooks, torch.no_grad():
        hooks.set_plan(deactivation_plan([j] * lm.num_layers))
        deactivated = lm.model(input_ids=IDS).logits
    with torch.no_grad():
        for layer in lm.adapter.neuron_parameters(lm.model):
            module, name, axis = layer[-1]
            getattr(module, name).index_fill_(axis, j, 0.0)
        zeroed = lm.model(input_ids=IDS).logits
    torch.testing.assert_close(deactivated, zeroed)


# --------------------------------------------------------------------------- instruction data
def test_bundled_instructions_use_train_topics_in_the_language():
    passages = bundled_passages("ja")
    valid = bundled_valid_topics(passages, 16)
    examples = bundled_instructions("ja", 16)
    train = [p for p in passages if p["id"] not in valid]
    assert len(examples) == len(train) == len(passages) - 16
    assert [e["output"] for e in examples] == [p["text"] for p in train]
    assert examples[0]["instruction"] == tuning_templates()["ja"].format(topic=train[0]["topic"])
    assert set(tuning_templates()) == {"en", "zh", "fr", "es", "vi", "id", "ja"}
    with pytest.raises(ValueError, match="no bundled tuning instruction"):
        bundled_instructions("de", 16)


@pytest.mark.usefixtures("quick_stream_shutdown")
def test_dataset_instructions_on_local_copy(tmp_path):
    """The real `datasets` streaming path, on a local folder laid out like Bactrian-X (one folder per language)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "bx" / "vi"
    folder.mkdir(parents=True)
    rows = [
        {"instruction": f"Câu hỏi {i}", "input": "", "id": str(i), "output": "" if i == 3 else f"Trả lời {i}"}
        for i in range(20)
    ]
    pq.write_table(pa.Table.from_pylist(rows), folder / "train-00000-of-00001.parquet")
    got = list(dataset_instructions("vi", str(tmp_path / "bx"), examples=8, seed=1))
    assert len(got) == 8 and all(set(r) == {"instruction", "input", "output"} for r in got)
    assert all(r["output"] for r in got)  # empty answers are skipped
    assert got == list(dataset_instructions("vi", str(tmp_path / "bx"), examples=8, seed=1))  # seeded
    assert got != list(dataset_instructions("vi", str(tmp_path / "bx"), examples=8, seed=2))
    with pytest.raises(RuntimeError, match="Could not open instruction dataset"):
        list(dataset_instructions("xx", str(tmp_path / "bx"), examples=8, seed=1))


# --------------------------------------------------------------------------- batches
def test_encode_trains_on_the_answer_only():
    lm = loaded("LlamaForCausalLM", num_layers=1, d_ff=16)
    ids, n_prompt = encode(EXAMPLES[1], lm.tokenizer, seq_len=200)
    assert lm.tokenizer.decode(ids[:n_prompt], skip_special_tokens=True) == "Q: Repeat\nabc\nA:"
    assert lm.tokenizer.decode(ids[n_prompt:], skip_special_tokens=True) == " abc abc"
    assert ids[-1] == lm.tokenizer.eos_token_id
    batches = make_batches(EXAMPLES, lm.tokenizer, seq_len=200, batch_size=2, steps=4, seed=0)
    assert len(batches) == 4 and all(b.ids.shape[0] == 2 for b in batches)
    for b in batches:
        trained = b.labels != IGNORE
        assert (b.mask[trained] == 1).all() and (b.labels[trained] == b.ids[trained]).all()
        assert (b.labels[b.mask == 0] == IGNORE).all()
    # 8 examples drawn from 3: every example of an epoch before any repeats
    firsts = [tuple(b.ids[r][b.mask[r] == 1].tolist()) for b in batches[:2] for r in range(2)][:3]
    assert len(set(firsts)) == 3
    with pytest.raises(ValueError, match="raise seq_len"):
        make_batches(EXAMPLES, lm.tokenizer, seq_len=5, batch_size=2, steps=1, seed=0)


# --------------------------------------------------------------------------- variation and tuning
def test_variation_is_the_relative_change_of_each_neurons_parameters():
    lm = loaded("PhiForCausalLM", num_layers=2, d_ff=16)  # plain MLP: a bias entry belongs to the neuron too
    entries = lm.adapter.neuron_parameters(lm.model)
    scale = torch.zeros(2, 16)
    scale[0, 3], scale[1, 0] = 0.1, 2.0
    deltas = []
    for layer, layer_entries in enumerate(entries):
        deltas.append([])
        for module, name, axis in layer_entries:
            shape = [1] * getattr(module, name).dim()
            shape[axis] = -1
            deltas[-1].append(getattr(module, name).detach() * scale[layer].reshape(shape))
    torch.testing.assert_close(neuron_variation(entries, deltas), scale)


def scripted_loss(targets):
    """A loss linear in the neurons' weights: its gradient is ``a[l, j] * W0_n`` for neuron n = (l, j).

    SGD then changes neuron n by -lr * steps * a[l, j] * W0_n, a relative change of lr * steps * |a[l, j]|.
    """

    def loss(lm, batch):
        total = 0.0
        for layer, layer_entries in enumerate(lm.adapter.neuron_parameters(lm.model)):
            for module, name, axis in layer_entries:
                start = pvmod.parametrize_original(module, name).detach()
                shape = [1] * start.dim()
                shape[axis] = -1
                total = total + (getattr(module, name) * start * targets[layer].reshape(shape)).sum()
        return total

    return loss


def test_tuning_scripted_per_language_gives_known_neurons(monkeypatch, tmp_path):
    """Tuning on language k barely moves the neurons chosen for k and moves all others: PV finds exactly them."""
    languages, shape = ["en", "zh", "fr"], (2, 16)
    chosen = {"en": [(0, 2), (1, 9)], "zh": [(0, 11)], "fr": [(1, 4), (1, 5)]}
    start = loaded("LlamaForCausalLM", num_layers=2, d_ff=16)
    batches = make_batches(EXAMPLES, start.tokenizer, seq_len=64, batch_size=1, steps=3, seed=0)
    paths = []
    for lang in languages:
        targets = torch.ones(shape)
        for layer, j in chosen[lang]:
            targets[layer, j] = 0.01
        monkeypatch.setattr(pvmod, "answer_loss", scripted_loss(targets))
        lm = copy.deepcopy(start)  # every language starts from the same weights
        result = tune(lm, batches, lr=0.01)
        torch.testing.assert_close(result["variation"], 3 * 0.01 * targets)
        paths.append(tmp_path / f"{lang}.pt")
        save_variation(result, paths[-1], language=lang)
    variation = load_variations(paths, languages)
    assert variation.shape == (2, 16, 3)
    n_chosen = sum(map(len, chosen.values()))
    neurons = pv(variation, top_rate=n_chosen / 32, filter_rate=0.9, activation_bar_ratio=0.9)
    for lang, per_layer in zip(languages, neurons):
        got = sorted((layer, j) for layer, idx in enumerate(per_layer) for j in idx.tolist())
        assert got == sorted(chosen[lang]), lang
    with pytest.raises(ValueError, match="holds language 'en'"):
        load_variations(paths, ["zh", "en", "fr"])


def test_real_tuning_changes_only_the_neurons_parameters_by_gradient_steps():
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=16)
    start = copy.deepcopy(lm.model.state_dict())
    batches = make_batches(EXAMPLES, lm.tokenizer, seq_len=64, batch_size=3, steps=1, seed=0)

    # one SGD step must be -lr x the gradient of transformers' own loss on the answer tokens
    reference = copy.deepcopy(lm.model)
    b = batches[0]
    reference(input_ids=b.ids, attention_mask=b.mask, labels=b.labels).loss.backward()

    lr = 0.05
    result = tune(lm, batches, lr=lr)
    tuned = lm.model.state_dict()
    trained = {
        f"{prefix}.{name}"
        for prefix, module in lm.model.named_modules()
        for layer in lm.adapter.neuron_parameters(lm.model)
        for m, name, _ in layer
        if m is module
    }
    assert trained and set(tuned) == set(start)  # the reparametrisation is gone
    for key in start:
        if key in trained:
            expected = start[key] - lr * reference.get_parameter(key).grad
            torch.testing.assert_close(tuned[key], expected, rtol=1e-4, atol=1e-7)
        else:
            assert torch.equal(tuned[key], start[key]), f"{key} must stay frozen"
    relative = torch.stack(
        [
            torch.sqrt(
                (tuned[f"model.layers.{l}.mlp.gate_proj.weight"] - start[f"model.layers.{l}.mlp.gate_proj.weight"])
                .pow(2)
                .sum(1)
                + (tuned[f"model.layers.{l}.mlp.up_proj.weight"] - start[f"model.layers.{l}.mlp.up_proj.weight"])
                .pow(2)
                .sum(1)
                + (tuned[f"model.layers.{l}.mlp.down_proj.weight"] - start[f"model.layers.{l}.mlp.down_proj.weight"])
                .pow(2)
                .sum(0)
            )
            / torch.sqrt(
                start[f"model.layers.{l}.mlp.gate_proj.weight"].pow(2).sum(1)
                + start[f"model.layers.{l}.mlp.up_proj.weight"].pow(2).sum(1)
                + start[f"model.layers.{l}.mlp.down_proj.weight"].pow(2).sum(0)
            )
            for l in range(2)
        ]
    )
    torch.testing.assert_close(result["variation"], relative, rtol=1e-3, atol=1e-9)
    assert (result["variation"] > 0).all()


def test_diverging_tuning_names_the_setting():
    lm = loaded("LlamaForCausalLM", num_layers=1, d_ff=16)
    batches = make_batches(EXAMPLES, lm.tokenizer, seq_len=64, batch_size=3, steps=3, seed=0)
    with pytest.raises(FloatingPointError, match="lower selection.pv.lr"):
        tune(lm, batches, lr=1e30)
    assert not any("parametrizations" in key for key in lm.model.state_dict())  # the model is left plain


def test_bf16_tuning_keeps_the_models_dtype():
    """On a GPU the model is bf16: the changes are bf16 too, and small updates still register."""
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=16)
    lm.model.to(torch.bfloat16)
    batches = make_batches(EXAMPLES, lm.tokenizer, seq_len=64, batch_size=3, steps=2, seed=0)
    result = tune(lm, batches, lr=1e-4)
    assert all(p.dtype == torch.bfloat16 for p in lm.model.parameters())
    assert torch.isfinite(result["variation"]).all() and (result["variation"] > 0).all()
    # the recorded change is below what bf16 can add to the weights themselves (~2^-8 relative)
    assert result["variation"].median() < 2**-8
