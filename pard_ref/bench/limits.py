"""When speculative decoding stops paying: batching, sampling temperature, a costlier draft, and
the bound with GPU-like costs.

Everything moves a term of the bound (``docs/benchmarks.md``)::

    speedup <= τ · t_target(1) / (t_target(K+1) + t_draft(K))

- :func:`batched_forward_ms` / :func:`batch_cost_table`: what one target forward of 1 and of K+1
  tokens per sequence costs at batch sizes 1, 4, 16 (every sequence with its own cache of
  ``prompt_len`` tokens), and the drafting cost at the same batch. At batch 1 a small model is bound
  by per-call overhead and weight reads, so K+1 tokens cost little more than 1: that slack is what
  verification spends. The bigger the batch, the more arithmetic one call does per weight read, until
  the call is compute-bound and K+1 tokens per sequence cost up to K+1 times one: the slack is gone,
  and so is the gain.
- :func:`temperature_acceptance`: τ at several sampling temperatures (the lossless rejection rule,
  seeded): sampling accepts a proposal with probability min(1, p/q) instead of on an argmax match.
- :func:`acceptance_vs_temperature`: the same question teacher-forced on held-out windows, position by
  position: greedy verification accepts a proposal when the two argmaxes agree; sampling accepts one
  drawn proposal with probability sum_x min(p_T(x), q_T(x)) (one minus the total-variation distance of
  the two distributions at temperature T). Which is larger depends on the models, not on a rule.
- :func:`draft_ladder`: several autoregressive drafts of growing cost for one target: τ, drafting
  cost and the bound of each. A better draft raises τ but costs more per iteration.
- :func:`gpu_bound`: the bound when verification is free (t(K+1) = t(1), true on a GPU at batch 1)
  and drafting costs a share ``c`` of a target call: ``τ / (1 + c)``; :func:`tau_for_speedup`
  inverts it.

What it does NOT handle: real batched speculative decoding (sequences accept different numbers of
tokens and need ragged caches; here only the per-call costs are measured at batch b, and the bound at
batch b assumes every sequence has the batch-1 τ), padding, and GPU timings (the GPU case is the
formula with assumed costs, not a measurement).
"""

from __future__ import annotations

import statistics
import time

import torch

from ..decoding.kv_cache import crop_cache, model_forward, new_cache
from ..decoding import generate
from ..device import synchronize
from .drafting_cost import draft_iteration_ms, speedup_bound

__all__ = ["batched_forward_ms", "batch_cost_table", "temperature_acceptance", "acceptance_vs_temperature",
           "draft_ladder", "gpu_bound", "tau_for_speedup"]


@torch.inference_mode()
def batched_forward_ms(model, batch: int, new_tokens: int, *, prompt_len: int = 128, reps: int = 10,
                       warmup: int = 2, seed: int = 0) -> float:
    """Median milliseconds of one cached forward of ``new_tokens`` tokens for each of ``batch`` sequences.

    Every sequence has ``prompt_len`` random tokens in the cache; the cache is cropped back after each
    call, so every repetition sees the same state. Logits are computed for all new tokens (as
    verification needs)."""
    if batch < 1 or new_tokens < 1 or prompt_len < 1:
        raise ValueError(f"need batch, new_tokens and prompt_len >= 1, got {batch}, {new_tokens}, {prompt_len}")
    device = next(model.parameters()).device
    vocab = model.get_input_embeddings().num_embeddings
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(4, vocab, (batch, prompt_len), generator=g).to(device)  # [B, P]
    new = torch.randint(4, vocab, (batch, new_tokens), generator=g).to(device)  # [B, n]
    cache = new_cache(model)
    model_forward(model, prompt, cache, torch.arange(prompt_len, device=device).expand(batch, -1), 1)
    positions = torch.arange(prompt_len, prompt_len + new_tokens, device=device).expand(batch, -1)  # [B, n]
    times = []
    for i in range(warmup + reps):
        synchronize(device)
        start = time.perf_counter()
        model_forward(model, new, cache, positions, new_tokens)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
        crop_cache(cache, prompt_len)
    return 1000 * statistics.median(times)


def batch_cost_table(target, draft, *, k: int, batches=(1, 4, 16), method: str = "pard", prompt_len: int = 128,
                     reps: int = 10, tau: float | None = None) -> list[dict]:
    """One row per batch size: ``batch``, ``t1`` (ms of a 1-token target forward for the whole batch),
    ``tk1`` (K+1 tokens per sequence), ``ratio`` = tk1 / t1, ``draft_ms`` (one drafting iteration for the
    whole batch: PARD one forward of K tokens, AR K forwards of one), ``ms_per_token`` = t1 / batch (plain
    decoding's cost per generated token), and ``bound`` (with ``tau``, the batch-1 τ, when given)."""
    if method not in ("pard", "ar"):
        raise ValueError(f"method must be 'pard' or 'ar', got {method!r}")
    rows = []
    for b in batches:
        t1 = batched_forward_ms(target, b, 1, prompt_len=prompt_len, reps=reps)
        tk1 = batched_forward_ms(target, b, k + 1, prompt_len=prompt_len, reps=reps)
        if method == "pard":
            draft_ms = batched_forward_ms(draft, b, k, prompt_len=prompt_len, reps=reps)
        else:
            draft_ms = k * batched_forward_ms(draft, b, 1, prompt_len=prompt_len, reps=reps)
        row = {"batch": b, "t1": t1, "tk1": tk1, "ratio": tk1 / t1, "draft_ms": draft_ms, "ms_per_token": t1 / b}
        row["bound"] = None if tau is None else speedup_bound(tau, t1, tk1, draft_ms)
        rows.append(row)
    return rows


