"""Per-call costs of draft shapes for smol-target, side by side in one process (bfloat16, one thread).

A useful draft makes a one-token call in a few ms, and a narrow draft's cost is mostly its 49,152-row
output layer. This probe times, with 200 tokens in the KV cache, a 1-token and an
8-token forward (AR drafting's step, PARD's one drafting call) of: recipe 2's shape (width 256, 2 layers),
4 layers, width 384, recipe 2's shape with only ``--seen`` rows of its output layer non-zero and that layer
compacted for inference (:func:`pard_ref.decoding.seen_rows.compact_output_layer`, what the benchmark and
``generate`` do to a seen-vocabulary draft), and drafts cut from the target (its 576-wide embedding / output layer and 2 or 4 of
its 30 layers), next to the target's own 1- and 9-token forwards, in 4 interleaved rounds (the first
discarded as warm-up), medians. Weights are random or copied: cost
depends on shapes only.

    OMP_NUM_THREADS=1 python experiments/smol_draft_costs.py [--seen 3322 --seen 6000]

Prints a table; writes docs/pard_training/smol_drafts/draft_costs.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smol_sliced_draft import sliced  # noqa: E402

from pard_ref import paths  # noqa: E402
from pard_ref.decoding.seen_rows import compact_output_layer  # noqa: E402
from pard_ref.decoding.timing import forward_ms  # noqa: E402
from pard_ref.training.distill import small_llama_like  # noqa: E402
from pard_ref.zoo import smol  # noqa: E402


def compact(model, seen: int):
    """``model`` with all but its first ``seen`` output rows zero, its output layer compacted."""
    with torch.no_grad():
        model.get_output_embeddings().weight[seen:] = 0
    return compact_output_layer(model)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seen", type=int, action="append", default=None,
                   help="output rows a seen-vocabulary draft keeps (repeatable; default 3322, recipe 2's data)")
    args = p.parse_args()
    torch.set_num_threads(1)
    target, _ = smol.load(dtype=torch.float32, device="cpu")
    shapes = {
        "width 256, 2 layers (recipe 2)": lambda: small_llama_like(target, width=256, layers=2, heads=4, kv_heads=2,
                                                                    intermediate=768),
        "width 256, 4 layers": lambda: small_llama_like(target, width=256, layers=4, heads=4, kv_heads=2,
                                                        intermediate=768),
        "width 384, 2 layers": lambda: small_llama_like(target, width=384, layers=2, heads=6, kv_heads=2,
                                                        intermediate=1152),
        **{f"width 256, 2 layers, {n:,} output rows computed": (
            lambda n=n: compact(small_llama_like(target, width=256, layers=2, heads=4, kv_heads=2, intermediate=768), n))
           for n in (args.seen or [3322])},
        "cut from the target, layers 0 and 29": lambda: sliced(target, [0, 29]),
        "cut from the target, layers 0, 1, 28, 29": lambda: sliced(target, [0, 1, 28, 29]),
    }
    models = {name: make().to(torch.bfloat16).eval() for name, make in shapes.items()}
    del target
    models["smol-target"] = smol.load(dtype=torch.bfloat16, device="cpu")[0]
    times: dict[str, dict[str, list[float]]] = {name: {"ms_1": [], "ms_n": []} for name in models}
    for _ in range(4):  # rounds, interleaved, so that load and warm-up shift every model alike; round 0 not kept
        for name, m in models.items():
            n = 9 if name == "smol-target" else 8
            times[name]["ms_1"].append(forward_ms(m, 200, 1, reps=8))
            times[name]["ms_n"].append(forward_ms(m, 200, n, reps=8))
    rows = {name: {"params_M": round(sum(p.numel() for p in m.parameters()) / 1e6, 1),
                   "ms_1": round(statistics.median(times[name]["ms_1"][1:]), 2),
                   ("ms_9" if name == "smol-target" else "ms_8"): round(statistics.median(times[name]["ms_n"][1:]), 2)}
            for name, m in models.items()}
    print("| model | parameters (M) | 1 token ms | 8 (draft) or 9 (target) tokens ms |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['params_M']} | {r['ms_1']} | {r.get('ms_8', r.get('ms_9'))} |")
    out = paths.home() / "docs" / "pard_training" / "smol_drafts" / "draft_costs.json"
    paths.atomic_write_text(out, json.dumps({"dtype": "bfloat16", "threads": 1, "cache_tokens": 200, "rows": rows},
                                            indent=1))


if __name__ == "__main__":
    main()
