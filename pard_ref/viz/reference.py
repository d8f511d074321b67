"""Live runs beside the committed full results: one picture, with the noise drawn, so a reader sees
what a small live run can show and what it cannot.

The committed results are the JSON files under ``docs/`` (``docs/pard_training/train_bench_full.json``,
``docs/bench/bench_full.json``, ``docs/ttt_bench_full.json``); :func:`load_reference` reads one.
Every figure function takes plain dicts (a live result and a reference of the same shape), draws live
and reference side by side, and returns a picture object carrying the numbers it drew, so a test or
a notebook can assert on them without reading pixels.

Noise, as drawn:

- τ (mean accepted length): ±2 standard errors. :func:`tau_standard_error` takes per-prompt τ by
  domain (:func:`per_prompt_tau` measures them) (the spread between prompts, which includes the correlation of iterations within one
  prompt); :func:`iteration_standard_error` takes the accepted lengths of every iteration and treats
  them as independent, which understates the noise (iterations of one prompt are correlated).
- speedups: a relative band given by the caller (``docs/benchmarks.md`` reads differences under ~5%
  as noise on its shared machine).
- tasks solved: Wilson 95% intervals (:func:`wilson_interval`), binomial over tasks.

What it does NOT handle: seed-to-seed variation (every committed result is one seed), or noise that
is not sampling noise (a busy machine slows one live run; the ratios are measured side by side to
cancel it, not to remove it).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REFERENCES", "load_reference", "wilson_interval", "tau_standard_error", "iteration_standard_error",
           "per_prompt_tau",
           "cod_reference_figure", "bench_reference_figure", "ttt_reference_figure"]

REFERENCES = {
    "cod": "pard_training/train_bench_full.json",
    "bench": "bench/bench_full.json",
    "ttt": "ttt_bench_full.json",
}
LIVE, REFERENCE = "#2b6cb0", "#a0aec0"


def docs_dir() -> Path:
    """The repository's ``docs/`` folder (next to the package in a source checkout)."""
    return Path(__file__).resolve().parents[2] / "docs"


def load_reference(name: str) -> dict:
    """The committed full result ``name`` (a key of :data:`REFERENCES`, or a path relative to ``docs/``)."""
    rel = REFERENCES.get(name, name)
    path = docs_dir() / rel
    if not path.is_file():
        raise FileNotFoundError(f"no committed result at {path}: the reference results live in the source "
                                f"checkout's docs/ folder (known names: {sorted(REFERENCES)})")
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------------------------
# noise
# ----------------------------------------------------------------------------------------------
def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95% for z = 1.96) of a binomial proportion, as fractions in [0, 1]."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need n >= 1 and 0 <= successes <= n, got {successes} of {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def tau_standard_error(per_prompt: dict[str, list[float]], n_prompts: int | None = None) -> float:
    """Standard error of the mean over domains of per-domain τ, from per-prompt τ values.

    ``per_prompt``: ``{domain: [τ of each prompt]}`` (at least 2 prompts per domain). ``n_prompts``: the
    number of prompts per domain to scale to (default: as many as given), e.g. a reference run's."""
    if not per_prompt or any(len(v) < 2 for v in per_prompt.values()):
        raise ValueError("need at least 2 prompts per domain to estimate the spread between prompts")
    var = sum(statistics.variance(v) / (n_prompts or len(v)) for v in per_prompt.values())
    return math.sqrt(var) / len(per_prompt)


def per_prompt_tau(target, draft, prompts: dict, *, method: str = "pard", k: int = 8, max_new_tokens: int = 64,
                   mask_token_id: int | None = None, eos_token_id=None) -> dict[str, list[float]]:
    """``{domain: [τ of each prompt]}``: greedy mean accepted length of ``draft`` for ``target`` on every prompt
    of ``prompts`` (``{domain: [[1, P] id tensors]}``), the input of :func:`tau_standard_error`."""
    from ..decoding import generate

    out = {}
    for domain, rows in prompts.items():
        out[domain] = []
        for ids in rows:
            res = generate(target, ids, draft=draft, method=method, k=k, max_new_tokens=max_new_tokens,
                           mask_token_id=mask_token_id, eos_token_id=eos_token_id)
            out[domain].append(res.stats.mean_accepted_length)
    return out


def iteration_standard_error(accepted_lengths: list[int]) -> float:
    """sd / sqrt(n) of accepted lengths, iterations taken as independent (an underestimate)."""
    if len(accepted_lengths) < 2:
        raise ValueError("need at least 2 iterations")
    return statistics.stdev(accepted_lengths) / math.sqrt(len(accepted_lengths))


def _axes(axes, n, size):
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, n, figsize=size)
    return list(axes) if n > 1 else [axes]


