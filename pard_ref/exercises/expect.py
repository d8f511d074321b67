"""Assertion helpers for exercise checkers: a number close to the expected one, a function, an answer in words.

Every helper raises ``AssertionError`` with a message that says what was expected and, when given, a
hint; it returns None (or the checked value) when the answer passes. Checkers in ``nbNN`` modules use
them so that every notebook's messages read alike.

What it does NOT handle: judging prose. :func:`expect_words` looks for the key ideas of a model answer
(groups of alternative words or numbers, every group must appear); a student who names them in other
words gets a hint listing what the checker looks for. Imports nothing heavy.
"""

from __future__ import annotations

import math
import numbers
import re

__all__ = ["expect_number", "expect_close", "expect_function", "expect_words"]


def expect_number(answer, what: str = "the answer") -> float:
    """``answer`` as a float; AssertionError unless it is a real, finite number (bool is not a number)."""
    if hasattr(answer, "item") and getattr(answer, "ndim", 0) == 0:  # a 0-d torch / numpy value
        answer = answer.item()
    ok = isinstance(answer, numbers.Real) and not isinstance(answer, bool)
    assert ok, f"{what} should be a number, got {type(answer).__name__} {answer!r}"
    assert math.isfinite(float(answer)), f"{what} should be a finite number, got {answer!r}"
    return float(answer)


def expect_close(answer, expected: float, *, what: str = "the answer", rel: float = 1e-6, abs_tol: float = 1e-9,
                 hint: str = "") -> float:
    """AssertionError unless ``answer`` is a number within ``rel`` (relative) or ``abs_tol`` of ``expected``."""
    got = expect_number(answer, what)
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=abs_tol):
        raise AssertionError(f"{what} = {got:.6g}, expected {expected:.6g}." + (f" Hint: {hint}" if hint else ""))
    return got


def expect_function(answer, what: str = "the answer", signature: str = "") -> None:
    """AssertionError unless ``answer`` is callable."""
    assert callable(answer), f"{what} should be a function{' ' + signature if signature else ''}, got {answer!r}"


def expect_words(answer, groups, *, what: str = "the answer", hint: str = "", forbidden=()) -> None:
    """An answer in words: a non-empty string that names every key idea.

    ``groups``: a list of tuples of alternatives (lower case); each group needs at least one of its
    alternatives in the answer, case-insensitive, starting at a word boundary (``"truncat"`` matches
    "truncated"; ``"cut"`` does not match "execute"). ``forbidden``: phrases that state the
    misconception the exercise is about; any of them fails the answer.
    """
    assert isinstance(answer, str), f"{what} should be a sentence or two (a string), got {type(answer).__name__}"
    text = " ".join(answer.lower().split())
    assert len(text) >= 10, f"{what} is empty or too short: write a sentence or two"
    for phrase in forbidden:
        assert not _has(text, phrase), (f"{what} says {phrase!r}, which is the misconception this exercise is about."
                                    + (f" Hint: {hint}" if hint else ""))
    missing = [g for g in groups if not any(_has(text, alt) for alt in g)]
    if missing:
        wanted = "; ".join(" / ".join(repr(a) for a in g) for g in missing)
        raise AssertionError(f"{what} does not name a key idea the model answer has (one of: {wanted})."
                             + (f" Hint: {hint}" if hint else ""))


def _has(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` starting at a word boundary (both lower case, spaces normalised)."""
    return re.search(r"(?<![a-z0-9_])" + re.escape(phrase), text) is not None
