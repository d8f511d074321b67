"""A draft cut from the target: smol-target's embedding, output layer and a few of its 30 layers, fine-tuned.

smol-draft-ar starts from a random 256-wide body and learns everything from ~84k tokens of the target's
answers. This variant starts from the target's own weights instead: the tied 576-wide embedding / output
layer (frozen, so the draft's logits live in the target's output space) and the decoder layers listed in
``--keep`` (default: the first and the last), then trains the kept layers and the final norm on the same
distillation stream. The loss is the cross-entropy over the output rows of the tokens the data uses (a
restricted softmax: unlike pard_ref/training/seen_vocab.py it is NOT the full-vocabulary loss, because the
frozen unseen rows are not zero; it is a cheap approximation that only shapes the draft).

    OMP_NUM_THREADS=1 python experiments/smol_sliced_draft.py --keep 0,29 --steps 300
    OMP_NUM_THREADS=1 python experiments/smol_sliced_draft.py --keep 0,1,28,29 --steps 300 --lr 5e-4

Measures tau as an AR draft (K=8, DEV chat prompts, bf16 target, one thread; experiments/smol_draft_recipe.py's
evaluation), before training (the early-exit-like baseline, with --untrained) and after, and the draft's
per-call costs in bfloat16. Writes docs/pard_training/smol_drafts/sliced-<keep>-<steps>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smol_draft_recipe import tau_on_dev  # noqa: E402

from pard_ref import paths  # noqa: E402
from pard_ref.decoding.timing import forward_ms  # noqa: E402
from pard_ref.training.adapt_folder import encode_texts, read_texts  # noqa: E402
from pard_ref.training.lm import TrainConfig, lm_batches, train  # noqa: E402
from pard_ref.training.seen_vocab import column_index, seen_logits, seen_tokens  # noqa: E402
from pard_ref.zoo import smol, smol_drafts  # noqa: E402


def sliced(target, keep: list[int]):
    """A deep copy of ``target`` with only the decoder layers ``keep`` (in order); embedding and head shared
    by copy, frozen."""
    draft = copy.deepcopy(target)
    draft.model.layers = torch.nn.ModuleList([draft.model.layers[i] for i in keep])
    draft.config.num_hidden_layers = len(keep)
    if getattr(draft.config, "layer_types", None):
        draft.config.layer_types = [draft.config.layer_types[i] for i in keep]
    for j, layer in enumerate(draft.model.layers):
        layer.self_attn.layer_idx = j
    draft.get_input_embeddings().weight.requires_grad_(False)
    return draft


def restricted_loss(seen: torch.Tensor, vocab_size: int):
    index = column_index(seen.long(), vocab_size)

    def loss_fn(model, batch):
        logits = seen_logits(model, seen, input_ids=batch["input_ids"])[:, :-1]  # [B, L-1, V_seen]
        labels = index[batch["labels"][:, 1:]]  # [B, L-1]
        return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten()), {}

    return loss_fn


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--keep", default="0,29")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--untrained", action="store_true", help="also measure tau before training")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--per-domain", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(1)
    keep = [int(x) for x in args.keep.split(",")]

    target32, tok = smol.load(dtype=torch.float32, device="cpu")
    texts = read_texts(smol_drafts.distillation_file("full"), tok)
    stream = encode_texts(tok, texts)  # [T]
    draft = sliced(target32, keep)
    del target32
    target, _ = smol.load(dtype=torch.bfloat16, device="cpu")
    row = {"variant": f"sliced-{args.keep}", "keep": keep, "steps": args.steps, "lr": args.lr,
           "params_trained_M": round(sum(q.numel() for q in draft.parameters() if q.requires_grad) / 1e6, 2)}
    if args.untrained:
        row["tau_ar_untrained"] = tau_on_dev(target, tok, draft, "ar", 8, args.max_new_tokens, args.per_domain)
        print("untrained", row["tau_ar_untrained"], flush=True)

    seen = seen_tokens(stream, draft.config.vocab_size)
    cfg = TrainConfig(steps=args.steps, lr=args.lr, warmup_steps=max(1, args.steps // 10),
                      log_every=max(1, args.steps // 50))
    t0 = time.perf_counter()
    log = train(draft, lm_batches({"distill": stream}, {"distill": 1.0}, 8, 128, seed=0), cfg,
                loss_fn=restricted_loss(seen, draft.config.vocab_size), desc=f"sliced {args.keep}")
    row["train_s"], row["loss_last"] = round(time.perf_counter() - t0, 1), log.losses[-1]
    row["tau_ar"] = tau_on_dev(target, tok, draft, "ar", 8, args.max_new_tokens, args.per_domain)
    print("trained", row["tau_ar"], flush=True)
    d16 = draft.to(torch.bfloat16)
    row["cost_bf16_ms"] = {"draft_1": round(forward_ms(d16, 200, 1, reps=15), 2),
                           "draft_8": round(forward_ms(d16, 200, 8, reps=15), 2)}
    row["settings"] = {"k": 8, "max_new_tokens": args.max_new_tokens, "per_domain": args.per_domain, "split": "dev"}
    out = paths.home() / "docs" / "pard_training" / "smol_drafts" / f"sliced-{args.keep.replace(',', '_')}-{args.steps}.json"
    paths.atomic_write_text(out, json.dumps(row, indent=1))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
