"""Scratch: adapt a saved draft-ar into draft-pard with the zoo's full-scale recipe (optionally other windows).

    [SEQ_LEN=256 BATCH=4] OMP_NUM_THREADS=1 python experiments/zoo_pard_try.py DRAFT_AR_DIR DST_DIR

Calls pard_ref.training.pard_training.build_draft_pard exactly as pard_ref.zoo does (seed, K, COD ratios), with
SEQ_LEN / BATCH overriding the recipe's windows; saves DST_DIR/draft-pard-x. Not part of the package.
"""
import os
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from pard_ref import zoo
from pard_ref.training.pard_training import build_draft_pard
from pard_ref.text.tokenizer import load

torch.set_num_threads(1)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
r = zoo.SPECS["draft-pard"].recipes["full"]
seq_len, batch = int(os.environ.get("SEQ_LEN", r.seq_len)), int(os.environ.get("BATCH", r.batch_size))
tok = load()
torch.manual_seed(r.seed)
model, log = build_draft_pard(AutoModelForCausalLM.from_pretrained(src), tok, zoo.train_streams(tok), dict(r.mixture),
                              steps=r.steps, batch_size=batch,
                              seq_len=seq_len, lr=r.lr, warmup=r.warmup_steps, k=zoo.PARD_K,
                              drop_ratio=zoo.PARD_DROP_RATIO, min_drop_ratio=zoo.PARD_MIN_DROP_RATIO,
                              seed=r.seed, progress=False)
(out / "draft-pard-x").mkdir(parents=True, exist_ok=True)
model.save_pretrained(out / "draft-pard-x")
print("seconds", round(log.seconds, 1), "windows", batch, "x", seq_len)
