"""The paper's ablation table in miniature: base model vs test-time training and its ablations.

Two benchmarks:

1. **held-out synthetic**: tasks of the generator's ``HELDOUT_FAMILIES`` (5 new families and 8 new
   compositions, never seen in pretraining), grids <= ``max_side`` (6, as in pretraining),
   generated with a seed of their own;
2. **ARC-AGI-1 evaluation**: the evaluation tasks whose every grid is <= 10x10 (77 tasks), taken
   *shortest first* (by the token length of the task with its answers) as far as the budget allows
   (``n_arc``: 10 in the 20-minute ``full`` ablation). Shortest first is a selection bias toward small
   grids, which the report says. ``n_arc=None`` (CLI ``--arc-tasks all``) takes all 77.

Rows (pass@2, tasks solved; a task with several test inputs gets fractional credit):

=====================  ========================================================================
base                   no TTT; the same augmented inference + hierarchical vote as the full method
TTT                    the full method (``TTTSettings()`` of the scale)
no augmentations       TTT data = the leave-one-out tasks only (inference unchanged)
plain pairs            TTT data = each demonstration as a 0-shot input -> output pair
shared adapter         one adapter trained once on the union of all tasks' TTT data
vote: untransformed    the full method's candidates, identity views only
vote: flat / hier.     the full method's candidates under the flat / hierarchical vote
vote: oracle           the answer is anywhere among the full method's candidates (upper bound)
=====================  ========================================================================

The vote rows re-score the full method's stored candidates: nothing is re-trained.

``run_bench(scale, model=None)`` loads ``arc-base`` from the zoo unless a model is given (the
notebook and the tests pass a small one); ``markdown_table`` formats; ``main`` is the CLI
(``python -m pard_ref ttt-bench --scale ci|full [--parts arc] [--arc-tasks all|N] [--runs base,ttt]``),
writing ``ttt_bench.{md,json}`` after every run (``"complete": false`` until the last one), so an
interrupted long run keeps the runs it finished. ``bench_options`` checks those options (a
``ValueError`` naming the option and what to use instead) before anything is loaded.

Runs are independent (every task's seeds come from its id), so a subset of runs or parts gives the
same numbers as the same rows of a complete run; only the shared adapter depends on the task set
(it trains on the union of the tasks' examples).

Not measured: variance over seeds (one seed; at ``ci`` a handful of tasks, read it as a smoke test).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..device import describe_machine, read_machine
from ..scale import preset
from . import generator as gen
from .pipeline import TTTSettings, ablation_settings, mean_answer_nll, solve_tasks
from .serialize import encode_task
from .tasks import Task, load_arc, select_small

ROWS = (
    ("base", "base model (no TTT)", "base", None),
    ("ttt", "TTT, full method", "ttt", None),
    ("no_augmentation", "TTT without augmentations", "no_augmentation", None),
    ("plain_pairs", "TTT on plain input->output pairs", "plain_pairs", None),
    ("shared_adapter", "TTT with one shared adapter", "shared_adapter", None),
    ("vote_untransformed", "vote: untransformed only", "ttt", "untransformed"),
    ("vote_flat", "vote: flat", "ttt", "flat"),
    ("vote_hierarchical", "vote: hierarchical", "ttt", "hierarchical"),
    ("vote_oracle", "vote: oracle", "ttt", "oracle"),
)
RUNS = ("base", "ttt", "no_augmentation", "plain_pairs", "shared_adapter")
PARTS = ("synthetic", "arc")  # the two benchmarks, in the order they run


@dataclass(frozen=True)
class BenchConfig:
    """What one scale of the benchmark runs."""

    n_synthetic: int
    n_arc: int | None  # None: every eligible ARC task (77 at arc_max_side 10)
    settings: TTTSettings = field(default_factory=TTTSettings)
    max_side: int = 6  # synthetic grids, as in pretraining
    arc_max_side: int = 10
    seed: int = 2024  # the synthetic benchmark's generator seed (pretraining never uses it)
    runs: tuple[str, ...] = RUNS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["settings"] = self.settings.to_dict()
        return d


PRESETS = {
    # ci: a smoke test, about 1.5 minutes on 2 cores
    "ci": BenchConfig(n_synthetic=8, n_arc=2),
    # full: about 20 minutes on 2 busy CPU cores (one torch thread); 100 held-out tasks cycle through
    # the 13 held-out families (8 tasks each of 9 families, 7 of the other 4)
    "full": BenchConfig(n_synthetic=100, n_arc=10),
}


def config_for(scale: str | None = None, **overrides) -> BenchConfig:
    """The preset of ``scale`` (default ``$PARD_REF_SCALE`` or ``full``) with ``overrides`` applied."""
    return preset(PRESETS, scale, **overrides)


def synthetic_tasks(cfg: BenchConfig) -> list[Task]:
    """``n_synthetic`` held-out tasks, cycling through ``HELDOUT_FAMILIES``."""
    return gen.generate_tasks(gen.HELDOUT_FAMILIES, n=cfg.n_synthetic, seed=cfg.seed, max_side=cfg.max_side)


def eligible_arc_tasks(max_side: int = 10) -> list[Task]:
    """Every ARC-AGI-1 evaluation task whose grids are all <= ``max_side``, shortest first (by the
    token length of the task with its answers; ties by id). 77 tasks at 10."""
    small = select_small(load_arc("evaluation"), max_side)
    length = {t.id: sum(len(encode_task(t, i, with_answer=True)) for i in range(len(t.test))) for t in small}
    return sorted(small, key=lambda t: (length[t.id], t.id))


def arc_tasks(cfg: BenchConfig) -> list[Task]:
    """The ``n_arc`` shortest ARC-AGI-1 evaluation tasks with every grid <= ``arc_max_side`` (all of
    them if ``n_arc`` is None). Asking for more than there are raises ``ValueError``."""
    tasks = eligible_arc_tasks(cfg.arc_max_side)
    if cfg.n_arc is None:
        return tasks
    if cfg.n_arc < 1 or cfg.n_arc > len(tasks):
        raise ValueError(f"n_arc (--arc-tasks) is {cfg.n_arc}, but {len(tasks)} ARC-AGI-1 evaluation tasks have "
                         f"every grid <= {cfg.arc_max_side}x{cfg.arc_max_side}: use a number from 1 to "
                         f"{len(tasks)}, or 'all'")
    return tasks[: cfg.n_arc]


def _names(option: str, text: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated subset of ``known``, returned in ``known``'s order."""
    names = [n.strip() for n in str(text).split(",")]
    if not names or any(not n for n in names):
        raise ValueError(f"{option} {text!r}: give a comma-separated list of {', '.join(known)}")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"{option}: unknown name(s) {', '.join(map(repr, bad))}; use a comma-separated list of "
                         f"{', '.join(known)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{option} {text!r} names a value twice")
    return tuple(n for n in known if n in names)


