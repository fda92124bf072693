"""Command line: selection and inspection of neuron files outside Snakemake, and the cost of a run.

langneurons identify --activations en.pt zh.pt ... --languages en zh ... --method lape --out lape.neuron.pth
langneurons inspect lape.neuron.pth --languages en zh fr es vi id ja
langneurons plan --configfile configs/paper-llama2-7b.yaml --gpus 8

identify writes the same file as the workflow's select_neurons rule for the same statistics and settings;
settings not given take the config schema's defaults (the paper's). plan prints, per GPU stage, its jobs,
the work of the largest one and the GPU-hours and wall time it takes, from the models' throughput settings.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap

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


def _amount(n: int, unit: str) -> str:
    """``n`` of a plural unit ("batches", "blocks of 32 rows"), its first word singular for one."""
    if n != 1:
        return f"{n} {unit}"
    word, _, rest = unit.partition(" ")
    word = word[:-2] if word.endswith("ches") else word.removesuffix("s")
    return " ".join(filter(None, (f"1 {word}", rest)))


def _count(value: float) -> str:
    """1234567 -> 1.2M, 31000 -> 31k, 512 -> 512."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.2f}" if hours < 10 else f"{hours:.0f}"


def plan_lines(cfg: dict, gpus: int) -> list[str]:
    """``langneurons plan``'s report for a validated config: per model and GPU stage, jobs, the largest job's
    work and time, GPU-hours and the wall time on ``gpus`` GPUs (stages one after the other)."""
    from .config import split_work
    from .splitting import runtime_minutes

    lines = []
    for name, settings in cfg["models"].items():
        throughput = settings["throughput"]
        slots = max(1, gpus // max(settings["gpus"], 1))
        lines += [
            f"model {name}: {settings['gpus']} GPU(s) per job, {gpus} GPU(s): {slots} job(s) at once",
            f"throughput (models.{name}.throughput): forward {_count(throughput['forward'])} tokens/s, "
            f"decode {_count(throughput['decode'])} new tokens/s",
            "",
        ]
        header = ("stage", "jobs", "split by", "work of the largest job", "share", "h/job", "limit", "GPU-h", "wall h")
        rows, total_gpu, total_wall = [], 0.0, 0.0
        for work in split_work(cfg, name):
            seconds = work.seconds(throughput)
            job_gpus = work.gpus
            gpu_seconds = seconds * work.jobs * job_gpus
            wall = -(-work.jobs // (max(1, gpus // job_gpus) if job_gpus else work.jobs)) * seconds
            total_gpu, total_wall = total_gpu + gpu_seconds, total_wall + wall
            what = [_amount(work.largest, work.unit)] if work.units and work.unit != "answers" else []
            what += [f"{work.answers} answers"] if work.answers else []
            what += [f"{_count(work.tokens)} tokens"] if work.tokens else []
            what += [f"<= {_count(work.decoded)} new tokens"] if work.decoded else []
            key = f"{work.key} = {cfg_value(cfg, work.key)}" if work.key else "; ".join(work.notes) or "-"
            limit = settings["runtime"] or runtime_minutes(work, throughput)
            rows.append(
                (
                    work.stage,
                    str(work.jobs),
                    key,
                    ", ".join(what) + ("" if job_gpus else " (no GPU)"),
                    f"{100 * work.share:.1f}%",
                    _hours(seconds) if job_gpus else "-",
                    f"{limit} min" if job_gpus else "-",
                    _hours(gpu_seconds),
                    _hours(wall) if job_gpus else "-",
                )
            )
        rows.append(("total", "", "", "", "", "", "", _hours(total_gpu), _hours(total_wall)))
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
        for row in (header, tuple("-" * w for w in widths), *rows):
            lines.append(
                "  ".join(
                    cell.ljust(w) if i in (0, 2, 3) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))
                ).rstrip()
            )
        note = (
            "h/job: the largest job's work at the throughput (loading the model not counted); limit: the wall time "
            f"its cluster job asks for (models.{name}.runtime, or x1.5 + 10 min); GPU-h: all jobs; wall h: on "
            f"{gpus} GPU(s), stage after stage. New tokens are counted as if every answer ran to "
            "generation.max_new_tokens (an upper bound)."
        )
        lines += ["", *textwrap.wrap(note, 110), ""]
    return lines


def cfg_value(cfg: dict, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def cmd_plan(args) -> None:
    import yaml

    from .config import validate_config

    try:
        with open(args.configfile, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh) or {}
    except OSError as err:
        raise CommandError(f"cannot read {args.configfile}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise CommandError(f"{args.configfile} is not YAML: {err}") from None
    if not isinstance(cfg, dict):
        raise CommandError(f"{args.configfile} holds no config (a YAML mapping of keys)")
    validate_config(cfg)
    print(f"langneurons plan: {args.configfile} on {args.gpus} GPU(s)")
    print("\n".join(plan_lines(cfg, args.gpus)))


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text}")
    return value


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

    plan = sub.add_parser("plan", help="jobs, work, GPU-hours and wall time of each GPU stage of a config")
    plan.add_argument("--configfile", required=True, help="the config to run (e.g. configs/paper-llama2-7b.yaml)")
    plan.add_argument("--gpus", type=positive, default=1, help="GPUs the run gets at once (default 1)")
    plan.set_defaults(func=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except BadInput as err:  # anything else is a bug: its traceback stays
        fail(str(err))


if __name__ == "__main__":
    main()
