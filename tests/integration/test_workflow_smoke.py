"""The whole workflow on configs/smoke.yaml (tiny random model, tiny budgets), end to end.

The run itself is the session fixture ``smoke_run`` (tests/conftest.py), shared with the tests that reuse its
results (the openai judge, Slurm).
"""

import json
import re
import subprocess

import pandas as pd
import pytest
import torch
import yaml

from langneurons.activations import load_stats, merge_stats
from langneurons.neuronsets import load_neurons
from langneurons.paths import Results
from langneurons.report import SECTIONS

from ..conftest import REPO, SmokeRun

pytestmark = pytest.mark.integration


def test_neuron_files_for_every_method_and_language(smoke_run):
    cfg, results = smoke_run.cfg, smoke_run.model_results
    langs = cfg["languages"]
    for method in cfg["selection"]["methods"]:
        neurons = load_neurons(results / "neurons" / f"{method}.neuron.pth")
        assert len(neurons) == len(langs) and all(len(per_layer) == 2 for per_layer in neurons)
        counts = pd.read_csv(results / "neurons" / f"{method}.counts.csv", index_col="layer")
        assert list(counts.columns) == langs + ["total"]
        assert counts[langs].to_numpy().sum() == sum(len(i) for pl in neurons for i in pl)
    lape = pd.read_csv(results / "neurons" / "lape.counts.csv", index_col="layer")
    random = pd.read_csv(results / "neurons" / "random.counts.csv", index_col="layer")
    assert lape.equals(random)  # random keeps LAPE's per-layer counts


def test_shards_merge_into_language_stats(smoke_run):
    cfg, results = smoke_run.cfg, smoke_run.model_results
    shards = cfg["counting"]["shards"]
    for lang in cfg["languages"]:
        parts = [load_stats(results / "stats" / "shards" / f"{lang}.{i}.pt") for i in range(shards)]
        merged = load_stats(results / "stats" / f"{lang}.pt")
        again = merge_stats(parts)
        assert merged["n"] == again["n"] > 0
        assert torch.equal(merged["over_zero"], again["over_zero"])
        assert torch.equal(merged["sum"], again["sum"])


def test_every_rule_logged_and_benchmarked(smoke_run):
    from langneurons.report import stage_times
    from langneurons.report.provenance import STAGE_ORDER

    cfg, results = smoke_run.cfg, smoke_run.model_results
    # every stage of the pipeline but those the smoke config does not run (and the report, still running here)
    expected = set(STAGE_ORDER) - {"wikipedia_corpus", "import_neurons", "compare_neurons", "report"}
    logs = list((results.parent / "logs").rglob("*.log"))
    assert expected <= {p.relative_to(results.parent / "logs").parts[0].removesuffix(".log") for p in logs}
    # time and peak memory of every job, as the report and bench/pipeline.py read them
    stages = {s["stage"]: s for s in stage_times(results.parent, list(cfg["models"]), skip=())}
    assert expected | {"report"} <= set(stages)
    assert stages["count_activations"]["jobs"] == len(cfg["languages"]) * cfg["counting"]["shards"]
    assert stages["pv_tune"]["jobs"] == len(cfg["languages"])
    assert all(s["job_seconds"] > 0 and s["peak_mb"] < 8192 for s in stages.values())
    assert all(stages[rule]["peak_mb"] > 100 for rule in ("count_activations", "perplexity", "generate"))  # torch