def parse_arc_tasks(text: str | int | None) -> int | None:
    """``--arc-tasks``: ``"all"`` -> None (every eligible task), ``"N"`` -> N >= 1."""
    if text is None or str(text).strip().lower() == "all":
        return None
    try:
        n = int(str(text).strip())
    except ValueError:
        raise ValueError(f"--arc-tasks {text!r}: use 'all' or a positive number of tasks (the N shortest)") from None
    if n < 1:
        raise ValueError(f"--arc-tasks {n}: use 'all' or a number >= 1")
    return n


def bench_options(scale: str, parts: str | tuple[str, ...] = PARTS, n_arc: str | int | None = None,
                  runs: str | tuple[str, ...] | None = None) -> tuple[BenchConfig, tuple[str, ...]]:
    """Check the CLI options (``--parts``, ``--arc-tasks`` = ``n_arc``, ``--runs``) and turn them into
    ``(BenchConfig, parts)``; nothing is loaded but the ARC task list. ``n_arc=None`` keeps the scale's
    ``n_arc`` (10 at full, 2 at ci); ``"all"`` takes every eligible task. Bad values raise
    ``ValueError`` naming the option and what to use instead."""
    cfg = config_for(scale)
    parts = _names("--parts", ",".join(parts) if isinstance(parts, (tuple, list)) else parts, PARTS)
    if runs is not None:
        cfg = replace(cfg, runs=_names("--runs", ",".join(runs) if isinstance(runs, (tuple, list)) else runs, RUNS))
    if n_arc is not None:
        if "arc" not in parts:
            raise ValueError(f"--arc-tasks {n_arc} would be ignored: --parts {','.join(parts)} has no 'arc'; "
                             "add arc to --parts or drop --arc-tasks")
        cfg = replace(cfg, n_arc=parse_arc_tasks(n_arc))
    if "arc" in parts:
        arc_tasks(cfg)  # raises if n_arc is larger than the number of eligible tasks
    return cfg, parts


