"""Drafters: how the draft model proposes K tokens per iteration, and how its KV cache is rolled back.

Both drafters share one picture. The decoder keeps the whole sequence in a token buffer
``seq`` [1, N]; the real sequence is ``seq[:, :length]``. A drafter's KV cache always holds a
*prefix* of that buffer: ``fed`` tokens. Each iteration it

1. ``propose(seq, length, k, ...)``: feeds the tokens it has not seen yet, ``seq[:, fed:length]``,
   and returns K proposals (and, when sampling, the distributions q_i they were drawn from);
2. ``commit(length, n)``: after the target accepted n proposals (now written at
   ``seq[length:length+n]``), drops cache entries that are no longer a prefix of the sequence:
   ``fed = min(fed, length + n)``. The rest (accepted proposals, bonus) is fed next iteration.

:class:`ARDrafter` (vanilla speculative decoding): K sequential one-token forwards. Its cache ends
up holding ``x_1..x_{K-1}`` (``x_K`` is sampled from the last forward and never fed), so when all K
are accepted it feeds ``x_K`` and the bonus next time; otherwise it crops back to the accepted ones.

:class:`ParallelDrafter` (PARD): ONE forward of ``seq[fed:length] + [mask] * (K-1)``; the logits of
the last K rows give the K proposals (the last real token's row -> proposal 1, the j-th mask's row
-> proposal j+1). The K-1 mask entries are cropped right away, so ``fed = length`` and nothing
needs cropping after verification: accepted proposals were never fed, they are fed next iteration.

What this module does NOT handle: batches, tree drafts, dynamic K inside an iteration, drafts whose
cache cannot be cropped (sliding-window layers), and drafts on a different device than the target.
"""

from __future__ import annotations

import torch

from .kv_cache import crop_cache, new_cache
from .sampling import greedy, probabilities, sample
from .timing import ForwardClock

__all__ = ["ARDrafter", "ParallelDrafter"]


class _Drafter:
    """Shared state: the draft model, its cache, how many sequence tokens the cache holds."""

    def __init__(self, draft: torch.nn.Module, positions: torch.Tensor, clock: ForwardClock):
        self.draft = draft
        self.cache = new_cache(draft)
        self.positions = positions  # [1, N]: 0..N-1 on the device, sliced (never re-allocated)
        self.clock = clock
        self.fed = 0  # tokens of the sequence buffer whose keys/values are in self.cache

    def commit(self, length: int, n: int) -> None:
        """The target accepted ``n`` proposals placed at ``seq[length:length+n]``: keep only cache
        entries that are still a prefix of the sequence."""
        keep = min(self.fed, length + n)
        if keep < self.fed:
            crop_cache(self.cache, keep)
            self.fed = keep

    def _choose(self, logits: torch.Tensor, temperature: float, top_p: float, generator):
        """logits [R, V] -> (tokens [R], q [R, V] or None). Greedy: argmax, no softmax."""
        if temperature == 0:
            return greedy(logits), None
        q = probabilities(logits, temperature, top_p)  # [R, V]
        return sample(q, generator), q


class ARDrafter(_Drafter):
    """Vanilla speculative decoding: the draft proposes x_1..x_K with K sequential forwards."""

    def propose(self, seq: torch.Tensor, length: int, k: int, temperature: float, top_p: float, generator):
        """K proposals for positions ``length..length+K-1``.

        seq [1, N] token buffer (real tokens in ``seq[:, :length]``). Returns tokens [K] and, when
        temperature > 0, q [K, V] (the distribution each x_i was sampled from), else None.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if length <= self.fed:
            raise ValueError(f"nothing new to feed the draft (length {length}, cache holds {self.fed})")
        tokens, dists = [], []
        inp = seq[:, self.fed : length]  # [1, m]: everything not yet fed (prompt, bonus, maybe x_K)
        pos = self.positions[:, self.fed : length]
        for i in range(k):
            logits = self.clock.forward(self.draft, inp, self.cache, pos, 1)  # [1, V]
            token, q = self._choose(logits, temperature, top_p, generator)  # [1], [1, V] | None
            tokens.append(token)
            dists.append(q)
            # feed x_{i+1} next; the last proposal x_K is not fed (it may be rejected anyway)
            inp = token.view(1, 1)  # [1, 1]
            pos = self.positions[:, length + i : length + i + 1]
        self.fed = length + k - 1  # the cache now holds the sequence + x_1..x_{K-1}
        proposals = torch.cat(tokens)  # [K]
        return proposals, (None if temperature == 0 else torch.cat(dists))  # [K], [K, V]


class ParallelDrafter(_Drafter):
    """PARD: the draft proposes all K tokens in one forward, K-1 mask tokens standing in for the
    proposals it has not made yet."""

    def __init__(
        self, draft: torch.nn.Module, positions: torch.Tensor, clock: ForwardClock, mask_token_id: int, k: int
    ):
        super().__init__(draft, positions, clock)
        self.mask_token_id = mask_token_id
        # [1, K-1]: allocated once, sliced when an iteration uses fewer proposals
        self.masks = torch.full((1, max(k - 1, 0)), mask_token_id, dtype=torch.long, device=positions.device)

    def propose(self, seq: torch.Tensor, length: int, k: int, temperature: float, top_p: float, generator):
        """K proposals for positions ``length..length+K-1`` from ONE draft forward.

        Returns tokens [K] and, when temperature > 0, q [K, V] (row i: the draft's distribution at
        the position of proposal i+1, given the real prefix and i masks), else None.
        """
        if not 1 <= k <= self.masks.shape[1] + 1:
            raise ValueError(f"this drafter was built for 1..{self.masks.shape[1] + 1} proposals, asked for {k}")
        if length <= self.fed:
            raise ValueError(f"nothing new to feed the draft (length {length}, cache holds {self.fed})")
        # [1, m + K-1]: the real tokens not yet fed, then K-1 masks at positions length..length+K-2
        inp = torch.cat((seq[:, self.fed : length], self.masks[:, : k - 1]), dim=1)
        pos = self.positions[:, self.fed : length + k - 1]
        logits = self.clock.forward(self.draft, inp, self.cache, pos, k)  # [K, V]: last real token + K-1 masks
        # drop the K-1 mask entries: the cache holds exactly the real sequence again
        crop_cache(self.cache, length)
        self.fed = length
        return self._choose(logits, temperature, top_p, generator)  # [K], [K, V] | None
