"""The benchmark: PARD side by side with what a user would use instead, on the same models, measured here.

Six methods, each on target-s, target-m and target-l, greedy, on held-out prompts of each domain:

======================  ==================================================================================
method                  what runs
======================  ==================================================================================
``hf-greedy``           ``target.generate(do_sample=False)``: transformers' own greedy loop, the baseline
                        every speedup is against
``none``                pard_ref plain decoding (``generate(method="none")``): one target forward per token
``hf-assisted``         transformers assisted generation with draft-ar at a fixed K (the assistant's
                        ``generation_config``: ``num_assistant_tokens=K``, schedule ``"constant"``,
                        ``assistant_confidence_threshold=0``)
``hf-prompt-lookup``    transformers prompt-lookup decoding (``prompt_lookup_num_tokens=K``; no draft
                        model: candidates are copied from an earlier match of the last 2-gram)
``ar``                  pard_ref vanilla speculative decoding with draft-ar (K draft forwards per iteration)
``pard``                pard_ref PARD with draft-pard (ONE draft forward per iteration), the same draft
                        for all three targets
======================  ==================================================================================

**K.** Default ``K = zoo.PARD_K`` (8), the depth draft-pard was trained at and PARD's operating point:
a parallel draft's cost hardly grows with K, so it is run at the K it knows. All drafted methods use
the same K, so the table compares mechanisms at one setting; the K sweep (:func:`k_sweep`, 1..16 for
``ar`` and ``pard``) shows each method at every K, so a reader can also compare each at its best K
(:func:`goals` does, when a sweep is attached).

**Measurement rules.** One process; for each repeat, each prompt index, each domain and each target,
every method runs once, in an order rotated from one prompt to the next (so no method always runs right
after the same other one); a warm-up pass (every method on every target, excluded) comes first.
Per prompt the median wall time over repeats is kept; ``tokens_per_second`` = new tokens of the
domain's prompts / sum of their median seconds. EOS is disabled for every method (pard_ref:
``eos_token_id=None``; transformers: ``eos_token_id=None`` on the models' ``generation_config`` for the
run), so every method generates exactly ``max_new_tokens`` tokens and token identity is checkable:
``same_tokens`` says whether a method's tokens equal hf-greedy's on every prompt and repeat
(mismatches are listed in ``BenchResult.mismatches``, never hidden, never fatal).

**Calls and accepted lengths** are counted the same way for every method, by forward pre-hooks on the
models: ``target_calls``/``draft_calls`` are forwards per generation (mean over prompts). Every loop
here keeps the target cache one token behind the sequence (the last token, the bonus, is fed next),
so the cache length seen by successive target calls gives the tokens each iteration added: the
accepted lengths (accepted proposals + 1), for transformers' loops as for pard_ref's.

**The bound** (``docs/algorithm.md``): ``τ · t_target(1) / (t_target(K+1) + t_draft(K))`` with τ the
method's measured mean accepted length and per-call costs measured in the same process
(:func:`pard_ref.decoding.timing.forward_ms`, :func:`pard_ref.bench.drafting_cost.draft_iteration_ms`, at a cache length
equal to the median prompt plus half the generation). The costs are measured *interleaved with the
runs*: one cost pass takes a slot in every round's rotation, and each cost is the median over the
rounds (a row's bound: the rounds of its own domain), so costs and end-to-end times see the same
machine load (on a shared machine a one-off cost measurement was seen to be off by 1.5x either way). It is the speedup over an
ideal plain loop (one ``t_target(1)`` per token) that the method could reach if its own loop cost
nothing. ``of_bound`` = measured tokens/s / the tokens/s the forwards alone allow
(``1000 τ / (t_target(K+1) + t_draft(K))`` ms; ``1000 / t_target(1)`` for the plain methods): the share
of the wall time spent in the forwards the bound counts, i.e. how little the loop wastes.
``forwards_only_speedup`` = that forwards-only tokens/s over hf-greedy's measured tokens/s: the
bound restated against the table's baseline, a ceiling the measured ``speedup`` cannot pass (the
plain bound can be passed by a speedup over hf-greedy when transformers' own loop costs more per token
than ``t_target(1)``, which it does on models this small).
``hf-prompt-lookup`` has no bound: its iterations verify a varying number of candidates (often none).

**Families.** ``family="zoo"`` (the default) runs the zoo's targets and drafts on the corpus's held-out
prompts (plain text). ``family="smol"`` runs ``smol-target`` (SmolLM2-135M-Instruct, :mod:`pard_ref.zoo.smol`)
on the test split of the chat prompts (``data/eval/chat/``: code, math, chat), each wrapped in the chat
template, in float32 and bfloat16 (``dtype``); its drafted methods run when the registry has its drafts
(``smol-draft-ar``, ``smol-draft-pard``: :data:`FAMILIES`), and its per-call cost table also covers
1, 4, 9, 13 and 17 tokens per call. In float32 every method must give hf-greedy's tokens; a bf16 run can
round a near-tie differently in a (K+1)-token forward than in a 1-token one, so each divergence is
reported with the target's top-2 logit gap at that position (``top2_gap``, next to the size of one bf16
step at that logit), to tell a real near-tie from a bug.

The result (:class:`~pard_ref.bench.report.BenchResult`) and its reading (the goals, markdown) are in
:mod:`pard_ref.bench.report`, its pictures in :mod:`pard_ref.bench.plots`; both are re-exported here; how
each method runs is in :mod:`pard_ref.bench.methods`. The families themselves (:class:`Family`,
:data:`FAMILIES`, :func:`family_of`, the prompts) live in :mod:`pard_ref.zoo.families`, re-exported here.

What it does NOT handle: sampling (greedy only), batch size > 1, EOS stops (a chat answer that ends
early is continued past its end-of-turn token, as every method does alike), other checkpoints than the
registry's (the functions take zoo names), timings from separate processes (compare within one result
only). The machine's load is not controlled: on a shared machine read medians, not single runs.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch

from .. import zoo
from ..zoo.families import FAMILIES, Family, family_of
from ..zoo.families import prompts as _prompts  # the benchmark's encoded prompts
from ..decoding.seen_rows import compact_output_layer
from ..decoding.timing import forward_ms
from ..device import describe_machine
from ..scale import current as current_scale
from ..scale import preset
from ..text import corpus
from .drafting_cost import draft_iteration_ms, speedup_bound
from .methods import DRAFT_OF, DRAFTING, METHODS, PLAIN, CallCounter, generate_with, hf_settings, timed
from .plots import plot_accepted_histogram, plot_k_sweep, plot_speedup
from .report import BenchResult, format_cost_comparison, format_markdown, goals

__all__ = [
    "DOMAINS",
    "METHODS",
    "PRESETS",
    "TARGETS",
    "BenchConfig",
    "BenchResult",
    "FAMILIES",
    "Family",
    "available_methods",
    "config_for",
    "format_cost_comparison",
    "format_markdown",
    "goals",
    "k_sweep",
    "load_models",
    "main",
    "plot_accepted_histogram",
    "plot_k_sweep",
    "plot_speedup",
    "run",
    "top2_gap",
]

TARGETS = zoo.TARGETS
DOMAINS = corpus.DOMAINS
BASELINE = "hf-greedy"
SWEEP_METHODS = ("ar", "pard")
COSTS = "per-call costs"  # the cost pass's slot in a round's rotation


SMOL_COST_TOKENS = (1, 4, 9, 13, 17)  # the per-call cost table of the real model


def available_methods(family: str = "zoo", scale: str | None = None, *, built: bool = False) -> tuple[str, ...]:
    """The methods whose models the registry has for ``family`` (a drafted method needs its draft);
    with ``built``, only those whose draft is also built at ``scale`` (the default set of a run)."""
    fam = family_of(family)

    def have(m):
        name = fam.drafts.get(DRAFT_OF.get(m))
        return m not in DRAFT_OF or (name in zoo.names() and (not built or zoo.is_built(name, scale)))

    return tuple(m for m in METHODS if have(m))


def _default_methods(family: str, scale: str | None) -> tuple[str, ...]:
    """The zoo family runs every method (a missing model is an error naming the build command); another
    family runs the drafted methods whose drafts are built."""
    return available_methods(family, scale, built=family != "zoo")


def _check_methods(methods, family: str) -> tuple[str, ...]:
    methods = _check_names("method", methods, METHODS)
    fam, have = family_of(family), available_methods(family)
    missing = [m for m in methods if m not in have]
    if missing:
        raise ValueError(f"method(s) {', '.join(missing)} need the draft(s) "
                         f"{', '.join(sorted({fam.drafts[DRAFT_OF[m]] for m in missing}))}, which the model registry "
                         f"does not have for family {family!r}; available: {', '.join(have)}")
    return methods


@dataclass(frozen=True)
class BenchConfig:
    """Work sizes of one scale. ``cost_reps``: calls per cost measurement in each round's cost pass."""

    prompts_per_domain: int
    max_new_tokens: int
    repeats: int
    k: int = zoo.PARD_K
    warmup_tokens: int = 8
    cost_reps: int = 10
    sweep_prompts_per_domain: int = 1
    sweep_max_new_tokens: int = 64
    sweep_repeats: int = 2
    cost_tokens: tuple[int, ...] = ()  # more tokens-per-call sizes for the cost table, besides 1 and K+1


