"""Pictures of grids, tasks and votes in the ARC palette, for the TTT notebook.

Every function draws with matplotlib and returns what it drew as data (the figure and the grids),
so a notebook can assert on the data and a widget can simply call the function.

- :func:`draw_grid`: one grid on an axis (cells in the ARC colours, thin white cell borders).
- :func:`show_task`: a task as rows of ``input -> output`` (test outputs shown if known, or given).
- :func:`show_augmentations`: a grid under every symmetry, and the inverse of each back again.
- :func:`show_candidates`: augmented-inference candidates per transform, the two voted attempts.
- :func:`task_browser`: an ``ipywidgets`` browser over a list of tasks (calls :func:`show_task`).

Not handled: grids larger than 30x30 (the pictures get unreadable well before that).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from .tasks import Grid, Task

# The ARC palette (as in the ARC web interface): 0 black background, then blue, red, green, yellow,
# grey, magenta, orange, azure, maroon.
ARC_COLOURS = ("#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00",
               "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25")


def arc_cmap():
    """A matplotlib colormap with exactly the 10 ARC colours (use ``vmin=0, vmax=9``)."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(ARC_COLOURS, name="arc")


def draw_grid(ax, grid: Grid | None, title: str | None = None, *, frame: str | None = None) -> None:
    """Draw ``grid`` on ``ax`` (a blank, crossed-out axis for ``None``: an unparseable prediction).

    ``frame``: an edge colour to highlight the axis (e.g. green for a correct attempt).
    """
    import numpy as np

    ax.set_xticks([])
    ax.set_yticks([])
    if grid is None:
        ax.plot([0, 1], [0, 1], color="grey", lw=1)
        ax.plot([0, 1], [1, 0], color="grey", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    else:
        a = np.asarray(grid)
        h, w = a.shape
        ax.imshow(a, cmap=arc_cmap(), vmin=0, vmax=9, interpolation="nearest")
        # thin cell borders
        ax.set_xticks([x - 0.5 for x in range(1, w)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, h)], minor=True)
        ax.grid(which="minor", color="#555555", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
    if title:
        ax.set_title(title, fontsize=8)
    for spine in ax.spines.values():
        spine.set_edgecolor(frame or "#cccccc")
        spine.set_linewidth(3 if frame else 1)


@dataclass
class TaskPicture:
    """What :func:`show_task` drew: the figure and the grids, row by row (``None`` = unknown)."""

    fig: object
    rows: list[tuple[Grid, Grid | None]]
    labels: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"TaskPicture({len(self.rows)} rows: {', '.join(self.labels)})"


def show_task(task: Task, *, answers: Sequence[Grid | None] | None = None, title: str | None = None,
              scale: float = 1.6) -> TaskPicture:
    """Draw every demonstration (``input -> output``) and every test input with its output (the known
    answer, or ``answers[i]`` if given, or a crossed box if unknown). One row per pair."""
    import matplotlib.pyplot as plt

    rows, labels = [], []
    for i, (inp, out) in enumerate(task.train):
        rows.append((inp, out))
        labels.append(f"demo {i}")
    for i, (inp, out) in enumerate(task.test):
        shown = answers[i] if answers is not None else out
        rows.append((inp, shown))
        labels.append(f"test {i}")
    fig, axes = plt.subplots(len(rows), 2, figsize=(2 * scale, scale * len(rows)), squeeze=False)
    for r, ((inp, out), label) in enumerate(zip(rows, labels)):
        draw_grid(axes[r][0], inp, f"{label}: input")
        draw_grid(axes[r][1], out, f"{label}: output" + ("" if out is not None else " (unknown)"))
    fig.suptitle(title or task.id, fontsize=9)
    fig.tight_layout()
    return TaskPicture(fig, rows, labels)


@dataclass
class AugmentationPicture:
    fig: object
    transformed: dict[str, Grid]
    restored: dict[str, Grid]

    def __repr__(self) -> str:
        return f"AugmentationPicture({len(self.transformed)} symmetries)"


def show_augmentations(grid: Grid, symmetries: Sequence[str] | None = None) -> AugmentationPicture:
    """Row 1: ``grid`` under each symmetry; row 2: the inverse applied to it (always ``grid`` again)."""
    import matplotlib.pyplot as plt

    from .augment import SYMMETRIES, apply_symmetry, invert_symmetry

    names = list(symmetries or SYMMETRIES)
    transformed = {s: apply_symmetry(grid, s) for s in names}
    restored = {s: invert_symmetry(transformed[s], s) for s in names}
    fig, axes = plt.subplots(2, len(names), figsize=(1.5 * len(names), 3.2), squeeze=False)
    for k, s in enumerate(names):
        draw_grid(axes[0][k], transformed[s], s)
        draw_grid(axes[1][k], restored[s], "inverse", frame="#2ECC40" if restored[s] == grid else "#FF4136")
    fig.tight_layout()
    return AugmentationPicture(fig, transformed, restored)


@dataclass
class CandidatePicture:
    fig: object
    counts: dict[str, Counter]
    attempts: list[Grid]

    def __repr__(self) -> str:
        return f"CandidatePicture({len(self.counts)} transforms, {len(self.attempts)} attempts)"


def show_candidates(candidates: dict[str, list[Grid | None]], attempts: Sequence[Grid],
                    answer: Grid | None = None, *, per_transform: int = 3) -> CandidatePicture:
    """One row per transform: its most frequent candidates (count in the title); last row: the voted
    attempts, framed green if equal to ``answer``, red if not, then the answer itself (if given)."""
    import matplotlib.pyplot as plt

    counts = {name: Counter(g for g in cands if g is not None) for name, cands in candidates.items()}
    width = max(per_transform, len(attempts) + (answer is not None), 1)
    fig, axes = plt.subplots(len(counts) + 1, width, figsize=(1.6 * width, 1.6 * (len(counts) + 1)), squeeze=False)
    for r, (name, cnt) in enumerate(counts.items()):
        top = cnt.most_common(per_transform)
        n_none = sum(g is None for g in candidates[name])
        for k in range(width):
            ax = axes[r][k]
            if k < len(top):
                g, c = top[k]
                draw_grid(ax, g, f"{name}: x{c}", frame="#2ECC40" if answer is not None and g == answer else None)
            else:
                ax.axis("off")
        if not top:
            axes[r][0].axis("on")
            draw_grid(axes[r][0], None, f"{name}: {n_none} unparseable")
    for k in range(width):
        ax = axes[-1][k]
        if k < len(attempts):
            ok = answer is not None and attempts[k] == answer
            frame = None if answer is None else "#2ECC40" if ok else "#FF4136"
            draw_grid(ax, attempts[k], f"attempt {k + 1}", frame=frame)
        elif k == len(attempts) and answer is not None:
            draw_grid(ax, answer, "the answer")
        else:
            ax.axis("off")
    fig.tight_layout()
    return CandidatePicture(fig, counts, list(attempts))


def task_browser(tasks: Sequence[Task]):
    """An ``ipywidgets.interactive`` browser: a slider picks a task, :func:`show_task` draws it.

    Setting ``browser.children[0].value = i`` runs the callback synchronously (also without a
    kernel); ``browser.result`` is the ``TaskPicture`` drawn last.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    tasks = list(tasks)

    def show(index: int = 0) -> TaskPicture:
        pic = show_task(tasks[index], title=f"{index}: {tasks[index].id}")
        plt.show()
        return pic

    slider = widgets.IntSlider(value=0, min=0, max=len(tasks) - 1, description="task")
    return widgets.interactive(show, index=slider)
