"""Checkers for notebook 01 (why decoding is slow): arithmetic intensity in bfloat16, the break-even draft
cost, what grows with the prompt, and the speedup bound a free draft would give on each measured model.

Each ``ex_M(answer, **context)`` raises ``AssertionError`` (what was expected, a hint) when the answer is
wrong and returns None when it is right; notebooks call them through :func:`pard_ref.exercises.check`.
Expected values come from the context the notebook passes in (its fitted cost line, its measured
per-call costs) through the package's own formula (:func:`pard_ref.bench.drafting_cost.speedup_bound`),
never from the answer.

What it does NOT check: the measurements themselves (the notebook's asserts do that).
"""

from __future__ import annotations

from .expect import expect_close, expect_number, expect_words

__all__ = ["ex_1", "ex_2", "ex_3", "ex_4"]


def ex_1(answer) -> None:
    """FLOPs per byte of weights for one 8-token forward with bfloat16 weights (2 bytes each)."""
    got = expect_number(answer, "answer_1")
    if abs(got - 4.0) < 1e-9:
        raise AssertionError("4 FLOP/byte is the float32 figure (4 bytes per weight); bfloat16 stores 2")
    expect_close(got, 2 * 8 / 2, what="answer_1",
                 hint="2 FLOPs (multiply + add) per weight per token, n = 8 tokens, b = 2 bytes per weight: 2n / b")


def ex_2(answer, *, overhead: float, per_token: float, k: int, tau: float) -> None:
    """Largest drafting cost (ms per iteration) at which speculative decoding ties with plain decoding.

    Plain decoding: ``t(1)`` per token. One iteration: drafting + ``t(K+1)``, yielding τ tokens
    (accepted proposals + the bonus). Tie: ``τ · t(1) = t(K+1) + drafting``.
    """
    from ..bench.drafting_cost import speedup_bound

    got = expect_number(answer, "answer_2")

    def t(n):
        return overhead + n * per_token

    expected = tau * t(1) - t(k + 1)
    if abs(got - ((tau - 1) * t(1) - t(k + 1))) < 1e-6:
        raise AssertionError("you counted τ - 1 tokens per iteration: τ already is the accepted length "
                             "(accepted proposals + the bonus), all of which the iteration yields")
    if abs(got - (tau * t(1) - t(k))) < 1e-6:
        raise AssertionError(f"the target verifies K = {k} proposals in a forward of K + 1 = {k + 1} tokens "
                             "(the bonus's predecessor comes first): use t(K + 1)")
    # the definition, through the package's bound: at that drafting cost the speedup is exactly 1
    assert got > -t(k + 1), f"answer_2 = {got:.3f} ms is not a possible cost"
    bound = speedup_bound(tau, t(1), t(k + 1), got)
    assert abs(bound - 1.0) < 1e-6, (
        f"with drafting at {got:.3f} ms per iteration the speedup bound is {bound:.3f}, not 1 (expected "
        f"{expected:.3f} ms). Hint: plain decoding spends τ · t(1) on τ tokens; speculation spends "
        "t(K+1) + drafting on them")


def ex_3(answer) -> None:
    """In words: what grows with the prompt length, attention or the per-call overhead?"""
    expect_words(
        answer,
        [("attention",), ("cache", "kv", "context", "prompt", "longer", "length", "keys")],
        what="answer_3",
        hint="the overhead is paid per call and per layer whatever the context; which part of the forward "
             "reads every cached position?",
    )


def ex_4(answer, *, costs: dict, tau: float, k: int) -> None:
    """``{label: bound}`` with a free draft: ``τ · t(1) / t(K+1)`` for every measured (model, dtype)."""
    assert isinstance(answer, dict), "answer_4 should be a dict {label: bound}, one entry per curve measured"
    missing, extra = set(costs) - set(answer), set(answer) - set(costs)
    assert not missing and not extra, (f"answer_4 should have exactly the labels of the measured costs "
                                       f"{sorted(costs)}; missing {sorted(missing)}, unexpected {sorted(extra)}")
    for label, curve in costs.items():
        got = expect_number(answer[label], f"answer_4[{label!r}]")
        expected = tau * curve[1] / curve[k + 1]
        if abs(got - curve[1] / curve[k + 1]) < 1e-9:
            raise AssertionError(f"answer_4[{label!r}] leaves out τ: each iteration yields τ tokens")
        expect_close(got, expected, what=f"answer_4[{label!r}]",
                     hint="plain decoding: t(1) per token; an iteration: t(K+1) for τ tokens (the draft costs 0 "
                          "here): bound = τ · t(1) / t(K+1)")
