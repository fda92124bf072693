"""Interventions change exactly the chosen neurons, and removing them restores the model bit for bit."""

import pytest
import torch

from langneurons.hooks import Edit, NeuronHooks, activation_plan, combine, deactivation_plan

from ..conftest import loaded

IDS = torch.randint(3, 259, (2, 9), generator=torch.Generator().manual_seed(0))


def captured(lm, plan=None):
    """Activations after the edit hooks, per layer, via a second hook registered after ours."""
    acts = {}
    with NeuronHooks(lm) as hooks:
        hooks.set_plan(plan)
        extra = [
            m.register_forward_hook(lambda m, i, o, l=l: acts.__setitem__(l, o.detach().clone()))
            for l, m in enumerate(hooks.modules)
        ]
        with torch.no_grad():
            logits = lm.model(input_ids=IDS).logits
        for h in extra:
            h.remove()
    return acts, logits


@pytest.fixture(scope="module")
def lm():
    # one layer, so that each activation depends only on the input (no upstream edits)
    return loaded("LlamaForCausalLM", num_layers=1, d_ff=40)


CHOSEN = torch.tensor([3, 17, 31])


def untouched_equal(a, b):
    keep = torch.ones(a.shape[-1], dtype=torch.bool)
    keep[CHOSEN] = False
    return torch.equal(a[..., keep], b[..., keep])


def test_deactivate_zeroes_exactly_the_chosen(lm):
    plain, _ = captured(lm)
    dead, _ = captured(lm, deactivation_plan([CHOSEN]))
    assert (dead[0][..., CHOSEN] == 0).all()
    assert untouched_equal(plain[0], dead[0])


def test_replace_sets_the_given_values(lm):
    means = torch.randn(1, 40)
    plain, _ = captured(lm)
    act, _ = captured(lm, activation_plan([CHOSEN], means, mode="replace"))
    assert torch.equal(act[0][..., CHOSEN], means[0, CHOSEN].expand(2, 9, 3))
    assert untouched_equal(plain[0], act[0])
    # strength scales the value it sets (1: the paper's mean activation)
    half, _ = captured(lm, activation_plan([CHOSEN], means, mode="replace", strength=0.5))
    torch.testing.assert_close(half[0][..., CHOSEN], 0.5 * means[0, CHOSEN].expand(2, 9, 3))
    assert untouched_equal(plain[0], half[0])


def test_add_and_multiply(lm):
    means = torch.randn(1, 40)
    plain, _ = captured(lm)
    added, _ = captured(lm, activation_plan([CHOSEN], means, mode="add", strength=2.0))
    torch.testing.assert_close(added[0][..., CHOSEN], plain[0][..., CHOSEN] + 2.0 * means[0, CHOSEN])
    scaled, _ = captured(lm, activation_plan([CHOSEN], means, mode="multiply", strength=3.0))
    torch.testing.assert_close(scaled[0][..., CHOSEN], plain[0][..., CHOSEN] * 3.0)
    assert untouched_equal(plain[0], added[0]) and untouched_equal(plain[0], scaled[0])


def test_combined_plan_applies_in_order(lm):
    means = torch.randn(1, 40)
    off = deactivation_plan([torch.tensor([3])])
    on = activation_plan([torch.tensor([17])], means, mode="replace")
    act, _ = captured(lm, combine(off, on))
    assert act[0][..., 3].eq(0).all() and act[0][..., 17].eq(means[0, 17]).all()


def test_removing_hooks_restores_plain_output_bit_for_bit():
    lm = loaded("LlamaForCausalLM", num_layers=3, d_ff=40)
    with torch.no_grad():
        before = lm.model(input_ids=IDS).logits
        hooks = NeuronHooks(lm)
        hooks.set_plan(deactivation_plan([CHOSEN] * 3))
        edited = lm.model(input_ids=IDS).logits
        hooks.set_plan(None)
        idle = lm.model(input_ids=IDS).logits  # hooks installed but idle
        hooks.remove()
        after = lm.model(input_ids=IDS).logits
    assert not torch.equal(before, edited)
    assert torch.equal(before, idle) and torch.equal(before, after)
    assert all(not m._forward_hooks for m in lm.adapter.activation_modules(lm.model))


def test_plans_switch_without_reloading():
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=40)
    with NeuronHooks(lm) as hooks, torch.no_grad():
        hooks.set_plan(deactivation_plan([CHOSEN, CHOSEN]))
        first = lm.model(input_ids=IDS).logits
        hooks.set_plan(deactivation_plan([torch.tensor([0]), torch.tensor([1])]))
        second = lm.model(input_ids=IDS).logits
        hooks.set_plan(deactivation_plan([CHOSEN, CHOSEN]))
        again = lm.model(input_ids=IDS).logits
    assert not torch.equal(first, second) and torch.equal(first, again)


def test_row_plans_give_each_row_its_own_intervention():
    """One batch, a plan per row (shared objects in runs): each row as if run alone under its plan."""
    lm = loaded("LlamaForCausalLM", num_layers=2, d_ff=40)
    means = torch.randn(2, 40)
    off = deactivation_plan([CHOSEN, torch.tensor([0, 5])])
    steer = combine(deactivation_plan([torch.tensor([3]), torch.tensor([])]), activation_plan([CHOSEN] * 2, means))
    add = activation_plan([CHOSEN] * 2, means, mode="add", strength=2.0)
    plans = [off, off, {}, steer, add, off]  # off appears in two runs of rows
    ids = torch.randint(3, 259, (len(plans), 7), generator=torch.Generator().manual_seed(1))
    with NeuronHooks(lm) as hooks, torch.no_grad():
        hooks.set_row_plans(plans)
        together = lm.model(input_ids=ids).logits
        alone = []
        for row, plan in enumerate(plans):
            hooks.set_plan(plan)
            alone.append(lm.model(input_ids=ids[row : row + 1]).logits[0])
        hooks.set_plan(None)
        plain = lm.model(input_ids=ids).logits
    torch.testing.assert_close(together, torch.stack(alone), rtol=0, atol=1e-6)
    changed = [not torch.allclose(together[r], plain[r]) for r in range(len(plans))]
    assert changed == [True, True, False, True, True, True]


def test_bad_edits_are_refused():
    with pytest.raises(ValueError, match="not one of"):
        Edit(torch.tensor([1]), mode="boost")
    with pytest.raises(ValueError, match="one value per neuron"):
        Edit(torch.tensor([1, 2]), mode="replace", values=torch.tensor([0.5]))
