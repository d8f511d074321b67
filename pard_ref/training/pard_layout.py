"""PARD's training layout and COD (conditional drop-token): how one forward trains all K draft depths.

At inference a PARD **draft** is fed ``prefix + [mask] * (K-1)`` and proposes K tokens at once: the
last real token's logits give proposal 1, the j-th **mask token**'s logits give proposal j+1. Training
must therefore show the draft "a real prefix followed by j masks" for every prefix and every depth
j = 0..K-1. Doing that prefix by prefix would cost L forwards per training sequence; the layout below
does it in ONE forward of a longer sequence with a hand-made attention mask.

The layout (training sequence ``x = x_0 .. x_{L-1}``, training depth K)::

    block 0      x_0  x_1  x_2  ...  x_{L-1}     position ids 0 .. L-1   (ordinary next-token loss)
    block 1      m    m    m    ...  m           position ids 0 .. L-1 again
    ...
    block K-1    m    m    m    ...  m           position ids 0 .. L-1 again

The query of block j at position p stands for "the j-th mask after a real prefix that ends at
x_{s}", with **chain start** s = p - j. Its attention (one row of the mask) allows exactly:

- the real tokens x_0 .. x_s of block 0, and
- one query of each block i = 1..j: the one at position s + i (same chain start; itself for i = j).

It is trained to predict x_{p+1}, the token j+1 steps after its last real token. Its position id is
p = s + j, which is exactly where the j-th mask sits at inference: so its logits equal those of the
inference forward ``x_0 .. x_s + [mask] * j`` (tests check this to 1e-9 in float64 with sdpa
attention; transformers' eager attention takes its softmax in float32 even for float64 models, so
there the agreement is ~1e-7). Queries without
a target get label -100: chains that would start before position 0 (p < j) and the last position
p = L-1 (x_L is not in the window). In words, the allowed keys of a query are::

    attend(q -> k) = (block(k) == 0 and pos(k) <= s(q))
                  or (block(k) >= 1 and block(k) <= block(q) and s(k) == s(q))

**COD** (conditional drop-token, drop ratio r, floor r_min): the full layout has K·L tokens and a
(K·L)² attention matrix. COD keeps all L positions of block 0 and only
``n_j = floor(L · max(r^j, r_min))`` queries of block j, chosen so that every kept query's whole chain
is kept too (its predecessor at position p-1 in block j-1, and so on back to block 1). That is all
the query needs, so its logits are unchanged: dropping tokens changes which queries are trained,
never what a kept query computes. Tokens per sequence: ``L + sum_{j=1}^{K-1} n_j``
(``cod_tokens_per_sequence``), about 3.37·L for K=8, r=0.7, r_min=0.2.

Choices made here (the paper leaves them open):

- **Only queries with a loss are drawn.** In block j (j >= 1) the candidates are the positions
  j <= p <= L-2 (a chain starting at s >= 0 and a target inside the window). Queries with no loss
  are never needed as keys by queries with a loss, so keeping them would only cost compute.
  Block 0 keeps all L positions as the spec says (x_{L-1} has no target either).
- **Exact counts, deepest block first.** A forward draw ("pick n_j among the successors of block
  j-1's kept positions") can run out of candidates near the window's end, where successors fall
  outside the window, and would then give rows of different lengths. ``cod_keep_positions`` instead
  picks the n_{K-1} chains that reach the deepest block first, then adds chains that stop one block
  earlier, and so on. The result has exactly n_j queries in block j, every kept query's
  predecessor is kept, and each such pattern is equally likely. When n_j exceeds the L-1-j
  candidates of block j (short windows or r close to 1) it is capped to L-1-j; ``cod_block_sizes``
  returns the capped counts and the batch length always equals ``cod_tokens_per_sequence``.
- **r = 1 means no dropping**: the full layout, all L positions in every block, N = K·L, including
  the queries with no loss. Its loss equals the loss of the layout restricted to queries with a loss
  (those never attend to the others).
- **Each batch row draws its own pattern** (same counts, so rows stack without padding).
- **Labels are aligned with the queries** (``labels[:, t]`` is what query t must predict, -100 for
  none), and the batch passes the same tensor as ``shift_labels``. See ``build_pard_batch``.

What this module does NOT handle: padding or packed documents inside one window (a window is one
stretch of the token stream; document boundaries are ordinary ``<|eos|>``/``<|bos|>`` tokens), flash
attention or any kernel that ignores a custom 4-D mask, and batches whose rows have different L.
"""

from __future__ import annotations

