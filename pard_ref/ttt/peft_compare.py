"""The hand-written LoRA next to the library a reader would use: a peft copy with the same weights.

``pard_ref.ttt.lora`` writes LoRA out (about 40 lines) because the mechanism is the lesson, and
because test-time training needs two things a general library does not center on: a seeded initial
adapter stored with the model and an exact reset to it before every task. :func:`to_peft` builds the
same adapter with ``peft`` (``LoraConfig(r, lora_alpha, target_modules)``, no dropout) and copies A
and B into it, so :func:`max_logit_difference` can show both compute the same outputs.

peft is an optional dependency (the ``test`` extra): importing this module works without it;
:func:`to_peft` raises ``ImportError`` with the install command.

What it does NOT handle: adapters with dropout, several adapters, or converting peft adapters back.
"""

from __future__ import annotations

import copy
import warnings

import torch

from .lora import lora_modules, remove_lora

__all__ = ["to_peft", "max_logit_difference"]


def to_peft(model):
    """A peft model equal to ``model`` (wrapped by ``apply_lora``): a copy of its base weights with a peft
    LoRA of the same rank, alpha and targets, holding the same A and B. ``model`` is not changed."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:  # pragma: no cover - the test extra installs peft
        raise ImportError("to_peft needs peft: pip install peft (or pip install -e .[test])") from e
    mods = lora_modules(model)
    if not mods:
        raise ValueError("the model has no LoRA adapters: wrap it with pard_ref.ttt.lora.apply_lora first")
    ranks = {(m.r, m.alpha) for m in mods.values()}
    if len(ranks) != 1:
        raise ValueError(f"adapters with different rank/alpha {sorted(ranks)}: peft's LoraConfig takes one")
    (r, alpha), = ranks
    base = copy.deepcopy(model)
    remove_lora(base)  # the copy's plain linear layers come back; the original keeps its adapters
    targets = sorted({name.rsplit(".", 1)[-1] for name in mods})
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none")
    with warnings.catch_warnings():  # peft calls a transformers method that transformers 5 marks as deprecated
        warnings.simplefilter("ignore", FutureWarning)
        peft_model = get_peft_model(base, config)
    with torch.no_grad():
        for name, m in mods.items():
            layer = peft_model.base_model.model.get_submodule(name)
            layer.lora_A["default"].weight.copy_(m.lora_A)  # (r, in)
            layer.lora_B["default"].weight.copy_(m.lora_B)  # (out, r)
    return peft_model.eval()


@torch.no_grad()
def max_logit_difference(model, peft_model, input_ids: torch.Tensor, **forward_kwargs) -> float:
    """Largest |difference| between the two models' logits on ``input_ids`` ([B, T]); ``forward_kwargs``
    (e.g. ``position_ids``, ``attention_mask``) go to both."""
    a = model(input_ids=input_ids, **forward_kwargs).logits
    b = peft_model(input_ids=input_ids, **forward_kwargs).logits
    return float((a - b).abs().max())