def temperature_acceptance(target, draft, prompts, temperatures=(0.0, 0.5, 1.0), *, method: str = "pard",
                           k: int = 4, max_new_tokens: int = 48, seeds=(0, 1), mask_token_id: int | None = None,
                           eos_token_id=None) -> dict[float, float]:
    """``{temperature: τ}``, pooled over ``prompts`` (``[1, P]`` id tensors) and ``seeds`` (temperature 0 is
    greedy and runs once per prompt). Sampling uses the lossless rejection rule, so the output
    distribution is the target's at that temperature whatever the draft."""
    out = {}
    for temp in temperatures:
        lengths: list[int] = []
        for p in prompts:
            for seed in (seeds if temp > 0 else seeds[:1]):
                res = generate(target, p, draft=draft, method=method, k=k, max_new_tokens=max_new_tokens,
                               temperature=temp, seed=seed, mask_token_id=mask_token_id, eos_token_id=eos_token_id)
                lengths += res.stats.accepted_lengths
        out[temp] = sum(lengths) / len(lengths)
    return out


@torch.no_grad()
def acceptance_vs_temperature(target, draft, windows: torch.Tensor, temperatures=(0.0, 0.5, 1.0)) -> dict[float, float]:
    """``{temperature: mean acceptance probability of one proposal}``, teacher-forced on ``windows`` ``[B, T]``
    (both models read the same real prefix at every position). Temperature 0: the share of positions where
    the two argmaxes agree (greedy verification). T > 0: the mean of sum_x min(p_T(x), q_T(x)), the chance
    that a proposal drawn from the draft's q_T is accepted by the rejection rule against the target's p_T.
    An AR draft's view of the text; a PARD draft's deeper proposals read masks instead."""
    device = next(target.parameters()).device
    ids = windows.to(device)
    lp = target(input_ids=ids).logits.double()  # [B, T, V]
    lq = draft(input_ids=ids.to(next(draft.parameters()).device)).logits.double().to(lp.device)  # [B, T, V]
    out = {}
    for temp in temperatures:
        if temp < 0:
            raise ValueError(f"temperatures must be >= 0, got {temp}")
        if temp == 0:
            out[temp] = float((lp.argmax(-1) == lq.argmax(-1)).double().mean())
        else:
            p, q = torch.softmax(lp / temp, -1), torch.softmax(lq / temp, -1)
            out[temp] = float(torch.minimum(p, q).sum(-1).mean())
    return out


def draft_ladder(target, drafts: dict, prompts, *, k: int = 4, max_new_tokens: int = 48, prompt_len: int = 128,
                 reps: int = 10, eos_token_id=None) -> list[dict]:
    """One row per AR draft (``{name: model}``, cheapest first): ``name``, ``params``, ``tau`` (greedy, pooled
    over ``prompts``), ``draft_ms`` (one drafting iteration: K one-token forwards), ``cost_share`` =
    draft_ms / t_target(1), and ``bound``; the target's ``t1`` and ``tk1`` ride along in every row."""
    from ..decoding.timing import forward_ms

    t1 = forward_ms(target, prompt_len, 1, reps)
    tk1 = forward_ms(target, prompt_len, k + 1, reps)
    rows = []
    for name, draft in drafts.items():
        lengths: list[int] = []
        for p in prompts:
            res = generate(target, p, draft=draft, method="ar", k=k, max_new_tokens=max_new_tokens,
                           eos_token_id=eos_token_id)
            lengths += res.stats.accepted_lengths
        tau = sum(lengths) / len(lengths)
        draft_ms = draft_iteration_ms(draft, k, "ar", prompt_len=prompt_len, reps=reps)
        rows.append({"name": name, "params": sum(p.numel() for p in draft.parameters()), "tau": tau,
                     "draft_ms": draft_ms, "cost_share": draft_ms / t1, "t1": t1, "tk1": tk1,
                     "bound": speedup_bound(tau, t1, tk1, draft_ms)})
    return rows


def gpu_bound(tau: float, draft_share: float) -> float:
    """The bound with verification free, t(K+1) = t(1), and drafting ``draft_share`` · t(1): ``τ / (1 + c)``."""
    if tau < 1 or draft_share < 0:
        raise ValueError(f"need τ >= 1 and a drafting share >= 0, got τ={tau}, share={draft_share}")
    return speedup_bound(tau, 1.0, 1.0, draft_share)


def tau_for_speedup(speedup: float, draft_share: float) -> float:
    """The τ :func:`gpu_bound` needs to reach ``speedup``: ``speedup · (1 + c)``."""
    if speedup <= 0 or draft_share < 0:
        raise ValueError(f"need a speedup > 0 and a drafting share >= 0, got {speedup}, {draft_share}")
    return speedup * (1 + draft_share)
