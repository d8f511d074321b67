"""Real checkpoints: a target and a draft from local folders (or hub ids), decoded with pard_ref's engine.

The zoo is one family; the same code runs any transformers causal LM pair that shares a tokenizer,
for example a Llama-3 target with a published PARD draft::

    from pard_ref.checkpoints import load_pair, generate_text
    pair = load_pair("/models/Llama-3.1-8B-Instruct", "/models/PARD-Llama-3.2-1B")
    out = generate_text(pair, "Write a function that reverses a list.", method="pard", k=8)
    print(out.text, out.stats)

or from a terminal: ``python -m pard_ref generate --target DIR --draft DIR --prompt "..."``. A zoo
model name works wherever a folder does (:func:`resolve`): ``--model smol-target`` is the real
SmolLM2-135M-Instruct chat model, converted on first use.

``load_pair`` calls ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained``,
the same calls that load hub checkpoints; with ``HF_HUB_OFFLINE=1`` nothing touches the network. It
checks what speculative decoding needs before decoding starts: both folders exist and hold a
checkpoint, both models' embeddings cover the tokenizer's ids (an embedding may be padded larger, as
in Qwen families), when both folders hold a tokenizer the two map the same tokens to the same ids
(:func:`tokenizer_differences`: a draft of another family can have a vocabulary of the same size and
still mean other tokens by every id), and, for ``method="pard"``, the draft's ``config.json`` carries
``pard_token`` (128020 in the Llama-3 PARD drafts), the mask id appended K-1 times.

What it does not handle: batch size > 1, a draft folder without a tokenizer whose vocabulary differs
from the target's (only the sizes can be checked then), tokenizers with the same vocabulary but other
merges or normalisation, quantised or sharded multi-GPU loading (pass ``device_map`` and friends
through ``**model_kwargs`` if you need them; the engine expects both models on one device).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .decoding import DecodingStats, generate
from .decoding.checks import embedding_size, resolve_mask_id
from .decoding.seen_rows import compact_output_layer
from .device import default_device, default_dtype
from .text.tokenizer import encode_chat


@dataclass
class ModelPair:
    """A target, a draft (or None) and the tokenizer they share."""

    target: torch.nn.Module
    draft: torch.nn.Module | None
    tokenizer: object
    mask_token_id: int | None  # the draft's pard_token, None for an AR-only draft


@dataclass
class TextOutput:
    text: str  # the new text only (the prompt is not repeated)
    token_ids: list[int]  # the new token ids
    stats: DecodingStats


def _check_folder(path, role: str) -> str:
    """A local folder must exist and hold a config.json; anything else is passed on as a hub id."""
    p = Path(path).expanduser()
    looks_local = p.is_absolute() or str(path).startswith((".", "~")) or p.exists()
    if looks_local:
        if not p.is_dir():
            raise FileNotFoundError(f"{role} checkpoint folder {str(p)!r} does not exist: pass the folder "
                                    "that holds config.json and the weights (or a hub id if you are online)")
        if not (p / "config.json").exists():
            raise FileNotFoundError(f"{role} folder {str(p)!r} has no config.json: it is not a transformers "
                                    "checkpoint (save one with model.save_pretrained(folder))")
        return str(p)
    return str(path)


def resolve(name_or_path, role: str = "target", scale: str | None = None, *, progress: bool = True) -> str:
    """A zoo model name -> its folder (converting ``smol-target`` on first use); anything else unchanged.

    An existing local path wins over a zoo name. A trained zoo model that is not built yet is an error
    naming the build command (training is not started from here).
    """
    from . import zoo

    text = str(name_or_path)
    if Path(text).expanduser().exists() or text not in zoo.names():
        return text
    if not zoo.is_built(text, scale):
        if zoo.SPECS[text].converter is None:
            raise FileNotFoundError(f"{role} {text!r} is a zoo model that is not built yet: build it with "
                                    f"`python -m pard_ref zoo build {text}`")
        zoo.build_one(text, scale, progress=progress)  # a converted model: converts once (about half a minute)
    return str(zoo.model_dir(text, scale))


def default_method(draft_path) -> str:
    """``"pard"`` for a draft whose ``config.json`` carries ``pard_token``, else ``"ar"``; ``"none"`` without a draft."""
    if draft_path is None:
        return "none"
    from transformers import AutoConfig

    return "pard" if getattr(AutoConfig.from_pretrained(draft_path), "pard_token", None) is not None else "ar"


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def has_tokenizer(folder) -> bool:
    """True when a local checkpoint folder holds a tokenizer (tokenizer.json, tokenizer.model or vocab.json)."""
    p = Path(folder).expanduser()
    return p.is_dir() and any((p / f).exists() for f in _TOKENIZER_FILES)


def tokenizer_differences(target_tok, draft_tok, examples: int = 3) -> list[str]:
    """What differs between two tokenizers' vocabularies (token -> id, special tokens included); [] if equal."""
    tv, dv = target_tok.get_vocab(), draft_tok.get_vocab()
    if tv == dv:
        return []
    out = [] if len(tv) == len(dv) else [f"sizes {len(tv)} (target) and {len(dv)} (draft)"]
    t_by_id, d_by_id = {i: t for t, i in tv.items()}, {i: t for t, i in dv.items()}
    ids = sorted(i for i in set(t_by_id) | set(d_by_id) if t_by_id.get(i) != d_by_id.get(i))
    shown = ", ".join(f"id {i}: target {t_by_id.get(i)!r}, draft {d_by_id.get(i)!r}" for i in ids[:examples])
    out.append(f"{len(ids)} of {max(len(t_by_id), len(d_by_id))} ids name different tokens (e.g. {shown})")
    return out


