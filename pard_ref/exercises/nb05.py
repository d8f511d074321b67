"""Checkers for notebook 05 (target independence): τ from per-position acceptance, the best K per
target, the break-even τ, and draft reuse after a fine-tune (in words).

Each ``ex_M(answer, **context)`` raises ``AssertionError`` with a hint when the answer is wrong. The
context carries what the notebook measured (acceptance rates, per-call costs); the checker computes
the expected answer from it on its own, plus fixed synthetic cases, so a check never compares an
answer with itself.

What it does NOT check: the quality of a free-text explanation beyond its key ideas (keywords).
"""

from __future__ import annotations

import math

from ..bench.drafting_cost import speedup_bound
from .expect import expect_words


def ex_1(answer, *, rates=None, tau_measured=None, **context) -> None:
    """``answer(rates)`` -> τ, from the acceptance rates of proposals 1..K alone."""
    assert callable(answer), "answer_1 should be a function tau_from_rates(rates) -> τ"
    for case, expected in (([0.5, 0.25], 1.75), ([0.0, 0.0, 0.0], 1.0), ([1.0, 1.0, 1.0, 1.0], 5.0)):
        got = answer(case)
        if math.isclose(got, expected - 1, abs_tol=1e-9):
            raise AssertionError(f"tau_from_rates({case}) = {got}: you left out the bonus token. Every iteration "
                                 "yields the accepted proposals PLUS one token of the target's own")
        assert math.isclose(got, expected, abs_tol=1e-9), (
            f"tau_from_rates({case}) = {got}, expected {expected}. Hint: the expected number of accepted "
            "proposals is the sum over i of P(proposal i accepted)")
    if rates is not None:
        got = answer(list(rates))
        assert math.isclose(got, tau_measured, abs_tol=1e-9), (
            f"on the measured rates you get τ = {got:.4f}, but the mean accepted length of those iterations "
            f"is {tau_measured:.4f}")


def _best_k(rates, t_target, t_draft) -> int:
    def bound(k):
        return speedup_bound(1 + sum(rates[:k]), t_target[1], t_target[k + 1], t_draft[k])
    return max(range(1, len(rates) + 1), key=bound)


# a synthetic target whose best K is inside 1..8 (acceptance falls with depth, verification grows)
SYNTHETIC_2 = ([0.7, 0.5, 0.3, 0.15, 0.08, 0.04, 0.02, 0.01],
               {n: 1.0 + 0.12 * (n - 1) for n in range(1, 10)},
               {k: 0.3 + 0.01 * k for k in range(1, 9)})


def ex_2(answer, *, cases=None, **context) -> None:
    """``answer(rates, t_target, t_draft)`` -> the K in 1..len(rates) with the highest predicted bound.

    ``cases``: ``{target: (rates, t_target, t_draft)}`` as measured in the notebook."""
    assert callable(answer), "answer_2 should be a function best_k(rates, t_target, t_draft) -> K"
    all_cases = {"synthetic": SYNTHETIC_2, **(cases or {})}
    for name, (rates, t_target, t_draft) in all_cases.items():
        expected, got = _best_k(rates, t_target, t_draft), answer(rates, t_target, t_draft)
        if got == expected:
            continue
        b = {k: speedup_bound(1 + sum(rates[:k]), t_target[1], t_target[k + 1], t_draft[k])
             for k in range(1, len(rates) + 1)}
        raise AssertionError(
            f"{name}: best_k gave K = {got}, but the predicted bounds are "
            + ", ".join(f"K={k}: {v:.3f}" for k, v in b.items())
            + f" (highest at K = {expected}). Hint: τ(K) = 1 + sum of the first K rates grows with K, but so do "
            "t_target(K+1) and t_draft(K); maximise the whole bound, not τ")


def ex_3(answer, *, t1=None, tk1=None, t_draft=None, **context) -> None:
    """``answer(t1, tk1, t_draft)`` -> the τ at which the bound equals 1."""
    assert callable(answer), "answer_3 should be a function break_even_tau(t1, tk1, t_draft) -> τ"
    cases = [(1.0, 1.5, 0.5), (3.0, 4.7, 0.9)] + ([(t1, tk1, t_draft)] if t1 is not None else [])
    for a, b, c in cases:
        got = answer(a, b, c)
        assert isinstance(got, (int, float)) and math.isclose(speedup_bound(got, a, b, c), 1.0, rel_tol=1e-9), (
            f"break_even_tau({a}, {b}, {c}) = {got}: with that τ the bound is "
            f"{speedup_bound(float(got), a, b, c):.3f}, not 1. Hint: solve τ·t(1) / (t(K+1) + t_draft) = 1; "
            "both the verification AND the drafting are paid per iteration")


def ex_4(answer, **context) -> None:
    """In words: after target-l is fine-tuned, which drafter must be retrained, and why."""
    assert isinstance(answer, dict) and {"must_retrain", "why"} <= set(answer), (
        'answer_4 should be a dict {"must_retrain": "pard" or "eagle", "why": "your explanation"}')
    choice, why = str(answer["must_retrain"]).strip().lower(), str(answer["why"]).lower()
    assert choice in ("pard", "eagle"), 'must_retrain should be "pard" or "eagle"'
    assert choice == "eagle", (
        "the PARD draft reads only tokens and was trained on text, never on target-l: it keeps working as a "
        "draft (verification keeps the output exact) and may accept a little less. Which drafter's input IS "
        "the old target's internals?")
    expect_words(why, [("hidden", "feature", "internal", "representation")], what="why",
                 hint="name what EAGLE heads read that changes when the target is fine-tuned (its hidden states)")
    expect_words(why, [("text", "token")], what="why",
                 hint="say what the PARD draft reads and was trained on (tokens, ordinary text), which a fine-tune "
                      "does not change")
    assert len(why.split()) >= 12, "say why in a sentence or two (at least a dozen words)"
