"""The tasks stage's light half: task specs, the bundled next-word task, the tables (no model, no harness run)."""

import copy

import pandas as pd
import pytest
import yaml

from langneurons.bundled import bundled_languages, bundled_passages, bundled_valid_topics
from langneurons.config import validate_config
from langneurons.tasks import (
    bundled_items,
    bundled_task_config,
    change_matrix,
    condition_plans,
    folder_tasks,
    task_methods,
    task_specificity,
    task_specs,
    task_table,
)

from ..conftest import REPO

SMOKE = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


@pytest.mark.parametrize("lang", bundled_languages("corpus"))
def test_bundled_items_come_from_the_valid_passages_with_one_fitting_choice(lang):
    items = bundled_items(lang, 16, 24, 4, 0)
    assert len(items) == 24
    passages = {p["id"]: p["text"] for p in bundled_passages(lang)}
    valid = bundled_valid_topics(bundled_passages(lang), 16)
    for item in items:
        assert item["topic"] in valid  # never a topic that counting or PV sees
        answer = item["choices"][item["label"]]
        sep = "" if lang in ("zh", "ja") else " "
        assert (item["context"] + sep + answer) in passages[item["topic"]]
        assert len(set(item["choices"])) == 4 and 4 <= len(item["context"]) <= 80
    assert bundled_items(lang, 16, 24, 4, 0) == items  # seeded
    labels = [i["label"] for i in items]
    assert len(set(labels)) > 1  # the answer is not always in the same place


def test_bundled_task_config_is_the_harness_yaml_over_the_local_file(tmp_path):
    config = bundled_task_config("zh", tmp_path / "zh.jsonl")
    assert config["task"] == "langneurons_next_word_zh" and config["dataset_path"] == "json"
    assert config["dataset_kwargs"]["data_files"]["test"] == str((tmp_path / "zh.jsonl").resolve())
    assert config["target_delimiter"] == "" and bundled_task_config("en", "x")["target_delimiter"] == " "
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    assert folder_tasks(tmp_path)["langneurons_next_word_zh"]["kind"] == "task"


def test_task_specs_forms():
    cfg = validate_config(copy.deepcopy(SMOKE))
    assert task_specs(cfg) == {
        f"langneurons_next_word_{lang}": {"language": lang, "metric": None} for lang in cfg["languages"]
    }
    cfg["tasks"]["tasks"] = {"xnli_fr": "fr", "belebele_zho_Hans": {"language": "zh", "metric": "acc_norm"}}
    assert task_specs(cfg) == {
        "xnli_fr": {"language": "fr", "metric": None},
        "belebele_zho_Hans": {"language": "zh", "metric": "acc_norm"},
    }
    cfg["tasks"]["tasks"] = None
    cfg["languages"] = ["de", "it"]  # no bundled task: the stage does not run
    assert task_specs(cfg) == {} and task_methods(cfg) == []


def test_folder_tasks_reads_includes_and_function_tags(tmp_path):
    (tmp_path / "_base").write_text("dataset_path: json\noutput_type: multiple_choice\n")
    (tmp_path / "a.yaml").write_text("include: _base\ntask: mine\nprocess_docs: !function utils.process\n")
    (tmp_path / "g.yaml").write_text("group: my_group\ntask: [mine]\n")
    found = folder_tasks(tmp_path)
    assert found["mine"]["kind"] == "task" and found["mine"]["config"]["dataset_path"] == "json"
    assert found["my_group"]["kind"] == "group"


def runs_for(values: dict[str, dict[str, list[int]]]):
    """Harness-shaped results from per-document correctness: {condition: {task: [0/1 per doc]}}."""
    runs = {}
    for condition, per_task in values.items():
        runs[condition] = {
            "results": {
                t: {"alias": t, "acc,none": sum(v) / len(v), "acc_stderr,none": 0.1} for t, v in per_task.items()
            },
            "samples": {
                t: [{"doc_id": i, "filter": "none", "acc": float(x)} for i, x in enumerate(v)]
                for t, v in per_task.items()
            },
            "higher_is_better": {t: {"acc": True} for t in per_task},
            "n-samples": {t: {"original": len(v), "effective": len(v)} for t, v in per_task.items()},
        }
    return runs


class _Task:
    def aggregation(self):
        from statistics import mean

        return {"acc": mean}


