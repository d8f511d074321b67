"""KV-cache helpers for speculative decoding: make a cache, call a model with it, crop it back.

Speculative decoding feeds a model tokens that may later be rejected, so every iteration ends by
*rolling back* the cache: the entries of rejected tokens are dropped, the entries of accepted
tokens are kept. With a transformers :class:`~transformers.DynamicCache` that is a crop.

transformers 5.x changed two things this module hides:

- the forward keyword is ``cache=`` (``past_key_values=`` still works in 5.24 but warns and is
  scheduled for removal); :func:`cache_keyword` picks whichever the model's ``forward`` declares;
- ``DynamicCache.crop(n)`` only accepts ``n <= 0`` and removes ``|n|`` entries (in 4.x a positive
  ``n`` meant "keep n"). :func:`crop_cache` crops to an absolute length with
  ``cache.crop(-(cache.get_seq_length() - keep))``, which means the same on both.

What this module does NOT handle: sliding-window or other non-"full attention" cache layers (a
sliding-window layer cannot be rolled back once its window is full), static / paged / offloaded
caches, and encoder-decoder models.
"""

from __future__ import annotations

import inspect

import torch
from transformers import DynamicCache

__all__ = ["new_cache", "cache_length", "crop_cache", "cache_keyword", "model_forward"]


def new_cache(model: torch.nn.Module) -> DynamicCache:
    """An empty :class:`~transformers.DynamicCache` laid out for ``model`` (one layer per decoder layer)."""
    return DynamicCache(config=model.config)


def cache_length(cache) -> int:
    """Number of tokens whose keys/values the cache holds."""
    return int(cache.get_seq_length())


def crop_cache(cache, keep: int) -> None:
    """Drop cache entries in place so that exactly the first ``keep`` tokens remain.

    ``keep`` is an absolute length (the kept prefix), not a number of tokens to remove. Raises a
    ValueError when ``keep`` is negative or longer than the cache.
    """
    length = cache_length(cache)
    if keep < 0 or keep > length:
        raise ValueError(f"cannot crop a cache of {length} tokens to {keep} tokens: keep must be in 0..{length}")
    if keep < length:
        # transformers 5.x: crop(-n) removes the last n entries (a positive argument raises)
        cache.crop(-(length - keep))


_KEYWORDS: dict[type, tuple[str, bool]] = {}


def cache_keyword(model: torch.nn.Module) -> tuple[str, bool]:
    """``(keyword, takes_logits_to_keep)`` for ``model.forward``.

    ``keyword`` is ``"cache"`` (transformers 5.x) when the forward declares it, else
    ``"past_key_values"`` when that is declared, else ``"cache"``. ``takes_logits_to_keep`` says
    whether the forward declares ``logits_to_keep`` (which spares the lm-head over rows we do not need).
    The answer is memoised per model class.
    """
    cls = type(model)
    if cls not in _KEYWORDS:
        params = inspect.signature(model.forward).parameters
        if "cache" in params:
            keyword = "cache"
        elif "past_key_values" in params:
            keyword = "past_key_values"
        else:
            keyword = "cache"
        _KEYWORDS[cls] = (keyword, "logits_to_keep" in params)
    return _KEYWORDS[cls]


def model_forward(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    cache,
    position_ids: torch.Tensor,
    num_logits: int,
) -> torch.Tensor:
    """One cached forward; returns the logits of the last ``num_logits`` positions.

    ``input_ids`` [1, L] are the tokens NOT yet in ``cache`` (never the whole sequence); ``position_ids``
    [1, L] are their absolute positions. The cache is extended in place by L entries.
    Returns logits [num_logits, V] (batch dimension dropped).
    """
    keyword, takes_logits_to_keep = cache_keyword(model)
    kwargs = {keyword: cache, "use_cache": True, "position_ids": position_ids}
    if takes_logits_to_keep:
        kwargs["logits_to_keep"] = num_logits
    logits = model(input_ids=input_ids, **kwargs).logits
    # [1, L or num_logits, V] -> [num_logits, V]
    return logits[0, -num_logits:]
