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


# Keys an older results file may use for the same facts (the TTT ablation once wrote these).
_OLD_MACHINE_KEYS = {"cpus": "cpu_count", "gpu": "device_name"}


def describe_machine(dtype: str = "float32") -> dict:
    """The facts a benchmark result records about where it ran (one helper for every benchmark)."""
    import os
    import platform
    import time

    import transformers

    device = default_device()
    info = {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(), "dtype": dtype,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    try:
        info["load_average"] = os.getloadavg()
    except OSError:  # not on every platform
        pass
    return info


def read_machine(machine: dict) -> dict:
    """A recorded machine description with today's key names (older files are read as they are)."""
    return {_OLD_MACHINE_KEYS.get(k, k): v for k, v in machine.items()}
