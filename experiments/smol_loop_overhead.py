"""Where a generation's wall time goes on smol-target, next to the per-call costs the benchmark's bound uses:
why PARD's measured tokens/s sit at ~88-90% of the bound (docs/benchmarks.md, "Drafts for smol-target").

    OMP_NUM_THREADS=1 python experiments/smol_loop_overhead.py [--out docs/bench/smol_loop_overhead_run1.json]

The benchmark's 12 test prompts (4 per domain, chat template), 64 new tokens with EOS disabled, bf16, one
thread, methods ``none`` / ``ar`` / ``pard`` at K=8 interleaved per prompt, 2 repeats. For each method, per
iteration: the target's first call (the prompt's prefill + the first verification), its other calls, the
draft's first iteration (the prompt's prefill too) and its others, and the loop's own time (wall minus both clocks: sampling, cache crops, bookkeeping). The
probe costs (``forward_ms`` and ``draft_iteration_ms`` with the benchmark's context, the median prompt + 32
tokens) are measured in the same process before and after; their mean is the bound's cost. Writes ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from pard_ref import paths
from pard_ref.bench.drafting_cost import draft_iteration_ms
from pard_ref.decoding.loop import SpeculativeDecoder
from pard_ref.decoding.timing import forward_ms
from pard_ref.zoo.families import load, prompts

NEW, K, REPEATS = 64, 8, 2


def run(target, ids, draft, method: str) -> dict:
    dec = SpeculativeDecoder(target, ids, draft=draft, method=method, k=K, max_new_tokens=NEW, eos_token_id=[])
    start = time.perf_counter()
    records = list(dec)  # one StepRecord per iteration
    wall = time.perf_counter() - start
    st = dec.stats
    return {"wall": wall, "iterations": len(records), "first_target": records[0].target_seconds,
            "first_draft": records[0].draft_seconds, "target": st.target_seconds, "draft": st.draft_seconds}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(paths.home() / "docs" / "bench" / "smol_loop_overhead.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    fam = load("smol", "full", dtype="bfloat16")
    target, drafts = fam.target, {"none": None, "ar": fam.draft("draft-ar"), "pard": fam.draft("draft-pard")}
    groups = prompts(fam.tokenizer, fam.domains, 4, "smol")
    all_ids = [ids for rows in groups.values() for _, ids in rows]
    ctx = int(statistics.median(ids.shape[1] for ids in all_ids)) + NEW // 2

    def probe() -> dict:
        return {"t1": forward_ms(target, ctx, 1), f"t{K + 1}": forward_ms(target, ctx, K + 1),
                "ar_draft": draft_iteration_ms(drafts["ar"], K, "ar", prompt_len=ctx),
                "pard_draft": draft_iteration_ms(drafts["pard"], K, "pard", prompt_len=ctx)}

    before = probe()
    runs = {m: [] for m in drafts}
    for rep in range(REPEATS + 1):  # the first pass warms up and is not kept
        for i, ids in enumerate(all_ids):
            order = list(drafts)[i % 3:] + list(drafts)[: i % 3]  # rotate the methods' order
            for m in order:
                r = run(target, ids, drafts[m], m)
                if rep:
                    runs[m].append(r)
    after = probe()
    costs = {key: round((before[key] + after[key]) / 2, 2) for key in before}
    out = {"context": ctx, "costs_ms": costs, "costs_before": before, "costs_after": after, "methods": {}}
    print(f"probe costs (ms, context {ctx}): {costs}")
    print("ms per iteration (a first call's share: its time over all iterations)")
    print("| method | wall | target: first call | target: other calls | draft: first | draft: other | loop | tokens/it |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m, rs in runs.items():
        its = sum(r["iterations"] for r in rs)
        per = {key: 1000 * sum(r[key] for r in rs) / its
               for key in ("wall", "first_target", "target", "first_draft", "draft")}
        per["target_other"] = per["target"] - per["first_target"]
        per["draft_other"] = per["draft"] - per["first_draft"]
        per["loop"] = per["wall"] - per["target"] - per["draft"]
        per["tokens_per_iteration"] = NEW * len(rs) / its
        per["target_other_per_call"] = 1000 * sum(r["target"] - r["first_target"] for r in rs) / (its - len(rs))
        per["draft_other_per_iteration"] = 1000 * sum(r["draft"] - r["first_draft"] for r in rs) / (its - len(rs))
        out["methods"][m] = {key: round(v, 3) for key, v in per.items()}
        print(f"| {m} | {per['wall']:.2f} | {per['first_target']:.2f} | {per['target_other']:.2f} "
              f"({per['target_other_per_call']:.2f} per call) | {per['first_draft']:.2f} | {per['draft_other']:.2f} "
              f"({per['draft_other_per_iteration']:.2f} per iteration) | {per['loop']:.2f} "
              f"| {per['tokens_per_iteration']:.2f} |")
    path = Path(args.out)
    paths.atomic_write_text(path, json.dumps(out, indent=1))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
