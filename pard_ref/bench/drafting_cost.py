"""Drafting against K: what one drafting iteration costs, how much of it is accepted, what it can buy.

An iteration of speculative decoding costs ``t_draft(K) + t_target(K+1)`` and yields τ tokens on
average (τ = mean accepted length). Plain decoding costs ``t_target(1)`` per token. Hence the bound
(``docs/algorithm.md``)::

    speedup <= τ(K) · t_target(1) / (t_target(K+1) + t_draft(K))

- :func:`draft_iteration_ms`: median wall time of ONE drafting iteration of K proposals, measured
  through the engine's own drafters (:class:`~pard_ref.decoding.drafting.ARDrafter`: K one-token forwards;
  :class:`~pard_ref.decoding.drafting.ParallelDrafter`: one forward of 1 real token + K-1 masks), with the cache
  state of a steady-state iteration (the previous bonus not yet fed) and rolled back after each call;
- :func:`draft_cost_curve`: the same for several K and both methods;
- :func:`verify_cost_curve`: what the target pays to verify K proposals, ``t_target(K+1)``, from
  :func:`pard_ref.decoding.timing.forward_ms`;
- :func:`draft_estimate_ms`: the same figure predicted from :func:`pard_ref.decoding.timing.forward_ms`
  (AR: K × t_draft(1); PARD: t_draft(K)), i.e. from forward costs alone, without the loop;
- :func:`acceptance_curve`: τ against K for a draft and a target on some prompts (greedy);
- :func:`speedup_bound`: the formula above.

Timings are medians after a warm-up, synchronised on CUDA, comparable only within one process. The
curves measure every point once per *pass*, round-robin, and keep each point's fastest median over
the passes: a background process that slows the machine down for a while then inflates no single
point of a curve (each point has a chance to be measured in a quiet moment).
What it does NOT measure: sampling (temperature > 0) costs, which add a softmax per proposal; the
cost of a first iteration (the whole prompt fed at once); variance over prompts of the timings (the
token ids are random: a forward's cost does not depend on which ids it reads).
"""

from __future__ import annotations

import statistics
import time

import torch

from ..decoding import generate
from ..decoding.checks import resolve_mask_id
from ..decoding.drafting import ARDrafter, ParallelDrafter
from ..decoding.kv_cache import crop_cache, model_forward
from ..decoding.timing import ForwardClock, forward_ms
from ..device import synchronize

__all__ = ["DRAFT_METHODS", "draft_iteration_ms", "draft_cost_curve", "verify_cost_curve", "draft_estimate_ms",
           "acceptance_curve", "speedup_bound"]

DRAFT_METHODS = ("ar", "pard")


def _check_method(method: str) -> None:
    if method not in DRAFT_METHODS:
        raise ValueError(f"unknown drafting method {method!r}: use 'ar' or 'pard'")


@torch.inference_mode()
def draft_iteration_ms(draft, k: int, method: str, *, prompt_len: int = 128, reps: int = 20, warmup: int = 3,
                       mask_token_id: int | None = None, seed: int = 0) -> float:
    """Median milliseconds of one drafting iteration proposing ``k`` tokens (greedy).

    The draft's cache holds ``prompt_len - 1`` tokens; the iteration feeds the last one (the previous
    iteration's bonus) and drafts: ``method="ar"`` with K forwards of one token, ``method="pard"``
    with one forward of K tokens (the bonus + K-1 masks). ``mask_token_id`` defaults to
    ``draft.config.pard_token`` (a ValueError when the draft has none: pass one to time a draft that was
    not trained for PARD).
    """
    _check_method(method)
    if k < 1 or prompt_len < 2:
        raise ValueError(f"need k >= 1 and prompt_len >= 2, got k={k}, prompt_len={prompt_len}")
    device = next(draft.parameters()).device
    vocab = draft.get_input_embeddings().num_embeddings
    g = torch.Generator().manual_seed(seed)
    total = prompt_len + k
    seq = torch.randint(4, vocab, (1, total), generator=g).to(device)  # [1, P + K]
    positions = torch.arange(total, device=device)[None]  # [1, P + K]
    clock = ForwardClock(device)
    if method == "ar":
        drafter = ARDrafter(draft, positions, clock)
    else:
        drafter = ParallelDrafter(draft, positions, clock, resolve_mask_id(draft, mask_token_id), k)
    held = prompt_len - 1  # the cache holds the sequence but the last token (the bonus)
    model_forward(draft, seq[:, :held], drafter.cache, positions[:, :held], 1)
    drafter.fed = held
    times = []
    for i in range(warmup + reps):
        synchronize(device)
        start = time.perf_counter()
        drafter.propose(seq, prompt_len, k, 0.0, 1.0, None)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
        crop_cache(drafter.cache, held)  # roll back: every repetition starts from the same state
        drafter.fed = held
    return 1000 * statistics.median(times)


