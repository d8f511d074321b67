"""Scratch: train draft-ar at the full scale with another step count / mixture / context extension, save it.

    [MIX='{"code":0.5,"math":0.35,"prose":0.15}'] [LONG_STEPS=600 LONG_SEQ_LEN=256] \
    OMP_NUM_THREADS=1 python experiments/zoo_draft_try.py STEPS DST_DIR

Uses pard_ref.zoo's own training of draft-ar (its recipe with STEPS steps, MIX if given, and
LONG_STEPS / LONG_SEQ_LEN of context extension if given) and saves DST_DIR/draft-ar-x. Not part of
the package.
"""
import sys, os, torch
from dataclasses import replace
from pathlib import Path
from pard_ref import zoo
from pard_ref.text.tokenizer import load
torch.set_num_threads(1)
steps, out = int(sys.argv[1]), Path(sys.argv[2])
spec = zoo.SPECS["draft-ar"]
changes = {"steps": steps}
if os.environ.get("MIX"):
    changes["mixture"] = tuple(eval(os.environ["MIX"]).items())
for env, key in (("LONG_STEPS", "long_steps"), ("LONG_SEQ_LEN", "long_seq_len")):
    if os.environ.get(env):
        changes[key] = int(os.environ[env])
r = replace(spec.recipes["full"], **changes)
spec = replace(spec, recipes={"full": r})
tok = load()
model, _, log = zoo.train_model(spec, "full", tok, False)
(out / "draft-ar-x").mkdir(parents=True, exist_ok=True)
model.save_pretrained(out / "draft-ar-x")
print("seconds", log.seconds)
