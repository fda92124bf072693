"""Config validation: defaults are filled, bad keys and values are named (through `snakemake -n`: tests/bad_inputs)."""

import copy
import json

import pytest
import yaml

from langneurons.config import validate_config
from langneurons.errors import ConfigError

from ..conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(name):
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "configs/smoke.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = validate_config(load(name), SCHEMA)
    assert cfg["selection"]["filter_rate"] == 0.95
    for model in cfg["models"].values():
        assert model["dtype"] == "auto"  # defaults filled inside each model


def test_defaults_are_the_papers():
    cfg = validate_config({"models": {"m": {"source": "embedded"}}}, SCHEMA)
    assert cfg["languages"] == ["en", "zh", "fr", "es", "vi", "id", "ja"]
    assert cfg["selection"]["top_rate"] == 0.01
    assert cfg["selection"]["activation_bar_ratio"] == 0.95
    assert cfg["corpus"]["train_tokens"] == 100_000_000
    assert cfg["corpus"]["valid_tokens"] == 2**20


@pytest.mark.parametrize(
    "change, where, what",
    [
        (lambda c: c.update(colour="blue"), "(top level)", "colour"),
        (lambda c: c["selection"].update(top_rate=2), "selection.top_rate", "2"),
        (lambda c: c["selection"].update(methods=["lape", "magic"]), "selection.methods.1", "magic"),
        (lambda c: c["models"]["gemma3-270m"].update(seq_len=-5), "models.gemma3-270m.seq_len", "-5"),
        (lambda c: c["models"]["gemma3-270m"].update(sorce="hf"), "models.gemma3-270m", "sorce"),
        (lambda c: c["models"]["gemma3-270m"].update(batch_size="big"), "models.gemma3-270m.batch_size", "big"),
        (lambda c: c["models"]["gemma3-270m"].update(batch_size=0), "models.gemma3-270m.batch_size", "0"),
        (lambda c: c["corpus"].update(source="web"), "corpus.source", "web"),
        (lambda c: c.update(languages=["en"]), "languages", "short"),
    ],
)
def test_bad_config_names_the_key(change, where, what):
    cfg = copy.deepcopy(load("config.yaml"))
    change(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, SCHEMA)
    message = str(err.value)
    assert where in message and what in message
    assert "config.schema.yaml" in message


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("paper-*.yaml")))
def test_paper_configs_validate_without_api_key(name, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # only the judge job needs it
    validate_config(load(f"configs/{name}"), SCHEMA)


def test_well_formed_files_and_folders_pass(tmp_path):
    """The cross-key checks accept every source when its files are there (no false alarms)."""
    cfg = load("configs/smoke.yaml")
    langs = cfg["languages"]
    for lang in langs:
        (tmp_path / f"{lang}.txt").write_text("a document\n\nanother\n")
        (tmp_path / "wiki" / f"20231101.{lang}").mkdir(parents=True)
    (tmp_path / "model").mkdir()
    import torch  # a neuron file with the smoke model's 2 layers (the gate reads an imported file)

    torch.save([[torch.tensor([1, 2]), torch.tensor([3])] for _ in langs], tmp_path / "lape.neuron.pth")
    (tmp_path / "template.txt").write_text('{{"q": "{question}"}}{instruction}\nA:')
    (tmp_path / "instructions.json").write_text(json.dumps({lang: "" for lang in langs}))
    (tmp_path / "judge.txt").write_text("{question} {answer} {language}")
    text = {lang: str(tmp_path / f"{lang}.txt") for lang in langs}
    cfg["models"]["local"] = {"source": "hf", "path": str(tmp_path / "model")}
    cfg["corpus"] = {"source": "files", "files": {**text, "en": {"train": text["en"], "valid": text["en"]}}}
    cfg["questions"] = {"source": "files", "files": text}
    cfg["steering"]["sweep"]["question_set"] = "bundled"  # the question files hold too few to hold some out
    cfg["selection"] = {"methods": ["lape", "imported"], "imported": {"path": str(tmp_path / "lape.neuron.pth")}}
    cfg["generation"].update(template=str(tmp_path / "template.txt"), instructions=str(tmp_path / "instructions.json"))
    cfg["judge"] = {"backend": "openai", "model": "judge", "base_url": "http://localhost:8000/v1"}
    cfg["judge"]["prompt"] = str(tmp_path / "judge.txt")
    validate_config(copy.deepcopy(cfg), SCHEMA)
    cfg["corpus"] = {"source": "wikipedia", "wikipedia": {"dataset": str(tmp_path / "wiki")}}
    validate_config(cfg, SCHEMA)


def test_prepared_model_records_the_facts_the_gate_checks(tmp_path):
    """prepare_model writes layers, neurons and context into model.json; the gate reads them on later runs."""
    from langneurons.config import prepared_facts
    from langneurons.models import prepare_model

    cfg = validate_config(load("configs/smoke.yaml"), SCHEMA)
    cfg["resources_dir"] = str(tmp_path)
    spec = cfg["models"]["tiny-llama"]
    prepare_model(spec, tmp_path / "models" / "tiny-llama")
    facts = json.loads((tmp_path / "models" / "tiny-llama" / "model.json").read_text())["facts"]
    assert facts == {"num_layers": 2, "d_ff": 64, "context": 1024}  # the spec's sizes; tiny models know 1024 positions
    assert prepared_facts(cfg, "tiny-llama") == facts
    cfg["models"]["tiny-llama"]["seq_len"] = 2048
    with pytest.raises(ConfigError, match=r"models.tiny-llama.seq_len: 2048 is longer than the 1024 positions"):
        validate_config(cfg, SCHEMA)
