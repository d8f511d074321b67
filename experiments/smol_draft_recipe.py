"""The smol-draft recipe levers, one variant per run: train smol-draft-ar, adapt it into a PARD draft with
train-pard's code, measure tau (K=8, greedy, bf16 target, one torch thread) on the DEV chat prompts and
the per-call costs. Used to choose pard_ref/zoo/smol_drafts.py's recipe (docs/pard_training.md, "Drafts
for smol-target").

    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py zoo
    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py base --ar-steps 300 --pard-steps 100
    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py random-embedding --ar-steps 300 --pard-steps 100
    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py full-vocab --ar-steps 150 --pard-steps 30
    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py prompts-160 --ar-steps 300 --pard-steps 100
    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py layers-4 --ar-steps 600 --pard-steps 200

Variants: zoo (no training: evaluate the built full-scale smol-draft-ar / smol-draft-pard, i.e. the
recipe of pard_ref/zoo/smol_drafts.py; `python -m pard_ref zoo build smol-draft-pard` first),
zoo-ar (the built smol-draft-ar, untrained here: only the COD step runs, e.g. `zoo-ar --pard-steps 600
--only pard` for a longer COD),
base (the same recipe trained in this process), random-embedding (no projected init), full-vocab (the
loss over all 49,152 output rows instead of the seen-vocabulary loss),
prompts-N (the first N distillation prompts only), width-W (draft width W, heads of 64, KV heads of 128), layers-N (N decoder layers:
at width 256 a layer is ~6% of a token's full-vocabulary forward, so depth is the cheap capacity); variants combine with "+" (e.g. width-512+layers-4+prompts-1200). The distillation data is
the zoo's cached file for the full scale (built first if missing). Writes docs/pard_training/smol_drafts/<variant>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

import pard_ref
from pard_ref import paths
from pard_ref.decoding.timing import forward_ms
from pard_ref.training.adapt_folder import adapt_model, read_texts
from pard_ref.zoo import smol, smol_drafts


def tau_on_dev(target, tok, draft, method: str, k: int, max_new_tokens: int, per_domain: int) -> dict:
    out = {}
    for domain in smol.CHAT_DOMAINS:
        taus = []
        for rec in smol.eval_prompts(domain, "dev")[:per_domain]:
            ids = torch.tensor([smol.chat_ids(tok, rec["prompt"])])
            res = pard_ref.generate(target, ids, draft=draft, method=method, k=k, max_new_tokens=max_new_tokens,
                                    eos_token_id=tok.eos_token_id)
            taus.append(res.stats.mean_accepted_length)
        out[domain] = round(statistics.mean(taus), 3)
    out["mean"] = round(statistics.mean(out[d] for d in smol.CHAT_DOMAINS), 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("variant")
    p.add_argument("--ar-steps", type=int, default=400)
    p.add_argument("--pard-steps", type=int, default=200)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--per-domain", type=int, default=8)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--data", default=None,
                   help="a distillation JSONL file to train on instead of the zoo's (e.g. more prompts, made by "
                        "experiments/smol_distill_scale.py); its stem is added to the output's name")
    p.add_argument("--only", choices=["ar", "pard"], default=None,
                   help="evaluate just this draft (e.g. smol-draft-ar while smol-draft-pard is still building, or "
                        "only the new parallel draft of a zoo-ar run)")
    args = p.parse_args()
    torch.set_num_threads(1)

    recipe = replace(smol_drafts.AR_RECIPES["full"], steps=args.ar_steps)
    data = smol_drafts.distillation_file("full") if args.data is None else Path(args.data)
    target32, tok = smol.load(dtype=torch.float32, device="cpu")
    texts = read_texts(data, tok)
    v = args.variant
    for part in v.split("+"):  # variants combine with "+", e.g. width-512+layers-4+prompts-1200
        if part == "random-embedding":
            recipe = replace(recipe, init_embedding=False)
        elif part == "full-vocab":
            recipe = replace(recipe, seen_vocab=False)
        elif part.startswith("prompts-"):
            texts = texts[: int(part.split("-")[1])]
        elif part.startswith("layers-"):
            recipe = replace(recipe, layers=int(part.split("-")[1]))
        elif part.startswith("width-"):
            w = int(part.split("-")[1])
            recipe = replace(recipe, width=w, intermediate=3 * w, heads=w // 64, kv_heads=max(1, w // 128))
        elif part not in ("base", "zoo", "zoo-ar"):
            raise SystemExit(f"unknown variant {part!r}")
    row = {"variant": v, "ar_recipe": asdict(recipe), "texts": len(texts), "data": data.name}

    from_zoo = v == "zoo" or "zoo-ar" in v.split("+")
    if from_zoo:
        from pard_ref import zoo

        recipe = smol_drafts.AR_RECIPES["full"]
        row["ar_recipe"] = asdict(recipe)
        draft_ar, _ = zoo.load(smol_drafts.AR_NAME, "full", device="cpu")
        row["ar_train_s"] = zoo.info(smol_drafts.AR_NAME, "full")["build_seconds"]
        row["ar_loss_last"] = zoo.info(smol_drafts.AR_NAME, "full")["loss_curve"]["losses"][-1]
    else:
        t0 = time.perf_counter()
        draft_ar, log = smol_drafts.train_draft_ar(target32, tok, texts, recipe, progress=False)
        row["ar_train_s"] = round(time.perf_counter() - t0, 1)
        row["ar_loss_last"] = log.losses[-1]
    del target32
    target, _ = smol.load(dtype=torch.bfloat16, device="cpu")
    if args.only != "pard":
        row["tau_ar"] = tau_on_dev(target, tok, draft_ar, "ar", args.k, args.max_new_tokens, args.per_domain)
        print(v, "tau ar", row["tau_ar"], flush=True)
    if args.only == "ar":
        row["cost_ms"] = {"draft_1": round(forward_ms(draft_ar, 200, 1, reps=15), 2)}
        _write(row, v, args)
        return

    if v == "zoo":
        cfg = smol_drafts.PARD_RECIPES["full"].adapt
        draft_pard, _ = zoo.load(smol_drafts.PARD_NAME, "full", device="cpu")
        info = zoo.info(smol_drafts.PARD_NAME, "full")
        row["pard_train_s"], row["pard_loss_last"] = info["build_seconds"], info["loss_curve"]["losses"][-1]
    else:
        cfg = replace(smol_drafts.PARD_RECIPES["full"].adapt, steps=args.pard_steps,
                      warmup=max(1, args.pard_steps // 10))
        draft_pard = smol_drafts.small_llama_like(target, width=recipe.width, layers=recipe.layers,
                                                  heads=recipe.heads, kv_heads=recipe.kv_heads,
                                                  intermediate=recipe.intermediate, init_embedding=False)
        draft_pard.load_state_dict(draft_ar.state_dict())
        t0 = time.perf_counter()
        draft_pard, rec = adapt_model(draft_pard, tok, texts, config=cfg, mask_id=smol_drafts.MASK_ID,
                                      progress=False)
        row["pard_train_s"] = round(time.perf_counter() - t0, 1)
        row["pard_loss_last"] = rec["log"]["losses"][-1]
    row["pard_config"] = asdict(cfg)
    row["tau_pard"] = tau_on_dev(target, tok, draft_pard, "pard", args.k, args.max_new_tokens, args.per_domain)
    print(v, "tau pard", row["tau_pard"], flush=True)
    row["cost_ms"] = {"draft_1": round(forward_ms(draft_ar, 200, 1, reps=15), 2),
                      f"draft_{args.k}": round(forward_ms(draft_pard, 200, args.k, reps=15), 2),
                      "target_bf16_1": round(forward_ms(target, 200, 1, reps=15), 2),
                      f"target_bf16_{args.k + 1}": round(forward_ms(target, 200, args.k + 1, reps=15), 2)}
    _write(row, v, args)


def _write(row: dict, v: str, args) -> None:
    row["settings"] = {"k": args.k, "max_new_tokens": args.max_new_tokens, "per_domain": args.per_domain,
                       "threads": torch.get_num_threads(), "split": "dev"}
    name = (f"{v}{'-' + args.only if args.only else ''}" if v == "zoo"
            else f"{v}-pard{args.pard_steps}" if "zoo-ar" in v.split("+")
            else f"{v}-ar{args.ar_steps}-pard{args.pard_steps}")
    if args.data is not None:
        name += f"-{Path(args.data).stem}"
    out = paths.home() / "docs" / "pard_training" / "smol_drafts" / f"{name}.json"
    paths.atomic_write_text(out, json.dumps(row, indent=1))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
