"""Argument checks for decoding, and the one resolver of PARD's mask id.

Everything here runs before the first forward, so bad input fails with a message that says what was
wrong and what to do, and no model state is touched.

- :func:`resolve_mask_id` is THE place where a mask id (``pard_token``) is chosen and validated:
  the decoder, the drafting-cost measurement, PARD training and the checkpoint loader all call it.
  A missing or out-of-range id is a ValueError; there is no fallback id.
- :func:`check_decoding_args` validates what :class:`~pard_ref.decoding.loop.SpeculativeDecoder` is given.
- :func:`lm_head_size`, :func:`embedding_size`, :func:`model_device`, :func:`eos_ids`: small facts about
  models and arguments that the checks (and callers such as the checkpoint loader) need.

What it does NOT check: that draft and target share one *tokenizer* when their vocabulary sizes agree
(the checkpoint loader compares tokenizers when it has them), or a model's cache type.
"""

from __future__ import annotations

import numbers

import torch

from .sampling import check_sampling_args

__all__ = ["METHODS", "resolve_mask_id", "check_decoding_args", "check_positions", "lm_head_size",
           "embedding_size", "model_device", "eos_ids"]

METHODS = ("none", "ar", "pard")


def lm_head_size(model) -> int:
    """Rows of the logits: the lm-head's output size (``out_features``, as ``nn.Linear`` and
    :class:`~pard_ref.decoding.seen_rows.SeenRowsHead` name it, else its weight's rows), else ``config.vocab_size``."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if isinstance(getattr(head, "out_features", None), int):
        return head.out_features
    weight = getattr(head, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(model.config.vocab_size)


def embedding_size(model) -> int:
    """Number of token ids the model can read: its input embedding rows, else ``config.vocab_size``."""
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    weight = getattr(emb, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(model.config.vocab_size)


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def eos_ids(eos_token_id) -> frozenset[int]:
    """An id, a list of ids, a tensor of ids or None -> a frozenset of ids (empty: no EOS stop)."""
    if eos_token_id is None:
        return frozenset()
    if isinstance(eos_token_id, numbers.Integral):
        return frozenset((int(eos_token_id),))
    if isinstance(eos_token_id, torch.Tensor):
        return frozenset(int(t) for t in eos_token_id.flatten().tolist())
    return frozenset(int(t) for t in eos_token_id)


def resolve_mask_id(model=None, mask_token_id: int | None = None, *, vocab_size: int | None = None,
                    role: str | None = "draft") -> int:
    """The mask id to use: ``mask_token_id`` if given, else ``model.config.pard_token``; validated.

    The id must be an int inside the vocabulary: ``model``'s embedding rows when a model is given,
    else ``vocab_size`` when given (``role`` names the owner in the message). A missing id is a
    ValueError naming the ways to provide one.
    """
    if mask_token_id is None and model is not None:
        mask_token_id = getattr(model.config, "pard_token", None)
    if mask_token_id is None:
        raise ValueError(
            "no mask token id: PARD needs the draft's reserved mask id, stored as `pard_token` in a PARD "
            "draft's config.json (e.g. 128020 for Llama-3 drafts; pard_ref's tokenizer: tok.mask_token_id). "
            "Pass mask_token_id=... or set draft.config.pard_token, or use method='ar' for a plain AR draft"
        )
    if isinstance(mask_token_id, bool) or not isinstance(mask_token_id, numbers.Integral):
        raise ValueError(f"the mask token id must be an int token id, got {mask_token_id!r}")
    mask_token_id = int(mask_token_id)
    vocab = embedding_size(model) if model is not None else vocab_size
    if mask_token_id < 0 or (vocab is not None and mask_token_id >= vocab):
        owner = f"the {role}'s vocabulary" if role else "the vocabulary"
        raise ValueError(
            f"mask token id {mask_token_id} is outside {owner} 0..{'?' if vocab is None else vocab - 1}: "
            "use the draft's reserved mask id (config.pard_token) or pass a valid mask_token_id"
        )
    return mask_token_id


def check_decoding_args(target, input_ids, draft, method, k, max_new_tokens, temperature, top_p) -> torch.Tensor:
    """Validate the decoder's arguments; returns ``input_ids`` as a LongTensor [1, prompt]."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(map(repr, METHODS))}")
    if not isinstance(input_ids, torch.Tensor):
        input_ids = torch.as_tensor(input_ids, dtype=torch.long)
    if input_ids.dim() == 1:
        input_ids = input_ids.unsqueeze(0)  # [P] -> [1, P]
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be [1, prompt_length] (or 1-D), got shape {tuple(input_ids.shape)}")
    if input_ids.shape[0] != 1:
        raise ValueError(
            f"batch size {input_ids.shape[0]} is not supported: speculative decoding here runs one "
            "sequence at a time; pass input_ids of shape [1, prompt_length] and loop over prompts"
        )
    if input_ids.shape[1] == 0:
        raise ValueError("empty prompt: input_ids needs at least one token (e.g. the BOS token)")
    if input_ids.dtype.is_floating_point or input_ids.dtype.is_complex or input_ids.dtype == torch.bool:
        raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k (draft length: proposals per iteration) must be an integer >= 1, got {k!r}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
    check_sampling_args(temperature, top_p)
    if method != "none":
        if draft is None:
            raise ValueError(
                f"method={method!r} needs a draft model: pass draft=... (or use method='none' for plain decoding)"
            )
        t_vocab, d_vocab = lm_head_size(target), lm_head_size(draft)
        if t_vocab != d_vocab:
            raise ValueError(
                f"vocabulary mismatch: the target has {t_vocab} output tokens (lm-head size; "
                f"config.vocab_size={target.config.vocab_size}) but the draft has {d_vocab} "
                f"(config.vocab_size={draft.config.vocab_size}); draft and target must share one "
                "tokenizer and vocabulary: pick a draft of the target's family"
            )
        if model_device(draft) != model_device(target):
            raise ValueError(
                f"the draft is on {model_device(draft)} but the target is on {model_device(target)}: "
                "move both to one device"
            )
    vocab = embedding_size(target)
    lo, hi = int(input_ids.min()), int(input_ids.max())
    if lo < 0 or hi >= vocab:
        raise ValueError(f"input_ids hold token ids in {lo}..{hi}, outside the target's vocabulary 0..{vocab - 1}")
    return input_ids.long()


def check_positions(target, draft, prompt_length: int, max_new_tokens: int) -> None:
    """The prompt plus ``max_new_tokens`` must fit both models' position embeddings."""
    for role, model in (("target", target), ("draft", draft)):
        if model is None:
            continue
        limit = getattr(model.config, "max_position_embeddings", None)
        if limit is not None and prompt_length + max_new_tokens > limit:
            raise ValueError(
                f"prompt ({prompt_length} tokens) + max_new_tokens ({max_new_tokens}) = "
                f"{prompt_length + max_new_tokens} exceeds the {role}'s max_position_embeddings ({limit}): "
                "shorten the prompt or lower max_new_tokens"
            )
