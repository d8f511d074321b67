"""Speculative decoding: draft K tokens, verify them in one target forward, roll the caches back.

Read in this order: :mod:`~pard_ref.decoding.loop` (the iteration), :mod:`~pard_ref.decoding.drafting`
(AR and PARD drafters), :mod:`~pard_ref.decoding.verify` (greedy and lossless verification),
:mod:`~pard_ref.decoding.kv_cache` (crop = roll back); then :mod:`~pard_ref.decoding.sampling`,
:mod:`~pard_ref.decoding.records`, :mod:`~pard_ref.decoding.checks`, :mod:`~pard_ref.decoding.timing`.
"""

from .checks import METHODS, resolve_mask_id
from .loop import SpeculativeDecoder, generate
from .records import DecodingOutput, DecodingStats, StepRecord

__all__ = ["METHODS", "SpeculativeDecoder", "generate", "DecodingOutput", "DecodingStats", "StepRecord",
           "resolve_mask_id"]
