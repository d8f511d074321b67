"""How each benchmarked method generates, run the same way for all: one function per method name, and
the call counter that measures every method alike.

``generate_with(method, target, models, ids, k, n)`` runs one of the benchmark's methods
(:data:`METHODS`) for ``n`` new tokens, greedy, EOS off. Calls and accepted lengths are
counted by :class:`CallCounter`'s forward pre-hooks on the models, the same way for transformers' loops as for
pard_ref's: the cache length each target call sees gives the tokens each iteration added.

What it does NOT handle: sampling, batch size > 1, EOS stops.
"""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager

import torch

from ..decoding import generate
from ..device import synchronize

METHODS = ("hf-greedy", "none", "hf-assisted", "hf-prompt-lookup", "ar", "pard")
PLAIN = ("hf-greedy", "none")
DRAFT_OF = {"hf-assisted": "draft-ar", "ar": "draft-ar", "pard": "draft-pard"}  # method -> draft model
DRAFTING = {"hf-assisted": "ar", "ar": "ar", "pard": "pard"}  # method -> how its draft iteration is costed
class CallCounter:
    """Forward pre-hooks on every model: calls per model, and the target's cache length at each call."""

    def __init__(self, models: dict[str, torch.nn.Module]):
        self.calls = dict.fromkeys(models, 0)
        self.cache_lengths: dict[str, list[int]] = {n: [] for n in models}
        self._handles = [m.register_forward_pre_hook(self._hook(n), with_kwargs=True) for n, m in models.items()]

    def _hook(self, name):
        def hook(module, args, kwargs):
            self.calls[name] += 1
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            self.cache_lengths[name].append(0 if cache is None else int(cache.get_seq_length()))
        return hook

    def reset(self) -> None:
        for n in self.calls:
            self.calls[n] = 0
            self.cache_lengths[n].clear()

    def close(self) -> None:
        for h in self._handles:
            h.remove()


def accepted_from_cache_lengths(cache_lengths: list[int], prompt_len: int, total_len: int) -> list[int]:
    """Tokens each iteration added, from the target cache length at each target call.

    The cache holds the whole sequence but its last token before every call after the first, so the
    sequence is ``prompt_len`` long before call 0 and ``cache_lengths[i] + 1`` long before call i;
    it is ``total_len`` long at the end.
    """
    lengths = [prompt_len] + [c + 1 for c in cache_lengths[1:]] + [total_len]
    return [b - a for a, b in itertools.pairwise(lengths)]


@contextmanager
def hf_settings(models: dict, k: int):
    """For the run: EOS off on every model's generation_config (every method generates exactly
    max_new_tokens) and the assistant's fixed-K settings on draft-ar. Restored afterwards."""
    saved = []
    for name, m in models.items():
        gc = getattr(m, "generation_config", None)
        if gc is None:
            continue
        keys = ["eos_token_id"] + (["num_assistant_tokens", "num_assistant_tokens_schedule",
                                    "assistant_confidence_threshold"] if name == "draft-ar" else [])
        saved.append((gc, {key: getattr(gc, key, None) for key in keys}))
        gc.eos_token_id = None
        if name == "draft-ar":
            gc.num_assistant_tokens, gc.num_assistant_tokens_schedule = k, "constant"
            gc.assistant_confidence_threshold = 0.0
    try:
        yield
    finally:
        for gc, values in saved:
            for key, v in values.items():
                setattr(gc, key, v)


def generate_with(method: str, target, models: dict, ids: torch.Tensor, k: int, n: int) -> torch.Tensor:
    """One greedy generation of exactly ``n`` new tokens; returns the new tokens [n] on the CPU."""
    if method in DRAFT_OF and DRAFT_OF[method] not in models:
        raise ValueError(f"method {method!r} needs {DRAFT_OF[method]!r}: load it with load_models(..., methods=...)")
    if method.startswith("hf-"):
        extra = {"hf-assisted": {"assistant_model": models.get("draft-ar")},
                 "hf-prompt-lookup": {"prompt_lookup_num_tokens": k}}.get(method, {})
        out = target.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n, **extra)
    else:
        draft = models.get(DRAFT_OF.get(method)) if method != "none" else None
        out = generate(target, ids, draft=draft, method=method, k=k, max_new_tokens=n, eos_token_id=None).sequences
    return out[0, ids.shape[1]:].cpu()


def timed(method, target, models, ids, k, n, counter: CallCounter, target_name: str) -> dict:
    device = ids.device
    counter.reset()
    synchronize(device)
    start = time.perf_counter()
    tokens = generate_with(method, target, models, ids, k, n)
    synchronize(device)
    seconds = time.perf_counter() - start
    draft = DRAFT_OF.get(method)
    return {"tokens": tokens, "seconds": seconds, "target_calls": counter.calls[target_name],
            "draft_calls": counter.calls[draft] if draft else 0,
            "accepted": accepted_from_cache_lengths(counter.cache_lengths[target_name], ids.shape[1],
                                                    ids.shape[1] + n)}
