"""Timing model forwards: the clock the decoder runs every forward through, and a forward's cost.

- :class:`ForwardClock` counts forwards and the wall time inside them. The decoder keeps one for the
  target and one for the draft, so a run's statistics split time into draft, target and the loop's own.
- :func:`forward_ms`: the median wall time of one cached forward of ``n`` new tokens: the per-call cost
  behind every speedup bound (``docs/algorithm.md``).

On CUDA the queue is synchronised before and after each timed forward, so a time is the forward's own;
on CPU there is nothing to synchronise. Timings compare within one process on one machine: compare
ratios, not absolute milliseconds.
"""

from __future__ import annotations

import statistics
import time

import torch

from ..device import synchronize
from .kv_cache import crop_cache, model_forward, new_cache

__all__ = ["ForwardClock", "forward_ms"]


class ForwardClock:
    """Counts model forwards and the wall time spent inside them."""

    def __init__(self, device: torch.device):
        self.device = device
        self.calls = 0
        self.seconds = 0.0

    def forward(self, model, input_ids, cache, position_ids, num_logits: int) -> torch.Tensor:
        """:func:`pard_ref.decoding.kv_cache.model_forward`, timed. Returns logits [num_logits, V]."""
        synchronize(self.device)
        start = time.perf_counter()
        logits = model_forward(model, input_ids, cache, position_ids, num_logits)
        synchronize(self.device)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return logits


@torch.no_grad()
def forward_ms(model, prompt_len: int = 128, new_tokens: int = 1, reps: int = 20, warmup: int = 3,
               seed: int = 0) -> float:
    """Median milliseconds of one forward of ``new_tokens`` tokens with ``prompt_len`` tokens in the KV cache."""
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    vocab = model.get_input_embeddings().num_embeddings
    prompt = torch.randint(4, vocab, (1, prompt_len), generator=g).to(device)     # [1, P]
    new = torch.randint(4, vocab, (1, new_tokens), generator=g).to(device)        # [1, n]
    cache = new_cache(model)
    model_forward(model, prompt, cache, torch.arange(prompt_len, device=device)[None], 1)
    positions = torch.arange(prompt_len, prompt_len + new_tokens, device=device)[None]  # [1, n]
    times = []
    for i in range(warmup + reps):
        synchronize(device)
        t = time.perf_counter()
        model_forward(model, new, cache, positions, new_tokens)  # logits for every new token, as verification needs
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
        crop_cache(cache, prompt_len)  # roll back: the next call sees the same cache
    return 1000 * statistics.median(times)
