"""Scale: corpus -> tokenize -> count -> merge at growing token budgets, for one language.

    python bench/scale.py [--budgets 1e6 1e7 1e8] [--shards 4] [--work /tmp/scale] [--out bench/scale]

A local Wikipedia-layout dataset (``{snapshot}.{lang}/*.parquet``, generated
words) goes through the same library calls the workflow's scripts make: the
Wikipedia source of ``corpus_splits`` (streamed with ``datasets``, stopped at
the token budget of the model's tokenizer), ``pack_tokens``,
``collect_stats_in_parts`` per shard (with the stability part statistics, as
the count job) and ``merge_stats``, with the tiny random model
(``source: random``, byte tokenizer). Every stage runs in its own child
process, so its peak resident memory (VmHWM, read by the child itself), wall
time and CPU time are its own. A ``baseline`` child imports what the tokenize
stage imports and loads the tokenizer, without data: the fixed part of that
stage's memory, against which its growth with the budget is measured.

At each budget the merged statistics are checked against one count of all the
sequences in a single job (another batch size): the counts must be equal.

Writes ``results.json`` (appended to as each budget finishes) in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

LANG = "en"
SNAPSHOT = "20231101"
VALID_TOKENS = 65_536
SEQ_LEN = 64  # short sequences: attention dominates the tiny model's cost per token
BATCH = 512  # sequences per counting batch (32k tokens)
CHECK_BATCH = 384  # the single-job check uses another batch size
MODEL = {"architecture": "LlamaForCausalLM", "hidden_size": 32, "num_layers": 1, "d_ff": 64, "seed": 0}


# --------------------------------------------------------------------------- data and model
def make_dataset(folder: Path, n_chars: int, seed: int = 0, files: int = 16) -> None:
    """Wikipedia-like articles of random words, ``n_chars`` characters in all, in ``files`` parquet files."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, size=n)) for n in rng.integers(2, 11, size=4096)]
    out = folder / f"{SNAPSHOT}.{LANG}"
    out.mkdir(parents=True, exist_ok=True)
    per_file = n_chars // files + 1
    doc_id = 0
    for f in range(files):
        texts, size = [], 0
        while size < per_file:
            words = rng.integers(0, len(vocab), size=int(rng.integers(150, 900)))
            text = f"Article {doc_id}. " + " ".join(vocab[i] for i in words) + "."
            texts.append(text)
            size += len(text)
            doc_id += 1
        table = pa.table({"id": [str(i) for i in range(doc_id - len(texts), doc_id)], "title": ["t"] * len(texts)})
        table = table.append_column("text", pa.array(texts))
        pq.write_table(table, out / f"train-{f:05d}-of-{files:05d}.parquet")


def stage_prepare(work: Path, max_budget: int, **_) -> dict:
    """The model and the dataset; returns the default run's ``uncertainty.stability_parts`` for the count stages."""
    import yaml

    from langneurons.config import validate_config
    from langneurons.models import prepare_model

    if not (work / "model" / "model.json").is_file():
        prepare_model({"source": "random", "random": MODEL}, work / "model")
    wiki = work / "wiki"
    if not (wiki / f"{SNAPSHOT}.{LANG}").is_dir():
        make_dataset(wiki, int(1.03 * (max_budget + VALID_TOKENS)))  # one byte token per ASCII character
    root = Path(__file__).resolve().parent.parent
    config = validate_config(
        yaml.safe_load((root / "config.yaml").read_text()), root / "workflow/schemas/config.schema.yaml"
    )
    return {"stability_parts": config["uncertainty"]["stability_parts"]}


# --------------------------------------------------------------------------- stages (each in a child process)
def run_dir(work: Path, budget: int) -> Path:
    return work / f"run-{budget}"


def stage_baseline(work: Path, **_) -> dict:
    """The tokenize stage without data: imports and the tokenizer, the fixed part of its memory."""
    import torch  # noqa: F401

    from langneurons.corpus import pack_tokens, prepared_tokenizer  # noqa: F401
    from langneurons.io import atomic_write, iter_jsonl  # noqa: F401

    prepared_tokenizer(work / "model" / "model.json")
    return {}


def stage_corpus(work: Path, budget: int, **_) -> dict:
    from langneurons.corpus import corpus_splits, prepared_tokenizer, write_documents

    cfg = {
        "source": "wikipedia",
        "train_tokens": budget,
        "valid_tokens": VALID_TOKENS,
        "wikipedia": {"dataset": str(work / "wiki"), "snapshot": SNAPSHOT, "seed": 0},
    }
    tokenizer = prepared_tokenizer(work / "model" / "model.json")
    out = run_dir(work, budget)
    return {
        f"{split}_documents": write_documents(docs, out / f"{split}.jsonl", progress=False)
        for split, docs in corpus_splits(cfg, LANG, tokenizer, SEQ_LEN)
    }


