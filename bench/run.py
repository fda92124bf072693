"""Benchmarks: counting and interventions against a bare forward pass, in one run.

    python bench/run.py [--model resources/models/gemma3-270m] [--reps 5] [--batch 4] [--seq 512]
    python bench/run.py --config-json bench/gemma3-270m.config.json --device cuda --dtype bfloat16

With ``--config-json`` the model is built from a config with random weights:
throughput depends on the architecture and shapes, not on the weight values,
so a GPU machine without the weights measures the embedded model's speed.

Every variant runs on the same model and inputs; repetitions are interleaved
(A, B, C, then C, B, A, ...) so drifts in machine speed favour no variant; each
ratio (to the bare forward pass of the decoder without the LM head, the
physical limit of counting, or to the plain forward) is taken per round and
reported as the median over rounds. Writes
bench/results.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path

import torch
from peers import nnsight_counter, transformerlens_counter

from langneurons.hooks import NeuronHooks, StatsRecorder, activation_plan, deactivation_plan
from langneurons.models import load_prepared

HERE = Path(__file__).resolve().parent


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


class HookClock:
    """Wall time spent inside our hooks: a clock hook runs just before and just after them on each module.

    On a CPU this is the whole cost our hooks add, measured inside the very
    calls being timed, so it does not suffer from the machine's drift between
    calls. (On a GPU the hooks only queue kernels; the time is not meaningful.)
    """

    def __init__(self, modules):
        self.seconds = 0.0
        self._start = {}
        self._handles = [
            h
            for m in modules
            for h in (m.register_forward_hook(self._begin, prepend=True), m.register_forward_hook(self._end))
        ]

    def _begin(self, module, inputs, output):
        self._start[module] = time.perf_counter()

    def _end(self, module, inputs, output):
        self.seconds += time.perf_counter() - self._start.pop(module)

    def remove(self):
        for h in self._handles:
            h.remove()


def random_weights(config_json: str, device: str, dtype: str):
    from transformers import AutoConfig, AutoModelForCausalLM

    from langneurons.models import LoadedModel, get_adapter, pick_device, pick_dtype
    from langneurons.models.tiny import byte_tokenizer

    device = pick_device(device)
    config = AutoConfig.from_pretrained(config_json)
    model = AutoModelForCausalLM.from_config(config, dtype=pick_dtype(dtype, device)).to(device).eval()
    return LoadedModel(model, byte_tokenizer(), get_adapter(model), torch.device(device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resources/models/gemma3-270m")
    parser.add_argument("--config-json", help="build the model from this config.json with random weights")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--no-peers", action="store_true", help="skip nnsight and TransformerLens even if installed")
    parser.add_argument("--only", help="comma-separated variants to time (default: all); more rounds in the same time")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    lm = (
        random_weights(args.config_json, args.device, args.dtype)
        if args.config_json
        else load_prepared(args.model, device=args.device, dtype=args.dtype)
    )
    ids = torch.randint(10, 20000, (args.batch, args.seq), generator=torch.Generator().manual_seed(0)).to(lm.device)
    base, full = lm.base(), lm.model
    d_ff, layers = lm.num_neurons, lm.num_layers
    # 1% of each layer's neurons, the size of a LAPE set
    gen = torch.Generator().manual_seed(0)
    neurons = [torch.randperm(d_ff, generator=gen)[: max(1, d_ff // 100)].sort().values for _ in range(layers)]
    means = torch.rand(layers, d_ff)
    hooks = NeuronHooks(lm)

    def bare():
        base(input_ids=ids, use_cache=False)

    recorder = StatsRecorder(layers, d_ff, lm.device)  # as in collect_stats: one per shard

    def count():
        hooks.recorder = recorder
        base(input_ids=ids, use_cache=False)
        recorder.flush(ids.numel())
        hooks.recorder = None

    def count_with_head():  # what counting through model(...) costs
        hooks.recorder = recorder
        full(input_ids=ids, use_cache=False)
        recorder.flush(ids.numel())
        hooks.recorder = None

    def plain_full():
        full(input_ids=ids, use_cache=False)

    def deactivated_full():
        hooks.set_plan(deactivation_plan(neurons))
        full(input_ids=ids, use_cache=False)
        hooks.set_plan(None)

    def steered_full():
        hooks.set_plan(activation_plan(neurons, means, mode="replace"))
        full(input_ids=ids, use_cache=False)
        hooks.set_plan(None)

    variants = {
        "bare_forward_no_head": bare,
        "count_ours": count,
        "count_through_full_model": count_with_head,
        "plain_forward_with_head": plain_full,
        "deactivated_forward_with_head": deactivated_full,
        "steered_forward_with_head": steered_full,
    }
    peers, agreement = {}, {}
    if not args.no_peers:
        wanted = args.only.split(",") if args.only else ["count_nnsight", "count_transformerlens"]
        peers = {
            "count_nnsight": nnsight_counter(lm, ids) if "count_nnsight" in wanted else None,
            "count_transformerlens": None
            if args.config_json or "count_transformerlens" not in wanted
            else transformerlens_counter(
                args.model, lambda: load_prepared(args.model, device=args.device, dtype=args.dtype), ids
            ),
        }
        missing = [name for name, peer in peers.items() if peer is None and name in wanted]
        if missing:
            print(f"not measured (package not installed, or --config-json for TransformerLens): {missing}")
        peers = {name: peer for name, peer in peers.items() if peer is not None}
    with torch.inference_mode():
        # the same work: one batch counted by a peer gives our counts
        for name, (peer_count, peer_counts) in peers.items():
            ours = StatsRecorder(layers, d_ff, lm.device)
            hooks.recorder = ours
            base(input_ids=ids, use_cache=False)
            ours.flush(ids.numel())
            hooks.recorder = None
            peer_count()
            agreement[name] = {
                "over_zero_max_abs_diff": int((peer_counts.over_zero.cpu() - ours.over_zero.cpu()).abs().max()),
                "over_zero_share_equal": float((peer_counts.over_zero.cpu() == ours.over_zero.cpu()).double().mean()),
                "sum_max_abs_diff": float((peer_counts.sum.cpu() - ours.sum.cpu()).abs().max()),
            }
            peer_counts.reset()
            variants[name] = peer_count
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(variants))
        if unknown:
            parser.error(f"--only: unknown variants {unknown}; choose from {sorted(variants)}")
        variants = {name: fn for name, fn in variants.items() if name in wanted}
    times = {name: [] for name in variants}
    in_hooks = {name: [] for name in variants}  # share of each call's time spent in our hooks
    clock = HookClock(hooks.modules)  # registered after ours, and the peers' (so it times ours only)
    with torch.inference_mode():
        for fn in variants.values():  # warm-up
            fn()
        order = list(variants)
        for rep in range(args.reps):
            # every other round in reverse, so a drift in machine speed favours no variant
            for name in order if rep % 2 == 0 else order[::-1]:
                clock.seconds = 0.0
                times[name].append(timed(variants[name]))
                in_hooks[name].append(clock.seconds / times[name][-1])
    clock.remove()
    hooks.remove()
    median = {name: statistics.median(t) for name, t in times.items()}
    tokens = ids.numel()
    counting = [name for name in variants if name.startswith("count_")]
    our_variants = [
        "bare_forward_no_head",
        "count_ours",
        "plain_forward_with_head",
        "deactivated_forward_with_head",
        "steered_forward_with_head",
    ]
    pairs = {
        **{f"{name} / bare_forward_no_head (throughput)": ("bare_forward_no_head", name) for name in counting},
        "deactivated / plain forward (throughput)": ("plain_forward_with_head", "deactivated_forward_with_head"),
        "steered / plain forward (throughput)": ("plain_forward_with_head", "steered_forward_with_head"),
    }
    # a ratio per round (the two variants ran moments apart), then the median over rounds
    per_round = {
        key: [r / v for r, v in zip(times[ref], times[var])]
        for key, (ref, var) in pairs.items()
        if ref in times and var in times
    }
    ratios = {key: statistics.median(values) for key, values in per_round.items()}
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "threads": torch.get_num_threads(),
        },
        "versions": {
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
            **{
                pkg: metadata.version(pkg)
                for pkg in ("nnsight", "transformer_lens")
                if f"count_{pkg.replace('_', '')}" in variants
            },
        },
        "model": args.config_json or args.model,
        "weights": "random" if args.config_json else "trained",
        "architecture": lm.adapter.architecture,
        "dtype": str(next(full.parameters()).dtype),
        "shape": [args.batch, args.seq],
        "reps": args.reps,
        "intervened_neurons": sum(len(i) for i in neurons),
        "median_seconds": median,
        "tokens_per_second": {n: tokens / s for n, s in median.items()},
        "all_seconds": times,
        "ratios": ratios,
        "ratios_per_round": per_round,
        "share_of_time_in_our_hooks": {n: statistics.median(v) for n, v in in_hooks.items() if n in our_variants},
        "peers_agree_with_ours": agreement,
        "fastest_counting": min(counting, key=median.get),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2))
    targeted = ("count_ours /", "deactivated /", "steered /")
    command = (
        f"python bench/run.py {'--config-json ' + args.config_json if args.config_json else '--model ' + args.model}"
        f" --device {args.device} --dtype {args.dtype} --reps {args.reps} --batch {args.batch} --seq {args.seq}"
        + (f" --only {args.only}" if args.only else "")
    )
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {result['machine']}; versions {result['versions']}; model {lm.adapter.architecture} "
        f"({result['dtype']}), batch {args.batch} x {args.seq}, {args.reps} interleaved repetitions, medians.",
        "",
        "| variant | median s | tokens/s |",
        "| --- | --- | --- |",
        *[f"| {n} | {median[n]:.3f} | {tokens / median[n]:.0f} |" for n in variants],
        "",
        "| ratio (median over rounds) | value | range over rounds | target |",
        "| --- | --- | --- | --- |",
        *[
            f"| {k} | {v:.3f} | {min(per_round[k]):.3f}-{max(per_round[k]):.3f} | "
            f"{'>= 0.97' if k.startswith(targeted) else '(reference)'} |"
            for k, v in ratios.items()
        ],
        "",
        f"Fastest counting method: {result['fastest_counting']}.",
        "",
        *(
            []
            if lm.device.type == "cuda"
            else [
                "Share of each call's time spent inside our hooks (median; measured within the timed calls, so free of "
                "the drift between calls; 1 - share is the throughput ratio the hooks allow):",
                "",
                "| variant | share in hooks | 1 - share |",
                "| --- | --- | --- |",
                *[f"| {n} | {v:.4f} | {1 - v:.4f} |" for n, v in result["share_of_time_in_our_hooks"].items()],
                "",
            ]
        ),
        *[
            f"- {name} counted one batch like ours: over_zero equal for {a['over_zero_share_equal']:.4%} of neurons "
            f"(largest difference {a['over_zero_max_abs_diff']} tokens), sums within {a['sum_max_abs_diff']:.2g}."
            for name, a in agreement.items()
        ],
        "",
    ]
    (out / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