def test_task_table_specificity_and_change_matrix():
    docs = {"normal": {"a_en": [1, 1, 1, 1], "b_zh": [1, 1, 0, 1]}}
    docs["en"] = {"a_en": [0, 0, 1, 0], "b_zh": [1, 1, 0, 1]}
    docs["zh"] = {"a_en": [1, 1, 1, 0], "b_zh": [0, 0, 0, 1]}
    specs = {"a_en": {"language": "en", "metric": None}, "b_zh": {"language": "zh", "metric": None}}
    table = task_table(runs_for(docs), specs, {"a_en": _Task(), "b_zh": _Task()}, 200, 0, 0.95)
    row = table[(table["condition"] == "en") & (table["task"] == "a_en")].iloc[0]
    assert row["value"] == 0.25 and row["normal"] == 1.0 and row["delta"] == -0.75 and row["primary"]
    assert row["delta_lo"] <= -0.75 <= row["delta_hi"] and row["delta_hi"] < 0  # paired: every doc drops or stays
    normal = table[table["condition"] == "normal"]
    assert (normal["delta"] == 0).all() and (normal["delta_lo"] == 0).all()
    spec = task_specificity(table, ["en", "zh"])
    assert spec.loc["en", "own_drop"] == 0.75 and spec.loc["en", "mean_other_drop"] == 0
    assert bool(spec.loc["en", "own_is_largest"]) and bool(spec.loc["zh", "own_is_largest"])
    assert spec.loc["en", "ratio"] == pytest.approx(0.75 / 0.01)
    matrix = change_matrix(table, ["en", "zh"])
    assert list(matrix.index) == ["en", "zh"] and list(matrix.columns) == ["a_en", "b_zh"]
    assert matrix.loc["zh", "b_zh"] == pytest.approx(-0.5)


def test_lower_is_better_metrics_count_a_rise_as_a_drop():
    table = pd.DataFrame(
        [
            {"condition": "en", "task": "t_en", "language": "en", "primary": True, "higher_is_better": False}
            | {"value": 3.0, "normal": 1.0},
            {"condition": "en", "task": "t_zh", "language": "zh", "primary": True, "higher_is_better": False}
            | {"value": 1.0, "normal": 1.0},
        ]
    )
    spec = task_specificity(table, ["en", "zh"])
    assert spec.loc["en", "own_drop"] == 2.0 and bool(spec.loc["en", "own_is_largest"])


def test_condition_plans_share_a_plan_across_tasks_and_match_random_to_the_task_language():
    import torch

    neurons = [[torch.tensor([1, 2]), torch.tensor([3])], [torch.tensor([4]), torch.tensor([])]]
    random = [[torch.tensor([5]), torch.tensor([6])], [torch.tensor([7]), torch.tensor([8])]]
    means = torch.ones(2, 10, 2)
    cfg = {"conditions": ["normal", "random", "deactivated", "steered"]}
    plans = condition_plans(
        neurons, random, means, ["en", "zh"], {"a": "en", "b": "zh"}, cfg, {"mode": "replace", "strength": 1.0}
    )
    assert list(plans) == ["normal", "random", "en", "zh", "to_en", "to_zh"]
    assert plans["en"]["a"] is plans["en"]["b"] and plans["normal"]["a"] == {}
    assert plans["random"]["a"] is not plans["random"]["b"]  # random neurons matched to each task's language
    assert plans["random"]["b"][0][0].index.tolist() == [7]
    assert plans["to_zh"]["a"][0][0].mode == "replace"


def test_one_token_answers_come_first_and_one_token_distractors_are_preferred():
    def one_token(context, word):  # a tokenizer whose vocabulary holds the words of 5 letters or fewer
        return len(word) <= 5

    items = bundled_items("en", 16, 24, 4, 0, one_token)
    plain = bundled_items("en", 16, 24, 4, 0)
    assert len(items) == 24 and items != plain
    for item in items:
        assert all(len(c) <= 5 for c in item["choices"])  # enough short words: every choice one "token"
    few = bundled_items("en", 16, 200, 4, 0, one_token)  # more items than one-token answers: the rest follow
    answers = [i["choices"][i["label"]] for i in few]
    firsts = [len(a) <= 5 for a in answers]
    assert firsts == sorted(firsts, reverse=True) and not all(firsts)


def test_one_token_test_splits_as_the_harness_does():
    from langneurons.models.tiny import byte_tokenizer
    from langneurons.tasks import one_token_test

    test = one_token_test(byte_tokenizer(), "en")
    assert not test("The cat", "sat")  # " sat": 4 bytes
    assert one_token_test(byte_tokenizer(), "zh")("The cat", "s")  # no delimiter in zh: one byte
