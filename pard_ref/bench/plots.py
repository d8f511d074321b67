"""The benchmark's pictures (:mod:`pard_ref.bench` re-exports them). Each draws on ``ax`` (a new figure
when None) and returns the Axes (``ax.figure`` is the figure).

- :func:`plot_speedup`: speedup over transformers greedy by domain (and the domain average), one bar
  per method, on one target;
- :func:`plot_accepted_histogram`: how many tokens each iteration produced (accepted length), per
  drafted method, pooled over domains, on one target;
- :func:`plot_k_sweep`: speedup over hf-greedy (solid) against K, and (dashed) the speedup the
  forwards alone would allow (the bound from measured costs, restated against hf-greedy), from
  :func:`pard_ref.bench.decoding.k_sweep` rows.

What it does NOT handle: several targets in one picture (call once per target) or results from
different runs in one picture.
"""

from __future__ import annotations

import statistics

COLORS = {"hf-greedy": "#9e9e9e", "none": "#616161", "hf-assisted": "#f0a35e", "hf-prompt-lookup": "#d6c15c",
          "ar": "#5b8fd6", "pard": "#2e9e5b"}


def _axes(ax, size=(7, 3.8)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _target_rows(result, target):
    rows = [r for r in result.rows if r["target"] == target]
    if not rows:
        raise ValueError(f"no rows for target {target!r}: the result has {', '.join(result.settings['targets'])}")
    return rows


def plot_speedup(result, target: str = "target-l", ax=None):
    """Grouped bars: x = domains then their mean, one bar per method, height = speedup over hf-greedy."""
    from ..viz.plots import grouped_bars

    rows = _target_rows(result, target)
    domains = list(result.settings["domains"])
    by = {(r["method"], r["domain"]): r["speedup"] for r in rows}
    values = {d: {m: by[m, d] for m in result.settings["methods"]} for d in domains}
    values["mean"] = {m: statistics.mean(by[m, d] for d in domains) for m in result.settings["methods"]}
    title = f"speedup by domain, {target} (K={result.settings['k']}, {result.settings['max_new_tokens']} tokens)"
    return grouped_bars(values, ylabel="speedup over hf-greedy", title=title, baseline=1.0, colours=COLORS,
                        label_size=6, label_rotation=90, legend_columns=3, ax=_axes(ax))


def plot_accepted_histogram(result, target: str = "target-l", ax=None):
    """Share of iterations against accepted length (tokens per iteration), one bar series per drafted method."""
    import numpy as np

    rows = [r for r in _target_rows(result, target) if r.get("accepted_lengths")]
    methods = [m for m in result.settings["methods"] if any(r["method"] == m for r in rows)]
    ax = _axes(ax)
    if not methods:
        ax.set_title(f"no drafted method was run on {target}")
        return ax
    pooled = {m: [a for r in rows if r["method"] == m for a in r["accepted_lengths"]] for m in methods}
    top = max(max(v) for v in pooled.values())
    x = np.arange(1, top + 1)
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        counts = np.bincount(pooled[m], minlength=top + 1)[1:]
        tau = sum(pooled[m]) / len(pooled[m])
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, counts / counts.sum(), width, color=COLORS.get(m),
               label=f"{m} (τ={tau:.2f}, {len(pooled[m])} iterations)")
    ax.set_xticks(x)
    ax.set_xlabel("accepted length (accepted proposals + 1)")
    ax.set_ylabel("share of iterations")
    ax.set_title(f"accepted lengths, {target}, all domains (K={result.settings['k']})")
    ax.legend(fontsize=7)
    return ax


def plot_k_sweep(rows: list[dict], ax=None):
    """Speedup over hf-greedy (solid, markers) and the forwards-only ceiling (dashed) against K, one colour
    per method. The ceiling is ``forwards_only_speedup``: the bound restated against hf-greedy."""
    if not rows:
        raise ValueError("no K sweep rows to plot: run pard_ref.bench.decoding.k_sweep first")
    ax = _axes(ax)
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = sorted((r for r in rows if r["method"] == m), key=lambda r: r["k"])
        ks = [r["k"] for r in rs]
        ax.plot(ks, [r["speedup"] for r in rs], marker="o", color=COLORS.get(m), label=f"{m} measured")
        ax.plot(ks, [r["forwards_only_speedup"] for r in rs], ls="--", color=COLORS.get(m),
                label=f"{m} forwards only (bound)")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xlabel("K (proposals per iteration)")
    ax.set_ylabel("speedup over hf-greedy")
    ax.set_title(f"K sweep, {rows[0]['target']}")
    ax.legend(fontsize=7)
    return ax
