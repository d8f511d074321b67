"""The zoo's draft-pard with more COD steps (the aim: a parallel draft that accepts nearly as much as its AR
draft): draft-ar (full scale, built) adapted with the zoo's COD recipe for N steps, τ at K=8 on target-l
against draft-ar's own τ as an AR draft, on DEV prompts: held-out prompts 12-23 of each domain (the
benchmark reads prompts 0-3, the COD experiment 0-5, so the recipe is not chosen on reported prompts).

    OMP_NUM_THREADS=1 python experiments/zoo_pard_steps.py --steps 500            # the zoo's recipe
    OMP_NUM_THREADS=1 python experiments/zoo_pard_steps.py --steps 2000 [--lr 1e-3]

Writes docs/zoo_runs/pard_steps-<N>-lr<LR>.json. Needs the full zoo (`python -m pard_ref zoo build --scale full`).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import pard_ref
from pard_ref import paths, zoo
from pard_ref.text import corpus
from pard_ref.text.tokenizer import encode_prompt
from pard_ref.training.pard_training import build_draft_pard
from pard_ref.zoo.builder import train_streams
from pard_ref.zoo.family import PARD_DROP_RATIO, PARD_K, PARD_MIN_DROP_RATIO, SPECS

DEV = slice(12, 24)


def tau(target, tok, draft, method: str, max_new_tokens: int) -> dict:
    out = {}
    for d in corpus.DOMAINS:
        lengths = []
        for row in corpus.load_eval_prompts(d)[DEV]:
            ids = torch.tensor([encode_prompt(tok, row["prompt"])])
            res = pard_ref.generate(target, ids, draft=draft, method=method, k=PARD_K, max_new_tokens=max_new_tokens,
                                    eos_token_id=tok.eos_token_id,
                                    mask_token_id=tok.mask_token_id if method == "pard" else None)
            lengths += res.stats.accepted_lengths
        out[d] = round(sum(lengths) / len(lengths), 3)
    out["mean"] = round(sum(out[d] for d in corpus.DOMAINS) / len(corpus.DOMAINS), 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--lr", type=float, default=None, help="default: the zoo recipe's")
    p.add_argument("--max-new-tokens", type=int, default=96)
    args = p.parse_args()
    torch.set_num_threads(1)
    recipe = SPECS["draft-pard"].recipes["full"]
    lr = args.lr or recipe.lr
    draft_ar, tok = zoo.load("draft-ar", "full")
    row = {"steps": args.steps, "lr": lr, "batch_size": recipe.batch_size, "seq_len": recipe.seq_len,
           "prompts": "held-out 12-23 per domain", "k": PARD_K, "max_new_tokens": args.max_new_tokens}
    torch.manual_seed(recipe.seed)
    t0 = time.perf_counter()
    draft, log = build_draft_pard(draft_ar, tok, train_streams(tok), dict(recipe.mixture), steps=args.steps,
                                  batch_size=recipe.batch_size, seq_len=recipe.seq_len, lr=lr,
                                  warmup=max(1, args.steps // 10), k=PARD_K, drop_ratio=PARD_DROP_RATIO,
                                  min_drop_ratio=PARD_MIN_DROP_RATIO, seed=recipe.seed, progress=False)
    row["train_s"] = round(time.perf_counter() - t0, 1)
    row["loss_last"] = log.losses[-1]
    while not zoo.is_built("target-l", "full"):  # the COD training needs no target; the evaluation does
        time.sleep(20)
    target, _ = zoo.load("target-l", "full")
    row["tau_draft_ar"] = tau(target, tok, draft_ar, "ar", args.max_new_tokens)
    print("draft-ar", row["tau_draft_ar"], flush=True)
    row["tau_pard"] = tau(target, tok, draft, "pard", args.max_new_tokens)
    row["ratio"] = round(row["tau_pard"]["mean"] / row["tau_draft_ar"]["mean"], 3)
    print(json.dumps(row), flush=True)
    out = paths.home() / "docs" / "zoo_runs" / f"pard_steps-{args.steps}-lr{lr:g}.json"
    paths.atomic_write_text(out, json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