PRESETS = {
    # correctness in CI (the ci zoo): seconds
    "ci": BenchConfig(prompts_per_domain=1, max_new_tokens=16, repeats=2, warmup_tokens=4, cost_reps=3,
                      sweep_max_new_tokens=16, sweep_repeats=1),
    # the CPU table: ~6-7 minutes with one torch thread on a shared 2-core machine (load ~3.5), estimated
    # from timed 1/12 and 1/6 slices of the main loop (25-28 s) and of the K sweep (10-16 s)
    "full": BenchConfig(prompts_per_domain=4, max_new_tokens=96, repeats=3),
}
SMOL_PRESETS = {
    # the real model in CI: one prompt per domain, a few tokens, one repeat
    "ci": BenchConfig(prompts_per_domain=1, max_new_tokens=8, repeats=1, warmup_tokens=2, cost_reps=2,
                      sweep_max_new_tokens=8, sweep_repeats=1, cost_tokens=SMOL_COST_TOKENS),
    # the CPU table: 4 test prompts per domain, 64 tokens, 2 repeats, per dtype
    "full": BenchConfig(prompts_per_domain=4, max_new_tokens=64, repeats=2, cost_reps=5,
                        sweep_max_new_tokens=32, sweep_repeats=1, cost_tokens=SMOL_COST_TOKENS),
}
FAMILY_PRESETS = {"zoo": PRESETS, "smol": SMOL_PRESETS}


