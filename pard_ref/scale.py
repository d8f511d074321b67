"""The scale switch: ``ci`` (small, for tests and CI) or ``full`` (the default), and presets per scale.

Tests, notebooks and commands read ``$PARD_REF_SCALE`` when no scale is given. Each benchmark keeps a
``PRESETS = {"ci": Config(...), "full": Config(...)}`` dict of frozen dataclasses and reads it through
:func:`preset`, so all three benchmarks (decoding, COD training, test-time training) choose their work
sizes the same way.
"""

from __future__ import annotations

import os
from dataclasses import replace

SCALES = ("ci", "full")
DEFAULT_SCALE = "full"
ENV = "PARD_REF_SCALE"


def current(scale: str | None = None) -> str:
    """``scale`` if given, else ``$PARD_REF_SCALE``, else ``full``; a ValueError if it is not a scale."""
    scale = scale or os.environ.get(ENV, DEFAULT_SCALE)
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES} (argument or ${ENV})")
    return scale


def preset(presets: dict, scale: str | None = None, **overrides):
    """``presets[scale]`` (scale resolved by :func:`current`) with ``overrides`` applied."""
    scale = current(scale)
    if scale not in presets:
        raise ValueError(f"no preset for scale {scale!r}; choose one of {sorted(presets)}")
    return replace(presets[scale], **overrides)
