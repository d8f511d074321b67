"""The zoo: pard_ref's own tiny model family, trained here, offline, on the three-domain corpus.

=============  ==============================================================================
name           what it is
=============  ==============================================================================
target-s       smallest target (a LlamaForCausalLM)
target-m       middle target
target-l       largest target: the one speculative decoding accelerates in the notebooks
draft-ar       an autoregressive draft, >= 8x fewer parameters than target-l
draft-pard     draft-ar adapted into a parallel draft with COD at K=8 (carries ``pard_token``)
=============  ==============================================================================

Every model shares one tokenizer (:mod:`pard_ref.tokenizer`), is a ``transformers`` model saved with
``save_pretrained``, and loads with ``from_pretrained`` exactly like a hub checkpoint.

The recipe (see ``docs/zoo.md`` for the measurements behind each choice):

* **Depth buys inference cost, width buys quality per training FLOP.** On a CPU a one-token forward
  costs mostly per-layer and per-call overhead, so the targets are deeper than the draft: target-l
  costs several draft calls per call, which is the regime where drafting pays off.
* **Targets grow, they are not trained from scratch.** target-m is target-s with its depth doubled by
  a function-preserving copy (:func:`grow_deeper`) and trained on fresh tokens, target-l likewise from
  target-m, so each target starts where the previous one ended: bigger means better by construction,
  and the tokens target-s sees (cheap: two layers) are inherited by the deeper ones. Training a big
  model from scratch in the same minutes starves it of tokens, and a starved big model loses to a
  well-fed small one (measured in the quality gate issue).
* **Warm-up + cosine learning rate, gradient clipping, weight decay** (see :mod:`pard_ref.training`).
* **Train on the positions generation reaches** (full scale): a held-out prompt plus 128 new tokens
  runs past position 128, so draft-ar's last third and the grown targets read 256-token windows
  (:func:`main_batches`); a model that never saw those positions produces text there that no draft
  predicts.

* **target-l ends with a short unlikelihood finish** (:class:`Finish`, :mod:`pard_ref.unlikelihood`):
  trained on the next-token loss alone, its greedy text loops, and greedy text is what speculative
  decoding reproduces in every notebook.

Two scales: ``ci`` (minutes, for tests and CI) and ``full`` (the default; the text family in about 13
minutes on a 2-core laptop CPU with ``build(jobs=2)``, much faster on a GPU, where it trains in bf16 autocast).

Builds are cached in ``zoo/<scale>/<name>-<key>``, where ``key`` hashes everything that determines the
weights (architecture, recipe, tokenizer, corpus version). A build is written under a temporary name
and renamed when complete, so an interrupted build never leaves a folder that loads; a file lock
makes concurrent builders (e.g. test workers) wait for each other instead of training twice.

What it does not handle: resuming an interrupted build (it restarts), or sharing builds between
Python versions (the corpus differs, so the key differs).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from . import corpus, paths, tokenizer as tokenizer_mod
from .device import default_device
from .training import TrainConfig, causal_lm_loss, lm_batches, token_stream, train
from .unlikelihood import sequence_unlikelihood_lm_loss, unlikelihood_lm_loss

ZOO_VERSION = 1  # bump when training code changes in a way that changes weights
SCALES = ("ci", "full")
DEFAULT_SCALE = "full"
TARGETS = ("target-s", "target-m", "target-l")
TEXT_MODELS = ("draft-ar", "target-s", "target-m", "target-l")


@dataclass(frozen=True)
class Arch:
    """The shape of one Llama: width, depth, heads and MLP width; the tokenizer fixes the vocabulary."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int = 1024

    def llama_config(self, tok):
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=len(tok), hidden_size=self.hidden, num_hidden_layers=self.layers,
            num_attention_heads=self.heads, num_key_value_heads=self.heads,
            intermediate_size=self.intermediate, max_position_embeddings=self.max_positions,
            rms_norm_eps=1e-5, tie_word_embeddings=True, rope_theta=10000.0,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        )