def run_benchmark(model, tasks: list[Task], cfg: BenchConfig, *, progress: bool = True, name: str = "",
                  on_run=None) -> dict:
    """Every run of ``cfg.runs`` on ``tasks``; returns the rows, per-task scores and timings.

    ``on_run(result_so_far)``, if given, is called after each run (to save partial results)."""
    runs = ablation_settings(cfg.settings)
    out = {"n_tasks": len(tasks), "task_ids": [t.id for t in tasks], "solved": {}, "per_task": {},
           "seconds": {}, "mean_examples": {}, "answer_nll": {}, "per_task_answer_nll": {}, "load_average": {}}
    for run in cfg.runs:
        t0 = time.perf_counter()
        results = solve_tasks(model, tasks, runs[run], progress=progress, desc=f"{name} {run}")
        out["seconds"][run] = time.perf_counter() - t0
        out["answer_nll"][run] = mean_answer_nll(results)
        out["per_task_answer_nll"][run] = [r.answer_nll for r in results]
        out["mean_examples"][run] = sum(r.n_examples for r in results) / max(1, len(results)) \
            if run != "shared_adapter" else (results[0].n_examples if results else 0)
        with contextlib.suppress(OSError):
            out["load_average"][run] = os.getloadavg()  # 1/5/15-minute load when the run ended
        for key, _, source, vote in ROWS:
            if source == run:
                out["per_task"][key] = [r.score(vote) for r in results]
                out["solved"][key] = sum(out["per_task"][key])
        if on_run is not None:
            on_run(out)
    return out


def run_bench(scale: str = "ci", model=None, *, progress: bool = True, cfg: BenchConfig | None = None,
              benchmarks: tuple[str, ...] = PARTS, on_update=None) -> dict:
    """The whole ablation at ``scale`` (``benchmarks``: which parts); loads ``arc-base`` from the zoo
    unless ``model`` is given. ``on_update(result_so_far)`` is called after every run of every part."""
    cfg = cfg or config_for(scale)
    bad = [b for b in benchmarks if b not in PARTS]
    if bad or not benchmarks:
        raise ValueError(f"benchmarks {tuple(benchmarks)} must be a non-empty subset of {PARTS}")
    model_name = "given model"
    if model is None:
        from .. import zoo

        model, _ = zoo.load("arc-base", scale)
        model_name = f"zoo arc-base ({scale})"
    device = next(model.parameters()).device
    out = {"scale": scale, "model": model_name, "config": cfg.to_dict(), "device": str(device),
           "machine": describe_machine(), "benchmarks": {}}
    t0, c0 = time.perf_counter(), time.process_time()

    def stamp(complete: bool):
        out["complete"] = complete
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = time.process_time() - c0  # this process's CPU time: what an idle machine would need
        out["machine"]["load_average_end"] = out["machine"].get("load_average") and os.getloadavg()

    for bench in benchmarks:
        tasks = synthetic_tasks(cfg) if bench == "synthetic" else arc_tasks(cfg)
        extra = {"n_eligible": len(eligible_arc_tasks(cfg.arc_max_side))} if bench == "arc" else {}

        def saved(partial, bench=bench, extra=extra):
            out["benchmarks"][bench] = partial | extra
            if on_update is not None:
                stamp(False)
                on_update(out)

        out["benchmarks"][bench] = run_benchmark(model, tasks, cfg, progress=progress, name=bench,
                                                 on_run=saved) | extra
    stamp(True)
    return out


def _cell(solved: float | None, n: int) -> str:
    if solved is None:
        return "-"
    count = f"{solved:g}" if solved == int(solved) else f"{solved:.1f}"
    return f"{count}/{n} ({100 * solved / max(1, n):.1f}%)"


def _title(bench: str, r: dict) -> str:
    if bench == "synthetic":
        return "held-out synthetic"
    if bench != "arc":
        return bench
    n, n_eligible = r.get("n_tasks"), r.get("n_eligible")
    if n_eligible is None:
        return "ARC-AGI-1 eval (<=10x10, shortest)"
    which = f"all {n}" if n == n_eligible else f"{n} shortest of {n_eligible}"
    return f"ARC-AGI-1 eval ({which} with grids <=10x10)"


