import os

# Tests never reach the hub: the real download paths are tested on local data.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def loaded(architecture: str = "LlamaForCausalLM", seed: int = 0, **sizes):
    """A tiny random model wrapped like a prepared one (model, tokenizer, adapter)."""
    from langneurons.models import LoadedModel, get_adapter
    from langneurons.models.tiny import byte_tokenizer, tiny_model

    model = tiny_model(architecture, seed=seed, **sizes)
    return LoadedModel(model=model, tokenizer=byte_tokenizer(), adapter=get_adapter(model), device=torch.device("cpu"))


@pytest.fixture(scope="session")
def tiny_llama():
    return loaded("LlamaForCausalLM", num_layers=3, d_ff=48)
