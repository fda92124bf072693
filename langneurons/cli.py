"""Command line: selection and inspection of neuron files outside Snakemake.

langneurons identify --activations en.pt zh.pt ... --languages en zh ... --method lape --out lape.neuron.pth
langneurons inspect lape.neuron.pth --languages en zh fr es vi id ja
"""

from __future__ import annotations

import argparse
import sys

from . import DEFAULT_LANGUAGES


def _languages(args, n: int) -> list[str]:
    if args.languages:
        if len(args.languages) != n:
            sys.exit(f"error: {n} languages in the file(s) but {len(args.languages)} names given with --languages")
        return args.languages
    if n == len(DEFAULT_LANGUAGES):
        return list(DEFAULT_LANGUAGES)
    return [f"lang{i}" for i in range(n)]


def cmd_identify(args) -> None:
    from .activations import load_stats, stack_stats
    from .neuronsets import counts_table, save_neurons
    from .selection import select

    stats = [load_stats(path) for path in args.activations]
    languages = _languages(args, len(stats))
    probs, means = stack_stats(stats)
    cfg = {
        "top_rate": args.top_rate,
        "filter_rate": args.filter_rate,
        "activation_bar_ratio": args.activation_bar_ratio,
        "seed": args.seed,
    }
    neurons = select(args.method, probs, means, cfg)
    save_neurons(neurons, args.out)
    table = counts_table(neurons, languages)
    print(f"{args.method}: {int(table['total'].sum())} assignments -> {args.out}")
    print(table.drop(columns="total").sum().to_string())


def cmd_inspect(args) -> None:
    from .neuronsets import counts_table, load_neurons, overlap_tables

    neurons = load_neurons(args.file)
    languages = _languages(args, len(neurons))
    table = counts_table(neurons, languages)
    print(f"{args.file}: {len(languages)} languages, {len(table)} layers")
    print("\nneurons per language:")
    print(table.drop(columns="total").sum().to_string())
    print("\nneurons per layer:")
    print(table.to_string())
    shared, jaccard = overlap_tables(neurons, languages)
    print("\nshared neurons between languages:")
    print(shared.to_string())
    print("\nJaccard overlap:")
    print(jaccard.round(3).to_string())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="langneurons", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ident = sub.add_parser("identify", help="select language-specific neurons from activation statistics")
    ident.add_argument(
        "--activations",
        nargs="+",
        required=True,
        help="per-language statistics files, in language order (ours or the authors' activation files)",
    )
    ident.add_argument("--languages", nargs="+", help="language codes of the files, in order")
    ident.add_argument("--method", default="lape", choices=["lape", "lap", "lave", "random"])
    ident.add_argument("--out", required=True, help="output neuron file (neurons[lang][layer])")
    ident.add_argument("--top-rate", type=float, default=0.01)
    ident.add_argument("--filter-rate", type=float, default=0.95)
    ident.add_argument("--activation-bar-ratio", type=float, default=0.95)
    ident.add_argument("--seed", type=int, default=0)
    ident.set_defaults(func=cmd_identify)

    insp = sub.add_parser("inspect", help="counts per language and layer, and overlaps, of a neuron file")
    insp.add_argument("file")
    insp.add_argument("--languages", nargs="+", help="language codes in the file's order")
    insp.set_defaults(func=cmd_inspect)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
