"""A user's task folder (the harness's YAML over a local JSON file) through the workflow's tasks stage, offline, on
the smoke config's tiny model: the table equals the harness run directly on the same model with the same hooks, and
the normal condition equals a plain harness run without any hook."""

import gzip
import json
import os
import re
import subprocess

import pandas as pd
import pytest
import torch
import yaml

from langneurons.hooks import NeuronHooks, deactivation_plan
from langneurons.models import load_prepared
from langneurons.neuronsets import load_neurons

from ..conftest import REPO

pytestmark = pytest.mark.integration

ITEMS = {
    "en": [
        ("The cat sat on the", ["mat", "sky", "idea"], 0),
        ("Water boils at one hundred", ["degrees", "apples", "songs"], 0),
        ("She opened the door and walked", ["inside", "purple", "seven"], 0),
        ("The sun rises in the", ["east", "spoon", "loud"], 0),
        ("He drank a glass of", ["water", "roads", "ten"], 0),
        ("Birds can fly because they have", ["wings", "tables", "rain"], 0),
    ],
    "zh": [
        ("我每天早上喝一杯", ["咖啡", "桌子", "天空"], 0),
        ("太阳从东方", ["升起", "桌子", "蓝色"], 0),
        ("他在图书馆看", ["书", "鱼", "雨"], 0),
        ("冬天的天气很", ["冷", "书", "跑"], 0),
        ("我们用筷子吃", ["饭", "云", "车"], 0),
        ("猫喜欢吃", ["鱼", "山", "纸"], 0),
    ],
}


