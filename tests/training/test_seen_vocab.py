"""The seen-vocabulary loss equals the full-vocabulary loss (float64), gradients included, and keeps unseen rows at 0."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.training.lm import TrainConfig, lm_batches, train
from pard_ref.training.seen_vocab import output_layer_share, seen_tokens, seen_vocab_loss, zero_unseen_rows

V = 64


def _tiny(tied=True, seed=0):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=tied)
    return LlamaForCausalLM(cfg).double()


@pytest.mark.parametrize("tied", [True, False])
def test_equals_full_softmax_loss_and_gradients(tied):
    stream = torch.tensor([5, 9, 9, 12, 5, 33, 40, 12, 9, 5, 7, 40] * 3)
    seen = seen_tokens(stream, V)
    a = _tiny(tied)
    assert zero_unseen_rows(a, seen) == V - len(seen)
    b = _tiny(tied)
    b.load_state_dict(a.state_dict())
    batch = {"input_ids": stream.view(3, 12), "labels": stream.view(3, 12)}
    logits = a(input_ids=batch["input_ids"]).logits  # [3, 12, V]: every logit, float64
    full = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), batch["labels"][:, 1:].flatten())
    assert torch.allclose(full.float(), a(**batch).loss, atol=1e-6)  # the same loss as transformers' own
    mine, _ = seen_vocab_loss(seen, V)(b, batch)
    assert mine.dtype == torch.float64 and torch.allclose(full, mine, atol=1e-12, rtol=0)
    full.backward()
    mine.backward()
    unseen = torch.ones(V, dtype=torch.bool)
    unseen[seen] = False
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        ga, gb = pa.grad, pb.grad
        if pa is a.get_output_embeddings().weight:
            # the full softmax pushes the unseen rows down; the seen-vocabulary loss leaves them at 0
            assert ga[unseen].abs().sum() > 0 and (gb is None or gb[unseen].abs().sum() == 0)
            assert torch.allclose(ga[seen], gb[seen], atol=1e-10), name
        else:
            assert torch.allclose(ga, gb, atol=1e-10), name


def test_training_keeps_unseen_rows_zero_and_lowers_the_loss():
    stream = torch.tensor([3, 4, 5, 6, 7, 8] * 40, dtype=torch.int32)
    seen = seen_tokens(stream, V)
    m = _tiny(True).float()
    zero_unseen_rows(m, seen)
    loss = seen_vocab_loss(seen, V)
    batches = lm_batches({"t": stream}, {"t": 1.0}, 4, 12, seed=0)
    before = float(loss(m, next(lm_batches({"t": stream}, {"t": 1.0}, 4, 12, seed=1)))[0].detach())
    train(m, batches, TrainConfig(steps=30, lr=1e-2, warmup_steps=3), loss_fn=loss, progress=False)
    after = float(loss(m, next(lm_batches({"t": stream}, {"t": 1.0}, 4, 12, seed=1)))[0].detach())
    w = m.get_output_embeddings().weight
    unseen = torch.ones(V, dtype=torch.bool)
    unseen[seen] = False
    assert w[unseen].abs().max() == 0 and after < before - 1.0


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        seen_tokens(torch.tensor([], dtype=torch.long), V)
    with pytest.raises(ValueError, match="0..63"):
        seen_tokens(torch.tensor([1, 64]), V)
    m = _tiny()
    batch = {"input_ids": torch.tensor([[1, 2, 3]]), "labels": torch.tensor([[1, 2, 3]])}
    with pytest.raises(ValueError, match="not among the seen"):
        seen_vocab_loss(torch.tensor([1, 2]), V)(m, batch)


def test_output_layer_share():
    cfg = LlamaConfig(vocab_size=49152, hidden_size=256, intermediate_size=768, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    assert output_layer_share(cfg) > 0.85 and output_layer_share(cfg, seen=6000) < 0.5


def test_pard_loss_over_seen_columns_equals_the_full_one():
    """COD training's loss, metrics and gradients from the seen rows (data tokens + mask) equal the full ones."""
    from pard_ref.training.pard_layout import IGNORE_INDEX, build_pard_batch, pard_loss
    from pard_ref.training.seen_vocab import seen_logits

    mask, k = 60, 4
    x = torch.tensor([[5, 9, 9, 12, 5, 33, 40, 12, 9, 5, 7, 40], [7, 7, 12, 5, 9, 40, 33, 33, 5, 12, 9, 7]])
    seen = torch.unique(torch.cat([x.flatten(), torch.tensor([mask])]))
    a = _tiny(True)
    zero_unseen_rows(a, seen)
    with torch.no_grad():
        a.get_output_embeddings().weight[mask] = torch.randn(16, dtype=torch.float64)  # the mask row is trained
    b = _tiny(True)
    b.load_state_dict(a.state_dict())
    batch = build_pard_batch(x, k=k, mask_token_id=mask, drop_ratio=0.5, min_drop_ratio=0.2, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(0), return_depth=True)
    inputs = {n: batch[n] for n in ("input_ids", "position_ids", "attention_mask")}
    full, m_full = pard_loss(a(**inputs).logits, batch["labels"], batch["depth"], k)
    index = torch.full((V,), IGNORE_INDEX)
    index[seen] = torch.arange(len(seen))
    cols = torch.where(batch["labels"] == IGNORE_INDEX, IGNORE_INDEX, index[batch["labels"].clamp(min=0)])
    mine, m_mine = pard_loss(seen_logits(b, seen, **inputs), cols, batch["depth"], k, unseen=V - len(seen))
    assert torch.allclose(full, mine, atol=1e-12, rtol=0)
    for name in m_full:
        assert torch.allclose(m_full[name], m_mine[name], atol=1e-12, equal_nan=True), name
    full.backward()
    mine.backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        rows = seen if pa is a.get_output_embeddings().weight else slice(None)
        assert torch.allclose(pa.grad[rows], pb.grad[rows], atol=1e-10), name


def test_train_pard_seen_vocab_refuses_a_draft_with_nonzero_unseen_rows():
    from pard_ref.training.pard_training import train_pard_with_log

    stream = torch.tensor([3, 4, 5, 6, 7, 8] * 40)
    m = _tiny(True).float()  # random rows everywhere, e.g. a pretrained draft
    with pytest.raises(ValueError, match="not zero"):
        train_pard_with_log(m, stream, k=4, mask_token_id=60, steps=2, batch_size=2, seq_len=16,
                            seen_vocab=True, progress=False)
    zero_unseen_rows(m, torch.unique(torch.cat([stream, torch.tensor([60])])))
    m, log = train_pard_with_log(m, stream, k=4, mask_token_id=60, steps=3, batch_size=2, seq_len=16,
                                 seen_vocab=True, progress=False)
    unseen = torch.ones(V, dtype=torch.bool)
    unseen[torch.tensor([3, 4, 5, 6, 7, 8, 60])] = False
    assert m.get_output_embeddings().weight[unseen].abs().max() == 0 and len(log.losses) >= 1
