"""Adapt any local autoregressive draft folder into a PARD draft folder (the ``train-pard`` command).

:func:`adapt_folder` reads a ``save_pretrained`` folder of a Llama/Qwen-style causal LM and its
tokenizer, a JSONL file of training text, trains the draft with COD
(:func:`pard_ref.training.pard_training.train_pard_with_log`, no target involved) and writes a new
folder that loads with ``from_pretrained``: the weights, the tokenizer, and a ``config.json`` carrying
``pard_token`` (the reserved mask id) and ``spd_type: "pard"`` (the fields vLLM's parallel drafting and
AMD's PARD trainer read), plus ``pard_train_log.json``.

Everything is checked BEFORE any training, each with a message that says what to do:
:func:`check_draft_folder` (a causal-LM folder with a tokenizer), :func:`read_texts` (JSONL records
with a ``"text"`` string and/or chat ``"messages"`` rendered with the tokenizer's chat template),
:func:`choose_mask_id` (a reserved special token the data never produces; by default the first
unused special token, e.g. one of SmolLM2's code-pretraining tokens 3..16), K >= 2 and
0 < r_min <= r <= 1. The output is written through :func:`pard_ref.paths.atomic_dir`: an interrupted
run leaves no folder that loads.

What it does NOT handle: adding a new token to a vocabulary that has no unused special token (pass
``mask_id`` of an unused row instead, or resize the embedding yourself), multi-GPU training, resuming,
loss masking of chat prompts (windows are cut from the concatenated token stream).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import paths
from ..decoding.checks import resolve_mask_id
from .pard_layout import check_pard_args, cod_tokens_per_sequence
from .pard_training import train_pard_with_log

__all__ = ["AdaptConfig", "adapt_folder", "adapt_model", "check_draft_folder", "choose_mask_id", "encode_texts",
           "read_texts"]

LOG_NAME = "pard_train_log.json"


@dataclass(frozen=True)
class AdaptConfig:
    """The COD training of :func:`adapt_folder` (the paper's K=8, r=0.7, r_min=0.2 by default)."""

    k: int = 8
    drop_ratio: float = 0.7
    min_drop_ratio: float = 0.2
    steps: int = 500
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 1e-3
    warmup: int | None = None  # default: 10 % of the steps
    seed: int = 0
    seen_vocab: bool = False  # loss over the data's tokens + the mask only (drafts trained that way: seen_vocab.py)

    def check(self) -> None:
        check_pard_args(self.k, self.drop_ratio, self.min_drop_ratio)
        for name in ("steps", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        cod_tokens_per_sequence(self.seq_len, self.k, self.drop_ratio, self.min_drop_ratio)


def check_draft_folder(path) -> Path:
    """``path`` as a Path if it is a ``save_pretrained`` folder of a causal LM with a tokenizer; else ValueError."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    p = Path(path)
    if not p.is_dir():
        raise ValueError(f"draft folder {p} does not exist (or is not a folder): pass a folder written by "
                         "save_pretrained (config.json, weights, tokenizer)")
    if not (p / "config.json").exists():
        raise ValueError(f"{p} has no config.json: it is not a transformers checkpoint folder; pass a folder "
                         "written by model.save_pretrained(...)")
    try:
        config = AutoConfig.from_pretrained(p)
    except Exception as e:  # noqa: BLE001 - any unreadable config is the same user error
        raise ValueError(f"{p}/config.json cannot be read as a transformers config: {e}") from e
    archs = list(getattr(config, "architectures", None) or [])
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (archs and not any(
            a.endswith("ForCausalLM") for a in archs)):
        raise ValueError(f"{p} is not a causal language model (model_type {config.model_type!r}, architectures "
                         f"{archs}): train-pard adapts an autoregressive draft such as LlamaForCausalLM or "
                         "Qwen2ForCausalLM")
    if not any((p / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise ValueError(f"{p} has no tokenizer files: save the draft's tokenizer there too "
                         "(tokenizer.save_pretrained(folder))")
    return p


def read_texts(path, tokenizer) -> list[str]:
    """The training texts of a JSONL file: each record's ``"text"`` string and/or its chat ``"messages"``
    (a list of ``{"role", "content"}``) rendered with ``tokenizer``'s chat template. ValueError if none."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data file {p} does not exist: pass a JSONL file with one {{\"text\": ...}} record per line")
    texts: list[str] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}:{n} is not valid JSON ({e.msg}): each line must be one JSON object") from e
        if not isinstance(rec, dict):
            raise ValueError(f"{p}:{n} is not a JSON object: expected {{\"text\": ...}} or {{\"messages\": [...]}}")
        if isinstance(rec.get("text"), str) and rec["text"].strip():
            texts.append(rec["text"])
        msgs = rec.get("messages")
        if msgs:
            if not getattr(tokenizer, "chat_template", None):
                raise ValueError(f"{p}:{n} has chat messages but the draft's tokenizer has no chat template: "
                                 "use \"text\" records instead")
            if not isinstance(msgs, list) or not all(isinstance(m, dict) and "role" in m and "content" in m
                                                     for m in msgs):
                raise ValueError(f"{p}:{n}: \"messages\" must be a list of {{\"role\", \"content\"}} objects")
            texts.append(tokenizer.apply_chat_template(msgs, tokenize=False))
    if not texts:
        raise ValueError(f"{p} has no training text: no record has a non-empty \"text\" string or \"messages\" list")
    return texts


def encode_texts(tokenizer, texts: list[str]) -> torch.Tensor:
    """One 1-D LongTensor ``[T]``: every text's ids followed by the eos id (when the tokenizer has one)."""
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for t in texts:
        ids.extend(tokenizer(t, add_special_tokens=False)["input_ids"])
        if eos is not None:
            ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def _reserved_candidates(tokenizer) -> list[int]:
    """Special (added) token ids that are not bos / eos / pad / unk, in id order."""
    taken = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id}
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return sorted(i for i, t in decoder.items() if getattr(t, "special", False) and i not in taken)


