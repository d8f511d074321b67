"""Verification: the target decides how many of the draft's K proposals to keep, and adds a bonus token.

Both verifiers take the output of ONE target forward over ``[tokens not yet in the target cache] +
[K proposals]``, of which only the last K+1 rows matter: row i (0..K) is the target's distribution
for the position of proposal i+1; row K is the position after the last proposal.

Both return ``(n, bonus)`` as Python ints: ``n`` in 0..K accepted proposals and the bonus token the
target adds after them, so one iteration emits ``proposals[:n] + [bonus]`` and its *accepted length*
is ``n + 1``.

What this module does NOT handle: batches (one sequence only), tree / multi-candidate drafts, and
"typical acceptance" or other lossy rules.
"""

from __future__ import annotations

import torch

from .sampling import greedy

__all__ = ["verify_greedy", "verify_sampling"]


def _check_shapes(draft_tokens: torch.Tensor, target_rows: torch.Tensor, name: str) -> int:
    if draft_tokens.dim() != 1:
        raise ValueError(f"draft_tokens must be 1-D [K], got shape {tuple(draft_tokens.shape)}")
    k = draft_tokens.shape[0]
    if target_rows.dim() != 2 or target_rows.shape[0] != k + 1:
        raise ValueError(
            f"{name} must be [K+1, V] = [{k + 1}, V] for K={k} proposals, got shape {tuple(target_rows.shape)}"
        )
    return k


def verify_greedy(draft_tokens: torch.Tensor, target_logits: torch.Tensor) -> tuple[int, int]:
    """Greedy verification: keep the longest prefix of proposals that equals the target's argmax.

    draft_tokens [K] (LongTensor), target_logits [K+1, V]. Returns ``(n, bonus)`` where ``n`` is the
    largest count with ``draft_tokens[i] == argmax(target_logits[i])`` for every i < n, and
    ``bonus = argmax(target_logits[n])`` (the target's own token at the first mismatch, or after the
    K-th proposal when all K match). No softmax is computed: argmax of logits is enough.
    """
    k = _check_shapes(draft_tokens, target_logits, "target_logits")
    choice = greedy(target_logits)  # [K+1]: the target's greedy token at each position
    agree = (choice[:k] == draft_tokens).long()  # [K]
    n = agree.cumprod(dim=0).sum()  # length of the all-agree prefix (0-dim)
    bonus = choice[n]  # 0-dim
    n_int, bonus_int = torch.stack((n, bonus)).tolist()  # one device->host transfer
    return n_int, bonus_int


def verify_sampling(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[int, int]:
    r"""Lossless speculative sampling (rejection rule of Leviathan et al. / Chen et al.).

    draft_tokens [K]: the proposals x_1..x_K. draft_probs [K, V]: q_i, the distribution x_i was
    sampled from. target_probs [K+1, V]: p_i, the target's distribution at the position of x_i
    (row K = p_{K+1}, after the last proposal). Both already processed by the same temperature /
    top-p (:func:`pard_ref.decoding.sampling.probabilities`). ``generator`` drives the uniform draws and the
    bonus sample (pass one on the probabilities' device for reproducibility; None = global RNG).

    The rule, for i = 1..K in order::

        accept x_i with probability  min(1, p_i(x_i) / q_i(x_i))
        at the first rejection:  bonus ~ normalize(max(p_i - q_i, 0)),  stop   (n = i - 1)
        if all K are accepted:   bonus ~ p_{K+1}                               (n = K)

    Why it is lossless (one position, dropping the index): the emitted token y has

        P(y) = q(y) min(1, p(y)/q(y)) + (1 - sum_z q(z) min(1, p(z)/q(z))) * max(p(y) - q(y), 0) / Z
             = min(q(y), p(y)) + Z * max(p(y) - q(y), 0) / Z                                = p(y)

    because ``sum_z min(q(z), p(z)) = 1 - Z`` with ``Z = sum_z max(p(z) - q(z), 0)``. Given an
    accepted x_i the same argument applies to the next position, so every emitted token follows the
    target's distribution, for ANY q_i: q_i may ignore the earlier proposals (PARD's parallel draft,
    whose q_i comes from a mask token), or be one-hot (a greedy draft: accept with probability
    p_i(x_i), else sample from p_i with x_i removed and renormalised).

    Implementation: the K acceptance tests use K uniforms u_i drawn at once (accept iff
    u_i * q_i(x_i) < p_i(x_i), which has probability min(1, p/q)); n is the length of the all-accept
    prefix. When p_i == q_i exactly the residual is empty; rejection then has probability 0, but if
    rounding rejects anyway the bonus is drawn from p_i.
    Returns ``(n, bonus)`` as Python ints.
    """
    k = _check_shapes(draft_tokens, target_probs, "target_probs")
    if draft_probs.shape != (k, target_probs.shape[1]):
        raise ValueError(
            f"draft_probs must be [K, V] = [{k}, {target_probs.shape[1]}], got shape {tuple(draft_probs.shape)}"
        )
    rows = torch.arange(k, device=draft_tokens.device)
    p_x = target_probs[rows, draft_tokens]  # [K]: p_i(x_i)
    q_x = draft_probs[rows, draft_tokens]  # [K]: q_i(x_i)
    u = torch.rand(k, generator=generator, device=target_probs.device, dtype=target_probs.dtype)  # [K]
    accept = (u * q_x < p_x).long()  # [K]
    n = int(accept.cumprod(dim=0).sum())  # accepted proposals: the all-accept prefix
    if n < k:
        residual = (target_probs[n] - draft_probs[n]).clamp_(min=0.0)  # [V], unnormalised
        weights = torch.where(residual.sum() > 0, residual, target_probs[n])
    else:
        weights = target_probs[k]  # [V]: p_{K+1}
    # multinomial normalises the weights itself
    bonus = int(torch.multinomial(weights, 1, generator=generator))
    return n, bonus