def write_task_folder(folder):
    """Two tasks in the harness's YAML format over local JSONL files: mine_en and mine_zh."""
    folder.mkdir()
    for lang, rows in ITEMS.items():
        data = folder / f"{lang}.jsonl"
        data.write_text(
            "".join(
                json.dumps({"context": c, "choices": ch, "label": label}, ensure_ascii=False) + "\n"
                for c, ch, label in rows
            ),
            encoding="utf-8",
        )
        config = {
            "task": f"mine_{lang}",
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data)}},
            "test_split": "test",
            "output_type": "multiple_choice",
            "doc_to_text": "context",
            "doc_to_choice": "choices",
            "doc_to_target": "label",
            "target_delimiter": "" if lang == "zh" else " ",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        }
        (folder / f"mine_{lang}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def task_run(tmp_path_factory, smoke_run):
    """The session's smoke run with a user's task folder as its tasks stage: its results copied (file times kept)
    without the tasks stage's outputs, so that only that stage runs again."""
    out = tmp_path_factory.mktemp("tasks")
    folder = out / "my_tasks"
    write_task_folder(folder)
    cfg = {**smoke_run.cfg, "results": str(smoke_run.copy_results(out / "results"))}
    cfg["tasks"] = {
        "methods": ["lape"],
        "tasks": {"mine_en": "en", "mine_zh": "zh"},
        "include_path": [str(folder)],
        "conditions": ["normal", "deactivated"],
    }
    path = out / "tasks.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    results = out / "results" / smoke_run.model
    for made in [*(results / "tasks").glob("lape.*"), results / "figures" / "tasks_lape.png"]:
        made.unlink()
    run = subprocess.run(
        ["snakemake", "--cores", "2", "--configfile", str(path), "--", str(results / "tasks" / "lape.csv")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ran = set(re.findall(r"^(?:local)?rule (\w+):$", run.stdout + run.stderr, re.M))
    assert ran == {"tasks"}, f"more than the tasks stage ran again: {ran}"
    return cfg, results, folder, smoke_run.resources / "models" / smoke_run.model


def direct(lm, folder, plan=None):
    """The harness run directly on the model: HFLM around it, the user's folder as include path, the hooks set."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    hflm = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=4)  # smoke: batch_size 4
    manager = TaskManager(include_path=str(folder), include_defaults=False)
    kwargs = dict(tasks=["mine_en", "mine_zh"], task_manager=manager, log_samples=True, bootstrap_iters=1000)
    seeds = dict(random_seed=1234, numpy_random_seed=1234, torch_random_seed=1234, fewshot_random_seed=1234)
    if plan is None:  # no hook at all: the plain harness
        return simple_evaluate(model=hflm, **kwargs, **seeds)
    with NeuronHooks(lm) as hooks:
        hooks.set_plan(plan)
        return simple_evaluate(model=hflm, **kwargs, **seeds)


def loglikelihoods(samples):
    return {s["doc_id"]: [r[0][0] for r in s["resps"]] for s in samples}


def logged(results):
    with gzip.open(results / "tasks" / "lape.samples.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_the_table_equals_the_harness_run_directly_with_the_same_hooks(task_run):
    cfg, results, folder, model_dir = task_run
    torch.set_num_threads(2)  # as the job ran (--cores 2)
    table = pd.read_csv(results / "tasks" / "lape.csv")
    assert set(table["condition"]) == {"normal", "en", "zh", "fr"} and set(table["task"]) == {"mine_en", "mine_zh"}
    lm = load_prepared(model_dir)
    neurons = load_neurons(results / "neurons" / "lape.neuron.pth", cfg["languages"])
    lines = logged(results)
    # two conditions: normal (no hook at all: the plain harness) and en's neurons deactivated (the tiny model's LAPE
    # finds none for zh, whose characters are several byte tokens each)
    assert sum(len(layer) for layer in neurons[cfg["languages"].index("en")]) > 0
    for condition, plan in (("normal", None), ("en", deactivation_plan(neurons[cfg["languages"].index("en")]))):
        got = direct(lm, folder, plan)
        for task in ("mine_en", "mine_zh"):
            row = table[(table["condition"] == condition) & (table["task"] == task)].iloc[0]
            assert row["metric"] == "acc,none" and bool(row["primary"])
            assert row["value"] == pytest.approx(got["results"][task]["acc,none"], abs=1e-12)
            assert row["stderr"] == pytest.approx(got["results"][task]["acc_stderr,none"], abs=1e-6)
            mine = [s for s in lines if s["condition"] == condition and s["task"] == task]
            assert loglikelihoods(mine) == loglikelihoods(got["samples"][task])  # the same numbers, per sample
    # the hooks acted: deactivating en's neurons changed the model's loglikelihoods
    normal = [s for s in lines if s["condition"] == "normal" and s["task"] == "mine_en"]
    en_off = [s for s in lines if s["condition"] == "en" and s["task"] == "mine_en"]
    assert loglikelihoods(normal) != loglikelihoods(en_off)


def test_outputs_change_from_normal_and_specificity(task_run):
    cfg, results, _, _ = task_run
    table = pd.read_csv(results / "tasks" / "lape.csv")
    normal = table[table["condition"] == "normal"].set_index("task")["value"]
    for r in table.itertuples():
        assert r.normal == pytest.approx(normal[r.task]) and r.delta == pytest.approx(r.value - r.normal)
        assert r.delta_lo <= r.delta + 1e-9 <= r.delta_hi + 2e-9 and r.n == 6
    spec = pd.read_csv(results / "tasks" / "lape.specificity.csv", index_col="deactivated")
    assert list(spec.index) == ["en", "zh"]  # fr has no task: no row
    harness = json.loads((results / "tasks" / "lape.harness.json").read_text())
    assert set(harness) == {"normal", "en", "zh", "fr"} and "mine_en" in harness["normal"]["configs"]
    assert (results / "figures" / "tasks_lape.png").stat().st_size > 1000


def test_a_task_whose_data_is_missing_offline_stops_the_job_in_one_line(task_run, tmp_path):
    """The finished run's config with a harness task whose data is not cached: only the tasks job reruns, and it
    stops in its first seconds (before loading the model) with one line naming the task and the offline setting."""
    cfg, results, _, _ = task_run
    cfg = {**cfg, "tasks": {**cfg["tasks"], "tasks": {"xnli_fr": "fr"}}}
    path = tmp_path / "offline.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        ["snakemake", "--cores", "2", "--configfile", str(path), "--", str(results / "tasks" / "lape.csv")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if line.startswith("error in rule tasks:")]
    # one line (on the terminal, and again where Snakemake prints the job's log)
    assert len(set(lines)) == 1 and "task xnli_fr" in lines[0] and "HF_DATASETS_OFFLINE=1" in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    log = (results.parent / "logs" / "tasks" / "tiny-llama" / "lape.log").read_text()
    assert "harness batch size" not in log  # the model was never loaded
