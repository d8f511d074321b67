"""``arc-base`` in the zoo: test-time training's start model, registered with :func:`pard_ref.zoo.register`.

The zoo knows how to cache, key and load a model but not how to train this one: the entry brings its
builder (:func:`pard_ref.ttt.pretrain.pretrain_arc_base`) and the facts its cache key must cover (the
recipe per scale and ``ARC_DATA_VERSION``, the version of the task generator and serialization). The
zoo never imports test-time training; this module imports the zoo.
"""

from __future__ import annotations

import os

import torch

from .. import zoo
from ..device import default_device
from ..scale import current as current_scale
from .pretrain import ARC_DATA_VERSION, ARC_RECIPES, pretrain_arc_base

__all__ = ["ARC_BASE", "load_arc_base"]

ARC_BASE_ENV = "PARD_REF_ARC_BASE"


def _build(scale: str, progress: bool):
    return pretrain_arc_base(scale, progress=progress)  # (model, grid tokenizer, log)


ARC_BASE = zoo.ModelSpec("arc-base", None, dict(ARC_RECIPES), role="arc", kind="arc", builder=_build,
                         key_extra={"arc_data": ARC_DATA_VERSION})
zoo.register(ARC_BASE)


def load_arc_base(scale: str | None = None):
    """``arc-base`` for the notebook: from the zoo, or — a development override, documented in
    docs/ttt.md — from the ``save_pretrained`` folder named by ``$PARD_REF_ARC_BASE`` if it is set.
    Returns ``(model, source)``. (The CLI never reads the override: it always uses the zoo.)"""
    folder = os.environ.get(ARC_BASE_ENV)
    if folder:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(default_device()).eval()
        return model, f"{folder} (${ARC_BASE_ENV})"
    model, _ = zoo.load("arc-base", scale)
    return model, f"zoo arc-base ({current_scale(scale)})"