@dataclass(frozen=True)
class Finish:
    """A last, short phase of sequence-level unlikelihood training (:mod:`pard_ref.unlikelihood`).

    Each step continues ``prefix_len`` tokens of ``batch_size`` training windows greedily for
    ``new_tokens`` tokens and pushes down the tokens of those continuations that repeat an
    ``ngram``, while the ordinary next-token loss on other windows (``text_mixture``) keeps it a
    language model. The prefixes come from code and prose only: a math continuation's repeated
    4-grams are the problem template ("How many ... do they have"), not a loop, and penalising them
    costs math loss. The next-token windows give prose a larger share than the main phase does,
    because the penalty falls mostly on prose and would otherwise cost prose loss (both measured in
    docs/zoo.md).
    """

    steps: int
    alpha: float = 1.0
    lr: float = 3e-4  # constant after a short warm-up: a fine-tune of a trained model
    batch_size: int = 8
    prefix_len: int = 32
    new_tokens: int = 96
    ngram: int = 4
    prefix_mixture: tuple[tuple[str, float], ...] = (("code", 0.4), ("prose", 0.6))
    text_mixture: tuple[tuple[str, float], ...] = (("code", 0.4), ("math", 0.3), ("prose", 0.3))


@dataclass(frozen=True)
class Recipe:
    """How one model is trained at one scale."""

    steps: int
    batch_size: int = 16
    seq_len: int = 128
    # Context extension: the last ``long_steps`` steps read ``long_seq_len``-token windows (the same
    # tokens per step in fewer rows), so the model has seen the positions that generation reaches.
    long_seq_len: int = 256
    long_steps: int = 0
    lr: float = 3e-3
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    # Domain weights. Prose (pydoc topics) is small (~125k tokens), so it is weighted low to keep the
    # deepest target from seeing it many epochs over (which would overfit its held-out loss).
    mixture: tuple[tuple[str, float], ...] = (("code", 0.5), ("math", 0.35), ("prose", 0.15))
    seed: int = 0
    # Unlikelihood weight alpha and candidate set (pard_ref.unlikelihood); 0 = the plain next-token loss.
    unlikelihood: float = 0.0
    unlikelihood_candidates: str = "context"
    finish: Finish | None = None  # a sequence-level unlikelihood phase after the main training

    @property
    def tokens(self) -> int:
        return self.steps * self.batch_size * self.seq_len


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: Arch | None  # None: the builder chooses (arc-base's recipe carries its own architecture)
    recipes: dict = field(hash=False)  # scale -> Recipe (or the builder's own recipe type)
    role: str = "target"  # "target" | "draft"
    grow_from: str | None = None  # start from this (shallower, same width) model's trained weights
    pard_from: str | None = None  # adapt this AR draft into a parallel draft (PARD training with COD)
    kind: str = "text"  # "text": the BPE tokenizer and the corpus; "arc": the grid tokenizer and ARC tasks


# The family (see the module docstring and docs/zoo.md for why):
# - draft-ar: one layer, trained from scratch;
# - target-s: two layers, trained from scratch on more tokens than the draft;
# - target-m, target-l: grown from the previous target by depth doubling (function-preserving, see
#   grow_deeper), then trained on fresh data. Each target is the previous one plus new layers and
#   more training, so the family is ordered by construction, and the deepest is the costliest per call.
# Full scale: most tokens go to target-s, where they are cheapest (2 layers: ~8k tokens/s on one core
# against ~2.7k for target-l); each grown target then trains 0.72M fresh tokens. Measured against the
# earlier split (2400 / 1200 / 1200 steps) in docs/zoo.md: 5 minutes less, less looping, same ordering.
_SCRATCH = {"full": Recipe(steps=2400, batch_size=4, lr=3e-3, warmup_steps=100),
            "ci": Recipe(steps=700, batch_size=4, lr=3e-3, warmup_steps=50)}
# Context extension (full scale): generation runs past 128 positions (a held-out prompt of ~90 tokens
# plus 128 new ones), and a model trained on 128-token windows only is lost there (target-l's held-out
# math loss past position 128: 1.75 against 0.71 before it), which is where its greedy text and the
# draft part ways. So draft-ar reads 256-token windows in the last third of its steps (short windows
# learn faster early on) and the grown targets read them throughout. target-s keeps 128-token windows:
# extending it cost it 0.06 nats at 128 tokens, made it as good at math as target-l, and lowered
# target-l's agreement with the draft (docs/zoo.md, lever 9). The ci scale keeps 128 everywhere: its
# extended family measured code distinct-2 0.46 (gate 2 wants >= 0.5).
LONG_SEQ_LEN = 256


