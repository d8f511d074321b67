"""Checkers for notebook 02 (speculative decoding): the acceptance probability, the expected accepted
length, a lossy "lenient" acceptance rule, the two KV caches after an iteration's crop, and what a larger
K does when proposals are rejected.

Each ``ex_M(answer, **context)`` raises ``AssertionError`` (what was expected, a hint) when the answer is
wrong and returns None when it is right; notebooks call them through :func:`pard_ref.exercises.check`.
Expected values are computed here: from the definitions (``Σ min(p, q)``, the truncated geometric
series, the lenient rule's exact output distribution) or by running the package's own decoder on two
tiny random float64 models (:func:`tiny_llama`) and reading its caches, never from the answer.

What it does NOT check: the statistics of a sampler beyond 5 standard errors per token (a correct
sampler fails with probability below 1e-5, a seeded one never changes its verdict).
"""

from __future__ import annotations

from .expect import expect_close, expect_function, expect_number, expect_words

__all__ = ["ex_1", "ex_2", "ex_3", "ex_4", "ex_5", "tiny_llama"]

P_1 = (0.5, 0.3, 0.2)  # exercise 1: the target
Q_1 = (0.2, 0.3, 0.5)  # exercise 1: the draft


def ex_1(answer) -> None:
    """Probability that a proposal x ~ q is accepted under min(1, p/q): Σ_x q(x) min(1, p(x)/q(x)) = Σ min(p, q)."""
    got = expect_number(answer, "answer_1")
    same_token = sum(p * q for p, q in zip(P_1, Q_1))
    if abs(got - same_token) < 1e-9:
        raise AssertionError(f"{got:.2f} is the chance that target and draft SAMPLE the same token; the rule accepts "
                             "x with probability min(1, p(x)/q(x)), whatever the target would have sampled")
    expect_close(got, sum(min(p, q) for p, q in zip(P_1, Q_1)), what="answer_1",
                 hint="average min(1, p(x)/q(x)) over x ~ q: Σ_x q(x)·min(1, p(x)/q(x)) = Σ_x min(p(x), q(x))")


def ex_2(answer) -> None:
    """``answer(alpha, k)``: expected accepted length with K = k proposals, each accepted independently with
    probability alpha, until the first rejection: Σ_{i=0..k} alpha^i."""
    expect_function(answer, "answer_2", "answer_2(alpha, k)")
    for alpha, k in ((0.7, 4), (0.5, 8), (0.9, 2), (0.0, 3), (0.3, 1)):
        expected = sum(alpha ** i for i in range(k + 1))
        got = expect_number(answer(alpha, k), f"answer_2({alpha}, {k})")
        if abs(got - (expected - alpha ** k)) < 1e-9 and alpha > 0:
            raise AssertionError(f"answer_2({alpha}, {k}) = {got:.4f} misses one term: with all {k} proposals "
                                 f"accepted (probability alpha^{k}) the iteration still adds the bonus")
        expect_close(got, expected, what=f"answer_2({alpha}, {k})",
                     hint="the accepted length is at least 1 (the bonus); it is at least i + 1 when the first i "
                          "proposals are all accepted (probability alpha^i), for i = 0..k: sum those")


def _lenient_distribution(p, q):
    """The exact output distribution of: accept x ~ q when p(x) >= 0.5 q(x), else sample the residual."""
    import torch

    accept = (p >= 0.5 * q).to(p.dtype)                               # [V]: 1 where x is accepted
    residual = torch.clamp(p - q, min=0.0)
    return q * accept + (1 - (q * accept).sum()) * residual / residual.sum()


def _within(freq, dist, n, sigmas=5.0) -> bool:
    return bool(((freq - dist).abs() <= sigmas * (dist * (1 - dist) / n).sqrt() + 1e-12).all())


