"""build_draft_pard (the zoo's draft-pard recipe) on a tiny random draft, and pard_bench's bookkeeping
(time_to_reach, summarize, markdown_table) on made-up numbers."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref import zoo
from pard_ref.bench import cod as pard_bench
from pard_ref.text import tokenizer
from pard_ref.training.pard_training import build_draft_pard


@pytest.fixture(scope="module")
def tok():
    return tokenizer.load()


def tiny_ar(tok, seed=0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128)
    return LlamaForCausalLM(cfg).eval()


RECIPE = dict(steps=30, batch_size=4, seq_len=32, lr=1e-2, k=4, progress=False)


@pytest.fixture(scope="module")
def text(tok):
    """The zoo's training streams and mixture: what the zoo's draft-pard is trained on."""
    return zoo.train_streams(tok), dict(zoo.Recipe(steps=1).mixture)


def test_build_draft_pard_trains_a_copy_and_is_deterministic(tok, text):
    ar = tiny_ar(tok)
    before = {n: p.clone() for n, p in ar.state_dict().items()}
    a, log = build_draft_pard(ar, tok, *text, **RECIPE)
    assert a is not ar and a.config.pard_token == tok.mask_token_id == 3
    assert getattr(ar.config, "pard_token", None) is None
    assert all(torch.equal(before[n], p) for n, p in ar.state_dict().items())  # the AR draft is untouched
    assert not a.training
    # the loss goes down (from ~ln(vocab) = 7.6 for a random model) and every depth is logged
    assert log.losses[0] > math.log(len(tok)) - 1
    assert sum(log.losses[-3:]) / 3 < log.losses[0] - 1.0
    assert {f"acc_{j}" for j in range(4)} <= set(log.extra)
    # COD thins the layout: fewer than K·L tokens per window
    assert log.tokens < 30 * 4 * 4 * 32
    b, log_b = build_draft_pard(tiny_ar(tok), tok, *text, **RECIPE)
    assert log_b.losses == log.losses
    assert all(torch.equal(p, b.state_dict()[n]) for n, p in a.state_dict().items())
    _, log_c = build_draft_pard(tiny_ar(tok), tok, *text, **RECIPE | {"seed": 1, "steps": 3})
    assert log_c.losses != log.losses[:len(log_c.losses)]


def test_time_to_reach_interpolates():
    curve = [(0.0, 1.2), (10.0, 1.6), (20.0, 2.0), (30.0, 1.9)]
    assert pard_bench.time_to_reach(curve, 1.0) == 0.0
    assert pard_bench.time_to_reach(curve, 1.6) == 10.0
    assert pard_bench.time_to_reach(curve, 1.8) == pytest.approx(15.0)
    assert pard_bench.time_to_reach(curve, 2.1) is None
    assert pard_bench.time_to_reach([], 1.0) is None


def _fake_result(name, r, seconds, taus, peak=500.0):
    n = len(taus)
    ckpts = [{"steps": 10 * (i + 1), "text_tokens": 1000 * (i + 1), "seconds": seconds * (i + 1) / n,
              "tau": {"code": t, "math": t, "prose": t, "mean": t}} for i, t in enumerate(taus)]
    return {"setting": {"name": name, "drop_ratio": r, "min_drop_ratio": 0.2 if r < 1 else 1.0},
            "seconds": seconds, "text_tokens": 4000, "layout_tokens": int(4000 * (8 if r == 1 else 3.4)),
            "text_tokens_per_s": 4000 / seconds, "peak_memory_mb": peak, "mem_before_mb": 300.0,
            "memory_kind": "cpu peak RSS", "checkpoints": ckpts, "log": {}}


def test_summary_and_table_on_fake_numbers():
    cfg = {**dataclasses.asdict(pard_bench.config_for("ci", checkpoints=4)), "settings": []}
    bench = {"config": cfg, "draft_ar_tau": {"mean": 1.2},
             "results": [_fake_result("no-drop", 1.0, 40.0, [1.4, 1.6, 1.8, 2.0], peak=900.0),
                         _fake_result("cod", 0.7, 10.0, [1.5, 1.8, 2.0, 2.1]),
                         _fake_result("cod-r0.5", 0.5, 8.0, [1.3, 1.4, 1.5, 1.6])]}
    summ = pard_bench.summarize(bench)
    assert summ["no-drop"]["seconds_to_reference_tau"] == pytest.approx(40.0)
    assert summ["no-drop"]["speedup_to_reference_tau"] == pytest.approx(1.0)
    assert summ["cod"]["seconds_to_reference_tau"] == pytest.approx(7.5)  # reaches 2.0 at its 3rd checkpoint
    assert summ["cod"]["speedup_to_reference_tau"] == pytest.approx(40 / 7.5)
    assert summ["cod-r0.5"]["seconds_to_reference_tau"] is None
    table = pard_bench.markdown_table(bench)
    rows = [ln for ln in table.splitlines() if ln.startswith("| cod ")]
    assert len(rows) == 2 and "| 5.33x |" in rows[0] and "2.10" in rows[0]  # summary row, then the τ row
    assert "not reached" in table and "| 600 |" in table  # +MB of no-drop: 900 - 300


def test_summary_when_training_does_not_beat_draft_ar():
    cfg = {**dataclasses.asdict(pard_bench.config_for("ci", checkpoints=2)), "settings": []}
    bench = {"config": cfg, "draft_ar_tau": {"mean": 1.5},
             "results": [_fake_result("no-drop", 1.0, 20.0, [1.3, 1.4]), _fake_result("cod", 0.7, 4.0, [1.45, 1.2])]}
    summ = pard_bench.summarize(bench)
    assert summ["no-drop"]["goal_not_above_start"]
    assert summ["no-drop"]["seconds_to_reference_tau"] == pytest.approx(20.0)
    assert summ["cod"]["seconds_to_reference_tau"] == pytest.approx(2.0)  # its first checkpoint
    assert "Note:" in pard_bench.markdown_table(bench)
