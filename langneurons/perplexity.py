"""Perplexity of each language's valid split, plain or with neurons deactivated.

The decoder runs once per batch; logits are computed from its final hidden
states in chunks of positions, so no [batch, seq, vocab] tensor for a whole
batch (2 GB for Gemma's 262k vocabulary at 4 x 512) is ever held.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import pandas as pd
import torch
import torch.nn.functional as F

from .batching import resolve_batch_size
from .corpus import iter_batches
from .errors import InputFileError
from .hooks import NeuronHooks, Plan, deactivation_plan
from .io import atomic_write, load_torch
from .models import LoadedModel
from .selection import Neurons
from .splitting import NULL_BLOCK, part_range

CHUNK = 128  # positions per logits chunk


@torch.inference_mode()
def batch_nll(lm: LoadedModel, batch: torch.Tensor, chunk: int = CHUNK) -> tuple[float, torch.Tensor]:
    """Summed negative log-likelihood of every next token of one batch [b, seq] (on the model's device),
    and the NLL of each predicted token [b, seq - 1] (float32, CPU).

    The sum is accumulated chunk by chunk as before the per-token values were
    kept (``log_softmax`` + ``nll_loss`` is ``cross_entropy`` bit for bit), so
    the perplexity tables are unchanged.
    """
    hidden = lm.base()(input_ids=batch, use_cache=False).last_hidden_state[:, :-1]
    targets = batch[:, 1:].to(hidden.device)
    total, per_token = 0.0, [torch.zeros(batch.shape[0], 0)]
    for start in range(0, hidden.shape[1], chunk):
        logits = lm.adapter.logits(lm.model, hidden[:, start : start + chunk]).float()
        logp = F.log_softmax(logits.flatten(0, 1), dim=-1)
        target = targets[:, start : start + chunk].flatten()
        total += F.nll_loss(logp, target, reduction="sum").item()
        per_token.append(-logp.gather(1, target[:, None]).view(batch.shape[0], -1).cpu())
    return total, torch.cat(per_token, dim=1)


@dataclass
class NLL:
    """Negative log-likelihood of one language's tokens: the sum, and per block of consecutive tokens.

    Blocks (the bootstrap's resampling unit, see ``uncertainty.ppl_ci_table``)
    never straddle two sequences; ``sequence`` says which one each comes from,
    so per-sequence sums are ``blocks`` summed by sequence.
    """

    total: float  # summed NLL, accumulated as the perplexity tables always were
    count: int  # predicted tokens
    blocks: torch.Tensor  # [units] float64: summed NLL of each block
    block_tokens: torch.Tensor  # [units] int64: predicted tokens in each block
    sequence: torch.Tensor  # [units] int64: sequence of each block

    @property
    def ppl(self) -> float:
        return math.exp(self.total / self.count)


def nll(lm: LoadedModel, tokens: dict, batch_size: int, block: int | None = None) -> NLL:
    """NLL of every next token of a language's tokens, also summed per ``block`` predicted tokens.

    ``block`` None: one block per sequence.
    """
    total, count, sums, sizes, sequence = 0.0, 0, [], [], []
    n_seq = 0
    for batch in iter_batches(tokens, batch_size):
        batch_total, per_token = batch_nll(lm, batch.to(lm.device))
        if per_token.numel() == 0:  # a one-token remainder predicts nothing
            continue
        total += batch_total
        count += per_token.numel()
        block_nll, block_size = block_sums(per_token, block or per_token.shape[1])
        sums.append(block_nll.flatten())
        sizes.append(block_size.flatten())
        sequence.append(torch.arange(n_seq, n_seq + len(per_token)).repeat_interleave(block_nll.shape[1]))
        n_seq += len(per_token)
    return NLL(total, count, torch.cat(sums), torch.cat(sizes), torch.cat(sequence))


def block_sums(per_token: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums of consecutive ``block`` positions of each row [rows, width] -> [rows, blocks] (float64),
    and the positions in each block (the last one may be shorter)."""
    rows, width = per_token.shape
    units = -(-width // block)
    pad = units * block - width
    sums = F.pad(per_token.double(), (0, pad)).view(rows, units, block).sum(-1)
    sizes = F.pad(torch.ones(rows, width, dtype=torch.long), (0, pad)).view(rows, units, block).sum(-1)
    return sums, sizes


def perplexity(lm: LoadedModel, tokens: dict, batch_size: int) -> float:
    return nll(lm, tokens, batch_size).ppl


def evaluation_batch_size(
    lm: LoadedModel, valid: dict[str, dict], languages: list[str], batch_size: int | str, limit: int | None = None
) -> int:
    """``batch_size``, or for ``"auto"`` the most of the longest sequences whose NLL fits the free GPU memory
    (at most ``limit`` sequences; by default the most sequences one language has)."""
    return resolve_batch_size(
        batch_size,
        lm,
        lambda ids: batch_nll(lm, ids),
        max(int(valid[lang]["seq_len"]) for lang in languages),
        limit or max(len(valid[lang]["sequences"]) for lang in languages),
    )


#: One evaluation of the perplexity matrices: (method, deactivated language or "none", evaluated language);
#: the ``none`` evaluations belong to no method (method "") and serve every method.
Evaluation = tuple[str, str, str]


def evaluation_order(methods: Sequence[str], languages: Sequence[str]) -> list[Evaluation]:
    """Every evaluation of the perplexity matrices, in the order one job runs them: each language with no
    neurons off, then per method each language's neurons off on each language (what ``perplexity.jobs`` slices)."""
    plain = [("", "none", lang) for lang in languages]
    return plain + [(method, off, lang) for method in methods for off in languages for lang in languages]


def evaluate_part(
    lm: LoadedModel,
    valid: dict[str, dict],
    neuron_sets: dict[str, Neurons],
    languages: list[str],
    batch_size: int | str,
    block: int | None = None,
    part: int = 0,
    parts: int = 1,
    progress=None,
) -> dict[Evaluation, NLL]:
    """The NLL of job ``part`` of ``parts``'s share of ``evaluation_order`` (all of it by default).

    Every evaluation runs as in one job: the same batch size (``"auto"`` probes the longest sequence of all
    languages), the hooks installed, one deactivated set at a time; so the shares of any number of jobs
    together hold exactly the values one job computes.
    """
    order = evaluation_order(list(neuron_sets), languages)
    share = [order[i] for i in part_range(len(order), part, parts)]
    batch_size = evaluation_batch_size(lm, valid, languages, batch_size)
    plans = {(m, off): deactivation_plan(neuron_sets[m][k]) for m in neuron_sets for k, off in enumerate(languages)}
    out: dict[Evaluation, NLL] = {}
    current = None
    with NeuronHooks(lm) as hooks:
        for method, off, lang in share:
            condition = None if off == "none" else (method, off)
            if condition != current:
                hooks.set_plan(None if condition is None else plans[condition])
                current = condition
            out[method, off, lang] = nll(lm, valid[lang], batch_size, block)
            if progress:
                progress.update(1)
    return out


def assemble(
    evaluated: dict[Evaluation, NLL], methods: Sequence[str], languages: Sequence[str]
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, dict[str, NLL]]]]:
    """The perplexity tables and per-method evaluations (``perplexity_matrix``'s result) from every evaluation."""
    tables: dict[str, pd.DataFrame] = {}
    evaluations: dict[str, dict[str, dict[str, NLL]]] = {}
    none_row = {lang: evaluated["", "none", lang] for lang in languages}
    for method in methods:
        evaluations[method] = {"none": none_row}
        for off in languages:
            evaluations[method][off] = {lang: evaluated[method, off, lang] for lang in languages}
        rows = {cond: {lang: e.ppl for lang, e in row.items()} for cond, row in evaluations[method].items()}
        table = pd.DataFrame.from_dict(rows, orient="index")[list(languages)]
        table.index.name = "deactivated"
        tables[method] = table
    return tables, evaluations


def perplexity_matrix(
    lm: LoadedModel,
    valid: dict[str, dict],
    neuron_sets: dict[str, Neurons],
    languages: list[str],
    batch_size: int | str,
    block: int | None = None,
    progress=None,
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, dict[str, NLL]]]]:
    """PPL per condition (rows: none, then each deactivated language) and evaluated language (columns).

    ``neuron_sets`` maps a method name to its neurons[lang][layer]; the
    ``none`` row is computed once and shared by every method. One model load
    serves all conditions: hooks switch the deactivated set between calls.
    ``batch_size`` may be ``"auto"`` (the most sequences that fit the free GPU memory).
    Also returns every evaluation's ``NLL`` (blocks of ``block`` tokens), by
    method, condition and evaluated language.
    """
    evaluated = evaluate_part(lm, valid, neuron_sets, languages, batch_size, block, progress=progress)
    return assemble(evaluated, list(neuron_sets), languages)


