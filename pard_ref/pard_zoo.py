"""The zoo's ``draft-pard``: draft-ar adapted into a parallel draft with COD.

``build_draft_pard(draft_ar, tok, ...)`` deep-copies the AR draft (the original is left untouched) and
trains the copy with :func:`pard_ref.pard_training.train_pard_with_log` on the corpus training streams,
mixed with the zoo's mixture weights. No target is involved (target independence), so the one
draft-pard serves target-s, target-m and target-l alike. The returned model has
``config.pard_token = tok.mask_token_id`` and is in eval mode, ready for ``save_pretrained``.

What it does NOT handle: saving (the zoo's ``build_one`` does that) and choosing the recipe (steps, lr:
see ``python -m pard_ref train-bench`` for the measurements).
"""

from __future__ import annotations

import copy

import torch

from .pard_training import train_pard_with_log


def build_draft_pard(draft_ar, tok, *, steps: int, batch_size: int, seq_len: int, lr: float, k: int = 8,
                     drop_ratio: float = 0.7, min_drop_ratio: float = 0.2, seed: int = 0, progress: bool = True,
                     warmup: int | None = None, streams: dict[str, torch.Tensor] | None = None,
                     device=None):
    """``(draft_pard, log)``: a PARD copy of ``draft_ar`` trained with COD for ``steps`` steps.

    ``steps * batch_size * seq_len`` text tokens are read from ``streams`` (default
    ``pard_ref.zoo.train_streams(tok)``) with the zoo's mixture weights; each window becomes a K-block
    PARD layout thinned by COD (r = ``drop_ratio``, r_min = ``min_drop_ratio``). ``warmup`` defaults
    to 10 % of the steps. ``log`` is a :class:`pard_ref.training.TrainLog` (loss and per-depth
    ``loss_j`` / ``acc_j``).
    """
    from . import zoo

    model = copy.deepcopy(draft_ar)
    streams = zoo.train_streams(tok) if streams is None else streams
    weights = {d: w for d, w in dict(zoo.Recipe(steps=1).mixture).items() if d in streams}
    warmup = max(1, steps // 10) if warmup is None else warmup
    model, log = train_pard_with_log(
        model, streams, k=k, drop_ratio=drop_ratio, min_drop_ratio=min_drop_ratio,
        mask_token_id=tok.mask_token_id, weights=weights, steps=steps, batch_size=batch_size,
        seq_len=seq_len, lr=lr, warmup=warmup, log_every=max(1, steps // 50), seed=seed, device=device,
        progress=progress)
    return model, log
