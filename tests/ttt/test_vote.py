"""pard_ref.ttt.vote: votes on hand-made candidate lists, tie-breaking toward identity, pass@2."""

import pytest

from pard_ref.ttt.augment import Augmentation
from pard_ref.ttt.generator import generate_task
from pard_ref.ttt.vote import INFERENCE_SYMMETRIES, VOTES, flat_vote, group_candidates, hierarchical_vote, inference_augmentations, oracle_correct, pass_at_k, untransformed_vote

A, B, C, D, E, F = (((c,),) for c in range(1, 7))


def test_hierarchical_and_flat_votes_differ_as_designed():
    cands = {
        "identity": [A, A, A, A, B],
        "transpose": [B, C],
        "flip_v": [B, D],
        "rot90": [C, None],
    }
    assert flat_vote(cands) == [A, B]  # raw counts A5 B3 C2 D1
    # top-3 per transform, then pooled: B kept by 3 transforms, C by 2, A by 1, D by 1
    assert hierarchical_vote(cands) == [B, C]
    assert untransformed_vote(cands) == [A, B]
    assert hierarchical_vote(cands, k=4) == [B, C, A, D]  # A before D: identity predicted A


def test_per_transform_keeps_only_its_top_three():
    cands = {"identity": [A, A, B, B, C, D, E, F], "transpose": [D, D], "flip_v": [D]}
    # identity keeps A, B, C (D loses the tie at the cut on first appearance); D kept by 2 transforms
    assert hierarchical_vote(cands) == [D, A]
    assert hierarchical_vote(cands, per_transform=4) == [D, A]
    assert hierarchical_vote(cands, per_transform=1, k=3) == [D, A]


def test_ties_favour_the_identity_prediction():
    # every candidate is kept by one transform once: identity's C must win though it comes last
    cands = {"transpose": [A], "flip_v": [B], "identity": [C]}
    assert hierarchical_vote(cands) == [C, A]
    assert flat_vote(cands) == [C, A]
    # without identity's support, a larger raw count wins, then first appearance
    cands = {"transpose": [A, B, B], "flip_v": [A, B], "identity": [None]}
    assert hierarchical_vote(cands) == [B, A]
    assert hierarchical_vote({"transpose": [D], "flip_v": [E]}) == [D, E]


def test_none_and_empty():
    assert hierarchical_vote({"identity": [None, None]}) == []
    assert flat_vote({}) == []
    assert untransformed_vote({"transpose": [A]}) == []
    assert hierarchical_vote({"identity": [A, None, None]}) == [A]


def test_oracle_and_pass_at_2():
    cands = {"identity": [A, B], "transpose": [C, None]}
    assert oracle_correct(cands, C) and not oracle_correct(cands, D)
    assert pass_at_k([A, B], B) and not pass_at_k([A, B, C], C)
    assert pass_at_k([A, B, C], C, k=3) and not pass_at_k([], A)
    assert set(VOTES) == {"hierarchical", "flat", "untransformed"}


def test_augmented_views_map_predictions_back():
    task = generate_task("rotate", [0, 1])
    augs = inference_augmentations(len(task.train), n_orders=3, seed=1)
    assert len(augs) == len(INFERENCE_SYMMETRIES) * 3
    assert augs == inference_augmentations(len(task.train), n_orders=3, seed=1)
    assert [a.symmetry for a in augs[::3]] == list(INFERENCE_SYMMETRIES) and augs[0] == Augmentation()
    answer = task.test[0][1]
    # a "model" that answers every view correctly, in the view's own frame; one view fails to parse
    preds = [a.task(task).test[0][1] for a in augs]
    preds[4] = None
    groups = group_candidates(augs, preds)
    assert list(groups) == list(INFERENCE_SYMMETRIES)
    assert all(g == answer for gs in groups.values() for g in gs if g is not None)
    assert hierarchical_vote(groups) == [answer]
    with pytest.raises(ValueError, match="predictions"):
        group_candidates(augs, preds[:-1])
    with pytest.raises(ValueError, match="n_orders"):
        inference_augmentations(3, n_orders=0)
