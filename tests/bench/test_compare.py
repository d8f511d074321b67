"""pard_ref.bench.compare: methods side by side (the notebooks' timing helper) and per-call costs side by side.

On tiny random float64 models (no zoo): every method writes the baseline's tokens, a draft that is the
target itself accepts everything (τ = K + 1 exactly), the time shares add up, the costs and the bound
follow from the measured per-call costs, groups are pooled, and bad input raises a clear error.
Timings are only checked for being positive (no timing asserts).
"""

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.bench import compare
from pard_ref.bench.compare import ALL, Method, compare_costs, compare_methods, describe, format_rows, overloaded
from pard_ref.bench.drafting_cost import speedup_bound

VOCAB, MASK = 48, 47


def tiny_llama(seed, layers=1):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).double().eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


@pytest.fixture(scope="module")
def models():
    return tiny_llama(0, layers=2), tiny_llama(1)


PROMPTS = {"a": [torch.tensor([[3, 5, 7]]), torch.tensor([[4, 9, 2, 8]])], "b": [torch.tensor([[6, 1, 12, 30, 2]])]}


def test_rows_tokens_shares_and_bound(models):
    target, draft = models
    rows = compare_methods(target, PROMPTS, {"hf": "hf-greedy", "plain": "none", "ar": ("ar", draft),
                                             "pard": Method("pard", draft, 3, MASK), "self": ("ar", target, 4)},
                           k=2, max_new_tokens=10, repeats=2, cost_reps=2)
    assert [(r.group, r.name) for r in rows] == [(g, m) for g in ("a", "b", ALL)
                                                 for m in ("hf", "plain", "ar", "pard", "self")]
    for r in rows:
        assert r.same_tokens, r                        # float64: every method writes hf-greedy's tokens
        assert r.baseline == "hf" and r.tokens_per_second > 0 and r.repeats == 2
        assert r.new_tokens == 10 * r.prompts and r.prompts == {"a": 2, "b": 1, ALL: 3}[r.group]
        if r.kind == "hf-greedy":
            assert r.speedup == 1.0 and r.tau is None and r.draft_share is None and r.bound is None
            continue
        shares = r.draft_share + r.target_share + r.loop_share
        assert math.isclose(shares, 1.0, abs_tol=1e-9) and 0 <= r.draft_share <= 1 and r.target_share > 0
        if r.kind == "none":
            assert r.draft_share == 0 and r.tau is None and r.k is None and r.verify_cost_ratio is None
            continue
        assert r.k == {"ar": 2, "pard": 3, "self": 4}[r.name]
        assert 1.0 <= r.tau <= r.k + 1 and r.draft_ms > 0
        assert math.isclose(r.verify_cost_ratio, r.target_k1_ms / r.target_1_ms)
        assert math.isclose(r.bound, speedup_bound(r.tau, r.target_1_ms, r.target_k1_ms, r.draft_ms))
    # the target drafting for itself: every proposal accepted; 10 tokens at K = 4 are two blocks of 5
    assert all(r.tau == 5.0 for r in rows if r.name == "self")
    # pooled rows: tokens/s of all prompts together lies between the groups'
    for name in ("plain", "pard"):
        tps = {r.group: r.tokens_per_second for r in rows if r.name == name}
        assert min(tps["a"], tps["b"]) <= tps[ALL] <= max(tps["a"], tps["b"])


def test_a_list_of_prompts_is_one_group_and_the_baseline_can_be_named(models):
    target, draft = models
    rows = compare_methods(target, PROMPTS["a"], {"plain": "none", "pard": ("pard", draft, 2, MASK)},
                           baseline="pard", max_new_tokens=6, cost_reps=1)
    assert [r.group for r in rows] == [ALL, ALL]
    assert rows[1].speedup == 1.0 and rows[0].speedup > 0 and all(r.baseline == "pard" for r in rows)
    table = format_rows(rows)
    assert "plain" in table and "pard" in table and table.count("\n") == 2
    assert describe(rows[1]).startswith("pard: the baseline")
    sentence = describe(rows[0])
    assert ("slowdown" in sentence) == (rows[0].speedup < 1)


def test_describe_words_a_slowdown_and_where_the_time_went(models):
    target, draft = models
    rows = compare_methods(target, PROMPTS["b"], {"plain": "none", "pard": ("pard", draft, 3, MASK)},
                           max_new_tokens=6, cost_reps=1)
    row = rows[1]
    row.speedup = 0.8                                   # a slowdown, whatever this machine measured
    text = describe(row)
    assert "a slowdown (20% slower)" in text and "drafting took" in text and "4 tokens" in text
    row.speedup = 1.25
    assert "25% faster" in describe(row)


def test_bad_input_is_refused_with_a_clear_error(models):
    target, draft = models
    ok = [torch.tensor([[3, 5, 7]])]
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_methods(target, ok, {})
    with pytest.raises(ValueError, match="unknown kind 'greedy'"):
        compare_methods(target, ok, {"x": "greedy"})
    with pytest.raises(ValueError, match="needs a draft model"):
        compare_methods(target, ok, {"x": "pard"})
    with pytest.raises(ValueError, match="takes no draft"):
        compare_methods(target, ok, {"x": Method("none", draft)})
    with pytest.raises(ValueError, match="baseline 'hf' is not one of"):
        compare_methods(target, ok, {"plain": "none"}, baseline="hf")
    with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 1"):
        compare_methods(target, ok, {"plain": "none"}, max_new_tokens=0)
    with pytest.raises(ValueError, match="empty"):
        compare_methods(target, {"a": []}, {"plain": "none"})
    with pytest.raises(ValueError, match="names the pooled rows"):
        compare_methods(target, {ALL: ok, "b": ok}, {"plain": "none"})


def test_compare_costs_measures_every_model_and_token_count(models):
    target, draft = models
    costs = compare_costs({"target": target, "draft": draft}, (9, 1), prompt_len=16, reps=3, warmup=1)
    assert list(costs) == ["target", "draft"] and all(list(c) == [1, 9] for c in costs.values())
    assert all(ms > 0 for c in costs.values() for ms in c.values())
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_costs({})
    with pytest.raises(ValueError, match="new_tokens >= 1"):
        compare_costs({"t": target}, (0, 1))
    with pytest.raises(ValueError, match="reps >= 1"):
        compare_costs({"t": target}, (1,), reps=0)


def test_overloaded_compares_the_load_average_with_the_cores(monkeypatch):
    monkeypatch.setattr(compare.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(compare.os, "getloadavg", lambda: (5.9, 4.0, 3.0), raising=False)
    assert overloaded()
    monkeypatch.setattr(compare.os, "getloadavg", lambda: (2.5, 4.0, 3.0), raising=False)
    assert not overloaded() and overloaded(margin=0.0)
    monkeypatch.delattr(compare.os, "getloadavg", raising=False)
    assert not overloaded()
