"""Command line: selection and inspection of neuron files outside Snakemake.

langneurons identify --activations en.pt zh.pt ... --languages en zh ... --method lape --out lape.neuron.pth
langneurons inspect lape.neuron.pth --languages en zh fr es vi id ja

identify writes the same file as the workflow's select_neurons rule for the same statistics and settings;
settings not given take the config schema's defaults (the paper's).
"""

from __future__ import annotations

import argparse
import math
import sys

from .config import default_languages, section_with_defaults
from .errors import BadInput, CommandError
from .methods import METHODS, statistics_methods


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
    if n == len(default_languages()):
        return default_languages()
    return [f"lang{i}" for i in range(n)]


def selection_settings(args) -> dict:
    """The ``selection`` config section: the options given, the schema's defaults for the rest."""
    given = {key: getattr(args, key) for key in ("top_rate", "filter_rate", "activation_bar_ratio", "seed")}
    given = {key: value for key, value in given.items() if value is not None}
    if args.lap_threshold is not None:
        given["lap"] = {"threshold": args.lap_threshold}
    return section_with_defaults("selection", given)


def cmd_identify(args) -> None:
    from .activations import load_stats, stack_stats
    from .methods import select
    from .neuronsets import counts_table, save_neurons

    selection = selection_settings(args)
    stats = [load_stats(path) for path in args.activations]
    languages = _languages(args, len(stats), f"--activations gives {len(stats)} files")
    probs, means = stack_stats(stats, args.activations)
    neurons = select(args.method, probs, means, selection)
    save_neurons(neurons, args.out)
    table = counts_table(neurons, languages)
    print(f"{args.method}: {int(table['total'].sum())} assignments -> {args.out}")
    print(table.drop(columns="total").sum().to_string())


def cmd_inspect(args) -> None:
    from .neuronsets import counts_table, distinct_per_layer, load_neurons, overlap_tables, validate_neurons

    neurons = load_neurons(args.file, args.languages)
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
    methods = statistics_methods()
    ident.add_argument(
        "--method",
        default="lape",
        choices=methods,
        help="; ".join(f"{name}: {METHODS[name].summary}" for name in methods),
    )
    ident.add_argument("--out", required=True, help="output neuron file (neurons[lang][layer])")
    defaults = section_with_defaults("selection", {})
    ident.add_argument(
        "--top-rate",
        type=share(zero_allowed=False),
        help=f"share of all neurons kept (default {defaults['top_rate']})",
    )
    ident.add_argument("--filter-rate", type=share(zero_allowed=True), help=f"default {defaults['filter_rate']}")
    ident.add_argument(
        "--activation-bar-ratio",
        type=share(zero_allowed=True),
        help=f"default {defaults['activation_bar_ratio']}",
    )
    ident.add_argument(
        "--lap-threshold",
        type=share(zero_allowed=True),
        help=f"lap: activation probability a neuron must exceed (default {defaults['lap']['threshold']})",
    )
    ident.add_argument("--seed", type=int, help=f"random: seed of the draw (default {defaults['seed']})")
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
    except BadInput as err:  # anything else is a bug: its traceback stays
        fail(str(err))


if __name__ == "__main__":
    main()
