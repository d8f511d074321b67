"""Verification rules (greedy and lossless sampling) and the shared temperature / top-p processing.

Statistical tests use a fixed generator seed, so they are deterministic; the tolerance of each is
chosen so that a correct implementation run with a *random* seed would fail with the stated
(tiny) probability, and the negative controls show the same test catches a wrong verifier.
"""

import math

import pytest
import torch
from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

from pard_ref import probabilities, verify_greedy, verify_sampling


def _logits_choosing(choices, vocab=7):
    """[len(choices), vocab] logits whose row-wise argmax is ``choices``."""
    logits = torch.randn(len(choices), vocab, generator=torch.Generator().manual_seed(0))
    logits[torch.arange(len(choices)), torch.tensor(choices)] = 10.0
    return logits


# ---------------------------------------------------------------- greedy


@pytest.mark.parametrize(
    "draft, target_choice, expected",
    [
        ([1, 2, 3], [1, 2, 3, 4], (3, 4)),  # all K accepted, bonus from row K
        ([1, 2, 3], [5, 2, 3, 4], (0, 5)),  # first rejected: bonus is the target's token there
        ([1, 2, 3], [1, 6, 3, 4], (1, 6)),
        ([1, 2, 3], [1, 2, 0, 4], (2, 0)),
        ([1, 2, 3], [1, 6, 3, 4], (1, 6)),  # a later match after a mismatch does not count
        ([4], [4, 2], (1, 2)),  # K = 1
        ([4], [3, 2], (0, 3)),
    ],
)
def test_verify_greedy(draft, target_choice, expected):
    n, bonus = verify_greedy(torch.tensor(draft), _logits_choosing(target_choice))
    assert (n, bonus) == expected
    assert isinstance(n, int) and isinstance(bonus, int)


def test_verify_greedy_shape_errors():
    with pytest.raises(ValueError, match=r"\[K\+1, V\]"):
        verify_greedy(torch.tensor([1, 2]), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="1-D"):
        verify_greedy(torch.tensor([[1, 2]]), torch.zeros(3, 5))


# ---------------------------------------------------------------- sampling: exact identity


def _random_dist(vocab, gen, zeros=0):
    p = torch.rand(vocab, generator=gen, dtype=torch.float64) ** 3
    if zeros:
        p[torch.randperm(vocab, generator=gen)[:zeros]] = 0.0
    return p / p.sum()


def _emitted_distribution(p, q):
    """Exact distribution of the token the rejection rule emits at one position, x ~ q."""
    accept = q * torch.clamp(p / q, max=1.0).nan_to_num(nan=1.0)  # q(y) min(1, p(y)/q(y)); 0/0 -> q=0 anyway
    residual = torch.clamp(p - q, min=0.0)
    reject_mass = 1.0 - accept.sum()
    if residual.sum() > 0:
        return accept + reject_mass * residual / residual.sum()
    return accept + reject_mass * p


