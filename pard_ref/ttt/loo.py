"""Test-time training data from a task's own demonstrations: leave-one-out tasks and loss masks.

A task with n demonstrations gives n *leave-one-out* tasks: task i uses the other n-1
demonstrations as its demonstrations and demonstration i as its query, whose answer is known.
*Leave-two-out* holds out two: for every ordered pair (i, j), i != j, demonstration i is the query,
demonstration j is dropped, and the remaining n-2 are the demonstrations: n(n-1) tasks. Neither ever
puts the query's pair among its demonstrations. The real test input is never used (its answer is
unknown).

The ablation "plain input -> output pairs" instead makes each demonstration a 0-shot task (no
demonstrations, the pair as the query).

Loss masks (which tokens a training sequence is scored on), from the token roles of
``serialize.Encoded``:

- ``"outputs"`` (the paper): every demonstration output except the first (nothing can be inferred
  before one example has been seen) plus the query output;
- ``"query"``: the query output only ("no demonstration loss" ablation);
- ``"all"``: every token.

An output's tokens include the ``<sep>``/``<eos>`` that closes it. Inputs are never in the
``"outputs"`` / ``"query"`` masks.

``ttt_examples`` puts it together for one task: leave-one-out (and optionally leave-two-out) tasks,
each with random invertible augmentations, capped (the paper caps at 250).

Not handled: the paper's extra training-only augmentations (tiling, upscaling, shifts); duplicate
demonstrations in the source task (a task that repeats a demonstration leaks it by construction).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from typing import Sequence

import numpy as np

from .augment import SYMMETRIES, Augmentation, random_augmentation
from .serialize import Encoded, encode_task
from .tasks import Task

LOSS_MODES = ("outputs", "query", "all")
VARIANTS = ("loo", "plain")


def leave_one_out(task: Task) -> list[Task]:
    """n demonstrations -> n tasks with n-1 demonstrations each; task i's query is demonstration i."""
    demos = task.train
    return [
        Task(id=f"{task.id}/loo{i}", train=demos[:i] + demos[i + 1 :], test=(demos[i],))
        for i in range(len(demos))
    ]


def leave_two_out(task: Task) -> list[Task]:
    """n demonstrations -> n(n-1) tasks with n-2 demonstrations (none if n < 3).

    Task (i, j): query = demonstration i, demonstration j dropped, the rest in their original order.
    """
    demos = task.train
    if len(demos) < 3:
        return []
    out = []
    for i, j in permutations(range(len(demos)), 2):
        rest = tuple(d for k, d in enumerate(demos) if k not in (i, j))
        out.append(Task(id=f"{task.id}/l2o{i}.{j}", train=rest, test=(demos[i],)))
    return out


def plain_pairs(task: Task) -> list[Task]:
    """The ablation: every demonstration as a standalone 0-shot task (no demonstrations)."""
    return [Task(id=f"{task.id}/pair{i}", train=(), test=(d,)) for i, d in enumerate(task.train)]


def loss_mask(enc: Encoded, mode: str = "outputs") -> list[bool]:
    """(T,) booleans: which tokens of ``enc`` the loss is computed on (see the module docstring)."""
    if mode not in LOSS_MODES:
        raise ValueError(f"unknown loss mode {mode!r}; use one of {LOSS_MODES}")
    if not enc.complete:
        raise ValueError("a prompt has no query output to train on; encode the full sequence")
    if mode == "all":
        return [True] * len(enc)
    query = enc.n_pairs - 1
    if mode == "query":
        return [o and p == query for o, p in zip(enc.is_output, enc.pair)]
    return [o and (p >= 1 or p == query) for o, p in zip(enc.is_output, enc.pair)]


@dataclass
class TrainingExample:
    """One training sequence: ``ids`` (T,) and ``mask`` (T,), True where the loss is taken."""

    task_id: str
    ids: list[int]
    mask: list[bool]


def to_example(task: Task, mode: str = "outputs") -> TrainingExample:
    """A task whose first test pair has a known output -> a training sequence with its loss mask."""
    enc = encode_task(task, 0, with_answer=True)
    return TrainingExample(task.id, enc.ids, loss_mask(enc, mode))


def ttt_examples(
    task: Task,
    *,
    variant: str = "loo",
    use_leave_two_out: bool = False,
    augmentations_per_task: int = 8,
    symmetries: Sequence[str] = SYMMETRIES,
    permute_colours: bool = True,
    shuffle_demonstrations: bool = True,
    include_untransformed: bool = True,
    max_examples: int | None = 250,
    max_length: int | None = None,
    loss: str = "outputs",
    seed: int = 0,
) -> list[TrainingExample]:
    """The test-time training set of one task.

    For every base task (``variant="loo"``: leave-one-out tasks, plus leave-two-out ones if
    ``use_leave_two_out``; ``variant="plain"``: 0-shot pairs), the untransformed task (if
    ``include_untransformed``) and ``augmentations_per_task`` random augmentations (0 = the "no
    augmentation" ablation). Sequences longer than ``max_length`` tokens are dropped; if more than
    ``max_examples`` remain, a seeded random subset of that size is kept (in generation order).
    Deterministic given ``seed``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; use one of {VARIANTS}")
    if variant == "loo":
        base = leave_one_out(task) + (leave_two_out(task) if use_leave_two_out else [])
    else:
        if use_leave_two_out:
            raise ValueError("use_leave_two_out only applies to variant='loo'")
        base = plain_pairs(task)
    rng = np.random.default_rng(seed)
    examples = []
    for t in base:
        augs = [Augmentation()] if include_untransformed else []
        for _ in range(augmentations_per_task):
            augs.append(
                random_augmentation(
                    rng, len(t.train), symmetries=symmetries, permute_colours=permute_colours,
                    shuffle_demonstrations=shuffle_demonstrations,
                )
            )
        for aug in augs:
            ex = to_example(aug.task(t), loss)
            if max_length is None or len(ex.ids) <= max_length:
                examples.append(ex)
    if max_examples is not None and len(examples) > max_examples:
        keep = np.sort(rng.choice(len(examples), size=max_examples, replace=False))
        examples = [examples[int(k)] for k in keep]
    return examples
