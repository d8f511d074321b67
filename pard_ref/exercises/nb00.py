"""Checkers for notebook 00 (the tour): tokens per target call, reading the colours, τ at K = 1, and why
tokens per call can fall below τ.

Each ``ex_M(answer, **context)`` raises ``AssertionError`` (what was expected, a hint) when the answer is
wrong and returns None when it is right; notebooks call them through :func:`pard_ref.exercises.check`.
The expected values are computed here from the run the notebook passes in (its counters and step
records), never from the answer.

What it does NOT check: how the answer was computed (reading the figure off the printed stats is fine).
"""

from __future__ import annotations

from .expect import expect_close, expect_number, expect_words

__all__ = ["ex_1", "ex_2", "ex_3", "ex_4"]


def ex_1(answer, *, new_tokens: int, target_calls: int, tau: float) -> None:
    """Tokens per target call of the PARD run: ``new_tokens / target_calls``."""
    got = expect_number(answer, "answer_1")
    expected = new_tokens / target_calls
    if abs(got - tau) < 1e-9 and abs(expected - tau) > 1e-9:
        raise AssertionError(f"{got:.4f} is τ, the mean accepted length. Tokens per target call is the run's new "
                             f"tokens over its target calls ({new_tokens} / {target_calls}); the two differ here "
                             "because the last iteration was cut (exercise 4 asks why)")
    expect_close(got, expected, what="answer_1", hint="divide the new tokens by the number of target calls "
                                                      "(decoder.stats has both)")


def ex_2(answer, *, records) -> None:
    """Green tokens: accepted draft proposals that made it into the output, summed over the iterations."""
    got = expect_number(answer, "answer_2")
    expected = sum(min(int(r.accepted), len(r.emitted)) for r in records)
    proposed_and_accepted = sum(int(r.accepted) for r in records)
    if got == proposed_and_accepted != expected:
        raise AssertionError(f"{int(got)} counts every accepted proposal, but the last iteration was cut at "
                             f"max_new_tokens: only the tokens that made it into the output are green "
                             f"(expected {expected})")
    bonus = sum(len(r.emitted) > int(r.accepted) for r in records)
    assert got == expected, (f"answer_2 = {got:g}, expected {expected}. Hint: every iteration emits its accepted "
                             f"proposals (green) and then one bonus token (blue); here {bonus} bonus tokens and "
                             f"{sum(len(r.emitted) for r in records)} new tokens in all")


def ex_3(answer) -> None:
    """The largest mean accepted length possible at K = 1: one proposal plus the bonus."""
    got = expect_number(answer, "answer_3")
    assert got != 1, ("1 is the smallest accepted length (every proposal rejected: the bonus alone). "
                      "The largest: the proposal is accepted, and the target still adds its bonus")
    expect_close(got, 2.0, what="answer_3", hint="accepted length = accepted proposals + 1 (the bonus)")


def ex_4(answer) -> None:
    """In words: why tokens per target call can be smaller than τ."""
    expect_words(
        answer,
        [("max_new_tokens", "max new tokens", "eos", "end-of-sequence", "limit", "budget", "cut", "truncat")],
        what="answer_4",
        hint="τ averages each iteration's accepted length as verified. What can happen to the LAST iteration's "
             "tokens before they are appended?",
    )
