"""GPU path check (bf16, SDPA, CUDA): counting, deactivation, perplexity, auto batch sizes and generation.

    python bench/gpu_check.py --config-json bench/gemma3-270m.config.json --out bench/gpu

Builds the embedded model's architecture with random weights on the GPU (the
weights are not needed to check code paths and speed) and writes gpu_check.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from run import random_weights  # bench/run.py

from langneurons.activations import collect_stats
from langneurons.batching import resolve_batch_size
from langneurons.generation import generate
from langneurons.hooks import NeuronHooks, deactivation_plan
from langneurons.perplexity import batch_nll, perplexity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-json", default="bench/gemma3-270m.config.json")
    parser.add_argument("--out", default="bench/gpu")
    args = parser.parse_args()
    lm = random_weights(args.config_json, "cuda", "bfloat16")
    report = {
        "device": torch.cuda.get_device_name(),
        "dtype": str(next(lm.model.parameters()).dtype),
        "attn_implementation": lm.model.config._attn_implementation,
    }
    gen = torch.Generator().manual_seed(0)
    tokens = {
        "sequences": torch.randint(10, 20000, (16, 512), generator=gen, dtype=torch.int32),
        "remainder": torch.randint(10, 20000, (100,), generator=gen, dtype=torch.int32),
        "seq_len": 512,
    }

    # counting: exact against a direct count of the same bf16 activations
    stats = collect_stats(lm, tokens, batch_size=8, progress=False)
    acts = {l: [] for l in range(lm.num_layers)}
    handles = [
        m.register_forward_hook(lambda m, i, o, l=l: acts[l].append((o > 0).sum((0, 1)).long()))
        for l, m in enumerate(lm.adapter.activation_modules(lm.model))
    ]
    with torch.inference_mode():
        for start in range(0, 16, 8):
            lm.base()(input_ids=tokens["sequences"][start : start + 8].long().cuda())
        lm.base()(input_ids=tokens["remainder"].long().cuda()[None])
    for h in handles:
        h.remove()
    direct = torch.stack([sum(v) for v in acts.values()]).cpu()
    report["count_equals_direct"] = bool(torch.equal(direct, stats["over_zero"]))
    report["count_n"] = stats["n"]

    # deactivation zeroes the chosen neurons in bf16 on CUDA
    chosen = torch.tensor([1, 100, 2000])
    seen = {}
    with NeuronHooks(lm) as hooks, torch.inference_mode():
        hooks.set_plan(deactivation_plan([chosen] * lm.num_layers))
        extra = lm.adapter.activation_modules(lm.model)[3].register_forward_hook(
            lambda m, i, o: seen.__setitem__("a", o[..., chosen].float().abs().max().item())
        )
        lm.base()(input_ids=tokens["sequences"][:2].long().cuda())
        extra.remove()
        dead = perplexity(lm, tokens, 8)
    report["deactivated_max_abs"] = seen["a"]
    report["ppl_plain"] = perplexity(lm, tokens, 8)
    report["ppl_deactivated"] = dead

    # batch_size auto: the probed batch of each stage's step runs, and how much memory it took
    for name, step, seq in [
        ("counting", lambda ids: lm.base()(input_ids=ids, use_cache=False), 4096),
        ("perplexity", lambda ids: batch_nll(lm, ids), 4096),
    ]:
        batch = resolve_batch_size("auto", lm, step, seq, limit=10_000)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            step(torch.randint(10, 20000, (batch, seq), device="cuda"))
        report[f"auto_batch_{name}_x{seq}"] = batch
        report[f"auto_batch_{name}_peak_share_of_card"] = (
            torch.cuda.max_memory_allocated() / torch.cuda.mem_get_info()[1]
        )

    # batched generation with left padding + hooks
    lm.tokenizer.padding_side = "left"
    prompts = ["Q: hello\nA:", "Q: a longer question here\nA:"] * 4
    start = time.perf_counter()
    answers = generate(lm, prompts, max_new_tokens=32, batch_size=8, stops=())
    report["generate_seconds_8x32"] = time.perf_counter() - start
    report["generated"] = len(answers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
