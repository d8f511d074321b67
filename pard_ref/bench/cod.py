"""The COD training experiment (``python -m pard_ref train-bench``): what does COD buy when adapting draft-ar into a parallel draft?

Every setting starts from the same draft-ar, reads the same training text (same windows in the same
order: same steps, batch size, window length and seed) and differs only in the COD drop ratio:

=========  =====  ======  ===================================================
setting    r      r_min   layout tokens per window (K=8)
=========  =====  ======  ===================================================
no-drop    1.0    -       K·L (the full PARD layout)
cod        0.7    0.2     about 3.4·L (the paper's setting)
cod-r0.5   0.5    0.2     about 2.3·L
=========  =====  ======  ===================================================

Measured per setting (``run_bench``):

- **training wall time** and **text tokens/s** (text tokens = steps · batch · L, the same for all);
- **peak memory** of training. On a GPU: ``torch.cuda.max_memory_allocated`` during training. On a CPU:
  the peak resident set size (``resource.getrusage(...).ru_maxrss``) of a fresh Python process that
  does nothing but load draft-ar and the token streams and train; ``mem_before_mb`` is that
  process's resident size just before training, so ``peak - before`` is what training added.
  (With ``isolate=False``, as in the notebooks, training runs in the calling process and memory is
  not measured.)
- **mean accepted length** τ of the draft (greedy, K=8, ``target-l``, the first held-out prompts of
  each domain, ``pard_ref.generate(method="pard")``) at checkpoints every ``1/checkpoints`` of the
  budget, plus draft-ar itself at time 0, so acceptance can be plotted against training wall time.

``time_to_reach(curve, goal)`` reads off (linear interpolation between checkpoints) when a curve first
reaches a τ; ``summarize`` uses it for "how long does each setting need to reach the no-drop draft's
final τ". ``main`` (``python -m pard_ref train-bench --scale ci|full``) writes
``train_bench.json``, ``train_bench.md`` and ``train_bench.png``.

What it does NOT measure: wall time of evaluation (excluded from the training clock), variance over
seeds (one seed; at ``ci`` the budgets are tiny and τ rests on a few prompts, so read ci figures as a
smoke test, not as a result), memory in ``isolate=False`` mode.
"""

from __future__ import annotations

import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..scale import preset

DOMAINS = ("code", "math", "prose")


@dataclass(frozen=True)
class Setting:
    name: str
    drop_ratio: float
    min_drop_ratio: float


NO_DROP = Setting("no-drop", 1.0, 1.0)
COD = Setting("cod", 0.7, 0.2)
COD_05 = Setting("cod-r0.5", 0.5, 0.2)


@dataclass(frozen=True)
class BenchConfig:
    """One experiment. Every setting gets ``steps * batch_size * seq_len`` text tokens."""

    scale: str = "ci"
    steps: int = 48
    batch_size: int = 8
    seq_len: int = 64
    lr: float = 3e-3
    warmup: int = 4
    k: int = 8
    seed: int = 0
    checkpoints: int = 4  # evaluate after every 1/checkpoints of the budget
    settings: tuple[Setting, ...] = (NO_DROP, COD, COD_05)
    target: str = "target-l"
    eval_k: int = 8
    eval_prompts: int = 2  # per domain
    eval_new_tokens: int = 40

    @property
    def text_tokens(self) -> int:
        return self.steps * self.batch_size * self.seq_len


PRESETS = {
    # ~2-3 minutes on 2 busy CPU cores; a smoke test of the pipeline rather than a measurement
    "ci": BenchConfig(scale="ci"),
    # ~8-12 minutes on 2 CPU cores (estimated from ci-scale step and decoding times: no-drop
    # ~0.6-1.2 s/step, COD ~0.2-0.5 s/step at L=128, B=8; ~11 ms per decoded token); lr as the zoo's draft-pard
    "full": BenchConfig(scale="full", steps=240, batch_size=8, seq_len=128, lr=1e-3, warmup=24,
                        eval_prompts=6, eval_new_tokens=64),
}


