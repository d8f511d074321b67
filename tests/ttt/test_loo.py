"""pard_ref.ttt.loo: leave-one/two-out counts, no leak of the query's answer, exact loss masks."""

import pytest

from pard_ref.ttt import serialize as S
from pard_ref.ttt.generator import generate_tasks
from pard_ref.ttt.loo import leave_one_out, leave_two_out, loss_mask, plain_pairs, to_example, ttt_examples
from pard_ref.ttt.tasks import Task


def _grid(c, h=1, w=1):
    return tuple((c,) * w for _ in range(h))


def _task(n):  # demonstration k: colour k+1 -> colour k+5 (distinct, recognisable grids)
    return Task("t", train=[(_grid(k + 1, 1, k + 1), _grid((k + 5) % 10, 2, 1)) for k in range(n)], test=[(_grid(9), None)])


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7])
def test_counts_and_no_leak(n):
    t = _task(n)
    loo = leave_one_out(t)
    assert len(loo) == n
    for i, q in enumerate(loo):
        assert len(q.train) == n - 1 and q.test == (t.train[i],)
        assert t.train[i] not in q.train  # the query's pair is not a demonstration
        assert q.train == t.train[:i] + t.train[i + 1 :]  # the others, in order
        assert t.test[0][0] not in [g for p in q.train + q.test for g in p]  # the real test input is unused
    l2o = leave_two_out(t)
    assert len(l2o) == (n * (n - 1) if n >= 3 else 0)
    assert len({(q.train, q.test) for q in l2o}) == len(l2o)
    for q in l2o:
        assert len(q.train) == n - 2 and q.test[0] not in q.train
    plain = plain_pairs(t)
    assert [(p.train, p.test) for p in plain] == [((), (d,)) for d in t.train]


def test_no_leak_on_generated_tasks():
    for t in generate_tasks(n=30, seed=4):
        for q in leave_one_out(t) + leave_two_out(t):
            answer = q.test[0][1]
            assert q.test[0][0] not in [i for i, _ in q.train]
            assert q.test[0] not in q.train and answer is not None


def _outputs_by_pair(enc):
    """pair index -> the tokens of its output (with terminator), read off the text independently."""
    out, pair, inside = {}, -1, False
    for tok in enc.text.split():
        if tok == "<in>":
            pair, inside = pair + 1, False
        elif tok == "<out>":
            inside = True
            out[pair] = []
        elif inside:
            out[pair].append(tok)
    return out


def test_loss_masks_cover_exactly_the_intended_tokens():
    q = leave_one_out(_task(4))[0]  # 3 demonstrations + the query
    enc = S.encode_task(q, with_answer=True)
    outs = _outputs_by_pair(enc)
    assert outs[0] == ["6", "<nl>", "6", "<sep>"] and outs[3][-1] == "<eos>"
    masked = lambda m: [tok for tok, keep in zip(enc.text.split(), m) if keep]  # noqa: E731
    # outputs: all demonstration outputs except the first, and the query output
    assert masked(loss_mask(enc, "outputs")) == outs[1] + outs[2] + outs[3]
    assert masked(loss_mask(enc, "query")) == outs[3]
    assert loss_mask(enc, "all") == [True] * len(enc)
    # inputs are never scored under "outputs"
    first = enc.ids.index(S.OUT_ID)
    assert not any(loss_mask(enc, "outputs")[: first + 5])
    with pytest.raises(ValueError, match="unknown loss mode"):
        loss_mask(enc, "inputs")
    with pytest.raises(ValueError, match="prompt"):
        loss_mask(S.encode_task(q), "outputs")


def test_plain_pairs_are_scored_on_their_output():
    ex = to_example(plain_pairs(_task(3))[1])
    assert S.ids_to_text(ex.ids) == "<bos> <in> 2 2 <out> 6 <nl> 6 <eos>"
    assert [t for t, m in zip(S.ids_to_text(ex.ids).split(), ex.mask) if m] == ["6", "<nl>", "6", "<eos>"]


def test_ttt_examples_switches_cap_and_determinism():
    t = generate_tasks(["flip"], n=1, seed=2)[0]
    n = len(t.train)
    assert len(ttt_examples(t, augmentations_per_task=0)) == n  # "no augmentation" ablation
    assert len(ttt_examples(t, augmentations_per_task=3)) == 4 * n
    assert len(ttt_examples(t, augmentations_per_task=3, include_untransformed=False)) == 3 * n
    assert len(ttt_examples(t, variant="plain", augmentations_per_task=1)) == 2 * n
    both = ttt_examples(t, use_leave_two_out=True, augmentations_per_task=0, max_examples=None)
    assert len(both) == n + n * (n - 1)
    capped = ttt_examples(t, use_leave_two_out=True, augmentations_per_task=20, max_examples=25, seed=7)
    assert len(capped) == 25
    assert [e.ids for e in capped] == [e.ids for e in ttt_examples(t, use_leave_two_out=True,
                                                                     augmentations_per_task=20, max_examples=25, seed=7)]
    assert [e.ids for e in capped] != [e.ids for e in ttt_examples(t, use_leave_two_out=True,
                                                                     augmentations_per_task=20, max_examples=25, seed=8)]
    for e in capped:
        assert len(e.ids) == len(e.mask) and any(e.mask)
    short = ttt_examples(t, augmentations_per_task=0, max_length=min(len(e.ids) for e in both))
    assert all(len(e.ids) <= min(len(e.ids) for e in both) for e in short)
    query_only = ttt_examples(t, augmentations_per_task=0, loss="query")
    assert all(sum(e.mask) < sum(f.mask) for e, f in zip(query_only, ttt_examples(t, augmentations_per_task=0)))
    with pytest.raises(ValueError, match="variant"):
        ttt_examples(t, variant="lto")
    with pytest.raises(ValueError, match="leave_two_out"):
        ttt_examples(t, variant="plain", use_leave_two_out=True)
