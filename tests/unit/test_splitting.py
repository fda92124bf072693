"""Stages split into jobs (perplexity.jobs, uncertainty.null_jobs, generation.jobs, steering.jobs, judge.jobs):
the slices tile the work exactly, and the parts' files merged give what one job computes, to the last bit,
on a tiny random model."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from langneurons.generation import batch_share, run_conditions
from langneurons.judge import JudgeItem
from langneurons.judge.local import LocalJudge
from langneurons.judging import judge_share, preload_shares
from langneurons.perplexity import (
    assemble,
    condition_rows,
    evaluate_part,
    evaluation_order,
    load_parts,
    load_rows,
    nll_from_rows,
    perplexity_matrix,
    row_blocks,
    rows_nll,
    save_nll,
    save_part,
    save_rows,
)
from langneurons.splitting import NULL_BLOCK, part_range
from langneurons.steering import run_steering
from langneurons.uncertainty import draw_results, method_draws, null_conditions, null_increases, null_table

from ..conftest import loaded

LANGS = ["en", "zh", "fr"]


def tokens(n_seq, seq_len=16, remainder=5, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return {
        "sequences": torch.randint(3, 259, (n_seq, seq_len), generator=gen, dtype=torch.int32),
        "remainder": torch.randint(3, 259, (remainder,), generator=gen, dtype=torch.int32),
        "seq_len": seq_len,
    }


@pytest.fixture(scope="module")
def lm():
    return loaded("LlamaForCausalLM", num_layers=2, d_ff=48)


@pytest.fixture(scope="module")
def valid():
    return {"en": tokens(2, seed=1), "zh": tokens(1, remainder=9, seed=2), "fr": tokens(3, remainder=0, seed=3)}


@pytest.fixture(scope="module")
def neuron_sets():
    gen = torch.Generator().manual_seed(0)
    sets = {}
    for method, size in (("lape", 4), ("lave", 7)):
        sets[method] = [[torch.randperm(48, generator=gen)[:size].sort().values for _ in range(2)] for _ in LANGS]
    return sets


# ------------------------------------------------------------------------------------------------- slices
@pytest.mark.parametrize("units", [0, 1, 2, 7, 10, 33, 252])
def test_part_ranges_tile_the_work_evenly_and_in_order(units):
    for parts in range(1, max(units, 1) + 1):
        ranges = [part_range(units, k, parts) for k in range(parts)]
        assert [i for r in ranges for i in r] == list(range(units))  # nothing missing, nothing twice, in order
        assert max(map(len, ranges)) - min(map(len, ranges)) <= 1
        assert ranges == [part_range(units, k, parts) for k in range(parts)]  # deterministic
    with pytest.raises(ValueError):
        part_range(units, 3, 3)


@pytest.mark.parametrize("items, batch_size", [(30, 8), (0, 2), (9, 2), (17, 3), (5, 5)])
def test_batch_shares_are_whole_batches_that_tile_the_items(items, batch_size):
    batches = -(-items // batch_size)
    for parts in range(1, batches + 1):
        shares = [batch_share(items, batch_size, k, parts) for k in range(parts)]
        assert [j for share in shares for j in range(items)[share]] == list(range(items))
        assert all(share.start % batch_size == 0 for share in shares)
        sizes = [-(-len(range(items)[share]) // batch_size) for share in shares]
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) == batches


def test_row_blocks_hold_one_length_and_tile_the_rows(valid):
    conditions = [(lang, {}) for lang in LANGS] * 30
    rows = condition_rows(valid, conditions)
    blocks = row_blocks(rows)
    assert [i for block in blocks for i in block] == list(range(len(rows)))
    assert all(0 < len(block) <= NULL_BLOCK and len({rows[i][0] for i in block}) == 1 for block in blocks)
    assert len(blocks) > 4


# ------------------------------------------------------------------------------------------------- merges
def test_perplexity_parts_merge_into_the_one_job_files(lm, valid, neuron_sets, tmp_path):
    methods = list(neuron_sets)
    tables, evaluations = perplexity_matrix(lm, valid, neuron_sets, LANGS, batch_size=2, block=4)
    parts = 4
    paths = []
    for k in range(parts):
        paths.append(tmp_path / f"{k}.pt")
        save_part(evaluate_part(lm, valid, neuron_sets, LANGS, 2, 4, k, parts), k, parts, 4, paths[-1])
    merged_tables, merged = assemble(load_parts(paths, methods, LANGS, 4), methods, LANGS)
    assert len(evaluation_order(methods, LANGS)) == 3 * (1 + 3 * 2)
    for run, (run_tables, run_evaluations) in {"one": (tables, evaluations), "merged": (merged_tables, merged)}.items():
        (tmp_path / run).mkdir()
        for method in methods:  # under the same names: torch.save records a file's name in it
            run_tables[method].to_csv(tmp_path / run / f"{method}.csv", float_format="%.4f")
            save_nll(run_evaluations[method], LANGS, 4, tmp_path / run / f"{method}.nll.pt")
    for name in (f"{method}.{suffix}" for method in methods for suffix in ("csv", "nll.pt")):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "merged" / name).read_bytes()
    # the parts of another split are refused
    with pytest.raises(Exception, match="is part 0 of 4 .*not part 0 of 2"):
        load_parts(paths[:2], methods, LANGS, 4)


def test_null_parts_merge_into_the_one_job_table(lm, valid, neuron_sets, tmp_path):
    draws = {method: method_draws(neurons, 48, 0, 12) for method, neurons in neuron_sets.items()}
    conditions, where = null_conditions(LANGS, draws)
    rows = condition_rows(valid, conditions)
    assert len(row_blocks(rows)) >= 5  # several blocks of rows: parts cut between them
    _, evaluations = perplexity_matrix(lm, valid, neuron_sets, LANGS, batch_size=4, block=4)
    records = {}
    for method in neuron_sets:
        save_nll(evaluations[method], LANGS, 4, tmp_path / f"{method}.nll.pt")
        records[method] = torch.load(tmp_path / f"{method}.nll.pt", weights_only=True)

    def table(per_row):
        evaluated = draw_results(where, nll_from_rows(valid, conditions, per_row))
        reference = next(iter(records.values()))
        return null_table(records, neuron_sets, draws, null_increases(reference, evaluated), LANGS)

    one = rows_nll(lm, valid, conditions, 4, 4)
    parts, paths = 5, []
    for k in range(parts):
        paths.append(tmp_path / f"null.{k}.pt")
        save_rows(rows_nll(lm, valid, conditions, 4, 4, k, parts), k, parts, 4, paths[-1])
    merged = load_rows(paths, 4)
    assert set(merged) == set(one)
    assert all(torch.equal(one[key][0], merged[key][0]) and torch.equal(one[key][1], merged[key][1]) for key in one)
    table(one).to_csv(tmp_path / "one.csv", index=False, float_format="%.5f")
    table(merged).to_csv(tmp_path / "merged.csv", index=False, float_format="%.5f")
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "merged.csv").read_bytes()
    # a row missing (a part of another run): the merge says so instead of writing a table from some of the rows
    merged.pop(next(iter(merged)))
    with pytest.raises(Exception, match="not all there"):
        nll_from_rows(valid, conditions, merged)


GEN = {"max_new_tokens": 5, "batch_size": 4, "repetition_penalty": 1.1, "stop": ["\nQ:", "\nA:"]}
QUESTIONS = {lang: [{"id": f"q{i}", "question": f"{lang} question {i}" + "?" * i} for i in range(3)] for lang in LANGS}


def test_generation_parts_are_the_one_job_answers(lm, neuron_sets):
    prompts = {lang: [f"Q: {q['question']}\nA:" for q in QUESTIONS[lang]] for lang in LANGS}
    from langneurons.generation import deactivation_conditions

    plans = deactivation_conditions(neuron_sets["lape"], neuron_sets["lave"], LANGS)
    one = run_conditions(lm, QUESTIONS, prompts, plans, GEN, {"model": "m"})
    assert len(one) == 5 * 3 * 3  # 12 batches of 4 (the last one 1)
    for parts in (2, 5, 12):
        joined = [
            r
            for k in range(parts)
            for r in run_conditions(lm, QUESTIONS, prompts, plans, GEN, {"model": "m"}, False, k, parts)
        ]
        assert [json.dumps(r, ensure_ascii=False) for r in joined] == [json.dumps(r, ensure_ascii=False) for r in one]


def test_steering_parts_are_the_one_job_answers(lm, neuron_sets):
    means = torch.arange(2 * 48 * 3, dtype=torch.float64).reshape(2, 48, 3) / 50
    cfg = {
        "method": "lape",
        "mode": "replace",
        "strength": 1.0,
        "offtarget": True,
        "crosslingual_languages": ["en", "zh"],
        "crosslingual_instruction": False,
    }
    args = (lm, neuron_sets["lape"], means, QUESTIONS, "Q: {question}{instruction}\nA:", {}, GEN, cfg, {"model": "m"})
    one = run_steering(*args, with_normal=True)
    assert len(one) == 2 * 9 + 2 * 6  # off-target 18, cross-lingual 12: 30 rows in shared batches
    for parts in (2, 3, 8):
        joined = [r for k in range(parts) for r in run_steering(*args, with_normal=True, part=k, parts=parts)]
        assert joined == one


def test_local_judge_parts_give_the_one_job_scores(lm):
    items = [
        JudgeItem("How do I sleep better?", "Drink warm milk and read a calm book in bed before you sleep.", "en"),
        JudgeItem("How do I sleep better?", "How do I sleep better? How do I sleep better?", "en"),
        JudgeItem("Why is the sky blue?", "Because sunlight scatters off the air, and blue light scatters most.", "en"),
        JudgeItem("天空为什么是蓝色的？", "因为阳光在空气中散射，蓝光散射得最多，所以天空看起来是蓝色的。", "zh"),
        JudgeItem("天空为什么是蓝色的？", "Because of the air.", "zh"),
        JudgeItem(
            "Pourquoi le ciel est-il bleu ?", "Parce que la lumière du soleil est diffusée par l'air du ciel.", "fr"
        ),
        JudgeItem(
            "Comment dormir mieux ?", "Buvez du lait chaud et lisez un livre calme avant de dormir le soir.", "fr"
        ),
        JudgeItem("Why is the sky blue?", "", "en"),
    ]
    one = LocalJudge(lm, LANGS, batch_size=2).score(items)
    batches = LocalJudge(lm, LANGS, batch_size=2).likelihood_batches(items)
    assert len(batches) >= 6
    for parts in (2, 3, len(batches)):
        shares = [
            json.loads(json.dumps(judge_share(LocalJudge(lm, LANGS, batch_size=2), items, k, parts)))
            for k in range(parts)
        ]
        merge = LocalJudge(SimpleNamespace(tokenizer=lm.tokenizer, model=None), LANGS, batch_size=2)
        preload_shares(merge, shares, [f"{k}.json" for k in range(parts)])
        assert merge.score(items) == one  # every score, to the last bit
    # likelihoods missing (a part of another run): the merge refuses to score instead of computing without a model
    merge = LocalJudge(SimpleNamespace(tokenizer=lm.tokenizer, model=None), LANGS, batch_size=2)
    merge.preload({(tuple(c), tuple(a)): v for share in shares[:-1] for c, a, v in share["likelihoods"]}, complete=True)
    with pytest.raises(Exception, match="lack"):
        merge.score(items)


class CountingJudge:
    """A judge without a model pass (as the openai judge): scores from the answer's length, counting requests."""

    identity = {"backend": "openai", "model": "fake"}

    def __init__(self):
        self.asked = 0

    def render(self, item):
        return f"{item.question}|{item.answer}|{item.language}"

    def score(self, items):
        from langneurons.judge import Judgement

        self.asked += len(items)
        return [Judgement(1 + len(item.answer) % 5) for item in items]


def test_an_api_judge_split_scores_each_answer_once_and_the_merge_asks_nothing_new(tmp_path):
    from langneurons.judge import CachedJudge

    items = [JudgeItem(f"question {k}", "answer " * k, "en") for k in range(11)]
    one = CountingJudge().score(items)
    backends = [CountingJudge() for _ in range(3)]
    shares = [judge_share(CachedJudge(b, tmp_path), items, k, 3) for k, b in enumerate(backends)]
    assert [b.asked for b in backends] == [3, 4, 4] and sum(s["scored"] for s in shares) == 11
    merging = CountingJudge()
    merge = CachedJudge(merging, tmp_path)
    preload_shares(merge, shares, ["0.json", "1.json", "2.json"])
    assert merge.score(items) == one and merging.asked == 0  # every score from the parts, through the cache
    with pytest.raises(Exception, match=r"0.json is part 0 of 3 \(judge openai\), not part 0 of 2"):
        preload_shares(merge, [shares[0], shares[2]], ["0.json", "2.json"])
