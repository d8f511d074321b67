"""Scratch: build a whole full-scale family with a candidate recipe in a separate home, then run the gate.

    OMP_NUM_THREADS=1 python experiments/zoo_recipe_variants.py VARIANT

Each variant replaces the full-scale recipes of pard_ref.zoo.SPECS in this process only, builds the
family under /tmp/zoo-variant-VARIANT (corpus, tokenizer and token caches are symlinked from the
checkout), and writes the gate's figures (pard_ref.zoo.gate.measure) and the build seconds to
docs/_runs/zoo_variant-VARIANT.json. Not part of the package: the recipe that wins goes into zoo.py.
"""

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
variant = sys.argv[1]
home = Path(f"/tmp/zoo-variant-{variant}")
(home / "zoo").mkdir(parents=True, exist_ok=True)
if not (home / "data").exists():
    (home / "data").symlink_to(ROOT / "data")
for name in ("tokens", "tokenizer-v2-bpe2048"):
    if not (home / "zoo" / name).exists():
        (home / "zoo" / name).symlink_to(ROOT / "zoo" / name)
os.environ["PARD_REF_HOME"] = str(home)

from pard_ref import zoo
from pard_ref.zoo import gate as zoo_report

S = zoo.SPECS


SCALE = "ci" if variant.startswith("ci-") else "full"


def set_full(name, **changes):
    """Change the recipe of ``name`` at this variant's scale (full, or ci for variants named ci-*)."""
    spec = S[name]
    recipes = dict(spec.recipes)
    recipes[SCALE] = replace(recipes[SCALE], **changes)
    S[name] = replace(spec, recipes=recipes)


VARIANTS = {
    # the committed recipe at 256-token sequences (same tokens per step), grown targets and draft-pard trimmed
    "seq256": lambda: [set_full("draft-ar", steps=2000, batch_size=2, seq_len=256),
                       set_full("target-s", batch_size=2, seq_len=256),
                       set_full("target-m", steps=900, batch_size=4, seq_len=256),
                       set_full("target-l", steps=900, batch_size=4, seq_len=256),
                       set_full("draft-pard", steps=400, batch_size=4, seq_len=256)],
    # more of the tokens where they are cheap: the 2-layer target-s, fewer for the grown ones
    "sheavy": lambda: [set_full("draft-ar", steps=2000, batch_size=2, seq_len=256),
                       set_full("target-s", steps=4000, batch_size=2, seq_len=256),
                       set_full("target-m", steps=700, batch_size=4, seq_len=256),
                       set_full("target-l", steps=700, batch_size=4, seq_len=256),
                       set_full("draft-pard", steps=400, batch_size=4, seq_len=256)],
    # s-heavy at the committed 128-token sequences (256 was worse per token in both variants above)
    "sheavy128": lambda: [set_full("target-s", steps=3600),
                          set_full("target-m", steps=700, warmup_steps=70),
                          set_full("target-l", steps=700, warmup_steps=70),
                          set_full("draft-pard", steps=500, warmup_steps=50)],
    # ci: 256-token sequences, and twice the committed ci steps for the targets (CI has the minutes)
    "ci-seq256": lambda: [set_full("draft-ar", steps=800, batch_size=2, seq_len=256),
                          set_full("target-s", steps=1400, batch_size=2, seq_len=256),
                          set_full("target-m", steps=500, batch_size=4, seq_len=256),
                          set_full("target-l", steps=500, batch_size=4, seq_len=256),
                          set_full("draft-pard", steps=150, batch_size=4, seq_len=256)],
}
TEXT = ("draft-ar", "target-s", "target-m", "target-l")


def _all_text(**changes):
    return lambda: [set_full(n, **changes) for n in TEXT]


# unlikelihood training (pard_ref.training.unlikelihood) for every text model, at the ci scale: weight, candidates
for _kind in ("context", "bigram"):
    for _alpha in (0.25, 0.5, 1.0, 2.0):
        VARIANTS[f"ci-ul-{_kind}-{_alpha}"] = _all_text(unlikelihood=_alpha, unlikelihood_candidates=_kind)
        VARIANTS[f"ul-{_kind}-{_alpha}"] = _all_text(unlikelihood=_alpha, unlikelihood_candidates=_kind)
VARIANTS["ci-base"] = VARIANTS["base"] = lambda: None
# lever 9 (docs/zoo.md): the committed context extension plus target-s's last third at 256-token windows
VARIANTS["extend-all"] = lambda: set_full("target-s", long_steps=1200)
# lever 9 at ci: draft-ar's and target-s's last third at 256, grown targets at 4 x 256 throughout
VARIANTS["ci-extend"] = lambda: [set_full("draft-ar", long_steps=133), set_full("target-s", long_steps=233),
                                 set_full("target-m", batch_size=4, seq_len=256),
                                 set_full("target-l", batch_size=4, seq_len=256)]
VARIANTS[variant]()
t0 = time.time()
seconds = {}
for name in ("draft-ar", "target-s", "target-m", "target-l", "draft-pard")[:None if os.environ.get("WITH_PARD") else 4]:
    zoo.build_one(name, SCALE, progress=False)
    seconds[name] = zoo.info(name, SCALE)["build_seconds"]
    print(name, seconds[name], flush=True)
if os.environ.get("SKIP_MEASURE"):
    sys.exit(0)
res = zoo_report.measure(SCALE, prompts_per_domain=int(os.environ.get("PROMPTS", 0)) or None, progress=False)
res["variant"] = variant
res["build_seconds"] = seconds
res["keys"] = {n: zoo.build_key(n, SCALE) for n in seconds}
out = ROOT / "docs" / "_runs" / f"zoo_variant-{variant}.json"
out.write_text(json.dumps(res, indent=1, default=str))
print(zoo_report.format_markdown(res))
print("wall", round(time.time() - t0))
