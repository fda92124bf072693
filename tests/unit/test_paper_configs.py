"""The paper configs hold the authors' settings (their dry run: tests/integration/test_paper_configs.py)."""

import pytest
import yaml

from langneurons.config import validate_config

from ..conftest import REPO

PAPER = sorted((REPO / "configs").glob("paper-*.yaml"))


def test_all_paper_models_have_configs():
    names = {p.stem for p in PAPER}
    assert {"paper-llama2-7b", "paper-llama2-13b", "paper-llama2-70b", "paper-bloom-7b", "paper-mistral-7b"} <= names


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_configs_load_the_papers_models(path):
    cfg = yaml.safe_load(path.read_text())
    assert "pv" in cfg["selection"]["methods"]
    model = next(iter(cfg["models"].values()))
    assert model["source"] == "hf" and model["dtype"] == "bfloat16"
    if "70b" in path.stem:
        assert model["gpus"] > 1 and model["device_map"] == "auto"
    if "bloom" in path.stem:
        assert "ja" not in cfg["languages"]  # as the authors did


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_configs_generate_as_the_authors(path):
    cfg = validate_config(yaml.safe_load(path.read_text()), REPO / "workflow" / "schemas" / "config.schema.yaml")
    gen = cfg["generation"]
    # the authors' generation.py: greedy, repetition penalty 1.1, stop at "\nQ:" / "\nA:",
    # up to 2048 new tokens when "llama" is in the model name, 1024 otherwise
    model = next(iter(cfg["models"].values()))["path"]
    assert gen["max_new_tokens"] == (2048 if "llama" in model else 1024)
    assert gen["repetition_penalty"] == 1.1 and gen["stop"] == ["\nQ:", "\nA:"]
    assert gen["template"] is None and gen["instructions"] is None  # the bundled copies of the authors' prompts
    assert cfg["questions"]["source"] == "mvicuna" and cfg["questions"]["max_questions"] is None
    assert cfg["ses"]["items"] == "questions" and cfg["ses"]["max_items"] >= 70  # all 70 mvicuna questions
