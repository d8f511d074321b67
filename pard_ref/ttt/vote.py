"""Augmented inference and voting: many transformed prompts, their predictions mapped back, two answers.

1. ``inference_augmentations`` lists the augmented views of a task to predict: each symmetry of
   ``INFERENCE_SYMMETRIES`` (the paper's identity, transpose, flip-0, flip-1, rotate-90, rotate-180)
   with the original demonstration order and ``n_orders - 1`` seeded shuffles.
2. A model predicts a grid for each view's test input (or nothing parseable: ``None``).
3. ``group_candidates`` maps every prediction back with the view's inverse and groups them by
   symmetry name: ``{"identity": [grid, grid, None, ...], "transpose": [...], ...}``.
4. A vote picks at most two answers (ARC allows two attempts: pass@2).

Votes (``None`` candidates never count):

- ``hierarchical_vote`` (the paper): within each transform keep its ``per_transform`` (3) most
  frequent grids; pool those short lists and rank grids by how many transforms kept them.
- ``flat_vote``: rank all candidates of all transforms by frequency.
- ``untransformed_vote``: only the identity transform's candidates.
- ``oracle_correct``: was the answer anywhere among the candidates (an upper bound for any vote).

Ties in a ranking: a grid the identity transform predicted ranks first; then the larger raw count
over all candidates; then the grid seen first (transforms in insertion order, candidates in list
order). Within one transform (the top-3 cut of the hierarchical vote) equal counts go to the grid
that appears first in that transform's list. Every ranking is therefore deterministic.

Not handled: probability-weighted votes (the paper's code can also score candidates by model
likelihood); several test inputs per task (call once per test input).
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from .augment import Augmentation
from .tasks import Grid

INFERENCE_SYMMETRIES = ("identity", "transpose", "flip_v", "flip_h", "rot90", "rot180")
IDENTITY = "identity"
Candidates = Mapping[str, Sequence[Grid | None]]


def inference_augmentations(
    n_demonstrations: int,
    *,
    symmetries: Sequence[str] = INFERENCE_SYMMETRIES,
    n_orders: int = 1,
    seed: int = 0,
) -> list[Augmentation]:
    """For each symmetry: the original demonstration order, then ``n_orders - 1`` random orders.

    No colour permutation (the paper's inference views are geometric). Deterministic given ``seed``.
    """
    if n_orders < 1:
        raise ValueError(f"n_orders must be >= 1, got {n_orders}")
    rng = np.random.default_rng(seed)
    augs = []
    for s in symmetries:
        augs.append(Augmentation(s))
        for _ in range(n_orders - 1):
            augs.append(Augmentation(s, order=tuple(int(k) for k in rng.permutation(n_demonstrations))))
    return augs


def group_candidates(
    augmentations: Sequence[Augmentation], predictions: Sequence[Grid | None]
) -> dict[str, list[Grid | None]]:
    """Predictions made on augmented views -> original-frame candidates grouped by symmetry name."""
    if len(augmentations) != len(predictions):
        raise ValueError(f"{len(augmentations)} augmentations but {len(predictions)} predictions")
    groups: dict[str, list[Grid | None]] = {}
    for aug, pred in zip(augmentations, predictions):
        groups.setdefault(aug.symmetry, []).append(None if pred is None else aug.invert_grid(pred))
    return groups


def _tie_break(candidates: Candidates, identity: str):
    """Key parts shared by all votes: (not predicted by identity, -raw count, first-seen index)."""
    raw = Counter(g for cands in candidates.values() for g in cands if g is not None)
    first: dict[Grid, int] = {}
    for cands in candidates.values():
        for g in cands:
            if g is not None and g not in first:
                first[g] = len(first)
    by_identity = {g for g in candidates.get(identity, ()) if g is not None}
    return lambda g: (g not in by_identity, -raw[g], first[g])


def _top(counts: Counter, key_rest, k: int) -> list[Grid]:
    return sorted(counts, key=lambda g: (-counts[g],) + key_rest(g))[:k]


def hierarchical_vote(
    candidates: Candidates, *, k: int = 2, per_transform: int = 3, identity: str = IDENTITY
) -> list[Grid]:
    """Top ``per_transform`` grids within each transform, then the ``k`` grids kept by the most transforms."""
    tie = _tie_break(candidates, identity)
    pooled: Counter = Counter()
    for cands in candidates.values():
        counts = Counter(g for g in cands if g is not None)
        # within one transform: most frequent first, ties to the grid that appears first in its list
        first_index = {}
        for i, g in enumerate(cands):
            first_index.setdefault(g, i)
        kept = sorted(counts, key=lambda g: (-counts[g], first_index[g]))[:per_transform]
        pooled.update(kept)
    return _top(pooled, tie, k)


def flat_vote(candidates: Candidates, *, k: int = 2, identity: str = IDENTITY) -> list[Grid]:
    """The ``k`` most frequent grids over all candidates of all transforms."""
    counts = Counter(g for cands in candidates.values() for g in cands if g is not None)
    return _top(counts, _tie_break(candidates, identity), k)


def untransformed_vote(candidates: Candidates, *, k: int = 2, identity: str = IDENTITY) -> list[Grid]:
    """The ``k`` most frequent grids among the identity transform's candidates only."""
    only = {identity: list(candidates.get(identity, ()))}
    counts = Counter(g for g in only[identity] if g is not None)
    return _top(counts, _tie_break(only, identity), k)


def oracle_correct(candidates: Candidates, answer: Grid) -> bool:
    """True if any candidate of any transform is the answer."""
    return any(g == answer for cands in candidates.values() for g in cands)


def pass_at_k(predictions: Sequence[Grid], answer: Grid, k: int = 2) -> bool:
    """True if the answer is among the first ``k`` predictions (whole grid exactly right)."""
    return any(g == answer for g in list(predictions)[:k])


VOTES = {"hierarchical": hierarchical_vote, "flat": flat_vote, "untransformed": untransformed_vote}
