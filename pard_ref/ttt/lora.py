"""LoRA (low-rank adaptation), written out: a wrapper around ``nn.Linear`` and helpers for Llama.

A frozen linear layer ``y = x W^T + b`` (W: (out, in)) gets a trainable low-rank update:

    y = x W^T + b + (alpha / r) * (x A^T) B^T        A: (r, in), B: (out, r)

``A`` starts random (Kaiming-uniform, as ``nn.Linear`` does), ``B`` starts at zero, so a freshly
wrapped model computes exactly what it computed before. Only ``A`` and ``B`` train.

Test-time training wants *a fresh adapter per task, always from the same start*: ``apply_lora``
draws every ``A`` from one seeded generator and stores a copy (``A_init``); ``reset_lora`` copies it
back and zeroes ``B``, so every task starts from identical weights and the model's outputs return
exactly to those of the base model.

Targets are the module names inside ``LlamaForCausalLM``: attention ``q_proj k_proj v_proj o_proj``
and MLP ``gate_proj up_proj down_proj``. The paper adapts the query and value projections and the
MLP (``PAPER_TARGETS``, the default).

Not handled: dropout on the LoRA path; quantised base weights (QLoRA); layers other than
``nn.Linear`` (e.g. embeddings, the LM head); several adapters at once.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

ALL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PAPER_TARGETS = ("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj")


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) * x A^T B^T`` with ``base`` frozen; ``A`` random, ``B`` zero."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, generator: torch.Generator | None = None):
        super().__init__()
        if r < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {r}")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scale = r, alpha, alpha / r
        w = base.weight
        # A: (r, in_features) drawn on the CPU from the seeded generator, then moved to W's device/dtype
        a = torch.empty(r, base.in_features, dtype=torch.float64)
        bound = 1.0 / math.sqrt(base.in_features)  # = kaiming_uniform_(a=sqrt(5)), nn.Linear's init
        a.uniform_(-bound, bound, generator=generator)
        self.lora_A = nn.Parameter(a.to(device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
        self.register_buffer("A_init", self.lora_A.detach().clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., in) -> (..., out)
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale

    @torch.no_grad()
    def reset(self) -> None:
        """Back to the initial adapter: A = A_init, B = 0 (the output equals the base layer's)."""
        self.lora_A.copy_(self.A_init)
        self.lora_B.zero_()

    def delta_weight(self) -> torch.Tensor:
        """(out, in): the update this adapter adds to ``base.weight``."""
        return (self.lora_B @ self.lora_A) * self.scale

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def lora_modules(model: nn.Module) -> dict[str, LoRALinear]:
    """Name -> LoRALinear for every adapter in ``model`` (in module order)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def apply_lora(
    model: nn.Module, *, r: int = 8, alpha: float = 16.0, targets: Iterable[str] = PAPER_TARGETS, seed: int = 0
) -> list[str]:
    """Wrap every ``nn.Linear`` whose attribute name is in ``targets`` with a ``LoRALinear``; freeze
    every other parameter. Returns the wrapped module names. Deterministic given ``seed``.

    Raises ``ValueError`` if the model already has adapters, a target name is unknown, or nothing
    matched. The original ``requires_grad`` flags are remembered and restored by ``remove_lora``.
    """
    targets = tuple(targets)
    unknown = [t for t in targets if t not in ALL_TARGETS]
    if unknown:
        raise ValueError(f"unknown LoRA targets {unknown}; use names from {ALL_TARGETS}")
    if lora_modules(model):
        raise ValueError("the model already has LoRA adapters; call remove_lora first")
    model._lora_saved_requires_grad = {n: p.requires_grad for n, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    wrapped = []
    # list first: we replace modules while walking the tree
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in targets and isinstance(child, nn.Linear):
                setattr(module, child_name, LoRALinear(child, r, alpha, generator))
                wrapped.append(f"{name}.{child_name}" if name else child_name)
    if not wrapped:
        raise ValueError(f"no nn.Linear named {targets} in the model")
    return wrapped


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable adapter parameters (A and B of every adapter)."""
    return [p for m in lora_modules(model).values() for p in (m.lora_A, m.lora_B)]


def reset_lora(model: nn.Module) -> None:
    """Reset every adapter to its stored initial weights (A = A_init, B = 0)."""
    mods = lora_modules(model)
    if not mods:
        raise ValueError("the model has no LoRA adapters")
    for m in mods.values():
        m.reset()


def get_lora_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every adapter's A and B: ``{"<module>.lora_A": tensor, "<module>.lora_B": tensor}``."""
    state = {}
    for name, m in lora_modules(model).items():
        state[f"{name}.lora_A"] = m.lora_A.detach().clone()
        state[f"{name}.lora_B"] = m.lora_B.detach().clone()
    return state


@torch.no_grad()
def set_lora_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load adapter weights saved by ``get_lora_state``; the keys must match exactly."""
    mods = lora_modules(model)
    expected = {f"{n}.lora_{x}" for n in mods for x in "AB"}
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ValueError(f"LoRA state does not match the model: missing {missing[:4]}, unexpected {extra[:4]}")
    for name, m in mods.items():
        m.lora_A.copy_(state[f"{name}.lora_A"])
        m.lora_B.copy_(state[f"{name}.lora_B"])


@torch.no_grad()
def remove_lora(model: nn.Module, *, merge: bool = False) -> None:
    """Unwrap every adapter, putting the base ``nn.Linear`` back (``merge``: first add the adapter's
    update into its weight), and restore the parameters' original ``requires_grad`` flags."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                if merge:
                    child.base.weight += child.delta_weight().to(child.base.weight.dtype)
                setattr(module, child_name, child.base)
    saved = getattr(model, "_lora_saved_requires_grad", {})
    for n, p in model.named_parameters():
        p.requires_grad_(saved.get(n, True))
    if hasattr(model, "_lora_saved_requires_grad"):
        del model._lora_saved_requires_grad