# ----------------------------------------------------------------------------------------------
# COD training (notebook 04)
# ----------------------------------------------------------------------------------------------
@dataclass
class CODReferencePicture:
    curves: dict = field(default_factory=dict)       # (source, setting) -> [(text tokens, τ)]
    throughput: dict = field(default_factory=dict)   # (source, setting) -> text tokens / s
    cod_speedup: dict = field(default_factory=dict)  # source -> COD / no-drop text tokens / s
    se: dict = field(default_factory=dict)           # source -> standard error of a τ point
    axes: list = field(default_factory=list)


def _cod_curves(bench: dict) -> dict:
    start = bench.get("draft_ar_tau", {}).get("mean")
    out = {}
    for r in bench["results"]:
        pts = [(c["text_tokens"], c["tau"]["mean"]) for c in r["checkpoints"]]
        out[r["setting"]["name"]] = ([(0, start)] if start is not None else []) + pts
    return out


def cod_reference_figure(live: dict, reference: dict, *, live_se: float | None = None,
                         reference_se: float | None = None, axes=None) -> CODReferencePicture:
    """Left: τ against text tokens trained, live (solid) and reference (dashed), ±2 SE bars. Right: text
    tokens per second of training for each setting, live and reference, with COD's ratio over no-drop.
    ``live``/``reference``: results of ``pard_ref.bench.cod.run_bench`` (the reference from ``docs/``)."""
    ax_tau, ax_tps = _axes(axes, 2, (13, 3.8))
    pic = CODReferencePicture(axes=[ax_tau, ax_tps], se={"live": live_se, "reference": reference_se})
    styles = {"live": dict(ls="-", marker="o"), "reference": dict(ls="--", marker="s", alpha=0.7)}
    colours = {}
    for source, bench, se in (("reference", reference, reference_se), ("live", live, live_se)):
        for name, pts in _cod_curves(bench).items():
            xs, ys = [x / 1000 for x, _ in pts], [y for _, y in pts]
            colour = colours.setdefault(name, f"C{len(colours)}")
            ax_tau.errorbar(xs, ys, yerr=None if se is None else 2 * se, color=colour, capsize=3,
                            label=f"{name}, {source}", **styles[source])
            pic.curves[source, name] = pts
        for r in bench["results"]:
            pic.throughput[source, r["setting"]["name"]] = r["text_tokens"] / r["seconds"]
        if (source, "cod") in pic.throughput and (source, "no-drop") in pic.throughput:
            pic.cod_speedup[source] = pic.throughput[source, "cod"] / pic.throughput[source, "no-drop"]
    ax_tau.set(xlabel="text tokens trained (thousands)", ylabel="mean accepted length τ",
               title="τ as training goes: live vs committed full run (bars ±2 SE)")
    ax_tau.legend(fontsize=7)
    names = [n for n in colours if ("live", n) in pic.throughput]
    width = 0.38
    for i, (source, colour) in enumerate((("live", LIVE), ("reference", REFERENCE))):
        vals = [pic.throughput.get((source, n), 0.0) for n in names]
        bars = ax_tps.bar([j + (i - 0.5) * width for j in range(len(names))], vals, width, color=colour,
                          label=source + (f" (COD {pic.cod_speedup[source]:.1f}x no-drop)" if source in pic.cod_speedup
                                          else ""))
        ax_tps.bar_label(bars, fmt="%.0f", fontsize=7)
    ax_tps.set_xticks(range(len(names)), names)
    ax_tps.set(ylabel="text tokens / s of training", title="training throughput")
    ax_tps.legend(fontsize=7)
    return pic


# ----------------------------------------------------------------------------------------------
# the decoding benchmark (notebook 06)
# ----------------------------------------------------------------------------------------------
@dataclass
class BenchReferencePicture:
    speedup: dict = field(default_factory=dict)  # (source, method) -> mean speedup over the domains
    tau: dict = field(default_factory=dict)      # (source, method) -> τ pooled over the domains
    tau_se: dict = field(default_factory=dict)   # (source, method) -> iteration standard error of τ
    axes: list = field(default_factory=list)


