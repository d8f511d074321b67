"""smol-draft-ar and smol-draft-pard: drafts for the real target smol-target, trained here and registered in the zoo.

The paper's pipeline on a real model, in three cached, atomic steps (``python -m pard_ref zoo build
smol-draft-pard`` builds all three; ``docs/pard_training.md`` has the measurements behind the recipe):

1. **Distillation data** (:func:`distillation_file`): templated instructions
   (:func:`pard_ref.text.instructions.training_prompts`, never the held-out chat prompts) answered
   greedily by smol-target in bfloat16, in batches of 64 (on 2 CPU cores 1.37x the tokens/s of batch 16).
   Written once as JSONL (``{"messages": [...]}`` for a
   finished answer, ``{"text": ...}`` for one cut at the token limit) to ``zoo/real/smol-distill-<key>.jsonl``.
2. **smol-draft-ar**: a narrow Llama (:func:`pard_ref.training.distill.small_llama_like`) sharing the
   target's 49152-token vocabulary, its tied embedding initialised from the target's embedding projected
   onto its top singular directions, trained with the next-token loss on that data (sequence-level
   distillation). The loss covers only the output rows of the tokens the data uses (5,996 of 49,152 at
   full scale; :mod:`pard_ref.training.seen_vocab`: the same loss, the other rows held at zero), which
   makes a step 4.3x cheaper on a CPU and so buys 4x the steps in the same minutes.
3. **smol-draft-pard**: smol-draft-ar adapted with COD by :func:`pard_ref.training.adapt_folder.adapt_model`,
   the code behind ``python -m pard_ref train-pard``, on the same JSONL file, with the same seen-vocabulary
   loss (the data's tokens plus the mask: ~6x cheaper per COD step); the mask id is
   :data:`MASK_ID`, one of the tokenizer's code-pretraining special tokens that chat text never produces,
   written to ``config.json`` as ``pard_token`` with ``spd_type: "pard"``.

What it does NOT handle: other targets (the recipe is measured for smol-target only), soft-label
distillation, and a draft for sampling (the data is the target's greedy text).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch

from .. import paths
from ..text.instructions import training_prompts
from ..training.adapt_folder import AdaptConfig, adapt_model, encode_texts, read_texts
from ..training.distill import answer_prompts, small_llama_like
from ..training.lm import TrainConfig, TrainLog, causal_lm_loss, lm_batches, train
from ..training.seen_vocab import seen_tokens, seen_vocab_loss, zero_unseen_rows
from . import smol
from .family import ModelSpec, register

__all__ = ["AR_NAME", "PARD_NAME", "MASK_ID", "DraftRecipe", "PardRecipe", "AR_RECIPES", "PARD_RECIPES",
           "distillation_file", "distillation_lines", "build_draft_ar", "build_draft_pard"]

AR_NAME, PARD_NAME = "smol-draft-ar", "smol-draft-pard"
MASK_ID = 3  # "<repo_name>": a special token of SmolLM2's code pretraining; chat text never produces it
DISTILL_VERSION = 2  # bump when the prompts or the way they are answered change (2: more templates, batch 64)
DRAFT_CODE_VERSION = 3  # bump when the draft's construction changes (2: embedding init at the draft's own scale;
#                         3: the seen-vocabulary loss)


@dataclass(frozen=True)
class DraftRecipe:
    """smol-draft-ar at one scale: its distillation data, architecture and training."""

    prompts: int  # distillation prompts (balanced code / math / chat)
    max_new_tokens: int = 160  # the target's answer length limit
    gen_batch: int = 64  # 16 -> 64: 455 -> 623 document tokens/s on 2 cores (experiments/smol_distill_scale.py probe)
    prompt_seed: int = 0
    width: int = 256
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 768
    init_embedding: bool = True  # from the target's embedding, projected (else random)
    seen_vocab: bool = True  # train only the output rows of tokens the data uses (exact: training/seen_vocab.py)
    steps: int = 400
    batch_size: int = 8
    seq_len: int = 128
    lr: float = 2e-3
    warmup: int = 30
    seed: int = 0


@dataclass(frozen=True)
class PardRecipe:
    """smol-draft-pard at one scale: COD training of smol-draft-ar (:class:`AdaptConfig`) with :data:`MASK_ID`."""

    adapt: AdaptConfig
    mask_id: int = MASK_ID


AR_RECIPES = {
    "full": DraftRecipe(prompts=1440, steps=1200, warmup=30),
    "ci": DraftRecipe(prompts=16, max_new_tokens=48, steps=30, warmup=5),
}
PARD_RECIPES = {
    "full": PardRecipe(AdaptConfig(k=8, drop_ratio=0.7, min_drop_ratio=0.2, steps=600, batch_size=4, seq_len=128,
                                   lr=1e-3, warmup=60, seen_vocab=True)),  # 300 -> 600 steps: dev tau 1.37 -> 1.41
    "ci": PardRecipe(AdaptConfig(k=8, drop_ratio=0.7, min_drop_ratio=0.2, steps=15, batch_size=4, seq_len=64,
                                 lr=1e-3, warmup=3, seen_vocab=True)),
}


def _distill_key(recipe: DraftRecipe) -> str:
    blob = json.dumps({"target": smol.build_key(), "prompts": recipe.prompts, "seed": recipe.prompt_seed,
                       "max_new_tokens": recipe.max_new_tokens, "version": DISTILL_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def distillation_lines(records: list[dict], tok) -> list[dict]:
    """JSONL records for train-pard's reader: ``{"messages": [...]}`` for an answer that ended with the
    eos, ``{"text": chat prefix + answer}`` for one cut at the token limit (no end-of-turn after it)."""
    lines = []
    for r in records:
        if r["ids"][-1] == tok.eos_token_id:
            lines.append({"messages": [{"role": "user", "content": r["prompt"]},
                                       {"role": "assistant", "content": r["answer"]}]})
        else:
            prefix = tok.apply_chat_template([{"role": "user", "content": r["prompt"]}],
                                             add_generation_prompt=True, tokenize=False)
            lines.append({"text": prefix + r["answer"]})
    return lines


def distillation_file(scale: str, *, progress: bool = True):
    """The JSONL file of smol-target's answers for ``AR_RECIPES[scale]`` (generated once, then cached)."""
    recipe = AR_RECIPES[scale]
    path = paths.zoo_dir() / "real" / f"smol-distill-{_distill_key(recipe)}.jsonl"
    with paths.file_lock(path.parent / ".smol-distill.lock"):
        if path.exists():
            return path
        target, tok = smol.load(dtype=torch.bfloat16, device="cpu", convert_if_missing=True)
        prompts = [p["prompt"] for p in training_prompts(recipe.prompts, recipe.prompt_seed)]
        records, stats = answer_prompts(target, tok, prompts, max_new_tokens=recipe.max_new_tokens,
                                        batch_size=recipe.gen_batch, progress=progress)
        paths.atomic_write_text(path, "".join(json.dumps(x) + "\n" for x in distillation_lines(records, tok)))
        if progress:
            print(f"{AR_NAME}: {stats['prompts']} distillation answers, {stats['tokens']} tokens "
                  f"in {stats['seconds']:.0f} s -> {path}")
        return path


