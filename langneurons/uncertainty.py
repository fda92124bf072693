"""How sure are we: bootstrap intervals, the random null, and the stability of neuron sets.

Three questions the paper's single numbers leave open:

- **Intervals.** ``bootstrap_ci`` resamples units (blocks of tokens, questions)
  with replacement and reports the percentile interval of a statistic;
  ``ppl_ci_table`` does so for the relative perplexity changes,
  ``condition_ci_table`` for per-question generation values (language
  accuracy, judge score), ``confusion_ci_table`` for the language confusion
  rates (LPR, WPR and their harmonic mean LCPR).
- **The random null.** Per method, random neuron sets with that method's
  count per language and layer (derived seeds) give the own-language
  perplexity increase that deactivating as many random neurons in the same
  layers causes; ``null_table`` places the method's increase against its own
  draws (empirical p-value, z-score), ``method_null`` does all of it for one
  neuron file.
- **Stability.** The counting pass also keeps the statistics of consecutive
  parts of each language's train tokens (``activations.collect_stats_in_parts``);
  ``stability_tables`` selects neurons on the two halves (split-half Jaccard)
  and on growing prefixes (against the set from all tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .activations import merge_stats, nearest, stack_stats
from .confusion import METRIC_FIELDS, TABLE_COLUMNS, harmonic_mean
from .errors import InputFileError
from .hooks import deactivation_plan
from .io import load_torch
from .methods import select
from .models import LoadedModel
from .neuronsets import jaccard, neuron_sets, validate_neurons
from .perplexity import NLL, condition_nll, condition_rows
from .selection import Neurons, random_like, totals
from .splitting import draw_counts as draw_counts  # the null's draws per method (used here by the scripts)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- bootstrap
def bootstrap_ci(
    values: Sequence | np.ndarray,
    statistic: Callable[[np.ndarray], float],
    n_boot: int,
    seed: int,
    confidence: float,
) -> tuple[float, float, float]:
    """Percentile bootstrap: the statistic on ``values`` and its ``confidence`` interval.

    ``values``: one entry (or row, for paired measurements) per resampling unit;
    ``statistic`` maps such an array to a number. Each of the ``n_boot``
    replicates draws len(values) units with replacement (numpy generator seeded
    with ``seed``: the same seed and sample size draw the same units, so cells
    that share their units are resampled together). With one unit the interval
    has zero width, and with none every number is NaN.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    n = len(values)
    replicates = np.array([statistic(values[rng.integers(0, n, n)]) for _ in range(n_boot)])
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return float(statistic(values)), float(lo), float(hi)


def mean(sample: np.ndarray) -> float:
    return float(sample.mean())


def condition_order(records: list[dict], languages: list[str]) -> list[str]:
    """The conditions of ``records`` in table order: normal, random, each language, then others as they appear."""
    conditions = list(dict.fromkeys(r["condition"] for r in records))
    order = [c for c in ["normal", "random", *languages] if c in conditions]
    return order + [c for c in conditions if c not in order]


def condition_ci_table(
    records: list[dict], languages: list[str], value: str, n_boot: int, seed: int, confidence: float
) -> pd.DataFrame:
    """Mean of ``value`` per condition and question language, with its bootstrap interval over questions.

    ``records``: generation records (``condition``, ``language`` and ``value``;
    records whose value is missing are left out, as in
    ``evaluation.condition_table``). Long format: condition, language, value
    (the mean), lo, hi, n (questions). Conditions in the order normal, random,
    each language, then any others as they first appear. A cell whose questions
    all have the same value (accuracy 0 or 1) gets a zero-width interval: the
    bootstrap cannot see beyond its sample, so read such cells with ``n``.
    """
    groups: dict[tuple[str, str], list[float]] = {}
    for r in records:
        v = r.get(value)
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            groups.setdefault((r["condition"], r["language"]), []).append(float(v))
    rows = []
    for condition in condition_order(records, languages):
        for language in languages:
            if (condition, language) not in groups:
                continue
            sample = groups[condition, language]
            estimate, lo, hi = bootstrap_ci(sample, mean, n_boot, seed, confidence)
            rows.append(
                {"condition": condition, "language": language, value: estimate, "lo": lo, "hi": hi, "n": len(sample)}
            )
    return pd.DataFrame(rows, columns=["condition", "language", value, "lo", "hi", "n"])


def lcpr_of(sample: np.ndarray) -> float:
    """LCPR of paired rows (line pass, word pass; the line pass again where the word level is undefined)."""
    return harmonic_mean(float(sample[:, 0].mean()), float(sample[:, 1].mean()))


