"""pard_ref.ttt.augment: the 8 symmetries, colour permutations and demo shuffles, and their inverses."""

import numpy as np
import pytest

from pard_ref.ttt.augment import IDENTITY_COLOURS, INVERSE_SYMMETRY, SYMMETRIES, Augmentation, apply_colours, apply_symmetry, check_colour_permutation, invert_symmetry, random_augmentation, random_colour_permutation
from pard_ref.ttt.tasks import load_arc

G = ((1, 2, 3), (4, 5, 6))  # 2x3, so rows and columns cannot be confused


def test_symmetries_match_their_definitions():
    H, W = len(G), len(G[0])
    expected = {
        "identity": lambda i, j: G[i][j],
        "rot90": lambda i, j: G[j][W - 1 - i],  # counter-clockwise
        "rot180": lambda i, j: G[H - 1 - i][W - 1 - j],
        "rot270": lambda i, j: G[H - 1 - j][i],
        "flip_h": lambda i, j: G[i][W - 1 - j],
        "flip_v": lambda i, j: G[H - 1 - i][j],
        "transpose": lambda i, j: G[j][i],
        "anti_transpose": lambda i, j: G[H - 1 - j][W - 1 - i],
    }
    assert tuple(expected) == SYMMETRIES
    images = set()
    for name, f in expected.items():
        out = apply_symmetry(G, name)
        h, w = (H, W) if name in ("identity", "rot180", "flip_h", "flip_v") else (W, H)
        assert out == tuple(tuple(f(i, j) for j in range(w)) for i in range(h)), name
        images.add(out)
    assert len(images) == 8  # all different on an asymmetric grid
    assert apply_symmetry(apply_symmetry(G, "rot90"), "rot90") == apply_symmetry(G, "rot180")
    with pytest.raises(ValueError, match="unknown symmetry"):
        apply_symmetry(G, "rot45")


def test_every_inverse_restores_every_arc_grid():
    grids = {g for t in load_arc("all") for g in t.grids()}
    for name in SYMMETRIES:
        assert apply_symmetry(apply_symmetry(G, name), INVERSE_SYMMETRY[name]) == G
        for g in grids:
            assert invert_symmetry(apply_symmetry(g, name), name) == g


def test_colour_permutations_keep_background():
    rng = np.random.default_rng(0)
    for _ in range(50):
        perm = random_colour_permutation(rng)
        assert perm[0] == 0 and sorted(perm) == list(range(10))
        a = Augmentation(colours=perm)
        g = ((0, 1, 2), (3, 0, 9))
        out = a.grid(g)
        assert [c == 0 for row in out for c in row] == [c == 0 for row in g for c in row]
        assert a.invert_grid(out) == g
    with pytest.raises(ValueError, match="background"):
        check_colour_permutation((1, 0, 2, 3, 4, 5, 6, 7, 8, 9))
    with pytest.raises(ValueError, match="not a permutation"):
        check_colour_permutation((0, 1, 1, 3, 4, 5, 6, 7, 8, 9))
    assert apply_colours(G, IDENTITY_COLOURS) == G


def test_whole_task_augmentations_invert_on_all_arc_tasks():
    rng = np.random.default_rng(1)
    for t in load_arc("all"):
        aug = random_augmentation(rng, len(t.train))
        assert aug.order is not None and aug.colours[0] == 0
        a = aug.task(t)
        assert len(a.train) == len(t.train) and len(a.test) == len(t.test)
        # demonstration k of the augmented task is old demonstration order[k], transformed
        k = len(t.train) - 1
        assert a.train[k][0] == aug.grid(t.train[aug.order[k]][0])
        assert aug.invert_task(a) == t


def test_switches_and_bad_orders():
    rng = np.random.default_rng(2)
    plain = random_augmentation(rng, 3, symmetries=("identity",), permute_colours=False, shuffle_demonstrations=False)
    assert plain == Augmentation()
    assert Augmentation("rot90", order=(1, 0)).name == "rot90|o1.0"
    with pytest.raises(ValueError, match="not a permutation"):
        Augmentation(order=(0, 0))
    t = load_arc("training")[0]
    with pytest.raises(ValueError, match="demonstrations"):
        Augmentation(order=(0, 1)).task(t)  # this task has 5 demonstrations