def config_for(scale: str | None = None, family: str = "zoo", **overrides) -> BenchConfig:
    """The preset of ``scale`` (default ``$PARD_REF_SCALE`` or ``full``) for ``family``, with ``overrides``
    (None = keep) applied."""
    family_of(family)
    cfg = preset(FAMILY_PRESETS[family], scale, **{k: v for k, v in overrides.items() if v is not None})
    for name in ("prompts_per_domain", "max_new_tokens", "repeats", "k", "sweep_prompts_per_domain",
                 "sweep_max_new_tokens", "sweep_repeats"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    return cfg


def _check_names(kind: str, given, allowed) -> tuple[str, ...]:
    given = (given,) if isinstance(given, str) else tuple(given)
    if not given:
        raise ValueError(f"no {kind}s given: choose from {', '.join(allowed)}")
    unknown = [g for g in given if g not in allowed]
    if unknown:
        raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown))}: choose from {', '.join(allowed)}")
    return tuple(dict.fromkeys(given))  # de-duplicated, order kept


# ----------------------------------------------------------------------------------------------
# models, prompts, counting calls
# ----------------------------------------------------------------------------------------------
def load_models(scale: str | None = None, targets=None, methods=None, *, family: str = "zoo", dtype=None) -> dict:
    """``{name: model}`` for the targets (by name) and the drafts ``methods`` need (by role: ``"draft-ar"``,
    ``"draft-pard"``, whichever family's model fills it), plus ``"tokenizer"``. ``dtype``: a torch dtype
    or its name (default float32)."""
    fam = family_of(family)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)
    models = {}
    for name in targets or fam.targets:
        models[name], models["tokenizer"] = zoo.load(name, scale, dtype=dtype)
    for role in sorted({DRAFT_OF[m] for m in methods or _default_methods(family, scale) if m in DRAFT_OF}):
        models[role] = compact_output_layer(zoo.load(fam.drafts[role], scale, dtype=dtype)[0])  # inference only
    for ref in fam.cost_references:  # at the run's scale if built there, else at another built scale; else left out
        for sc in (current_scale(scale), *(x for x in zoo.SCALES if x != current_scale(scale))):
            if zoo.is_built(ref, sc):
                models[f"{ref} ({sc})"], _ = zoo.load(ref, sc, dtype=dtype)
                break
    return models


