"""Scratch: fine-tune one built model with sequence-level unlikelihood (the zoo's Finish), save it.

    [NAME=target-l] [MIX='{"code":0.4,"math":0.3,"prose":0.3}'] [PMIX='{"code":0.4,"prose":0.6}'] \
    [P=32 N=96 NG=4] OMP_NUM_THREADS=1 python experiments/zoo_finish_try.py SRC_DIR DST_DIR STEPS ALPHA LR BATCH

Loads the newest NAME-* in SRC_DIR, trains STEPS steps of NLL on MIX windows + ALPHA x sequence-level
unlikelihood on greedy continuations of PMIX prefixes (P prefix tokens, N new tokens, NG-gram loops;
PMIX defaults to MIX, MIX to target-l's ci mixture), constant LR after 5 warm-up steps, and saves to
DST_DIR/NAME-x. Measure with experiments/zoo_degeneracy.py and experiments/zoo_gate_quick.py. The runs behind
docs/zoo.md's "finish" table. Not part of the package: the settings that won are pard_ref.zoo.Finish.
"""
import sys, time, torch, os
from pathlib import Path
from transformers import AutoModelForCausalLM
from pard_ref import zoo
from pard_ref.text.tokenizer import load as load_tok
from pard_ref.training.lm import TrainConfig, lm_batches, train
from pard_ref.training.unlikelihood import sequence_unlikelihood_lm_loss
torch.set_num_threads(1)
src, dst, steps, alpha, lr, bs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
NAME = os.environ.get("NAME", "target-l")
folder = max(Path(src).glob(NAME + "-*"), key=lambda p: p.stat().st_mtime)
model = AutoModelForCausalLM.from_pretrained(folder)
tok = load_tok()
mix = dict(zoo.SPECS["target-l"].recipes["ci"].mixture); mix.update(eval(os.environ.get("MIX", "{}")))
streams = zoo.train_streams(tok)
nllb = lm_batches(streams, mix, bs, 128, seed=7)
pmix = eval(os.environ.get("PMIX", "None")) or mix
prefb = lm_batches(streams, pmix, bs, 128, seed=8)
batches = ({"input_ids": a["input_ids"], "labels": a["labels"], "prefix_ids": b["input_ids"]} for a, b in zip(nllb, prefb))
t0 = time.time()
log = train(model, batches, TrainConfig(steps=steps, lr=lr, warmup_steps=5, min_lr_ratio=1.0, log_every=5),
            loss_fn=sequence_unlikelihood_lm_loss(alpha, prefix_len=int(os.environ.get("P", 32)), new_tokens=int(os.environ.get("N", 96)), n=int(os.environ.get("NG", 4))), progress=False,
            on_log=lambda s, v, m: print(s, round(v, 3), {k: round(x, 3) for k, x in m.items()}, flush=True))
print("seconds", time.time() - t0)
out = Path(dst) / (NAME + "-x"); out.mkdir(parents=True, exist_ok=True)
model.save_pretrained(out); tok.save_pretrained(out)
