"""Unlikelihood training: the candidate sets equal their definitions, the losses are what they say."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.training.unlikelihood import (
    negative_candidates, repeated_ngram_mask, sequence_unlikelihood_lm_loss, unlikelihood_lm_loss, unlikelihood_term
)


def dense_candidates(x: torch.Tensor, vocab: int, kind: str) -> torch.Tensor:
    """From scratch, one set per position: ``[B, L-1, V]`` True where the token is a negative at t."""
    B, L = x.shape
    cand = torch.zeros(B, L - 1, vocab, dtype=torch.bool)
    for b in range(B):
        for t in range(L - 1):
            if kind == "context":  # every token seen so far
                negatives = set(x[b, :t + 1].tolist())
            else:  # every token that followed an earlier occurrence of the current token
                negatives = {int(x[b, j + 1]) for j in range(t) if x[b, j] == x[b, t]}
            negatives.discard(int(x[b, t + 1]))  # never the true next token
            for v in negatives:
                cand[b, t, v] = True
    return cand


def test_candidates_on_a_hand_example():
    x = torch.tensor([[5, 6, 5, 7, 5, 6]])
    tokens, valid = negative_candidates(x, "bigram")
    as_sets = [sorted(set(tokens[0, t][valid[0, t]].tolist())) for t in range(5)]
    # t=2 (token 5): 5 was followed by 6 before, the truth is 7 -> {6}; t=4: {6, 7} minus the truth 6
    assert as_sets == [[], [], [6], [], [7]]
    tokens, valid = negative_candidates(x, "context")
    as_sets = [sorted(set(tokens[0, t][valid[0, t]].tolist())) for t in range(5)]
    assert as_sets == [[5], [6], [5, 6], [6, 7], [5, 7]]


@pytest.mark.parametrize("kind", ["context", "bigram"])
def test_unlikelihood_term_equals_the_dense_definition(kind):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 7, (4, 30), generator=g)  # a small vocabulary: many repeats
    log_probs = torch.randn(4, 29, 7, dtype=torch.float64, generator=g).log_softmax(-1)
    cand = dense_candidates(x, 7, kind)
    assert cand.any()
    expected = (-torch.log1p(-log_probs.exp()) * cand).sum(-1).mean()
    torch.testing.assert_close(unlikelihood_term(log_probs, x, kind), expected)
    # each negative counts once: the slots holding a valid candidate are distinct tokens per position
    tokens, valid = negative_candidates(x, kind)
    assert int(valid.sum()) == int(cand.sum())


def test_repeated_ngram_mask():
    #                   0  1  2  3  4  5  6  7  8
    x = torch.tensor([[1, 2, 3, 1, 2, 3, 9, 1, 2]])
    # bigrams repeated: (1,2) at 3 and 7, (2,3) at 4; their tokens are 3,4,5 and 7,8
    assert repeated_ngram_mask(x, start=0, n=2)[0].nonzero().flatten().tolist() == [3, 4, 5, 7, 8]
    assert repeated_ngram_mask(x, start=5, n=2)[0].nonzero().flatten().tolist() == [5, 7, 8]
    assert repeated_ngram_mask(x, start=0, n=3)[0].nonzero().flatten().tolist() == [3, 4, 5]
    assert not repeated_ngram_mask(torch.arange(10).unsqueeze(0), start=0, n=2).any()


def _tiny_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=16, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=32, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).double()


def test_token_level_loss_is_nll_plus_alpha_times_the_term():
    model = _tiny_llama()
    x = torch.randint(0, 16, (2, 12), generator=torch.Generator().manual_seed(1))
    logits = model(input_ids=x).logits
    nll = torch.nn.functional.cross_entropy(logits[0, :-1], x[0, 1:]) / 2 + \
        torch.nn.functional.cross_entropy(logits[1, :-1], x[1, 1:]) / 2  # the next-token loss, from scratch
    plain, _ = unlikelihood_lm_loss(0.0)(model, {"input_ids": x})
    torch.testing.assert_close(plain, nll)
    loss, metrics = unlikelihood_lm_loss(0.5, "bigram")(model, {"input_ids": x})
    log_probs = model(input_ids=x).logits[:, :-1].log_softmax(-1)
    torch.testing.assert_close(loss, nll + 0.5 * unlikelihood_term(log_probs, x, "bigram"))
    assert metrics["nll"] == pytest.approx(float(nll))


def test_sequence_level_loss_penalises_the_loops_of_its_own_continuation():
    model = _tiny_llama()
    x = torch.randint(0, 16, (2, 12), generator=torch.Generator().manual_seed(2))
    loss, metrics = sequence_unlikelihood_lm_loss(1.0, prefix_len=4, new_tokens=20, n=2)(model, {"input_ids": x})
    # a random tiny model's greedy continuation of 20 tokens over 16 ids must repeat bigrams
    assert metrics["loop_fraction"] > 0 and metrics["seq_unlikelihood"] > 0
    assert float(loss.detach()) == pytest.approx(metrics["nll"] + metrics["seq_unlikelihood"], rel=1e-9)
    loss.backward()
    assert model.model.embed_tokens.weight.grad.abs().sum() > 0
    # the continuation it penalised is the plain greedy one
    from pard_ref.training.unlikelihood import greedy_continuations

    seq = greedy_continuations(model, x[:, :4], 20)
    ref = x[:, :4]
    with torch.no_grad():
        for _ in range(20):
            ref = torch.cat([ref, model(input_ids=ref).logits[:, -1:].argmax(-1)], dim=1)
    assert torch.equal(seq, ref)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="alpha"):
        unlikelihood_lm_loss(-1.0)
    with pytest.raises(ValueError, match="alpha"):
        sequence_unlikelihood_lm_loss(-1.0)
    with pytest.raises(ValueError, match="context"):
        unlikelihood_lm_loss(1.0, "trigram")
    with pytest.raises(ValueError, match="bigram"):
        negative_candidates(torch.zeros(1, 4, dtype=torch.long), "trigram")
