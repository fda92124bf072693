"""Model loading, preparation and architecture adapters."""

from .adapters import ADAPTERS, Adapter, get_adapter
from .loading import (
    LoadedModel,
    job_settings,
    load_for_job,
    load_prepared,
    load_tokenizer,
    model_shape,
    pick_device,
    pick_dtype,
    prepare_model,
)

__all__ = [
    "ADAPTERS",
    "Adapter",
    "LoadedModel",
    "get_adapter",
    "job_settings",
    "load_for_job",
    "load_prepared",
    "load_tokenizer",
    "model_shape",
    "pick_device",
    "pick_dtype",
    "prepare_model",
]