import math

import torch

from ..decoding.checks import resolve_mask_id
from .seen_vocab import with_unseen_column

IGNORE_INDEX = -100  # the label of a query that has no target (transformers' ignore_index)


# ----------------------------------------------------------------------------------------------
# argument checks (shared with pard_training)
# ----------------------------------------------------------------------------------------------
def check_pard_args(k: int, drop_ratio: float, min_drop_ratio: float) -> None:
    """Raise ``ValueError`` for a depth K < 2 or COD ratios outside ``0 < r_min <= r <= 1``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k (the training depth K) must be an int >= 2, got {k!r}: K=1 is plain next-token training")
    for name, value in (("drop_ratio", drop_ratio), ("min_drop_ratio", min_drop_ratio)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value!r} (1.0 keeps every token)")
    if min_drop_ratio > drop_ratio:
        raise ValueError(f"min_drop_ratio (r_min={min_drop_ratio}) must not exceed drop_ratio (r={drop_ratio})")


def _check_length(seq_len: int, k: int) -> None:
    if seq_len < k + 1:
        raise ValueError(f"sequences of length L={seq_len} are too short for K={k}: need L >= K+1 "
                         f"so that block K-1 has at least one query with a target")


# ----------------------------------------------------------------------------------------------
# COD: which queries are kept
# ----------------------------------------------------------------------------------------------
def cod_block_sizes(seq_len: int, k: int = 8, drop_ratio: float = 0.7, min_drop_ratio: float = 0.2) -> list[int]:
    """Kept queries per block, ``[n_0, n_1, .., n_{K-1}]`` with ``n_0 = L``.

    ``n_j = floor(L · max(r^j, r_min))`` capped to the L-1-j queries of block j that have a target;
    with r = 1 (no dropping) every block has L. A tiny epsilon makes ``floor(100 · 0.7**2)`` give 49,
    not 48 (``0.7**2`` is 0.48999999999999994 in floating point).
    """
    check_pard_args(k, drop_ratio, min_drop_ratio)
    _check_length(seq_len, k)
    if drop_ratio == 1.0:
        return [seq_len] * k
    sizes = [seq_len]
    for j in range(1, k):
        n = math.floor(seq_len * max(drop_ratio ** j, min_drop_ratio) + 1e-9)
        sizes.append(min(n, seq_len - 1 - j))
    if min(sizes) < 1:
        raise ValueError(f"COD keeps no query in some block (sizes {sizes}): L·r_min = {seq_len * min_drop_ratio:.2f} "
                         f"< 1; use longer sequences or a larger min_drop_ratio")
    return sizes


def cod_tokens_per_sequence(seq_len: int, k: int = 8, drop_ratio: float = 0.7, min_drop_ratio: float = 0.2) -> int:
    """N, the layout length of one training sequence: ``L + sum_j n_j`` (``K·L`` when r = 1)."""
    return sum(cod_block_sizes(seq_len, k, drop_ratio, min_drop_ratio))


def cod_keep_positions(seq_len: int, k: int = 8, drop_ratio: float = 0.7, min_drop_ratio: float = 0.2,
                       generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """The kept positions of each block: a list of K sorted LongTensors, block j holding n_j positions.

    Block 0 is ``arange(L)``. With r = 1 every block is ``arange(L)`` (the full layout). Otherwise
    block j holds positions p with j <= p <= L-2, and (chain property) p in block j implies p-1 in
    block j-1. The draw goes deepest block first (see the module docstring): chain starts
    ``s = p - j`` for block K-1 are drawn uniformly among its candidates, then block j keeps the
    chains of block j+1 plus ``n_j - n_{j+1}`` more chain starts drawn uniformly among the remaining
    candidates of block j. ``generator`` (CPU) makes the draw reproducible; None uses torch's
    global generator.
    """
    sizes = cod_block_sizes(seq_len, k, drop_ratio, min_drop_ratio)
    if drop_ratio == 1.0:
        return [torch.arange(seq_len) for _ in range(k)]
    kept = torch.zeros(seq_len, dtype=torch.bool)  # kept[s]: the chain starting at x_s reaches the current block
    blocks: list[torch.Tensor] = [torch.empty(0, dtype=torch.long)] * k
    for j in range(k - 1, 0, -1):
        # candidates of block j as chain starts: 0 <= s <= L-2-j (target x_{s+j+1} inside the window)
        free = (~kept[: seq_len - 1 - j]).nonzero().squeeze(1)
        need = sizes[j] - int(kept.sum())
        pick = free[torch.randperm(len(free), generator=generator)[:need]]
        kept[pick] = True
        blocks[j] = kept.nonzero().squeeze(1) + j  # positions p = s + j, sorted
    blocks[0] = torch.arange(seq_len)
    return blocks


# ----------------------------------------------------------------------------------------------
# the layout
# ----------------------------------------------------------------------------------------------
def pard_attention_mask(depth: torch.Tensor, position_ids: torch.Tensor,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The additive attention mask ``[B, 1, N, N]`` of a layout: 0 where allowed, ``finfo(dtype).min`` elsewhere.

    ``depth[b, t]`` is the block of layout entry t (0 = real token, j = j-th mask) and
    ``position_ids[b, t]`` its position p; the rule is the one in the module docstring.
    Every row allows at least its own entry, so no row is fully masked.
    """
    if not dtype.is_floating_point:
        raise ValueError(f"the mask must be float (eager attention adds it), got dtype={dtype}")
    chain = position_ids - depth  # [B, N] chain start s = p - j
    qd, kd = depth[:, :, None], depth[:, None, :]  # [B, N, 1] query block, [B, 1, N] key block
    qs, ks = chain[:, :, None], chain[:, None, :]
    kp = position_ids[:, None, :]
    allowed = ((kd == 0) & (kp <= qs)) | ((kd >= 1) & (kd <= qd) & (ks == qs))  # [B, N, N]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=depth.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]  # [B, 1, N, N]