def bench_reference_figure(live_rows: list[dict], reference_rows: list[dict], *, target: str = "target-l",
                           methods=("hf-assisted", "hf-prompt-lookup", "ar", "pard"), noise: float = 0.05,
                           axes=None) -> BenchReferencePicture:
    """Left: speedup over hf-greedy (mean over domains) per method, live and reference, with a ±``noise``
    relative band. Right: τ per drafted method (pooled over domains) with ±2 iteration standard errors.
    ``*_rows``: ``BenchResult.rows`` (the reference: ``load_reference("bench")["rows"]``)."""
    ax_s, ax_t = _axes(axes, 2, (13, 3.8))
    pic = BenchReferencePicture(axes=[ax_s, ax_t])
    for source, rows in (("live", live_rows), ("reference", reference_rows)):
        for m in methods:
            sel = [r for r in rows if r["method"] == m and r["target"] == target]
            if not sel:
                continue
            pic.speedup[source, m] = statistics.mean(r["speedup"] for r in sel)
            lengths = [a for r in sel for a in (r.get("accepted_lengths") or [])]
            if len(lengths) >= 2:
                pic.tau[source, m] = sum(lengths) / len(lengths)
                pic.tau_se[source, m] = iteration_standard_error(lengths)
    width = 0.38
    for ax, values, err, ylabel in ((ax_s, pic.speedup, None, "speedup over hf-greedy (mean of domains)"),
                                    (ax_t, pic.tau, pic.tau_se, "mean accepted length τ")):
        shown = [m for m in methods if ("live", m) in values or ("reference", m) in values]
        for i, (source, colour) in enumerate((("live", LIVE), ("reference", REFERENCE))):
            vals = [values.get((source, m), float("nan")) for m in shown]
            if err is None:
                yerr = [noise * v for v in vals]
            else:
                yerr = [2 * err.get((source, m), float("nan")) for m in shown]
            bars = ax.bar([j + (i - 0.5) * width for j in range(len(shown))], vals, width, yerr=yerr, capsize=3,
                          color=colour, label=source)
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
        ax.set_xticks(range(len(shown)), shown, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    ax_s.axhline(1.0, color="black", lw=0.8)
    ax_s.set_title(f"{target}: speedup (bars: ±{noise:.0%}, the stated noise)")
    ax_t.set_title(f"{target}: τ (bars: ±2 SE, iterations taken as independent)")
    return pic


# ----------------------------------------------------------------------------------------------
# test-time training (notebook 07)
# ----------------------------------------------------------------------------------------------
@dataclass
class TTTReferencePicture:
    solved: dict = field(default_factory=dict)     # (source, run) -> (solved, n)
    interval: dict = field(default_factory=dict)   # (source, run) -> (low, high) fraction, Wilson 95%
    nll: dict = field(default_factory=dict)        # (source, run) -> answer NLL
    same_tasks: int = 0                            # live tasks that the reference also ran
    axes: list = field(default_factory=list)


def ttt_reference_figure(live: dict, reference: dict, *, part: str = "synthetic",
                         runs=("base", "ttt", "no_augmentation", "plain_pairs", "shared_adapter"),
                         axes=None) -> TTTReferencePicture:
    """Left: fraction of tasks solved per run with Wilson 95% intervals: live, the reference on the same
    tasks (when the live tasks are among the reference's), and the whole reference. Right: answer NLL.
    ``live``/``reference``: results of ``pard_ref.ttt.bench.run_bench`` (the reference from ``docs/``)."""
    ax_s, ax_n = _axes(axes, 2, (13, 3.8))
    pic = TTTReferencePicture(axes=[ax_s, ax_n])
    lv, rf = live["benchmarks"][part], reference["benchmarks"][part]
    index = {tid: i for i, tid in enumerate(rf["task_ids"])}
    same = [index[t] for t in lv["task_ids"] if t in index]
    pic.same_tasks = len(same)
    sources = [("live", lv, None)]
    if same and len(same) == len(lv["task_ids"]):
        sources.append(("reference, same tasks", rf, same))
    sources.append(("reference, all tasks", rf, None))
    shown = [r for r in runs if r in lv["solved"] and r in rf["solved"]]
    width = 0.8 / len(sources)
    colours = (LIVE, "#718096", REFERENCE)
    for i, (source, b, subset) in enumerate(sources):
        fr, lo_err, hi_err = [], [], []
        for run in shown:
            if subset is None:
                k, n = b["solved"][run], b["n_tasks"]
            else:
                k, n = sum(b["per_task"][run][j] for j in subset), len(subset)
            lo, hi = wilson_interval(k, n)
            pic.solved[source, run], pic.interval[source, run] = (k, n), (lo, hi)
            fr.append(k / n)
            lo_err.append(k / n - lo)
            hi_err.append(hi - k / n)
        xs = [j + (i - (len(sources) - 1) / 2) * width for j in range(len(shown))]
        ax_s.bar(xs, fr, width, yerr=[lo_err, hi_err], capsize=3, color=colours[i % 3],
                 label=f"{source} (n = {pic.solved[source, shown[0]][1]})")
        if subset is None and "answer_nll" in b:
            vals = [b["answer_nll"].get(run, float("nan")) for run in shown]
            for run, v in zip(shown, vals):
                pic.nll[source, run] = v
            ax_n.bar(xs, vals, width, color=colours[i % 3], label=source)
    for ax in (ax_s, ax_n):
        ax.set_xticks(range(len(shown)), shown, fontsize=8)
        ax.legend(fontsize=7)
    ax_s.set(ylabel="fraction of tasks solved (pass@2)", title=f"{part}: solved, Wilson 95% intervals")
    ax_n.set(ylabel="answer NLL (nats / token)", title=f"{part}: answer NLL, lower is better")
    return pic