def test_rerun_has_nothing_to_do(smoke_run):
    path = smoke_run.config
    run = subprocess.run(
        ["snakemake", "-n", "--cores", "2", "--configfile", str(path)], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


def _dry_run_with_model_settings(smoke_run: SmokeRun, tmp_path, **settings) -> set[str]:
    """The rules a dry run would run after changing ``settings`` of every model."""
    cfg = smoke_run.cfg
    changed = {**cfg, "models": {name: {**model, **settings} for name, model in cfg["models"].items()}}
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(changed))
    run = subprocess.run(
        ["snakemake", "-n", "--cores", "2", "--configfile", str(path)], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return set(re.findall(r"^(?:local)?rule (\w+):", run.stdout + run.stderr, flags=re.M))


def test_run_settings_do_not_redo_finished_work(smoke_run, tmp_path):
    # batch size, placement and cluster resources say how a job runs, not what it computes
    rules = _dry_run_with_model_settings(
        smoke_run, tmp_path, batch_size=2, device_map="auto", gpus=2, mem_mb=64000, runtime=600
    )
    assert rules <= {"report", "all"}  # the report records the whole config (3 s)
    # a setting that changes the results still reruns what depends on it
    rules = _dry_run_with_model_settings(smoke_run, tmp_path, seq_len=32)
    assert {"tokenize", "count_activations", "perplexity"} <= rules and "prepare_model" not in rules


def test_generation_and_steering_tables(smoke_run):
    cfg, results = smoke_run.cfg, smoke_run.model_results
    langs = cfg["languages"]
    for kind in ("quality", "language_accuracy"):
        table = pd.read_csv(results / "generation" / f"lape.{kind}.csv", index_col="condition")
        assert list(table.index) == ["normal", "random", *langs] and list(table.columns) == langs
    answers = pd.read_json(results / "generation" / "lape.answers.jsonl", lines=True)
    n_questions = cfg["questions"]["max_questions"]
    assert len(answers) == (2 + len(langs)) * len(langs) * n_questions
    assert {
        "model",
        "method",
        "condition",
        "language",
        "question_id",
        "question",
        "prompt",
        "answer",
        "expected_language",
        "lang_detected",
        "score",
        "score_missing",
    } <= set(answers.columns)
    assert answers["score"].between(1, 5).all()  # the local judge scored every answer
    control = pd.read_csv(results / "generation" / "lape.quality_control.csv", index_col="language")
    assert list(control.index) == langs and list(control.columns) == ["matched", "shuffled", "difference", "n"]
    assert (control["n"] == n_questions).all() and control[["matched", "shuffled"]].stack().between(1, 5).all()
    off = pd.read_csv(results / "steering" / "offtarget.csv", index_col="language")
    assert list(off.index) == langs
    cross = pd.read_csv(results / "steering" / "crosslingual.csv")
    pairs = cfg["steering"]["crosslingual_languages"]
    assert len(cross) == len(pairs) * (len(pairs) - 1)


def test_sweep_outputs(smoke_run):
    """The sweep on its held-out questions: every point per kind and target, one chosen setting each, which the
    main steering used; the dose-response's answers and perplexities; the figures."""
    cfg, results = smoke_run.cfg, smoke_run.model_results
    langs, sweep, pairs = cfg["languages"], cfg["steering"]["sweep"], cfg["steering"]["crosslingual_languages"]
    points = sum(len(v) for v in sweep["strengths"].values())

    def table(*parts):
        return pd.read_csv(results.joinpath(*parts), keep_default_na=False, na_values=[""])

    curves = table("steering", "sweep.csv")
    assert len(curves) == points * (len(langs) + len(pairs))
    per_target = {"offtarget": sweep["questions"], "crosslingual": (len(pairs) - 1) * sweep["questions"]}
    assert (curves["n"] == curves["kind"].map(per_target)).all()
    assert curves[["success", "repetition"]].stack().between(0, 1).all() and curves["quality"].between(1, 5).all()
    chosen = table("steering", "chosen.csv")
    assert sorted(zip(chosen["kind"], chosen["target"])) == sorted(
        [("offtarget", lang) for lang in langs] + [("crosslingual", lang) for lang in pairs]
    )
    setting = {(r.kind, r.target): (r.mode, r.strength) for r in chosen.itertuples()}
    steered = pd.read_json(results / "steering" / "answers.jsonl", lines=True)
    for r in steered[steered["target"].notna()].itertuples():  # the main steering ran with the chosen settings
        assert (r.mode, r.strength) == setting[r.kind, r.target]
    answers = pd.read_json(results / "steering" / "sweep.answers.jsonl", lines=True)
    held_out = {f"q{i:02d}" for i in range(41 - sweep["questions"], 41)}  # the last of the 40 bundled questions
    assert set(answers["question_id"]) == held_out and not held_out & set(steered["question_id"])
    assert {"score", "lang_detected", "repetition", "line_pass"} <= set(answers.columns)
    dose, ppl = table("steering", "deactivation.csv"), table("ppl", "deactivation.csv")
    shares = [0.0, *sweep["shares"]]
    for frame in (dose, ppl):
        assert list(zip(frame["language"], frame["share"])) == [(lang, s) for lang in langs for s in shares]
    assert (ppl[ppl["share"] == 0]["relative"] == 0).all() and (dose["n"] == sweep["questions"]).all()
    for name in ("sweep_offtarget", "sweep_crosslingual", "deactivation"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 0


def test_report_has_every_configured_section(smoke_run):
    """The page the report rule rendered from the real pipeline's files: every section has results."""
    cfg = smoke_run.cfg
    page = Results(cfg["results"]).path("report").read_text(encoding="utf-8")
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page, re.S))
    assert list(sections) == [key for key, _ in SECTIONS]
    for key, body in sections.items():
        # "Not run yet", "Configured, not run yet" and "figure not made yet" are all paragraphs of class missing
        assert 'class="missing"' not in body and "not run" not in body.lower(), key
        assert "<table" in body, key
    overview = re.search(r"<tbody>(.*?)</tbody>", sections["setup"], re.S).group(1)
    states = re.findall(r"<td[^>]*>(.*?)</td>", overview)
    assert states == ["done"] * (len(SECTIONS) - 1)  # one model: each result section done
    methods = cfg["selection"]["methods"]
    stability = 1 if {"lape", "lap", "lave"} & set(methods) else 0
    sweep = 2 + 1  # the sweep's curves (off-target, cross-lingual) and the deactivation dose-response
    tasks = len(cfg.get("tasks", {}).get("methods", ["lape"]))  # the schema's default: lape
    # layers, overlap, PPL per method; SES; stability; the sweep; the task heat map per task method
    assert page.count("<img ") == 3 * len(methods) + 1 + stability + sweep + tasks
    assert "How strongly to steer" in sections["steering"] and "Deactivation dose-response" in sections["steering"]
    assert "Downstream tasks" in sections["tasks"] and "langneurons_next_word_zh" in sections["tasks"]
    # uncertainty: the stability subsection, the random null, intervals in the PPL, generation and steering tables
    assert "How stable are these neurons?" in sections["neurons"] and "Split-half Jaccard" in sections["neurons"]
    assert "does the judge read the question?" in sections["generation"]
    assert re.search(
        r"shuffled control scores below the matched answers in \d+ of\s+\d+ languages", sections["generation"]
    )
    assert "Against the random null" in sections["ppl"] and "above every random draw" in sections["ppl"]
    for key in ("ppl", "tasks", "generation", "steering"):
        assert re.search(r"<td[^>]*>[^<]*\[[^<]*, [^<]*\][^<]*</td>", sections[key]), f"no interval in {key}"


