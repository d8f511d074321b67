"""Monte-Carlo: speculative sampling through the whole engine reproduces the target's distribution.

On a 6-token vocabulary we compute, exactly, the target's distribution of the first two generated
tokens, P(a, b) = p(a | prompt) * p(b | prompt, a) (after temperature / top-p), then draw it
N times through ``generate`` (seeds 0..N-1, so the test is deterministic) and run a chi-square
goodness-of-fit test.

False-positive probability: we require the chi-square p-value to exceed ALPHA = 1e-4, so a correct
engine would fail with probability about 1e-4 for an arbitrary choice of seeds (the asymptotic
chi-square approximation; cells whose expected count is below 5 are pooled so it holds).
Power: each test also checks that the distribution a broken "always accept" engine would produce
(the draft's own) would give an expected chi-square statistic far above the rejection threshold.
With K=2 and max_new_tokens=3 the first iteration drafts two tokens, so token 2 comes either from
the draft's second proposal (for PARD: the mask position) or from a bonus / second iteration.
"""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref import generate, probabilities

VOCAB, MASK = 6, 5
N = 1000
ALPHA = 1e-4



def _tiny(seed, scale):
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=32, bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )
    model = LlamaForCausalLM(config).to(torch.float64).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)  # peaked, model-specific distributions
    model.config.pard_token = MASK
    return model


TARGET = _tiny(10, scale=15.0)
DRAFT = _tiny(11, scale=15.0)
PROMPT = torch.tensor([[1, 3, 0, 2]])


@torch.no_grad()
def exact_two_token_distribution(model, temperature, top_p):
    """[V, V]: P(first = a, second = b) under ``model`` with the given processing."""
    p1 = probabilities(model(input_ids=PROMPT).logits[0, -1], temperature, top_p)  # [V]
    seqs = torch.cat((PROMPT.repeat(VOCAB, 1), torch.arange(VOCAB).unsqueeze(1)), dim=1)  # [V, P+1]
    p2 = probabilities(model(input_ids=seqs).logits[:, -1], temperature, top_p)  # [V, V]: row a = p(. | a)
    return p1.unsqueeze(1) * p2


@torch.no_grad()
def pard_always_accept_distribution(temperature, top_p):
    """What a PARD engine that accepts every proposal emits: q_1(a) q_2(b), q_2 from the mask row."""
    logits = DRAFT(input_ids=torch.cat((PROMPT, torch.tensor([[MASK]])), dim=1)).logits[0, -2:]
    q = probabilities(logits, temperature, top_p)  # [2, V]
    return q[0].unsqueeze(1) * q[1]


def chi_square_p_value(counts, expected_probs, n):
    """Pearson chi-square goodness of fit; cells with expected count < 5 are pooled into one."""
    counts, expected = counts.flatten().double(), expected_probs.flatten().double() * n
    small = expected < 5
    assert counts[expected == 0].sum() == 0, "an impossible pair of tokens was generated"
    obs = torch.cat((counts[~small], counts[small].sum().view(1)))
    exp = torch.cat((expected[~small], expected[small].sum().view(1)))
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    stat = ((obs - exp) ** 2 / exp).sum()
    dof = obs.numel() - 1
    # chi-square survival function: regularized upper incomplete gamma Q(dof/2, stat/2)
    p_value = torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64), stat / 2).item()
    return stat.item(), dof, p_value


def chi_square_critical(dof, alpha=ALPHA):
    """Smallest statistic whose p-value is below alpha (bisection on the survival function)."""
    lo, hi = 0.0, 1000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64), torch.tensor(mid / 2)).item() > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def sample_first_two(method, temperature, top_p, n=N):
    counts = torch.zeros(VOCAB, VOCAB, dtype=torch.long)
    for seed in range(n):
        out = generate(TARGET, PROMPT, draft=DRAFT, method=method, k=2, max_new_tokens=3,
                       temperature=temperature, top_p=top_p, seed=seed)
        a, b = out.sequences[0, PROMPT.shape[1] : PROMPT.shape[1] + 2].tolist()
        counts[a, b] += 1
    return counts


@pytest.mark.parametrize(
    "method, temperature, top_p", [("pard", 1.0, 1.0), ("ar", 1.0, 1.0), ("pard", 0.8, 0.95)]
)
def test_generated_pairs_follow_the_target(method, temperature, top_p):
    want = exact_two_token_distribution(TARGET, temperature, top_p)
    # power: the draft's own distribution is far from the target's
    wrong = pard_always_accept_distribution(temperature, top_p) if method == "pard" else \
        exact_two_token_distribution(DRAFT, temperature, top_p)
    support = want > 0
    noncentrality = N * (((wrong - want)[support] ** 2) / want[support]).sum().item()
    assert noncentrality > 5 * chi_square_critical(VOCAB * VOCAB - 1), "test setup too weak to catch a wrong engine"

    counts = sample_first_two(method, temperature, top_p)
    stat, dof, p_value = chi_square_p_value(counts, want, N)
    assert p_value > ALPHA, f"chi-square {stat:.1f} with {dof} dof, p-value {p_value:.2e}"


@pytest.mark.parametrize("method", ["pard", "ar"])
def test_negative_control_engine_with_always_accept_verifier_fails(method, monkeypatch):
    """The same test through the engine, with verification replaced by "accept everything", fails
    (already with 200 samples)."""
    import pard_ref.decoding

    def always_accept(proposals, q, p, generator):
        return proposals.shape[0], int(torch.multinomial(p[-1], 1, generator=generator))

    monkeypatch.setattr(pard_ref.decoding.loop, "verify_sampling", always_accept)
    counts = sample_first_two(method, 1.0, 1.0, n=200)
    _, _, p_value = chi_square_p_value(counts, exact_two_token_distribution(TARGET, 1.0, 1.0), 200)
    assert p_value < ALPHA


def test_chi_square_helper_rejects_the_draft_distribution():
    """Negative control of the statistic itself: counts drawn from the draft's distribution fail."""
    want = exact_two_token_distribution(TARGET, 1.0, 1.0)
    wrong = pard_always_accept_distribution(1.0, 1.0)
    gen = torch.Generator().manual_seed(0)
    draws = torch.multinomial(wrong.flatten(), N, replacement=True, generator=gen)
    counts = torch.bincount(draws, minlength=VOCAB * VOCAB).view(VOCAB, VOCAB)
    counts[want == 0] = 0  # (keep the impossible-pair assertion out of the way)
    _, _, p_value = chi_square_p_value(counts, want, counts.sum().item())
    assert p_value < ALPHA


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_greedy_is_the_argmax_of_the_logits_as_given(dtype):
    """greedy() widens half precision before the argmax (for speed); the index must not change, ties
    included (the first maximum), on rows the size of SmolLM2's vocabulary."""
    from pard_ref.decoding.sampling import greedy

    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(9, 49152, generator=g) * 4).to(dtype)  # [K+1, V]
    logits[3, 100] = logits[3, 7] = logits[3].max() + 1  # an exact tie: index 7 must win
    tokens = greedy(logits)  # [K+1]
    assert tokens.dtype == torch.long and tokens.shape == (9,)
    assert torch.equal(tokens, logits.argmax(dim=-1))
    assert int(tokens[3]) == 7
