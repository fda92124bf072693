"""Small, hand-made results folders for the report tests (CSVs, tiny PNGs, stats, tokens, benchmark files).

``build_results(root, models, complete)`` writes every stage's outputs for the
models in ``complete`` and only the neuron stage (tables, figures, statistics,
tokens) for the others, and returns ``(results_dir, config)``. Values are
chosen so that rounding is visible: a baseline perplexity of ``10.3456`` must
show as ``10.35``, a relative change of ``0.5`` as ``+50.00%``, ``0.0123456``
as ``+1.23%``, a similarity of ``0.123456`` as ``0.123``.
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

LANGS = ["en", "zh", "fr"]
METHODS = ["lape", "lap", "lave", "random"]
LAYERS, D_FF = 4, 32
OWN, OTHER = 0.5, 0.0123456  # relative PPL increase: own language, other languages
SIMILARITY = 0.123456
HOSTILE_ANSWER = "<script>alert('x')</script> & <b>bold</b>"


def tiny_png(path: Path, label: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(2.4, 1.6))
    ax.bar([0, 1, 2], [1, 3, 2], color=["#1d4ed8", "#dc2626", "#16a34a"])
    ax.set_title(label, fontsize=7)
    fig.savefig(path, dpi=50)
    plt.close(fig)


def _write_benchmark(path: Path, end: str, seconds: float, max_rss: float) -> None:
    """A Snakemake benchmark file of a job that ended at ``end`` (its modification time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        f"{seconds:.2f}\t0:00:00\t{max_rss:.2f}\t0\t0\t0\t0\t0\t0\t0\n"
    )
    stamp = datetime.datetime.strptime(end, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    os.utime(path, (stamp, stamp))


def _neurons(mdir: Path, langs: list[str], methods: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    (mdir / "neurons").mkdir(parents=True, exist_ok=True)
    for method in methods:
        counts = pd.DataFrame(
            rng.integers(0, 9, size=(LAYERS, len(langs))), columns=langs, index=pd.RangeIndex(LAYERS, name="layer")
        )
        counts["total"] = counts.sum(axis=1)
        counts.to_csv(mdir / "neurons" / f"{method}.counts.csv")
        own = counts[langs].sum().to_numpy()
        shared = np.minimum.outer(own, own) // 3
        np.fill_diagonal(shared, own)
        overlap = pd.DataFrame(shared, index=pd.Index(langs, name="language"), columns=langs)
        union = np.add.outer(own, own) - shared
        jaccard = pd.DataFrame(
            np.where(union > 0, shared / np.maximum(union, 1), 0.0),
            index=pd.Index(langs, name="language"),
            columns=langs,
        )
        overlap.to_csv(mdir / "neurons" / f"{method}.overlap.csv")
        jaccard.to_csv(mdir / "neurons" / f"{method}.jaccard.csv", float_format="%.4f")
        tiny_png(mdir / "figures" / f"layers_{method}.png", f"layers {method}")
        tiny_png(mdir / "figures" / f"overlap_{method}.png", f"overlap {method}")
    for i, lang in enumerate(langs):
        (mdir / "stats").mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "n": 1000 + i,
                "over_zero": torch.zeros(LAYERS, D_FF, dtype=torch.int64),
                "sum": torch.zeros(LAYERS, D_FF, dtype=torch.float64),
                "language": lang,
                "model": mdir.name,
            },
            mdir / "stats" / f"{lang}.pt",
        )
        (mdir / "tokens").mkdir(parents=True, exist_ok=True)
        for split, n in (("train", 1024 + i), ("valid", 256 + i)):
            torch.save(
                {
                    "sequences": torch.zeros(n // 64, 64, dtype=torch.int64),
                    "remainder": torch.zeros(0),
                    "seq_len": 64,
                    "bos": 1,
                    "n_tokens": n,
                    "n_documents": 2,
                },
                mdir / "tokens" / f"{lang}.{split}.pt",
            )


def _ppl(mdir: Path, langs: list[str], methods: list[str]) -> None:
    (mdir / "ppl").mkdir(parents=True, exist_ok=True)
    base = {lang: 10 + i + 0.3456 for i, lang in enumerate(langs)}
    for method in methods:
        own = OWN if method == "lape" else OTHER / 2  # only LAPE is language-specific here
        rows = {"none": base}
        for off in langs:
            rows[off] = {lang: base[lang] * (1 + (own if off == lang else OTHER)) for lang in langs}
        table = pd.DataFrame.from_dict(rows, orient="index")[langs]
        table.index.name = "deactivated"
        table.to_csv(mdir / "ppl" / f"{method}.csv", float_format="%.4f")
        rel = table.drop(index="none") / table.loc["none"] - 1
        delta = [
            {
                "deactivated": off,
                "evaluated": lang,
                "ppl": table.loc[off, lang],
                "ppl_none": base[lang],
                "delta": table.loc[off, lang] - base[lang],
                "relative": rel.loc[off, lang],
            }
            for off in langs
            for lang in langs
        ]
        pd.DataFrame(delta).to_csv(mdir / "ppl" / f"{method}.delta.csv", index=False, float_format="%.5f")
        spec = pd.DataFrame(
            [
                {
                    "deactivated": off,
                    "own_increase": rel.loc[off, off],
                    "max_other_increase": rel.loc[off].drop(off).max(),
                    "mean_other_increase": rel.loc[off].drop(off).mean(),
                    "own_is_largest": bool(rel.loc[off, off] > rel.loc[off].drop(off).max()),
                    "ratio": rel.loc[off, off] / max(rel.loc[off].drop(off).mean(), 1e-3),
                }
                for off in langs
            ]
        ).set_index("deactivated")
        spec.to_csv(mdir / "ppl" / f"{method}.specificity.csv", float_format="%.4f")
        tiny_png(mdir / "figures" / f"ppl_{method}.png", f"ppl {method}")


def _ses(mdir: Path, langs: list[str]) -> None:
    rows = []
    pairs = [(a, b) for i, a in enumerate(langs) for b in langs[i + 1 :]]
    for a, b in pairs:
        rows += [
            {"layer": layer, "lang_a": a, "lang_b": b, "similarity": SIMILARITY + 0.1 * layer}
            for layer in range(LAYERS + 1)
        ]
    rows += [
        {"layer": layer, "lang_a": "all", "lang_b": "all", "similarity": SIMILARITY + 0.1 * layer}
        for layer in range(LAYERS + 1)
    ]
    pd.DataFrame(rows).to_csv(mdir / "ses.csv", index=False, float_format="%.6f")


def _generation(mdir: Path, langs: list[str], methods: list[str]) -> None:
    gdir = mdir / "generation"
    gdir.mkdir(parents=True, exist_ok=True)
    conditions = ["normal", "random", *langs]
    for method in methods:
        quality = pd.DataFrame(
            [[4.456 if c in ("normal", "random") or c != q else 1.345 for q in langs] for c in conditions],
            index=pd.Index(conditions, name="condition"),
            columns=langs,
        )
        accuracy = pd.DataFrame(
            [[1.0 if c != q else 0.25 for q in langs] for c in conditions],
            index=pd.Index(conditions, name="condition"),
            columns=langs,
        )
        quality.to_csv(gdir / f"{method}.quality.csv")
        accuracy.to_csv(gdir / f"{method}.language_accuracy.csv")
        with (gdir / f"{method}.answers.jsonl").open("w", encoding="utf-8") as fh:
            for qid in (0, 1):
                for lang in langs:
                    for cond in conditions:
                        answer = HOSTILE_ANSWER if cond == lang else f"An answer in {lang} " * 40
                        fh.write(
                            json.dumps(
                                {
                                    "model": mdir.name,
                                    "method": method,
                                    "condition": cond,
                                    "language": lang,
                                    "question_id": qid,
                                    "prompt": f"Question {qid}?",
                                    "answer": answer,
                                    "lang_detected": lang if cond != lang else "en",
                                    "score": 4.0 if cond != lang else 1.0,
                                }
                            )
                            + "\n"
                        )


def _steering(mdir: Path, langs: list[str]) -> None:
    sdir = mdir / "steering"
    sdir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "accuracy_normal": [0.5] * len(langs),
            "accuracy_steered": [0.875] * len(langs),
            "quality_normal": [6.1234] * len(langs),
            "quality_steered": [6.5678] * len(langs),
        },
        index=pd.Index(langs, name="language"),
    ).to_csv(sdir / "offtarget.csv")
    pairs = [(s, t) for s in langs for t in langs if s != t]
    pd.DataFrame(
        [
            {
                "source": s,
                "target": t,
                "share_target_steered": 0.75,
                "share_target_unsteered": 0.0,
                "share_source_steered": 0.25,
                "quality_steered": 3.14159,
            }
            for s, t in pairs
        ]
    ).to_csv(sdir / "crosslingual.csv", index=False, float_format="%.3f")
    with (sdir / "answers.jsonl").open("w", encoding="utf-8") as fh:
        for lang in langs:
            fh.write(
                json.dumps(
                    {
                        "model": mdir.name,
                        "method": "lape",
                        "kind": "offtarget",
                        "condition": "steered",
                        "language": lang,
                        "question_id": "q01",
                        "prompt": f"Q: Why? ({lang})\nA:",
                        "answer": f"Steered answer in {lang}.\x07",
                        "lang_detected": lang,
                        "in_expected_language": True,
                        "score": 4.0,
                        "score_missing": None,
                    }
                )
                + "\n"
            )
        for s, t in pairs:
            fh.write(
                json.dumps(
                    {
                        "model": mdir.name,
                        "method": "lape",
                        "kind": "crosslingual",
                        "condition": f"to_{t}",
                        "language": s,
                        "question_id": "q01",
                        "prompt": "Q: Why?\nA:",
                        "answer": f"Steered from {s} to {t}.",
                        "target": t,
                        "lang_detected": t,
                        "in_expected_language": True,
                        "score": 3.0,
                        "score_missing": None,
                    }
                )
                + "\n"
            )