def confusion_ci_table(records: list[dict], languages: list[str], n_boot: int, seed: int, confidence: float):
    """Language accuracy, LPR, WPR and LCPR (``langneurons.confusion``) per condition and question language,
    with bootstrap intervals over questions.

    ``records``: answer records annotated by ``evaluation.annotate_languages`` (``expected_language``,
    ``in_expected_language``, ``line_pass``, ``word_pass``). Long format (``confusion.TABLE_COLUMNS``):
    metric (accuracy, lpr, wpr, lcpr), condition, language (of the question), expected (the language the
    answers should be in: the steering target, else the question's), mean, lo, hi, n. Each rate is
    ``condition_ci_table``'s, with the same seed, so a cell's four metrics resample the same questions;
    WPR has rows only where it is defined; LCPR is the harmonic mean of each replicate's LPR and WPR (LPR
    where WPR is undefined).
    """
    frames = []
    for metric, field in METRIC_FIELDS.items():
        frame = condition_ci_table(records, languages, field, n_boot, seed, confidence)
        frames.append(frame.rename(columns={field: "mean"}).assign(metric=metric))
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in records:
        if r.get("line_pass") is not None:
            word = r.get("word_pass")
            pairs.setdefault((r["condition"], r["language"]), []).append(
                (float(r["line_pass"]), float(r["line_pass"] if word is None else word))
            )
    rows = []
    for condition in condition_order(records, languages):
        for language in languages:
            if (condition, language) in pairs:
                sample = pairs[condition, language]
                estimate, lo, hi = bootstrap_ci(sample, lcpr_of, n_boot, seed, confidence)
                rows.append(
                    {"metric": "lcpr", "condition": condition, "language": language}
                    | {"mean": estimate, "lo": lo, "hi": hi, "n": len(sample)}
                )
    frames.append(pd.DataFrame(rows, columns=["metric", "condition", "language", "mean", "lo", "hi", "n"]))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    expected = {(r["condition"], r["language"]): r.get("expected_language") for r in records}
    table["expected"] = [expected[c, q] for c, q in zip(table["condition"], table["language"])]
    return table[TABLE_COLUMNS]


def relative_change(sample: np.ndarray) -> float:
    """PPL ratio - 1 from paired rows (NLL with neurons off, NLL with none off, tokens)."""
    return float(np.exp((sample[:, 0].sum() - sample[:, 1].sum()) / sample[:, 2].sum()) - 1)


def paired_blocks(record: dict, blocks: torch.Tensor, lang: str) -> np.ndarray:
    """Rows (NLL of a condition, NLL with no neurons deactivated, tokens), one per block of ``lang``'s tokens."""
    return np.column_stack([blocks.numpy(), record["nll"]["none"][lang].numpy(), record["tokens"][lang].numpy()])


