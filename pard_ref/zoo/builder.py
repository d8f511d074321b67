"""Building the zoo: cache keys, atomic cached builds, one lineage per process, and loading.

Builds are cached in ``zoo/<scale>/<name>-<key>``, where ``key`` hashes everything that determines the
weights (architecture, recipe, tokenizer, corpus version). A build is written under a temporary name
and renamed when complete, so an interrupted build never leaves a folder that loads; a file lock
makes concurrent builders (e.g. test workers) wait for each other instead of training twice.
Every model is a ``transformers`` model saved with ``save_pretrained`` and loads with
``from_pretrained`` exactly like a hub checkpoint.

A model registered with a ``converter`` (``smol-target``, :mod:`pard_ref.zoo.smol`) is not trained:
every function here hands it to its converter (its own key and folder, the same at every scale).

What it does not handle: resuming an interrupted build (it restarts), or sharing builds between
Python versions (the corpus differs, so the key differs).
"""


from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .. import paths
from ..device import default_device
from ..scale import current as current_scale
from ..text import corpus
from ..text import tokenizer as tokenizer_mod
from ..training.lm import TrainConfig, causal_lm_loss, lm_batches, token_stream, train
from ..training.unlikelihood import sequence_unlikelihood_lm_loss, unlikelihood_lm_loss
from .family import (
    PARD_DROP_RATIO, PARD_K, PARD_MIN_DROP_RATIO, SPECS, ZOO_VERSION, Arch, ModelSpec, Recipe, check, names
)


def build_key(name: str, scale: str | None = None) -> str:
    """A hash of everything that determines a model's weights."""
    spec, scale = check(name, scale)
    if spec.converter is not None:  # a converted model: its own key, the same at every scale
        return spec.converter.build_key()
    recipe = asdict(spec.recipes[scale])
    if not recipe.get("long_steps"):  # no context extension: the key of a model built before it existed
        recipe.pop("long_steps", None)
        recipe.pop("long_seq_len", None)
    blob = json.dumps({
        "zoo": ZOO_VERSION, "corpus": corpus.CORPUS_VERSION, "vocab": tokenizer_mod.DEFAULT_VOCAB_SIZE,
        "arch": asdict(spec.arch) if spec.arch else None, "recipe": recipe,
        "grown_from": build_key(spec.grow_from, scale) if spec.grow_from else None,
        **spec.key_extra,
        **({"pard_from": build_key(spec.pard_from, scale), "pard": [PARD_K, PARD_DROP_RATIO, PARD_MIN_DROP_RATIO]}
           if spec.pard_from else {}),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def model_dir(name: str, scale: str | None = None) -> Path:
    """The folder a built model lives in (it may not exist yet)."""
    spec, scale = check(name, scale)
    if spec.converter is not None:
        return spec.converter.folder()
    return paths.zoo_dir() / scale / f"{name}-{build_key(name, scale)}"


def is_built(name: str, scale: str | None = None) -> bool:
    spec, scale = check(name, scale)
    if spec.converter is not None:  # False too when its package is not installed
        return spec.converter.is_converted()
    return (model_dir(name, scale) / "pard_ref.json").exists()


def info(name: str, scale: str | None = None) -> dict:
    """The build record of a built model: recipe, parameter count, build seconds, loss curve
    (a converted model: its provenance)."""
    if check(name, scale)[0].converter is not None:
        return check(name, scale)[0].converter.info()
    path = model_dir(name, scale) / "pard_ref.json"
    if not path.exists():
        _missing(name, scale)
    return json.loads(path.read_text())


def _missing(name, scale):
    scale = current_scale(scale)
    raise FileNotFoundError(
        f"zoo model {name!r} is not built at scale {scale!r} (looked in {model_dir(name, scale)}). "
        f"Build it with `python -m pard_ref zoo build --scale {scale}` (or `make zoo SCALE={scale}`).")


def load(name: str, scale: str | None = None, *, device=None, dtype=None):
    """``(model, tokenizer)`` of a built zoo model, loaded with ``from_pretrained``.

    ``scale`` defaults to ``$PARD_REF_SCALE`` or ``"full"``. ``dtype`` defaults to float32 (the saved
    precision); pass ``torch.float64`` for exactness tests or ``torch.bfloat16`` on a GPU.
    """
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    spec, scale = check(name, scale)
    if spec.converter is not None:  # its own default dtype: float32 on a CPU, bfloat16 on a GPU
        return spec.converter.load(dtype=dtype, device=device)
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


def train_model(spec: ModelSpec, scale: str, tok, progress: bool):
    from transformers import LlamaForCausalLM

    if spec.builder is not None:  # a model registered by another subpackage trains itself
        return spec.builder(scale, progress)  # (model, its tokenizer, log)
    recipe: Recipe = spec.recipes[scale]
    torch.manual_seed(recipe.seed)
    if spec.pard_from:
        from ..training.pard_training import build_draft_pard

        draft_ar, _ = load(spec.pard_from, scale, device=default_device())
        model, log = build_draft_pard(draft_ar, tok, train_streams(tok), dict(recipe.mixture), steps=recipe.steps, batch_size=recipe.batch_size,
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
        log.extra["finish"] = run_finish(model, tok, recipe, f"{spec.name} ({scale}) finish", progress)
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


def run_finish(model, tok, recipe: Recipe, desc: str, progress: bool) -> dict:
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
    """Train and save one model if it is not built yet (convert it, for a converted model); returns its folder."""
    spec, scale = check(name, scale)
    if spec.converter is not None:
        return spec.converter.convert(progress=progress)
    final = model_dir(name, scale)
    with paths.file_lock(final.parent / f".{name}.lock"):
        if (final / "pard_ref.json").exists():
            return final
        tok = tokenizer_mod.load() if spec.kind == "text" else None
        t0 = time.perf_counter()
        model, tok, log = train_model(spec, scale, tok, progress)
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
    scale = current_scale(scale)
    wanted = set(names_ or names())
    if any(SPECS[n].converter is None for n in wanted if n in SPECS):  # a converted model needs no corpus
        corpus.build(quiet=not progress)
        tokenizer_mod.build(quiet=not progress)
    for n in sorted(wanted):  # the whole family: a converted model whose package is missing is skipped, with a note
        conv = SPECS[n].converter if n in SPECS else None
        if not names_ and conv is not None and not conv.is_installed():
            wanted.discard(n)
            if progress:
                print(f"zoo: skipping {n}: {conv.install_hint()}")
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