def _long_last_third(r: Recipe) -> Recipe:
    return replace(r, long_seq_len=LONG_SEQ_LEN, long_steps=r.steps // 3)


_GROWN = {"full": Recipe(steps=700, batch_size=4, seq_len=LONG_SEQ_LEN, lr=2e-3, warmup_steps=70, seed=1),
          "ci": Recipe(steps=350, batch_size=8, lr=2e-3, warmup_steps=50, seed=1)}
_WIDTH = dict(hidden=192, heads=6, intermediate=512)
# target-l, the model speculative decoding accelerates, ends with a short phase of sequence-level
# unlikelihood (Finish): the plain next-token loss alone gives a target-l whose greedy text loops
# (distinct-2 0.25 code / 0.16 prose at the ci scale, 0.45 / 0.37 at full), and greedy text is what
# every figure of the project decodes. The ci models are weaker (a third of the tokens) and loop more,
# so their finish is longer and stronger. target-s and target-m keep the plain loss (target-l grows
# from target-m's weights before its own training). See docs/zoo.md for what it bought and cost.
_FINISH = {"full": Finish(steps=120, alpha=1.0), "ci": Finish(steps=160, alpha=3.0)}
SPECS: dict[str, ModelSpec] = {
    "draft-ar": ModelSpec("draft-ar", Arch(hidden=128, layers=1, heads=4, intermediate=320),
                          {"full": _long_last_third(replace(_SCRATCH["full"], steps=1800, lr=4e-3, seed=2)),
                           "ci": replace(_SCRATCH["ci"], steps=400, lr=4e-3, seed=2)},
                          role="draft"),
    "target-s": ModelSpec("target-s", Arch(layers=2, **_WIDTH),
                          {"full": replace(_SCRATCH["full"], steps=3600), "ci": _SCRATCH["ci"]}),
    "target-m": ModelSpec("target-m", Arch(layers=4, **_WIDTH), _GROWN, grow_from="target-s"),
    "target-l": ModelSpec("target-l", Arch(layers=8, **_WIDTH),
                          {s: replace(r, finish=_FINISH[s]) for s, r in _GROWN.items()}, grow_from="target-m"),
    # draft-ar adapted with COD at K=8 (r=0.7, r_min=0.2): see pard_ref.pard_zoo. It keeps 128-token
    # windows: adapted from the extended draft-ar, 256-token windows measured no better (docs/zoo.md,
    # lever 9), and the draft-ar it starts from has already seen 256 positions.
    "draft-pard": ModelSpec("draft-pard", Arch(hidden=128, layers=1, heads=4, intermediate=320),
                            {"full": Recipe(steps=500, batch_size=8, lr=1e-3, warmup_steps=50, seed=3),
                             "ci": Recipe(steps=150, batch_size=8, lr=1e-3, warmup_steps=15, seed=3)},
                            role="draft", pard_from="draft-ar"),
}
PARD_K, PARD_DROP_RATIO, PARD_MIN_DROP_RATIO = 8, 0.7, 0.2


def _arc_spec() -> ModelSpec:
    """``arc-base``: the start model of test-time training (pard_ref.ttt.pretrain), its own tokenizer."""
    from .ttt.pretrain import ARC_RECIPES

    return ModelSpec("arc-base", None, dict(ARC_RECIPES), role="arc", kind="arc")


SPECS["arc-base"] = _arc_spec()


def _arc_data_version() -> int:
    from .ttt.pretrain import ARC_DATA_VERSION

    return ARC_DATA_VERSION


def names() -> list[str]:
    """Every model name the zoo knows."""
    return list(SPECS)


def _check(name: str, scale: str | None) -> tuple[ModelSpec, str]:
    scale = scale or os.environ.get("PARD_REF_SCALE", DEFAULT_SCALE)
    if scale not in SCALES:
        raise ValueError(f"unknown zoo scale {scale!r}; choose one of {SCALES}")
    if name not in SPECS:
        raise ValueError(f"unknown zoo model {name!r}; the zoo has: {', '.join(names())}")
    return SPECS[name], scale


def build_key(name: str, scale: str | None = None) -> str:
    """A hash of everything that determines a model's weights."""
    spec, scale = _check(name, scale)
    recipe = asdict(spec.recipes[scale])
    if not recipe.get("long_steps"):  # no context extension: the key of a model built before it existed
        recipe.pop("long_steps", None)
        recipe.pop("long_seq_len", None)
    blob = json.dumps({
        "zoo": ZOO_VERSION, "corpus": corpus.CORPUS_VERSION, "vocab": tokenizer_mod.DEFAULT_VOCAB_SIZE,
        "arch": asdict(spec.arch) if spec.arch else None, "recipe": recipe,
        "grown_from": build_key(spec.grow_from, scale) if spec.grow_from else None,
        **({"arc_data": _arc_data_version()} if spec.kind == "arc" else {}),
        **({"pard_from": build_key(spec.pard_from, scale), "pard": [PARD_K, PARD_DROP_RATIO, PARD_MIN_DROP_RATIO]}
           if spec.pard_from else {}),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def model_dir(name: str, scale: str | None = None) -> Path:
    """The folder a built model lives in (it may not exist yet)."""
    spec, scale = _check(name, scale)
    return paths.zoo_dir() / scale / f"{name}-{build_key(name, scale)}"


def is_built(name: str, scale: str | None = None) -> bool:
    return (model_dir(name, scale) / "pard_ref.json").exists()


def info(name: str, scale: str | None = None) -> dict:
    """The build record of a built model: recipe, parameter count, build seconds, loss curve."""
    path = model_dir(name, scale) / "pard_ref.json"
    if not path.exists():
        _missing(name, scale)
    return json.loads(path.read_text())


def _missing(name, scale):
    scale = scale or os.environ.get("PARD_REF_SCALE", DEFAULT_SCALE)
    raise FileNotFoundError(
        f"zoo model {name!r} is not built at scale {scale!r} (looked in {model_dir(name, scale)}). "
        f"Build it with `python -m pard_ref zoo build --scale {scale}` (or `make zoo SCALE={scale}`).")


def load(name: str, scale: str | None = None, *, device=None, dtype=None):
    """``(model, tokenizer)`` of a built zoo model, loaded with ``from_pretrained``.

    ``scale`` defaults to ``$PARD_REF_SCALE`` or ``"full"``. ``dtype`` defaults to float32 (the saved
    precision); pass ``torch.float64`` for exactness tests or ``torch.bfloat16`` on a GPU.
    """
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    _check(name, scale)
    folder = model_dir(name, scale)
    if not (folder / "pard_ref.json").exists():
        _missing(name, scale)
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a per-tensor "Loading weights" bar is noise for models this small
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype or torch.float32)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
    model.to(device or default_device()).eval()
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    return model, tok


def train_streams(tok) -> dict[str, torch.Tensor]:
    return {d: token_stream(tok, d, "train") for d in corpus.DOMAINS}


def grow_deeper(parent, arch: Arch, tok):
    """A deeper copy of ``parent`` that computes exactly the same function (before any training).

    Layer i of the parent becomes layer ``2i``; layer ``2i+1`` is a copy of it whose two output
    projections (attention ``o_proj`` and MLP ``down_proj``) are zero, so the new block adds nothing
    to the residual stream: an identity. Training then has a model as good as the parent to start
    from, with twice the layers to improve it. Width, heads and vocabulary must match.
    """
    from transformers import LlamaForCausalLM

    p = parent.config
    if (p.hidden_size, p.num_attention_heads, p.intermediate_size) != (arch.hidden, arch.heads, arch.intermediate):
        raise ValueError("grow_deeper keeps the width: hidden size, heads and MLP width must match the parent's")
    if arch.layers != 2 * p.num_hidden_layers:
        raise ValueError(f"grow_deeper doubles depth: {p.num_hidden_layers} layers -> {2 * p.num_hidden_layers}, "
                         f"not {arch.layers}")
    child = LlamaForCausalLM(arch.llama_config(tok)).to(device=parent.device, dtype=parent.dtype)
    state = {k: v for k, v in parent.state_dict().items() if ".layers." not in k}
    for i, layer in enumerate(parent.model.layers):
        for k, v in layer.state_dict().items():
            state[f"model.layers.{2 * i}.{k}"] = v.clone()
            zero = k.endswith(("o_proj.weight", "down_proj.weight"))
            state[f"model.layers.{2 * i + 1}.{k}"] = torch.zeros_like(v) if zero else v.clone()
    child.load_state_dict(state, strict=False)  # lm_head is tied to the embedding
    child.tie_weights()
    return child


def _train_model(spec: ModelSpec, scale: str, tok, progress: bool):
    from transformers import LlamaForCausalLM

    if spec.kind == "arc":
        from .ttt.pretrain import pretrain_arc_base

        return pretrain_arc_base(scale, progress=progress)  # (model, grid tokenizer, log)
    recipe: Recipe = spec.recipes[scale]
    torch.manual_seed(recipe.seed)
    if spec.pard_from:
        from .pard_zoo import build_draft_pard

        draft_ar, _ = load(spec.pard_from, scale, device=default_device())
        model, log = build_draft_pard(draft_ar, tok, steps=recipe.steps, batch_size=recipe.batch_size,
                                      seq_len=recipe.seq_len, lr=recipe.lr, warmup=recipe.warmup_steps,
                                      k=PARD_K, drop_ratio=PARD_DROP_RATIO, min_drop_ratio=PARD_MIN_DROP_RATIO,
                                      seed=recipe.seed, progress=progress)
        return model, tok, log
    if spec.grow_from:
        parent, _ = load(spec.grow_from, scale)
        model = grow_deeper(parent, spec.arch, tok).to(default_device())
    else:
        model = LlamaForCausalLM(spec.arch.llama_config(tok)).to(default_device())
    batches = main_batches(train_streams(tok), recipe)
    cfg = TrainConfig(steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps,
                      min_lr_ratio=recipe.min_lr_ratio)
    loss_fn = (unlikelihood_lm_loss(recipe.unlikelihood, recipe.unlikelihood_candidates)
               if recipe.unlikelihood else causal_lm_loss)
    log = train(model, batches, cfg, loss_fn=loss_fn, desc=f"{spec.name} ({scale})", progress=progress)
    if recipe.finish:
        log.extra["finish"] = _finish(model, tok, recipe, f"{spec.name} ({scale}) finish", progress)
    return model, tok, log


def main_batches(streams: dict[str, torch.Tensor], recipe: Recipe):
    """The main phase's batches: ``batch_size x seq_len`` windows, then ``long_steps`` of longer ones.

    The long windows keep the tokens per step (``batch_size * seq_len // long_seq_len`` rows), so
    the phase changes which positions the model sees, not how much it reads.
    """
    mix = dict(recipe.mixture)
    short = lm_batches(streams, mix, recipe.batch_size, recipe.seq_len, seed=recipe.seed)
    if not recipe.long_steps:
        return short
    rows = recipe.batch_size * recipe.seq_len // recipe.long_seq_len
    if rows < 1 or recipe.long_steps > recipe.steps:
        raise ValueError(f"context extension needs long_steps <= steps and long_seq_len <= batch_size * seq_len; "
                         f"got long_steps={recipe.long_steps}, steps={recipe.steps}, long_seq_len={recipe.long_seq_len}")
    long = lm_batches(streams, mix, rows, recipe.long_seq_len, seed=recipe.seed + 500)
    return itertools.chain(itertools.islice(short, recipe.steps - recipe.long_steps), long)


def _finish(model, tok, recipe: Recipe, desc: str, progress: bool) -> dict:
    """Run ``recipe.finish`` (sequence-level unlikelihood) on ``model`` in place; returns its log."""
    f = recipe.finish
    streams = train_streams(tok)
    text = lm_batches(streams, dict(f.text_mixture), f.batch_size, recipe.seq_len, seed=recipe.seed + 1000)
    prefixes = lm_batches(streams, dict(f.prefix_mixture), f.batch_size, f.prefix_len, seed=recipe.seed + 2000)
    batches = ({**t, "prefix_ids": p["input_ids"]} for t, p in zip(text, prefixes))
    cfg = TrainConfig(steps=f.steps, lr=f.lr, warmup_steps=min(10, f.steps), min_lr_ratio=1.0, log_every=5)
    loss_fn = sequence_unlikelihood_lm_loss(f.alpha, prefix_len=f.prefix_len, new_tokens=f.new_tokens, n=f.ngram)
    log = train(model, batches, cfg, loss_fn=loss_fn, desc=desc, progress=progress)
    return {"steps": log.steps, "tokens": log.tokens, "seconds": round(log.seconds, 1), **log.extra}


def build_one(name: str, scale: str | None = None, *, progress: bool = True) -> Path:
    """Train and save one model if it is not built yet; returns its folder."""
    spec, scale = _check(name, scale)
    final = model_dir(name, scale)
    with paths.file_lock(final.parent / f".{name}.lock"):
        if (final / "pard_ref.json").exists():
            return final
        tok = tokenizer_mod.load() if spec.kind == "text" else None
        t0 = time.perf_counter()
        model, tok, log = _train_model(spec, scale, tok, progress)
        seconds = time.perf_counter() - t0
        record = {
            "name": name, "scale": scale, "key": build_key(name, scale), "role": spec.role,
            "grown_from": spec.grow_from, "pard_from": spec.pard_from,
            "arch": asdict(spec.arch) if spec.arch else None, "recipe": asdict(spec.recipes[scale]),
            "parameters": sum(p.numel() for p in model.parameters()),
            "build_seconds": round(seconds, 1), "train_tokens": log.tokens,
            "device": str(default_device()), "torch": torch.__version__,
            "loss_curve": {"steps": log.steps, "losses": log.losses},
            **({"finish_log": log.extra["finish"]} if "finish" in log.extra else {}),
        }
        with paths.atomic_dir(final) as tmp:
            model.float().save_pretrained(tmp)
            tok.save_pretrained(tmp)
            # written last: its presence is what marks a folder as a complete build
            (tmp / "pard_ref.json").write_text(json.dumps(record, indent=1))
        if progress:
            print(f"zoo: built {name} ({scale}) {record['parameters'] / 1e6:.2f}M params "
                  f"in {seconds:.0f} s -> {final}")
        return final


def lineages(names_: list[str]) -> list[list[str]]:
    """``names_`` grouped into independent lineages (a model with the models it grows or adapts from).

    Different lineages share no weights, so they can be trained at the same time; within one the
    order is the dependency order. Longest lineage (most models) first.
    """
    groups: dict[str, list[str]] = {}
    for n in (m for m in names() if m in names_):
        root = n
        while SPECS[root].grow_from or SPECS[root].pard_from:
            root = SPECS[root].grow_from or SPECS[root].pard_from
        groups.setdefault(root, []).append(n)
    return sorted(groups.values(), key=len, reverse=True)


def build(scale: str | None = None, names_: list[str] | None = None, *, progress: bool = True,
          jobs: int = 1) -> dict:
    """Build every missing model of the family at ``scale`` (default ``full``), in dependency order.

    Returns ``{name: folder}``. Already-built models are reused (the cache key covers the recipe).
    ``jobs > 1`` trains up to ``jobs`` independent lineages at once (e.g. the targets on one core, the
    drafts on the other), each in its own process with one torch thread: on a few CPU cores that is
    faster than one process using them all, because these models are too small to keep several
    threads busy.
    """
    scale = scale or os.environ.get("PARD_REF_SCALE", DEFAULT_SCALE)
    corpus.build(quiet=not progress)
    tokenizer_mod.build(quiet=not progress)
    wanted = set(names_ or names())
    for n in list(wanted):  # a grown or adapted model needs its parent
        while SPECS[n].grow_from or SPECS[n].pard_from:
            n = SPECS[n].grow_from or SPECS[n].pard_from
            wanted.add(n)
    groups = lineages([n for n in names() if n in wanted and not is_built(n, scale)])
    if jobs > 1 and len(groups) > 1:
        _build_in_parallel(scale, groups, jobs, progress)
    return {n: build_one(n, scale, progress=progress) for n in names() if n in wanted}


def _build_in_parallel(scale: str, groups: list[list[str]], jobs: int, progress: bool) -> None:
    """One ``python -m pard_ref zoo build`` process per lineage, at most ``jobs`` at a time."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def run(group: list[str]) -> tuple[list[str], int]:
        cmd = [sys.executable, "-m", "pard_ref", "zoo", "build", "--scale", scale, *group]
        if progress:
            sys.stdout.write(f"zoo: building {', '.join(group)} in a process of its own\n")  # one write: threads
            sys.stdout.flush()
        done = subprocess.run(cmd, env=env, stdout=None if progress else subprocess.DEVNULL)
        return group, done.returncode

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        failed = [g for g, rc in pool.map(run, groups) if rc != 0]
    if failed:
        raise RuntimeError(f"zoo: building {failed} failed (see the output above); finished models are kept, "
                           f"and `python -m pard_ref zoo build --scale {scale}` resumes with the missing ones")
