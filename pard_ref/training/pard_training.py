"""PARD training: adapt an ordinary autoregressive draft into a parallel draft.

``train_pard(draft, tokens, ...)`` takes a draft (any ``transformers`` causal LM that accepts a 4-D
float attention mask and explicit ``position_ids``, e.g. ``LlamaForCausalLM``) and ordinary text
tokens (no target model is involved: "target independence"), and trains it on PARD batches
(``pard_ref.training.pard_layout.build_pard_batch``: the K-block layout, thinned by COD with drop ratio r
and floor r_min) with the shared loop ``pard_ref.training.lm.train`` (AdamW, warm-up + cosine,
gradient clipping, bfloat16 autocast on a GPU). Afterwards ``draft.config.pard_token`` holds the
mask token id, so the saved draft is what vLLM's parallel drafting and ``pard_ref``'s decoding
engine expect.

Logged metrics (every ``log_every`` steps, ``TrainLog.extra``): ``loss_j`` and ``acc_j`` (top-1 accuracy)
for each depth j = 0..K-1, where depth j is proposal j+1 at inference (depth 0 = the ordinary
next-token prediction of the last real token).

What it does NOT handle: chat formatting / loss masking of prompts (windows are cut from a raw token
stream), multiple GPUs, gradient accumulation, resuming, evaluation of the accepted length (that
needs a target: see the decoding engine).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import torch

from ..decoding.checks import resolve_mask_id
from ..device import default_device
from .lm import TrainConfig, TrainLog, random_windows, train
from .pard_layout import IGNORE_INDEX, build_pard_batch, check_pard_args, cod_tokens_per_sequence, pard_loss
from .seen_vocab import check_unseen_rows_zero, column_index, seen_logits, seen_tokens


def _streams(tokens, weights) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Normalise ``tokens`` (1-D stream or {domain: stream}) and ``weights`` into random_windows' arguments."""
    if isinstance(tokens, torch.Tensor):
        if weights is not None:
            raise ValueError("weights only apply when tokens is a dict {domain: stream}")
        streams = {"text": tokens}
    elif isinstance(tokens, Mapping):
        if not tokens:
            raise ValueError("tokens is an empty dict")
        streams = dict(tokens)
    else:
        raise ValueError(f"tokens must be a 1-D LongTensor or a dict {{domain: 1-D tensor}}, got {type(tokens).__name__}")
    for name, s in streams.items():
        if not isinstance(s, torch.Tensor) or s.dim() != 1 or s.dtype.is_floating_point:
            raise ValueError(f"token stream {name!r} must be a 1-D integer tensor")
    if weights is None:
        weights = {name: 1.0 for name in streams}
    else:
        weights = dict(weights)
        unknown = set(weights) - set(streams)
        if unknown:
            raise ValueError(f"weights name domains that are not in tokens: {sorted(unknown)}")
        if any(w < 0 for w in weights.values()) or sum(weights.get(n, 0.0) for n in streams) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum over the domains, got {weights}")
    return streams, {name: float(weights.get(name, 0.0)) for name in streams}


