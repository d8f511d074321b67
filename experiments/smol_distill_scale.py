"""Distillation data at scale for the smol drafts: how fast smol-target answers prompts by batch size, and a
larger answer file for the recipe experiments (docs/pard_training.md, "Drafts for smol-target").

    OMP_NUM_THREADS=2 python experiments/smol_distill_scale.py probe            # batch 16 / 32 / 64, 64 prompts
    OMP_NUM_THREADS=2 python experiments/smol_distill_scale.py answer --prompts 2400 \\
        --out zoo/real/smol-distill-exp2400.jsonl                              # then smol_draft_recipe.py --data

``probe`` answers the same 64 training prompts (bf16, greedy, at most 160 new tokens, both threads) at each
batch size and writes docs/pard_training/smol_drafts/distill_batch_probe.json; ``answer`` writes the first
``--prompts`` training prompts' answers (the order of :func:`pard_ref.text.instructions.training_prompts`, so
``smol_draft_recipe.py prompts-N --data FILE`` trains on its first N) in the zoo's JSONL format, atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pard_ref import paths
from pard_ref.text.instructions import training_prompts
from pard_ref.training.distill import answer_prompts
from pard_ref.zoo import smol, smol_drafts


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["probe", "answer"])
    p.add_argument("--prompts", type=int, default=2400)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    target, tok = smol.load(dtype=torch.bfloat16, device="cpu", convert_if_missing=True)
    if args.what == "probe":
        prompts = [x["prompt"] for x in training_prompts(64, 1)]  # another seed: not the answered file's order
        rows = []
        for batch in (16, 32, 64):
            _, st = answer_prompts(target, tok, prompts, max_new_tokens=args.max_new_tokens, batch_size=batch,
                                   progress=False)
            rows.append({"batch": batch, **st, "tokens_per_second": round(st["tokens"] / st["seconds"], 1)})
            print(rows[-1], flush=True)
        out = paths.home() / "docs" / "pard_training" / "smol_drafts" / "distill_batch_probe.json"
        paths.atomic_write_text(out, json.dumps({"threads": torch.get_num_threads(), "dtype": "bfloat16",
                                                 "max_new_tokens": args.max_new_tokens, "rows": rows}, indent=1))
        return
    if args.out is None:
        raise SystemExit("answer needs --out FILE.jsonl")
    prompts = [x["prompt"] for x in training_prompts(args.prompts, 0)]
    records, st = answer_prompts(target, tok, prompts, max_new_tokens=args.max_new_tokens, batch_size=args.batch)
    lines = smol_drafts.distillation_lines(records, tok)
    paths.atomic_write_text(Path(args.out), "".join(json.dumps(x) + "\n" for x in lines))
    print(f"{st['prompts']} answers, {st['tokens']} tokens in {st['seconds']} s "
          f"({st['tokens'] / st['seconds']:.0f} tokens/s) -> {args.out}")


if __name__ == "__main__":
    main()
