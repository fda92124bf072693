"""Each adapter hooks the output of the activation applied to the first (gate) projection."""

import pytest
import torch
import torch.nn.functional as F

from langneurons.errors import UnsupportedArchitecture
from langneurons.hooks import NeuronHooks
from langneurons.models import ADAPTERS, get_adapter
from langneurons.models.tiny import tiny_config

from ..conftest import loaded


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


# architecture -> (first projection, relative to a block; the nonlinearity the paper's neuron applies)
EXPECTED = {
    "LlamaForCausalLM": ("mlp.gate_proj", F.silu),
    "MistralForCausalLM": ("mlp.gate_proj", F.silu),
    "Qwen2ForCausalLM": ("mlp.gate_proj", F.silu),
    "Qwen3ForCausalLM": ("mlp.gate_proj", F.silu),
    "GemmaForCausalLM": ("mlp.gate_proj", gelu_tanh),
    "Gemma2ForCausalLM": ("mlp.gate_proj", gelu_tanh),
    "Gemma3ForCausalLM": ("mlp.gate_proj", gelu_tanh),
    "BloomForCausalLM": ("mlp.dense_h_to_4h", gelu_tanh),
    "OPTForCausalLM": ("fc1", F.relu),
    "GPT2LMHeadModel": ("mlp.c_fc", gelu_tanh),
    "PhiForCausalLM": ("mlp.fc1", gelu_tanh),
}


def test_every_adapter_has_an_expectation():
    assert set(EXPECTED) == set(ADAPTERS)


def _get(obj, dotted):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_adapter_hooks_activation_of_first_projection(arch):
    lm = loaded(arch, num_layers=2, d_ff=48)
    first_proj, nonlinearity = EXPECTED[arch]
    blocks = lm.adapter.blocks(lm.model)
    assert len(blocks) == lm.num_layers == 2

    projected, activations = {}, {}
    handles = [
        _get(block, first_proj).register_forward_hook(lambda m, i, o, l=l: projected.__setitem__(l, o.detach()))
        for l, block in enumerate(blocks)
    ]
    with NeuronHooks(lm) as hooks:
        for l, module in enumerate(hooks.modules):
            handles.append(module.register_forward_hook(lambda m, i, o, l=l: activations.__setitem__(l, o.detach())))
        ids = torch.randint(3, 259, (2, 7))
        with torch.no_grad():
            lm.model(input_ids=ids)
    for h in handles:
        h.remove()
    for l in range(2):
        # [batch, pos, d_ff]; OPT flattens to [batch * pos, d_ff]
        assert activations[l].shape[-1] == lm.num_neurons and activations[l].numel() == 2 * 7 * lm.num_neurons
        torch.testing.assert_close(activations[l], nonlinearity(projected[l]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_deactivating_every_neuron_changes_the_output(arch):
    from langneurons.hooks import deactivation_plan

    lm = loaded(arch, num_layers=2, d_ff=48)
    ids = torch.randint(3, 259, (1, 6))
    with torch.no_grad():
        plain = lm.model(input_ids=ids).logits
        with NeuronHooks(lm) as hooks:
            hooks.set_plan(deactivation_plan([torch.arange(lm.num_neurons)] * 2))
            dead = lm.model(input_ids=ids).logits
    assert not torch.allclose(plain, dead)


def test_unsupported_architecture_lists_supported_ones():
    config = tiny_config("LlamaForCausalLM")
    config.architectures = ["MambaForCausalLM"]
    with pytest.raises(UnsupportedArchitecture) as err:
        get_adapter(config)
    message = str(err.value)
    assert "MambaForCausalLM" in message
    for arch in ("LlamaForCausalLM", "GPT2LMHeadModel", "BloomForCausalLM"):
        assert arch in message