def train_draft_ar(target, tok, texts: list[str], recipe: DraftRecipe, *, progress: bool = True):
    """``(draft, log)``: a fresh narrow draft trained with the next-token loss on ``texts``; with
    ``recipe.seen_vocab`` the output rows of tokens the texts never use are zero and left out of the
    loss's work (the same loss, :mod:`pard_ref.training.seen_vocab`)."""
    stream = encode_texts(tok, texts)  # [T]
    draft = small_llama_like(target, width=recipe.width, layers=recipe.layers, heads=recipe.heads,
                             kv_heads=recipe.kv_heads, intermediate=recipe.intermediate,
                             init_embedding=recipe.init_embedding, seed=recipe.seed)
    loss_fn = causal_lm_loss
    if recipe.seen_vocab:
        seen = seen_tokens(stream, draft.config.vocab_size)
        zero_unseen_rows(draft, seen)
        loss_fn = seen_vocab_loss(seen, draft.config.vocab_size)
    batches = lm_batches({"distill": stream}, {"distill": 1.0}, recipe.batch_size, recipe.seq_len, seed=recipe.seed)
    cfg = TrainConfig(steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup,
                      log_every=max(1, recipe.steps // 50))
    log = train(draft, batches, cfg, loss_fn=loss_fn, desc=f"{AR_NAME} ({recipe.steps} steps)", progress=progress)
    if recipe.seen_vocab:
        log.extra["seen_tokens"] = [len(seen)]
    return draft, log


def build_draft_ar(scale: str, progress: bool):
    """The zoo builder of smol-draft-ar: ``(model, tokenizer, log)``."""
    data = distillation_file(scale, progress=progress)
    target, tok = smol.load(dtype=torch.float32, device="cpu")
    draft, log = train_draft_ar(target, tok, read_texts(data, tok), AR_RECIPES[scale], progress=progress)
    return draft, tok, log


def build_draft_pard(scale: str, progress: bool):
    """The zoo builder of smol-draft-pard: smol-draft-ar adapted by train-pard's code; ``(model, tokenizer, log)``."""
    from .builder import build_one, load

    build_one(AR_NAME, scale, progress=progress)
    draft, tok = load(AR_NAME, scale, device="cpu")
    recipe = PARD_RECIPES[scale]
    texts = read_texts(distillation_file(scale, progress=progress), tok)
    draft, record = adapt_model(draft, tok, texts, config=recipe.adapt, mask_id=recipe.mask_id, progress=progress)
    return draft, tok, TrainLog(**record["log"])


# What the cache keys cover besides the recipes: the target's identity (package, file and converter
# versions: static, so importing the zoo hashes nothing) and the distillation data's version; the PARD
# draft's key also covers smol-draft-ar's key (pard_from) and the mask id.
_TARGET = f"{smol.PACKAGE}=={smol.PACKAGE_VERSION}:{smol.GGUF_NAME}:converter{smol.CONVERTER_VERSION}"
register(ModelSpec(AR_NAME, None, dict(AR_RECIPES), role="draft", kind="smol", builder=build_draft_ar, family="smol",
                   key_extra={"target": _TARGET, "distill": DISTILL_VERSION, "draft_code": DRAFT_CODE_VERSION}))
register(ModelSpec(PARD_NAME, None, dict(PARD_RECIPES), role="draft", kind="smol", pard_from=AR_NAME,
                   builder=build_draft_pard, family="smol", key_extra={"mask_id": MASK_ID}))
