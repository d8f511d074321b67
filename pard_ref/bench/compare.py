"""Decoding methods side by side on a few prompts, and where each one's time went: the notebooks' timing helper.

:func:`compare_methods` runs every method on every prompt, back to back, in an order rotated from one
prompt to the next (so a change of machine load hits all methods alike and no method always follows
the same other one), after a warm-up, and returns one :class:`MethodRow` per method (and per prompt
group) with

- ``tokens_per_second`` and ``speedup`` over a named baseline method (same prompts);
- ``tau``: mean accepted length (accepted proposals + 1) of a drafted method;
- where the time went, from the decoder's own clocks: ``draft_share``, ``target_share`` and
  ``loop_share`` of the method's wall time (None for transformers' loop, whose clocks we do not have);
- per-call costs measured interleaved with the runs (one cost pass takes a slot in every prompt's
  rotation, and within a pass t(1) and t(K+1) alternate call by call, :func:`compare_costs`; each cost
  is the median over the passes; drafting by
  :func:`~pard_ref.bench.drafting_cost.draft_iteration_ms`): ``target_1_ms``, ``target_k1_ms``, the
  **verification cost ratio** ``t_target(K+1) / t_target(1)`` (1 would mean verifying K proposals is
  free), ``draft_ms`` per iteration, and the ``bound`` τ·t(1) / (t(K+1) + t_draft(K));
- ``same_tokens``: whether the method wrote exactly the baseline's tokens on every prompt and repeat.

A method is ``"hf-greedy"`` (``target.generate(do_sample=False)``, through
:func:`pard_ref.bench.methods.generate_with`), ``"none"`` (pard_ref plain decoding), or a drafted one:
``Method("ar" | "pard", draft, k)`` (shorthand: a tuple ``("pard", draft[, k[, mask_token_id]])``).
:func:`compare_costs` measures per-call costs of several models side by side, interleaved call by call
(so that a change of machine load hits every model and token count alike). :func:`overloaded` says
when the machine runs more processes than it has cores, when millisecond timings are distorted by
time-slicing and a notebook should not assert timing claims. :func:`format_rows` and :func:`describe` print them.

Measurement rules (as in :mod:`pard_ref.bench.decoding`): one process, greedy, EOS off for every method
(each generates exactly ``max_new_tokens``, so token identity is checkable); per prompt, the median wall
time over repeats; tokens/s = new tokens / sum of the per-prompt medians.

What it does NOT handle: sampling, batch size > 1, EOS stops, transformers' assisted generation and
prompt lookup (the full benchmark, :mod:`pard_ref.bench.decoding`, runs those), and comparisons across
processes or machines (compare rows of one call only). Few prompts and repeats measure little: on a
busy machine read the ratios, not the digits.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass

import torch

from ..decoding import generate
from ..decoding.kv_cache import crop_cache, model_forward, new_cache
from ..device import synchronize
from .drafting_cost import draft_iteration_ms, speedup_bound
from .methods import generate_with, hf_settings

__all__ = ["KINDS", "Method", "MethodRow", "compare_methods", "compare_costs", "format_rows", "describe", "overloaded"]

KINDS = ("hf-greedy", "none", "ar", "pard")
_DRAFTED = ("ar", "pard")
_COSTS = object()  # the cost pass's slot in each round's rotation
ALL = "all"        # the group of rows pooling every prompt, when prompts come in several groups


@dataclass(frozen=True)
class Method:
    """One way to decode: ``kind`` in :data:`KINDS`; ``draft`` and ``k`` for ``"ar"`` / ``"pard"`` (``k``
    None: the ``k`` given to :func:`compare_methods`); ``mask_token_id`` for ``"pard"`` (None: the
    draft's ``config.pard_token``)."""

    kind: str
    draft: torch.nn.Module | None = None
    k: int | None = None
    mask_token_id: int | None = None


@dataclass
class MethodRow:
    """One method on one group of prompts (see the module docstring for every field)."""

    group: str
    name: str
    kind: str
    k: int | None
    tokens_per_second: float
    speedup: float
    baseline: str
    tau: float | None
    new_tokens: int
    seconds: float
    draft_share: float | None
    target_share: float | None
    loop_share: float | None
    target_1_ms: float
    target_k1_ms: float | None
    verify_cost_ratio: float | None
    draft_ms: float | None
    bound: float | None
    same_tokens: bool
    prompts: int
    repeats: int

    def as_dict(self) -> dict:
        return asdict(self)


def _method(name: str, spec) -> Method:
    if isinstance(spec, str):
        spec = Method(spec)
    elif isinstance(spec, tuple):
        if not 2 <= len(spec) <= 4:
            raise ValueError(f"method {name!r}: a tuple must be (kind, draft[, k[, mask_token_id]]), "
                             f"got {len(spec)} items")
        spec = Method(*spec)
    if not isinstance(spec, Method):
        raise ValueError(f"method {name!r}: give a Method, a kind string or a (kind, draft[, k]) tuple, "
                         f"got {type(spec).__name__}")
    if spec.kind not in KINDS:
        raise ValueError(f"method {name!r}: unknown kind {spec.kind!r}; choose one of {', '.join(KINDS)}")
    if spec.kind in _DRAFTED and spec.draft is None:
        raise ValueError(f"method {name!r} ({spec.kind}) needs a draft model: Method({spec.kind!r}, draft, k)")
    if spec.kind not in _DRAFTED and spec.draft is not None:
        raise ValueError(f"method {name!r} ({spec.kind}) takes no draft")
    if spec.k is not None and (isinstance(spec.k, bool) or not isinstance(spec.k, int) or spec.k < 1):
        raise ValueError(f"method {name!r}: k must be an integer >= 1, got {spec.k!r}")
    return spec


def _prompt_groups(prompts) -> dict[str, list[torch.Tensor]]:
    groups = prompts if isinstance(prompts, dict) else {ALL: prompts}
    if ALL in groups and len(groups) > 1:
        raise ValueError(f"{ALL!r} names the pooled rows: give the prompt groups other names")
    out = {}
    for g, rows in groups.items():
        rows = [torch.as_tensor(p).long().reshape(1, -1) for p in (rows if isinstance(rows, (list, tuple)) else [rows])]
        if not rows or any(p.shape[1] == 0 for p in rows):
            raise ValueError(f"prompt group {g!r} is empty or holds an empty prompt: give [1, P] id tensors, P >= 1")
        out[str(g)] = rows
    if not out:
        raise ValueError("no prompts given: pass a list of [1, P] id tensors or a dict {group: [tensors]}")
    return out


def _rotated(items: list, shift: int) -> list:
    shift %= len(items)
    return items[shift:] + items[:shift]


def _run(method: Method, target, ids: torch.Tensor, k: int, n: int) -> dict:
    """One greedy generation of exactly ``n`` tokens, timed: tokens [n] (CPU), seconds, the decoder's stats."""
    device = ids.device
    synchronize(device)
    start = time.perf_counter()
    if method.kind == "hf-greedy":
        tokens, stats = generate_with("hf-greedy", target, {}, ids, k, n), None
    else:
        out = generate(target, ids, draft=method.draft, method=method.kind, k=k, max_new_tokens=n,
                       eos_token_id=None, mask_token_id=method.mask_token_id)
        tokens, stats = out.sequences[0, ids.shape[1]:].cpu(), out.stats
    synchronize(device)
    return {"tokens": tokens, "seconds": time.perf_counter() - start, "stats": stats}


@torch.inference_mode()
def compare_methods(target, prompts, methods: dict, *, k: int = 8, max_new_tokens: int = 32, repeats: int = 1,
                    baseline: str | None = None, warmup_tokens: int = 4, cost_reps: int = 5,
                    progress: bool = False) -> list[MethodRow]:
    """Run ``methods`` (``{name: Method | kind | (kind, draft[, k[, mask]])}``) on ``prompts`` and compare them.

    ``prompts``: a list of ``[1, P]`` id tensors, or ``{group: [tensors]}`` (then one row per method and
    group, plus rows of the group ``"all"`` pooling every prompt). ``baseline``: the name of the method
    every speedup is against (default: the first). ``k``: K of drafted methods that name none.
    Returns the rows in the order groups x methods.
    """
    from tqdm.auto import tqdm

    if not isinstance(methods, dict) or not methods:
        raise ValueError("methods must be a non-empty dict {name: method}, "
                         "e.g. {'plain': 'none', 'PARD': ('pard', draft)}")
    specs = {str(name): _method(str(name), spec) for name, spec in methods.items()}
    baseline = next(iter(specs)) if baseline is None else baseline
    if baseline not in specs:
        raise ValueError(f"baseline {baseline!r} is not one of the methods {list(specs)}")
    for label, v in (("k", k), ("max_new_tokens", max_new_tokens), ("repeats", repeats), ("cost_reps", cost_reps),
                     ("warmup_tokens", warmup_tokens)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {v!r}")
    groups = _prompt_groups(prompts)
    device = next(target.parameters()).device
    groups = {g: [p.to(device) for p in rows] for g, rows in groups.items()}
    ks = {name: (s.k or k) for name, s in specs.items()}
    n = max_new_tokens
    # prompts interleaved across groups: a change of machine load does not fall on one group
    order = [(g, i) for i in range(max(map(len, groups.values()))) for g in groups if i < len(groups[g])]
    ctx = int(statistics.median(p.shape[1] for rows in groups.values() for p in rows)) + n // 2

    runs: dict[tuple, list[dict]] = {}
    costs: dict[tuple, list[float]] = {}
    names = list(specs)
    with hf_settings({"target": target}, k):
        first = groups[order[0][0]][0]
        for name in names:  # warm-up, excluded
            _run(specs[name], target, first, ks[name], warmup_tokens)
        bar = tqdm(total=repeats * len(order) * (len(names) + 1), desc="compare", disable=not progress, leave=False)
        for r in range(repeats):
            for j, (g, i) in enumerate(order):
                for name in _rotated([*names, _COSTS], r * len(order) + j):
                    if name is _COSTS:
                        _measure_costs(costs, target, specs, ks, ctx, cost_reps)
                    else:
                        runs.setdefault((name, g, i), []).append(_run(specs[name], target, groups[g][i], ks[name], n))
                    bar.update()
        bar.close()
    cost = {key: statistics.median(v) for key, v in costs.items()}  # the median over the passes

    rows = []
    group_list = list(groups) + ([ALL] if len(groups) > 1 else [])
    for g in group_list:
        members = order if g == ALL else [(g, i) for i in range(len(groups[g]))]
        group_rows = {name: _row(name, specs[name], ks[name], g, members, runs, cost, baseline, n, repeats)
                      for name in names}
        base_tps = group_rows[baseline].tokens_per_second
        for row in group_rows.values():
            row.speedup = row.tokens_per_second / base_tps
        rows.extend(group_rows.values())
    return rows


def _measure_costs(costs: dict, target, specs: dict, ks: dict, ctx: int, reps: int) -> None:
    """One cost pass: t_target(1), t_target(K+1) for every K in use, one drafting iteration per drafted method."""
    ns = sorted({1} | {ks[name] + 1 for name, s in specs.items() if s.kind in _DRAFTED})
    for tokens, ms in compare_costs({"target": target}, ns, prompt_len=ctx, reps=reps, warmup=1)["target"].items():
        costs.setdefault(("target", tokens), []).append(ms)   # t(1) and t(K+1) interleaved call by call
    for name, s in specs.items():
        if s.kind in _DRAFTED:
            costs.setdefault(("draft", name), []).append(
                draft_iteration_ms(s.draft, ks[name], s.kind, prompt_len=ctx, reps=reps, mask_token_id=s.mask_token_id))


def _row(name, spec, k, group, members, runs, cost, baseline, n, repeats) -> MethodRow:
    seconds = sum(statistics.median(x["seconds"] for x in runs[name, g, i]) for g, i in members)
    all_runs = [x for g, i in members for x in runs[name, g, i]]
    same = all(torch.equal(x["tokens"], runs[baseline, g, i][0]["tokens"]) for g, i in members
               for x in runs[name, g, i])
    drafted = spec.kind in _DRAFTED
    tau = draft_share = target_share = loop_share = None
    if drafted:
        lengths = [a for g, i in members for a in runs[name, g, i][0]["stats"].accepted_lengths]
        tau = sum(lengths) / len(lengths)
    if spec.kind != "hf-greedy":
        wall = sum(x["stats"].seconds for x in all_runs)
        draft_share = sum(x["stats"].draft_seconds for x in all_runs) / wall
        target_share = sum(x["stats"].target_seconds for x in all_runs) / wall
        loop_share = max(1.0 - draft_share - target_share, 0.0)
    t1 = cost["target", 1]
    tk1 = cost["target", k + 1] if drafted else None
    draft_ms = cost["draft", name] if drafted else None
    return MethodRow(
        group=group, name=name, kind=spec.kind, k=k if drafted else None,
        tokens_per_second=n * len(members) / seconds, speedup=float("nan"), baseline=baseline, tau=tau,
        new_tokens=n * len(members), seconds=seconds, draft_share=draft_share, target_share=target_share,
        loop_share=loop_share, target_1_ms=t1, target_k1_ms=tk1, verify_cost_ratio=tk1 / t1 if drafted else None,
        draft_ms=draft_ms, bound=speedup_bound(tau, t1, tk1, draft_ms) if drafted else None, same_tokens=same,
        prompts=len(members), repeats=repeats)


@torch.no_grad()
def compare_costs(models: dict, new_tokens=(1, 9), *, prompt_len: int = 128, reps: int = 10, warmup: int = 2,
                  progress: bool = False) -> dict[str, dict[int, float]]:
    """``{label: {n: median ms}}``: one cached forward of n new tokens for every model of ``{label: model}``.

    Every model gets a KV cache of ``prompt_len`` random tokens, once. Then ``warmup + reps`` rounds:
    each round times ONE forward of every (model, n), in an order rotated from round to round, and
    crops the cache back after each call. Interleaving call by call means a busy moment on a shared
    machine hits every point alike instead of one point's whole measurement; each point's figure is
    the median of its ``reps`` timed calls. The token ids are random: a forward's cost does not
    depend on which ids it reads.
    """
    from tqdm.auto import tqdm

    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {label: model}")
    ns = sorted({int(x) for x in new_tokens})
    if not ns or ns[0] < 1 or reps < 1 or warmup < 0 or prompt_len < 1:
        raise ValueError(f"need new_tokens >= 1, reps >= 1, warmup >= 0 and prompt_len >= 1, got "
                         f"{list(new_tokens)}, {reps}, {warmup}, {prompt_len}")
    state = {}
    for label, model in models.items():
        device = next(model.parameters()).device
        g = torch.Generator().manual_seed(0)
        vocab = model.get_input_embeddings().num_embeddings
        prompt = torch.randint(4, vocab, (1, prompt_len), generator=g).to(device)  # [1, P]
        cache = new_cache(model)
        model_forward(model, prompt, cache, torch.arange(prompt_len, device=device)[None], 1)
        new = {n: torch.randint(4, vocab, (1, n), generator=g).to(device) for n in ns}  # [1, n] each
        positions = {n: torch.arange(prompt_len, prompt_len + n, device=device)[None] for n in ns}  # [1, n] each
        state[label] = (model, cache, new, positions, device)
    jobs = [(label, n) for label in models for n in ns]
    times: dict[tuple, list[float]] = {job: [] for job in jobs}
    for r in tqdm(range(warmup + reps), desc="per-call cost", disable=not progress, leave=False):
        for label, n in _rotated(jobs, r):
            model, cache, new, positions, device = state[label]
            synchronize(device)
            start = time.perf_counter()
            model_forward(model, new[n], cache, positions[n], n)  # logits for every new token, as verification needs
            synchronize(device)
            if r >= warmup:
                times[label, n].append(1000 * (time.perf_counter() - start))
            crop_cache(cache, prompt_len)  # roll back: every call sees the same cache
    return {label: {n: statistics.median(times[label, n]) for n in ns} for label in models}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def format_rows(rows: list[MethodRow]) -> str:
    """The rows as a fixed-width text table."""
    gw = max([5] + [len(r.group) for r in rows])
    nw = max([6] + [len(r.name) for r in rows])
    head = (f"{'group':{gw}s} {'method':{nw}s} {'K':>3s} {'tok/s':>8s} {'speedup':>8s} {'tau':>5s} {'draft':>6s} "
            f"{'target':>7s} {'loop':>5s} {'t(K+1)/t(1)':>11s} {'bound':>6s} same")
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.group:{gw}s} {r.name:{nw}s} {r.k if r.k else '-':>3} {r.tokens_per_second:8.1f} {r.speedup:7.2f}x "
            f"{'-' if r.tau is None else f'{r.tau:.2f}':>5s} {_pct(r.draft_share):>6s} {_pct(r.target_share):>7s} "
            f"{_pct(r.loop_share):>5s} {'-' if r.verify_cost_ratio is None else f'{r.verify_cost_ratio:.2f}x':>11s} "
            f"{'-' if r.bound is None else f'{r.bound:.2f}x':>6s} {'yes' if r.same_tokens else 'NO'}")
    return "\n".join(lines)


