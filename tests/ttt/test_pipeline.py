"""pard_ref.ttt.pipeline on a tiny random model: settings are honoured (never ignored), runs are
reproducible, the model comes back unchanged, the shared adapter trains once, votes re-score."""

import pytest
import torch

from pard_ref.ttt import pipeline as P
from pard_ref.ttt.adapt import greedy_decode, greedy_decode_batch, tiny_llama
from pard_ref.ttt.generator import generate_task
from pard_ref.ttt.lora import lora_modules
from pard_ref.ttt.pipeline import TaskResult, TTTSettings, ablation_settings, solve_task, solve_tasks

# small and quick: few examples, one epoch, one order per symmetry, grids up to 6x6
FAST = TTTSettings(max_examples=4, augmentations_per_task=1, epochs=1, batch_size=2, lora_rank=4, n_orders=1,
                   max_size=6)



@pytest.fixture(scope="module")
def tasks():
    return [generate_task("flip", [1, 0], n_demos=3, max_side=6),
            generate_task("recolour", [1, 1], n_demos=2, max_side=6)]


@pytest.fixture(scope="module")
def model():
    return tiny_llama(dtype=torch.float64, init_std=0.5, hidden_size=32, num_layers=1)


def test_settings_reject_what_would_be_ignored():
    with pytest.raises(ValueError, match="lr"):
        TTTSettings(ttt=False, lr=1e-2)
    with pytest.raises(ValueError, match="augmentations_per_task"):
        TTTSettings(augment=False, augmentations_per_task=3)
    with pytest.raises(ValueError, match="leave_two_out"):
        TTTSettings(variant="plain", leave_two_out=True)
    with pytest.raises(ValueError, match="n_orders"):
        TTTSettings(inference_augment=False, n_orders=3)
    for bad in (dict(vote="majority"), dict(adapter="global"), dict(variant="pairs"), dict(loss="x"),
                dict(lora_targets=("embed",)), dict(inference_symmetries=("rot45",)), dict(lr=0), dict(n_orders=0)):
        with pytest.raises(ValueError):
            TTTSettings(**bad)
    # the ablation rows are valid settings that differ from the full method in what they say
    rows = ablation_settings(TTTSettings(lr=3e-3, augmentations_per_task=7))
    assert not rows["base"].ttt and rows["base"].lr == TTTSettings().lr
    assert not rows["no_augmentation"].augment and rows["no_augmentation"].lr == 3e-3
    assert rows["plain_pairs"].variant == "plain" and rows["shared_adapter"].adapter == "shared"
    assert len({s.describe() for s in rows.values()}) == 5


def test_training_examples_follow_the_switches(tasks):
    t = tasks[0]  # 3 demonstrations
    s = TTTSettings(augmentations_per_task=2, max_examples=None, leave_two_out=False)
    assert len(P.training_examples(t, s)) == 3 * 3  # 3 leave-one-out tasks x (untransformed + 2)
    assert len(P.training_examples(t, s.replace(leave_two_out=True))) == (3 + 6) * 3
    no_aug = s.replace(augment=False, augmentations_per_task=TTTSettings().augmentations_per_task)
    ex = P.training_examples(t, no_aug)
    assert len(ex) == 3 and [e.ids for e in ex] == [e.ids for e in P.training_examples(t, no_aug)]
    plain = P.training_examples(t, s.replace(variant="plain"))
    assert len(plain) == 9 and all(e.ids.count(4) == 1 for e in plain)  # one <in>: 0-shot pairs
    assert len(P.training_examples(t, s.replace(max_examples=5))) == 5


def test_batched_decoding_equals_one_by_one(model):
    g = torch.Generator().manual_seed(0)
    prompts = [[1] + torch.randint(4, 18, (int(n),), generator=g).tolist() for n in (3, 17, 9, 30, 5)]
    single = [greedy_decode(model, p, max_new_tokens=20) for p in prompts]
    assert greedy_decode_batch(model, prompts, max_new_tokens=20) == single
    assert any(len(s) < 20 for s in single)  # an early <eos> happened inside the batch


