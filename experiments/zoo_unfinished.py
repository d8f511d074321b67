"""Scratch: train a zoo model exactly as its recipe says but WITHOUT its Finish, and save it.

    [SEQ_LEN=256 BATCH=4 STEPS=N] OMP_NUM_THREADS=1 python experiments/zoo_unfinished.py NAME DST_DIR

Uses pard_ref.zoo's own training (same seeds, so the weights equal the zoo build's state before its
finish); SEQ_LEN / BATCH / STEPS override the recipe's. Saves DST_DIR/NAME-x. Not part of the package.
"""
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

from pard_ref import zoo
from pard_ref.text.tokenizer import load

torch.set_num_threads(1)
name, out = sys.argv[1], Path(sys.argv[2])
spec = zoo.SPECS[name]
changes = {"finish": None}
for env, key in (("SEQ_LEN", "seq_len"), ("BATCH", "batch_size"), ("STEPS", "steps")):
    if os.environ.get(env):
        changes[key] = int(os.environ[env])
spec = replace(spec, recipes={"full": replace(spec.recipes["full"], **changes)})
model, _, log = zoo.train_model(spec, "full", load(), False)
(out / f"{name}-x").mkdir(parents=True, exist_ok=True)
model.save_pretrained(out / f"{name}-x")
print("seconds", round(log.seconds, 1), "final losses", [round(x, 3) for x in log.losses[-5:]])
