"""pard_ref.bench.limits: batching, temperature, a costlier draft, the GPU-like bound.

On tiny random models (no zoo). Timings are only checked for being positive and for the one relation
that holds on any machine by a wide margin (a batch of 64 sequences x 9 tokens costs more than one
token of one sequence); acceptance is checked against its limits and against the engine's own greedy
figures, the formulas exactly.
"""

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.bench import limits
from pard_ref.bench.drafting_cost import acceptance_curve, speedup_bound

VOCAB, MASK = 48, 47
PROMPTS = [torch.tensor([[3, 5, 7, 9]]), torch.tensor([[4, 9, 2, 8, 11]])]


def tiny_llama(seed, layers=1, width=32):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


@pytest.fixture(scope="module")
def models():
    return tiny_llama(0, layers=2), tiny_llama(1)


def test_batched_forward_costs_and_the_table(models):
    target, draft = models
    assert limits.batched_forward_ms(target, 64, 9, prompt_len=16, reps=3) > limits.batched_forward_ms(
        target, 1, 1, prompt_len=16, reps=3)
    rows = limits.batch_cost_table(target, draft, k=3, batches=(1, 4), prompt_len=16, reps=2, tau=2.0)
    assert [r["batch"] for r in rows] == [1, 4]
    for r in rows:
        assert r["t1"] > 0 and r["tk1"] > 0 and r["draft_ms"] > 0
        assert math.isclose(r["ratio"], r["tk1"] / r["t1"]) and math.isclose(r["ms_per_token"], r["t1"] / r["batch"])
        assert math.isclose(r["bound"], speedup_bound(2.0, r["t1"], r["tk1"], r["draft_ms"]))
    assert all(r["bound"] is None for r in limits.batch_cost_table(target, draft, k=2, batches=(2,), prompt_len=8,
                                                                     reps=1, method="ar"))
    with pytest.raises(ValueError, match="method"):
        limits.batch_cost_table(target, draft, k=2, method="medusa")
    with pytest.raises(ValueError, match="batch"):
        limits.batched_forward_ms(target, 0, 1)


def test_temperature_zero_is_greedy_and_sampling_stays_within_limits(models):
    target, draft = models
    taus = limits.temperature_acceptance(target, draft, PROMPTS, (0.0, 1.0), k=3, max_new_tokens=12,
                                         mask_token_id=MASK)
    greedy = acceptance_curve(target, draft, PROMPTS, [3], method="pard", max_new_tokens=12, mask_token_id=MASK)[3]
    assert taus[0.0] == pytest.approx(greedy, abs=1e-12)
    assert 1.0 <= taus[1.0] <= 4.0
    # the target drafting for itself: every proposal is accepted, greedy or sampled (same distribution)
    same = limits.temperature_acceptance(target, target, PROMPTS, (0.0, 1.0), method="ar", k=3, max_new_tokens=12)
    assert same[0.0] == pytest.approx(4.0) and same[1.0] == pytest.approx(4.0, abs=1e-9)


def test_acceptance_vs_temperature(models):
    target, draft = models
    windows = torch.randint(4, VOCAB, (3, 10), generator=torch.Generator().manual_seed(0))
    same = limits.acceptance_vs_temperature(target, target, windows, (0.0, 0.7, 1.5))
    assert all(v == pytest.approx(1.0) for v in same.values())  # a draft equal to the target always agrees
    rates = limits.acceptance_vs_temperature(target, draft, windows, (0.0, 1.0))
    assert all(0.0 <= v <= 1.0 for v in rates.values())
    with torch.no_grad():
        p = torch.softmax(target(input_ids=windows).logits.double(), -1)
        q = torch.softmax(draft(input_ids=windows).logits.double(), -1)
    assert rates[1.0] == pytest.approx(float(1 - 0.5 * (p - q).abs().sum(-1).mean()))  # 1 - total variation
    with pytest.raises(ValueError):
        limits.acceptance_vs_temperature(target, draft, windows, (-1.0,))


def test_draft_ladder_rows(models):
    target, draft = models
    rows = limits.draft_ladder(target, {"small": draft, "itself": target}, PROMPTS, k=3, max_new_tokens=12,
                               prompt_len=16, reps=2)
    assert [r["name"] for r in rows] == ["small", "itself"]
    small, itself = rows
    assert itself["tau"] == pytest.approx(4.0)  # a draft equal to the target accepts everything
    assert 1.0 <= small["tau"] <= 4.0 and small["params"] < itself["params"]
    for r in rows:
        assert math.isclose(r["bound"], speedup_bound(r["tau"], r["t1"], r["tk1"], r["draft_ms"]))
        assert math.isclose(r["cost_share"], r["draft_ms"] / r["t1"])


def test_gpu_bound_and_its_inverse():
    assert limits.gpu_bound(3.0, 0.5) == pytest.approx(2.0)
    assert limits.gpu_bound(1.0, 0.0) == pytest.approx(1.0)
    for tau, c in ((4.6, 0.125), (1.9, 0.29)):
        assert limits.gpu_bound(limits.tau_for_speedup(limits.gpu_bound(tau, c), c), c) == pytest.approx(
            limits.gpu_bound(tau, c))
        assert limits.tau_for_speedup(limits.gpu_bound(tau, c), c) == pytest.approx(tau)
    with pytest.raises(ValueError):
        limits.gpu_bound(0.5, 0.1)
    with pytest.raises(ValueError):
        limits.tau_for_speedup(2.0, -0.1)