def save_part(evaluated: dict[Evaluation, NLL], part: int, parts: int, block: int | None, path) -> None:
    """One perplexity job's evaluations (``evaluate_part``) as a torch file: ``part``, ``parts``, ``block_tokens``
    and ``evaluations``, a list of (method, deactivated, evaluated language, NLL fields) in order."""
    rows = [
        [method, off, lang, e.total, e.count, e.blocks, e.block_tokens, e.sequence]
        for (method, off, lang), e in evaluated.items()
    ]
    with atomic_write(path, None) as tmp:
        torch.save({"part": part, "parts": parts, "block_tokens": block, "evaluations": rows}, tmp)


def load_parts(paths: Sequence, methods: Sequence[str], languages: Sequence[str], block: int | None) -> dict:
    """Every evaluation from the part files of one run (``save_part``), checked to be exactly
    ``evaluation_order``'s, each once, with the same blocks: files of another configuration are refused."""
    evaluated: dict[Evaluation, NLL] = {}
    for k, path in enumerate(paths):
        record = load_torch(path, "a perplexity part file")
        if not isinstance(record, dict) or not {"part", "parts", "evaluations"} <= set(record):
            raise InputFileError(f"{path} is not a perplexity part file (written by perplexity_part)")
        if (record["part"], record["parts"], record.get("block_tokens")) != (k, len(paths), block):
            raise InputFileError(
                f"{path} is part {record['part']} of {record['parts']} (blocks of {record.get('block_tokens')}), "
                f"not part {k} of {len(paths)} (blocks of {block}): delete it and rerun perplexity_part"
            )
        for method, off, lang, total, count, blocks, block_tokens, sequence in record["evaluations"]:
            evaluated[method, off, lang] = NLL(total, count, blocks, block_tokens, sequence)
    expected = evaluation_order(methods, languages)
    if list(evaluated) != expected:
        missing = [e for e in expected if e not in evaluated]
        raise InputFileError(
            f"the perplexity part files {', '.join(map(str, paths))} do not hold the evaluations of "
            f"{', '.join(methods)} on {', '.join(languages)} in order ({len(missing)} missing, "
            f"{len(set(evaluated) - set(expected))} foreign): delete them and rerun perplexity_part"
        )
    return evaluated