def check_tokenizers(target_tok, draft_tok, target_name: str = "target", draft_name: str = "draft") -> None:
    """Raise a clear ValueError if the draft's tokenizer maps tokens to other ids than the target's."""
    diff = tokenizer_differences(target_tok, draft_tok)
    if diff:
        same = " although both have the same size" if len(target_tok.get_vocab()) == len(draft_tok.get_vocab()) else ""
        raise ValueError(f"the draft's tokenizer ({draft_name}) differs from the target's ({target_name}){same}: "
                         f"{'; '.join(diff)}. A draft proposes token ids that the target verifies, so both must use "
                         "one tokenizer: use a draft trained with the target's tokenizer")


def check_pair(target, draft, tokenizer, method: str) -> int | None:
    """Raise a clear error if ``draft`` cannot draft for ``target``; return the mask id (pard) or None."""
    if draft is None:
        if method != "none":
            raise ValueError(f"method={method!r} needs a draft model; pass draft=... or use method='none'")
        return None
    n_tok = len(tokenizer)
    for role, model in (("target", target), ("draft", draft)):
        if embedding_size(model) < n_tok:
            raise ValueError(f"the {role}'s embedding has {embedding_size(model)} rows but the tokenizer has "
                             f"{n_tok} tokens: this tokenizer does not belong to this model")
    if method == "pard":  # the engine's own check: pard_token present and inside the draft's vocabulary
        return resolve_mask_id(draft)
    mask = getattr(draft.config, "pard_token", None)
    return int(mask) if mask is not None else None


def load_pair(target_path, draft_path=None, *, method: str = "pard", dtype=None, device=None,
              **model_kwargs) -> ModelPair:
    """Load a target and a draft with ``from_pretrained`` and check they can work together.

    target_path, draft_path: local folders (or hub ids, if you are online). The tokenizer is the
    target's; when the draft's folder holds one too, it must have the same vocabulary. dtype: default
    bfloat16 on a GPU, float32 on a CPU. method: what you intend to run ("pard" requires
    ``pard_token`` in the draft's config).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or default_dtype(device)
    target_id = _check_folder(target_path, "target")
    draft_id = _check_folder(draft_path, "draft") if draft_path is not None else None
    tok = AutoTokenizer.from_pretrained(target_id)
    if draft_id is not None and has_tokenizer(target_id) and has_tokenizer(draft_id):
        check_tokenizers(tok, AutoTokenizer.from_pretrained(draft_id), target_id, draft_id)
    target = AutoModelForCausalLM.from_pretrained(target_id, dtype=dtype, **model_kwargs).to(device).eval()
    draft = None
    if draft_id is not None:
        draft = AutoModelForCausalLM.from_pretrained(draft_id, dtype=dtype, **model_kwargs).to(device).eval()
        draft = compact_output_layer(draft)  # a seen-vocabulary draft: only its non-zero output rows are computed
    mask = check_pair(target, draft, tok, method if draft is not None else "none")
    return ModelPair(target, draft, tok, mask)


def encode(tokenizer, prompt: str, chat: bool = False) -> list[int]:
    """Token ids of ``prompt``: plain text with the tokenizer's own special tokens, or one user turn of
    its chat template (instruction-tuned targets, e.g. Llama-3-Instruct, expect ``chat=True``)."""
    if chat:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("chat=True but this tokenizer has no chat template; pass chat=False")
        return encode_chat(tokenizer, prompt)
    return tokenizer(prompt)["input_ids"]


@torch.no_grad()
def generate_text(pair: ModelPair, prompt: str, *, method: str = "pard", k: int = 8, max_new_tokens: int = 128,
                  temperature: float = 0.0, chat: bool = False, stop_at_eos: bool = True,
                  seed: int | None = None) -> TextOutput:
    """Continue ``prompt`` with the pair's target, drafted by ``method`` ("none", "ar" or "pard")."""
    tok = pair.tokenizer  # the engine checks the draft and the mask id; load_pair checked the tokenizer
    ids = torch.tensor([encode(tok, prompt, chat)], device=pair.target.device)
    eos = tok.eos_token_id if stop_at_eos else None
    out = generate(pair.target, ids, draft=pair.draft if method != "none" else None, method=method, k=k,
                   max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, eos_token_id=eos,
                   mask_token_id=pair.mask_token_id if method == "pard" else None)
    new = out.sequences[0, ids.shape[1]:].tolist()
    return TextOutput(tok.decode(new, skip_special_tokens=True), new, out.stats)


def compare(pair: ModelPair, prompt: str, *, methods=("none", "ar", "pard"), k: int = 8, max_new_tokens: int = 128,
            chat: bool = False) -> list[dict]:
    """Run each method once after a short warm-up; rows of method, tokens/s, accepted length, same tokens."""
    generate_text(pair, prompt, method="none", max_new_tokens=4, chat=chat)  # warm-up, not timed
    rows, reference = [], None
    for m in methods:
        if m == "pard" and pair.mask_token_id is None:
            continue
        t0 = time.perf_counter()
        out = generate_text(pair, prompt, method=m, k=k, max_new_tokens=max_new_tokens, chat=chat)
        seconds = time.perf_counter() - t0
        reference = out.token_ids if reference is None else reference
        rows.append({"method": m, "tokens": len(out.token_ids), "seconds": seconds,
                     "tokens_per_second": len(out.token_ids) / seconds,
                     "mean_accepted_length": out.stats.mean_accepted_length if m != "none" else None,
                     "same_tokens": out.token_ids == reference, "text": out.text})
    return rows
