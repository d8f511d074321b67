"""The soft-label lever for smol-draft-ar: the target's own next-token distributions as training targets.

Sequence-level distillation (pard_ref/zoo/smol_drafts.py) gives the draft one token per position: the
target's greedy choice. The target's distribution over the same positions says more (which tokens were
close seconds), and a CPU computes it ~8x faster than it generates: a bfloat16 prefill of smol-target runs
at ~870 tokens/s on one thread against 110-170 tokens/s of generation. This experiment:

1. runs smol-target (bfloat16, one thread) over the cached distillation stream in 256-token windows
   (64 tokens of overlap as context) and keeps, at every position, the top-``k`` next-token ids and
   log-probabilities (cached in ``zoo/real/smol-soft-<key>.pt``);
2. trains smol-draft-ar's recipe with ``(1 - alpha) * CE(greedy token) + alpha * CE(top-k distribution)``
   (the soft part is the cross-entropy against the target's top-k renormalised; for a top-k id outside
   the seen vocabulary the draft's log-probability is exact too: its logit is 0, see
   pard_ref/training/seen_vocab.py);
3. adapts it with COD exactly as the zoo does (train-pard's code, hard labels) and measures tau on the DEV
   chat prompts with experiments/smol_draft_recipe.py's evaluation.

    OMP_NUM_THREADS=1 python experiments/smol_soft_labels.py --alpha 0.5
    OMP_NUM_THREADS=1 python experiments/smol_soft_labels.py --alpha 1.0 --ar-steps 600 --pard-steps 200

Writes docs/pard_training/smol_drafts/soft-a<alpha>-ar<N>-pard<M>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smol_draft_recipe import tau_on_dev  # noqa: E402

from pard_ref import paths  # noqa: E402
from pard_ref.decoding.timing import forward_ms  # noqa: E402
from pard_ref.training.adapt_folder import adapt_model, encode_texts, read_texts  # noqa: E402
from pard_ref.training.distill import small_llama_like  # noqa: E402
from pard_ref.training.lm import TrainConfig, train  # noqa: E402
from pard_ref.training.seen_vocab import (column_index, seen_logits, seen_tokens, with_unseen_column,  # noqa: E402
                                          zero_unseen_rows)
from pard_ref.zoo import smol, smol_drafts  # noqa: E402

WINDOW, CONTEXT = 256, 64


@torch.no_grad()
def target_top_k(target, stream: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``([T, k] ids, [T, k] log-probs)``: at stream position ``i`` the target's top-``k`` next tokens
    (predicting ``stream[i + 1]``), from ``WINDOW``-token prefills that overlap by ``CONTEXT`` tokens."""
    T = len(stream)
    ids = torch.zeros(T, k, dtype=torch.int32)
    logp = torch.zeros(T, k, dtype=torch.float16)
    starts = list(range(0, max(1, T - CONTEXT), WINDOW - CONTEXT))
    for s in tqdm(starts, desc="target top-k"):
        window = stream[s:s + WINDOW][None]  # [1, W]
        lp = torch.log_softmax(target(window).logits[0].float(), dim=-1)  # [W, V]
        top = lp.topk(k, dim=-1)  # [W, k]
        keep = 0 if s == 0 else CONTEXT  # the first CONTEXT positions of a later window only serve as context
        ids[s + keep:s + window.shape[1]] = top.indices[keep:].int()
        logp[s + keep:s + window.shape[1]] = top.values[keep:].half()
    return ids, logp


def soft_labels(tok, texts: list[str], k: int) -> dict:
    stream = encode_texts(tok, texts)  # [T]
    key = hashlib.sha256(stream.numpy().tobytes() + f"{k}:{WINDOW}:{CONTEXT}".encode()).hexdigest()[:10]
    path = paths.zoo_dir() / "real" / f"smol-soft-{key}.pt"
    if path.exists():
        return torch.load(path)
    target, _ = smol.load(dtype=torch.bfloat16, device="cpu")
    t0 = time.perf_counter()
    ids, logp = target_top_k(target, stream, k)
    out = {"stream": stream, "ids": ids, "logp": logp, "seconds": round(time.perf_counter() - t0, 1)}
    tmp = path.with_suffix(".tmp")
    torch.save(out, tmp)
    tmp.replace(path)
    return out


def soft_batches(data: dict, batch_size: int, seq_len: int, seed: int):
    """Random windows of the stream with the target's top-k at each position but the last."""
    g = torch.Generator().manual_seed(seed)
    stream, ids, logp = data["stream"], data["ids"], data["logp"]
    hi = len(stream) - seq_len
    while True:
        starts = torch.randint(0, hi, (batch_size,), generator=g)
        win = torch.stack([stream[s:s + seq_len] for s in starts])  # [B, L]
        yield {"input_ids": win, "labels": win,
               "soft_ids": torch.stack([ids[s:s + seq_len - 1] for s in starts]).long(),  # [B, L-1, k]
               "soft_logp": torch.stack([logp[s:s + seq_len - 1] for s in starts]).float()}  # [B, L-1, k]


