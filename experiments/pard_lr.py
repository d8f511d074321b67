"""Scratch: COD adaptation of the full draft-ar at another learning rate (everything else as train-bench full).

    OMP_NUM_THREADS=1 python experiments/pard_lr.py 3e-3

Prints draft-ar's τ and the COD draft's τ (target-l, K=8) at each quarter of the 240 steps. Not part of
the package; the figures are quoted in docs/pard_training.md.
"""

import sys

from pard_ref.bench import cod as pard_bench

lr = float(sys.argv[1])
cfg = pard_bench.config_for("full", lr=lr, settings=(pard_bench.COD,))
r = pard_bench.run_bench(cfg, isolate=False, progress=False)
print("lr", lr, "draft-ar", r["draft_ar_tau"])
for c in r["results"][0]["checkpoints"]:
    print(c["steps"], c["tau"])
