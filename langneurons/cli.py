"""Command line: selection and inspection of neuron files outside Snakemake.

langneurons identify --activations en.pt zh.pt ... --languages en zh ... --method lape --out lape.neuron.pth
langneurons inspect lape.neuron.pth --languages en zh fr es vi id ja
"""

from __future__ import annotations

import argparse
import math
import sys

from . import DEFAULT_LANGUAGES


class CommandError(Exception):
    """A mistake on the command line or in an input file: reported as one line, without traceback."""


def fail(message: str, status: int = 1) -> None:
    print(f"langneurons: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(status)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of argparse's usage block
        fail(f"{message} (see {self.prog} --help)", status=2)


def share(zero_allowed: bool):
    """An argparse type: a number in [0, 1] or (0, 1], the ranges the config schema allows."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 <= value <= 1 if zero_allowed else 0 < value <= 1):  # NaN fails both
            raise argparse.ArgumentTypeError(f"must be a number in {'[' if zero_allowed else '('}0, 1], got {text}")
        return value

    return parse


def _languages(args, n: int, what: str) -> list[str]:
    """The --languages names for ``n`` languages (``what`` says where the n comes from)."""
    if args.languages:
        if len(args.languages) != n:
            raise CommandError(f"{what} but --languages names {len(args.languages)} languages")
        repeated = sorted({lang for lang in args.languages if args.languages.count(lang) > 1})
        if repeated:
            raise CommandError(f"--languages names {', '.join(repeated)} more than once")
        return args.languages
    if n == len(DEFAULT_LANGUAGES):
        return list(DEFAULT_LANGUAGES)
    return [f"lang{i}" for i in range(n)]


def cmd_identify(args) -> None:
    from .activations import load_stats, stack_stats
    from .neuronsets import counts_table, save_neurons
    from .selection import select

    stats = [load_stats(path) for path in args.activations]
    languages = _languages(args, len(stats), f"--activations gives {len(stats)} files")
    probs, means = stack_stats(stats, args.activations)
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
    from .neuronsets import counts_table, distinct_per_layer, load_neurons, overlap_tables, validate_neurons

    neurons = load_neurons(args.file)
    languages = _languages(args, len(neurons), f"{args.file} holds {len(neurons)} language lists")
    validate_neurons(neurons, languages, len(neurons[0]), None, args.file, "--languages")
    table = counts_table(neurons, languages).rename(columns={"total": "assignments"})
    table["distinct"] = distinct_per_layer(neurons)
    print(
        f"{args.file}: {len(languages)} languages, {len(table)} layers, "
        f"{int(table['assignments'].sum())} neuron-language assignments, {int(table['distinct'].sum())} distinct neurons"
    )
    print("\nneurons per language:")
    print(table[languages].sum().to_string())
    print("\nneurons per layer (assignments: one per neuron and language; distinct: each neuron once):")
    print(table.to_string())
    shared, jaccard = overlap_tables(neurons, languages)
    print("\nshared neurons between languages:")
    print(shared.to_string())
    print("\nJaccard overlap:")
    print(jaccard.round(3).to_string())


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="langneurons", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    ident.add_argument("--top-rate", type=share(zero_allowed=False), default=0.01, help="share of all neurons kept")
    ident.add_argument("--filter-rate", type=share(zero_allowed=True), default=0.95)
    ident.add_argument("--activation-bar-ratio", type=share(zero_allowed=True), default=0.95)
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
    except (CommandError, ValueError, OSError) as err:  # InputFileError is a ValueError
        fail(str(err))


if __name__ == "__main__":
    main()