def describe(row: MethodRow) -> str:
    """One sentence: the speed against the baseline (a slowdown worded as one) and where the time went."""
    if row.name == row.baseline:
        return f"{row.name}: the baseline, {row.tokens_per_second:.0f} tokens/s"
    pace = (f"{row.speedup:.2f}x the speed of {row.baseline} ({100 * (row.speedup - 1):.0f}% faster)"
            if row.speedup >= 1 else
            f"{row.speedup:.2f}x the speed of {row.baseline}, a slowdown ({100 * (1 - row.speedup):.0f}% slower)")
    text = f"{row.name}: {pace}"
    if row.tau is not None:
        text += (f"; τ = {row.tau:.2f} tokens per iteration; drafting took {_pct(row.draft_share)} of its time, "
                 f"the target {_pct(row.target_share)}, the loop {_pct(row.loop_share)}; verifying {row.k} "
                 f"proposals ({row.k + 1} tokens) cost {row.verify_cost_ratio:.2f}x a 1-token step; "
                 f"bound {row.bound:.2f}x over an ideal plain loop")
    return text


def overloaded(margin: float = 1.0) -> bool:
    """Whether the 1-minute load average exceeds the CPU count + ``margin`` (False where the OS has no load average).

    On an overloaded machine the scheduler slices every process's time, and a forward of a few
    milliseconds is either interrupted or not: on a 2-core machine at load 6, the same t(9)/t(1)
    ratio of the zoo's target-l was measured anywhere between 0.8x and 2.3x (1.5x when quiet).
    """
    if not hasattr(os, "getloadavg"):
        return False
    return os.getloadavg()[0] > (os.cpu_count() or 1) + margin
