"""Run by tests/zoo/test_build.py in subprocesses: build a tiny zoo entry under a temporary zoo folder.

usage: python _zoo_worker.py ZOO_DIR COUNTER_FILE [block]
With ``block`` the training step waits forever (the test kills the process mid-build).
"""

import sys
import time
from pathlib import Path

import torch

from pard_ref import paths, zoo
from pard_ref.zoo import builder

zoo_dir, counter = Path(sys.argv[1]), Path(sys.argv[2])
block = len(sys.argv) > 3 and sys.argv[3] == "block"
paths.zoo_dir = lambda: zoo_dir  # noqa: E731  everything the zoo writes goes to the test's folder
zoo.SPECS["tiny"] = zoo.ModelSpec("tiny", zoo.Arch(hidden=16, layers=1, heads=2, intermediate=32),
                                  {"ci": zoo.Recipe(steps=3, batch_size=2, seq_len=16, warmup_steps=1)})
builder.train_streams = lambda tok: {d: torch.randint(4, len(tok), (4096,)) for d in ("code", "math", "prose")}
original = builder.train_model


def counted(*args, **kwargs):
    with open(counter, "a") as f:
        f.write("trained\n")
    if block:
        print("training", flush=True)
        while True:
            time.sleep(1)
    time.sleep(1.0)  # long enough for a concurrent builder to reach the lock
    return original(*args, **kwargs)


builder.train_model = counted
print(zoo.build_one("tiny", "ci", progress=False), flush=True)