def _references(models: dict, family: str) -> list[str]:
    """The keys of the cost references loaded in ``models`` (``"target-l (ci)"``, ...)."""
    return [key for ref in family_of(family).cost_references for key in models if key.startswith(f"{ref} (")]


@torch.inference_mode()
def top2_gap(target, ids: torch.Tensor, reference: torch.Tensor, position: int) -> dict:
    """The target's two best next tokens after ``ids`` + ``reference[:position]`` and their logit gap.

    One forward of the whole prefix, in the target's dtype. ``ulp``: the spacing of that dtype's numbers
    at the top logit (a gap of a few ulps is a near-tie that rounding can flip). ids: [1, P];
    reference: [n] new tokens.
    """
    seq = torch.cat([ids, reference[:position].to(ids.device)[None]], dim=1)  # [1, P + position]
    logits = target(seq).logits[0, -1]  # [V], in the target's dtype
    top = logits.float().topk(2)
    ulp = float(torch.finfo(logits.dtype).eps) * 2.0 ** float(torch.floor(torch.log2(top.values[0].abs())))
    return {"top2_tokens": top.indices.tolist(), "top2_gap": float(top.values[0] - top.values[1]), "ulp": ulp}


def _rotated(items, shift: int) -> list:
    shift %= len(items)
    return list(items[shift:]) + list(items[:shift])


# ----------------------------------------------------------------------------------------------
# per-call costs and the bound
# ----------------------------------------------------------------------------------------------
def _cost_context(prompts: dict, max_new_tokens: int) -> int:
    """Cache length the costs are measured at: the median prompt plus half the generation."""
    lens = [ids.shape[1] for rows in prompts.values() for _, ids in rows]
    return int(statistics.median(lens)) + max_new_tokens // 2


class _Costs:
    """Per-call costs sampled once per round (a slot in the rotation); the result is the median per cost,
    over all passes and, in ``by_domain``, over the passes of each domain's rounds (the machine's load
    can change between the domains' rounds; a row's bound uses the costs of its own domain's rounds)."""

    def __init__(self, models: dict, targets, methods, ks, ctx: int, reps: int, extra_tokens=(), references=()):
        self.models, self.targets, self.ks, self.ctx, self.reps = models, tuple(targets), sorted(ks), ctx, reps
        self.references = tuple(references)  # measured in every pass, beside the targets
        self.sizes = sorted({1, *extra_tokens} | {kk + 1 for kk in self.ks})
        self.drafting = sorted({DRAFTING[m] for m in methods if m in DRAFTING})
        self.samples: dict[tuple, list[float]] = {}

    def _add(self, key, ms: float) -> None:
        self.samples.setdefault(key, []).append(ms)

    def measure(self, targets=None, domain: str | None = None) -> None:
        """One pass: t(1) and t(K+1) of ``targets`` (default all), one drafting iteration per K and drafter."""
        for t in (*(targets or self.targets), *self.references):
            for n in self.sizes:
                self._add(("target", t, n, domain), forward_ms(self.models[t], self.ctx, n, self.reps))
        for how in self.drafting:
            draft = self.models["draft-ar" if how == "ar" else "draft-pard"]
            for kk in self.ks:
                ms = draft_iteration_ms(draft, kk, how, prompt_len=self.ctx, reps=self.reps)
                self._add(("draft", how, kk, domain), ms)

    def result(self) -> dict:
        """``{"target": {name: {n: ms}}, "draft": {"ar"|"pard": {k: ms}}, "by_domain": {domain: {"target": ...,
        "draft": ...}}, "context", "reps", "passes"}``: medians over the passes."""
        pooled: dict[tuple, list[float]] = {}
        out = {"context": self.ctx, "reps": self.reps, "target": {}, "draft": {}, "by_domain": {}}
        for (part, name, n, domain), ms in sorted(self.samples.items(), key=str):
            pooled.setdefault((part, name, n), []).extend(ms)
            if domain is not None:
                out["by_domain"].setdefault(domain, {"target": {}, "draft": {}})[part].setdefault(name, {})[n] = \
                    statistics.median(ms)
        for (part, name, n), ms in sorted(pooled.items(), key=str):
            out[part].setdefault(name, {})[n] = statistics.median(ms)
        out["passes"] = min(map(len, pooled.values()))
        return out