def stage_tokenize(work: Path, budget: int, split: str = "train", **_) -> dict:
    import torch

    from langneurons.corpus import check_token_count, pack_tokens, prepared_tokenizer
    from langneurons.io import atomic_write, iter_jsonl

    out = run_dir(work, budget)
    tokenizer = prepared_tokenizer(work / "model" / "model.json")
    want = budget if split == "train" else VALID_TOKENS
    docs = (row["text"] for row in iter_jsonl(out / f"{split}.jsonl", required={"text": str}))
    tokens = pack_tokens(docs, tokenizer, SEQ_LEN, want, progress=False)
    check_token_count(tokens["n_tokens"], want, want, LANG, split, out / f"{split}.jsonl")  # the whole budget
    with atomic_write(out / f"{split}.pt", None) as tmp:
        torch.save(tokens, tmp)
    array = tokens["sequences"].numel() * tokens["sequences"].element_size()
    return {"n_tokens": tokens["n_tokens"], "array_bytes": array, "n_documents": tokens["n_documents"]}


def stage_count(
    work: Path, budget: int, shard: int, shards: int, stability_parts: int, batch: int = BATCH, name: str = "", **_
) -> dict:
    import torch

    torch.set_num_threads(1)
    from langneurons.activations import collect_stats_in_parts, save_stats
    from langneurons.corpus import load_tokens
    from langneurons.models import load_prepared

    out = run_dir(work, budget)
    lm = load_prepared(work / "model", device="cpu", dtype="float32")
    # as the workflow's count job: the same pass also keeps the stability part statistics
    tokens = load_tokens(out / "train.pt")
    stats, pieces = collect_stats_in_parts(lm, tokens, batch, shard, shards, stability_parts, progress=False)
    name = name or f"{shard}-of-{shards}"
    save_stats(stats, out / f"stats.{name}.pt")
    save_stats({"parts": pieces}, out / f"parts.{name}.pt")
    return {"n": stats["n"], "parts": len(pieces)}


def stage_merge(work: Path, budget: int, shards: int, **_) -> dict:
    from langneurons.activations import load_stats, merge_stats, save_stats

    out = run_dir(work, budget)
    merged = merge_stats([load_stats(out / f"stats.{s}-of-{shards}.pt") for s in range(shards)])
    save_stats(merged, out / "stats.pt")
    return {"n": merged["n"]}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM): its own, unlike ru_maxrss, which keeps the parent's at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def stage_check(work: Path, budget: int, shards: int, **_) -> dict:
    """Merged shard statistics against one job over every sequence: counts equal, sums close.

    The shards' part statistics (the stability analysis' input) must tile the
    tokens and add up to the same counts.
    """
    import torch

    from langneurons.activations import load_stats
    from langneurons.uncertainty import load_parts

    out = run_dir(work, budget)
    merged, whole = load_stats(out / "stats.pt"), load_stats(out / "stats.whole.pt")
    relative = ((merged["sum"] - whole["sum"]).abs() / whole["sum"].abs().clamp_min(1e-12)).max().item()
    pieces = load_parts([out / f"parts.{s}-of-{shards}.pt" for s in range(shards)])
    return {
        "n_equal": merged["n"] == whole["n"] == budget,
        "over_zero_equal": bool(torch.equal(merged["over_zero"], whole["over_zero"])),
        "sum_max_relative_difference": relative,
        "part_pieces": len(pieces),
        "parts_over_zero_equal": bool(torch.equal(sum(p["over_zero"] for p in pieces), whole["over_zero"])),
    }


STAGES = {
    f.__name__.removeprefix("stage_"): f
    for f in (stage_prepare, stage_baseline, stage_corpus, stage_tokenize, stage_count, stage_merge, stage_check)
}


