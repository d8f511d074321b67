"""Scratch: apply pard_ref.zoo's own Finish of target-l (same seeds as a zoo build) to a saved model.

    [SEQ_LEN=256] [STEPS=120 ALPHA=1 PREFIX=32 NEW=96 LR=3e-4] OMP_NUM_THREADS=1 \
    python experiments/zoo_finish_zoo.py SRC_MODEL_DIR DST_DIR

The recipe is target-l's full-scale recipe with the given changes (SEQ_LEN: the next-token windows of
the finish; the others: fields of zoo.Finish). Saves DST_DIR/target-l-x. Not part of the package.
"""
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from pard_ref import zoo
from pard_ref.text.tokenizer import load

torch.set_num_threads(1)
src, out = Path(sys.argv[1]), Path(sys.argv[2])
recipe = zoo.SPECS["target-l"].recipes["full"]
f = recipe.finish
fchanges = {}
for env, key, typ in (("STEPS", "steps", int), ("ALPHA", "alpha", float), ("PREFIX", "prefix_len", int),
                      ("NEW", "new_tokens", int), ("LR", "lr", float)):
    if os.environ.get(env):
        fchanges[key] = typ(os.environ[env])
if os.environ.get("TEXTMIX"):
    fchanges["text_mixture"] = tuple(eval(os.environ["TEXTMIX"]).items())
recipe = replace(recipe, finish=replace(f, **fchanges),
                 **({"seq_len": int(os.environ["SEQ_LEN"])} if os.environ.get("SEQ_LEN") else {}))
model = AutoModelForCausalLM.from_pretrained(src)
log = zoo.run_finish(model, load(), recipe, "finish", False)
(out / "target-l-x").mkdir(parents=True, exist_ok=True)
model.save_pretrained(out / "target-l-x")
print("finish", recipe.finish, "seq_len", recipe.seq_len, "seconds", log["seconds"])