def _save(draft, save_dir: Path, log: TrainLog, overwrite: bool) -> None:
    """``save_pretrained`` into a temporary folder next to ``save_dir``, then rename it into place."""
    save_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=save_dir.parent, prefix=f".{save_dir.name}.tmp-"))
    try:
        draft.save_pretrained(tmp)
        (tmp / "pard_train_log.json").write_text(json.dumps(log.to_dict()), encoding="utf-8")
        if save_dir.exists():
            if not overwrite:
                raise FileExistsError(f"{save_dir} appeared while training; pass overwrite=True to replace it")
            old = save_dir.with_name(f".{save_dir.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(save_dir, old)
            os.replace(tmp, save_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, save_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def pard_batches(streams: dict[str, torch.Tensor], weights: dict[str, float], *, batch_size: int, seq_len: int,
                 k: int, mask_token_id: int, drop_ratio: float, min_drop_ratio: float, seed: int,
                 dtype: torch.dtype = torch.float32) -> Iterator[dict[str, torch.Tensor]]:
    """Endless PARD batches (with ``depth``) built from random ``[batch_size, seq_len]`` windows.

    Same seed, same batches. The windows and the COD patterns come from two generators (seeded
    ``seed`` and ``seed + 1``), so runs that differ only in r / r_min see the same windows in the
    same order: a fair comparison of drop ratios at one token budget.
    """
    g_windows = torch.Generator().manual_seed(seed)
    g_cod = torch.Generator().manual_seed(seed + 1)
    while True:
        x = random_windows(streams, weights, batch_size, seq_len, g_windows)  # [B, L]
        yield build_pard_batch(x, k=k, mask_token_id=mask_token_id, drop_ratio=drop_ratio,
                               min_drop_ratio=min_drop_ratio, generator=g_cod, dtype=dtype, return_depth=True)


def train_pard_with_log(draft, tokens, *, k: int = 8, drop_ratio: float = 0.7, min_drop_ratio: float = 0.2,
                        mask_token_id: int | None = None, weights: Mapping[str, float] | None = None,
                        steps: int = 500, batch_size: int = 16, seq_len: int = 128, lr: float = 1e-3,
                        warmup: int = 20, min_lr_ratio: float = 0.1, weight_decay: float = 0.1,
                        grad_clip: float = 1.0, log_every: int = 10, seed: int = 0,
                        device: torch.device | str | None = None, progress: bool = True,
                        save_dir: str | Path | None = None, overwrite: bool = False,
                        on_log: Callable[[int, float, dict], None] | None = None, seen_vocab: bool = False):
    """``train_pard`` that returns ``(draft, log)``; ``log`` is a ``pard_ref.training.lm.TrainLog``.

    See ``train_pard`` for the arguments. ``seen_vocab``: compute the loss from the output rows of the
    tokens in ``tokens`` plus the mask only (exact for a draft whose other rows are zero, e.g. one
    trained with :mod:`pard_ref.training.seen_vocab`; any other draft is refused before training).
    ``log.losses`` is the PARD loss at ``log.steps``;
    ``log.extra["loss_j"]`` / ``log.extra["acc_j"]`` the per-depth loss and top-1 accuracy;
    ``log.tokens`` the layout tokens processed (N per row, after COD).
    """
    check_pard_args(k, drop_ratio, min_drop_ratio)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("log_every", log_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    cod_tokens_per_sequence(seq_len, k, drop_ratio, min_drop_ratio)  # validates seq_len against k and r_min
    streams, weights = _streams(tokens, weights)
    for name, s in streams.items():
        if weights[name] > 0 and len(s) <= seq_len:
            raise ValueError(f"token stream {name!r} has {len(s)} tokens, need more than seq_len={seq_len}")
    mask_id = resolve_mask_id(draft, mask_token_id)
    vocab = draft.get_input_embeddings().num_embeddings
    for name, s in streams.items():
        if bool((s == mask_id).any()):
            raise ValueError(f"token stream {name!r} contains the mask id {mask_id}: the mask token must be "
                             f"reserved and unused in training text")
        if len(s) and (int(s.min()) < 0 or int(s.max()) >= vocab):
            raise ValueError(f"token stream {name!r} has ids outside the draft's vocabulary (size {vocab})")
    seen = None
    if seen_vocab:  # the data's tokens and the mask: the rows this training reads and writes
        seen = seen_tokens(torch.cat([s.long() for s in streams.values()] + [torch.tensor([mask_id])]), vocab)
        check_unseen_rows_zero(draft, seen)
        index = column_index(seen, vocab, fill=IGNORE_INDEX)  # token id -> column among the seen rows
    save_path = Path(save_dir) if save_dir is not None else None
    if save_path is not None and save_path.exists() and not overwrite:
        raise FileExistsError(f"{save_path} exists; pass overwrite=True to replace it or choose another save_dir")

    device = torch.device(device) if device is not None else default_device()
    draft.to(device)
    draft.config.pard_token = mask_id
    # the additive mask's dtype: the draft's, or bfloat16 under the loop's CUDA autocast
    mask_dtype = torch.bfloat16 if device.type == "cuda" else next(draft.parameters()).dtype

    def loss_fn(model, batch):
        depth = batch.pop("depth")
        labels = batch["labels"]
        inputs = dict(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                      attention_mask=batch["attention_mask"])
        if seen is None:
            return pard_loss(model(**inputs).logits, labels, depth, k)  # logits [B, N, V]
        columns = torch.where(labels == IGNORE_INDEX, IGNORE_INDEX,
                              index.to(labels.device)[labels.clamp(min=0)])  # [B, N] seen columns
        return pard_loss(seen_logits(model, seen, **inputs), columns, depth, k, unseen=vocab - len(seen))

    cfg = TrainConfig(steps=steps, lr=lr, warmup_steps=warmup, min_lr_ratio=min_lr_ratio,
                      weight_decay=weight_decay, grad_clip=grad_clip, log_every=log_every)
    batches = pard_batches(streams, weights, batch_size=batch_size, seq_len=seq_len, k=k, mask_token_id=mask_id,
                           drop_ratio=drop_ratio, min_drop_ratio=min_drop_ratio, seed=seed, dtype=mask_dtype)
    log = train(draft, batches, cfg, loss_fn=loss_fn, desc=f"PARD K={k} r={drop_ratio}", progress=progress,
                on_log=on_log)
    if save_path is not None:
        _save(draft, save_path, log, overwrite)
    return draft, log


def train_pard(draft, tokens, *, k: int = 8, drop_ratio: float = 0.7, min_drop_ratio: float = 0.2,
               mask_token_id: int | None = None, weights: Mapping[str, float] | None = None,
               steps: int = 500, batch_size: int = 16, seq_len: int = 128, lr: float = 1e-3,
               warmup: int = 20, min_lr_ratio: float = 0.1, weight_decay: float = 0.1, grad_clip: float = 1.0,
               log_every: int = 10, seed: int = 0, device: torch.device | str | None = None,
               progress: bool = True, save_dir: str | Path | None = None, overwrite: bool = False,
               on_log: Callable[[int, float, dict], None] | None = None):
    """Train ``draft`` in place into a PARD draft of depth K; returns the draft (in eval mode).

    Arguments:
        draft: a causal LM (``LlamaForCausalLM``); trained in place and moved to ``device``.
        tokens: a 1-D integer token stream, or a dict ``{domain: stream}``; training windows of
            ``seq_len`` tokens are cut at random (``pard_ref.training.lm.random_windows``).
        weights: mixture weights per domain (dict tokens only; default equal).
        k: training depth K (the paper trains K=8 and infers with K up to ~12).
        drop_ratio, min_drop_ratio: COD's r and r_min (1.0 = no dropping, the full K·L layout).
        mask_token_id: the reserved mask id; default ``draft.config.pard_token``. Written to
            ``draft.config.pard_token``.
        steps, batch_size, seq_len, lr, warmup, min_lr_ratio, weight_decay, grad_clip, log_every:
            the optimisation (``pard_ref.training.lm.TrainConfig``: AdamW, linear warm-up over ``warmup``
            steps then cosine decay to ``min_lr_ratio * lr``). The default lr suits tiny drafts;
            the paper uses 1e-5 for 0.5-1B drafts.
        seed: seeds the windows and the COD draws (not the model initialisation).
        device: where to train; default a CUDA GPU when present (bfloat16 autocast), else the CPU.
        progress: show a tqdm bar with the running loss.
        save_dir: if given, ``save_pretrained`` there atomically (temporary folder, then rename),
            together with ``pard_train_log.json``. An existing folder is an error unless ``overwrite``.
        on_log: ``on_log(step, loss, metrics)`` called at every logged step.

    The log (losses, per-depth accuracies) is returned by ``train_pard_with_log``, which takes the same
    arguments and returns ``(draft, log)``.
    """
    draft, _ = train_pard_with_log(
        draft, tokens, k=k, drop_ratio=drop_ratio, min_drop_ratio=min_drop_ratio, mask_token_id=mask_token_id,
        weights=weights, steps=steps, batch_size=batch_size, seq_len=seq_len, lr=lr, warmup=warmup,
        min_lr_ratio=min_lr_ratio, weight_decay=weight_decay, grad_clip=grad_clip, log_every=log_every,
        seed=seed, device=device, progress=progress, save_dir=save_dir, overwrite=overwrite, on_log=on_log)
    return draft


def build_draft_pard(draft_ar, tok, streams: dict[str, torch.Tensor], weights: Mapping[str, float], *, steps: int,
                     batch_size: int, seq_len: int, lr: float, k: int = 8, drop_ratio: float = 0.7,
                     min_drop_ratio: float = 0.2, seed: int = 0, progress: bool = True, warmup: int | None = None,
                     device=None):
    """``(draft_pard, log)``: a PARD copy of ``draft_ar`` trained with COD for ``steps`` steps.

    ``draft_ar`` is deep-copied (the original is left untouched). ``steps * batch_size * seq_len`` text
    tokens are read from ``streams`` ({domain: token stream}) with the mixture ``weights``; each window
    becomes a K-block PARD layout thinned by COD (r = ``drop_ratio``, r_min = ``min_drop_ratio``). No
    target is involved (target independence). ``warmup`` defaults to 10 % of the steps. The returned
    model has ``config.pard_token = tok.mask_token_id`` and is in eval mode, ready for
    ``save_pretrained``; ``log`` is a :class:`~pard_ref.training.lm.TrainLog` (loss and per-depth
    ``loss_j`` / ``acc_j``). The zoo builds its ``draft-pard`` with this.
    """
    model = copy.deepcopy(draft_ar)
    weights = {d: w for d, w in dict(weights).items() if d in streams}
    warmup = max(1, steps // 10) if warmup is None else warmup
    return train_pard_with_log(
        model, streams, k=k, drop_ratio=drop_ratio, min_drop_ratio=min_drop_ratio,
        mask_token_id=tok.mask_token_id, weights=weights, steps=steps, batch_size=batch_size,
        seq_len=seq_len, lr=lr, warmup=warmup, log_every=max(1, steps // 50), seed=seed, device=device,
        progress=progress)
