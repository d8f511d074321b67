"""Inference for a draft whose output layer has all-zero rows: compute only the other rows.

A draft trained with the seen-vocabulary loss (``pard_ref/training/seen_vocab.py``) keeps the output
rows of every token its data never used at exactly zero, so those tokens' logits are exactly 0 at every
position. smol-draft-ar and smol-draft-pard use 3-6k of SmolLM2's 49,152 rows; for such a narrow draft
the ``[N, width] x [width, 49152]`` output product is most of a call's work, and most of it multiplies
zeros. :func:`compact_output_layer` swaps the draft's output layer for :class:`SeenRowsHead`, which
multiplies only the non-zero rows and writes them into a tensor of zeros: the logits have the same
shape and the same values (up to the rounding of a smaller matrix product), so drafting, verification
and sampling (which needs the draft's whole distribution) see the same thing, only cheaper.

The target never goes through this: speculative decoding's output is the target's whatever the draft
proposes, so the rewrite cannot change a generated token (``tests/decoding/test_seen_rows.py``).

What it does NOT handle: an output layer with a bias or logit soft-capping (the zero rows' logits would
not be 0; the model is returned unchanged), saving the rewritten model (``save_pretrained`` would write
the compact head: call this on a model loaded for inference only), and models with no zero rows (also
returned unchanged: the zoo's text drafts train every row).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SeenRowsHead", "compact_output_layer", "zero_row_count", "nonzero_rows", "zero_rows_problem"]


def nonzero_rows(weight: torch.Tensor) -> torch.Tensor:
    """``[S]``: the ids of the rows of ``weight`` ``[V, H]`` that are not all zero."""
    return (weight != 0).any(dim=1).nonzero().squeeze(1)


def zero_rows_problem(model) -> str | None:
    """Why a zero output row of ``model`` would NOT give a logit of exactly 0 (a bias, logit soft-capping),
    or None when it does: the one check behind the seen-vocabulary loss and :func:`compact_output_layer`."""
    if getattr(model.config, "final_logit_softcapping", None):
        return "logit soft-capping is not supported (an unseen logit would not be 0)"
    if getattr(model.get_output_embeddings(), "bias", None) is not None:
        return "an output layer with a bias is not supported (an unseen logit would not be 0)"
    return None


class SeenRowsHead(nn.Module):
    """An output layer ``[V, H]`` stored as its non-zero rows ``[S, H]`` and their ids ``[S]``."""

    def __init__(self, weight: torch.Tensor, rows: torch.Tensor | None = None):
        super().__init__()
        rows = nonzero_rows(weight) if rows is None else rows  # [S]
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]  # as nn.Linear names them
        self.register_buffer("rows", rows)
        self.weight = nn.Parameter(weight.detach()[rows].clone(), requires_grad=False)  # [S, H]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        seen = hidden @ self.weight.T  # [..., H] -> [..., S]
        logits = seen.new_zeros(*hidden.shape[:-1], self.out_features)  # [..., V], the zero rows' logits
        return logits.index_copy_(-1, self.rows, seen)


def zero_row_count(model) -> int:
    """How many rows of ``model``'s output layer are all zero."""
    w = model.get_output_embeddings().weight
    return w.shape[0] - len(nonzero_rows(w))


@torch.no_grad()
def compact_output_layer(model, *, min_zero_share: float = 0.5):
    """``model`` with its output layer replaced by a :class:`SeenRowsHead` when at least ``min_zero_share``
    of its rows are zero (else, or when the layer has a bias, ``model`` unchanged). In place; returns it.

    For inference only: the input embedding (tied or not) is left as it was; do not save the result.
    """
    head = model.get_output_embeddings()
    if isinstance(head, SeenRowsHead) or zero_rows_problem(model) is not None:
        return model
    rows = nonzero_rows(head.weight)
    if head.weight.shape[0] - len(rows) < min_zero_share * head.weight.shape[0]:
        return model
    model.set_output_embeddings(SeenRowsHead(head.weight, rows))
    return model
