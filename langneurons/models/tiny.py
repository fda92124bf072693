"""Tiny randomly initialised models of any supported architecture (tests, smoke runs).

Built locally from a config (no download) with a byte-level tokenizer, so the
whole workflow can be exercised in seconds on any machine.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError

SPECIALS = ["<pad>", "<bos>", "<eos>"]


def byte_tokenizer():
    """A byte-level tokenizer (256 byte tokens + pad/bos/eos) that adds BOS like LLaMA does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIALS + sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 1)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>")


def tiny_config(
    architecture: str, vocab_size: int = 259, hidden_size: int = 32, num_layers: int = 2, d_ff: int = 64, heads: int = 4
):
    import transformers as tf

    common = dict(vocab_size=vocab_size, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    gated = dict(
        hidden_size=hidden_size,
        intermediate_size=d_ff,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        head_dim=hidden_size // heads,
        max_position_embeddings=1024,
    )
    builders = {
        "LlamaForCausalLM": lambda: tf.LlamaConfig(**gated, **common),
        "MistralForCausalLM": lambda: tf.MistralConfig(**gated, **common),
        "Qwen2ForCausalLM": lambda: tf.Qwen2Config(**gated, **common),
        "Qwen3ForCausalLM": lambda: tf.Qwen3Config(**gated, **common),
        "GemmaForCausalLM": lambda: tf.GemmaConfig(**gated, **common),
        "Gemma2ForCausalLM": lambda: tf.Gemma2Config(**gated, **common),
        "Gemma3ForCausalLM": lambda: tf.Gemma3TextConfig(**gated, **common),
        "PhiForCausalLM": lambda: tf.PhiConfig(**gated, **common),
        "BloomForCausalLM": lambda: tf.BloomConfig(hidden_size=hidden_size, n_layer=num_layers, n_head=heads, **common),
        "OPTForCausalLM": lambda: tf.OPTConfig(
            hidden_size=hidden_size,
            ffn_dim=d_ff,
            num_hidden_layers=num_layers,
            num_attention_heads=heads,
            word_embed_proj_dim=hidden_size,
            max_position_embeddings=1024,
            **common,
        ),
        "GPT2LMHeadModel": lambda: tf.GPT2Config(
            n_embd=hidden_size, n_inner=d_ff, n_layer=num_layers, n_head=heads, n_positions=1024, **common
        ),
    }
    if architecture not in builders:
        raise ConfigError(f"no tiny config for '{architecture}'; choose one of {', '.join(sorted(builders))}")
    config = builders[architecture]()
    config.architectures = [architecture]
    return config


def tiny_model(architecture: str = "LlamaForCausalLM", seed: int = 0, **sizes):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(architecture, **sizes), dtype=torch.float32)
    return model.eval()