def test_uncertainty_outputs(smoke_run):
    cfg, results = smoke_run.cfg, smoke_run.model_results
    langs = cfg["languages"]
    for method in ["lape", "lap", "lave"]:
        table = pd.read_csv(results / "neurons" / f"{method}.stability.csv")
        assert set(table["comparison"]) == {"split_half", "prefix"} and set(table["language"]) == set(langs)
        assert table["jaccard"].dropna().between(0, 1).all()
    assert (results / "figures" / "stability.png").stat().st_size > 0
    for method in cfg["selection"]["methods"]:
        ci = pd.read_csv(results / "ppl" / f"{method}.ci.csv")
        delta = pd.read_csv(results / "ppl" / f"{method}.delta.csv")
        assert len(ci) == len(delta) == len(langs) ** 2
        assert (ci["lo"] <= ci["relative"] + 1e-9).all() and (ci["relative"] <= ci["hi"] + 1e-9).all()
        assert ci["relative"].to_numpy() == pytest.approx(delta["relative"].to_numpy(), abs=1e-4)
    null = pd.read_csv(results / "ppl" / "null.csv")
    assert len(null) == len(cfg["selection"]["methods"]) * len(langs)
    assert (null["neurons"] == null["neurons_null"]).all()  # each method against draws of its own size
    tested = null[null["neurons"] > 0]
    assert tested["p_value"].between(1 / 20, 1).all() and set(tested["draws"]) == {19}
    assert (tested["min_p"] == 0.05).all() and (null[null["neurons"] == 0]["note"] == "no neurons").all()
    assert (tested[tested["method"] == "random"]["draws_like"] == "lape").all()  # LAPE's counts: LAPE's draws


def test_language_confusion_tables_and_corpus_check(smoke_run):
    cfg, results = smoke_run.cfg, smoke_run.model_results
    langs = cfg["languages"]
    confusion = pd.read_csv(results / "generation" / "lape.confusion.csv")
    assert list(confusion.columns) == ["metric", "condition", "language", "expected", "mean", "lo", "hi", "n"]
    assert {"accuracy", "lpr", "lcpr"} <= set(confusion["metric"]) and set(confusion["language"]) == set(langs)
    cells = confusion.pivot_table(index=["condition", "language"], columns="metric", values="mean")
    assert (cells["lpr"] <= cells["accuracy"] + 1e-9).all()  # LPR is never above language accuracy
    steering = pd.read_csv(results / "steering" / "confusion.csv")
    assert set(steering["kind"]) == {"offtarget", "crosslingual"}
    answers = pd.read_json(results / "generation" / "lape.answers.jsonl", lines=True)
    assert {"lines", "line_pass", "word_pass", "expected_share", "foreign_spans", "other_languages"} <= set(answers)
    for lang in langs:  # the bundled corpus: identified, nothing dropped
        check = json.loads((results.parent / "corpus" / f"{lang}.language_check.json").read_text())
        assert check["mode"] == "measure" and set(check["splits"]) == {"valid", "train"}
        assert sum(s["chars_dropped"] for s in check["splits"].values()) == 0
    page = (results.parent / "report" / "index.html").read_text()
    assert "LPR (line level)" in page and "Language of the corpus" in page