def _fastest_over_passes(jobs, measure, passes: int, progress: bool, desc: str) -> dict:
    """``{job: min over passes of measure(job)}``, measuring every job once per pass, round-robin."""
    from tqdm.auto import tqdm

    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    best: dict = {}
    for job in tqdm([j for _ in range(passes) for j in jobs], desc=desc, disable=not progress, leave=False):
        ms = measure(job)
        best[job] = min(ms, best.get(job, ms))
    return best


def draft_cost_curve(draft, ks, methods=DRAFT_METHODS, *, prompt_len: int = 128, reps: int = 20, passes: int = 3,
                     mask_token_id: int | None = None, progress: bool = False,
                     desc: str = "draft cost") -> dict[str, dict[int, float]]:
    """``{method: {k: ms of one drafting iteration}}`` for every K in ``ks`` (fastest median of ``passes``)."""
    for m in methods:
        _check_method(m)
    best = _fastest_over_passes(
        [(m, k) for m in methods for k in ks],
        lambda job: draft_iteration_ms(draft, job[1], job[0], prompt_len=prompt_len, reps=reps,
                                       mask_token_id=mask_token_id),
        passes, progress, desc)
    return {m: {k: best[m, k] for k in ks} for m in methods}


def verify_cost_curve(target, ks, *, prompt_len: int = 128, reps: int = 20, passes: int = 3, progress: bool = False,
                      desc: str = "verify cost") -> dict[int, float]:
    """``{n: ms}`` of one target forward of n tokens for n = 1 (plain decoding) and n = K+1 for every K in ``ks``
    (verifying K proposals), from :func:`pard_ref.decoding.timing.forward_ms` (fastest median of ``passes``)."""
    ns = sorted({1} | {k + 1 for k in ks})
    best = _fastest_over_passes(ns, lambda n: forward_ms(target, prompt_len, n, reps), passes, progress, desc)
    return {n: best[n] for n in ns}


def draft_estimate_ms(draft, k: int, method: str, *, prompt_len: int = 128, reps: int = 20) -> float:
    """The drafting cost of one iteration predicted from forward costs alone (no loop, no argmax):
    AR ``k * forward_ms(draft, 1 token)``, PARD ``forward_ms(draft, k tokens)``."""
    _check_method(method)
    if method == "ar":
        return k * forward_ms(draft, prompt_len, 1, reps)
    return forward_ms(draft, prompt_len, k, reps)


def acceptance_curve(target, draft, prompts, ks, *, method: str, max_new_tokens: int = 64,
                     mask_token_id: int | None = None, eos_token_id=None, progress: bool = False,
                     desc: str | None = None) -> dict[int, float]:
    """``{k: τ}``: greedy mean accepted length of ``draft`` for ``target``, pooled over ``prompts``.

    ``prompts``: a list of ``[1, P]`` (or 1-D) id tensors. τ is pooled: total accepted length over
    total iterations of all prompts (so a prompt that stops early weighs less).
    """
    from tqdm.auto import tqdm

    _check_method(method)
    jobs = [(k, p) for k in ks for p in prompts]
    lengths: dict[int, list[int]] = {k: [] for k in ks}
    for k, p in tqdm(jobs, desc=desc or f"acceptance ({method})", disable=not progress, leave=False):
        out = generate(target, p, draft=draft, method=method, k=k, max_new_tokens=max_new_tokens,
                       mask_token_id=mask_token_id, eos_token_id=eos_token_id)
        lengths[k].extend(out.stats.accepted_lengths)
    return {k: sum(v) / len(v) for k, v in lengths.items()}


def speedup_bound(tau: float, target_1_ms: float, target_k1_ms: float, draft_ms: float) -> float:
    """``τ · t_target(1) / (t_target(K+1) + t_draft(K))``: the speedup over plain decoding an iteration
    can give when the loop itself costs nothing."""
    return tau * target_1_ms / (target_k1_ms + draft_ms)