def markdown_table(result: dict) -> str:
    """The ablation table: one row per setting, one column per benchmark (tasks solved, pass@2)."""
    benches = list(result["benchmarks"])
    head = "| setting | " + " | ".join(_title(b, result["benchmarks"][b]) for b in benches) + " |"
    lines = [head, "|" + " --- |" * (len(benches) + 1)]
    for key, label, _, _ in ROWS:
        cells = []
        for b in benches:
            r = result["benchmarks"][b]
            cells.append(_cell(r["solved"].get(key), r["n_tasks"]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ratio = []
    for b in benches:
        s = result["benchmarks"][b]["solved"]
        if "base" in s and "ttt" in s:
            ratio.append("-" if s["base"] == 0 else f"{s['ttt'] / s['base']:.1f}x")
        else:
            ratio.append("-")
    lines.append("| TTT / base | " + " | ".join(ratio) + " |")
    return "\n".join(lines)


def timing_table(result: dict) -> str:
    """Per run and benchmark: answer NLL (nats/token, teacher-forced), seconds (training + inference)
    and mean TTT examples per task (for the shared adapter: the size of the union it trains on)."""
    benches = list(result["benchmarks"])
    lines = ["| run | " + " | ".join(f"{b}: answer NLL, s, examples/task" for b in benches) + " |",
             "|" + " --- |" * (len(benches) + 1)]
    for run in RUNS:
        cells = []
        for b in benches:
            r = result["benchmarks"][b]
            if run not in r["seconds"]:
                cells.append("-")
                continue
            v = r.get("answer_nll", {}).get(run)
            union = " (union)" if run == "shared_adapter" else ""
            cells.append(f"{'-' if v is None else f'{v:.3f}'}, {r['seconds'][run]:.0f} s, "
                         f"{r['mean_examples'][run]:.0f}{union}")
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(result: dict) -> str:
    """The text of ``ttt_bench.md``: what ran, the solved table, the NLL / time table."""
    scale, opts = result["scale"], result.get("options", {})
    state = "" if result.get("complete", True) else "PARTIAL (interrupted or still running): "
    return (f"{state}TTT ablation, scale {scale}, {result['model']}, {result['seconds']:.0f} s "
            f"({result['cpu_seconds']:.0f} CPU-s) on {result['device']} "
            f"({read_machine(result['machine'])['cpu_count']} CPUs, {result['machine']['torch_threads']} torch threads); "
            f"parts {','.join(opts.get('parts', result['benchmarks']))}, runs {','.join(result['config']['runs'])}\n\n"
            f"Tasks solved, pass@2:\n\n{markdown_table(result)}\n\n"
            f"Answer NLL (nats/token, teacher-forced, lower is better), seconds and TTT examples per task:\n\n"
            f"{timing_table(result)}\n")


def default_out_dir(scale: str, parts: tuple[str, ...] = PARTS) -> Path:
    """``docs/_runs/ttt_bench-<scale>``, with ``-<part>`` when only one part runs."""
    return Path("docs/_runs") / (f"ttt_bench-{scale}" + ("" if tuple(parts) == PARTS else "-" + "-".join(parts)))


def main(scale: str = "ci", out_dir: str | Path | None = None, *, progress: bool = True,
         parts: str | tuple[str, ...] = PARTS, arc_tasks: str | int | None = None,
         runs: str | tuple[str, ...] | None = None) -> dict:
    """CLI entry: run at ``scale`` with ``arc-base`` from the zoo, print the tables and write
    ``ttt_bench.{md,json}`` into ``out_dir`` (default ``default_out_dir``, not committed) after every
    run. ``parts`` / ``arc_tasks`` / ``runs``: see ``bench_options`` (checked before anything runs)."""
    cfg, parts = bench_options(scale, parts, arc_tasks, runs)
    out = default_out_dir(scale, parts) if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = {"parts": list(parts), "arc_tasks": "all" if cfg.n_arc is None else cfg.n_arc, "runs": list(cfg.runs)}

    def write(result: dict) -> None:
        result["options"] = options
        (out / "ttt_bench.json").write_text(json.dumps(result, indent=1, default=str))
        (out / "ttt_bench.md").write_text(report(result))

    result = run_bench(scale, progress=progress, cfg=cfg, benchmarks=parts, on_update=write)
    write(result)
    print(report(result))
    print(f"ttt-bench: {result['seconds']:.0f} s in all; wrote {out}/ttt_bench.{{json,md}}")
    return result
