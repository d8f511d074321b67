"""Exercises that students do: a stub cell in the notebook, a checker here, the solution elsewhere.

A notebook exercise is two cells. The stub: ``answer_3 = None  # your code`` (or a function whose body
is ``raise NotImplementedError  # your code``). The check::

    from pard_ref.exercises import check, nb02
    check("02.3", answer_3, nb02.ex_3, p=p, q=q)

- :func:`check` (what notebooks call): a stub (``None``, or a function that raises
  ``NotImplementedError`` when the checker calls it) prints ``Exercise NN.M: not answered yet`` and
  returns False, so a notebook full of stubs runs from top to bottom (nbval runs them that way);
  a wrong answer raises ``AssertionError`` with the checker's hint; a right one prints
  ``Exercise NN.M: correct`` and returns True.
- :func:`check_strict` (what ``tests/test_exercises.py`` calls): the same, except that a stub raises
  ``AssertionError`` too.
- ``nbNN`` modules (``pard_ref.exercises.nb00`` ... ``nb07``): one checker per exercise,
  ``ex_M(answer, **context)``, which raises ``AssertionError`` (what was expected, and a hint) and
  returns None when the answer is right. The expected value is computed in the checker from the
  context (measured figures the notebook passes in) or from the package, never from the answer.
- :mod:`pard_ref.exercises.expect`: small assertion helpers the checkers share (numbers, functions,
  answers in words).

Solutions live outside the package and the notebooks, in ``notebooks/solutions/nbNN.py``: ``ex_M`` (the
solution), ``wrong_M`` (a plausible wrong answer the checker must reject) and, when the checker needs
context, ``context_M()`` (small synthetic figures, no zoo).

What it does NOT handle: grading style or method (checkers compare values; a student may call the very
package function an exercise re-derives), partial credit, or answers that need a long computation to
check (checkers run in about a second). This module imports nothing heavy: torch is imported by the
checkers that need it, when they run.
"""

from __future__ import annotations

import re

from .expect import expect_close, expect_function, expect_number, expect_words

__all__ = ["check", "check_strict", "expect_close", "expect_function", "expect_number", "expect_words"]

_ID = re.compile(r"\d\d\.\d+")


def _run(exercise_id: str, answer, checker, context: dict) -> bool | None:
    """True: correct; None: a stub (not answered). A wrong answer raises AssertionError."""
    if not isinstance(exercise_id, str) or not _ID.fullmatch(exercise_id):
        raise ValueError(f"exercise_id must look like 'NN.M' (notebook number . exercise number), got {exercise_id!r}")
    if not callable(checker):
        raise TypeError(f"checker must be a function ex_M(answer, **context), got {type(checker).__name__}")
    if answer is None:
        return None
    try:
        checker(answer, **context)
    except NotImplementedError:
        if callable(answer):  # the stub function was called and is not written yet
            return None
        raise
    except AssertionError as err:
        raise AssertionError(f"Exercise {exercise_id}: not yet right. {err}") from None
    return True


def check(exercise_id: str, answer, checker, **context) -> bool:
    """Check a notebook answer: True if right; False (and a note) for a stub; AssertionError if wrong."""
    if _run(exercise_id, answer, checker, context) is None:
        what = "complete the function above" if callable(answer) else "replace None above with your answer"
        print(f"Exercise {exercise_id}: not answered yet -- {what}, then run this cell again.")
        return False
    print(f"Exercise {exercise_id}: correct")
    return True


def check_strict(exercise_id: str, answer, checker, **context) -> bool:
    """Like :func:`check`, but a stub (None, or a function raising NotImplementedError) fails too."""
    if _run(exercise_id, answer, checker, context) is None:
        raise AssertionError(f"Exercise {exercise_id}: not answered (a stub)")
    return True
