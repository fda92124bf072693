"""SES on hand-made hidden states; pooling ignores padding and BOS; parallel question sets align by id.

The workflow's SES on a parallel question set from files: tests/integration/test_workflow_ses.py.
"""

import json

import pytest
import torch

from langneurons.questions import parallel_questions
from langneurons.ses import mean_pool, pooled_states, ses_curve, ses_table

from ..conftest import loaded


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
