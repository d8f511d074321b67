"""Solutions to notebook 02's exercises (one value or function per exercise, a plausible wrong answer the
checker must reject, and the checker's context as small synthetic figures). Not imported by the notebook.

In the notebook exercise 3 is written on the section 3 example: p = p_rows[0], q = q_rows[0], N draws.
"""

import torch

ex_1 = 0.2 + 0.3 + 0.2   # Σ min(p, q)
wrong_1 = 0.5 * 0.2 + 0.3 * 0.3 + 0.2 * 0.5   # the chance that both SAMPLE the same token


def ex_2(alpha, k):
    # at least i + 1 tokens when the first i proposals are all accepted (probability alpha^i), i = 0..k
    return sum(alpha ** i for i in range(k + 1))


def wrong_2(alpha, k):
    return sum(alpha ** i for i in range(k))   # forgets the bonus after an all-accepted block


_P = torch.tensor([0.40, 0.25, 0.15, 0.10, 0.06, 0.04], dtype=torch.float64)
_Q = torch.tensor([0.10, 0.30, 0.05, 0.35, 0.15, 0.05], dtype=torch.float64)


def context_3():
    return {"p": _P, "q": _Q}


def _first_tokens(lenient: bool, n: int = 20000, seed: int = 5) -> list[int]:
    gen = torch.Generator().manual_seed(seed)
    residual = torch.clamp(_P - _Q, min=0)
    out = []
    for _ in range(n):
        x = int(torch.multinomial(_Q, 1, generator=gen))
        keep = _P[x] >= 0.5 * _Q[x] if lenient else torch.rand(1, generator=gen, dtype=torch.float64) < _P[x] / _Q[x]
        out.append(x if keep else int(torch.multinomial(residual, 1, generator=gen)))
    return out


ex_3 = _first_tokens(lenient=True)
wrong_3 = _first_tokens(lenient=False)   # the correct (lossless) rule: its samples follow p


def ex_4(length, k, n):
    # target: the sequence + the n accepted proposals (the bonus is in no cache yet);
    # AR draft: it fed itself x_1..x_{k-1}; the crop keeps what is still a prefix of the sequence
    return length + n, length + min(n, k - 1)


def wrong_4(length, k, n):
    return length + n + 1, length + n   # puts the bonus in the target cache


ex_5 = ("It hurts: when the first proposals are rejected, τ hardly grows with K, but every iteration still pays "
        "K draft forwards and a larger verification forward t_target(K+1), so the denominator of the bound grows "
        "and the speedup falls.")
wrong_5 = "A larger K helps: more proposals give the target more chances to accept tokens."
