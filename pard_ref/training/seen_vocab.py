"""The next-token loss over the tokens the data uses: exact, and several times cheaper for a narrow draft.

A draft of a real target shares the target's vocabulary (SmolLM2: 49,152 tokens), so for a narrow draft
the output layer is most of the work: at width 256 with 2 layers, the ``[N, 256] x [256, 49152]``
product is about 89% of a token's forward multiply-adds (:func:`output_layer_share`). Distillation
data uses far fewer distinct tokens (the smol drafts' 246k-token file: 5,996). This module trains only
the output rows of those *seen* tokens, and is still exact:

- :func:`zero_unseen_rows` sets the output (and tied input) rows of every unseen token to zero, so
  their logit is exactly 0 at every position.
- :func:`seen_vocab_loss` computes the ordinary full-vocabulary cross-entropy from the seen logits
  alone: with ``U`` unseen tokens whose logits are all 0, the softmax normaliser is
  ``sum_seen exp(l_i) + U * exp(0)``, i.e. ``logsumexp([l_seen..., log U])``: one constant column
  stands for all ``U`` of them. Loss and gradients equal the full computation's
  (``tests/training/test_seen_vocab.py`` checks it in float64), except that the unseen rows receive
  no gradient: they stay 0 (AdamW moves a parameter with zero gradient and zero value nowhere), which
  is the one thing this changes: such a draft proposes a token its data never showed only when every
  seen logit is below zero.

The model stays an ordinary full-vocabulary ``LlamaForCausalLM`` (``save_pretrained``, ``generate``,
vLLM), its unseen rows zero. PARD's COD adaptation uses the same idea (:func:`seen_logits` with
``pard_loss(..., unseen=U)``, ``train_pard_with_log(..., seen_vocab=True)``): there the seen set also
holds the mask token, whose row the adaptation trains. At inference the zero rows need no computing
either: :func:`pard_ref.decoding.seen_rows.compact_output_layer`. What it does NOT handle: models with an output
bias or logit soft-capping (the unseen logits would not be 0), labels outside the seen set (an error
says so), a draft whose unseen rows are not zero (:func:`check_unseen_rows_zero` refuses it: zeroing a
pretrained draft's rows would throw away what it knows).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..decoding.seen_rows import zero_rows_problem

__all__ = ["seen_tokens", "column_index", "zero_unseen_rows", "check_unseen_rows_zero", "seen_logits",
           "with_unseen_column", "seen_vocab_loss", "output_layer_share"]


def seen_tokens(stream: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The sorted distinct token ids of ``stream`` (``[T]``): ``[V_seen]``, checked against ``vocab_size``."""
    ids = torch.unique(stream.long())  # sorted
    if len(ids) == 0:
        raise ValueError("seen_tokens: the token stream is empty")
    if ids[0] < 0 or ids[-1] >= vocab_size:
        raise ValueError(f"token ids must be in 0..{vocab_size - 1}, found {int(ids[0])}..{int(ids[-1])}")
    return ids


def column_index(seen: torch.Tensor, vocab_size: int, fill: int = -1) -> torch.Tensor:
    """``[vocab_size]``: token id -> its column among the ``seen`` rows, ``fill`` for an unseen token."""
    index = torch.full((vocab_size,), fill, dtype=torch.long)
    index[seen.long()] = torch.arange(len(seen))
    return index


def _unseen_mask(seen: torch.Tensor, rows: int, device) -> torch.Tensor:
    """``[rows]`` bool: True for the rows of tokens outside ``seen``."""
    unseen = torch.ones(rows, dtype=torch.bool, device=device)
    unseen[seen.to(device)] = False
    return unseen


@torch.no_grad()
def zero_unseen_rows(model, seen: torch.Tensor) -> int:
    """Zero the output-layer rows (and the input embedding's, when tied) of tokens not in ``seen``;
    returns how many rows were zeroed."""
    problem = zero_rows_problem(model)
    if problem is not None:
        raise ValueError(f"seen_vocab: {problem}")
    head = model.get_output_embeddings()
    unseen = _unseen_mask(seen, head.weight.shape[0], head.weight.device)
    head.weight[unseen] = 0.0
    return int(unseen.sum())


def check_unseen_rows_zero(model, seen: torch.Tensor) -> None:
    """ValueError unless every output row outside ``seen`` is exactly zero (what the exact loss assumes)."""
    w = model.get_output_embeddings().weight
    bad = int((w[_unseen_mask(seen, w.shape[0], w.device)] != 0).any(dim=1).sum())
    if bad:
        raise ValueError(f"seen_vocab: {bad} output rows of tokens outside the training data are not zero; the "
                         "seen-vocabulary loss is exact only for a draft trained with it from the start "
                         "(zero_unseen_rows), e.g. smol-draft-ar. Train this draft with the full output layer.")


def seen_logits(model, seen: torch.Tensor, **forward_kwargs) -> torch.Tensor:
    """``[..., V_seen]``: the logits of the ``seen`` tokens only, from the model's last hidden states
    (``model.model(**forward_kwargs)``, a transformers ``*ForCausalLM``'s body) and the seen output rows."""
    hidden = model.model(**forward_kwargs).last_hidden_state  # [B, N, H]
    w = model.get_output_embeddings().weight[seen.to(hidden.device)]  # [V_seen, H]
    return hidden @ w.T  # [B, N, V_seen]


def with_unseen_column(logits: torch.Tensor, unseen: int) -> torch.Tensor:
    """``[..., V_seen + 1]``: ``logits`` plus one constant column ``log(unseen)``, which adds
    ``unseen * exp(0)`` to every softmax normaliser: the ``unseen`` zero logits, all at once. A
    cross-entropy over it equals the full vocabulary's; ``unseen == 0`` returns ``logits`` unchanged."""
    if not unseen:
        return logits
    rest = torch.full_like(logits[..., :1], math.log(unseen))
    return torch.cat([logits, rest], dim=-1)


def seen_vocab_loss(seen: torch.Tensor, vocab_size: int):
    """A ``loss_fn(model, batch) -> (loss, {})`` for :func:`pard_ref.training.lm.train`: the next-token
    cross-entropy of a model whose unseen output rows are zero (:func:`zero_unseen_rows`), computed
    from the seen rows only. ``batch``: ``{"input_ids": [B, L], "labels": [B, L]}`` as
    :func:`pard_ref.training.lm.lm_batches` yields (labels = inputs, shifted here)."""
    seen = seen.long()
    unseen = vocab_size - len(seen)
    index = column_index(seen, vocab_size)  # token id -> column among the seen rows

    def loss_fn(model, batch):
        labels = index.to(batch["labels"].device)[batch["labels"][:, 1:]]  # [B, L-1] columns
        if (labels < 0).any():
            raise ValueError("seen_vocab_loss: a label is not among the seen tokens; build `seen` from the training data")
        logits = seen_logits(model, seen, input_ids=batch["input_ids"])[:, :-1]  # [B, L-1, V_seen]
        logits = with_unseen_column(logits, unseen)  # [B, L-1, V_seen + 1]: the U zero logits at once
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the loss in float32 under autocast
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten()), {}

    return loss_fn


def output_layer_share(config, seen: int | None = None) -> float:
    """The output layer's share of a token's forward multiply-adds in a Llama-style ``config`` (attention
    score terms ignored), with the full vocabulary or ``seen`` rows."""
    h, i, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (h // config.num_attention_heads)
    layer = h * h * 2 + h * kv * 2 + 3 * h * i  # q, o; k, v; gate, up, down
    head = h * (seen if seen is not None else config.vocab_size)
    return head / (head + n * layer)
