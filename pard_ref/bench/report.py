"""A benchmark result and its reading: :class:`BenchResult` (rows, costs, machine; JSON in and out), the
goals, met or not, and the whole result as markdown.

- :func:`goals`: on target-l (domain averages), PARD against transformers greedy (>= 2x), against
  pard_ref's AR draft and transformers assisted generation with the same draft (>= 1.5x each), its
  end-to-end tokens/s against what its forwards allow (>= 90%), and the domain ordering (code most,
  prose least); with a K sweep attached, PARD against AR each at its best K. Each goal carries a
  note computed from the measured figures (τ, the bound) that says what limits it.
- :func:`format_markdown`: settings and machine, the table, domain averages per target, per-call costs,
  the goals (zoo family), the K sweep, token mismatches (with the target's top-2 logit gap where a
  method left hf-greedy's tokens).
- :func:`format_cost_comparison`: the per-call costs of several results (one per dtype) side by side.

What it does NOT do: judge figures from different runs together, or explain a gap beyond what the
measured τ, bound and costs show (the analysis belongs in ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field


@dataclass
class BenchResult:
    """What :func:`run` measured.

    ``rows``: one dict per method x target x domain with ``method, target, domain, tokens_per_second,
    speedup`` (vs hf-greedy, same target and domain), ``mean_accepted_length`` (τ; None for the plain
    methods), ``draft_calls, target_calls`` (per generation), ``bound, bound_tokens_per_second,
    of_bound, forwards_only_speedup`` (see the module docstring; None where not defined), ``same_tokens``, ``seconds``
    (sum of per-prompt medians), ``new_tokens`` and ``accepted_lengths`` (every iteration of every
    prompt, first repeat: the histogram's data).
    ``settings``/``machine``: what ran where; ``costs``: the measured per-call costs (ms);
    ``mismatches``: prompts whose tokens differ from hf-greedy's; ``k_sweep``: rows of :func:`k_sweep`
    when one was attached (the command line does).
    """

    rows: list[dict]
    settings: dict
    machine: dict
    costs: dict
    mismatches: list[dict] = field(default_factory=list)
    k_sweep: list[dict] | None = None
    seconds: float = 0.0

    def row(self, method: str, target: str, domain: str) -> dict | None:
        for r in self.rows:
            if (r["method"], r["target"], r["domain"]) == (method, target, domain):
                return r
        return None

    def average(self, method: str, target: str, key: str = "speedup") -> float | None:
        """Mean over the domains of one row field (None if any domain has no value)."""
        vals = [r[key] for r in self.rows if r["method"] == method and r["target"] == target]
        return statistics.mean(vals) if vals and all(v is not None for v in vals) else None

    @property
    def all_same_tokens(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, path=None) -> str:
        """The result as JSON (and written to ``path`` when given)."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path) -> BenchResult:
        from pathlib import Path

        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text()
        d = json.loads(text)
        d["costs"] = int_keys(d["costs"])
        return cls(**d)

    def __repr__(self) -> str:
        return (f"BenchResult({len(self.rows)} rows, {len(self.mismatches)} mismatches, "
                f"{'with' if self.k_sweep else 'no'} K sweep, {self.seconds:.0f} s)")


def int_keys(costs: dict) -> dict:
    """JSON turned the cost tables' int keys (tokens per call, K) into strings: turn them back."""
    out = dict(costs)
    for part in ("target", "draft"):
        out[part] = {name: {int(n): ms for n, ms in curve.items()} for name, curve in costs.get(part, {}).items()}
    if "by_domain" in costs:
        out["by_domain"] = {d: int_keys(c) for d, c in costs["by_domain"].items()}
    return out



GOALS = {"vs_greedy": 2.0, "vs_ar": 1.5, "vs_assisted": 1.5, "of_bound": 0.9}


def goals(result: BenchResult, target: str | None = None) -> list[dict]:
    """The benchmark's goals on ``target`` (default target-l, else the largest target run), domain averages.

    One dict per goal: ``goal``, ``measured`` (text), ``value``, ``threshold``, ``met`` (True/False, or
    None when it could not be measured), ``note`` (what limits it, from the measured figures).
    """
    targets = result.settings["targets"]
    target = target or ("target-l" if "target-l" in targets else targets[-1])
    avg = {m: result.average(m, target) for m in result.settings["methods"]}
    pard = avg.get("pard")
    out = []

    def add(goal, value, threshold, measured, note=""):
        out.append({"goal": goal, "target": target, "value": value, "threshold": threshold, "measured": measured,
                    "met": None if value is None else value >= threshold, "note": note})

    bound = result.average("pard", target, "bound")
    note = (f"the bound from measured costs is {bound:.2f}x over an ideal plain loop: with this τ and these "
            "per-call costs no loop can reach the goal" if bound is not None and bound < GOALS["vs_greedy"] else "")
    add("PARD >= 2x transformers greedy", pard, GOALS["vs_greedy"],
        "not run" if pard is None else f"{pard:.2f}x", note)
    for key, other, label in (("vs_ar", "ar", "pard_ref AR draft (paper: 1.78x)"),
                              ("vs_assisted", "hf-assisted", "transformers assisted generation, same draft-ar")):
        o = avg.get(other)
        ratio = pard / o if pard is not None and o else None
        tau = (result.average("pard", target, "mean_accepted_length"), result.average(other, target, "mean_accepted_length"))
        note = (f"τ pard {tau[0]:.2f} vs {other} {tau[1]:.2f}" if None not in tau else "")
        add(f"PARD >= 1.5x {label}", ratio, GOALS[key], "not run" if ratio is None else
            f"{ratio:.2f}x ({pard:.2f}x vs {o:.2f}x over hf-greedy)", note)
    share = result.average("pard", target, "of_bound")
    add("PARD end-to-end >= 90% of the bound", share, GOALS["of_bound"],
        "not run" if share is None else f"{share:.1%} of the tokens/s its forwards allow (bound {bound:.2f}x)",
        "the rest is the loop: argmax, verification, cache crops, Python")
    per = {d: (result.row("pard", target, d) or {}).get("speedup") for d in result.settings["domains"]}
    order = sorted((d for d in per if per[d] is not None), key=lambda d: -per[d])
    measured = ", ".join(f"{d} {per[d]:.2f}x" for d in order) or "not run"
    ok = None
    if {"code", "prose"} <= set(order):
        ok = order[0] == "code" and order[-1] == "prose"
    taus = {d: (result.row("pard", target, d) or {}).get("mean_accepted_length") for d in order}
    out.append({"goal": "code accelerated most, prose least (PARD)", "target": target, "value": None,
                "threshold": None, "measured": measured, "met": ok,
                "note": "τ by domain: " + ", ".join(f"{d} {t:.2f}" for d, t in taus.items() if t is not None)})
    if result.k_sweep:
        best = {m: max((r for r in result.k_sweep if r["method"] == m), key=lambda r: r["speedup"])
                for m in ("ar", "pard") if any(r["method"] == m for r in result.k_sweep)}
        if len(best) == 2:
            ratio = best["pard"]["speedup"] / best["ar"]["speedup"]
            add("PARD >= 1.5x AR, each at its best K (K sweep)", ratio, GOALS["vs_ar"],
                f"{ratio:.2f}x (pard {best['pard']['speedup']:.2f}x at K={best['pard']['k']}, "
                f"ar {best['ar']['speedup']:.2f}x at K={best['ar']['k']})",
                f"sweep target {best['pard']['target']}, {best['pard']['prompts']} prompt(s)")
    return out


def _fmt(v, spec: str = ".2f", suffix: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**NO**"
    return f"{v:{spec}}{suffix}"


def _gap_note(x: dict) -> str:
    """Where a method left hf-greedy's tokens: the tokens and the target's top-2 logit gap there."""
    if "top2_gap" not in x:
        return ""
    return (f" (hf-greedy {x['hf_token']}, this method {x['method_token']}; the target's top two there "
            f"{x['top2_tokens']}, logit gap {x['top2_gap']:.4g} = {x['top2_gap'] / x['ulp']:.1f} steps of its "
            f"dtype at that logit)")


def format_cost_comparison(results: list[BenchResult]) -> str:
    """The per-call costs (ms, and as a multiple of a 1-token call) of several results side by side, one
    row per target and dtype; each result's costs were measured interleaved with its own runs."""
    sizes = sorted({n for r in results for curve in r.costs["target"].values() for n in curve})
    lines = ["### Per-call costs by dtype (ms; x a 1-token call)", "",
             "| target | dtype | cache | " + " | ".join(f"{n} token{'s' if n > 1 else ''}" for n in sizes) + " |",
             "|---|---|---:|" + "---:|" * len(sizes)]
    for r in results:
        for t, curve in r.costs["target"].items():
            cells = [f"{curve[n]:.1f} ({curve[n] / curve[1]:.2f}x)" if n in curve else "-" for n in sizes]
            lines.append(f"| {t} | {r.settings.get('dtype', 'float32')} | {r.costs['context']} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_markdown(result: BenchResult) -> str:
    """The result as markdown: settings and machine, the table, domain averages per target, per-call
    costs, the goals (met or not), the K sweep (when attached) and any token mismatches."""
    s, mach = result.settings, result.machine
    family, dtype = s.get("family", "zoo"), s.get("dtype", "float32")
    title = ("## Benchmark: PARD vs transformers and pard_ref's own decoding" if family == "zoo" else
             f"## Benchmark, family `{family}` ({', '.join(s['targets'])}), {dtype}")
    prompts = ("held-out prompt(s) per domain" if family == "zoo" else
               "test prompt(s) per domain (data/eval/chat/, in the chat template)")
    lines = [
        title,
        "",
        (f"Machine: {mach['processor']}, {mach['cpu_count']} CPUs, device {mach['device_name']}, "
        f"{mach['torch_threads']} torch thread(s); Python {mach['python']}, torch {mach['torch']}, "
        f"transformers {mach['transformers']}; {mach['date']}."),
        (f"Settings: scale `{s['scale']}`, {dtype}, greedy, K={s['k']}, {s['max_new_tokens']} new tokens per prompt "
        f"(EOS disabled), {s['prompts_per_domain']} {prompts}, {s['repeats']} repeat(s), "
        f"methods interleaved in rotated order, warm-up excluded, medians. Wall time {result.seconds:.0f} s."),
        ("Speedup: tokens/s over hf-greedy on the same target and domain. τ: mean accepted length. Calls: "
        "forwards per generation. Bound: τ·t(1)/(t(K+1)+t_draft) from measured per-call costs; "
        "of bound: measured tokens/s over what the forwards alone allow."),
        "",
        "| target | domain | method | tokens/s | speedup | τ | draft calls | target calls | bound | of bound | same tokens |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in result.rows:
        lines.append(f"| {r['target']} | {r['domain']} | {r['method']} | {r['tokens_per_second']:.1f} | "
                     f"{r['speedup']:.2f}x | {_fmt(r['mean_accepted_length'])} | {r['draft_calls']:.1f} | "
                     f"{r['target_calls']:.1f} | {_fmt(r['bound'], '.2f', 'x')} | {_fmt(r['of_bound'], '.0%')} | "
                     f"{_fmt(r['same_tokens'])} |")
    lines += ["", "### Average over domains", "",
              "| target | method | tokens/s | speedup | τ | bound | of bound | same tokens |",
              "|---|---|---:|---:|---:|---:|---:|:---:|"]
    for t in s["targets"]:
        for m in s["methods"]:
            rs = [r for r in result.rows if r["method"] == m and r["target"] == t]
            lines.append(f"| {t} | {m} | {result.average(m, t, 'tokens_per_second'):.1f} | "
                         f"{result.average(m, t):.2f}x | {_fmt(result.average(m, t, 'mean_accepted_length'))} | "
                         f"{_fmt(result.average(m, t, 'bound'), '.2f', 'x')} | "
                         f"{_fmt(result.average(m, t, 'of_bound'), '.0%')} | {_fmt(all(r['same_tokens'] for r in rs))} |")
    c = result.costs
    lines += ["", (f"### Per-call costs (ms: median over {c['passes']} or more passes interleaved with the runs, "
              f"each the median of {c['reps']} calls; {c['context']} tokens in the cache)"), "",
              "| model | " + " | ".join(f"{n} token{'s' if n > 1 else ''}" for n in sorted(next(iter(c['target'].values())))) + " |",
              "|---|" + "---:|" * len(next(iter(c["target"].values())))]
    for t, curve in c["target"].items():
        label = t if t in s["targets"] else f"{t}, for comparison (not run)"
        lines.append(f"| {label} forward | " + " | ".join(f"{curve[n]:.2f}" for n in sorted(curve)) + " |")
        lines.append(f"| {t}: t(n) / t(1) | " + " | ".join(f"{curve[n] / curve[1]:.2f}x" for n in sorted(curve)) + " |")
    if c["draft"]:
        lines += ["", "One drafting iteration (ms): " + "; ".join(
            f"{how} ({'K draft forwards' if how == 'ar' else 'one forward of K tokens'}) "
            + ", ".join(f"K={kk}: {ms:.2f}" for kk, ms in sorted(curve.items())) for how, curve in c["draft"].items())
            + "."]
    if family == "zoo":
        lines += ["", "### Goals (CPU, zoo, domain averages)", "", "| goal | measured | met | note |",
                  "|---|---|:---:|---|"]
        for g in goals(result):
            met = "n/a" if g["met"] is None else ("met" if g["met"] else "**not met**")
            lines.append(f"| {g['goal']} ({g['target']}) | {g['measured']} | {met} | {g['note']} |")
    if result.k_sweep:
        r0 = result.k_sweep[0]
        sweep_methods = list(dict.fromkeys(r["method"] for r in result.k_sweep))
        lines += ["", (f"### K sweep ({r0['target']}, {r0['prompts']} prompt(s), {r0['max_new_tokens']} tokens, "
                  f"{r0['repeats']} repeat(s); speedup over hf-greedy {r0['baseline_tokens_per_second']:.1f} tokens/s)"), "",
                  "| K | " + " | ".join(f"{m} speedup | {m} τ | {m} bound" for m in sweep_methods) + " |",
                  "|---:|" + "---:|" * (3 * len(sweep_methods))]
        by = {(r["method"], r["k"]): r for r in result.k_sweep}
        for kk in sorted({r["k"] for r in result.k_sweep}):
            cells = []
            for m in sweep_methods:
                r = by.get((m, kk))
                cells += ["-"] * 3 if r is None else [f"{r['speedup']:.2f}x", f"{r['mean_accepted_length']:.2f}",
                                                       f"{r['bound']:.2f}x"]
            lines.append(f"| {kk} | " + " | ".join(cells) + " |")
        if not all(r["same_tokens"] for r in result.k_sweep):
            lines.append("\n**K sweep: some runs did not reproduce hf-greedy's tokens.**")
    lines += [""]
    if result.mismatches:
        lines += [f"**{len(result.mismatches)} generation(s) differ from hf-greedy's tokens:**", ""]
        lines += [f"- {x['method']} on {x['target']}, {x['domain']} prompt {x['prompt_id']} (repeat {x['repeat']}): "
                  f"first difference at new token {x['first_difference']}" + _gap_note(x) for x in result.mismatches]
    else:
        lines.append("Every method produced exactly hf-greedy's tokens on every prompt and repeat.")
    return "\n".join(lines) + "\n"
