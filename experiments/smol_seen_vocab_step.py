"""Seconds per smol-draft-ar training step, full output layer against the seen-vocabulary loss
(pard_ref/training/seen_vocab.py), on the full-scale distillation data, one torch thread, alternating
twice. The measurement behind docs/pard_training.md's "seen-vocabulary loss" lever.

    OMP_NUM_THREADS=1 python experiments/smol_seen_vocab_step.py
"""

from __future__ import annotations

import time

import torch

from pard_ref.training.adapt_folder import encode_texts, read_texts
from pard_ref.training.distill import small_llama_like
from pard_ref.training.lm import TrainConfig, causal_lm_loss, lm_batches, train
from pard_ref.training.seen_vocab import output_layer_share, seen_tokens, seen_vocab_loss, zero_unseen_rows
from pard_ref.zoo import smol, smol_drafts


def main() -> None:
    torch.set_num_threads(1)
    target, tok = smol.load(dtype=torch.float32, device="cpu")
    stream = encode_texts(tok, read_texts(smol_drafts.distillation_file("full"), tok))  # [T]
    seen = seen_tokens(stream, target.config.vocab_size)
    print(f"data tokens {len(stream)}, distinct {len(seen)} of {target.config.vocab_size}")
    r = smol_drafts.AR_RECIPES["full"]
    for mode in ("full", "seen", "full", "seen"):
        draft = small_llama_like(target, width=r.width, layers=r.layers, heads=r.heads, kv_heads=r.kv_heads,
                                 intermediate=r.intermediate)
        loss_fn = causal_lm_loss
        if mode == "seen":
            zero_unseen_rows(draft, seen)
            loss_fn = seen_vocab_loss(seen, target.config.vocab_size)
        batches = lm_batches({"d": stream}, {"d": 1.0}, r.batch_size, r.seq_len, seed=0)
        train(draft, batches, TrainConfig(steps=2, lr=1e-3, warmup_steps=1), loss_fn=loss_fn, progress=False)  # warm-up
        t0 = time.perf_counter()
        train(draft, batches, TrainConfig(steps=6, lr=1e-3, warmup_steps=1), loss_fn=loss_fn, progress=False)
        print(f"{mode}: {(time.perf_counter() - t0) / 6:.3f} s per step ({r.batch_size} x {r.seq_len} tokens)",
              flush=True)
    print(f"output layer's share of a token's forward multiply-adds: {output_layer_share(draft.config):.2f} "
          f"(full), {output_layer_share(draft.config, len(seen)):.2f} (seen rows only)")


if __name__ == "__main__":
    main()