@pytest.mark.parametrize("case", range(8))
def test_rejection_rule_identity(case):
    """q·min(1, p/q) + (1 - Σ q·min(1, p/q)) · normalize(max(p - q, 0)) == p, for any q."""
    gen = torch.Generator().manual_seed(case)
    vocab = 11
    p = _random_dist(vocab, gen, zeros=case % 3)
    if case == 0:
        q = p.clone()  # identical: always accepted
    elif case == 1:
        q = torch.zeros(vocab, dtype=torch.float64)
        q[3] = 1.0  # one-hot: a greedy draft
    else:
        q = _random_dist(vocab, gen, zeros=(case + 1) % 4)
    torch.testing.assert_close(_emitted_distribution(p, q), p, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- sampling: Monte-Carlo

VOCAB, K, N_TRIALS = 6, 3, 12_000
# Hoeffding: each of the VOCAB empirical frequencies deviates from its mean by more than TOL with
# probability <= 2 exp(-2 N TOL^2); over all cells <= 2 * 6 * exp(-2 * 12000 * 0.025^2) = 3.7e-6.
# So a correct verifier run with an arbitrary seed fails this test with probability < 4e-6.
TOL = 0.025


def _fixed_p_q(kind):
    gen = torch.Generator().manual_seed(1234)
    p = torch.stack([_random_dist(VOCAB, gen) for _ in range(K + 1)])  # [K+1, V]
    if kind == "random":
        q = torch.stack([_random_dist(VOCAB, gen) for _ in range(K)])  # [K, V]
    elif kind == "one-hot":
        q = torch.zeros(K, VOCAB, dtype=torch.float64)
        q[:, 0] = 1.0
    else:  # "partial": half of the draft's mass where the target has little
        q = 0.5 * p[:K] + 0.5 * torch.eye(VOCAB, dtype=torch.float64)[p[:K].argmin(-1)]
    return p, q


def _first_token_frequencies(verifier, p, q, seed=0):
    gen = torch.Generator().manual_seed(seed)
    counts = torch.zeros(VOCAB, dtype=torch.float64)
    for _ in range(N_TRIALS):
        x = torch.multinomial(q, 1, generator=gen).squeeze(-1)  # [K]: x_i ~ q_i
        n, bonus = verifier(x, q, p, gen)
        first = int(x[0]) if n >= 1 else bonus
        counts[first] += 1
    return counts / N_TRIALS


def _always_accept(x, q, p, gen):
    """A deliberately wrong verifier: keeps every proposal."""
    return x.shape[0], int(torch.multinomial(p[-1], 1, generator=gen))


@pytest.mark.parametrize("kind", ["random", "one-hot", "partial"])
def test_verify_sampling_first_token_follows_target(kind):
    p, q = _fixed_p_q(kind)
    freq = _first_token_frequencies(verify_sampling, p, q)
    deviation = (freq - p[0]).abs().max().item()
    assert deviation < TOL, f"emitted first token deviates from p by {deviation:.4f} (tolerance {TOL})"


@pytest.mark.parametrize("kind", ["random", "one-hot", "partial"])
def test_negative_control_always_accept_fails(kind):
    """The same test, fed an always-accept verifier, must fail: it then emits q, not p."""
    p, q = _fixed_p_q(kind)
    assert (q[0] - p[0]).abs().max() > 3 * TOL  # the setup leaves room to see the difference
    freq = _first_token_frequencies(_always_accept, p, q)
    assert (freq - p[0]).abs().max().item() > TOL


def test_verify_sampling_edge_cases():
    gen = torch.Generator().manual_seed(0)
    p = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]], dtype=torch.float64)
    # q == p everywhere: every proposal is accepted, the bonus comes from row K
    for _ in range(50):
        x = torch.multinomial(p[:2], 1, generator=gen).squeeze(-1)
        assert verify_sampling(x, p[:2].clone(), p, gen) == (2, 2)
    # a proposal the target gives probability 0 is always rejected, and never re-emitted as bonus
    q = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    for _ in range(50):
        n, bonus = verify_sampling(torch.tensor([2, 0]), q, p, gen)
        assert n == 0 and bonus in (0, 1)


def test_verify_sampling_shape_errors():
    p = torch.full((3, 4), 0.25)
    with pytest.raises(ValueError, match="draft_probs"):
        verify_sampling(torch.tensor([0, 1]), torch.full((3, 4), 0.25), p)
    with pytest.raises(ValueError, match="target_probs"):
        verify_sampling(torch.tensor([0, 1]), torch.full((2, 4), 0.25), torch.full((2, 4), 0.25))


def test_verify_sampling_reproducible_with_seed():
    p, q = _fixed_p_q("random")
    x = torch.tensor([1, 2, 3])
    runs = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(7)
        runs.append([verify_sampling(x, q, p, gen) for _ in range(30)])
    assert runs[0] == runs[1]


# ---------------------------------------------------------------- temperature / top-p


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 1.0), (1.3, 0.9), (0.5, 0.5), (1.0, 0.05)])
def test_probabilities_match_transformers_warpers(temperature, top_p):
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 3
    ours = probabilities(logits, temperature, top_p)
    scores = TemperatureLogitsWarper(temperature)(None, logits.clone())
    if top_p < 1:
        scores = TopPLogitsWarper(top_p)(None, scores)
    theirs = torch.softmax(scores, dim=-1)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    assert ours.dtype == torch.float64


def test_probabilities_low_precision_and_errors():
    logits = torch.randn(2, 9).to(torch.bfloat16)
    probs = probabilities(logits, 1.0, 0.9)
    assert probs.dtype == torch.float32
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    with pytest.raises(ValueError, match="greedy"):
        probabilities(logits, 0.0)


def test_hoeffding_bound_stated_above_holds():
    assert 2 * VOCAB * math.exp(-2 * N_TRIALS * TOL**2) < 4e-6