def soft_loss(seen: torch.Tensor, vocab_size: int, alpha: float):
    seen = seen.long()
    unseen = vocab_size - len(seen)
    index = column_index(seen, vocab_size)

    def loss_fn(model, batch):
        logits = seen_logits(model, seen, input_ids=batch["input_ids"])[:, :-1]  # [B, L-1, V_seen]
        logq = torch.log_softmax(with_unseen_column(logits, unseen).float(), dim=-1)  # [B, L-1, V_seen + 1]
        hard = F.nll_loss(logq.flatten(0, 1), index[batch["labels"][:, 1:]].flatten())
        cols = index[batch["soft_ids"]]  # [B, L-1, k], -1 = unseen
        q = logq.gather(-1, cols.clamp(min=0))  # [B, L-1, k]
        if unseen:  # an unseen token's logit is 0: log q = log(U * e^0 / Z) - log U
            q = torch.where(cols < 0, logq[..., -1:] - math.log(unseen), q)
        p = torch.softmax(batch["soft_logp"], dim=-1)  # the target's top-k, renormalised
        soft = -(p * q).sum(-1).mean()
        return (1 - alpha) * hard + alpha * soft, {"hard": float(hard), "soft": float(soft)}

    return loss_fn


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--top-k", type=int, default=32)
    p.add_argument("--ar-steps", type=int, default=600)
    p.add_argument("--pard-steps", type=int, default=200)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--per-domain", type=int, default=8)
    p.add_argument("--k", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(1)

    recipe = replace(smol_drafts.AR_RECIPES["full"], steps=args.ar_steps)
    target32, tok = smol.load(dtype=torch.float32, device="cpu")
    texts = read_texts(smol_drafts.distillation_file("full"), tok)
    data = soft_labels(tok, texts, args.top_k)
    row = {"variant": f"soft-a{args.alpha:g}", "alpha": args.alpha, "top_k": args.top_k, "ar_recipe": asdict(recipe),
           "soft_label_s": data["seconds"], "stream_tokens": len(data["stream"])}

    draft = small_llama_like(target32, width=recipe.width, layers=recipe.layers, heads=recipe.heads,
                             kv_heads=recipe.kv_heads, intermediate=recipe.intermediate,
                             init_embedding=recipe.init_embedding, seed=recipe.seed)
    seen = seen_tokens(data["stream"], draft.config.vocab_size)
    zero_unseen_rows(draft, seen)
    cfg = TrainConfig(steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup, log_every=max(1, recipe.steps // 50))
    t0 = time.perf_counter()
    log = train(draft, soft_batches(data, recipe.batch_size, recipe.seq_len, recipe.seed), cfg,
                loss_fn=soft_loss(seen, draft.config.vocab_size, args.alpha), desc=f"soft a={args.alpha}")
    row["ar_train_s"], row["ar_loss_last"] = round(time.perf_counter() - t0, 1), log.losses[-1]
    del target32

    target, _ = smol.load(dtype=torch.bfloat16, device="cpu")
    row["tau_ar"] = tau_on_dev(target, tok, draft, "ar", args.k, args.max_new_tokens, args.per_domain)
    print("tau ar", row["tau_ar"], flush=True)
    row["cost_ms"] = {"draft_1": round(forward_ms(draft, 200, 1, reps=15), 2)}
    if args.pard_steps:
        pcfg = replace(smol_drafts.PARD_RECIPES["full"].adapt, steps=args.pard_steps, warmup=max(1, args.pard_steps // 10))
        t0 = time.perf_counter()
        draft_pard, rec = adapt_model(draft, tok, texts, config=pcfg, mask_id=smol_drafts.MASK_ID, progress=True)
        row["pard_train_s"], row["pard_loss_last"] = round(time.perf_counter() - t0, 1), rec["log"]["losses"][-1]
        row["tau_pard"] = tau_on_dev(target, tok, draft_pard, "pard", args.k, args.max_new_tokens, args.per_domain)
        print("tau pard", row["tau_pard"], flush=True)
    row["settings"] = {"k": args.k, "max_new_tokens": args.max_new_tokens, "per_domain": args.per_domain,
                       "threads": torch.get_num_threads(), "split": "dev"}
    out = paths.home() / "docs" / "pard_training" / "smol_drafts" / f"soft-a{args.alpha:g}-ar{args.ar_steps}-pard{args.pard_steps}.json"
    paths.atomic_write_text(out, json.dumps(row, indent=1))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
