"""SES on hand-made hidden states; pooling ignores padding and BOS; SES on any parallel question set."""

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from langneurons.models import load_prepared
from langneurons.questions import parallel_questions
from langneurons.ses import mean_pool, pooled_states, ses_curve, ses_table

from ..conftest import REPO, loaded


def test_mean_pool_ignores_masked_positions():
    states = torch.tensor([[[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]]])  # [b=1, layers=1, pos=3, d=2]
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(mean_pool(states, mask), torch.tensor([[[2.0, 1.0]]]))


def test_ses_table_on_hand_made_vectors():
    # 2 items, 2 layers: layer 0 identical across languages, layer 1 orthogonal for 'b'
    a = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    b = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
    c = torch.tensor([[[2.0, 0.0], [1.0, 1.0]], [[0.0, 3.0], [1.0, 1.0]]])
    table = ses_table({"a": a, "b": b, "c": c})
    ab = table[(table.lang_a == "a") & (table.lang_b == "b")].set_index("layer")["similarity"]
    assert ab[0] == pytest.approx(1.0) and ab[1] == pytest.approx(0.0)
    ac = table[(table.lang_a == "a") & (table.lang_b == "c")].set_index("layer")["similarity"]
    assert ac[1] == pytest.approx(2**-0.5)
    curve = ses_curve(table)
    assert curve[0] == pytest.approx(1.0)
    assert curve[1] == pytest.approx((0.0 + 2**-0.5 + 2**-0.5) / 3)


def test_pooled_states_padding_does_not_change_vectors():
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=32)
    texts = ["short", "a much longer sentence than the first one"]
    together = pooled_states(lm, texts, batch_size=2)  # padded batch
    alone = torch.cat([pooled_states(lm, [t], batch_size=1) for t in texts])
    assert together.shape == (2, 3, 32)  # items, layers + embeddings, hidden
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_parallel_questions_align_by_id(tmp_path):
    en = _jsonl(tmp_path / "en.jsonl", [{"id": "a", "question": "Why?"}, {"id": "b", "question": "How?"}])
    fr = _jsonl(tmp_path / "fr.jsonl", [{"id": "b", "question": "Comment ?"}, {"id": "a", "question": "Pourquoi ?"}])
    aligned = parallel_questions({"en": en, "fr": fr})
    assert [q["question"] for q in aligned["fr"]] == ["Pourquoi ?", "Comment ?"]  # in the first language's order


@pytest.mark.parametrize(
    "fr_ids, wrong",
    [(["a"], "b"), (["a", "b", "c"], "c"), (["a", "c"], "b, c"), (["a", "b", "b"], "b")],
    ids=["fewer", "more", "other", "repeated"],
)
def test_questions_that_are_not_parallel_are_an_error_naming_the_files(tmp_path, fr_ids, wrong):
    en = _jsonl(tmp_path / "en.jsonl", [{"id": i, "question": "?"} for i in ("a", "b")])
    fr = _jsonl(tmp_path / "fr.jsonl", [{"id": i, "question": "?"} for i in fr_ids])
    with pytest.raises(
        ValueError, match=rf"{en} \(2 questions\) and {fr} \({len(fr_ids)}\) are not parallel \(ids {wrong} "
    ):
        parallel_questions({"en": en, "fr": fr})


def test_workflow_ses_on_a_parallel_files_question_set(tmp_path):
    texts = {
        "en": ["Where is the train station?", "What should I cook tonight?", "Why do cats purr?"],
        "zh": ["火车站在哪里？", "我今晚应该做什么菜？", "猫为什么会发出呼噜声？"],
        "fr": ["Où est la gare ?", "Que devrais-je cuisiner ce soir ?", "Pourquoi les chats ronronnent-ils ?"],
    }
    files = {}
    for lang, lines in texts.items():
        files[lang] = str(tmp_path / f"{lang}.txt")
        Path(files[lang]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg.update(
        results=str(tmp_path / "results"),
        resources_dir=str(tmp_path / "resources"),
        questions={"source": "files", "files": files},
        ses={"items": "questions", "max_items": 10},
    )
    config = tmp_path / "config.yaml"
    target = tmp_path / "results" / "tiny-llama" / "ses.csv"

    def snakemake(*flags):
        config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        args = ["snakemake", str(target), "--cores", "2", "--max-threads", "1", "--configfile", str(config), *flags]
        run = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return run.stdout + run.stderr

    snakemake()
    # the workflow's SES is SES on exactly these questions, item by item across languages
    lm = load_prepared(str(tmp_path / "resources" / "models" / "tiny-llama"))
    expected = ses_table({lang: pooled_states(lm, lines) for lang, lines in texts.items()})
    got = pd.read_csv(target)
    assert set(zip(got.lang_a, got.lang_b)) == {("en", "zh"), ("en", "fr"), ("zh", "fr"), ("all", "all")}
    pd.testing.assert_frame_equal(got, expected, atol=1e-4, rtol=0)
    # how many questions generation takes is not an SES input
    cfg["questions"]["max_questions"] = 2
    assert "Nothing to be done" in snakemake("-n")
