"""The two loops of test-time training: train the adapter on a task's sequences; decode a grid greedily.

``train_lora`` trains every parameter that requires a gradient (after ``lora.apply_lora``: exactly
the adapters) on ``TrainingExample`` sequences with AdamW. The loss is the mean next-token
cross-entropy over the tokens whose ``mask`` is True (``loo.loss_mask``: by default the outputs);
padding and masked tokens contribute nothing. Every setting is used as given: ``epochs``, ``lr``,
``batch_size``, ``weight_decay``, ``max_grad_norm`` (``None`` = no clipping), ``shuffle``, ``seed``.

``greedy_decode`` feeds the prompt once, then one token per step, reusing the key/value cache, and
stops at ``<eos>`` or after ``max_new_tokens``; ``use_cache=False`` recomputes the whole sequence at
every step (slow; the reference the tests compare against). ``predict_grid`` decodes and parses.
``greedy_decode_batch`` / ``predict_grids`` do the same for many prompts at once (left-padded, with
explicit position ids, so each row computes what it would alone; the tests check this in float64).
On a CPU a tiny model's step costs mostly per-call overhead, so decoding the 6-12 views of augmented
inference together is several times faster than one by one.

Both run on whatever device the model is on.

Position ids: a model whose config says ``arc_positions = "grid"`` (``arc-base``, see
``serialize.GridPositions``) is always given grid position ids — in training, in full forwards and
token by token while decoding (``position_ids``, ``uses_grid_positions``). Any other model gets the
usual 0, 1, 2, ... (transformers' default).

Not handled: sampling or beam search; mixed precision; learning-rate schedules
(the paper's 2-epoch runs use a constant rate after warm-up; add a scheduler if you need one).
"""

from __future__ import annotations

import inspect
from typing import Sequence

import torch
import torch.nn.functional as F

from .loo import TrainingExample
from .serialize import EOS_ID, PAD_ID, GridPositions, grid_position_ids, max_grid_tokens, parse_grid
from .tasks import Grid

IGNORE = -100  # label value that the cross-entropy skips


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


GRID_POSITIONS = "grid"


def uses_grid_positions(model: torch.nn.Module) -> bool:
    """True if the model was trained with grid position ids (``config.arc_positions == "grid"``)."""
    return getattr(getattr(model, "config", None), "arc_positions", None) == GRID_POSITIONS


