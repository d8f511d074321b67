"""Checkers for notebook 07 (test-time training): undoing an augmentation, counting the training
data, votes that disagree, and the outputs-only loss mask.

Each ``ex_M(answer, **context)`` raises ``AssertionError`` with a hint when the answer is wrong. The
checks generate their own tasks (``pard_ref.ttt.generator``, seeded) and compare with the package
(``augment``, ``loo``, ``vote``), so they need no context and no model.

What it does NOT check: the grids an answer builds beyond what each check states.
"""

from __future__ import annotations

import numpy as np

from ..ttt import augment, generator, loo, serialize, vote
from ..ttt.tasks import Task


def _tasks(n: int = 6):
    return generator.generate_tasks(generator.HELDOUT_FAMILIES, n=n, seed=11, max_side=6)


def ex_1(answer, **context) -> None:
    """``answer(aug, grid)`` -> the grid before ``aug`` (symmetry and colour permutation undone)."""
    assert callable(answer), "answer_1 should be a function my_invert(aug, grid)"
    rng = np.random.default_rng(1)
    for t in _tasks():
        for symmetry in augment.SYMMETRIES:
            a = augment.Augmentation(symmetry, augment.random_colour_permutation(rng))
            g = t.train[0][1]
            got = answer(a, a.grid(g))
            assert got == g, (
                f"my_invert failed for {a.name}: expected {g}, got {got}. Hint: undo the symmetry with "
                "INVERSE_SYMMETRY[aug.symmetry] (rot90's inverse is rot270), and map every colour back with the "
                "INVERSE permutation: if aug.colours[c] == p, then p goes back to c")


def _with_demos(task: Task, n: int) -> Task:
    demos = (task.train * n)[:n]  # repeat demonstrations if the task has fewer than n
    return Task(id=f"{task.id}-n{n}", train=demos, test=task.test)


def ex_2(answer, **context) -> None:
    """``answer(n, A)`` -> how many examples ``loo.ttt_examples`` makes (leave-one-out + leave-two-out,
    untransformed + A augmentations, no cap)."""
    assert callable(answer), "answer_2 should be a function my_count(n, A)"
    base = _tasks(1)[0]
    for n in (2, 3, 4, 5):
        task = _with_demos(base, n)
        for a in (0, 2):
            expected = len(loo.ttt_examples(task, use_leave_two_out=True, augmentations_per_task=a, max_examples=None))
            got = answer(n, a)
            hint = (" With n = 2, dropping two demonstrations leaves none: leave-two-out needs n >= 3."
                    if n == 2 else "")
            assert got == expected, (f"my_count({n}, {a}) = {got}, but ttt_examples makes {expected}.{hint} "
                                     "Hint: n leave-one-out tasks, n(n-1) leave-two-out tasks (ordered: which is the "
                                     "query, which is dropped), each untransformed plus A augmentations")


def ex_3(answer, **context) -> None:
    """``answer``: candidates ``{symmetry: [grid, ...]}`` on which flat and hierarchical votes pick different
    first attempts."""
    assert isinstance(answer, dict) and answer, "answer_3 should be a dict {symmetry name: [grid, grid, ...]}"
    for name, grids in answer.items():
        assert isinstance(grids, list), f"candidates[{name!r}] should be a list of grids"
    flat, hier = vote.flat_vote(answer), vote.hierarchical_vote(answer)
    assert flat and hier and flat[0] != hier[0], (
        f"both votes pick {flat[:1]} first. Hint: the flat vote counts every candidate; the hierarchical vote "
        "first keeps the top 3 per transformation, then counts in how many transformations a grid made it. "
        "Let one transformation repeat a grid many times, and several others agree on another grid")


def ex_4(answer, **context) -> None:
    """``answer(enc)`` -> the ``"outputs"`` loss mask of an encoded task (a list of bools, one per token)."""
    assert callable(answer), "answer_4 should be a function my_outputs_mask(enc)"
    for t in _tasks():
        enc = serialize.encode_task(t, with_answer=True)
        expected, got = loo.loss_mask(enc, "outputs"), answer(enc)
        assert list(got) == expected, (
            f"task {t.id}: {sum(map(bool, got))} tokens scored, expected {sum(expected)}. Hint: score output "
            "tokens of every pair but the first (pair 0: nothing can be inferred before one example), and the "
            "query's output (the last pair, n_pairs - 1)")