def _bound(method: str, tau: float | None, costs: dict, target: str, k: int,
           domain: str | None = None) -> tuple[float | None, float | None]:
    """``(bound, tokens/s the forwards alone allow)`` of one method on one target (None: no bound), from the
    costs measured in ``domain``'s rounds when there are some, else from all."""
    costs = costs.get("by_domain", {}).get(domain, costs)
    t = costs["target"][target]
    if method in PLAIN:
        return None, 1000.0 / t[1]
    if method not in DRAFTING or tau is None:
        return None, None
    draft_ms = costs["draft"][DRAFTING[method]][k]
    return speedup_bound(tau, t[1], t[k + 1], draft_ms), 1000.0 * tau / (t[k + 1] + draft_ms)


# ----------------------------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------------------------
def run(scale: str | None = None, targets=None, methods=None, domains=None, prompts_per_domain: int | None = None,
        max_new_tokens: int | None = None, k: int | None = None, repeats: int | None = None, progress: bool = True,
        *, models: dict | None = None, family: str = "zoo", dtype=None) -> BenchResult:
    """Run the benchmark (see the module docstring) and return a :class:`BenchResult`.

    ``None`` arguments take the family's defaults (its targets, domains, and every method whose
    models the registry has) and the preset of ``scale`` (zoo ``ci``: 1 prompt per domain, 16
    tokens, 2 repeats; ``full``: 4 prompts, 96 tokens, 3 repeats; smol ``ci``: 1 prompt, 8 tokens, 1
    repeat; ``full``: 4 prompts, 64 tokens, 2 repeats; K = 8 at all). hf-greedy, the baseline, is
    always run (added when ``methods`` lacks it). ``models``: already loaded models (from
    :func:`load_models`) to reuse; ``dtype``: the dtype to load them in (default float32).
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    scale = current_scale(scale)
    fam = family_of(family)
    targets = _check_names("target", targets or fam.targets, fam.targets)
    methods = _check_methods(methods or _default_methods(family, scale), family)
    methods = methods if BASELINE in methods else (BASELINE, *methods)
    domains = _check_names("domain", domains or fam.domains, fam.domains)
    cfg = config_for(scale, family, prompts_per_domain=prompts_per_domain, max_new_tokens=max_new_tokens, k=k,
                     repeats=repeats)
    k, n = cfg.k, cfg.max_new_tokens
    models = models or load_models(scale, targets, methods, family=family, dtype=dtype)
    device = next(models[targets[0]].parameters()).device
    prompts = {d: [(pid, ids.to(device)) for pid, ids in rows]
               for d, rows in _prompts(models["tokenizer"], domains, cfg.prompts_per_domain, family).items()}
    nets = {name: m for name, m in models.items() if name != "tokenizer"}
    counter = CallCounter(nets)
    runs: dict[tuple, list[dict]] = {}  # (method, target, domain, prompt index) -> one dict per repeat
    try:
        with hf_settings(nets, k), torch.inference_mode():
            first = prompts[domains[0]][0][1]
            for t in tqdm(targets, desc="warm-up", disable=not progress, leave=False):
                for m in methods:
                    generate_with(m, models[t], models, first, k, cfg.warmup_tokens)
            costs = _Costs(models, targets, methods, [k], _cost_context(prompts, n), cfg.cost_reps, cfg.cost_tokens,
                           _references(models, family))
            # domains alternate prompt by prompt, so a change of machine load does not fall on one domain
            jobs = [(r, d, p, t) for r in range(cfg.repeats) for p in range(cfg.prompts_per_domain) for d in domains
                    for t in targets]
            bar = tqdm(total=len(jobs) * (len(methods) + 1), desc="bench", disable=not progress)
            for i, (r, d, p, t) in enumerate(jobs):
                for m in _rotated((*methods, COSTS), i):  # the cost pass takes a slot in the rotation
                    if m == COSTS:
                        costs.measure([t], d)
                    else:
                        runs.setdefault((m, t, d, p), []).append(
                            timed(m, models[t], models, prompts[d][p][1], k, n, counter, t))
                    bar.update()
            bar.close()
            costs = costs.result()
    finally:
        counter.close()

    rows, mismatches = [], []
    for t in targets:
        for d in domains:
            base = _domain_row(BASELINE, t, d, prompts[d], runs, costs, k, n, None, mismatches)
            for m in methods:
                rows.append(base if m == BASELINE else
                            _domain_row(m, t, d, prompts[d], runs, costs, k, n, base, mismatches))
    for x in mismatches:  # where a method left hf-greedy's tokens: how close the target's top two were there
        if x["first_difference"] is not None:
            p, pos = x.pop("prompt_index"), x["first_difference"]
            ref = runs[BASELINE, x["target"], x["domain"], p][0]["tokens"]
            x.update(top2_gap(models[x["target"]], prompts[x["domain"]][p][1], ref, pos),
                     hf_token=int(ref[pos]), method_token=int(runs[x["method"], x["target"], x["domain"], p]
                                                              [x["repeat"]]["tokens"][pos]))
        x.pop("prompt_index", None)
    used_dtype = next(models[targets[0]].parameters()).dtype
    settings = {"scale": scale, "family": family, "dtype": str(used_dtype).removeprefix("torch."),
                "targets": list(targets), "methods": list(methods), "domains": list(domains),
                **asdict(cfg), "prompt_ids": {d: [pid for pid, _ in rows_] for d, rows_ in prompts.items()},
                "eos": "disabled (every method generates exactly max_new_tokens)", "greedy": True}
    return BenchResult(rows=rows, settings=settings, machine=describe_machine(), costs=costs, mismatches=mismatches,
                       seconds=time.perf_counter() - t0)


def _domain_row(method, target, domain, prompts, runs, costs, k, n, base, mismatches) -> dict:
    seconds, tokens_ok, accepted, tcalls, dcalls = 0.0, True, [], [], []
    for p, (pid, _) in enumerate(prompts):
        reps = runs[method, target, domain, p]
        seconds += statistics.median(r["seconds"] for r in reps)
        ref = runs[BASELINE, target, domain, p][0]["tokens"]
        for rep, r in enumerate(reps):
            if not torch.equal(r["tokens"], ref):
                tokens_ok = False
                diff = (r["tokens"] != ref).nonzero()
                mismatches.append({"method": method, "target": target, "domain": domain, "prompt_id": pid,
                                   "repeat": rep, "first_difference": int(diff[0]) if len(diff) else None,
                                   "prompt_index": p})
        accepted += reps[0]["accepted"]
        tcalls.append(reps[0]["target_calls"])
        dcalls.append(reps[0]["draft_calls"])
    new_tokens = n * len(prompts)
    tps = new_tokens / seconds
    base_tps = tps if base is None else base["tokens_per_second"]
    tau = None if method in PLAIN else sum(accepted) / len(accepted)
    bound, bound_tps = _bound(method, tau, costs, target, k, domain)
    return {
        "method": method, "target": target, "domain": domain, "k": None if method in PLAIN else k,
        "tokens_per_second": tps, "speedup": tps / base_tps,
        "mean_accepted_length": tau, "draft_calls": statistics.mean(dcalls), "target_calls": statistics.mean(tcalls),
        "bound": bound, "bound_tokens_per_second": bound_tps, "of_bound": tps / bound_tps if bound_tps else None,
        "forwards_only_speedup": bound_tps / base_tps if bound_tps else None,
        "same_tokens": tokens_ok, "seconds": seconds, "new_tokens": new_tokens,
        "accepted_lengths": None if method in PLAIN else accepted,
    }


# ----------------------------------------------------------------------------------------------
# the K sweep
# ----------------------------------------------------------------------------------------------
def k_sweep(scale: str | None = None, target: str | None = None, ks=range(1, 17), methods=SWEEP_METHODS,
            domains=None, prompts_per_domain: int | None = None, max_new_tokens: int | None = None,
            repeats: int | None = None, progress: bool = True, *, models: dict | None = None,
            family: str = "zoo", dtype=None) -> list[dict]:
    """Speedup, τ and bound against K for the pard_ref drafted methods on one target.

    One row per method and K: ``method, k, target, tokens_per_second, speedup`` (vs hf-greedy on the
    same prompts, measured in the same interleaved rounds), ``mean_accepted_length, bound, of_bound,
    forwards_only_speedup, draft_ms, verify_ms, same_tokens``. Same rules as :func:`run` (warm-up, rotation, medians); the
    presets: 1 prompt per domain, 64 tokens (ci: 16), 2 repeats (ci: 1).
    """
    from tqdm.auto import tqdm

    scale = current_scale(scale)
    fam = family_of(family)
    (target,) = _check_names("target", (target or fam.targets[-1],), fam.targets)
    methods = _check_names("method", methods, SWEEP_METHODS)
    _check_methods(methods, family)
    domains = _check_names("domain", domains or fam.domains, fam.domains)
    ks = sorted({int(x) for x in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"every K must be an integer >= 1, got {list(ks)}")
    cfg = config_for(scale, family, sweep_prompts_per_domain=prompts_per_domain, sweep_max_new_tokens=max_new_tokens,
                     sweep_repeats=repeats)
    n = cfg.sweep_max_new_tokens
    models = models or load_models(scale, (target,), methods, family=family, dtype=dtype)
    tgt = models[target]
    device = next(tgt.parameters()).device
    prompts = [(d, pid, ids.to(device)) for d, rows in _prompts(models["tokenizer"], domains,
                                                                cfg.sweep_prompts_per_domain, family).items()
               for pid, ids in rows]
    jobs = [(BASELINE, None)] + [(m, kk) for m in methods for kk in ks]
    nets = {target: tgt, **{DRAFT_OF[m]: models[DRAFT_OF[m]] for m in methods}}
    counter = CallCounter(nets)
    runs: dict[tuple, list[dict]] = {}
    try:
        with hf_settings(nets, max(ks)), torch.inference_mode():
            for m, kk in jobs:  # warm-up
                generate_with(m, tgt, models, prompts[0][2], kk or 1, cfg.warmup_tokens)
            costs = _Costs(models, (target,), methods, ks, _cost_context({"": [(0, p[2]) for p in prompts]}, n),
                           cfg.cost_reps)
            bar = tqdm(total=cfg.sweep_repeats * len(prompts) * (len(jobs) + 1), desc=f"K sweep ({target})",
                       disable=not progress)
            for r in range(cfg.sweep_repeats):
                for p, (_, _, ids) in enumerate(prompts):
                    for m, kk in _rotated([*jobs, (COSTS, None)], r * len(prompts) + p):
                        if m == COSTS:
                            costs.measure()
                        else:
                            runs.setdefault((m, kk, p), []).append(
                                timed(m, tgt, models, ids, kk or 1, n, counter, target))
                        bar.update()
            bar.close()
            costs = costs.result()
    finally:
        counter.close()

    def seconds(m, kk):
        return sum(statistics.median(x["seconds"] for x in runs[m, kk, p]) for p in range(len(prompts)))

    base_tps = n * len(prompts) / seconds(BASELINE, None)
    rows = []
    for m, kk in jobs[1:]:
        accepted = [a for p in range(len(prompts)) for a in runs[m, kk, p][0]["accepted"]]
        tau = sum(accepted) / len(accepted)
        tps = n * len(prompts) / seconds(m, kk)
        bound, bound_tps = _bound(m, tau, costs, target, kk)
        same = all(torch.equal(x["tokens"], runs[BASELINE, None, p][0]["tokens"])
                   for p in range(len(prompts)) for x in runs[m, kk, p])
        rows.append({"method": m, "k": kk, "target": target, "tokens_per_second": tps, "speedup": tps / base_tps,
                     "baseline_tokens_per_second": base_tps, "mean_accepted_length": tau, "bound": bound,
                     "of_bound": tps / bound_tps, "forwards_only_speedup": bound_tps / base_tps, "draft_ms": costs["draft"][m][kk],
                     "verify_ms": costs["target"][target][kk + 1], "target_1_ms": costs["target"][target][1],
                     "same_tokens": same, "prompts": len(prompts), "max_new_tokens": n, "repeats": cfg.sweep_repeats})
    return rows


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------
def main(scale: str | None = None, *, family: str = "zoo", dtypes=None, targets=None, methods=None, domains=None,
         prompts_per_domain=None, max_new_tokens=None, k=None, repeats=None, json_path=None, out_dir=None,
         sweep: bool = True, progress: bool = True) -> list[BenchResult]:
    """``python -m pard_ref bench``: run once per dtype (the family's: zoo float32; smol float32 and
    bfloat16), attach a K sweep on the largest target when drafted methods run, print the markdown (and,
    for several dtypes, their per-call costs side by side); write ``--json`` and, with ``--out DIR``,
    ``bench.md``, ``bench.json`` and the plots (speedup, accepted lengths, K sweep; per dtype, suffixed
    ``_float32`` / ``_bfloat16`` when several ran). Returns one result per dtype."""
    import json
    from pathlib import Path

    scale = current_scale(scale)
    fam = family_of(family)
    targets = _check_names("target", targets or fam.targets, fam.targets)
    methods = _check_methods(methods or _default_methods(family, scale), family)
    domains = _check_names("domain", domains or fam.domains, fam.domains)
    dtypes = _check_names("dtype", dtypes or fam.dtypes, ("float32", "bfloat16", "float16", "float64"))
    config_for(scale, family, prompts_per_domain=prompts_per_domain, max_new_tokens=max_new_tokens, k=k,
               repeats=repeats)
    sweep_target = "target-l" if "target-l" in targets else targets[-1]
    sweep_methods = tuple(m for m in SWEEP_METHODS if m in methods)
    results = []
    for dtype in dtypes:
        models = load_models(scale, targets, tuple(methods) + sweep_methods, family=family, dtype=dtype)
        result = run(scale, targets, methods, domains, prompts_per_domain, max_new_tokens, k, repeats, progress,
                     models=models, family=family)
        if sweep and sweep_methods:
            t0 = time.perf_counter()
            result.k_sweep = k_sweep(scale, sweep_target, methods=sweep_methods, domains=domains, progress=progress,
                                     models=models, family=family)
            result.seconds += time.perf_counter() - t0
        results.append(result)
        del models
    tables = [format_markdown(r) for r in results]
    if len(results) > 1:
        tables.append(format_cost_comparison(results))
    text = "\n".join(tables)
    print(text)
    blob = results[0].to_json() if len(results) == 1 else json.dumps(
        {"family": family, "results": [r.to_dict() for r in results]}, indent=1)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(blob)
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.md").write_text(text)
        (out / "bench.json").write_text(blob)
        for r in results:  # one set of plots per dtype (suffixed when there are several)
            dtype = r.settings.get("dtype", "")
            _save_plots(r, out, sweep_target, f"_{dtype}" if len(results) > 1 else "")
        print(f"bench: wrote {out}/bench.{{md,json}} and plots")
    return results


def _save_plots(result: BenchResult, out, target: str, suffix: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [(f"bench_speedup{suffix}.png", lambda ax: plot_speedup(result, target, ax=ax)),
               (f"bench_accepted{suffix}.png", lambda ax: plot_accepted_histogram(result, target, ax=ax))]
    if result.k_sweep:
        figures.append((f"bench_k_sweep{suffix}.png", lambda ax: plot_k_sweep(result.k_sweep, ax=ax)))
    for name, draw in figures:
        fig, ax = plt.subplots(figsize=(7, 4))
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