def ex_3(answer, *, p, q) -> None:
    """``answer``: first emitted tokens (at least 2000) under lenient acceptance of x ~ q (accept when
    p(x) >= 0.5 q(x), else sample the residual max(p - q, 0)). They must follow the lenient rule's own
    distribution (within 5 standard errors per token) and must NOT follow p."""
    import torch

    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    assert isinstance(answer, (list, tuple)) or torch.is_tensor(answer), (
        "the answer should be the list of emitted first tokens (ints), one per trial")
    tokens = torch.as_tensor(list(answer) if not torch.is_tensor(answer) else answer).long().flatten()
    n = len(tokens)
    assert n >= 2000, f"{n} samples are too few to tell distributions apart: draw at least 2000 (the text uses N)"
    assert int(tokens.min()) >= 0 and int(tokens.max()) < len(p), f"tokens must be ids 0..{len(p) - 1}"
    freq = torch.bincount(tokens, minlength=len(p)).double() / n
    lenient = _lenient_distribution(p, q)
    if _within(freq, p, n):
        raise AssertionError("your samples follow p: that is what the CORRECT rule emits. Accept x whenever "
                             "p(x) >= 0.5 q(x) (no coin), otherwise sample the residual")
    assert _within(freq, lenient, n), (
        f"your samples follow neither p nor the lenient rule (expected frequencies "
        f"{[round(float(v), 3) for v in lenient]}, got {[round(float(v), 3) for v in freq]}). Hint: draw x ~ q; "
        "keep x if p(x) >= 0.5 q(x); otherwise draw from max(p - q, 0), normalised")


def tiny_llama(seed: int, vocab: int = 48, layers: int = 1):
    """A tiny random LlamaForCausalLM in float64 (sharp logits, so greedy choices are far from ties)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).double().eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


def _iterations(method: str, draft_is_target: bool, k: int):
    """Run the package's decoder on tiny models; per iteration: (length before, k used, n accepted,
    target cache length after, draft cache length after)."""
    import torch

    from ..decoding import SpeculativeDecoder
    from ..decoding.kv_cache import cache_length

    target = tiny_llama(0)
    draft = target if draft_is_target else tiny_llama(1)
    decoder = SpeculativeDecoder(target, torch.tensor([[3, 5, 7, 11, 2]]), draft=draft, method=method, k=k,
                                 max_new_tokens=17, mask_token_id=47)
    rows = []
    while not decoder.done:
        length, k_used = decoder.length, min(k, decoder.max_new_tokens - decoder.new_tokens - 1)
        record = decoder.step()
        if record.proposals:  # a last iteration with room for one token drafts nothing
            rows.append((length, k_used, record.accepted, cache_length(decoder.target_cache),
                         cache_length(decoder.drafter.cache)))
    return rows


def ex_4(answer) -> None:
    """``answer(length, k, n)`` -> (target cache length, AR draft cache length) after an iteration's crop,
    when the sequence had ``length`` tokens before it, K = k proposals were made and n accepted."""
    expect_function(answer, "answer_4", "answer_4(length, k, n) -> (target_cache_length, draft_cache_length)")
    # ground truth: the package's decoder, stepped on tiny models (all accepted: draft = target; mostly none: another)
    rows = _iterations("ar", True, 4) + _iterations("ar", False, 4) + _iterations("ar", True, 1)
    assert {r[2] == r[1] for r in rows} == {True, False}, "internal: the runs should cover all-accepted and not"
    for length, k, n, target_len, draft_len in rows:
        got = answer(length, k, n)
        assert isinstance(got, tuple) and len(got) == 2, f"answer_4 should return a pair, got {got!r}"
        if got[0] == length + n + 1:
            raise AssertionError("the target cache does not hold the bonus: the bonus was never fed to the target "
                                 "(it is the argmax of the last row kept); it is fed at the next iteration")
        assert got[0] == target_len, (
            f"answer_4({length}, {k}, {n})[0] = {got[0]}, but the package's target cache holds {target_len} entries. "
            "Hint: the verification forward added the K proposals after the sequence; the crop keeps the "
            "sequence and the accepted proposals")
        assert got[1] == draft_len, (
            f"answer_4({length}, {k}, {n})[1] = {got[1]}, but the package's AR draft cache holds {draft_len} entries. "
            "Hint: the AR draft fed itself x_1..x_{K-1} (x_K comes out of the last forward and is never fed); "
            "the crop keeps only what is still a prefix of the sequence")


def ex_5(answer) -> None:
    """In words: does a larger K help when many proposals are rejected?"""
    expect_words(
        answer,
        [("hurt", "slower", "worse", "does not help", "doesn't help", "not help", "costs more", "more expensive",
          "wasted", "waste"),
         ("draft", "forward", "verif", "t_target", "cost")],
        what="answer_5",
        forbidden=("larger k helps", "a larger k always helps"),
        hint="τ hardly grows when the first proposals are already rejected; what grows with K in the "
             "denominator of the bound?",
    )