def build_pard_batch(input_ids: torch.Tensor, *, k: int = 8, mask_token_id: int, drop_ratio: float = 0.7,
                     min_drop_ratio: float = 0.2, generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32, vocab_size: int | None = None,
                     return_depth: bool = False) -> dict[str, torch.Tensor]:
    """Turn training windows ``input_ids [B, L]`` into one PARD batch (layout + COD), ready for ``draft(**batch)``.

    Returns a dict of tensors, N = ``cod_tokens_per_sequence(L, k, drop_ratio, min_drop_ratio)``
    (K·L when ``drop_ratio == 1``)::

        input_ids       [B, N]        block 0 = x, then the kept mask queries of blocks 1..K-1
        position_ids    [B, N]        p of each entry (explicit: repeated ids must not read as packing)
        attention_mask  [B, 1, N, N]  additive float mask in ``dtype``: 0 = attend, finfo(dtype).min = blocked
        labels          [B, N]        target of each query, aligned: labels[:, t] = x_{p+1} or -100
        shift_labels    [B, N]        the same tensor (see below)
        depth           [B, N]        block j of each entry; only with ``return_depth=True``
                                      (pop it before calling the model)

    ``draft(**batch).loss`` is the PARD loss: the mean cross-entropy over every kept query that has a
    target, all depths together. **The labels trick**: transformers' causal-LM loss normally shifts
    ``labels`` left by one (logits[t] against labels[t+1]). Here neighbours in the layout are not
    neighbours in the text (the last query of block j is followed by the first of block j+1, and
    COD leaves gaps), so the batch stores the target of query t at index t and passes the same
    tensor as ``shift_labels``: transformers 5 then uses it as already shifted and shifts nothing.
    (Storing pre-shifted labels instead cannot work under COD: the layout's last entry is a query
    with a target, and the shifted convention has no slot for the last entry's target.)
    Custom loss code should read ``labels`` as aligned (see ``pard_loss``).

    The 4-D mask reaches attention untouched in transformers 5 (eager adds it to the scores, sdpa
    passes it as ``attn_mask``). Use the draft's dtype for ``dtype``; float32 works for float32,
    bfloat16 and float64 drafts alike, but sdpa rejects a mask of higher precision than the draft
    (a float64 mask with a float32 draft).

    Each row gets its own COD pattern (``cod_keep_positions``) drawn from ``generator``: the same
    seeded generator gives the same batch. ``vocab_size`` (e.g. ``draft.config.vocab_size``) enables
    the range checks of ``mask_token_id`` and the input ids.

    Raises ``ValueError`` for non-2-D input, K < 2, ratios outside ``0 < r_min <= r <= 1``, L < K+1,
    a mask id outside the vocabulary, or input ids that contain the mask id (it must be a reserved,
    otherwise unused token).
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"input_ids must be a 2-D tensor [batch, L], got {shape}")
    if input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
        raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}")
    check_pard_args(k, drop_ratio, min_drop_ratio)
    B, L = input_ids.shape
    _check_length(L, k)
    mask_token_id = resolve_mask_id(mask_token_id=mask_token_id, vocab_size=vocab_size, role=None)
    if vocab_size is not None and B and int(input_ids.max()) >= vocab_size:
        raise ValueError(f"input_ids contain ids >= vocab_size={vocab_size}")
    if B and int(input_ids.min()) < 0:
        raise ValueError("input_ids contain negative ids")
    if bool((input_ids == mask_token_id).any()):
        raise ValueError(f"input_ids contain the mask id {mask_token_id}: the mask token must be reserved and unused "
                         f"in training text (check mask_token_id, e.g. the tokenizer's mask_token_id)")

    x = input_ids.long().cpu()
    rows_pos, rows_depth = [], []
    for _ in range(B):
        blocks = cod_keep_positions(L, k, drop_ratio, min_drop_ratio, generator)
        rows_pos.append(torch.cat(blocks))  # [N]
        rows_depth.append(torch.cat([torch.full((len(b),), j) for j, b in enumerate(blocks)]))
    if B:
        pos, depth = torch.stack(rows_pos), torch.stack(rows_depth)  # [B, N] each
    else:
        n = cod_tokens_per_sequence(L, k, drop_ratio, min_drop_ratio)
        pos = depth = torch.zeros(0, n, dtype=torch.long)

    # inputs: x_p for block 0, the mask id for blocks >= 1
    ids = torch.where(depth == 0, x.gather(1, pos), torch.full_like(pos, mask_token_id))  # [B, N]
    # targets: x_{p+1} when the chain starts inside the window (p - j >= 0) and p+1 < L
    has_target = (pos - depth >= 0) & (pos + 1 < L)  # [B, N]
    nxt = x.gather(1, (pos + 1).clamp(max=L - 1))  # [B, N]
    labels = torch.where(has_target, nxt, torch.full_like(pos, IGNORE_INDEX))  # [B, N]

    dev = input_ids.device
    batch = {
        "input_ids": ids.to(dev),
        "position_ids": pos.to(dev),
        "attention_mask": pard_attention_mask(depth, pos, dtype).to(dev),
        "labels": labels.to(dev),
    }
    batch["shift_labels"] = batch["labels"]
    if return_depth:
        batch["depth"] = depth.to(dev)
    return batch


# ----------------------------------------------------------------------------------------------
# the loss, spelled out (for per-depth metrics; equals draft(**batch).loss)
# ----------------------------------------------------------------------------------------------
def pard_loss(logits: torch.Tensor, labels: torch.Tensor, depth: torch.Tensor | None = None,
              k: int | None = None, unseen: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PARD loss from ``logits [B, N, V]`` and aligned ``labels [B, N]``; optional per-depth metrics.

    Returns ``(loss, metrics)``: loss = mean cross-entropy over entries with a label (computed in
    float32 or better, like transformers). With ``depth [B, N]`` and ``k``, metrics holds, for each
    depth j = 0..K-1 (depth j = proposal j+1 at inference), ``loss_{j}`` and ``acc_{j}`` (top-1
    accuracy), as detached 0-d tensors (NaN when a depth has no labelled query in the batch).
    ``unseen``: the logits cover only the seen tokens and ``unseen`` more tokens have logit exactly 0
    (:mod:`pard_ref.training.seen_vocab`); labels index the seen columns. Loss and metrics are then those
    of the full vocabulary.
    """
    logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    argmax_logits = logits
    if unseen:  # the loss: one log(U) column for the U zero logits; the argmax: one 0 logit stands for them
        argmax_logits = torch.cat([logits.detach(), torch.zeros_like(logits[..., :1])], dim=-1)  # [B, N, V_seen + 1]
        logits = with_unseen_column(logits, unseen)  # [B, N, V_seen + 1]
    V = logits.shape[-1]
    valid = labels != IGNORE_INDEX  # [B, N]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), labels.reshape(-1),
                                           ignore_index=IGNORE_INDEX, reduction="none").view(labels.shape)
    loss = ce.sum() / valid.sum().clamp(min=1)
    metrics: dict[str, torch.Tensor] = {}
    if depth is not None:
        if k is None:
            raise ValueError("pard_loss: pass k together with depth")
        with torch.no_grad():
            correct = (argmax_logits.argmax(-1) == labels) & valid
            for j in range(k):
                sel = valid & (depth == j)
                count = sel.sum()
                metrics[f"loss_{j}"] = (ce.detach() * sel).sum() / count
                metrics[f"acc_{j}"] = (correct & sel).sum() / count
    return loss, metrics