def position_ids(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor | None:
    """(B, T) grid position ids for right-padded ``ids`` if the model wants them, else ``None``
    (the model then counts 0, 1, 2, ... itself). Padding gets whatever follows; it is masked anyway."""
    if not uses_grid_positions(model):
        return None
    rows = [grid_position_ids(row) for row in ids.tolist()]
    return torch.tensor(rows, dtype=torch.long, device=ids.device)


def collate(examples: Sequence[TrainingExample], device, pad_id: int = PAD_ID):
    """Right-pad a batch. Returns ``input_ids`` (B, T), ``attention_mask`` (B, T) and ``labels``
    (B, T): the token where the loss is taken, ``IGNORE`` elsewhere (masked tokens and padding)."""
    T = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), T), pad_id, dtype=torch.long)
    attn = torch.zeros((len(examples), T), dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE, dtype=torch.long)
    for b, e in enumerate(examples):
        if len(e.ids) != len(e.mask):
            raise ValueError(f"example {e.task_id}: {len(e.ids)} ids but {len(e.mask)} mask entries")
        n = len(e.ids)
        ids[b, :n] = torch.tensor(e.ids)
        attn[b, :n] = 1
        labels[b, :n] = torch.where(torch.tensor(e.mask, dtype=torch.bool), ids[b, :n], IGNORE)
    return ids.to(device), attn.to(device), labels.to(device)


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting token t+1 from position t, over labels that are not ``IGNORE``.

    logits: (B, T, V); labels: (B, T). Position t's logits predict token t+1.
    """
    pred = logits[:, :-1].reshape(-1, logits.shape[-1])  # (B*(T-1), V)
    if pred.dtype in (torch.float16, torch.bfloat16):
        pred = pred.float()  # the softmax in at least float32
    target = labels[:, 1:].reshape(-1)  # (B*(T-1),)
    return F.cross_entropy(pred, target, ignore_index=IGNORE)


def train_lora(
    model: torch.nn.Module,
    examples: Sequence[TrainingExample],
    *,
    epochs: int = 2,
    lr: float = 1e-4,
    batch_size: int = 2,
    weight_decay: float = 0.0,
    max_grad_norm: float | None = None,
    shuffle: bool = True,
    seed: int = 0,
) -> list[float]:
    """Train the model's trainable parameters (the adapters) on ``examples``; returns the loss of every step.

    ``epochs`` passes over the data in batches of ``batch_size`` (the last batch may be smaller),
    in a seeded random order when ``shuffle``. Leaves the model in eval mode.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (call lora.apply_lora first)")
    if not examples:
        raise ValueError("no training examples")
    if epochs < 0 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    if not any(any(e.mask[1:]) for e in examples):
        raise ValueError("every loss mask is empty: there is nothing to learn")
    device = _device(model)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=generator).tolist() if shuffle else list(range(len(examples)))
        for start in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[start : start + batch_size]]
            ids, attn, labels = collate(batch, device)
            if not (labels[:, 1:] != IGNORE).any():
                continue  # this batch has nothing to score (e.g. only first-position masks)
            pos = position_ids(model, ids)
            logits = model(input_ids=ids, attention_mask=attn, position_ids=pos).logits  # (B, T, V)
            loss = masked_lm_loss(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            losses.append(float(loss.detach()))
    model.eval()
    return losses


def tiny_llama(*, vocab_size: int | None = None, hidden_size: int = 32, num_layers: int = 2, seed: int = 0,
               dtype: torch.dtype = torch.float32, init_std: float = 0.02, max_positions: int = 2048,
               grid_positions: bool = False):
    """A tiny random ``LlamaForCausalLM`` on this package's vocabulary (for tests and demonstrations).

    ``init_std`` scales the random weights: a larger value (e.g. 0.5) gives a model whose greedy
    output varies with the prompt, which makes decoding tests meaningful. ``grid_positions`` marks
    the model as one that takes grid position ids (``config.arc_positions = "grid"``).
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    from .serialize import BOS_ID, VOCAB

    config = LlamaConfig(
        vocab_size=vocab_size or len(VOCAB), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=max_positions, initializer_range=init_std,
        pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=EOS_ID, tie_word_embeddings=False,
    )
    if grid_positions:
        config.arc_positions = GRID_POSITIONS
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).to(dtype).eval()


def _cache_kwarg(model: torch.nn.Module) -> str:
    # transformers >= 5.2x names the key/value cache argument ``cache``; earlier 5.x ``past_key_values``
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.no_grad()
def greedy_decode(
    model: torch.nn.Module,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int,
    eos_id: int = EOS_ID,
    use_cache: bool = True,
) -> list[int]:
    """Greedy continuation of ``prompt_ids``: the new tokens, ending with ``eos_id`` if it came."""
    device = _device(model)
    was_training = model.training
    model.eval()
    seq = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)  # (1, T)
    grid = uses_grid_positions(model)
    tracker = GridPositions() if grid else None
    pos = torch.tensor([[tracker.feed(t) for t in prompt_ids]], device=device) if grid else None  # (1, T)
    new: list[int] = []
    key = _cache_kwarg(model)
    # An explicit attention mask whenever position ids are given: without one (and without a cache),
    # transformers reads a jump in the position ids as the start of a new *packed* sequence and
    # blocks attention across it, which grid position ids do at every grid.
    out = model(input_ids=seq, attention_mask=torch.ones_like(seq), position_ids=pos, use_cache=use_cache)
    while len(new) < max_new_tokens:
        next_id = int(out.logits[0, -1].argmax())
        new.append(next_id)
        if next_id == eos_id or len(new) == max_new_tokens:
            break
        step = torch.tensor([[next_id]], dtype=torch.long, device=device)  # (1, 1)
        step_pos = torch.tensor([[tracker.feed(next_id)]], device=device) if grid else None  # (1, 1)
        if use_cache:
            cache = out["cache"] if "cache" in out else out["past_key_values"]
            n_seen = len(prompt_ids) + len(new)  # tokens in the cache plus this one
            out = model(input_ids=step, attention_mask=torch.ones((1, n_seen), dtype=torch.long, device=device),
                        position_ids=step_pos, use_cache=True, **{key: cache})  # only the new token
        else:
            seq = torch.cat([seq, step], dim=1)
            pos = torch.cat([pos, step_pos], dim=1) if grid else None
            out = model(input_ids=seq, attention_mask=torch.ones_like(seq), position_ids=pos,
                        use_cache=False)  # the whole sequence again
    model.train(was_training)
    return new


def predict_grid(
    model: torch.nn.Module, prompt_ids: Sequence[int], *, max_size: int = 10, use_cache: bool = True
) -> Grid | None:
    """Decode greedily (at most a ``max_size`` x ``max_size`` grid's worth of tokens) and parse; ``None``
    if the completion is malformed."""
    new = greedy_decode(model, prompt_ids, max_new_tokens=max_grid_tokens(max_size), use_cache=use_cache)
    return parse_grid(new, max_size=max_size)


@torch.no_grad()
def greedy_decode_batch(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    eos_id: int = EOS_ID,
    pad_id: int = PAD_ID,
) -> list[list[int]]:
    """``greedy_decode`` for several prompts at once; returns each prompt's new tokens.

    Prompts are left-padded to one length; the attention mask hides the padding and the position
    ids count only real tokens (row b's first real token is position 0), so every row computes what
    it would alone. A row stops growing after its ``eos_id``; the batch stops when every row has
    stopped or after ``max_new_tokens``.
    """
    if not prompts:
        return []
    device = _device(model)
    was_training = model.training
    model.eval()
    B, T = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    attn = torch.zeros((B, T), dtype=torch.long)
    for b, p in enumerate(prompts):
        ids[b, T - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        attn[b, T - len(p) :] = 1
    ids, attn = ids.to(device), attn.to(device)  # (B, T)
    grid = uses_grid_positions(model)
    trackers = [GridPositions() for _ in prompts] if grid else None
    if grid:  # each row's grid positions; padding (masked) at 0
        positions = torch.zeros((B, T), dtype=torch.long)
        for b, p in enumerate(prompts):
            positions[b, T - len(p) :] = torch.tensor([trackers[b].feed(t) for t in p], dtype=torch.long)
        positions = positions.to(device)
    else:
        positions = (attn.cumsum(-1) - 1).clamp(min=0)  # (B, T): 0 at each row's first real token
    key = _cache_kwarg(model)
    out = model(input_ids=ids, attention_mask=attn, position_ids=positions, use_cache=True)
    new: list[list[int]] = [[] for _ in range(B)]
    done = [False] * B
    next_pos = positions[:, -1:] + 1  # (B, 1)
    for _ in range(max_new_tokens):
        next_ids = out.logits[:, -1].argmax(-1)  # (B,)
        for b, t in enumerate(next_ids.tolist()):
            if not done[b]:
                new[b].append(t)
                done[b] = t == eos_id
        if all(done) or len(max(new, key=len)) >= max_new_tokens:
            break
        cache = out["cache"] if "cache" in out else out["past_key_values"]
        attn = torch.cat([attn, torch.ones((B, 1), dtype=attn.dtype, device=device)], dim=1)  # (B, T + k)
        if grid:
            next_pos = torch.tensor([[tr.feed(t)] for tr, t in zip(trackers, next_ids.tolist())], device=device)
        out = model(input_ids=next_ids[:, None], attention_mask=attn, position_ids=next_pos, use_cache=True,
                    **{key: cache})
        next_pos = next_pos + 1
    model.train(was_training)
    return new


def predict_grids(
    model: torch.nn.Module, prompts: Sequence[Sequence[int]], *, max_size: int = 10, batch_size: int = 32
) -> list[Grid | None]:
    """``predict_grid`` for many prompts: decoded ``batch_size`` at a time (prompts of similar length
    together, to pad less), parsed, returned in the order given."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    grids: list[Grid | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        outs = greedy_decode_batch(model, [prompts[i] for i in chunk], max_new_tokens=max_grid_tokens(max_size))
        for i, new in zip(chunk, outs):
            grids[i] = parse_grid(new, max_size=max_size)
    return grids