def ppl_ci_table(record: dict, n_boot: int, seed: int, confidence: float) -> pd.DataFrame:
    """Bootstrap intervals of the relative PPL change of every (deactivated, evaluated) cell.

    ``record``: a per-block NLL file (``perplexity.save_nll``). The unit is a
    block of consecutive predicted tokens, not a sequence: the default run
    evaluates one 256-token sequence per language, over which a sequence
    bootstrap would give zero-width intervals; blocks keep the dependence
    between neighbouring tokens inside a unit, which a token-level bootstrap
    would ignore (too narrow). Resampling is paired: a replicate draws the same
    blocks for the condition and for ``none`` (and, through the shared seed,
    for every condition of one evaluated language), so the interval reflects
    how the change varies over the text, not how perplexity itself does. It
    measures the sampling uncertainty of the evaluated text, not the
    variability between documents or corpora; with ``block_tokens`` >= the
    sequence length the unit is a whole sequence.
    """
    rows = []
    for off in record["conditions"]:
        if off == "none":
            continue
        for lang in record["languages"]:
            paired = paired_blocks(record, record["nll"][off][lang], lang)
            estimate, lo, hi = bootstrap_ci(paired, relative_change, n_boot, seed, confidence)
            rows.append(
                {"deactivated": off, "evaluated": lang, "relative": estimate, "lo": lo, "hi": hi, "units": len(paired)}
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- random null
NO_NEURONS = "no neurons"  # the note of a row whose method has no neurons for its language: nothing to test


def null_seeds(seed: int, draws: int) -> list[int]:
    """Seeds of the extra random draws: seed + 1, ..., seed + draws (the ``random`` method itself uses ``seed``)."""
    return [seed + 1 + d for d in range(draws)]


def method_draws(neurons: Neurons, d_ff: int, seed: int, draws: int) -> list[Neurons]:
    """``draws`` random sets with the count of ``neurons`` per language and layer (``selection.random_like``),
    seeded ``null_seeds(seed, draws)``.

    Every method draws with the same seeds, so two methods whose counts per
    layer agree for a language draw the very same sets for it (which
    ``evaluate_draws`` evaluates once).
    """
    return [random_like(neurons, d_ff, s) for s in null_seeds(seed, draws)]


def layer_counts(neurons: Neurons) -> list[tuple[int, ...]]:
    """Per language, the count of each layer."""
    return [tuple(len(idx) for idx in per_layer) for per_layer in neurons]


def draws_like(neurons: dict[str, Neurons]) -> dict[str, list[str]]:
    """Per method and language, the first method (in order) with the same count per layer for that language:
    the method itself, or an earlier one whose draws it shares (``random`` shares LAPE's)."""
    counts = {method: layer_counts(n) for method, n in neurons.items()}
    return {
        method: [next(m for m in counts if counts[m][k] == own) for k, own in enumerate(per_language)]
        for method, per_language in counts.items()
    }


def null_conditions(
    languages: list[str], draws: dict[str, list[Neurons]]
) -> tuple[list[tuple[str, dict]], dict[str, dict[str, list[int]]]]:
    """The distinct evaluations of the draws: (language, deactivation plan) conditions in first-seen order
    (method, draw, language), and where each method's draws of each language are: ``where[method][lang][d]``
    is a condition index. Identical (language, drawn set) pairs are one condition; empty draws none."""
    index: dict[tuple, int] = {}  # (language, drawn indices per layer) -> condition
    conditions: list[tuple[str, dict]] = []
    where: dict[str, dict[str, list[int]]] = {}
    for method, sets in draws.items():
        where[method] = {lang: [] for lang in languages}
        for drawn in sets:
            for k, lang in enumerate(languages):
                if not sum(len(idx) for idx in drawn[k]):
                    continue
                key = (lang, tuple(tuple(idx.tolist()) for idx in drawn[k]))
                if key not in index:
                    index[key] = len(conditions)
                    conditions.append((lang, deactivation_plan(drawn[k])))
                where[method][lang].append(index[key])
    return conditions, where


def draw_results(where: dict[str, dict[str, list[int]]], evaluated: list[NLL]) -> dict[str, dict[str, list[NLL]]]:
    """``evaluate_draws``'s result from the NLL of every condition of ``null_conditions``."""
    return {
        method: {lang: [evaluated[c] for c in found] for lang, found in per_lang.items()}
        for method, per_lang in where.items()
    }


def evaluate_draws(
    lm: LoadedModel,
    valid: dict[str, dict],
    languages: list[str],
    draws: dict[str, list[Neurons]],
    batch_size: int | str,
    block: int | None = None,
    progress=None,
) -> dict[str, dict[str, list[NLL]]]:
    """Own-language NLL of every draw of every method: ``out[method][lang][d]``.

    Each distinct (language, drawn set) is evaluated once, whichever methods
    and draws hold it, and all of them share batches (``perplexity.condition_nll``).
    An empty draw (the method has no neurons for that language) is not
    evaluated: its list is empty. ``progress`` (a tqdm bar) is reset to the
    number of rows (distinct evaluations x sequences of their language).
    """
    conditions, where = null_conditions(languages, draws)
    requested = sum(len(c) for per_lang in where.values() for c in per_lang.values())
    log.info("%d random draws x languages: %d distinct evaluations", requested, len(conditions))
    if progress is not None and hasattr(progress, "reset"):
        progress.reset(total=len(condition_rows(valid, conditions)))
    return draw_results(where, condition_nll(lm, valid, conditions, batch_size, block, progress))


def empirical_p(observed: float, null: Sequence[float]) -> float:
    """One-sided p-value with the +1 correction: (1 + draws at least as large) / (draws + 1)."""
    null = np.asarray(null, dtype=float)
    return float((1 + (null >= observed).sum()) / (len(null) + 1))


def z_score(observed: float, null: Sequence[float]) -> float:
    """(observed - mean) / sd of the null (sd with ddof 1; NaN with fewer than two draws)."""
    null = np.asarray(null, dtype=float)
    if len(null) < 2:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((observed - null.mean()) / null.std(ddof=1))


def null_increases(record: dict, evaluated: dict[str, dict[str, list[NLL]]]) -> dict[str, dict[str, list[float]]]:
    """Each draw's relative PPL increase of its own language (``evaluated``: ``evaluate_draws``), against the
    ``none`` blocks of a per-block NLL record: ``out[method][lang][d]``."""
    return {
        method: {
            lang: [relative_change(paired_blocks(record, e.blocks, lang)) for e in per_draw]
            for lang, per_draw in per_lang.items()
        }
        for method, per_lang in evaluated.items()
    }


NULL_COLUMNS = [
    "method",
    "deactivated",
    "own_increase",
    "null_mean",
    "null_sd",
    "null_max",
    "z",
    "p_value",
    "min_p",
    "beats_null",
    "draws",
    "neurons",
    "neurons_null",
    "draws_like",
    "note",
]


def null_table(
    records: dict[str, dict],
    neurons: dict[str, Neurons],
    draws: dict[str, list[Neurons]],
    increases: dict[str, dict[str, list[float]]],
    languages: list[str],
) -> pd.DataFrame:
    """Each method's own-language relative PPL increase against its own random null.

    ``records``: per-block NLL records by method (``perplexity.save_nll``): the
    increase is computed from them exactly as the draws' (``null_increases``),
    so a set that changes nothing ties with the draws instead of winning by a
    rounding. ``neurons``: each method's set; ``draws``: its random draws
    (``method_draws``: the same count per language and layer, so ``neurons``
    and ``neurons_null`` agree); ``increases[method][lang]``: the draws'
    increases. ``beats_null``: the increase is larger than every draw's;
    ``min_p`` = 1 / (draws + 1), the smallest p the draws allow;
    ``draws_like``: the method whose count per layer the draws keep (the row's
    own, or an earlier method with the same counts whose draws it shares). A
    method with no neurons for a language has nothing to test: the row says
    "no neurons", has no draws and its statistics are NaN.
    """
    rows = []
    like = draws_like(neurons)
    nan = float("nan")
    for method, sets in draws.items():
        counts = totals(neurons[method])
        record = records[method]
        for k, lang in enumerate(languages):
            observed = relative_change(paired_blocks(record, record["nll"][lang][lang], lang))
            null = increases[method][lang]
            row = {
                "method": method,
                "deactivated": lang,
                "own_increase": observed,
                "draws": len(null),
                "neurons": counts[k],
                "neurons_null": totals(sets[0])[k] if sets else 0,
                "draws_like": like[method][k],
                "note": "",
            }
            if not counts[k]:
                stats = dict.fromkeys(("null_mean", "null_sd", "null_max", "z", "p_value", "min_p"), nan)
                row.update(stats, beats_null=False, draws_like="", note=NO_NEURONS)
            else:
                row.update(
                    null_mean=float(np.mean(null)),
                    null_sd=float(np.std(null, ddof=1)) if len(null) > 1 else nan,
                    null_max=float(np.max(null)),
                    z=z_score(observed, null),
                    p_value=empirical_p(observed, null),
                    min_p=1 / (len(null) + 1),
                    beats_null=bool(observed > np.max(null)),
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=NULL_COLUMNS)


def method_null(
    lm: LoadedModel,
    neurons: Neurons,
    valid: dict[str, dict],
    languages: list[str],
    draws: int = 19,
    seed: int = 0,
    batch_size: int | str = "auto",
    block: int | None = None,
    name: str = "neurons",
    progress=None,
) -> pd.DataFrame:
    """Test one neuron set against its own random null, outside the workflow.

    Per language: the relative PPL increase of the language's own valid tokens
    (``valid[lang]``: ``corpus.load_tokens``) when its neurons
    (``neurons[k][layer]``, languages in ``languages`` order) are deactivated,
    against ``draws`` random sets with the same count per layer (seeds
    seed + 1, ...): do these neurons matter more than as many random neurons
    in the same layers? One row per language, the columns of ``null_table``
    (method ``name``). The plain model, the set and the draws are evaluated in
    shared batches.
    """
    validate_neurons(neurons, languages, lm.num_layers, lm.num_neurons, name)
    plain = [(lang, {}) for lang in languages]
    own = [(lang, deactivation_plan(neurons[k])) for k, lang in enumerate(languages)]
    evaluated = condition_nll(lm, valid, plain + own, batch_size, block)
    evaluations = {"none": dict(zip(languages, evaluated[: len(languages)]))}
    evaluations.update({lang: {lang: e} for lang, e in zip(languages, evaluated[len(languages) :])})
    none = evaluations["none"]
    record = {
        "tokens": {lang: none[lang].block_tokens for lang in languages},
        "nll": {cond: {lang: e.blocks for lang, e in row.items()} for cond, row in evaluations.items()},
    }
    sets = {name: method_draws(neurons, lm.num_neurons, seed, draws)}
    increases = null_increases(record, evaluate_draws(lm, valid, languages, sets, batch_size, block, progress))
    return null_table({name: record}, {name: neurons}, sets, increases, languages)


# ----------------------------------------------------------------------------- stability
def load_parts(paths: Sequence[str | Path]) -> list[dict]:
    """The statistics of one language's parts (all its counting shards), in token order.

    Checks that they tile the language's tokens without gap or overlap (files
    from different runs would not).
    """
    pieces = []
    for path in paths:
        data = load_torch(path, "a part-statistics file")
        if not isinstance(data, dict) or "parts" not in data:
            raise InputFileError(f"{path} is not a part-statistics file (written by count_activations)")
        pieces += data["parts"]
    pieces.sort(key=lambda p: p["start"])
    position = 0
    for piece in pieces:
        if piece["start"] != position:
            raise InputFileError(
                f"the part statistics of {', '.join(map(str, paths))} do not tile the tokens "
                f"(a part starts at token {piece['start']}, expected {position}); rerun count_activations"
            )
        position += int(piece["n"])
    return pieces


def split_at(pieces: list[dict], fraction: float) -> tuple[list[dict], list[dict]]:
    """The pieces before and after the part boundary nearest to ``fraction`` of the tokens."""
    ends = np.cumsum([0] + [int(p["n"]) for p in pieces]).tolist()
    cut = nearest(ends, fraction * ends[-1])
    return pieces[:cut], pieces[cut:]


def prefix_fractions(parts: int) -> list[float]:
    """The data curve's prefixes: the first 1, 2, 4, ... of ``parts`` parts (below all of them)."""
    out, k = [], 1
    while k < parts:
        out.append(k / parts)
        k *= 2
    return out


def stability_tables(
    methods: list[str],
    pieces: list[list[dict]],
    full: dict[str, Neurons],
    languages: list[str],
    selection: dict,
    parts: int,
) -> dict[str, pd.DataFrame]:
    """Split-half and data-curve Jaccard of each method's neurons, per language.

    ``pieces[k]``: language k's part statistics (``load_parts``); ``full``: each
    method's set from all tokens (its neuron file). Selection is joint over
    languages (LAPE normalises over them), so every comparison selects on the
    same share of every language's tokens. Rows: ``split_half`` (first half
    against second half; tokens = the smaller half's) and ``prefix`` (the first
    ``fraction`` of the tokens against all of them; tokens = the prefix's),
    with the sizes of the two sets compared (``neurons_a``, ``neurons_b``).
    A comparison for which some language has no tokens on one side is left out.
    """
    halves = [split_at(p, 0.5) for p in pieces]
    comparisons = [("split_half", 0.5, [h[0] for h in halves], [h[1] for h in halves])]
    for fraction in prefix_fractions(parts):
        comparisons.append(("prefix", fraction, [split_at(p, fraction)[0] for p in pieces], None))
    tables: dict[str, list[dict]] = {method: [] for method in methods}
    for name, fraction, side_a, side_b in comparisons:
        if any(not side for side in side_a + (side_b or [])):
            log.warning("%s at %.3f: some language has no tokens on one side; left out", name, fraction)
            continue
        stats_a = [merge_stats(side) for side in side_a]
        stats_b = [merge_stats(side) for side in side_b] if side_b else None
        tokens = [min(a["n"], b["n"]) for a, b in zip(stats_a, stats_b)] if stats_b else [a["n"] for a in stats_a]
        for method in methods:
            sets_a = neuron_sets(select(method, *stack_stats(stats_a), selection))
            sets_b = neuron_sets(select(method, *stack_stats(stats_b), selection) if stats_b else full[method])
            for lang, a, b, n in zip(languages, sets_a, sets_b, tokens):
                tables[method].append(
                    {
                        "language": lang,
                        "comparison": name,
                        "fraction": fraction,
                        "tokens": n,
                        "jaccard": jaccard(a, b),
                        "neurons_a": len(a),
                        "neurons_b": len(b),
                    }
                )
    columns = ["language", "comparison", "fraction", "tokens", "jaccard", "neurons_a", "neurons_b"]
    return {method: pd.DataFrame(rows, columns=columns) for method, rows in tables.items()}
