"""Scratch: is agreement worse past the training window? Accepted length and held-out loss by position.

    [METHOD=ar K=4] OMP_NUM_THREADS=1 python experiments/zoo_positions.py TARGET_DIR DRAFT_DIR [PROMPTS]

TARGET_DIR / DRAFT_DIR are model folders (or folders holding one target-l-* / draft-ar-*; the newest is
used). Prints, per domain: draft -> target greedy (METHOD, K; default ar, 4) mean accepted length of the iterations that
start before absolute position 128 and of those that start at or after it (the zoo trains on 128-token
windows), and held-out loss of both models on 256-token windows, split at position 128. Not part of
the package.
"""
import os
import statistics
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from pard_ref.text import corpus
from pard_ref.decoding import generate
from pard_ref.text.tokenizer import encode_prompt, load
from pard_ref.training.lm import token_stream

torch.set_num_threads(1)


def pick(path, prefix):
    p = Path(path)
    return p if (p / "config.json").exists() else max(p.glob(prefix + "-*"), key=lambda q: q.stat().st_mtime)


tok = load()
target = AutoModelForCausalLM.from_pretrained(pick(sys.argv[1], "target-l")).eval()
METHOD, K = os.environ.get("METHOD", "ar"), int(os.environ.get("K", 4))
draft = AutoModelForCausalLM.from_pretrained(pick(sys.argv[2], "draft-pard" if METHOD == "pard" else "draft-ar")).eval()
n = int(sys.argv[3]) if len(sys.argv) > 3 else 24


@torch.no_grad()
def loss_by_position(model, stream, L=256, max_tokens=32768):
    n_win = min(len(stream), max_tokens) // L
    x = stream[: n_win * L].long().view(n_win, L)
    nll = []
    for i in range(0, n_win, 16):
        b = x[i:i + 16]
        lp = model(input_ids=b).logits[:, :-1].log_softmax(-1)
        nll.append(-lp.gather(2, b[:, 1:, None]).squeeze(-1))
    nll = torch.cat(nll)  # [n, L-1]; column t predicts position t+1
    return float(nll[:, :127].mean()), float(nll[:, 127:].mean())


means = []
for d in corpus.DOMAINS:
    early, late = [], []
    for r in corpus.load_eval_prompts(d)[:n]:
        ids = encode_prompt(tok, r["prompt"])
        out = generate(target, torch.tensor([ids]), draft=draft, method=METHOD, k=K, max_new_tokens=128)
        pos = len(ids)
        for a in out.stats.accepted_lengths:
            (early if pos < 128 else late).append(a)
            pos += a
    allv = early + late
    means.append(statistics.mean(allv))
    s = token_stream(tok, d, "heldout")
    lt, ld = loss_by_position(target, s), loss_by_position(draft, s)
    print(f"{d:6s} tau all {statistics.mean(allv):.2f} | before 128: {statistics.mean(early) if early else float('nan'):.2f}"
          f" ({len(early)} it) | from 128: {statistics.mean(late) if late else float('nan'):.2f} ({len(late)} it)"
          f" | loss target <128 {lt[0]:.3f} >=128 {lt[1]:.3f} | draft <128 {ld[0]:.3f} >=128 {ld[1]:.3f}", flush=True)
print("mean tau", round(statistics.mean(means), 3))
