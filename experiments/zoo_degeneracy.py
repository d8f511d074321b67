"""Scratch: where do target-l's greedy continuations loop? distinct-2 per domain, per half, per prompt.

    OMP_NUM_THREADS=1 python experiments/zoo_degeneracy.py ZOO_SCALE_DIR [PROMPTS]

ZOO_SCALE_DIR is a folder holding built models (e.g. zoo/ci or /tmp/zoo-variant-X/zoo/ci); the
newest ``target-l-*`` in it is loaded with ``from_pretrained``. Prints, per domain, the mean distinct-2
of the 128 new tokens (the gate's figure), of their first and second 64 tokens, the prompt length in
tokens, and the fraction of continuations that end in a short loop (last 32 tokens with distinct-2 <
0.3). Not part of the package.
"""

import statistics
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from pard_ref.text import corpus
from pard_ref.zoo import gate as zoo_report
from pard_ref.text.tokenizer import encode_prompt

torch.set_num_threads(1)
folder = max(Path(sys.argv[1]).glob("target-l-*"), key=lambda p: p.stat().st_mtime)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 24
model = AutoModelForCausalLM.from_pretrained(folder).eval()
tok = PreTrainedTokenizerFast.from_pretrained(folder)
print(folder)
for d in corpus.DOMAINS:
    rows = []
    for r in corpus.load_eval_prompts(d)[:n]:
        ids = encode_prompt(tok, r["prompt"])
        c = zoo_report.greedy_continuation(model, ids)
        rows.append((zoo_report.distinct_n(c), zoo_report.distinct_n(c[:64]), zoo_report.distinct_n(c[64:]),
                     len(ids), zoo_report.distinct_n(c[-32:]) < 0.3))
    cols = list(zip(*rows))
    print(f"{d:6s} distinct-2 {statistics.mean(cols[0]):.3f}  first64 {statistics.mean(cols[1]):.3f}  "
          f"last64 {statistics.mean(cols[2]):.3f}  prompt tokens {statistics.mean(cols[3]):.0f}  "
          f"ends in a loop {sum(cols[4])}/{len(rows)}  per prompt {[round(v, 2) for v in cols[0]]}")