def config_for(scale: str | None = None, **overrides) -> BenchConfig:
    """The preset of ``scale`` (default ``$PARD_REF_SCALE`` or ``full``) with ``overrides`` applied."""
    return preset(PRESETS, scale, **overrides)


# ----------------------------------------------------------------------------------------------
# training one setting (optionally in a fresh process, for an honest peak memory)
# ----------------------------------------------------------------------------------------------
def _rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def train_setting(cfg: BenchConfig, setting: Setting, draft_ar=None, tok=None, *, progress: bool = True) -> dict:
    """Train one setting from (a copy of) draft-ar; returns timings, memory, log and checkpoint weights.

    ``checkpoints``: one entry per ``1/cfg.checkpoints`` of the budget with ``steps`` done,
    ``text_tokens`` read, training ``seconds`` so far (snapshot copies excluded) and ``state`` (a
    CPU state dict). ``draft_ar``/``tok`` default to the zoo's at ``cfg.scale``.
    """
    from .. import zoo
    from ..training.pard_training import train_pard_with_log

    if draft_ar is None:
        draft_ar, tok = zoo.load("draft-ar", cfg.scale)
    draft = copy.deepcopy(draft_ar)
    streams = zoo.train_streams(tok)
    weights = dict(zoo.Recipe(steps=1).mixture)
    device = next(draft.parameters()).device
    cuda = device.type == "cuda"

    # checkpoint i (1..n) after round(i * steps / n) steps: snapshot at the first logged step at or after it
    log_every = max(1, cfg.steps // (5 * cfg.checkpoints))
    wanted = [max(0, round(i * cfg.steps / cfg.checkpoints) - 1) for i in range(1, cfg.checkpoints + 1)]
    checkpoints: list[dict] = []
    clock = {"start": 0.0, "paused": 0.0}

    def on_log(step, loss, metrics):
        if len(checkpoints) < len(wanted) and step >= wanted[len(checkpoints)]:
            t = time.perf_counter()  # the loop has synchronised (float(loss)) before calling us
            state = {n: p.detach().to("cpu", copy=True) for n, p in draft.state_dict().items()}
            checkpoints.append({"steps": step + 1, "text_tokens": (step + 1) * cfg.batch_size * cfg.seq_len,
                                "seconds": t - clock["start"] - clock["paused"], "state": state})
            clock["paused"] += time.perf_counter() - t

    mem_before = _rss_mb()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        mem_before = torch.cuda.memory_allocated(device) / 2**20
    clock["start"] = time.perf_counter()
    _, log = train_pard_with_log(
        draft, streams, k=cfg.k, drop_ratio=setting.drop_ratio, min_drop_ratio=setting.min_drop_ratio,
        mask_token_id=tok.mask_token_id, weights=weights, steps=cfg.steps, batch_size=cfg.batch_size,
        seq_len=cfg.seq_len, lr=cfg.lr, warmup=cfg.warmup, log_every=log_every, seed=cfg.seed,
        device=device, progress=progress, on_log=on_log)
    seconds = time.perf_counter() - clock["start"] - clock["paused"]
    if cuda:
        peak, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    else:
        peak, kind = _peak_rss_mb(), "cpu peak RSS (ru_maxrss) of the process"
    return {
        "setting": asdict(setting), "seconds": seconds, "text_tokens": cfg.text_tokens,
        "layout_tokens": log.tokens, "text_tokens_per_s": cfg.text_tokens / seconds,
        "peak_memory_mb": peak, "mem_before_mb": mem_before, "memory_kind": kind,
        "log": log.to_dict(), "checkpoints": checkpoints,
    }


def _worker(job_path: str) -> None:
    """Entry point of the fresh process: ``python -c "...; _worker(job)"`` (see ``train_setting_isolated``)."""
    job = json.loads(Path(job_path).read_text())
    torch.set_num_threads(job["threads"])
    cfg = BenchConfig(**{**job["cfg"], "settings": ()})
    result = train_setting(cfg, Setting(**job["setting"]), progress=job["progress"])
    torch.save(result, job["out"])


def train_setting_isolated(cfg: BenchConfig, setting: Setting, *, progress: bool = True) -> dict:
    """``train_setting`` in a fresh Python process (so its peak RSS is this setting's alone)."""
    with tempfile.TemporaryDirectory(prefix="pard-bench-") as tmp:
        job = Path(tmp) / "job.json"
        out = Path(tmp) / "result.pt"
        cfg_dict = {k: v for k, v in asdict(cfg).items() if k != "settings"}
        job.write_text(json.dumps({"cfg": cfg_dict, "setting": asdict(setting), "out": str(out),
                                   "threads": torch.get_num_threads(), "progress": progress}))
        code = "from pard_ref.bench.cod import _worker; import sys; _worker(sys.argv[1])"
        subprocess.run([sys.executable, "-c", code, str(job)], check=True)
        return torch.load(out, weights_only=False)


# ----------------------------------------------------------------------------------------------
# acceptance
# ----------------------------------------------------------------------------------------------
def eval_prompts(tok, per_domain: int) -> dict[str, list[torch.Tensor]]:
    """The first ``per_domain`` held-out prompts of each domain, encoded ``[1, T]``."""
    from ..text.corpus import load_eval_prompts
    from ..text.tokenizer import encode_prompt

    return {d: [torch.tensor([encode_prompt(tok, row["prompt"])]) for row in load_eval_prompts(d)[:per_domain]]
            for d in DOMAINS}


def acceptance(draft, target, tok, prompts: dict[str, list[torch.Tensor]], *, k: int = 8,
               max_new_tokens: int = 40) -> dict[str, float]:
    """τ (mean accepted length, greedy PARD decoding) per domain, pooled over that domain's iterations,
    and ``"mean"``: the average of the domains' τ."""
    from ..decoding import generate

    device = next(target.parameters()).device
    out = {}
    for domain, rows in prompts.items():
        lengths: list[int] = []
        for ids in rows:
            res = generate(target, ids.to(device), draft=draft, method="pard", k=k, max_new_tokens=max_new_tokens,
                           mask_token_id=tok.mask_token_id, eos_token_id=tok.eos_token_id)
            lengths += res.stats.accepted_lengths
        out[domain] = sum(lengths) / len(lengths)
    out["mean"] = sum(out[d] for d in prompts) / len(prompts)
    return out


# ----------------------------------------------------------------------------------------------
# reading the results
# ----------------------------------------------------------------------------------------------
def time_to_reach(curve: list[tuple[float, float]], goal: float) -> float | None:
    """The first training time at which a τ curve reaches ``goal``, or None if it never does.

    ``curve``: ``[(seconds, tau), ...]`` sorted by time (the first point is usually draft-ar at 0 s).
    Between two checkpoints τ is taken as linear in time, so the answer is interpolated; it is
    exact at the checkpoints themselves.
    """
    prev = None
    for t, tau in curve:
        if tau >= goal:
            if prev is None or prev[1] >= goal:
                return float(t)
            (t0, y0) = prev
            return float(t0 + (goal - y0) / (tau - y0) * (t - t0))
        prev = (t, tau)
    return None


def curve_of(result: dict, start_tau: float | None = None) -> list[tuple[float, float]]:
    """``[(seconds, mean tau)]`` of one setting's checkpoints, with ``(0, start_tau)`` first if given."""
    pts = [(c["seconds"], c["tau"]["mean"]) for c in result["checkpoints"]]
    return ([(0.0, start_tau)] if start_tau is not None else []) + pts


def summarize(bench: dict, reference: str = "no-drop") -> dict[str, dict]:
    """Per setting: final τ, and the training time to reach the reference's final τ (None = not within
    its budget) with the speed-up over the reference's own time to reach it.

    Curves start at draft-ar's τ at 0 s, except when draft-ar already reaches the goal (training did
    not beat the starting point, which happens at tiny budgets): then only the checkpoints count,
    and ``goal_not_above_start`` is True in every entry.
    """
    results = {r["setting"]["name"]: r for r in bench["results"]}
    start = bench.get("draft_ar_tau", {}).get("mean")
    ref = results.get(reference)
    goal = ref["checkpoints"][-1]["tau"]["mean"] if ref else None
    degenerate = goal is not None and start is not None and start >= goal
    if degenerate:
        start = None
    ref_time = time_to_reach(curve_of(ref, start), goal) if ref else None
    out = {}
    for name, r in results.items():
        t = time_to_reach(curve_of(r, start), goal) if goal is not None else None
        out[name] = {
            "final_tau": r["checkpoints"][-1]["tau"]["mean"],
            "seconds_to_reference_tau": t,
            "speedup_to_reference_tau": (ref_time / t) if (t and ref_time) else None,
            "goal_not_above_start": degenerate,
        }
    return out


def _fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def markdown_table(bench: dict) -> str:
    """A markdown report: one row per setting, then τ per checkpoint."""
    cfg = bench["config"]
    summ = summarize(bench)
    start = bench.get("draft_ar_tau", {})
    lines = [
        f"PARD adaptation of draft-ar (scale {cfg['scale']}): K={cfg['k']}, {cfg['steps']} steps x "
        f"{cfg['batch_size']} windows x L={cfg['seq_len']} = {cfg['steps'] * cfg['batch_size'] * cfg['seq_len']:,} "
        f"text tokens per setting, lr {cfg['lr']}, seed {cfg['seed']}. τ: greedy, K={cfg['eval_k']}, "
        f"{cfg['target']}, {cfg['eval_prompts']} held-out prompts per domain, {cfg['eval_new_tokens']} new tokens. "
        f"draft-ar before adaptation: τ = {_fmt(start.get('mean'))}.",
        "",
        "| setting | r | r_min | layout tokens | text tok/s | train s | peak MB | +MB | τ code | τ math | "
        "τ prose | τ mean | s to no-drop τ | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in bench["results"]:
        s, tau, name = r["setting"], r["checkpoints"][-1]["tau"], r["setting"]["name"]
        before = r.get("mem_before_mb")
        speedup = summ[name]["speedup_to_reference_tau"]
        plus = r["peak_memory_mb"] - before if (r.get("peak_memory_mb") is not None and before is not None) else None
        lines.append(
            f"| {name} | {s['drop_ratio']} | {s['min_drop_ratio'] if s['drop_ratio'] < 1 else '-'} | "
            f"{r['layout_tokens']:,} | {r['text_tokens_per_s']:,.0f} | {r['seconds']:.1f} | "
            f"{_fmt(r.get('peak_memory_mb'), '.0f')} | {_fmt(plus, '.0f')} | {tau['code']:.2f} | {tau['math']:.2f} | "
            f"{tau['prose']:.2f} | {tau['mean']:.2f} | "
            f"{_fmt(summ[name]['seconds_to_reference_tau'], '.1f', 'not reached')} | "
            f"{'-' if speedup is None else f'{speedup:.2f}x'} |")
    kinds = sorted({r.get("memory_kind") for r in bench["results"] if r.get("memory_kind")})
    if any(v["goal_not_above_start"] for v in summ.values()):
        lines += ["", "Note: the no-drop draft's final τ is not above draft-ar's, so the time-to-reach "
                  "columns count the checkpoints only (training did not beat the start at this budget)."]
    lines += ["", f"Memory: {', '.join(kinds) or 'not measured'}; +MB = peak minus the size before training.",
              "", "τ (mean over domains) at each checkpoint, with the training seconds it took:", "",
              "| setting | " + " | ".join(f"{i + 1}/{cfg['checkpoints']}" for i in range(cfg['checkpoints'])) + " |",
              "|---|" + "---|" * cfg["checkpoints"]]
    for r in bench["results"]:
        cells = [f"{c['tau']['mean']:.2f} @ {c['seconds']:.1f}s" for c in r["checkpoints"]]
        lines.append(f"| {r['setting']['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# the whole experiment
# ----------------------------------------------------------------------------------------------
def run_bench(cfg: BenchConfig, *, isolate: bool = True, progress: bool = True) -> dict:
    """Train every setting of ``cfg`` and measure τ at its checkpoints. Returns a JSON-able dict:
    ``config``, ``draft_ar_tau``, ``results`` (one per setting; checkpoints carry ``tau``, not weights).

    ``isolate=True`` trains each setting in a fresh process (peak memory measured); ``False`` trains
    in this process (faster to start, memory not measured: use it in notebooks).
    """
    from tqdm.auto import tqdm

    from .. import zoo

    draft_ar, tok = zoo.load("draft-ar", cfg.scale)
    target, _ = zoo.load(cfg.target, cfg.scale)
    prompts = eval_prompts(tok, cfg.eval_prompts)

    def tau_of(model):
        return acceptance(model, target, tok, prompts, k=cfg.eval_k, max_new_tokens=cfg.eval_new_tokens)

    bench = {"config": {**asdict(cfg), "settings": [asdict(s) for s in cfg.settings]},
             "device": str(next(draft_ar.parameters()).device), "torch_threads": torch.get_num_threads(),
             "draft_ar_tau": tau_of(draft_ar), "results": []}
    probe = copy.deepcopy(draft_ar)
    for setting in cfg.settings:
        if isolate:
            r = train_setting_isolated(cfg, setting, progress=progress)
        else:
            r = train_setting(cfg, setting, draft_ar, tok, progress=progress)
            r["peak_memory_mb"] = r["mem_before_mb"] = None
            r["memory_kind"] = None
        for c in tqdm(r["checkpoints"], desc=f"τ of {setting.name}", disable=not progress, leave=False):
            probe.load_state_dict(c.pop("state"))
            c["tau"] = tau_of(probe)
        bench["results"].append(r)
    bench["summary"] = summarize(bench)
    return bench


def plot_acceptance_vs_time(bench: dict, ax=None):
    """τ (mean over domains) against training wall time, one line per setting; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    start = bench.get("draft_ar_tau", {}).get("mean")
    for r in bench["results"]:
        ts, taus = zip(*curve_of(r, start))
        s = r["setting"]
        ax.plot(ts, taus, marker="o", label=f"{s['name']} (r={s['drop_ratio']})")
    ref = {r["setting"]["name"]: r for r in bench["results"]}.get("no-drop")
    if ref:
        ax.axhline(ref["checkpoints"][-1]["tau"]["mean"], color="grey", ls=":", lw=1, label="no-drop final τ")
    ax.set_xlabel("training wall time (s)")
    ax.set_ylabel("mean accepted length τ")
    ax.set_title("acceptance vs training time (same text tokens)")
    ax.legend(fontsize=8)
    return ax


def main(scale: str = "ci", out_dir: str | Path | None = None, *, isolate: bool = True,
         progress: bool = True, **overrides) -> dict:
    """Run the experiment at ``scale`` and write ``train_bench.{json,md,png}`` into ``out_dir``
    (default ``docs/_runs/train_bench-<scale>``, not committed). ``overrides``: ``BenchConfig`` fields."""
    cfg = config_for(scale, **overrides)
    out_dir = Path("docs/_runs") / f"train_bench-{scale}" if out_dir is None else out_dir
    t0 = time.perf_counter()
    bench = run_bench(cfg, isolate=isolate, progress=progress)
    bench["total_seconds"] = time.perf_counter() - t0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_bench.json").write_text(json.dumps(bench, indent=1))
    table = markdown_table(bench)
    (out / "train_bench.md").write_text(table)
    try:
        import matplotlib

        matplotlib.use("Agg")
        ax = plot_acceptance_vs_time(bench)
        ax.figure.tight_layout()
        ax.figure.savefig(out / "train_bench.png", dpi=120)
    except Exception as e:  # a plot is a bonus; the table and JSON are the result
        print(f"train-bench: no plot ({e})", file=sys.stderr)
    print(table)
    print(f"train-bench: {bench['total_seconds']:.0f} s in all; wrote {out}/train_bench.{{json,md,png}}")
    return bench
