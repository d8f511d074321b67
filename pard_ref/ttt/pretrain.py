"""The ARC start model ``arc-base``: a tiny Llama pretrained from scratch on generated ARC-like tasks.

TTT needs a start model that already knows the *format* (grids, ``input -> output`` demonstrations)
and many transformations; the paper fine-tunes Llama on re-arc tasks. Here a small
``LlamaForCausalLM`` with the grid tokenizer (:func:`serialize.get_tokenizer`, 18 tokens) is trained
from scratch on an endless stream of tasks of the generator's ``PRETRAIN_FAMILIES`` (single families
and compositions; the held-out ones are never seen), each under a random invertible augmentation
(one of the 8 symmetries, a colour permutation keeping 0, a shuffled demonstration order).

Choices (measured; see ``docs/ttt.md``):

* **Grid size.** Every grid is at most ``max_side`` x ``max_side`` (6 in both recipes). A task with
  3-5 demonstrations then serialises to ~260 tokens on average (p90 ~370, max ~450); at the ARC
  limit used elsewhere (10) it is ~475 (max ~1000), about twice the cost per task and four times
  the attention. On 2 CPU cores the 6x6 tasks buy twice the number of tasks for the same
  minutes, and the held-out synthetic benchmark uses the same cap (6 is the smallest cap every
  family can meet: a 2x upscale of a 3x3 input). The model still *accepts* larger tasks: RoPE has
  no learned positions, and ``max_position_embeddings`` covers every grid position id
  (``serialize.MAX_GRID_POSITION``: 11 pairs of grids up to 30x30, so any ARC-AGI-1 evaluation task
  with grids <= 10x10, the longest being 1548 tokens with its answer). But it has never seen a
  row longer than ``max_side``, which is one reason it does badly on real ARC.
* **Loss.** ``loss="all"`` tokens, or ``"outputs"`` (the ``loo`` mask: every demonstration output but
  the first, and the query output). Inputs are random grids, so modelling them looks like wasted
  capacity, but at equal steps "all" gave a lower answer loss on held-out families (1.13 vs 1.18
  nats/token after 250 steps; 1.29 vs 1.49 after 120 steps without grid positions): predicting the
  inputs teaches the grid format faster. Test-time training itself uses the ``outputs`` mask.
* **Grid position ids** (``serialize.GridPositions``; ``positions="grid"``): the position of a cell
  says which grid, row and column it is in, so copying "the same cell of the input" is a constant
  offset under RoPE. At equal steps the answer loss on pretraining families fell from 0.90 to 0.73
  nats/token (500 steps). The config records ``arc_positions = "grid"`` and every caller in this
  package (training, TTT, decoding) passes these position ids; a caller that does not gets the
  usual 0, 1, 2, ... and a much worse model.
* **Batches.** ``4 * batch_size`` sequences are drawn at a time, sorted by length and cut into 4
  batches (right-padded), which halves the padding of random batches.
* The shared loop :func:`pard_ref.training.lm.train` (AdamW, warm-up + cosine, clipping; bf16 autocast
  on CUDA).

``pretrain_arc_base(scale)`` trains and returns ``(model, tokenizer, log)``; caching and saving are
the zoo's business (``pard_ref.zoo``, entry ``arc-base``).

Not handled: the re-arc generators; grids larger than ``max_side`` during pretraining; resuming.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Iterator

import numpy as np
import torch

from . import generator as gen
from .augment import random_augmentation
from .loo import LOSS_MODES, to_example
from .serialize import BOS_ID, EOS_ID, MAX_GRID_POSITION, PAD_ID, VOCAB, get_tokenizer, grid_position_ids

IGNORE = -100


@dataclass(frozen=True)
class ArcRecipe:
    """Architecture and training of ``arc-base`` at one scale."""

    # architecture (a LlamaForCausalLM)
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 256
    positions: str = "grid"  # "grid" (serialize.GridPositions) or "sequential" (0, 1, 2, ...)
    # data
    max_side: int = 6
    loss: str = "all"  # "all" tokens or "outputs" (the loo mask); "all" measured better, see docs/ttt.md
    families: tuple[str, ...] = gen.PRETRAIN_FAMILIES
    # optimisation
    steps: int = 400
    batch_size: int = 16
    lr: float = 3e-3
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    seed: int = 0

    def __post_init__(self):
        if self.positions not in ("grid", "sequential"):
            raise ValueError(f"positions must be 'grid' or 'sequential', got {self.positions!r}")
        if self.loss not in ("outputs", "all"):
            raise ValueError(f"pretraining loss must be 'outputs' or 'all', got {self.loss!r}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} is not divisible by heads {self.heads}")
        for spec in self.families:
            if spec in gen.HELDOUT_FAMILIES:
                raise ValueError(f"{spec!r} is a held-out family: it must not be in pretraining")
            gen.parse_spec(spec)

    def to_dict(self) -> dict:
        return asdict(self)


# Bump when the task generator or the serialization changes what arc-base is trained on: the zoo's
# cache key includes it, so a stale arc-base is retrained instead of silently reused.
ARC_DATA_VERSION = 1

_FULL = ArcRecipe(steps=500, loss="all")
ARC_RECIPES: dict[str, ArcRecipe] = {
    # ~0.54 CPU-seconds per step of 16 x ~300 tokens on one core: about 4.5 minutes on an idle
    # 2-core machine (more on a busy one; seconds on a GPU)
    "full": _FULL,
    # about 80 CPU-seconds: the same model, fewer steps (for CI and the notebook's quick path)
    "ci": replace(_FULL, steps=150, warmup_steps=15),
}


def llama_config(recipe: ArcRecipe):
    """The ``LlamaConfig`` of ``arc-base`` on the grid vocabulary."""
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=len(VOCAB), hidden_size=recipe.hidden, intermediate_size=recipe.intermediate,
        num_hidden_layers=recipe.layers, num_attention_heads=recipe.heads, num_key_value_heads=recipe.heads,
        # grid position ids stay below MAX_GRID_POSITION (11 pairs); 0, 1, 2, ... must cover the longest
        # prompt used: the longest ARC-AGI-1 evaluation task <= 10x10 is 1548 tokens with its answer
        max_position_embeddings=MAX_GRID_POSITION if recipe.positions == "grid" else 2048,
        rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=True, pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID,
    )
    if recipe.positions == "grid":
        config.arc_positions = "grid"  # read by adapt.uses_grid_positions: every caller passes grid positions
    return config


def pretraining_sequence(rng: np.random.Generator, recipe: ArcRecipe, index: int):
    """One training example: a generated task (family drawn by ``rng``), randomly augmented.

    Returns a ``loo.TrainingExample`` (ids and loss mask). The task's seed is ``(recipe.seed, index)``
    so the stream is reproducible.
    """
    spec = recipe.families[int(rng.integers(len(recipe.families)))]
    task = gen.generate_task(spec, [recipe.seed, 7, index], max_side=recipe.max_side)
    aug = random_augmentation(rng, len(task.train))
    return to_example(aug.task(task), recipe.loss)


def _pad(examples, grid_positions: bool) -> dict[str, torch.Tensor]:
    T = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), T), PAD_ID, dtype=torch.long)
    attn = torch.zeros((len(examples), T), dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE, dtype=torch.long)
    pos = torch.zeros((len(examples), T), dtype=torch.long)
    for b, e in enumerate(examples):
        n = len(e.ids)
        ids[b, :n] = torch.tensor(e.ids)
        attn[b, :n] = 1
        labels[b, :n] = torch.where(torch.tensor(e.mask), ids[b, :n], IGNORE)
        pos[b, :n] = torch.tensor(grid_position_ids(e.ids) if grid_positions else range(n))
    # position ids always come with the attention mask (see adapt.greedy_decode: without a mask,
    # transformers would read the jumps of grid positions as packed-sequence boundaries)
    return {"input_ids": ids, "attention_mask": attn, "position_ids": pos, "labels": labels}


def pretraining_batches(recipe: ArcRecipe, *, bucket: int = 4) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches ``{"input_ids", "attention_mask", "position_ids", "labels"}`` (B, T) of augmented
    generated tasks (position ids: grid positions if ``recipe.positions == "grid"``).

    ``bucket * batch_size`` sequences are drawn at a time, sorted by length and split into ``bucket``
    batches (given in a random order), to waste less on padding. Labels are ``-100`` outside the
    loss mask and on padding (transformers shifts them: position t predicts token t+1).
    """
    rng = np.random.default_rng([recipe.seed, 1])
    index = 0
    while True:
        pool = []
        for _ in range(bucket * recipe.batch_size):
            pool.append(pretraining_sequence(rng, recipe, index))
            index += 1
        pool.sort(key=lambda e: len(e.ids))
        chunks = [pool[k * recipe.batch_size : (k + 1) * recipe.batch_size] for k in range(bucket)]
        for k in rng.permutation(bucket):
            yield _pad(chunks[int(k)], recipe.positions == "grid")


