"""Checkers for notebook 04 (training parallel drafts): COD's token count, the layout's attention
rule, COD's attention savings, reading an acceptance-against-time curve.

Each ``ex_M(answer, **context)`` raises ``AssertionError`` with a hint when the answer is wrong and
returns None when it is right; notebooks call them through :func:`pard_ref.exercises.check`. The
expected values come from the package (``pard_ref.training.pard_layout``, ``pard_ref.bench.cod``),
computed here, never from the answer itself.

What it does NOT check: how an answer is written (a student may call the package function being
re-derived; the checks compare values only).
"""

from __future__ import annotations

import math

import torch

from ..bench.cod import time_to_reach
from ..training.pard_layout import build_pard_batch, cod_block_sizes, cod_tokens_per_sequence

# (L, K, r, r_min): the paper's setting, a short window where the L-1-j cap binds, no dropping, and
# floor(100 * 0.7**2), where 0.7**2 = 0.48999999999999994 in floating point
COD_CASES = [(128, 8, 0.7, 0.2), (64, 8, 0.5, 0.2), (10, 4, 0.9, 0.5), (48, 3, 1.0, 0.2), (9, 8, 0.95, 0.9),
             (100, 3, 0.7, 0.2)]


def ex_1(answer, **context) -> None:
    """``answer(L, K, r, r_min)`` must equal ``cod_tokens_per_sequence`` on every case."""
    assert callable(answer), "answer_1 should be a function my_cod_tokens(L, K, r, r_min)"
    for case in COD_CASES:
        got, expected = answer(*case), cod_tokens_per_sequence(*case)
        if got != expected:
            L, K, r, r_min = case
            sizes = cod_block_sizes(*case)
            hint = ("r = 1 keeps every position of every block, including those without a target: N = K·L"
                    if r == 1.0 else
                    f"the expected block sizes are {sizes}: block 0 keeps all L; block j keeps "
                    f"floor(L·max(r^j, r_min)) but never more than its L-1-j queries with a target. "
                    f"Floating point: 0.7**2 is 0.48999999999999994, so add a tiny epsilon (1e-9) before floor")
            raise AssertionError(f"my_cod_tokens{case} = {got}, expected {expected}. Hint: {hint}")


def _batches():
    g = torch.Generator().manual_seed(0)
    for seq_len, k, r in ((24, 5, 0.7), (16, 3, 1.0), (30, 8, 0.5)):
        x = torch.randint(4, 100, (1, seq_len), generator=g)  # [1, L]
        yield build_pard_batch(x, k=k, mask_token_id=1, drop_ratio=r, min_drop_ratio=min(0.2, r), generator=g,
                               return_depth=True)


def ex_2(answer, **context) -> None:
    """``answer(depth, pos)`` -> bool ``[N, N]`` equal to the layout's attention mask (True = may attend)."""
    assert callable(answer), "answer_2 should be a function my_allowed(depth, pos) -> bool tensor [N, N]"
    for b in _batches():
        depth, pos = b["depth"][0], b["position_ids"][0]  # [N] each
        expected = b["attention_mask"][0, 0] == 0  # [N, N]: 0 = attend, a large negative = blocked
        got = answer(depth, pos)
        assert isinstance(got, torch.Tensor) and got.shape == expected.shape, (
            f"my_allowed should return a tensor of shape {tuple(expected.shape)} (queries x keys), got "
            f"{type(got).__name__} {tuple(getattr(got, 'shape', ()))}")
        wrong = (got.bool() != expected).nonzero()
        if len(wrong):
            q, k = (int(v) for v in wrong[0])
            raise AssertionError(
                f"{len(wrong)} wrong entries; e.g. query (block {int(depth[q])}, position {int(pos[q])}) and key "
                f"(block {int(depth[k])}, position {int(pos[k])}): expected {'attend' if expected[q, k] else 'blocked'}. "
                "Hint: with chain start s = position - block, a query sees real keys (block 0) at positions <= s, "
                "and mask keys of blocks 1..its own block that have the SAME chain start s")


def ex_3(answer, **context) -> None:
    """How many times fewer attention entries COD leaves for K=8, r=0.5, r_min=0.2, L=128."""
    assert isinstance(answer, (int, float)), "answer_3 should be a number (a ratio, e.g. 9.5)"
    n = cod_tokens_per_sequence(128, 8, 0.5, 0.2)
    expected = (8 * 128 / n) ** 2
    if abs(answer - 8 * 128 / n) < 1e-6:
        raise AssertionError(f"{answer:.3f} is the ratio of TOKENS (8·L / N). Attention has one entry per "
                             "(query, key) pair, so it grows with the square of the layout length")
    assert abs(answer - expected) < 1e-6 * expected, (
        f"answer_3 = {answer}, expected {expected:.3f}. Hint: N = L + sum over blocks 1..7 of "
        "floor(L·max(r^j, r_min)); the full layout has 8·L tokens; compare (8·L)² with N²")


def ex_4(answer, **context) -> None:
    """``(time to reach τ = 2.1, time to reach τ = 3)`` on the curve [(0, 1.2), (10, 1.8), (20, 2.4)]."""
    curve = [(0, 1.2), (10, 1.8), (20, 2.4)]
    assert isinstance(answer, tuple) and len(answer) == 2, "answer_4 should be a pair (seconds for 2.1, result for 3)"
    expected = (time_to_reach(curve, 2.1), time_to_reach(curve, 3.0))
    t, never = answer
    assert isinstance(t, (int, float)) and math.isclose(t, expected[0], abs_tol=1e-9), (
        f"the curve reaches 2.1 at {t}? Expected {expected[0]:g}: between two checkpoints τ is taken as linear "
        "in time, so interpolate between (10 s, 1.8) and (20 s, 2.4)")
    assert never is expected[1], (
        f"for τ = 3 you gave {never!r}; the curve never gets there within its budget: time_to_reach returns None")
