"""Small results folders for the report tests, written by the workflow's own writer functions.

``build_results(root, models, complete)`` writes every stage's outputs for the
models in ``complete`` and only the neuron stage (neuron files and tables,
figures, statistics, tokens) for the others, and returns ``(results_dir,
config)`` with the config validated as the workflow validates it. Every path
comes from ``langneurons.paths``; tables come from the library functions the
rules call (``write_summaries``, ``specificity``, ``ses_table``,
``condition_table``...). Values are chosen so that rounding is visible: a
baseline perplexity of ``10.3456`` must show as ``10.35``, a relative change of
``0.5`` as ``+50.00%``, ``0.0123456`` as ``+1.23%``, a similarity of
``0.123456`` as ``0.123``, a mean judge score of 13/3 as ``4.33``.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from langneurons.activations import save_stats  # noqa: E402
from langneurons.config import validate_config  # noqa: E402
from langneurons.corpus import LanguageCheck, pack_tokens  # noqa: E402
from langneurons.evaluation import (  # noqa: E402
    condition_table,
    crosslingual_table,
    expected_language,
    offtarget_table,
)
from langneurons.io import atomic_write, write_jsonl  # noqa: E402
from langneurons.models.tiny import byte_tokenizer  # noqa: E402
from langneurons.neuronsets import save_neurons, write_summaries  # noqa: E402
from langneurons.paths import Results  # noqa: E402
from langneurons.perplexity import ppl_change, specificity  # noqa: E402
from langneurons.ses import ses_table  # noqa: E402
from langneurons.uncertainty import confusion_ci_table  # noqa: E402

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
LANGS = ["en", "zh", "fr"]
METHODS = ["lape", "lap", "lave", "random"]
GENERATION_METHODS = ["lape", "random"]
LAYERS, D_FF = 4, 32
OWN, OTHER = 0.5, 0.0123456  # relative PPL increase: own language, other languages
SIMILARITY = 0.123456  # SES at layer 0, + 0.1 per layer
QUESTIONS = 3
# judge scores per question: answers with the question language's own neurons deactivated score lower
SCORES, OWN_SCORES, STEERED_SCORES, CROSS_SCORES = [5, 4, 4], [1, 1, 2], [5, 5, 4], [3, 3, 2]
HOSTILE_ANSWER = "<script>alert('x')</script> & <b>bold</b>"
TEXT = "A sentence of plain text, long enough to fill a few sequences of bytes. " * 40


def validated(config: dict) -> dict:
    """The config as the workflow hands it to the report: validated, schema defaults filled in."""
    return validate_config(config, SCHEMA)


def tiny_png(path: Path, label: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2.4, 1.6))
    ax.bar([0, 1, 2], [1, 3, 2], color=["#1d4ed8", "#dc2626", "#16a34a"])
    ax.set_title(label, fontsize=7)
    fig.savefig(path, dpi=50)
    plt.close(fig)


def _write_benchmark(path: str, end: str, seconds: float, max_rss: float) -> None:
    """A Snakemake benchmark file of a job that ended at ``end`` (its modification time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds:.2f}\t0:00:00\t{max_rss:.2f}\t0\t0\t0\t0\t0\t0\t0\n"
    )
    stamp = datetime.datetime.strptime(end, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    os.utime(path, (stamp, stamp))


def _neurons(R: Results, model: str, langs: list[str], seed: int) -> None:
    """Neuron files and their tables for every method, figures, activation statistics and tokens."""
    rng = np.random.default_rng(seed)
    for method in METHODS:
        neurons = [
            [torch.as_tensor(np.sort(rng.choice(D_FF, rng.integers(0, 9), replace=False))) for _ in range(LAYERS)]
            for _ in langs
        ]
        where = {"model": model, "method": method}
        save_neurons(neurons, R.path("neurons", **where))
        write_summaries(
            neurons,
            langs,
            R.path("neuron_counts", **where),
            R.path("neuron_overlap", **where),
            R.path("neuron_jaccard", **where),
        )
        for kind in ("layers", "overlap"):
            tiny_png(R.path("model_figure", kind=kind, **where), f"{kind} {method}")
    tokenizer = byte_tokenizer()
    for i, lang in enumerate(langs):
        zeros = torch.zeros(LAYERS, D_FF, dtype=torch.int64)
        stats = {"n": 1000 + i, "over_zero": zeros, "sum": zeros.double()}
        save_stats(stats, R.path("stats", model=model, lang=lang), language=lang, model=model)
        for split, budget in (("train", 1024), ("valid", 256)):
            tokens = pack_tokens([TEXT], tokenizer, 64, budget, progress=False)
            with atomic_write(R.path("tokens", model=model, lang=lang, split=split), None) as tmp:
                torch.save(tokens, tmp)


def _ppl(R: Results, model: str, langs: list[str]) -> None:
    base = {lang: 10 + i + 0.3456 for i, lang in enumerate(langs)}
    for method in METHODS:
        own = OWN if method == "lape" else OTHER / 2  # only LAPE is language-specific here
        rows = {"none": base}
        for off in langs:
            rows[off] = {lang: base[lang] * (1 + (own if off == lang else OTHER)) for lang in langs}
        table = pd.DataFrame.from_dict(rows, orient="index")[langs]
        table.index.name = "deactivated"
        where = {"model": model, "method": method}
        R.path("ppl", **where).parent.mkdir(parents=True, exist_ok=True)  # Snakemake makes output folders
        table.to_csv(R.path("ppl", **where), float_format="%.4f")
        ppl_change(table).to_csv(R.path("ppl_delta", **where), index=False, float_format="%.5f")
        specificity(table).to_csv(R.path("ppl_specificity", **where), float_format="%.4f")
        tiny_png(R.path("model_figure", kind="ppl", **where), f"ppl {method}")


def _tasks(R: Results, model: str, langs: list[str]) -> None:
    """The tasks stage for LAPE: one task per language at 0.80 under normal; deactivating a language's neurons takes
    its own task to 0.30 (-0.50, interval -0.70 to -0.30) and the others' to 0.78 (-0.02)."""
    from langneurons.tasks import change_matrix, task_specificity

    rows = []
    for condition in ["normal", "random", *langs]:
        for lang in langs:
            value = 0.8 if condition in ("normal", "random") else 0.3 if condition == lang else 0.78
            delta = round(value - 0.8, 10)
            lo, hi = (delta - 0.2, delta + 0.2) if delta < -0.1 else (delta - 0.05, delta + 0.05)
            rows.append(
                {"condition": condition, "task": f"next_word_{lang}", "language": lang, "metric": "acc,none"}
                | {"primary": True, "higher_is_better": True, "value": value, "stderr": 0.0812345, "normal": 0.8}
                | {"delta": delta, "delta_lo": 0.0 if condition == "normal" else lo}
                | {"delta_hi": 0.0 if condition == "normal" else hi, "n": 24}
            )
    table = pd.DataFrame(rows)
    where = {"model": model, "method": "lape"}
    R.path("task_table", **where).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(R.path("task_table", **where), index=False)
    task_specificity(table, langs).to_csv(R.path("task_specificity", **where))
    assert change_matrix(table, langs).shape == (len(langs) + 1, len(langs))
    tiny_png(R.path("task_figure", **where), "tasks lape")


def _ses(R: Results, model: str, langs: list[str]) -> None:
    """Pooled vectors whose pairwise cosine similarity is SIMILARITY + 0.1 x layer for every pair of languages."""
    per_layer = []
    for layer in range(LAYERS + 1):
        s = SIMILARITY + 0.1 * layer
        gram = (1 - s) * torch.eye(len(langs), dtype=torch.float64) + s
        per_layer.append(torch.linalg.cholesky(gram))  # row k: language k's unit vector
    vectors = torch.stack(per_layer)  # [layers, langs, d]
    pooled = {lang: vectors[:, k].float().unsqueeze(0) for k, lang in enumerate(langs)}  # [items, layers, d]
    ses_table(pooled).to_csv(R.path("ses", model=model), index=False, float_format="%.5f")


def _answer(model, method, condition, lang, qid, answer, detected, score, **extra) -> dict:
    record = {
        "model": model,
        "method": method,
        "condition": condition,
        "language": lang,
        "question_id": qid,
        "prompt": f"Q: Question {qid}? ({lang})\nA:",
        "answer": answer,
        **extra,
        "lang_detected": detected,
        "score": score,
        "score_missing": None,
    }
    record["expected_language"] = expected_language(record)
    record["in_expected_language"] = detected == record["expected_language"]
    # language confusion: the second question's answers have a line in another language, marked at its start
    record["line_pass"] = record["in_expected_language"] and qid != 1
    record["word_pass"] = record["line_pass"] if record["expected_language"] == "zh" else None
    record["lines"], record["lines_expected"] = 2, 2 - (qid == 1) - (not record["in_expected_language"])
    record["foreign_spans"] = [[0, 8, "en"]] if qid == 1 or not record["in_expected_language"] else []
    return record


def _generation(R: Results, model: str, langs: list[str]) -> dict[str, list[dict]]:
    """Judged answers and their tables, as the judge rule writes them; returns the answers per method."""
    answers = {}
    for method in GENERATION_METHODS:
        records = []
        for qid in range(QUESTIONS):
            for lang in langs:
                for cond in ["normal", "random", *langs]:
                    if cond == lang:  # own neurons deactivated: a low score, mostly in another language
                        other = langs[(langs.index(lang) + 1) % len(langs)]
                        detected = lang if qid == QUESTIONS - 1 else other
                        records.append(
                            _answer(model, method, cond, lang, qid, HOSTILE_ANSWER, detected, OWN_SCORES[qid])
                        )
                    else:
                        text = f"An answer in {lang} " * 40
                        records.append(_answer(model, method, cond, lang, qid, text, lang, SCORES[qid]))
        where = {"model": model, "method": method}
        write_jsonl(records, R.path("answers", **where))
        condition_table(records, langs, "score").to_csv(R.path("quality", **where), float_format="%.3f")
        accuracy = condition_table(records, langs, "in_expected_language")
        accuracy.to_csv(R.path("language_accuracy", **where), float_format="%.3f")
        confusion = confusion_ci_table(records, langs, 50, 0, 0.95)
        confusion.to_csv(R.path("confusion", **where), index=False, float_format="%.3f")
        answers[method] = records
    return answers


def _steering(R: Results, model: str, langs: list[str], normal: list[dict]) -> None:
    """Steered answers (off-target and cross-lingual) and their tables; ``normal``: generation's plain answers."""
    steered, cross = [], []
    for qid in range(QUESTIONS):
        for k, lang in enumerate(langs):
            detected = lang if qid < QUESTIONS - 1 else langs[(k + 1) % len(langs)]
            answer = f"Steered answer in {lang}.\x07"
            steered.append(
                _answer(model, "lape", "steered", lang, qid, answer, detected, STEERED_SCORES[qid], kind="offtarget")
            )
        for source in langs:
            cross.append(_answer(model, "lape", "unsteered", source, qid, "Unsteered.", source, 4, kind="crosslingual"))
            for target in langs:
                if target != source:
                    detected = target if qid == 0 else source
                    text = f"Steered from {source} to {target}."
                    extra = {"kind": "crosslingual", "target": target}
                    cross.append(
                        _answer(model, "lape", f"to_{target}", source, qid, text, detected, CROSS_SCORES[qid], **extra)
                    )
    write_jsonl(steered + cross, R.path("steering_answers", model=model))
    confusion = pd.concat(
        [
            confusion_ci_table(normal + steered, langs, 50, 0, 0.95).assign(kind="offtarget"),
            confusion_ci_table(cross, langs, 50, 0, 0.95).assign(kind="crosslingual"),
        ],
        ignore_index=True,
    )
    confusion.to_csv(R.path("steering_confusion", model=model), index=False, float_format="%.3f")
    offtarget_table(normal, steered, langs).to_csv(R.path("offtarget", model=model), float_format="%.3f")
    crosslingual_table(cross).to_csv(R.path("crosslingual", model=model), index=False, float_format="%.3f")


FOREIGN_PARAGRAPH = "The quick development of railways changed how people travelled across the whole country."


def _corpus_checks(R: Results, langs: list[str]) -> None:
    """The corpus stage's language check of each language, measured on two documents (the first also in English)."""
    for lang in langs:
        check = LanguageCheck(lang, langs, "measure")
        docs = [f"{FOREIGN_PARAGRAPH}\n\nText {lang}", f"Text {lang}"] if lang != "en" else ["Text en"]
        list(check.filter(docs))
        for split in ("valid", "train"):
            check.close_split(split, 1)
        path = R.path("corpus_check", lang=lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(check.summary()), encoding="utf-8")


def build_results(root, models=("model-a",), complete=None, languages=None, judge=True):
    """Write a results folder under ``root``; return (results_dir, validated config)."""
    results = Path(root)
    R = Results(results)
    langs = list(languages or LANGS)
    complete = list(models if complete is None else complete)
    config = validated(
        {
            "languages": langs,
            "results": str(results),
            "models": {m: {"source": "random", "seq_len": 64, "batch_size": 4} for m in models},
            "corpus": {"source": "bundled", "train_tokens": 1024, "valid_tokens": 256},
            "selection": {"methods": METHODS, "top_rate": 0.01},
            "ses": {"items": "questions", "max_items": 4},
            "generation": {"methods": GENERATION_METHODS},
            "steering": {"method": "lape", "crosslingual_languages": langs},
            "judge": {"backend": "local" if judge else "none"},
        }
    )
    for k, model in enumerate(models):
        _neurons(R, model, langs, seed=k)
        _write_benchmark(R.benchmark("select_neurons", f"{model}/lape"), "2026-01-01 10:00:02.500", 2.5, 812.0)
        if model in complete:
            _ppl(R, model, langs)
            _tasks(R, model, langs)
            _ses(R, model, langs)
            answers = _generation(R, model, langs)
            normal = [r for r in answers[GENERATION_METHODS[0]] if r["condition"] == "normal"]
            _steering(R, model, langs, normal)
            _write_benchmark(R.benchmark("perplexity", model), "2026-01-01 11:03:05.000", 3725.0, 3481.6)
    if complete:
        _corpus_checks(R, langs)
        tiny_png(R.path("ses_figure"), "ses")
        _write_benchmark(R.benchmark("ses_figure"), "2026-01-01 11:04:01.250", 1.25, 150.0)
    return results, config
