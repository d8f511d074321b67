"""Device and dtype choice, in one place, so every module is device-agnostic.

CPU by default; a CUDA GPU when one is present. On the GPU, models run in bfloat16; on the CPU in
float32 (tests use float64 tiny models where rounding would blur an equality).
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device | str | None = None) -> torch.dtype:
    """bfloat16 on CUDA, float32 on CPU."""
    device = torch.device(device) if device is not None else default_device()
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work (so wall-clock timings are honest); a no-op on CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
