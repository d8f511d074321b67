"""Invertible task augmentations: the 8 symmetries of the square, colour permutations, demo order.

An ``Augmentation`` is one symmetry, one colour permutation and (optionally) one new order of the
demonstrations. It maps a whole task to a new task of the same meaning (every grid, inputs and
outputs alike, is transformed), and it maps a grid predicted *for the augmented task* back to the
original frame with ``invert_grid``: that is how augmented inference turns its predictions into
votes for the original task.

Symmetries (rotations are counter-clockwise, as with ``np.rot90``)::

    identity        g
    rot90           rotate 90 degrees counter-clockwise        inverse: rot270
    rot180          rotate 180 degrees                         inverse: itself
    rot270          rotate 270 degrees counter-clockwise       inverse: rot90
    flip_h          mirror left <-> right (reverse each row)   inverse: itself
    flip_v          mirror top <-> bottom (reverse row order)  inverse: itself
    transpose       out[i][j] = g[j][i]                        inverse: itself
    anti_transpose  out[i][j] = g[H-1-j][W-1-i]                inverse: itself

A colour permutation is a tuple ``perm`` of the 10 colours with ``perm[0] == 0`` (the background
keeps its meaning); colour ``c`` becomes ``perm[c]``. Colour permutation and symmetry commute.

Not handled: the training-only augmentations of the paper's code (tiling, upscaling, shifts) — they
are not invertible on a predicted grid; transforms that change a task's meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .tasks import Grid, Task

SYMMETRIES = ("identity", "rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose", "anti_transpose")
INVERSE_SYMMETRY = {
    "identity": "identity",
    "rot90": "rot270",
    "rot180": "rot180",
    "rot270": "rot90",
    "flip_h": "flip_h",
    "flip_v": "flip_v",
    "transpose": "transpose",
    "anti_transpose": "anti_transpose",
}
IDENTITY_COLOURS = tuple(range(10))


def _flip_h(g: Grid) -> Grid:
    return tuple(row[::-1] for row in g)  # reverse each row


def _flip_v(g: Grid) -> Grid:
    return g[::-1]  # reverse the row order


def _transpose(g: Grid) -> Grid:
    return tuple(zip(*g))  # (H, W) -> (W, H)


# Each symmetry as a composition of the three primitives (checked against index formulas in the tests):
_SYMMETRY_FNS = {
    "identity": lambda g: g,
    "rot90": lambda g: _transpose(_flip_h(g)),  # out[i][j] = g[j][W-1-i]
    "rot180": lambda g: _flip_v(_flip_h(g)),
    "rot270": lambda g: _transpose(_flip_v(g)),  # out[i][j] = g[H-1-j][i]
    "flip_h": _flip_h,
    "flip_v": _flip_v,
    "transpose": _transpose,
    "anti_transpose": lambda g: _transpose(_flip_v(_flip_h(g))),  # out[i][j] = g[H-1-j][W-1-i]
}


def apply_symmetry(grid: Grid, name: str) -> Grid:
    """The grid under the named symmetry."""
    if name not in _SYMMETRY_FNS:
        raise ValueError(f"unknown symmetry {name!r}; use one of {SYMMETRIES}")
    return tuple(tuple(row) for row in _SYMMETRY_FNS[name](tuple(tuple(r) for r in grid)))


def invert_symmetry(grid: Grid, name: str) -> Grid:
    """Undo ``apply_symmetry(., name)``."""
    if name not in INVERSE_SYMMETRY:
        raise ValueError(f"unknown symmetry {name!r}; use one of {SYMMETRIES}")
    return apply_symmetry(grid, INVERSE_SYMMETRY[name])


def check_colour_permutation(perm: Sequence[int]) -> tuple[int, ...]:
    """Return ``perm`` as a tuple, or raise ``ValueError`` unless it permutes 0..9 and keeps 0."""
    perm = tuple(int(c) for c in perm)
    if sorted(perm) != list(range(10)):
        raise ValueError(f"colour permutation {perm} is not a permutation of 0..9")
    if perm[0] != 0:
        raise ValueError(f"colour permutation {perm} moves the background colour 0 to {perm[0]}")
    return perm


def inverse_colour_permutation(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * 10
    for c, p in enumerate(check_colour_permutation(perm)):
        inv[p] = c
    return tuple(inv)


def apply_colours(grid: Grid, perm: Sequence[int]) -> Grid:
    """Colour ``c`` becomes ``perm[c]``."""
    return tuple(tuple(perm[c] for c in row) for row in grid)


def random_colour_permutation(rng: np.random.Generator) -> tuple[int, ...]:
    """A uniformly random permutation of colours 1..9; 0 stays 0."""
    return (0,) + tuple(int(c) for c in rng.permutation(np.arange(1, 10)))


@dataclass(frozen=True)
class Augmentation:
    """One symmetry + one colour permutation + (optionally) a new demonstration order.

    ``order``: new demonstration ``k`` is old demonstration ``order[k]``; ``None`` keeps the order.
    """

    symmetry: str = "identity"
    colours: tuple[int, ...] = IDENTITY_COLOURS
    order: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.symmetry not in INVERSE_SYMMETRY:
            raise ValueError(f"unknown symmetry {self.symmetry!r}; use one of {SYMMETRIES}")
        object.__setattr__(self, "colours", check_colour_permutation(self.colours))
        if self.order is not None:
            order = tuple(int(k) for k in self.order)
            if sorted(order) != list(range(len(order))):
                raise ValueError(f"demonstration order {order} is not a permutation of 0..{len(order) - 1}")
            object.__setattr__(self, "order", order)

    @property
    def name(self) -> str:
        parts = [self.symmetry]
        if self.colours != IDENTITY_COLOURS:
            parts.append("c" + "".join(map(str, self.colours)))
        if self.order is not None:
            parts.append("o" + ".".join(map(str, self.order)))
        return "|".join(parts)

    def grid(self, grid: Grid) -> Grid:
        return apply_symmetry(apply_colours(grid, self.colours), self.symmetry)

    def invert_grid(self, grid: Grid) -> Grid:
        """Map a grid of the augmented task back to the original task's frame."""
        return apply_colours(invert_symmetry(grid, self.symmetry), inverse_colour_permutation(self.colours))

    def task(self, task: Task) -> Task:
        """The whole task augmented: every grid transformed, demonstrations reordered."""
        train = [(self.grid(i), self.grid(o)) for i, o in task.train]
        if self.order is not None:
            if len(self.order) != len(train):
                raise ValueError(
                    f"task {task.id}: order {self.order} is for {len(self.order)} demonstrations, task has {len(train)}"
                )
            train = [train[k] for k in self.order]
        test = [(self.grid(i), None if o is None else self.grid(o)) for i, o in task.test]
        return Task(id=f"{task.id}@{self.name}", train=tuple(train), test=tuple(test))

    def invert_task(self, task: Task) -> Task:
        """Undo ``task(...)``: restores every grid, the demonstration order and the id."""
        train = [(self.invert_grid(i), self.invert_grid(o)) for i, o in task.train]
        if self.order is not None:
            restored = [None] * len(train)
            for k, old in enumerate(self.order):
                restored[old] = train[k]
            train = restored
        test = [(self.invert_grid(i), None if o is None else self.invert_grid(o)) for i, o in task.test]
        suffix = f"@{self.name}"
        task_id = task.id[: -len(suffix)] if task.id.endswith(suffix) else task.id
        return Task(id=task_id, train=tuple(train), test=tuple(test))


def random_augmentation(
    rng: np.random.Generator,
    n_demonstrations: int,
    *,
    symmetries: Sequence[str] = SYMMETRIES,
    permute_colours: bool = True,
    shuffle_demonstrations: bool = True,
) -> Augmentation:
    """A random augmentation: a symmetry drawn from ``symmetries``, and (each switchable) a random
    colour permutation and a random demonstration order."""
    symmetry = symmetries[int(rng.integers(len(symmetries)))]
    colours = random_colour_permutation(rng) if permute_colours else IDENTITY_COLOURS
    order = tuple(int(k) for k in rng.permutation(n_demonstrations)) if shuffle_demonstrations else None
    return Augmentation(symmetry, colours, order)
