"""The zoo's family: the models it knows, their shapes and their training recipes (data only).

=============  ==============================================================================
name           what it is
=============  ==============================================================================
target-s       smallest target (a LlamaForCausalLM)
target-m       middle target, grown from target-s
target-l       largest target: the one speculative decoding accelerates in the notebooks
draft-ar       an autoregressive draft, >= 8x fewer parameters than target-l
draft-pard     draft-ar adapted into a parallel draft with COD at K=8 (carries ``pard_token``)
=============  ==============================================================================

Other subpackages add their own models with :func:`register` (test-time training registers
``arc-base``), each with a ``builder`` the zoo calls to train it; the zoo never imports them.
``smol-target`` (:mod:`pard_ref.zoo.smol`, a real pretrained model converted from a registry package's
GGUF file) is registered with a ``converter`` instead, in family ``"smol"``.

The recipe (``docs/zoo.md`` has the measurements behind each choice):

* **Depth buys inference cost, width buys quality per training FLOP.** On a CPU a one-token forward
  costs mostly per-layer and per-call overhead, so the targets are deeper than the draft: target-l
  costs several draft calls per call, which is the regime where drafting pays off.
* **Targets grow, they are not trained from scratch.** target-m is target-s with its depth doubled by
  a function-preserving copy (:func:`pard_ref.zoo.builder.grow_deeper`) and trained on fresh tokens,
  target-l likewise from target-m, so each target starts where the previous one ended: bigger means
  better by construction, on text like the corpus's (``docs/zoo.md`` says where that holds).
* **Warm-up + cosine learning rate, gradient clipping, weight decay** (:mod:`pard_ref.training.lm`).
* **Train on the positions generation reaches** (full scale): a held-out prompt plus 128 new tokens
  runs past position 128, so draft-ar's last third and the grown targets read 256-token windows.
* **target-l ends with a short unlikelihood finish** (:class:`Finish`,
  :mod:`pard_ref.training.unlikelihood`): trained on the next-token loss alone, its greedy text loops,
  and greedy text is what speculative decoding reproduces in every notebook.

Two scales: ``ci`` (minutes, for tests and CI) and ``full`` (the default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, field, replace

from ..scale import DEFAULT_SCALE, SCALES  # noqa: F401  (the zoo's scales are the project's)
from ..scale import current as current_scale

ZOO_VERSION = 1  # bump when training code changes in a way that changes weights
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
    """A last, short phase of sequence-level unlikelihood training (:mod:`pard_ref.training.unlikelihood`).

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
    # Unlikelihood weight alpha and candidate set (pard_ref.training.unlikelihood); 0 = the plain next-token loss.
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
    kind: str = "text"  # "text": the BPE tokenizer and the corpus; other kinds come with their own builder
    # builder(scale, progress) -> (model, tokenizer, log): how a registered model of another kind is trained
    builder: Callable | None = field(default=None, compare=False, repr=False)
    key_extra: dict = field(default_factory=dict, hash=False)  # more facts its cache key must cover
    # A model converted from a file instead of trained (smol-target, pard_ref.zoo.smol): a module with
    # build_key(), folder(), is_converted(), info(), convert(progress=) and load(dtype=, device=). Its
    # folder is the same at every scale.
    converter: Any = field(default=None, compare=False, repr=False)
    family: str = "zoo"  # the benchmark family it belongs to: "zoo" (trained here) or "smol" (SmolLM2's)


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
    # draft-ar adapted with COD at K=8 (r=0.7, r_min=0.2): see pard_ref.training.pard_training. It keeps 128-token
    # windows: adapted from the extended draft-ar, 256-token windows measured no better (docs/zoo.md,
    # lever 9), and the draft-ar it starts from has already seen 256 positions. 2000 steps at lr 3e-3 (was 500 at
    # 1e-3): tau on held-out dev prompts 71% -> 82% of draft-ar's (docs/pard_training.md, experiments/zoo_pard_steps.py).
    "draft-pard": ModelSpec("draft-pard", Arch(hidden=128, layers=1, heads=4, intermediate=320),
                            {"full": Recipe(steps=2000, batch_size=8, lr=3e-3, warmup_steps=200, seed=3),
                             "ci": Recipe(steps=150, batch_size=8, lr=1e-3, warmup_steps=15, seed=3)},
                            role="draft", pard_from="draft-ar"),
}
PARD_K, PARD_DROP_RATIO, PARD_MIN_DROP_RATIO = 8, 0.7, 0.2


def register(spec: ModelSpec) -> None:
    """Add a model of another subpackage to the zoo (it must bring a ``builder`` or a ``converter``); idempotent."""
    if spec.builder is None and spec.converter is None:
        raise ValueError(f"zoo.register({spec.name!r}): a registered model needs a builder(scale, progress) "
                         "or a converter")
    known = SPECS.get(spec.name)
    if known is not None and known != spec:
        raise ValueError(f"the zoo already has a different model called {spec.name!r}")
    SPECS[spec.name] = spec


def names() -> list[str]:
    """Every model name the zoo knows."""
    return list(SPECS)


def check(name: str, scale: str | None) -> tuple[ModelSpec, str]:
    scale = current_scale(scale)
    if name not in SPECS:
        raise ValueError(f"unknown zoo model {name!r}; the zoo has: {', '.join(names())}")
    return SPECS[name], scale