def measure(stage: str, **kwargs) -> dict:
    """Run one stage in a child process: its wall and CPU seconds, peak resident memory and result.

    The parent imports nothing heavy (no torch), so it stays small.
    """
    args = json.dumps({"stage": stage, **{k: str(v) if isinstance(v, Path) else v for k, v in kwargs.items()}})
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--stage", args], stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"stage {stage} {kwargs} failed with exit status {child.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    return {
        "stage": stage,
        **{k: v for k, v in kwargs.items() if k != "work"},
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        **result,
    }


def render(results: dict) -> str:
    """Markdown tables: per stage and budget, time, throughput and peak memory; the growth 10M -> 100M."""
    budgets = sorted(int(b) for b in results if b.isdigit())
    stages = [
        ("corpus", "corpus (Wikipedia source)"),
        ("tokenize", "tokenize (train)"),
        ("count", "count (all shards)"),
    ]
    stages += [("merge", "merge"), ("whole", "count (one job, check)")]

    def rows_of(budget, stage):
        rows = results[str(budget)]["stages"]
        if stage == "whole":
            return [r for r in rows if r.get("name") == "whole"]
        if stage == "count":
            return [r for r in rows if r["stage"] == "count" and not r.get("name")]
        return [r for r in rows if r["stage"] == stage and r.get("split", "train") == "train"]

    def totals(budget, stage):
        rows = rows_of(budget, stage)
        return sum(r["wall_s"] for r in rows), sum(r["cpu_s"] for r in rows), max(r["peak_rss_mb"] for r in rows)

    lines = [
        "| stage | tokens | wall s | CPU s | tokens / wall s | tokens / CPU s | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for stage, label in stages:
        for budget in budgets:
            wall, cpu, peak = totals(budget, stage)
            cells = [f"{budget / 1e6:g}M", f"{wall:.0f}", f"{cpu:.0f}", f"{budget / wall:,.0f}", f"{budget / cpu:,.0f}"]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {peak:.0f} |")
    if 10_000_000 in budgets and 100_000_000 in budgets:
        lines += [
            "",
            "| stage | wall 100M / 10M | CPU 100M / 10M | peak 100M - 10M (MB) |",
            "| --- | --- | --- | --- |",
        ]
        for stage, label in stages:
            (w1, c1, m1), (w2, c2, m2) = totals(10_000_000, stage), totals(100_000_000, stage)
            lines.append(f"| {label} | {w2 / w1:.1f}x | {c2 / c1:.1f}x | {m2 - m1:+.0f} |")
    base = results["baseline"]["peak_rss_mb"]
    lines += [
        "",
        f"Memory bound (the tokenize process without data: {base:.0f} MB) and exactness of the shards:",
        "",
        "| tokens | token array MB | tokenize peak / (array + baseline) | merge peak MB | merged = one job"
        " (n, over_zero) | part pieces: tile, sum = counts | sum: max relative difference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for budget in budgets:
        tokenize = rows_of(budget, "tokenize")[0]
        array = tokenize["array_bytes"] / 2**20
        check = results[str(budget)]["check"]
        exact = "yes" if check["n_equal"] and check["over_zero_equal"] else "**no**"
        parts = f"{check['part_pieces']}, {'yes' if check['parts_over_zero_equal'] else '**no**'}"
        lines.append(
            f"| {budget / 1e6:g}M | {array:.0f} | {tokenize['peak_rss_mb'] / (array + base):.2f} | "
            f"{totals(budget, 'merge')[2]:.0f} | {exact} | {parts} | {check['sum_max_relative_difference']:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/langneurons-scale"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "scale")
    parser.add_argument("--table", action="store_true", help="print the tables of --out/results.json and stop")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table:
        print(render(json.loads((args.out / "results.json").read_text())))
        return
    if args.stage:  # a child: run one stage, print its result as the last line
        kwargs = json.loads(args.stage)
        kwargs["work"] = Path(kwargs["work"])
        result = STAGES[kwargs.pop("stage")](**kwargs)
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
        return
    budgets = [int(b) for b in args.budgets]
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    t0 = time.time()
    stability_parts = measure("prepare", work=work, max_budget=max(budgets))["stability_parts"]
    print(f"prepared model and dataset in {time.time() - t0:.0f} s", flush=True)
    results["baseline"] = measure("baseline", work=work)
    results["setup"] = {"lang": LANG, "seq_len": SEQ_LEN, "batch": BATCH, "model": MODEL, "shards": args.shards}
    for budget in budgets:
        rows = [measure("corpus", work=work, budget=budget)]
        rows += [measure("tokenize", work=work, budget=budget, split=split) for split in ("valid", "train")]
        rows += [
            measure("count", work=work, budget=budget, shard=s, shards=args.shards, stability_parts=stability_parts)
            for s in range(args.shards)
        ]
        rows.append(measure("merge", work=work, budget=budget, shards=args.shards))
        rows.append(
            measure(
                "count",
                work=work,
                budget=budget,
                shard=0,
                shards=1,
                stability_parts=stability_parts,
                batch=CHECK_BATCH,
                name="whole",
            )
        )
        results[str(budget)] = {"stages": rows, "check": measure("check", work=work, budget=budget, shards=args.shards)}
        results_path.write_text(json.dumps(results, indent=1))
        for row in rows:
            print(json.dumps(row), flush=True)
        print(json.dumps(results[str(budget)]["check"]), flush=True)
    print(f"done in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