def build_results(root, models=("model-a",), complete=None, languages=None, judge=True):
    """Write a results folder under ``root``; return (results_dir, config)."""
    results = Path(root)
    langs = list(languages or LANGS)
    complete = list(models if complete is None else complete)
    config = {
        "languages": langs,
        "results": str(results),
        "models": {
            m: {"source": "random", "path": None, "dtype": "auto", "seq_len": 64, "batch_size": 4} for m in models
        },
        "corpus": {"source": "bundled", "train_tokens": 1024, "valid_tokens": 256},
        "counting": {"shards": 1},
        "selection": {
            "methods": METHODS,
            "top_rate": 0.01,
            "filter_rate": 0.95,
            "activation_bar_ratio": 0.95,
            "seed": 0,
        },
        "perplexity": {"methods": None},
        "ses": {"items": "questions", "max_items": 4},
    }
    config["generation"] = {"methods": ["lape", "random"]}
    config["steering"] = {"method": "lape", "mode": "replace", "strength": 1.0}
    config["judge"] = {"backend": "local", "model": None} if judge else {"backend": "none"}
    for k, model in enumerate(models):
        mdir = results / model
        _neurons(mdir, langs, METHODS, seed=k)
        _write_benchmark(
            results / "benchmarks" / "select_neurons" / model / "lape.tsv", "2026-01-01 10:00:02.500", 2.5, 812.0
        )
        if model in complete:
            _ppl(mdir, langs, METHODS)
            _ses(mdir, langs)
            _generation(mdir, langs, ["lape", "random"])
            _steering(mdir, langs)
            _write_benchmark(
                results / "benchmarks" / "perplexity" / f"{model}.tsv", "2026-01-01 11:03:05.000", 3725.0, 3481.6
            )
    if complete:
        tiny_png(results / "figures" / "ses.png", "ses")
        _write_benchmark(results / "benchmarks" / "ses_figure.tsv", "2026-01-01 11:04:01.250", 1.25, 150.0)
    return results, config
