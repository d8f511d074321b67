"""pard_ref.ttt.lora on a tiny float64 Llama: zero B is a no-op, training changes, reset restores exactly."""

import pytest
import torch

from pard_ref.ttt.adapt import tiny_llama, train_lora
from pard_ref.ttt.loo import TrainingExample
from pard_ref.ttt.lora import ALL_TARGETS, PAPER_TARGETS, LoRALinear, apply_lora, get_lora_state, lora_modules, lora_parameters, remove_lora, reset_lora, set_lora_state

PROMPT = torch.tensor([[1, 4, 9, 10, 7, 11, 12, 5, 13, 14, 7, 15, 16, 6, 4, 17]])  # (1, 16)
EXAMPLES = [TrainingExample("x", PROMPT[0].tolist(), [False] * 8 + [True] * 8)] * 2



def _logits(model):
    with torch.no_grad():
        return model(input_ids=PROMPT).logits  # (1, 16, V)


def test_zero_b_is_a_no_op_training_changes_reset_restores():
    model = tiny_llama(dtype=torch.float64, init_std=0.2)
    base = _logits(model)
    names = apply_lora(model, r=4, alpha=8, seed=0)
    assert len(names) == 2 * len(PAPER_TARGETS) and "model.layers.0.self_attn.q_proj" in names
    assert torch.equal(_logits(model), base)  # B = 0: exactly the base model
    # only the adapters train
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{n}.lora_{x}" for n in names for x in "AB"}
    assert len(lora_parameters(model)) == len(trainable)
    train_lora(model, EXAMPLES, epochs=3, lr=1e-2, batch_size=1)
    trained = _logits(model)
    assert (trained - base).abs().max() > 1e-3
    state = get_lora_state(model)
    reset_lora(model)
    assert torch.equal(_logits(model), base)  # reset: exactly the base model again
    set_lora_state(model, state)
    assert torch.equal(_logits(model), trained)


def test_reset_gives_the_same_start_for_every_task():
    model = tiny_llama(dtype=torch.float64)
    apply_lora(model, r=2, alpha=4, seed=3)
    start = get_lora_state(model)
    train_lora(model, EXAMPLES, epochs=1, lr=1e-2, batch_size=2)
    assert any(not torch.equal(start[k], v) for k, v in get_lora_state(model).items())
    reset_lora(model)
    after = get_lora_state(model)
    assert all(torch.equal(start[k], after[k]) for k in start)
    # the same seed draws the same A on another copy; another seed does not
    twin, other = tiny_llama(dtype=torch.float64), tiny_llama(dtype=torch.float64)
    apply_lora(twin, r=2, alpha=4, seed=3)
    apply_lora(other, r=2, alpha=4, seed=4)
    assert all(torch.equal(start[k], v) for k, v in get_lora_state(twin).items())
    assert not all(torch.equal(start[k], v) for k, v in get_lora_state(other).items())


def test_remove_and_merge():
    model = tiny_llama(dtype=torch.float64, init_std=0.2)
    base = _logits(model)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    apply_lora(model, targets=ALL_TARGETS, r=4, alpha=8)
    assert len(lora_modules(model)) == 14
    train_lora(model, EXAMPLES, epochs=2, lr=1e-2, batch_size=2)
    adapted = _logits(model)
    remove_lora(model, merge=True)  # the update folded into the weights
    assert not lora_modules(model)
    assert torch.allclose(_logits(model), adapted, atol=1e-10)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    plain = tiny_llama(dtype=torch.float64, init_std=0.2)
    apply_lora(plain)
    remove_lora(plain)
    assert torch.equal(_logits(plain), base)
    assert type(plain.model.layers[0].self_attn.q_proj) is torch.nn.Linear


def test_wrapper_math_and_errors():
    lin = torch.nn.Linear(5, 3).double()
    wrapped = LoRALinear(lin, r=2, alpha=6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        wrapped.lora_B.normal_()
    x = torch.randn(4, 5, dtype=torch.float64)
    expected = lin(x) + 3.0 * (x @ wrapped.lora_A.T @ wrapped.lora_B.T)  # alpha / r = 3
    assert torch.allclose(wrapped(x), expected)
    assert torch.allclose(wrapped.delta_weight(), 3.0 * wrapped.lora_B @ wrapped.lora_A)
    assert not lin.weight.requires_grad
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(torch.nn.Linear(2, 2), r=0, alpha=1)
    model = tiny_llama()
    with pytest.raises(ValueError, match="unknown LoRA targets"):
        apply_lora(model, targets=("qkv",))
    apply_lora(model)
    with pytest.raises(ValueError, match="already"):
        apply_lora(model)
    with pytest.raises(ValueError, match="missing"):
        set_lora_state(model, {})
    with pytest.raises(ValueError, match="no LoRA"):
        reset_lora(tiny_llama())
