"""Checkers for notebook 06 (benchmarks): the bound by hand, the speedup from the bound and the
loops' efficiencies, the τ a bound needs, prompt lookup's domain (in words), and the τ a GPU needs.

Each ``ex_M(answer, **context)`` raises ``AssertionError`` with a hint when the answer is wrong. The
context carries the figures the notebook's benchmark measured (costs, τ, "of bound", and the table's
own bound and speedup, which the package computed); synthetic cases make every check bite even
without them.

What it does NOT check: the quality of a free-text explanation beyond its key ideas (keywords).
"""

from __future__ import annotations

import math

from ..bench.drafting_cost import speedup_bound
from .expect import expect_words


def _close(a, b) -> bool:
    return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def ex_1(answer, *, tau=None, t1=None, tk1=None, t_draft=None, table_bound=None, **context) -> None:
    """``answer(tau, t1, tk1, t_draft)`` -> the speedup bound; on the measured row it must give the table's bound."""
    assert callable(answer), "answer_1 should be a function my_bound(tau, t1, tk1, t_draft)"
    for case in ((2.0, 3.0, 4.5, 1.5), (1.5, 1.0, 1.0, 0.0)):
        got = answer(*case)
        assert _close(got, speedup_bound(*case)), (
            f"my_bound{case} = {got}, expected {speedup_bound(*case):.4f}. Hint: an iteration costs one drafting "
            "step plus one target forward of K+1 tokens and yields τ tokens; plain decoding pays t(1) per token")
    if tau is not None:
        got = answer(tau, t1, tk1, t_draft)
        assert _close(got, table_bound), (
            f"on the measured row you get {got:.4f}, the table says {table_bound:.4f}: check which costs you read "
            "(the code domain's rounds, t(K+1) at the table's K, PARD's drafting cost)")


def ex_2(answer, *, bound=None, of_bound=None, of_bound_baseline=None, table_speedup=None, **context) -> None:
    """``answer(bound, of_bound, of_bound_baseline)`` -> the speedup over hf-greedy."""
    assert callable(answer), "answer_2 should be a function speedup_from(bound, of_bound, of_bound_baseline)"
    got = answer(1.2, 0.9, 0.8)
    if _close(got, 1.2 * 0.9):
        raise AssertionError("bound x of_bound is the speedup over an IDEAL plain loop; hf-greedy's loop is not "
                             "ideal either (its own of_bound), so divide by it")
    assert _close(got, 1.2 * 0.9 / 0.8), (
        f"speedup_from(1.2, 0.9, 0.8) = {got}, expected {1.2 * 0.9 / 0.8:.4f}. Hint: measured tokens/s = "
        "of_bound x the tokens/s the forwards allow, for PARD and for hf-greedy alike; divide the two")
    if bound is not None:
        got = answer(bound, of_bound, of_bound_baseline)
        assert _close(got, table_speedup), f"on the measured row you get {got:.4f}, the table says {table_speedup:.4f}"


def ex_3(answer, *, t1=None, tk1=None, t_draft=None, **context) -> None:
    """``answer(goal, t1, tk1, t_draft)`` -> the τ at which the bound equals ``goal``."""
    assert callable(answer), "answer_3 should be a function tau_for_bound(goal, t1, tk1, t_draft)"
    cases = [(2.0, 3.0, 4.7, 0.9), (1.0, 1.0, 1.6, 0.8)] + ([(2.0, t1, tk1, t_draft)] if t1 is not None else [])
    for goal, a, b, c in cases:
        got = answer(goal, a, b, c)
        assert isinstance(got, (int, float)) and math.isclose(speedup_bound(got, a, b, c), goal, rel_tol=1e-9), (
            f"tau_for_bound({goal}, {a}, {b}, {c}) = {got}: the bound at that τ is "
            f"{speedup_bound(float(got), a, b, c):.3f}, not {goal}. Hint: solve τ·t(1) / (t(K+1) + t_draft) = goal")


def ex_4(answer, **context) -> None:
    """In words: on which domain prompt lookup should do best, and why."""
    assert isinstance(answer, dict) and {"domain", "why"} <= set(answer), (
        'answer_4 should be a dict {"domain": "code" | "math" | "prose", "why": "your explanation"}')
    domain, why = str(answer["domain"]).strip().lower(), str(answer["why"]).lower()
    assert domain in ("code", "math", "prose"), "domain should be one of code, math, prose"
    assert domain == "code", (
        "prompt lookup proposes the tokens that followed an earlier occurrence of the last few tokens, copied "
        "from the text so far. Which domain repeats its own names and phrases most?")
    assert len(why.split()) >= 10, "say why in a sentence (at least ten words)"
    expect_words(why, [("copy", "copies", "copied", "earlier", "already")], what="why",
                 hint="say where prompt lookup's proposals come from (copied from earlier in the text)")
    expect_words(why, [("repeat", "identifier", "name", "reuse")], what="why",
                 hint="say what in code makes copying work (it repeats its identifiers and phrases)")


def ex_5(answer, **context) -> None:
    """``answer(speedup, c)`` -> the τ a GPU-like loop (t(K+1) = t(1), drafting c·t(1)) needs for ``speedup``."""
    assert callable(answer), "answer_5 should be a function tau_needed_on_gpu(speedup, c)"
    for s, c in ((4.08, 0.125), (2.0, 0.3), (1.0, 0.0)):
        got = answer(s, c)
        if _close(got, s) and c:
            raise AssertionError("that ignores the drafting cost: on a GPU verification is about free, but the "
                                 "draft still runs every iteration")
        assert isinstance(got, (int, float)) and math.isclose(speedup_bound(got, 1.0, 1.0, c), s, rel_tol=1e-9), (
            f"tau_needed_on_gpu({s}, {c}) = {got}, but with that τ the bound is "
            f"{speedup_bound(float(got), 1.0, 1.0, c):.3f}. Hint: with t(K+1) = t(1) = 1 and t_draft = c the bound "
            "is τ / (1 + c)")
