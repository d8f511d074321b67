"""What one forward call costs: measured wall time against tokens per call, and arithmetic intensity.

Autoregressive decoding makes one forward call per token. For a small model (and for a large one on a
GPU at batch 1) that call is bound by memory traffic (every weight is read once per call) and by
per-call overhead (Python, one kernel per operation per layer), not by arithmetic. So feeding 8 tokens
in one call costs little more than feeding 1: that is the slack speculative decoding spends on
verifying K draft tokens at once.

- :func:`cost_curve`: ``{n: ms}``, the median wall time of one cached forward of n new tokens
  (:func:`pard_ref.decoding.timing.forward_ms`) for several n;
- :func:`fit_linear`: ``t(n) ≈ overhead + n * per_token`` by least squares;
- :func:`arithmetic_intensity`: FLOPs per byte of weights read, for one call of n tokens.

Timings are medians of repeated calls after a warm-up, synchronised on CUDA. They are only comparable
within one process on one machine (compare ratios, not absolute milliseconds).

What it does not handle: the KV cache's own memory traffic in :func:`arithmetic_intensity` (small
for the short contexts here), and multi-device models.
"""

from __future__ import annotations

import statistics

from ..decoding.timing import forward_ms


def cost_curve(model, new_tokens=(1, 2, 4, 8, 16, 32), prompt_len: int = 128, reps: int = 20,
               progress: bool = False, desc: str = "forward cost") -> dict[int, float]:
    """``{n: median ms}`` of one forward of n new tokens, for each n in ``new_tokens``."""
    from tqdm.auto import tqdm

    return {n: forward_ms(model, prompt_len, n, reps)
            for n in tqdm(list(new_tokens), desc=desc, disable=not progress, leave=False)}


def fit_linear(curve: dict[int, float]) -> tuple[float, float]:
    """Least-squares ``(overhead_ms, per_token_ms)`` with ``t(n) ≈ overhead + n * per_token``."""
    ns, ts = list(curve), list(curve.values())
    mean_n, mean_t = statistics.mean(ns), statistics.mean(ts)
    var = sum((n - mean_n) ** 2 for n in ns)
    slope = sum((n - mean_n) * (t - mean_t) for n, t in zip(ns, ts)) / var
    return mean_t - slope * mean_n, slope


def parameter_count(model, include_embeddings: bool = True) -> int:
    """Parameters (tied embeddings counted once)."""
    total = sum(p.numel() for p in model.parameters())
    return total if include_embeddings else total - model.get_input_embeddings().weight.numel()


def arithmetic_intensity(model, new_tokens: int, bytes_per_parameter: int | None = None) -> float:
    """FLOPs per byte of weights for one forward of ``new_tokens`` tokens (batch 1).

    Each weight is read once per call and used in one multiply-add (2 FLOPs) per token, so the
    intensity is about ``2 * n / bytes_per_parameter``: 0.5 FLOP/byte for one float32 token. A CPU
    or GPU needs tens to hundreds of FLOPs per byte to be compute-bound, so decoding one token at a
    time leaves nearly all arithmetic units idle.
    """
    if bytes_per_parameter is None:
        bytes_per_parameter = next(model.parameters()).element_size()
    params = parameter_count(model)
    return 2 * params * new_tokens / (params * bytes_per_parameter)
