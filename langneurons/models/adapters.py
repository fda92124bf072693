"""Architecture adapters: where a model's neuron activations live.

A *neuron* is one FFN intermediate unit. For gated MLPs (LLaMA, Mistral, Qwen,
Gemma) its activation is ``act_fn(gate_proj(x))``; for plain MLPs (BLOOM, OPT,
GPT-2, Phi) it is the activation after the first projection. Each adapter only
*declares* module paths; generic code (hooks, counting, interventions) never
names a module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UnsupportedArchitecture


@dataclass(frozen=True)
class Adapter:
    """Where one architecture keeps its decoder blocks and neuron activations.

    layers:     dotted path from the causal-LM object to the list of blocks.
    activation: dotted path from one block to the module whose *output* is the
                neuron activation, shape [batch, pos, d_ff] (OPT: [batch * pos, d_ff]).
    d_ff:       number of neurons per layer, read from the model config.
    gated:      gated MLP (activation multiplies an up projection) or plain.
    mlp_in:     dotted paths from one block to the projections *into* the neurons
                (gate and up; plain MLPs: the first projection).
    mlp_out:    dotted path from one block to the projection *out of* the neurons.
    softcap:    the model applies ``final_logit_softcapping`` to its logits.
    conv1d:     the projections are GPT-2 ``Conv1D`` modules, whose weight is
                stored transposed ([in, out] instead of nn.Linear's [out, in]).
    """

    architecture: str
    layers: str
    activation: str
    d_ff: Callable[[object], int]
    gated: bool
    mlp_in: tuple[str, ...]
    mlp_out: str
    softcap: bool = False
    conv1d: bool = False

    def blocks(self, model: nn.Module) -> list[nn.Module]:
        return list(_get(model, self.layers))

    def activation_modules(self, model: nn.Module) -> list[nn.Module]:
        modules = [_get(block, self.activation) for block in self.blocks(model)]
        if len({id(m) for m in modules}) != len(modules):
            raise UnsupportedArchitecture(
                f"{self.architecture}: the activation module '{self.activation}' is shared "
                "between layers, so a hook cannot tell layers apart"
            )
        return modules

    def neuron_parameters(self, model: nn.Module) -> list[list[tuple[nn.Module, str, int]]]:
        """Per layer, the parameters made of per-neuron slices: (module, parameter name, neuron axis).

        Neuron j owns row j of each input projection's weight (and entry j of its
        bias) and column j of the output projection's weight. The output bias is
        shared by all neurons, so it is not listed.
        """
        in_axis, out_axis = (1, 0) if self.conv1d else (0, 1)
        layers = []
        for block in self.blocks(model):
            entries = []
            for path in self.mlp_in:
                module = _get(block, path)
                entries.append((module, "weight", in_axis))
                if getattr(module, "bias", None) is not None:
                    entries.append((module, "bias", 0))
            entries.append((_get(block, self.mlp_out), "weight", out_axis))
            layers.append(entries)
        return layers

    def num_neurons(self, model: nn.Module) -> int:
        return int(self.d_ff(model.config))

    def logits(self, model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        """LM-head logits for final hidden states (what ``model(...)`` would return)."""
        logits = model.get_output_embeddings()(hidden)
        cap = getattr(model.config, "final_logit_softcapping", None) if self.softcap else None
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _intermediate(config) -> int:
    return config.intermediate_size


def _four_times_hidden(config) -> int:
    return 4 * config.hidden_size


def _gpt2_inner(config) -> int:
    return config.n_inner or 4 * config.n_embd


def _opt_ffn(config) -> int:
    return config.ffn_dim


def _gated(arch: str, softcap: bool = False) -> Adapter:
    return Adapter(
        arch,
        "model.layers",
        "mlp.act_fn",
        _intermediate,
        gated=True,
        mlp_in=("mlp.gate_proj", "mlp.up_proj"),
        mlp_out="mlp.down_proj",
        softcap=softcap,
    )


ADAPTERS: dict[str, Adapter] = {
    a.architecture: a
    for a in [
        _gated("LlamaForCausalLM"),
        _gated("MistralForCausalLM"),
        _gated("Qwen2ForCausalLM"),
        _gated("Qwen3ForCausalLM"),
        _gated("GemmaForCausalLM"),
        _gated("Gemma2ForCausalLM", softcap=True),
        _gated("Gemma3ForCausalLM", softcap=True),
        Adapter(
            "BloomForCausalLM",
            "transformer.h",
            "mlp.gelu_impl",
            _four_times_hidden,
            gated=False,
            mlp_in=("mlp.dense_h_to_4h",),
            mlp_out="mlp.dense_4h_to_h",
        ),
        Adapter(
            "OPTForCausalLM",
            "model.decoder.layers",
            "activation_fn",
            _opt_ffn,
            gated=False,
            mlp_in=("fc1",),
            mlp_out="fc2",
        ),
        Adapter(
            "GPT2LMHeadModel",
            "transformer.h",
            "mlp.act",
            _gpt2_inner,
            gated=False,
            mlp_in=("mlp.c_fc",),
            mlp_out="mlp.c_proj",
            conv1d=True,
        ),
        Adapter(
            "PhiForCausalLM",
            "model.layers",
            "mlp.activation_fn",
            _intermediate,
            gated=False,
            mlp_in=("mlp.fc1",),
            mlp_out="mlp.fc2",
        ),
    ]
}


def architecture_of(model_or_config) -> str:
    config = getattr(model_or_config, "config", model_or_config)
    archs = getattr(config, "architectures", None) or [type(model_or_config).__name__]
    return archs[0]


def get_adapter(model_or_config) -> Adapter:
    """The adapter for a model (or its config), keyed by ``config.architectures[0]``."""
    arch = architecture_of(model_or_config)
    if arch not in ADAPTERS:
        raise UnsupportedArchitecture(
            f"Unsupported architecture '{arch}'. Supported: {', '.join(sorted(ADAPTERS))}. "
            "Add an Adapter to langneurons/models/adapters.py that names the module whose "
            "output is the FFN activation."
        )
    return ADAPTERS[arch]