def choose_mask_id(model, tokenizer, stream: torch.Tensor, mask_id: int | None = None) -> int:
    """The reserved mask id: ``mask_id``, else the draft's ``pard_token``, else the first unused special token.

    Validated with :func:`pard_ref.decoding.checks.resolve_mask_id` (inside the draft's embedding), then
    refused if the tokenizer uses it for text: it occurs in the encoded training data, it is bos / eos /
    pad / unk, or it is an ordinary vocabulary token (ids at or past the tokenizer's length are unused rows
    and allowed).
    """
    if mask_id is None:
        mask_id = getattr(model.config, "pard_token", None)
    if mask_id is None:
        present = set(torch.unique(stream).tolist())
        free = [i for i in _reserved_candidates(tokenizer) if i not in present]
        if not free:
            raise ValueError("the tokenizer has no unused special token to reserve as the mask id: pass --mask-id "
                             "with an unused embedding row (an id past the tokenizer's length) or add a special token")
        mask_id = free[0]
    mask_id = resolve_mask_id(model, mask_id)
    name = tokenizer.convert_ids_to_tokens(mask_id) if mask_id < len(tokenizer) else None
    if mask_id in {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id}:
        raise ValueError(f"mask id {mask_id} ({name!r}) is the tokenizer's bos/eos/pad/unk token, which text uses: "
                         f"choose a reserved special token, e.g. one of {_reserved_candidates(tokenizer)[:8]}")
    if bool((stream == mask_id).any()):
        raise ValueError(f"mask id {mask_id} ({name!r}) occurs {int((stream == mask_id).sum())} times in the encoded "
                         "training data: the mask token must be reserved and unused in text; choose another, e.g. "
                         f"one of {_reserved_candidates(tokenizer)[:8]}")
    if mask_id < len(tokenizer) and mask_id not in _reserved_candidates(tokenizer):
        raise ValueError(f"mask id {mask_id} ({name!r}) is an ordinary vocabulary token that text can produce: "
                         "choose a reserved special token, e.g. one of "
                         f"{_reserved_candidates(tokenizer)[:8] or '(none: pass an id past the tokenizer length)'}")
    return mask_id


def adapt_model(model, tok, texts: list[str], *, config: AdaptConfig = AdaptConfig(), mask_id: int | None = None,
                progress: bool = True, device=None):
    """``(model, record)``: ``model`` (an AR draft with tokenizer ``tok``) trained in place into a PARD draft.

    The core of :func:`adapt_folder`, for callers that hold the model already (the zoo's smol-draft-pard is
    built with it): the texts are encoded, the mask id chosen and checked (:func:`choose_mask_id`), all before
    training. Afterwards ``model.config`` carries ``pard_token`` and ``spd_type = "pard"``; ``record`` is
    what ``pard_train_log.json`` holds (settings, token counts, seconds, loss log).
    """
    config.check()
    if not texts or not any(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("no training text: texts is empty")
    stream = encode_texts(tok, texts)  # [T]
    if len(stream) <= config.seq_len:
        raise ValueError(f"the data has {len(stream)} tokens; a training window needs more than seq_len="
                         f"{config.seq_len}: add text or lower --seq-len")
    mask = choose_mask_id(model, tok, stream, mask_id)
    t0 = time.perf_counter()
    warmup = max(1, config.steps // 10) if config.warmup is None else config.warmup
    model, log = train_pard_with_log(
        model, stream, k=config.k, drop_ratio=config.drop_ratio, min_drop_ratio=config.min_drop_ratio,
        mask_token_id=mask, steps=config.steps, batch_size=config.batch_size, seq_len=config.seq_len, lr=config.lr,
        warmup=warmup, log_every=max(1, config.steps // 50), seed=config.seed, device=device, progress=progress,
        seen_vocab=config.seen_vocab)
    model.config.pard_token = mask
    model.config.spd_type = "pard"
    record = {"pard_token": mask, "spd_type": "pard", **asdict(config), "train_tokens": log.tokens,
              "data_tokens": len(stream), "seconds": round(time.perf_counter() - t0, 1), "log": log.to_dict()}
    return model.eval(), record


def adapt_folder(draft_dir, data, out_dir, *, config: AdaptConfig = AdaptConfig(), mask_id: int | None = None,
                 dtype: torch.dtype = torch.float32, progress: bool = True, device=None) -> Path:
    """Train the AR draft in ``draft_dir`` into a PARD draft written to ``out_dir``; returns ``out_dir``.

    ``data``: a JSONL file (see :func:`read_texts`). ``dtype``: the precision it trains and is saved in.
    All inputs are checked before training; ``out_dir`` must not exist. The written ``config.json`` has
    ``pard_token`` and ``spd_type: "pard"``; ``pard_train_log.json`` the training record.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config.check()
    src = check_draft_folder(draft_dir)
    out = Path(out_dir)
    if out.exists():
        raise ValueError(f"output folder {out} already exists: choose another --out or remove it first")
    tok = AutoTokenizer.from_pretrained(src)
    texts = read_texts(data, tok)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=dtype)
    model, record = adapt_model(model, tok, texts, config=config, mask_id=mask_id, progress=progress, device=device)
    record = {"source": str(src.resolve()), **record}
    with paths.atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / LOG_NAME).write_text(json.dumps(record), encoding="utf-8")
    if progress:
        print(f"train-pard: wrote a PARD draft (K={config.k}, pard_token={record['pard_token']}) to {out}")
    return out
