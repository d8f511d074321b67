"""Scratch: gates 1 (target-l vs target-m held-out loss), 4 (draft-ar -> target-l accepted length, K=4)
and optionally 5 (math accuracy) for a candidate target-l, without building a whole family.

    OMP_NUM_THREADS=1 python experiments/zoo_gate_quick.py TARGET_L_DIR OTHERS_DIR [MATH_PROBLEMS]

TARGET_L_DIR holds target-l-* (the newest is used); OTHERS_DIR holds target-m-* and draft-ar-*
(symbolic links are fine). The same functions as pard_ref.zoo.gate, on 8 prompts per domain for the
accepted length. Not part of the package.
"""
import os, sys, torch, statistics
from pathlib import Path
from transformers import AutoModelForCausalLM
from pard_ref.text import corpus
from pard_ref.zoo import gate as zoo_report
from pard_ref.text.tokenizer import load
from pard_ref.training.lm import heldout_loss, token_stream
torch.set_num_threads(1)
tok = load()
tl = AutoModelForCausalLM.from_pretrained(max(Path(sys.argv[1]).glob("target-l-*"), key=lambda p: p.stat().st_mtime)).eval()
zd = Path(sys.argv[2])
tm = AutoModelForCausalLM.from_pretrained(next(zd.glob("target-m-*"))).eval()
da = AutoModelForCausalLM.from_pretrained(next(zd.glob("draft-ar-*"))).eval()
for d in corpus.DOMAINS:
    s = token_stream(tok, d, "heldout")
    print(d, "loss target-l", round(heldout_loss(tl, s, 128), 3), "target-m", round(heldout_loss(tm, s, 128), 3))
acc = {d: zoo_report.accepted_length_ar(tl, da, tok, [r["prompt"] for r in corpus.load_eval_prompts(d)][:int(os.environ.get("PROMPTS", 8))]) for d in corpus.DOMAINS}
print("accepted", {k: round(v, 2) for k, v in acc.items()}, round(statistics.mean(acc.values()), 2))
if len(sys.argv) > 3:
    probs = zoo_report.heldout_math_problems(int(sys.argv[3]))
    print("math acc", zoo_report.math_accuracy(tl, tok, probs))
