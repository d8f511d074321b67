"""pard_ref.bench.drafting_cost: drafting cost against K, acceptance against K, the speedup bound.

Timings are only checked for being positive and for the one ordering that holds on any machine by a
wide margin (K sequential forwards cost more than one forward of K tokens, for K = 8); acceptance is
checked against the engine's own stats and against its limits (1 <= τ <= K + 1).
"""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref import generate
from pard_ref.bench.drafting_cost import (
    acceptance_curve, draft_cost_curve, draft_estimate_ms, draft_iteration_ms, speedup_bound, verify_cost_curve
)

VOCAB, MASK = 48, 47



def tiny_llama(seed, layers=1):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


def test_draft_iteration_costs_are_positive_and_ordered():
    draft = tiny_llama(1)
    curve = draft_cost_curve(draft, [1, 8], prompt_len=32, reps=5, mask_token_id=MASK)
    assert set(curve) == {"ar", "pard"} and all(t > 0 for c in curve.values() for t in c.values())
    # eight sequential one-token forwards against one eight-token forward: a wide margin on any machine
    assert curve["pard"][8] < curve["ar"][8]


def test_mask_id_defaults_to_the_config_and_bad_arguments_raise():
    draft = tiny_llama(1)
    draft.config.pard_token = MASK
    assert draft_iteration_ms(draft, 3, "pard", prompt_len=16, reps=2, warmup=0) > 0
    with pytest.raises(ValueError, match="unknown drafting method"):
        draft_iteration_ms(draft, 3, "none")
    with pytest.raises(ValueError, match="k >= 1"):
        draft_iteration_ms(draft, 0, "ar")


def test_estimate_from_forward_costs_is_positive():
    draft = tiny_llama(1)
    assert draft_estimate_ms(draft, 4, "ar", prompt_len=16, reps=3) > 0
    assert draft_estimate_ms(draft, 4, "pard", prompt_len=16, reps=3) > 0


def test_acceptance_curve_pools_the_engine_stats():
    target, draft = tiny_llama(0, layers=2), tiny_llama(1)
    prompts = [torch.tensor([[3, 5, 7]]), torch.tensor([4, 9, 2, 8])]
    curve = acceptance_curve(target, draft, prompts, [1, 3], method="pard", max_new_tokens=12, mask_token_id=MASK)
    lengths = []
    for p in prompts:
        lengths += generate(target, p, draft=draft, method="pard", k=3, max_new_tokens=12,
                            mask_token_id=MASK).stats.accepted_lengths
    assert curve[3] == pytest.approx(sum(lengths) / len(lengths))
    assert 1 <= curve[1] <= 2 and 1 <= curve[3] <= 4
    # the target as its own AR draft accepts everything: 3 iterations of 3 proposals + 1 bonus
    target = target.to(torch.float64)  # float64: a 4-token and a 1-token forward round alike
    perfect = acceptance_curve(target, target, prompts[:1], [3], method="ar", max_new_tokens=12)
    assert perfect[3] == 4


def test_speedup_bound_formula():
    assert speedup_bound(3.0, 10.0, 12.0, 3.0) == pytest.approx(2.0)
    assert speedup_bound(1.0, 10.0, 10.0, 0.0) == pytest.approx(1.0)


def test_verify_cost_curve_covers_one_and_k_plus_one():
    target = tiny_llama(0, layers=2)
    curve = verify_cost_curve(target, [2, 4], prompt_len=16, reps=2, passes=2)
    assert sorted(curve) == [1, 3, 5] and all(t > 0 for t in curve.values())
    with pytest.raises(ValueError, match="passes"):
        verify_cost_curve(target, [2], passes=0)
