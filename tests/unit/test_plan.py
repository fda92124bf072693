"""`langneurons plan` and the work model behind it: the paper configs split every GPU stage into jobs of at most
a tenth of its work (the tasks stage: one condition per job; the plan and a dry run's job counts say
so), and each job asks for the wall time its work takes at the model's throughput."""

from __future__ import annotations

import re

import pytest
import yaml

from langneurons.cli import main
from langneurons.config import split_work, validate_config
from langneurons.splitting import JOB_KEYS, LOAD_MINUTES, RUNTIME_MARGIN, runtime_minutes

from ..conftest import REPO

PAPER = sorted((REPO / "configs").glob("paper-*.yaml"))


def paper(path) -> dict:
    return validate_config(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.stem)
def test_paper_configs_give_no_gpu_job_more_than_a_tenth_of_a_stage(path):
    cfg = paper(path)
    (model,) = cfg["models"]
    work = {w.stage: w for w in split_work(cfg, model)}
    for stage in JOB_KEYS:
        if stage in work and work[stage].gpus:
            # tasks: a job runs whole conditions (its harness batches as one job's): one each
            assert work[stage].share <= (1 / work[stage].units if stage == "tasks" else 0.1), (stage, work[stage])
    assert work["tasks"].largest == 1
    assert work["count_activations"].share <= 0.1
    # every job of the split stages within about an hour at the config's throughput
    for stage in ("perplexity", "perplexity_null", "generate", "steer", "steer_sweep"):
        assert work[stage].seconds(cfg["models"][model]["throughput"]) < 1.25 * 3600, stage


def test_the_7b_plan_counts_the_work_of_the_stages():
    cfg = paper(REPO / "configs" / "paper-llama2-7b.yaml")
    work = {w.stage: w for w in split_work(cfg, "llama2-7b")}
    assert work["perplexity"].units == 7 * (1 + 7 * 5) == 252
    assert (work["perplexity"].jobs, work["perplexity"].largest) == (21, 12)
    assert work["perplexity"].tokens == 12 * 2**20
    # 19 draws for lape, lap, lave, pv (random shares lape's) x 7 languages x 256 sequences, in blocks of 32
    assert work["perplexity_null"].units == 4 * 19 * 7 * 256 // 32
    # generation: (normal, random, 7 languages off) x 7 languages x 70 questions, batches of 8
    assert work["generate"].units == -(-9 * 7 * 70 // 8) and work["generate"].decoded == work["generate"].answers * 2048
    # steering (generation runs, so no normal answers of its own): off-target 7 x 70 and cross-lingual 3 x (3 x 70)
    # fill the same batches
    assert work["steer"].units == -(-(7 * 70 + 3 * 3 * 70) // 8)
    assert work["judge"].units == 9 * 7 * 70 + 7 * 70 + 7 * 70 + 3 * 3 * 70 and work["judge"].gpus == 0  # GPT-4
    assert work["count_activations"].jobs == 70 and work["count_activations"].tokens == 10_000_000
    # the sweep: 10 held-out questions x (7 baselines + 7 x 5 shares + 7 x 10 points off-target + 3 unsteered
    # + 3 x 2 pairs x 10 points), batches of 8, 12 jobs
    assert work["steer_sweep"].units == -(-10 * (7 + 35 + 70 + 3 + 60) // 8) and work["steer_sweep"].jobs == 12


def test_runtime_follows_the_work_and_the_throughput():
    cfg = paper(REPO / "configs" / "paper-llama2-7b.yaml")
    work = {w.stage: w for w in split_work(cfg, "llama2-7b")}["perplexity"]
    fast = runtime_minutes(work, {"forward": 8000, "decode": 400})
    slow = runtime_minutes(work, {"forward": 4000, "decode": 200})
    assert slow == -(-(LOAD_MINUTES * 60 + RUNTIME_MARGIN * 12 * 2**20 / 4000) // 60)
    assert fast < slow


def test_plan_prints_every_stage(capsys):
    main(["plan", "--configfile", str(REPO / "configs" / "paper-llama2-7b.yaml"), "--gpus", "8"])
    out = capsys.readouterr().out
    assert "8 GPU(s): 8 job(s) at once" in out and "forward 4k tokens/s, decode 200 new tokens/s" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in {*JOB_KEYS, "total"}}
    assert set(rows) == {*JOB_KEYS, "total"}
    assert re.match(
        r"perplexity\s+21\s+perplexity\.jobs = 21\s+12 evaluations, 12\.6M tokens\s+4\.8%", rows["perplexity"]
    )
    assert "(no GPU)" in rows["judge"]
    assert re.search(r"tasks\.jobs = 9\s+1 condition, ", rows["tasks"])  # one of a unit: singular


def test_plan_of_a_bad_config_is_one_line(tmp_path, capsys):
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg["perplexity"] = {"jobs": 0}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    for configfile, text in (
        (path, "Config error: perplexity.jobs: 0 is less than the minimum of 1"),
        (tmp_path / "none.yaml", "cannot read"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(["plan", "--configfile", str(configfile)])
        assert stop.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("langneurons: error: ") and text in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