def test_same_seed_same_result_and_model_restored(model, tasks):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = solve_tasks(model, tasks, FAST, progress=False)
    b = solve_tasks(model, tasks, FAST, progress=False)
    assert not lora_modules(model)
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    for x, y in zip(a, b):
        assert x.candidates == y.candidates and x.train_losses == y.train_losses and x.attempts == y.attempts
        assert x.answer_nll == y.answer_nll and 0 < x.answer_nll[0] < 20
    r = a[0]
    assert r.n_examples == 4 and len(r.train_losses) == 2  # 4 examples, batch 2, 1 epoch
    assert set(r.candidates[0]) == set(FAST.inference_symmetries)
    assert all(len(c) == 1 for c in r.candidates[0].values())  # n_orders=1
    assert len(r.attempts[0]) <= 2
    other = solve_tasks(model, tasks, FAST.replace(seed=1), progress=False)
    assert [x.train_losses for x in other] != [x.train_losses for x in a]


def test_switches_change_what_runs(model, tasks, monkeypatch):
    calls = []
    real = P.train_lora

    def counting(m, examples, **kw):
        calls.append(len(examples))
        return real(m, examples, **kw)

    monkeypatch.setattr(P, "train_lora", counting)
    per_task = solve_tasks(model, tasks, FAST, progress=False)
    assert calls == [r.n_examples for r in per_task] == [4, 4]
    calls.clear()
    shared = solve_tasks(model, tasks, FAST.replace(adapter="shared"), progress=False)
    assert calls == [8]  # ONE adapter, trained once on the union
    assert all(r.n_examples == 8 for r in shared)
    calls.clear()
    base = solve_tasks(model, tasks, ablation_settings(FAST)["base"], progress=False)
    assert calls == [] and all(r.train_losses == [] for r in base)
    plain = solve_task(model, tasks[0], FAST.replace(inference_augment=False, n_orders=TTTSettings().n_orders))
    assert list(plain.candidates[0]) == ["identity"] and len(plain.candidates[0]["identity"]) == 1
    with pytest.raises(ValueError, match="solve_tasks"):
        solve_task(model, tasks[0], FAST.replace(adapter="shared"))


def test_votes_rescore_stored_candidates():
    A, B, C = ((1,),), ((2,),), ((3,),)
    cands = {"identity": [A, B], "transpose": [B, C], "flip_v": [C, None], "rot90": [C, C]}
    r = TaskResult("t", [cands], [[C, B]], [A], "hierarchical")
    assert r.score("oracle") == 1.0
    assert r.score("untransformed") == 1.0  # identity alone: A first (tie, seen first)
    assert r.score("flat") == 0.0  # C (4) and B (2) beat A (1)
    assert r.score("hierarchical") == 0.0  # C kept by 3 transforms, B by 2, A by 1
    assert P.choose(cands, "oracle", 2, answer=A) == [A]
    with pytest.raises(ValueError):
        TaskResult("u", [cands], [[A]], [None], "flat").score()
    assert P.accuracy([r, TaskResult("s", [cands], [[C]], [C], "hierarchical")]) == 0.5


def test_grid_position_models_decode_the_same_every_way(tasks):
    from pard_ref.ttt.adapt import predict_grids, uses_grid_positions
    from pard_ref.ttt.serialize import encode_task

    m = tiny_llama(dtype=torch.float64, init_std=0.5, hidden_size=32, num_layers=1, grid_positions=True)
    assert uses_grid_positions(m)
    prompts = [encode_task(t).ids for t in tasks]
    cached = [greedy_decode(m, p, max_new_tokens=12) for p in prompts]
    assert cached == [greedy_decode(m, p, max_new_tokens=12, use_cache=False) for p in prompts]
    assert cached == greedy_decode_batch(m, prompts, max_new_tokens=12)
    # the positions matter: the same weights without grid positions decode differently
    m.config.arc_positions = None
    assert greedy_decode_batch(m, prompts, max_new_tokens=12) != cached
    assert len(predict_grids(m, prompts, max_size=6)) == 2