def new_model(recipe: ArcRecipe, device=None):
    """A freshly initialised ``arc-base`` architecture (seeded)."""
    from transformers import LlamaForCausalLM

    from ..device import default_device

    torch.manual_seed(recipe.seed)
    return LlamaForCausalLM(llama_config(recipe)).to(device or default_device())


def pretrain(recipe: ArcRecipe, *, progress: bool = True, device=None, desc: str = "arc-base"):
    """Train a fresh model with ``recipe``; returns ``(model, tokenizer, log)`` (``training.TrainLog``)."""
    from ..training.lm import TrainConfig, train

    if recipe.loss not in LOSS_MODES:
        raise ValueError(f"unknown loss {recipe.loss!r}")
    model = new_model(recipe, device)
    cfg = TrainConfig(steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps,
                      min_lr_ratio=recipe.min_lr_ratio, weight_decay=recipe.weight_decay, log_every=5)
    log = train(model, pretraining_batches(recipe), cfg, desc=desc, progress=progress)
    model.eval()
    return model, get_tokenizer(), log


def pretrain_arc_base(scale: str = "full", progress: bool = True, *, device=None):
    """Train ``arc-base`` with ``ARC_RECIPES[scale]``; returns ``(model, tokenizer, log)``.

    ``log`` is a ``pard_ref.training.lm.TrainLog`` (steps, losses, tokens, seconds). The model is in eval
    mode, in float32, on ``device`` (default: CUDA if present, else CPU).
    """
    if scale not in ARC_RECIPES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {tuple(ARC_RECIPES)}")
    return pretrain(ARC_RECIPES[scale], progress=progress, device=device, desc=f"arc-base ({scale})")