def sequences(tokens: dict) -> list[torch.Tensor]:
    """A language's sequences in ``iter_batches`` order (the remainder last), without the ones that predict nothing."""
    rows = list(tokens["sequences"].long())
    if tokens["remainder"].numel() > 1:
        rows.append(tokens["remainder"].long())
    return [row for row in rows if len(row) > 1]


def condition_rows(valid: dict[str, dict], conditions: Sequence[tuple[str, Plan]]) -> list[tuple[int, int, int]]:
    """Every row of ``condition_nll``: (length, condition, sequence index) for each sequence of each
    condition's language; longest first, equal lengths in condition order (a stable sort)."""
    rows = [(len(ids), c, i) for c, (lang, _) in enumerate(conditions) for i, ids in enumerate(sequences(valid[lang]))]
    rows.sort(key=lambda row: -row[0])
    return rows


def row_blocks(rows: list[tuple[int, int, int]], size: int = NULL_BLOCK) -> list[range]:
    """The rows cut into blocks: runs of one length, in chunks of ``size`` from the start of each run.

    Batches never cross a block, so a job that computes some blocks batches them as one job computing all
    of them does (``uncertainty.null_jobs`` slices the blocks).
    """
    blocks, start = [], 0
    for _, run in groupby(rows, key=lambda row: row[0]):
        stop = start + len(list(run))
        blocks += [range(s, min(s + size, stop)) for s in range(start, stop, size)]
        start = stop
    return blocks


