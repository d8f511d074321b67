"""pard_ref.ttt.pretrain: the recipes, the batches (masks, padding, no held-out family), a tiny run;
and the generator's size cap that pretraining relies on."""

from dataclasses import replace

import pytest
import torch

from pard_ref.ttt import generator as gen
from pard_ref.ttt import pretrain as P
from pard_ref.ttt import serialize as S


def test_recipes_and_config():
    assert set(P.ARC_RECIPES) == {"ci", "full"}
    for r in P.ARC_RECIPES.values():
        assert not set(r.families) & set(gen.HELDOUT_FAMILIES)
        cfg = P.llama_config(r)
        assert cfg.vocab_size == len(S.VOCAB) == len(S.get_tokenizer())
        assert cfg.max_position_embeddings >= 1548  # the longest ARC-AGI-1 eval task <= 10x10, with answer
        assert (cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id) == (S.PAD_ID, S.BOS_ID, S.EOS_ID)
    assert P.ARC_RECIPES["ci"].steps < P.ARC_RECIPES["full"].steps
    with pytest.raises(ValueError, match="held-out"):
        P.ArcRecipe(families=("rotate", gen.HELDOUT_FAMILIES[0]))
    with pytest.raises(ValueError, match="loss"):
        P.ArcRecipe(loss="query")


@pytest.mark.parametrize("loss", ["outputs", "all"])
def test_batches_mask_and_pad(loss):
    r = replace(P.ARC_RECIPES["ci"], batch_size=4, loss=loss)
    it = P.pretraining_batches(r)
    batches = [next(it) for _ in range(4)]  # one bucket: 16 sequences sorted by length
    for b in batches:
        ids, attn, labels = b["input_ids"], b["attention_mask"], b["labels"]
        assert ids.shape == attn.shape == labels.shape and ids.shape[0] == 4
        assert (ids[attn == 0] == S.PAD_ID).all() and (labels[attn == 0] == -100).all()
        assert (ids[:, 0] == S.BOS_ID).all()
        scored = labels != -100
        assert (labels[scored] == ids[scored]).all()
        if loss == "all":
            assert torch.equal(scored, attn.bool())
        else:  # outputs only: never an <in> / <out> token, never the first demonstration's output
            assert not torch.isin(ids[scored], torch.tensor([S.IN_ID, S.OUT_ID, S.BOS_ID])).any()
            assert scored.sum() < attn.sum() / 2
    # reproducible
    again = next(P.pretraining_batches(r))
    assert torch.equal(again["input_ids"], batches[0]["input_ids"])
    # every sequence parses back to a task with grids <= max_side
    for row, mask in zip(batches[0]["input_ids"], batches[0]["attention_mask"]):
        pairs = S.parse_sequence(row[mask.bool()].tolist())
        assert pairs and max(max(len(g), len(g[0])) for p in pairs for g in p) <= r.max_side


def test_tiny_pretraining_run_learns_something():
    r = replace(P.ARC_RECIPES["ci"], hidden=32, intermediate=64, layers=1, heads=2, steps=6, batch_size=4,
                warmup_steps=2, lr=1e-2)
    model, tok, log = P.pretrain(r, progress=False, device="cpu")
    assert tok is S.get_tokenizer() and not model.training
    assert len(log.losses) >= 2 and log.losses[-1] < log.losses[0]
    assert log.tokens > 0


def test_generator_size_cap():
    # max_side=10 (the default) is the unconstrained generator, draw for draw
    assert gen.generate_task("gravity+rotate", [5, 1], max_side=10) == gen.generate_task("gravity+rotate", [5, 1])
    for spec in gen.PRETRAIN_FAMILIES + gen.HELDOUT_FAMILIES:
        t = gen.generate_task(spec, [5, 2], max_side=gen.MIN_LIMIT)
        assert t.max_side() <= gen.MIN_LIMIT
    assert gen.MAX_SIDE == 10 and gen._LIMIT.get() == 10  # the cap is reset after generation
    with pytest.raises(ValueError, match="max_side"):
        gen.generate_task("rotate", 0, max_side=gen.MIN_LIMIT - 1)
    ts = gen.generate_tasks(gen.HELDOUT_FAMILIES, n=13, seed=1, max_side=6, n_demos=2)
    assert all(len(t.train) == 2 and t.max_side() <= 6 for t in ts)
