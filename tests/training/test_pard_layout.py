"""PARD training layout and COD: equivalence with inference, counts, chains, reproducibility, bad input.

The strongest check: in the training layout, the logits of a kept query (block j, position p) equal the
logits of the inference forward "x_0 .. x_{p-j} + [mask] * j" at its last position. With transformers'
``sdpa`` attention in float64 they agree to 1e-9. With ``eager`` attention transformers computes the
softmax in float32 even for a float64 model (``softmax(..., dtype=torch.float32)``), so rows of
different lengths round differently: agreement is ~1e-7 there and the test uses 1e-6.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import pard_ref
from pard_ref.training.pard_layout import (
    IGNORE_INDEX, build_pard_batch, cod_block_sizes, cod_keep_positions, cod_tokens_per_sequence, pard_attention_mask,
    pard_loss
)

VOCAB, MASK = 50, 3
TOL = {"sdpa": 1e-9, "eager": 1e-6}



def tiny_draft(impl: str = "sdpa", seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      attn_implementation=impl)
    return LlamaForCausalLM(cfg).double().eval()


def windows(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(MASK + 1, VOCAB, (batch, length), generator=g)  # never the mask id


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def draft(request):
    return tiny_draft(request.param)


# ----------------------------------------------------------------------------------------------
# equivalence with inference
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("drop_ratio,k,L", [(1.0, 4, 12), (0.7, 4, 12), (0.7, 8, 20)])
def test_layout_logits_equal_inference_logits(draft, drop_ratio, k, L):
    impl = draft.config._attn_implementation
    x = windows(2, L, seed=k)
    batch = build_pard_batch(x, k=k, mask_token_id=MASK, drop_ratio=drop_ratio, min_drop_ratio=0.2,
                             generator=torch.Generator().manual_seed(1), dtype=torch.float64, return_depth=True)
    depth = batch.pop("depth")
    with torch.no_grad():
        logits = draft(**batch).logits  # [B, N, V]
    # the inference prompts "x_0..x_s + [mask] * j", grouped by length so equal-length prompts share a forward
    by_length: dict[int, list[tuple[int, int, torch.Tensor]]] = {}
    for b, t in itertools.product(range(x.shape[0]), range(batch["input_ids"].shape[1])):
        j, p = int(depth[b, t]), int(batch["position_ids"][b, t])
        s = p - j  # chain start: the last real token is x_s
        if s < 0:
            continue  # (full layout only) a chain starting before x_0: no inference counterpart, no loss
        prompt = torch.cat([x[b, : s + 1], torch.full((j,), MASK)])  # real prefix + j masks
        by_length.setdefault(len(prompt), []).append((b, t, prompt))
    checked = 0
    for group in by_length.values():
        with torch.no_grad():
            ref = draft(input_ids=torch.stack([g[2] for g in group])).logits[:, -1]  # [G, V]
        rows = torch.stack([logits[b, t] for b, t, _ in group])
        torch.testing.assert_close(rows, ref, rtol=0, atol=TOL[impl])
        checked += len(group)
    n_expected = x.shape[0] * (L * k - (k * (k - 1) // 2 if drop_ratio == 1.0 else 0))
    if drop_ratio == 1.0:
        assert checked == n_expected  # every query with s >= 0 was compared
    else:
        assert checked == x.shape[0] * cod_tokens_per_sequence(L, k, drop_ratio, 0.2)


def reference_pard_loss(model, x: torch.Tensor, k: int) -> torch.Tensor:
    """The PARD loss without any layout: for every prefix x_0..x_s and depth j, run the prefix + j masks
    at inference and score its last logits against x_{s+j+1} (equal-length prompts share a forward)."""
    by_length: dict[int, list[tuple[torch.Tensor, int]]] = {}
    for b in range(x.shape[0]):
        for j in range(k):
            for s in range(x.shape[1] - j - 1):  # target x_{s+j+1} must be inside the window
                prompt = torch.cat([x[b, : s + 1], torch.full((j,), MASK)])
                by_length.setdefault(len(prompt), []).append((prompt, int(x[b, s + j + 1])))
    terms = []
    for group in by_length.values():
        with torch.no_grad():
            last = model(input_ids=torch.stack([g[0] for g in group])).logits[:, -1]  # [G, V]
        target = torch.tensor([g[1] for g in group])
        terms.append(torch.nn.functional.cross_entropy(last, target, reduction="none"))
    return torch.cat(terms).mean()


def test_full_layout_loss_equals_reference_construction():
    model = tiny_draft("sdpa")
    x, k = windows(2, 10, seed=5), 4
    batch = build_pard_batch(x, k=k, mask_token_id=MASK, drop_ratio=1.0, dtype=torch.float64)
    assert batch["input_ids"].shape == (2, k * 10)
    with torch.no_grad():
        out = model(**batch)
    ref = reference_pard_loss(model, x, k)
    # our own loss in float64: exact; transformers' loss upcasts logits to float32: 1e-6 relative
    torch.testing.assert_close(pard_loss(out.logits, batch["labels"])[0], ref, rtol=0, atol=1e-9)
    torch.testing.assert_close(out.loss.double(), ref, rtol=1e-6, atol=0)


def test_draft_loss_is_pard_loss_under_cod():
    model = tiny_draft("eager")
    x = windows(3, 24, seed=2)
    batch = build_pard_batch(x, k=8, mask_token_id=MASK, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64)
    with torch.no_grad():
        out = model(**batch)
    # the last entry of a COD row is a query WITH a target: the shifted convention could not score it
    assert (batch["labels"][:, -1] != IGNORE_INDEX).all()
    torch.testing.assert_close(out.loss.double(), pard_loss(out.logits, batch["labels"])[0], rtol=1e-6, atol=0)


def test_full_layout_loss_equals_layout_without_lossless_queries():
    """r = 1 keeps queries with no loss (chains before x_0, position L-1); they change nothing."""
    model = tiny_draft("sdpa")
    x = windows(2, 12, seed=3)
    full = build_pard_batch(x, k=4, mask_token_id=MASK, drop_ratio=1.0, dtype=torch.float64)
    # r close to 1: every block keeps all of its L-1-j queries with a target (capped count)
    assert cod_block_sizes(12, 4, 0.999, 0.2) == [12, 10, 9, 8]
    useful = build_pard_batch(x, k=4, mask_token_id=MASK, drop_ratio=0.999, dtype=torch.float64)
    assert (useful["labels"][:, 12:] != IGNORE_INDEX).all()
    with torch.no_grad():
        a = pard_loss(model(**full).logits, full["labels"])[0]
        b = pard_loss(model(**useful).logits, useful["labels"])[0]
    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    assert int((full["labels"] != IGNORE_INDEX).sum()) == int((useful["labels"] != IGNORE_INDEX).sum())


# ----------------------------------------------------------------------------------------------
# layout contents
# ----------------------------------------------------------------------------------------------
def test_full_layout_contents():
    x = windows(1, 6, seed=0)
    k = 3
    batch = build_pard_batch(x, k=k, mask_token_id=MASK, drop_ratio=1.0, return_depth=True)
    ids, pos, labels, depth = (batch[n][0] for n in ("input_ids", "position_ids", "labels", "depth"))
    assert torch.equal(ids[:6], x[0]) and (ids[6:] == MASK).all()
    assert torch.equal(pos, torch.arange(6).repeat(k))
    assert torch.equal(depth, torch.arange(k).repeat_interleave(6))
    for j in range(k):  # block j: query p predicts x_{p+1}; none for p < j (chain before x_0) or p = L-1
        want = [int(x[0, p + 1]) if j <= p <= 4 else IGNORE_INDEX for p in range(6)]
        assert labels[6 * j: 6 * (j + 1)].tolist() == want
    assert batch["shift_labels"] is batch["labels"]
    assert batch["attention_mask"].shape == (1, 1, 18, 18) and batch["attention_mask"].dtype == torch.float32


def brute_force_allowed(depth: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """The attention rule written query by query, straight from the spec."""
    n = len(depth)
    allowed = torch.zeros(n, n, dtype=torch.bool)
    for q in range(n):
        j, p = int(depth[q]), int(pos[q])
        for key in range(n):
            i, pk = int(depth[key]), int(pos[key])
            if i == 0:
                allowed[q, key] = pk <= p - j  # real tokens x_0 .. x_{p-j}
            else:
                allowed[q, key] = i <= j and pk == p - j + i  # block i at position p-j+i, i = 1..j
    return allowed


@pytest.mark.parametrize("drop_ratio", [1.0, 0.6])
def test_attention_mask_matches_the_rule(drop_ratio):
    x = windows(2, 10, seed=1)
    batch = build_pard_batch(x, k=4, mask_token_id=MASK, drop_ratio=drop_ratio, min_drop_ratio=0.3,
                             generator=torch.Generator().manual_seed(4), return_depth=True)
    m = batch["attention_mask"]
    assert set(m.unique().tolist()) == {0.0, torch.finfo(torch.float32).min}
    for b in range(2):
        want = brute_force_allowed(batch["depth"][b], batch["position_ids"][b])
        assert torch.equal(m[b, 0] == 0, want)
        assert want.any(dim=1).all()  # no fully masked row


def test_mask_dtype():
    depth = torch.tensor([[0, 0, 1]])
    pos = torch.tensor([[0, 1, 1]])
    m = pard_attention_mask(depth, pos, torch.bfloat16)
    assert m.dtype == torch.bfloat16 and m.min() == torch.finfo(torch.bfloat16).min
    with pytest.raises(ValueError, match="float"):
        pard_attention_mask(depth, pos, torch.int64)


# ----------------------------------------------------------------------------------------------
# COD: counts, chains, randomness
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("L,k,r,r_min", [(128, 8, 0.7, 0.2), (64, 4, 0.5, 0.1), (33, 8, 0.9, 0.3), (50, 2, 0.3, 0.3),
                                          (100, 12, 0.7, 0.2), (16, 8, 1.0, 0.2)])
def test_token_counts_match_formula(L, k, r, r_min):
    sizes = [L] + [math.floor(L * max(r ** j, r_min) + 1e-9) for j in range(1, k)]
    if r == 1.0:
        sizes = [L] * k
    assert cod_block_sizes(L, k, r, r_min) == sizes  # none of these cases hits the cap
    assert cod_tokens_per_sequence(L, k, r, r_min) == sum(sizes)
    # the spec's L * sum max(r^j, r_min), up to the floors
    assert 0 <= L * sum(max(r ** j, r_min) for j in range(k)) - sum(sizes) < k
    batch = build_pard_batch(windows(3, L), k=k, mask_token_id=MASK, drop_ratio=r, min_drop_ratio=r_min,
                             generator=torch.Generator().manual_seed(0), return_depth=True)
    assert batch["input_ids"].shape == (3, sum(sizes))
    for j in range(k):
        assert ((batch["depth"] == j).sum(dim=1) == sizes[j]).all()


def test_paper_ratio_and_float_floor():
    assert cod_block_sizes(100, 3, 0.7, 0.2) == [100, 70, 49]  # 100 * 0.7**2 = 48.999999999999993 in floats
    n = cod_tokens_per_sequence(10_000, 8, 0.7, 0.2)
    assert abs(n / 10_000 - 3.3731) < 1e-3  # the paper's "3.37 L instead of 8 L"


def test_caps_when_blocks_run_out_of_candidates():
    # L = 10, r = 0.95: n_1 = 9 but block 1 has only L-2 = 8 queries with a target
    assert cod_block_sizes(10, 4, 0.95, 0.2) == [10, 8, 7, 6]
    assert cod_block_sizes(5, 4, 0.9, 0.2) == [5, 3, 2, 1]  # L = K+1: one query in block K-1


@pytest.mark.parametrize("L,k,r,r_min", [(40, 8, 0.7, 0.2), (12, 4, 0.5, 0.25), (30, 6, 0.9, 0.5), (9, 8, 0.8, 0.1)])
def test_chain_property_over_many_draws(L, k, r, r_min):
    g = torch.Generator().manual_seed(123)
    sizes = cod_block_sizes(L, k, r, r_min)
    for _ in range(200):
        blocks = cod_keep_positions(L, k, r, r_min, g)
        assert len(blocks) == k and torch.equal(blocks[0], torch.arange(L))
        for j in range(1, k):
            b = blocks[j]
            assert len(b) == sizes[j] and b.dtype == torch.long
            assert torch.equal(b, b.unique())  # sorted, no repeats
            assert int(b.min()) >= j and int(b.max()) <= L - 2  # chain starts at s >= 0, target inside window
            assert set((b - 1).tolist()) <= set(blocks[j - 1].tolist())  # predecessor kept: chain intact


def test_cod_draw_is_uniform_over_patterns():
    """L=6, K=3, r=0.5, r_min=0.2: n = [6, 3, 1]. The chain reaching block 2 starts at s in {0,1,2}; block 1
    adds 2 of the 3 remaining starts in {0..3}: 9 patterns, each with probability 1/9. Over 9000 draws each
    count is Binomial(9000, 1/9): mean 1000, sd 29.8; the +-150 band (5 sd) fails with probability < 1e-5
    (and the draw is seeded, so the test is deterministic)."""
    g = torch.Generator().manual_seed(0)
    counts: dict[tuple, int] = {}
    for _ in range(9000):
        blocks = cod_keep_positions(6, 3, 0.5, 0.2, g)
        key = (tuple(blocks[1].tolist()), tuple(blocks[2].tolist()))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 9
    assert all(850 <= c <= 1150 for c in counts.values()), counts


def test_same_seed_same_batch_and_rows_differ():
    x = windows(8, 64)

    def make(seed):
        return build_pard_batch(x, k=8, mask_token_id=MASK, generator=torch.Generator().manual_seed(seed),
                                return_depth=True)

    a, b, c = make(7), make(7), make(8)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[n], b[n]) for n in a)
    # another seed gives another pattern; each row draws its own (identical patterns: probability ~1e-20)
    assert not torch.equal(a["position_ids"], c["position_ids"])
    assert len({tuple(row.tolist()) for row in a["position_ids"]}) == 8


def test_global_generator_when_none():
    x = windows(2, 20)
    torch.manual_seed(0)
    a = build_pard_batch(x, k=4, mask_token_id=MASK)
    torch.manual_seed(0)
    b = build_pard_batch(x, k=4, mask_token_id=MASK)
    assert torch.equal(a["position_ids"], b["position_ids"])


def test_labels_are_the_next_token_of_each_chain():
    x = windows(4, 40, seed=9)
    batch = build_pard_batch(x, k=8, mask_token_id=MASK, generator=torch.Generator().manual_seed(2),
                             return_depth=True)
    for b in range(4):
        for t in range(batch["input_ids"].shape[1]):
            j, p, lab = int(batch["depth"][b, t]), int(batch["position_ids"][b, t]), int(batch["labels"][b, t])
            assert int(batch["input_ids"][b, t]) == (int(x[b, p]) if j == 0 else MASK)
            assert lab == (int(x[b, p + 1]) if p + 1 < 40 else IGNORE_INDEX)  # COD keeps only s >= 0


def test_per_depth_metrics():
    model = tiny_draft("sdpa")
    x = windows(2, 16)
    batch = build_pard_batch(x, k=4, mask_token_id=MASK, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64, return_depth=True)
    depth = batch.pop("depth")
    with torch.no_grad():
        logits = model(**batch).logits
    loss, metrics = pard_loss(logits, batch["labels"], depth, 4)
    assert sorted(metrics) == sorted([f"acc_{j}" for j in range(4)] + [f"loss_{j}" for j in range(4)])
    counts = [int(((depth == j) & (batch["labels"] != IGNORE_INDEX)).sum()) for j in range(4)]
    weighted = sum(float(metrics[f"loss_{j}"]) * c for j, c in enumerate(counts)) / sum(counts)
    assert abs(weighted - float(loss)) < 1e-9
    assert all(0.0 <= float(metrics[f"acc_{j}"]) <= 1.0 for j in range(4))
    with pytest.raises(ValueError, match="k"):
        pard_loss(logits, batch["labels"], depth)


def test_public_names():
    for name in ("build_pard_batch", "cod_keep_positions", "cod_block_sizes", "cod_tokens_per_sequence",
                 "pard_attention_mask", "pard_loss", "train_pard", "train_pard_with_log"):
        assert callable(getattr(pard_ref, name))


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"k": 1}, "k"),
    ({"k": 0}, "k"),
    ({"k": 2.0}, "k"),
    ({"drop_ratio": 0.0}, "drop_ratio"),
    ({"drop_ratio": 1.5}, "drop_ratio"),
    ({"min_drop_ratio": 0.0}, "min_drop_ratio"),
    ({"min_drop_ratio": -0.1}, "min_drop_ratio"),
    ({"drop_ratio": 0.5, "min_drop_ratio": 0.6}, "must not exceed"),
    ({"k": 12}, "too short"),
    ({"mask_token_id": VOCAB, "vocab_size": VOCAB}, "outside the vocabulary"),
    ({"mask_token_id": -1}, "mask_token_id"),
    ({"mask_token_id": 5}, "contain the mask id"),
    ({"min_drop_ratio": 0.05, "drop_ratio": 0.1}, "no query"),
])
def test_bad_arguments_raise(kwargs, match):
    x = torch.arange(4, 15)[None].repeat(2, 1)  # [2, 11], contains id 5
    args = {"k": 4, "mask_token_id": MASK} | kwargs
    with pytest.raises(ValueError, match=match):
        build_pard_batch(x, **args)


@pytest.mark.parametrize("bad", [torch.arange(4, 20), torch.zeros(2, 3, 20, dtype=torch.long) + 4,
                                 torch.ones(2, 20), [[4, 5, 6]]])
def test_bad_input_ids_raise(bad):
    with pytest.raises(ValueError, match="input_ids"):
        build_pard_batch(bad, k=2, mask_token_id=MASK)


def test_ids_outside_vocabulary_raise():
    with pytest.raises(ValueError, match="vocab_size"):
        build_pard_batch(torch.full((1, 10), VOCAB), k=2, mask_token_id=MASK, vocab_size=VOCAB)


def test_cod_functions_validate_too():
    with pytest.raises(ValueError, match="too short"):
        cod_keep_positions(4, 4, 0.7, 0.2)
    with pytest.raises(ValueError, match="k"):
        cod_block_sizes(100, 1)


def test_negative_control_positions_and_mask_matter():
    """Without the explicit position ids, or without the mask, the layout no longer matches inference."""
    model = tiny_draft("sdpa")
    x = windows(1, 10)
    batch = build_pard_batch(x, k=3, mask_token_id=MASK, drop_ratio=1.0, dtype=torch.float64)
    with torch.no_grad():
        good = model(**batch).logits
        no_pos = model(**{n: v for n, v in batch.items() if n != "position_ids"}).logits
        no_mask = model(**{n: v for n, v in batch.items() if n != "attention_mask"}).logits
    # block 1, position 5 (prefix x_0..x_4 + 1 mask): index 10 + 5
    with torch.no_grad():
        ref = model(input_ids=torch.cat([x[0, :5], torch.tensor([MASK])])[None]).logits[0, -1]
    assert (good[0, 15] - ref).abs().max() < 1e-9
    assert (no_pos[0, 15] - ref).abs().max() > 1e-3
    assert (no_mask[0, 15] - ref).abs().max() > 1e-3
