"""The compact output layer for drafts with zero rows (decoding/seen_rows.py): same logits, same decoding."""

import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref import generate
from pard_ref.decoding.seen_rows import SeenRowsHead, compact_output_layer, zero_row_count

VOCAB, MASK = 64, 63


def _draft(seed=0, zero_rows=40, tied=True):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
                      tie_word_embeddings=tied, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(cfg).to(torch.float64).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(30)  # peaked proposals, so a wrong row would change them
        model.lm_head.weight[torch.randperm(VOCAB - 1)[:zero_rows]] = 0  # the mask's row stays
    model.config.pard_token = MASK
    return model


def _target(seed=1):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(cfg).to(torch.float64).eval()
    return model


def test_compact_head_gives_the_same_logits_and_keeps_the_input_embedding():
    full = _draft()
    emb_before = full.get_input_embeddings().weight.clone()
    compact = compact_output_layer(copy.deepcopy(full))
    assert isinstance(compact.get_output_embeddings(), SeenRowsHead)
    assert compact.get_output_embeddings().weight.shape == (VOCAB - 40, 16)
    assert torch.equal(compact.get_input_embeddings().weight, emb_before)
    ids = torch.randint(0, VOCAB, (2, 11))
    want, got = full(ids).logits, compact(ids).logits  # [2, 11, V] each
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    zero_rows = (full.lm_head.weight == 0).all(1)
    assert torch.equal(got[..., zero_rows], torch.zeros_like(got[..., zero_rows]))


@pytest.mark.parametrize("method", ["ar", "pard"])
def test_decoding_with_the_compact_draft_is_unchanged(method):
    target, full = _target(), _draft()
    compact = compact_output_layer(copy.deepcopy(full))
    prompt = torch.randint(0, VOCAB - 1, (1, 7))
    a = generate(target, prompt, draft=full, method=method, k=4, max_new_tokens=24)
    b = generate(target, prompt, draft=compact, method=method, k=4, max_new_tokens=24)
    assert torch.equal(a.sequences, b.sequences)
    assert a.stats.accepted_lengths == b.stats.accepted_lengths  # the same proposals accepted, step by step
    s1 = generate(target, prompt, draft=full, method=method, k=4, max_new_tokens=24, temperature=1.0, seed=3)
    s2 = generate(target, prompt, draft=compact, method=method, k=4, max_new_tokens=24, temperature=1.0, seed=3)
    assert torch.equal(s1.sequences, s2.sequences)


def test_models_without_zero_rows_or_already_compact_are_returned_unchanged():
    dense = _draft(zero_rows=0)
    head = dense.get_output_embeddings()
    assert zero_row_count(dense) == 0
    assert compact_output_layer(dense).get_output_embeddings() is head
    few = _draft(zero_rows=10)  # under the default half of the rows: not worth a copy
    assert compact_output_layer(few).get_output_embeddings() is few.lm_head
    assert isinstance(compact_output_layer(few, min_zero_share=0.1).lm_head, SeenRowsHead)
    twice = compact_output_layer(compact_output_layer(_draft()))
    assert isinstance(twice.lm_head, SeenRowsHead)


def test_compact_head_follows_dtype_changes():
    compact = compact_output_layer(_draft()).to(torch.bfloat16)
    assert compact.lm_head.weight.dtype == torch.bfloat16 and compact.lm_head.rows.dtype == torch.long
    assert compact(torch.tensor([[1, 2, 3]])).logits.dtype == torch.bfloat16
