"""A seeded generator of small ARC-like tasks, from named transformation *families*.

A family is a rule with a few task-level parameters ("rotate by k quarter turns", "things fall
toward direction d", "fill enclosed regions with colour f"), an input sampler that draws grids for
which the rule is interesting, and the rule itself (``apply``: grid -> grid). A task of family
``rotate`` draws the parameters once, then 3-5 demonstration pairs and 1 test pair with them.

A *composition* ``"a+b"`` applies family ``a`` and then family ``b`` to ``a``'s inputs; ``b`` must
be a *total* family (its rule makes sense on any grid, e.g. a rotation or a recolouring).

Families are named, so a benchmark can hold some out: ``PRETRAIN_FAMILIES`` (for building the start
model) and ``HELDOUT_FAMILIES`` (5 families and 8 compositions never used in pretraining) are disjoint.
The held-out compositions only combine pretraining families (a test of composition), the held-out
single families are new mechanisms (a test of learning from demonstrations alone).

Grids: inputs are 3x3 .. 10x10, outputs 1x1 .. 10x10, colours 0..9 with 0 as background;
``max_side`` (6..10) lowers that cap for every grid of a task (short sequences for a tiny model).

Determinism: everything draws from ``numpy.random.default_rng`` seeded with integers only, and no
ordering depends on iterating a set or on ``hash()``, so the same seed gives the same tasks whatever
``PYTHONHASHSEED`` is.

Not handled: the 400 hand-written re-arc generators (the paper's pretraining data); guarantees that a
task has a *unique* simplest explanation (a few demonstrations can fit two rules, as in real ARC);
tasks with several test inputs.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .tasks import Task, validate_task

MIN_SIDE, MAX_SIDE = 3, 10  # input grids are MIN_SIDE..MAX_SIDE on each side
MIN_LIMIT = 6  # the smallest ``max_side`` every family can meet (a 2x upscale of a 3x3 input)
# The size limit of the task being generated (``generate_task(max_side=...)``); MAX_SIDE by default.
_LIMIT: contextvars.ContextVar[int] = contextvars.ContextVar("max_side", default=MAX_SIDE)


def _max() -> int:
    """The longest grid side allowed for the task being generated."""
    return _LIMIT.get()


class _NoRoom(Exception):
    """The drawn task parameters cannot fit the size limit (e.g. a 3x upscale of a 3x3 grid in 6x6)."""
DIRECTIONS = ("down", "left", "up", "right")
# np.rot90(x, k) turns counter-clockwise; after it, direction DIRECTIONS[k] points "down".
_TO_DOWN = {d: k for k, d in enumerate(DIRECTIONS)}

Rule = dict  # task-level parameters of a family (plain ints, bools, strings and tuples)


@dataclass(frozen=True)
class Family:
    """One named transformation family.

    ``rule(rng)`` draws task-level parameters; ``make_input(rng, rule)`` draws one input grid;
    ``apply(grid, rule)`` returns the output grid, or ``None`` when the rule does not apply (the
    generator then draws another input). ``total`` marks rules that make sense on any grid, which
    is what the second step of a composition needs.
    """

    name: str
    rule: Callable[[np.random.Generator], Rule]
    make_input: Callable[[np.random.Generator, Rule], np.ndarray]
    apply: Callable[[np.ndarray, Rule], np.ndarray | None]
    total: bool
    doc: str


# ----------------------------------------------------------------------------------------------
# small drawing helpers (all grids are int64 arrays of shape (h, w))


def _side(rng, lo=MIN_SIDE, hi=None) -> int:
    """A side length in lo..hi (hi defaults to the current size limit)."""
    hi = _max() if hi is None else hi
    if hi < lo:
        raise _NoRoom
    return int(rng.integers(lo, hi + 1))


def _colours(rng, k: int, exclude: Sequence[int] = ()) -> list[int]:
    """k distinct non-background colours, none of them in ``exclude``."""
    pool = [c for c in range(1, 10) if c not in exclude]
    return [int(c) for c in rng.choice(pool, size=k, replace=False)]


def _scatter(rng, h: int, w: int, colours: Sequence[int], density: float) -> np.ndarray:
    """Each cell is non-background with probability ``density``, in a colour drawn from ``colours``."""
    on = rng.random((h, w)) < density
    paint = rng.choice(np.asarray(colours), size=(h, w))
    return np.where(on, paint, 0).astype(np.int64)


def _random_grid(rng, colours_k=(1, 4), density=(0.15, 0.5), lo=MIN_SIDE, hi=None) -> np.ndarray:
    h, w = _side(rng, lo, hi), _side(rng, lo, hi)
    cols = _colours(rng, int(rng.integers(colours_k[0], colours_k[1] + 1)))
    return _scatter(rng, h, w, cols, float(rng.uniform(*density)))


def _blob(rng, size: int, max_h: int = 4, max_w: int = 4) -> np.ndarray:
    """A random 4-connected boolean shape of up to ``size`` cells, cropped to its bounding box."""
    mask = np.zeros((max_h, max_w), dtype=bool)
    mask[int(rng.integers(max_h)), int(rng.integers(max_w))] = True
    while mask.sum() < size:
        # free cells next to the shape, in reading order (a deterministic list to draw from)
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        frontier = np.argwhere(grown & ~mask)
        if len(frontier) == 0:
            break
        r, c = frontier[int(rng.integers(len(frontier)))]
        mask[r, c] = True
    rows, cols = np.nonzero(mask)
    return mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _place(rng, grid: np.ndarray, mask: np.ndarray, colour, tries: int = 40) -> bool:
    """Paint ``mask`` (in ``colour``: an int or an array like mask) somewhere in ``grid`` where its
    bounding box and a 1-cell margin around it are still background. In place; False if no room."""
    H, W = grid.shape
    h, w = mask.shape
    if h > H or w > W:
        return False
    for _ in range(tries):
        r, c = int(rng.integers(H - h + 1)), int(rng.integers(W - w + 1))
        if (grid[max(r - 1, 0) : r + h + 1, max(c - 1, 0) : c + w + 1] != 0).any():
            continue
        region = grid[r : r + h, c : c + w]
        region[mask] = colour if np.isscalar(colour) else np.asarray(colour)[mask]
        return True
    return False


def _components(x: np.ndarray) -> list[np.ndarray]:
    """4-connected components of equal non-background colour, as boolean masks, in reading order."""
    h, w = x.shape
    seen = np.zeros((h, w), dtype=bool)
    comps = []
    for r in range(h):
        for c in range(w):
            if x[r, c] == 0 or seen[r, c]:
                continue
            mask = np.zeros((h, w), dtype=bool)
            stack = [(r, c)]
            seen[r, c] = True
            while stack:
                i, j = stack.pop()
                mask[i, j] = True
                for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                    if 0 <= a < h and 0 <= b < w and not seen[a, b] and x[a, b] == x[r, c]:
                        seen[a, b] = True
                        stack.append((a, b))
            comps.append(mask)
    return comps


def _crop_to_content(x: np.ndarray) -> np.ndarray | None:
    rows, cols = np.nonzero(x)
    if len(rows) == 0:
        return None
    return x[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _in_direction(fn, x: np.ndarray, direction: str) -> np.ndarray:
    """Run ``fn`` (written for direction "down") for any direction by rotating there and back."""
    k = _TO_DOWN[direction]
    return np.rot90(fn(np.rot90(x, k)), -k)


def _objects_grid(rng, n: int, colours: Sequence[int], sizes=(1, 6), box=4, lo=MIN_SIDE + 2) -> np.ndarray:
    """A grid with up to ``n`` separated blobs, blob i in colour ``colours[i % len(colours)]``."""
    x = np.zeros((_side(rng, lo), _side(rng, lo)), dtype=np.int64)
    for i in range(n):
        _place(rng, x, _blob(rng, int(rng.integers(sizes[0], sizes[1] + 1)), box, box), colours[i % len(colours)])
    return x


def _rectangles_grid(rng, n: int, colours: Sequence[int], min_side: int, max_side: int = 5, hollow=False):
    """A grid with up to ``n`` separated rectangles (solid, or only their outline)."""
    x = np.zeros((_side(rng, max(MIN_SIDE, min_side + 2)), _side(rng, max(MIN_SIDE, min_side + 2))), dtype=np.int64)
    for i in range(n):
        mask = np.ones((_side(rng, min_side, max_side), _side(rng, min_side, max_side)), dtype=bool)
        if hollow:
            mask[1:-1, 1:-1] = False
        _place(rng, x, mask, colours[i % len(colours)])
    return x


def _rule_none(rng) -> Rule:
    return {}


def _input_random(rng, rule) -> np.ndarray:
    return _random_grid(rng)


def _rule_direction(rng) -> Rule:
    return {"direction": DIRECTIONS[int(rng.integers(4))]}


def _rule_colour(rng) -> Rule:
    return {"colour": int(rng.integers(1, 10))}


def _rule_offset(rng) -> Rule:
    offsets = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)]
    return {"offset": offsets[int(rng.integers(len(offsets)))]}


# ----------------------------------------------------------------------------------------------
# the families, one small block each: rule (task parameters), input sampler, and the rule itself

# --- geometry ---


def _rotate_rule(rng):
    return {"k": int(rng.integers(1, 4))}


def _rotate(x, rule):
    return np.rot90(x, rule["k"])  # k quarter turns counter-clockwise


def _flip_rule(rng):
    return {"axis": int(rng.integers(2))}


def _flip(x, rule):
    return np.flip(x, axis=rule["axis"])  # axis 0: upside down; axis 1: mirror left-right


def _transpose_rule(rng):
    return {"anti": bool(rng.integers(2))}


def _transpose(x, rule):
    # transpose: out[i, j] = x[j, i]; anti-transpose: out[i, j] = x[H-1-j, W-1-i]
    return x[::-1, ::-1].T if rule["anti"] else x.T


def _translate(x, rule):
    """Shift everything by (dy, dx); what leaves the grid is lost, what enters is background."""
    dy, dx = rule["offset"]
    h, w = x.shape
    y = np.zeros_like(x)
    kept = x[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]  # the part that stays inside
    y[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = kept
    return y


def _wrap_shift(x, rule):
    return np.roll(x, rule["offset"], axis=(0, 1))  # shift with wrap-around


def _input_sparse(rng, rule):
    return _random_grid(rng, density=(0.1, 0.3))


def _slide(x, rule):
    """Move the content rigidly (as one object) until it touches the border in ``direction``."""

    def down(g):
        rows = np.nonzero(g.any(axis=1))[0]
        if len(rows) == 0:
            return None
        return np.roll(g, g.shape[0] - 1 - rows.max(), axis=0)

    k = _TO_DOWN[rule["direction"]]
    moved = down(np.rot90(x, k))
    return None if moved is None else np.rot90(moved, -k)


def _input_one_object(rng, rule):
    x = np.zeros((_side(rng, 4), _side(rng, 4)), dtype=np.int64)
    mask = _blob(rng, int(rng.integers(2, 8)), 3, 3)
    paint = np.asarray(_colours(rng, 2))[rng.integers(2, size=mask.shape)]
    _place(rng, x, mask, paint)
    return x


def _gravity(x, rule):
    """Every non-background cell falls toward ``direction``, keeping the order within its column."""

    def down(g):
        y = np.zeros_like(g)
        for j in range(g.shape[1]):
            cells = g[:, j][g[:, j] != 0]
            if len(cells):
                y[-len(cells) :, j] = cells
        return y

    return _in_direction(down, x, rule["direction"])


def _input_gravity(rng, rule):
    return _random_grid(rng, colours_k=(1, 3), density=(0.15, 0.45))


def _upscale_rule(rng):
    return {"factor": int(rng.integers(2, 4))}


def _upscale(x, rule):
    f = rule["factor"]
    if max(x.shape) * f > _max():
        return None
    return np.kron(x, np.ones((f, f), dtype=np.int64))  # every cell -> an f x f block


def _input_upscale(rng, rule):
    return _random_grid(rng, lo=MIN_SIDE, hi=_max() // rule["factor"], density=(0.3, 0.7))


def _downscale(x, rule):
    f = rule["factor"]
    if x.shape[0] % f or x.shape[1] % f:
        return None
    return x[::f, ::f].copy()  # inverse of upscale: one cell per f x f block


def _input_downscale(rng, rule):
    f = rule["factor"]
    small = _random_grid(rng, lo=2, hi=_max() // f, density=(0.3, 0.7))
    return np.kron(small, np.ones((f, f), dtype=np.int64))


def _tile_rule(rng):
    return {"reps": [(1, 2), (2, 1), (2, 2)][int(rng.integers(3))]}


def _tile(x, rule):
    ry, rx = rule["reps"]
    if x.shape[0] * ry > _max() or x.shape[1] * rx > _max():
        return None
    return np.tile(x, (ry, rx))


def _input_tile(rng, rule):
    return _random_grid(rng, lo=MIN_SIDE, hi=5, density=(0.3, 0.7))


def _mirror_extend_rule(rng):
    return {"direction": ("right", "down")[int(rng.integers(2))]}


def _mirror_extend(x, rule):
    """Append the mirror image: [x | fliplr(x)] ("right") or [x ; flipud(x)] ("down")."""
    axis = 1 if rule["direction"] == "right" else 0
    if x.shape[axis] * 2 > _max():
        return None
    return np.concatenate([x, np.flip(x, axis=axis)], axis=axis)


def _input_half(rng, rule):
    return _random_grid(rng, lo=MIN_SIDE, hi=5, density=(0.3, 0.7))


def _mirror_complete_rule(rng):
    return {"axis": int(rng.integers(2))}


def _mirror_complete(x, rule):
    """Fill the background holes of a mirror-symmetric picture from the mirrored cell."""
    mirror = np.flip(x, axis=rule["axis"])
    y = np.where(x == 0, mirror, x)
    return None if (y == 0).any() else y


def _input_mirror_complete(rng, rule):
    axis = rule["axis"]
    h, w = _side(rng, 4), _side(rng, 4)
    x = _scatter(rng, h, w, _colours(rng, int(rng.integers(2, 5))), 1.0)  # no background cells
    n = x.shape[axis]
    index = np.arange(n).reshape((-1, 1) if axis == 0 else (1, -1))
    x = np.where(index < (n + 1) // 2, x, np.flip(x, axis=axis))  # copy the first half onto the second
    # cut a rectangular hole inside the strict first half, so its mirror image stays intact
    hole = np.zeros((h, w), dtype=bool)
    if axis == 0:
        hh, hw = _side(rng, 1, n // 2), _side(rng, 1, w)
        r, c = int(rng.integers(n // 2 - hh + 1)), int(rng.integers(w - hw + 1))
    else:
        hh, hw = _side(rng, 1, h), _side(rng, 1, n // 2)
        r, c = int(rng.integers(h - hh + 1)), int(rng.integers(n // 2 - hw + 1))
    hole[r : r + hh, c : c + hw] = True
    if rng.integers(2):  # half of the time the hole is in the second half
        hole = np.flip(hole, axis=axis)
    return np.where(hole, 0, x)


# --- colour ---


def _recolour_rule(rng):
    k = int(rng.integers(1, 4))
    cols = _colours(rng, 2 * k)
    return {"mapping": tuple(zip(cols[:k], cols[k:]))}  # ((source, target), ...)


def _recolour(x, rule):
    lut = np.arange(10)
    for s, t in rule["mapping"]:
        lut[s] = t
    return lut[x]


def _input_recolour(rng, rule):
    sources = [s for s, _ in rule["mapping"]]
    targets = [t for _, t in rule["mapping"]]
    others = _colours(rng, 1, exclude=sources + targets)  # one colour the rule leaves alone
    return _scatter(rng, _side(rng), _side(rng), sources + others, float(rng.uniform(0.2, 0.6)))


def _invert(x, rule):
    """Swap the background with ``colour``."""
    c = rule["colour"]
    return np.where(x == 0, c, np.where(x == c, 0, x))


def _input_invert(rng, rule):
    return _scatter(rng, _side(rng), _side(rng), [rule["colour"]], float(rng.uniform(0.2, 0.6)))


def _keep_colour(x, rule):
    return np.where(x == rule["colour"], x, 0)  # everything else becomes background


def _input_keep_colour(rng, rule):
    cols = [rule["colour"]] + _colours(rng, int(rng.integers(1, 4)), exclude=[rule["colour"]])
    return _scatter(rng, _side(rng), _side(rng), cols, float(rng.uniform(0.3, 0.7)))


def _majority_colour(x, rule):
    """A 1x1 grid holding the most frequent non-background colour (None on a tie)."""
    counts = np.bincount(x.ravel(), minlength=10)[1:]
    best = counts.max()
    if best == 0 or (counts == best).sum() > 1:
        return None
    return np.array([[int(counts.argmax()) + 1]])


def _input_majority(rng, rule):
    cols = _colours(rng, int(rng.integers(2, 5)))
    h, w = _side(rng), _side(rng)
    probs = rng.dirichlet(np.ones(len(cols)))
    on = rng.random((h, w)) < rng.uniform(0.3, 0.8)
    return np.where(on, rng.choice(np.asarray(cols), size=(h, w), p=probs), 0).astype(np.int64)


def _highlight_largest(x, rule):
    """Recolour the (unique) largest object with ``colour``."""
    comps = _components(x)
    if not comps:
        return None
    sizes = [int(m.sum()) for m in comps]
    if sizes.count(max(sizes)) > 1:
        return None
    y = x.copy()
    y[comps[sizes.index(max(sizes))]] = rule["colour"]
    return y


def _input_same_colour_objects(rng, rule):
    return _objects_grid(rng, int(rng.integers(2, 5)), _colours(rng, 1, exclude=[rule["colour"]]), sizes=(1, 7))


# --- objects ---


def _crop_object(x, rule):
    return _crop_to_content(x)  # the bounding box of everything that is not background


def _largest_object(x, rule):
    """Crop the (unique) largest single-colour object, without its neighbours."""
    comps = _components(x)
    if not comps:
        return None
    sizes = [int(m.sum()) for m in comps]
    if sizes.count(max(sizes)) > 1:
        return None
    return _crop_to_content(np.where(comps[sizes.index(max(sizes))], x, 0))


def _input_objects(rng, rule):
    return _objects_grid(rng, int(rng.integers(2, 5)), _colours(rng, 4), sizes=(1, 8))


def _outline(x, rule):
    """Hollow out objects: a cell whose 4 neighbours all exist and share its colour becomes background."""
    y = x.copy()
    inner = (x[1:-1, 1:-1] != 0) & (x[1:-1, 1:-1] == x[:-2, 1:-1]) & (x[1:-1, 1:-1] == x[2:, 1:-1])
    inner &= (x[1:-1, 1:-1] == x[1:-1, :-2]) & (x[1:-1, 1:-1] == x[1:-1, 2:])
    y[1:-1, 1:-1][inner] = 0
    return y


def _input_solid_rectangles(rng, rule):
    return _rectangles_grid(rng, int(rng.integers(1, 4)), _colours(rng, 3), min_side=3)


def _fill_enclosed(x, rule):
    """Background cells that cannot reach the border through background become ``colour``."""
    h, w = x.shape
    outside = np.zeros((h, w), dtype=bool)
    stack = [(i, j) for i in range(h) for j in range(w) if (i in (0, h - 1) or j in (0, w - 1)) and x[i, j] == 0]
    for i, j in stack:
        outside[i, j] = True
    while stack:
        i, j = stack.pop()
        for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
            if 0 <= a < h and 0 <= b < w and not outside[a, b] and x[a, b] == 0:
                outside[a, b] = True
                stack.append((a, b))
    return np.where((x == 0) & ~outside, rule["colour"], x)


def _input_hollow_rectangles(rng, rule):
    cols = _colours(rng, 2, exclude=[rule["colour"]])
    return _rectangles_grid(rng, int(rng.integers(1, 4)), cols, min_side=3, hollow=True)


def _denoise(x, rule):
    """Remove every cell that has no 4-neighbour of its own colour (isolated noise)."""
    same = np.zeros(x.shape, dtype=bool)
    same[1:] |= x[1:] == x[:-1]
    same[:-1] |= x[:-1] == x[1:]
    same[:, 1:] |= x[:, 1:] == x[:, :-1]
    same[:, :-1] |= x[:, :-1] == x[:, 1:]
    return np.where(same, x, 0)


def _input_noisy_rectangles(rng, rule):
    cols = _colours(rng, 3)
    x = _rectangles_grid(rng, int(rng.integers(1, 3)), cols[:2], min_side=2, max_side=4)
    for _ in range(int(rng.integers(2, 6))):  # noise pixels in a third colour, never touching each other
        i, j = int(rng.integers(x.shape[0])), int(rng.integers(x.shape[1]))
        if x[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].any():
            continue
        x[i, j] = cols[2]
    return x


def _count_objects(x, rule):
    """A 1xN bar in ``colour``, N = number of objects (None if more than 10)."""
    n = len(_components(x))
    return None if not 1 <= n <= _max() else np.full((1, n), rule["colour"])


def _input_count_objects(rng, rule):
    return _objects_grid(rng, int(rng.integers(1, 7)), _colours(rng, 3, exclude=[rule["colour"]]), sizes=(1, 4), box=3)


# --- lines, fills, counting ---


def _border(x, rule):
    y = x.copy()
    y[0, :] = y[-1, :] = y[:, 0] = y[:, -1] = rule["colour"]  # a frame along the grid edge
    return y


def _draw_lines(x, rule):
    """Every coloured cell extends a line of its colour toward ``direction`` over background."""

    def down(g):
        y = g.copy()
        for i in range(1, g.shape[0]):
            y[i] = np.where(y[i] == 0, y[i - 1], y[i])
        return y

    return _in_direction(down, x, rule["direction"])


def _input_pixels(rng, rule):
    return _random_grid(rng, colours_k=(1, 3), density=(0.04, 0.12))


def _fill_rows(x, rule):
    """Each row (``axis`` 0) or column (``axis`` 1) holding cells of one colour is filled with it."""
    g = x if rule["axis"] == 0 else x.T
    y = g.copy()
    for i, row in enumerate(g):
        colours = np.unique(row[row != 0])
        if len(colours) > 1:
            return None
        if len(colours) == 1:
            y[i] = colours[0]
    return y if rule["axis"] == 0 else y.T


def _fill_rows_rule(rng):
    return {"axis": int(rng.integers(2))}


def _input_markers(rng, rule):
    h, w = _side(rng), _side(rng)
    x = np.zeros((h, w), dtype=np.int64)
    n_lines = h if rule["axis"] == 0 else w
    cols = _colours(rng, 3)
    for i in rng.choice(n_lines, size=int(rng.integers(1, max(2, n_lines // 2))), replace=False):
        j = int(rng.integers(w if rule["axis"] == 0 else h))
        if rule["axis"] == 0:
            x[i, j] = cols[int(rng.integers(3))]
        else:
            x[j, i] = cols[int(rng.integers(3))]
    return x


def _count_bar(x, rule):
    """Count the cells of the (single) colour: a bar of that many cells, as a row or a column."""
    colours = np.unique(x[x != 0])
    n = int((x != 0).sum())
    if len(colours) != 1 or not 1 <= n <= _max():
        return None
    return np.full((1, n) if rule["axis"] == 0 else (n, 1), int(colours[0]))


def _count_bar_rule(rng):
    return {"axis": int(rng.integers(2))}


def _input_count(rng, rule):
    h, w = _side(rng), _side(rng)
    x = np.zeros(h * w, dtype=np.int64)
    x[rng.choice(h * w, size=int(rng.integers(1, 9)), replace=False)] = _colours(rng, 1)[0]
    return x.reshape(h, w)


def _connect_pairs(x, rule):
    """Two cells of the same colour on one row or column are joined by a line of that colour."""
    y = x.copy()
    for c in np.unique(x[x != 0]):
        cells = np.argwhere(x == c)
        if len(cells) != 2:
            return None
        (r0, c0), (r1, c1) = cells
        if r0 == r1:
            seg = y[r0, min(c0, c1) : max(c0, c1) + 1]
        elif c0 == c1:
            seg = y[min(r0, r1) : max(r0, r1) + 1, c0]
        else:
            return None
        seg[seg == 0] = c
    return y


def _input_pairs(rng, rule):
    h, w = _side(rng, 4), _side(rng, 4)
    x = np.zeros((h, w), dtype=np.int64)
    used = np.zeros((h, w), dtype=bool)  # cells of earlier segments: later ones must not cross them
    for c in _colours(rng, int(rng.integers(1, 4))):
        for _ in range(20):
            if rng.integers(2):  # horizontal pair
                r = int(rng.integers(h))
                a, b = sorted(int(v) for v in rng.choice(w, size=2, replace=False))
                cells = (np.full(b - a + 1, r), np.arange(a, b + 1))
            else:
                col = int(rng.integers(w))
                a, b = sorted(int(v) for v in rng.choice(h, size=2, replace=False))
                cells = (np.arange(a, b + 1), np.full(b - a + 1, col))
            if b - a < 2 or used[cells].any():
                continue
            used[cells] = True
            x[cells[0][0], cells[1][0]] = c
            x[cells[0][-1], cells[1][-1]] = c
            break
    return x


def _sort_bars(x, rule):
    """Rows sorted by how many coloured cells they hold (fewest first, stable)."""
    lengths = (x != 0).sum(axis=1)
    return x[np.argsort(lengths, kind="stable")]


def _input_bars(rng, rule):
    h, w = _side(rng), _side(rng)
    c = _colours(rng, 1)[0]
    x = np.zeros((h, w), dtype=np.int64)
    for i in range(h):
        x[i, : int(rng.integers(0, w + 1))] = c  # a left-aligned bar per row
    return x


# ----------------------------------------------------------------------------------------------
# the registry (insertion order is the canonical order of families)


def _register(*families: Family) -> dict[str, Family]:
    return {f.name: f for f in families}


FAMILIES: dict[str, Family] = _register(
    Family("rotate", _rotate_rule, _input_random, _rotate, True, "rotate by 90, 180 or 270 degrees"),
    Family("flip", _flip_rule, _input_random, _flip, True, "mirror upside-down or left-right"),
    Family("transpose", _transpose_rule, _input_random, _transpose, True, "reflect in the diagonal or anti-diagonal"),
    Family("translate", _rule_offset, _input_sparse, _translate, True, "shift everything by a fixed offset"),
    Family("wrap_shift", _rule_offset, _input_sparse, _wrap_shift, True, "shift with wrap-around"),
    Family("slide", _rule_direction, _input_one_object, _slide, True, "move the object to a wall"),
    Family("gravity", _rule_direction, _input_gravity, _gravity, True, "cells fall toward a side"),
    Family("upscale", _upscale_rule, _input_upscale, _upscale, True, "every cell becomes an f x f block"),
    Family("downscale", _upscale_rule, _input_downscale, _downscale, False, "undo an f x f block upscale"),
    Family("tile", _tile_rule, _input_tile, _tile, True, "repeat the grid 1x2, 2x1 or 2x2"),
    Family("mirror_extend", _mirror_extend_rule, _input_half, _mirror_extend, True, "append the mirror image"),
    Family("mirror_complete", _mirror_complete_rule, _input_mirror_complete, _mirror_complete, False,
           "fill holes of a symmetric picture"),
    Family("recolour", _recolour_rule, _input_recolour, _recolour, True, "map 1-3 colours to others"),
    Family("invert", _rule_colour, _input_invert, _invert, True, "swap background and a colour"),
    Family("keep_colour", _rule_colour, _input_keep_colour, _keep_colour, True, "erase all but one colour"),
    Family("majority_colour", _rule_none, _input_majority, _majority_colour, False, "1x1 grid of the most common colour"),
    Family("highlight_largest", _rule_colour, _input_same_colour_objects, _highlight_largest, False,
           "recolour the largest object"),
    Family("crop_object", _rule_none, _input_one_object, _crop_object, True, "crop to the object"),
    Family("largest_object", _rule_none, _input_objects, _largest_object, False, "crop the largest object"),
    Family("outline", _rule_none, _input_solid_rectangles, _outline, True, "hollow out solid shapes"),
    Family("fill_enclosed", _rule_colour, _input_hollow_rectangles, _fill_enclosed, True, "fill enclosed background"),
    Family("denoise", _rule_none, _input_noisy_rectangles, _denoise, True, "remove isolated cells"),
    Family("count_objects", _rule_colour, _input_count_objects, _count_objects, False, "1xN bar, N = number of objects"),
    Family("border", _rule_colour, _input_random, _border, True, "draw a frame along the edge"),
    Family("draw_lines", _rule_direction, _input_pixels, _draw_lines, True, "extend cells into lines to a side"),
    Family("fill_rows", _fill_rows_rule, _input_markers, _fill_rows, False, "fill each marked row or column"),
    Family("count_bar", _count_bar_rule, _input_count, _count_bar, False, "a bar as long as the number of cells"),
    Family("connect_pairs", _rule_none, _input_pairs, _connect_pairs, False, "join aligned same-colour pairs"),
    Family("sort_bars", _rule_none, _input_bars, _sort_bars, False, "sort rows by bar length"),
)

# The split. Held-out single families are new mechanisms; held-out compositions combine pretraining
# families in pairs never seen in pretraining. The two lists share no family and no composition.
HELDOUT_SINGLE = ("mirror_complete", "connect_pairs", "count_objects", "outline", "sort_bars")
PRETRAIN_SINGLE = tuple(name for name in FAMILIES if name not in HELDOUT_SINGLE)
PRETRAIN_COMPOSITIONS = (
    "gravity+rotate",
    "crop_object+upscale",
    "recolour+flip",
    "fill_enclosed+transpose",
    "keep_colour+gravity",
    "draw_lines+flip",
    "denoise+crop_object",
    "largest_object+rotate",
    "tile+recolour",
    "translate+border",
)
HELDOUT_COMPOSITIONS = (
    "crop_object+rotate",
    "fill_enclosed+recolour",
    "denoise+gravity",
    "draw_lines+transpose",
    "upscale+border",
    "keep_colour+crop_object",
    "slide+recolour",
    "invert+flip",
)
PRETRAIN_FAMILIES = PRETRAIN_SINGLE + PRETRAIN_COMPOSITIONS
HELDOUT_FAMILIES = HELDOUT_SINGLE + HELDOUT_COMPOSITIONS


def parse_spec(spec: str) -> list[Family]:
    """``"a"`` or ``"a+b"`` -> the families, checking names and that every later step is total."""
    names = spec.split("+")
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not 1 <= len(names) <= 2:
        raise ValueError(f"bad family spec {spec!r}: unknown {unknown}; known: {list(FAMILIES)}")
    for n in names[1:]:
        if not FAMILIES[n].total:
            raise ValueError(f"bad family spec {spec!r}: {n!r} cannot be a later step (it is not total)")
    return [FAMILIES[n] for n in names]


def _valid_pair(x: np.ndarray, y: np.ndarray | None) -> bool:
    if y is None or y.ndim != 2 or min(y.shape) < 1 or max(y.shape) > _max():
        return False
    if min(x.shape) < MIN_SIDE or max(x.shape) > _max() or not x.any():
        return False
    return x.shape != y.shape or not np.array_equal(x, y)  # the rule must change something


def generate_task(
    spec: str, seed, *, task_id: str | None = None, n_demos: int | None = None, max_side: int = MAX_SIDE
) -> Task:
    """One task of family (or composition) ``spec``: ``n_demos`` (default: 3-5, drawn) demonstrations
    and one test pair, all drawn from ``numpy.random.default_rng(seed)``.

    ``seed`` is an int or a sequence of ints. Inputs are distinct, every pair is changed by the rule,
    and the task has at least two different outputs. ``max_side`` (``MIN_LIMIT``..``MAX_SIDE``) caps
    every grid side: inputs are drawn ``MIN_SIDE..max_side``, and task parameters that cannot fit
    (e.g. a 3x upscale under 6x6) are redrawn. The default (10) reproduces the unconstrained tasks
    exactly. Raises ``RuntimeError`` if the family cannot produce such a task after many attempts.
    """
    if not MIN_LIMIT <= max_side <= MAX_SIDE:
        raise ValueError(f"max_side must be in {MIN_LIMIT}..{MAX_SIDE}, got {max_side}")
    steps = parse_spec(spec)
    rng = np.random.default_rng(seed)
    n_demos = int(rng.integers(3, 6)) if n_demos is None else n_demos
    token = _LIMIT.set(max_side)
    try:
        for _ in range(50):  # draw the task parameters; retry if they admit too few good pairs
            rules = [f.rule(rng) for f in steps]
            pairs: list[tuple[np.ndarray, np.ndarray]] = []
            try:
                for _ in range(40 * (n_demos + 1)):
                    x = steps[0].make_input(rng, rules[0])
                    y = x
                    for f, r in zip(steps, rules):
                        y = f.apply(y, r)
                        if y is None:
                            break
                    if not _valid_pair(x, y) or any(np.array_equal(x, p[0]) for p in pairs):
                        continue
                    pairs.append((x, np.ascontiguousarray(y)))
                    if len(pairs) == n_demos + 1:
                        break
            except _NoRoom:
                continue  # these parameters cannot fit max_side: draw others
            outputs = {tuple(map(tuple, p[1].tolist())) for p in pairs}
            if len(pairs) == n_demos + 1 and len(outputs) >= 2:
                task = Task(id=task_id or f"{spec}-{seed}", train=tuple(pairs[:-1]), test=(pairs[-1],))
                return validate_task(task, max_size=max_side)
    finally:
        _LIMIT.reset(token)
    raise RuntimeError(f"family {spec!r} could not produce a task for seed {seed!r} (max_side {max_side})")


def generate_tasks(
    families: Sequence[str] | None = None, n: int = 100, seed: int = 0, *,
    max_side: int = MAX_SIDE, n_demos: int | None = None,
) -> list[Task]:
    """``n`` tasks cycling through ``families`` (default: ``PRETRAIN_FAMILIES``) in a seeded order.

    Task ``i`` uses ``families[order[i % len(families)]]`` and the seed ``(seed, i)``; its id is
    ``"<spec>-<seed>-<i>"``, so ``family_of`` can read the family back. ``max_side`` and ``n_demos``
    are passed to ``generate_task``.
    """
    if isinstance(families, str):
        families = []  # a bare string is a mistake for [spec]; reject it below
    families = list(PRETRAIN_FAMILIES if families is None else families)
    if not families:
        raise ValueError("families must be a non-empty sequence of family specs")
    for spec in families:
        parse_spec(spec)
    order = np.random.default_rng([seed, 0x5EED]).permutation(len(families))
    tasks = []
    for i in range(n):
        spec = families[int(order[i % len(families)])]
        tasks.append(generate_task(spec, [seed, i], task_id=f"{spec}-{seed}-{i}", max_side=max_side,
                                   n_demos=n_demos))
    return tasks


def family_of(task: Task) -> str:
    """The family spec of a generated task (read from its id)."""
    return task.id.split("-")[0]