#: One row's NLL: the summed NLL of each block of its predicted tokens (float64) and the tokens in each block.
RowNLL = tuple[torch.Tensor, torch.Tensor]


def rows_nll(
    lm: LoadedModel,
    valid: dict[str, dict],
    conditions: Sequence[tuple[str, Plan]],
    batch_size: int | str,
    block: int | None = None,
    part: int = 0,
    parts: int = 1,
    progress=None,
) -> dict[tuple[int, int], RowNLL]:
    """Per-block NLL of the rows of job ``part`` of ``parts`` (its even share of ``row_blocks``; all by default),
    keyed by (condition, sequence index). Rows of one block fill batches whatever condition they come from,
    each under its own plan (``NeuronHooks.set_row_plans``); ``progress`` advances by one per row."""
    rows = condition_rows(valid, conditions)
    blocks = row_blocks(rows)
    share = part_range(len(blocks), part, parts)
    out: dict[tuple[int, int], RowNLL] = {}
    if not len(share):
        return out
    languages = list(dict.fromkeys(lang for lang, _ in conditions))
    batch_size = evaluation_batch_size(lm, valid, languages, batch_size, limit=min(len(rows), NULL_BLOCK))
    ids_of = {lang: sequences(valid[lang]) for lang in languages}
    with NeuronHooks(lm) as hooks:
        for run in (blocks[k] for k in share):
            for start in range(run.start, run.stop, batch_size):
                batch = rows[start : min(start + batch_size, run.stop)]
                hooks.set_row_plans([conditions[c][1] for _, c, _ in batch])
                ids = torch.stack([ids_of[conditions[c][0]][i] for _, c, i in batch]).to(lm.device)
                # as many logits per chunk as one sequence's: the memory of batch 1
                _, per_token = batch_nll(lm, ids, chunk=max(1, CHUNK // len(batch)))
                for (_, c, i), values in zip(batch, per_token):
                    sums, sizes = block_sums(values[None], block or len(values))
                    out[c, i] = (sums.flatten(), sizes.flatten())
                if progress is not None:
                    progress.update(len(batch))
    return out


def condition_nll(
    lm: LoadedModel,
    valid: dict[str, dict],
    conditions: Sequence[tuple[str, Plan]],
    batch_size: int | str,
    block: int | None = None,
    progress=None,
) -> list[NLL]:
    """NLL of each condition, an evaluated language and the plan applied to it, in batches shared across conditions.

    Every sequence of every condition is one row; rows of the same length fill
    batches whatever condition they come from, each row under its own plan
    (``NeuronHooks.set_row_plans``), so many conditions on one short sequence
    each (the random null) still run in full batches (of at most ``NULL_BLOCK``
    rows: ``row_blocks``). A row's NLL is the one it gets alone under its plan,
    to float rounding (the shape of a batch changes the last bits). ``total`` is
    the sum of the per-token NLL (not the chunked sum of ``nll``). ``progress``
    advances by one per row; ``batch_size`` may be ``"auto"``.
    """
    return nll_from_rows(valid, conditions, rows_nll(lm, valid, conditions, batch_size, block, progress=progress))


DEACTIVATION_COLUMNS = ["language", "share", "deactivated", "ppl", "ppl_none", "relative"]


def deactivation_curve(
    lm: LoadedModel,
    valid: dict[str, dict],
    neurons: Neurons,
    probs: torch.Tensor,
    languages: list[str],
    shares: Sequence[float],
    batch_size: int | str,
    progress=None,
) -> pd.DataFrame:
    """Own-language perplexity as a growing share of each language's neurons is switched off.

    Per language: its valid split with none of its neurons off (share 0) and
    with the first ``share`` of them, the most specific first
    (``selection.specificity_order``: LAPE's entropy order). All evaluations
    share batches (``condition_nll``). Columns ``DEACTIVATION_COLUMNS``;
    ``relative`` = ppl / ppl_none - 1.
    """
    from .selection import specificity_order, top_share

    rows, conditions = [], []
    for k, lang in enumerate(languages):
        order = specificity_order(probs, neurons[k], k)
        for share in [0.0, *sorted(shares)]:
            off = top_share(order, share, probs.shape[0])
            rows.append({"language": lang, "share": share, "deactivated": sum(len(i) for i in off)})
            conditions.append((lang, deactivation_plan(off)))
    for row, result in zip(rows, condition_nll(lm, valid, conditions, batch_size, None, progress)):
        row["ppl"] = result.ppl
    table = pd.DataFrame(rows)
    table["ppl_none"] = table.groupby("language")["ppl"].transform("first")
    table["relative"] = table["ppl"] / table["ppl_none"] - 1
    return table[DEACTIVATION_COLUMNS]


def nll_from_rows(
    valid: dict[str, dict], conditions: Sequence[tuple[str, Plan]], per_row: dict[tuple[int, int], RowNLL]
) -> list[NLL]:
    """Each condition's ``NLL`` from the NLL of its rows (``rows_nll``, of one job or merged from several)."""
    counts = {lang: len(sequences(valid[lang])) for lang in dict.fromkeys(lang for lang, _ in conditions)}
    missing = [(c, i) for c, (lang, _) in enumerate(conditions) for i in range(counts[lang]) if (c, i) not in per_row]
    if missing or len(per_row) != sum(counts[lang] for lang, _ in conditions):
        raise InputFileError(
            f"the rows of the conditions are not all there once ({len(missing)} missing of "
            f"{sum(counts[lang] for lang, _ in conditions)}, {len(per_row)} given): rerun their jobs"
        )
    return [_nll_of([per_row[c, i] for i in range(counts[lang])]) for c, (lang, _) in enumerate(conditions)]


def _nll_of(per_sequence: list[RowNLL]) -> NLL:
    """An ``NLL`` from the per-block NLL of each sequence of a language, in order."""
    sums, sizes, sequence = [torch.zeros(0, dtype=torch.float64)], [torch.zeros(0, dtype=torch.long)], []
    for i, (block_nll, block_size) in enumerate(per_sequence):
        sums.append(block_nll)
        sizes.append(block_size)
        sequence.append(torch.full((len(block_nll),), i, dtype=torch.long))
    blocks, block_tokens = torch.cat(sums), torch.cat(sizes)
    sequence = torch.cat(sequence) if sequence else torch.zeros(0, dtype=torch.long)
    return NLL(float(blocks.sum()), int(block_tokens.sum()), blocks, block_tokens, sequence)


def save_rows(per_row: dict[tuple[int, int], RowNLL], part: int, parts: int, block: int | None, path) -> None:
    """One job's rows (``rows_nll``) as a torch file: ``keys`` [rows, 2] (condition, sequence), the block sums
    and sizes of all rows concatenated (``nll``, ``tokens``) and each row's number of blocks (``units``)."""
    keys = list(per_row)
    values = [per_row[key] for key in keys]
    record = {
        "part": part,
        "parts": parts,
        "block_tokens": block,
        "keys": torch.tensor(keys, dtype=torch.long).reshape(-1, 2),
        "units": torch.tensor([len(sums) for sums, _ in values], dtype=torch.long),
        "nll": torch.cat([sums for sums, _ in values]) if values else torch.zeros(0, dtype=torch.float64),
        "tokens": torch.cat([sizes for _, sizes in values]) if values else torch.zeros(0, dtype=torch.long),
    }
    with atomic_write(path, None) as tmp:
        torch.save(record, tmp)


def load_rows(paths: Sequence, block: int | None, what: str = "null") -> dict[tuple[int, int], RowNLL]:
    """The rows of the part files of one run (``save_rows``): each file must be its part, with the same blocks."""
    per_row: dict[tuple[int, int], RowNLL] = {}
    for k, path in enumerate(paths):
        record = load_torch(path, f"a {what} part file")
        if not isinstance(record, dict) or not {"part", "parts", "keys", "units", "nll", "tokens"} <= set(record):
            raise InputFileError(f"{path} is not a {what} part file")
        if (record["part"], record["parts"], record["block_tokens"]) != (k, len(paths), block):
            raise InputFileError(
                f"{path} is part {record['part']} of {record['parts']} (blocks of {record['block_tokens']}), "
                f"not part {k} of {len(paths)} (blocks of {block}): delete it and rerun its job"
            )
        units = record["units"].tolist()
        for key, sums, sizes in zip(record["keys"].tolist(), record["nll"].split(units), record["tokens"].split(units)):
            if tuple(key) in per_row:
                raise InputFileError(f"{path} holds row {tuple(key)} that another part holds too: rerun the parts")
            per_row[tuple(key)] = (sums.clone(), sizes.clone())
    return per_row


def save_nll(evaluations: dict[str, dict[str, NLL]], languages: list[str], block: int | None, path) -> None:
    """One method's per-block NLL (conditions x evaluated languages) as a torch file.

    Keys: ``languages``, ``conditions`` (none, then each deactivated language),
    ``block_tokens``, ``tokens[lang]`` and ``sequence[lang]`` (per block, the
    same under every condition), ``nll[condition][lang]`` (float64 per block).
    """
    none = evaluations["none"]
    record = {
        "languages": list(languages),
        "conditions": list(evaluations),
        "block_tokens": block,
        "tokens": {lang: none[lang].block_tokens for lang in languages},
        "sequence": {lang: none[lang].sequence for lang in languages},
        "nll": {cond: {lang: row[lang].blocks for lang in languages} for cond, row in evaluations.items()},
    }
    with atomic_write(path, None) as tmp:
        torch.save(record, tmp)


def load_nll(path) -> dict:
    record = load_torch(path, "a per-block NLL file")
    if not isinstance(record, dict) or not {"languages", "conditions", "tokens", "nll"} <= set(record):
        raise InputFileError(f"{path} is not a per-block NLL file (written by the perplexity rule)")
    return record


def ppl_change(table: pd.DataFrame) -> pd.DataFrame:
    """Absolute and relative change of every row against the ``none`` row (long format)."""
    base = table.loc["none"]
    rows = []
    for off, row in table.drop(index="none").iterrows():
        for lang in table.columns:
            rows.append(
                {
                    "deactivated": off,
                    "evaluated": lang,
                    "ppl": row[lang],
                    "ppl_none": base[lang],
                    "delta": row[lang] - base[lang],
                    "relative": row[lang] / base[lang] - 1,
                }
            )
    return pd.DataFrame(rows)


def relative_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """Relative PPL change (rows deactivated, columns evaluated)."""
    return table.drop(index="none") / table.loc["none"] - 1


def specificity(table: pd.DataFrame) -> pd.DataFrame:
    """Per deactivated language: is its own language hit hardest, and diagonal / mean off-diagonal.

    The ratio compares the relative PPL increase of the deactivated language with
    the mean relative increase of the other languages (floored at 1e-3 so a
    near-zero off-diagonal does not explode it).
    """
    rel = relative_matrix(table)
    rows = []
    for off in rel.index:
        if off not in rel.columns:
            continue
        own = rel.loc[off, off]
        others = rel.loc[off].drop(off)
        rows.append(
            {
                "deactivated": off,
                "own_increase": own,
                "max_other_increase": others.max(),
                "mean_other_increase": others.mean(),
                "own_is_largest": bool(own > others.max()),
                "ratio": own / max(others.mean(), 1e-3),
            }
        )
    return pd.DataFrame(rows).set_index("deactivated")
