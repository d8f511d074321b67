"""Unlikelihood training: next-token loss plus a penalty on repeating what the context already holds.

Greedy decoding of a language model trained with the plain next-token loss falls into loops: the
most likely continuation of a phrase that has just appeared is, very often, that phrase again, and
every repetition makes the next one more likely (Holtzman et al. 2020, "The Curious Case of Neural
Text Degeneration"). Unlikelihood training (Welleck et al. 2020, "Neural Text Generation with
Unlikelihood Training") adds, at every position ``t``, a term that pushes down the probability of a
set of *negative candidates* ``C_t``::

    loss = NLL + alpha * mean_t  sum_{c in C_t}  -log(1 - p(c | x_<t))

Two levels, as in the paper:

* **Token level** (:func:`unlikelihood_lm_loss`), on the training data itself. The true next token
  is never a candidate, so the data's own repetitions are still learned. Candidate sets:
  ``"context"`` (Welleck et al.'s: every token of the context ``x_<=t``) or ``"bigram"`` (the tokens
  that followed earlier occurrences of the current token ``x_t``: exactly those that would repeat a
  bigram the context holds, what a copying head predicts and what distinct-2 counts).
* **Sequence level** (:func:`sequence_unlikelihood_lm_loss`), on the model's own greedy
  continuations: the candidates are the continuation's tokens that lie in a repeated n-gram. This
  trains against the loops greedy decoding actually produces, which the data (that does not loop)
  never shows; it is what the zoo uses, as a short finish of target-l (``pard_ref.zoo.Finish``).

Why, and what each buys and costs, is measured in ``docs/zoo.md`` (lever 7). It changes only how the
weights are trained: the model is an ordinary causal LM, and greedy decoding of it (plain or
speculative) is still exactly its argmax.

What it does not handle: sampled (rather than greedy) continuations for the sequence level, padding
(zoo batches are dense windows of the token stream, with no padding).
"""

from __future__ import annotations

import torch

CANDIDATES = ("context", "bigram")


def negative_candidates(input_ids: torch.Tensor, kind: str = "context") -> tuple[torch.Tensor, torch.Tensor]:
    """The negatives ``C_t`` of every position, as ``(tokens, valid)``, both ``[B, L-1, L-1]``.

    Position ``t`` (which predicts token ``t+1``) has one slot per earlier position ``j``: slot
    ``(t, j)`` holds a candidate token and whether it counts. Each distinct candidate counts once (at
    its first occurrence), and the true next token ``input_ids[:, t+1]`` never counts. Slots rather
    than a ``[B, L-1, V]`` mask keep the cost at ``L^2`` instead of ``L * V`` per sequence.

    * ``"context"``: slot ``(t, j)`` is the token ``x_j``, for ``j <= t``;
    * ``"bigram"``: slot ``(t, j)`` is ``x_{j+1}``, for ``j < t`` with ``x_j == x_t`` (the token that
      followed an earlier occurrence of the current token).
    """
    if kind not in CANDIDATES:
        raise ValueError(f"unknown unlikelihood candidates {kind!r}; choose one of {CANDIDATES}")
    context, targets = input_ids[:, :-1], input_ids[:, 1:]  # [B, n] each, n = L-1
    n = context.shape[1]
    earlier = torch.ones(n, n, dtype=torch.bool, device=input_ids.device).tril(diagonal=-1)  # [n, n]: j < t
    same = context.unsqueeze(2) == context.unsqueeze(1)  # [B, n, n]: x_t == x_j
    if kind == "context":
        tokens = context.unsqueeze(1).expand(-1, n, -1)  # [B, n, n]: slot (t, j) = x_j
        first = ~(same & earlier).any(dim=2)  # [B, n]: x_j did not occur before j
        valid = first.unsqueeze(1) & (earlier | torch.eye(n, dtype=torch.bool, device=earlier.device))
    else:
        tokens = targets.unsqueeze(1).expand(-1, n, -1)  # [B, n, n]: slot (t, j) = x_{j+1}
        same_bigram = same & (targets.unsqueeze(2) == targets.unsqueeze(1))  # [B, n, n]: bigram t == bigram j
        first = ~(same_bigram & earlier).any(dim=2)  # [B, n]: bigram (x_j, x_{j+1}) did not occur before j
        valid = first.unsqueeze(1) & same & earlier
    valid = valid & (tokens != targets.unsqueeze(2))  # the true next token is not a negative
    return tokens, valid


def unlikelihood_term(log_probs: torch.Tensor, input_ids: torch.Tensor, kind: str = "context") -> torch.Tensor:
    """``mean_t sum_{c in C_t} -log(1 - p(c))``, for next-token ``log_probs [B, L-1, V]`` of ``input_ids [B, L]``."""
    tokens, valid = negative_candidates(input_ids, kind)
    p = log_probs.gather(2, tokens).exp()  # [B, L-1, L-1]: probability of each slot's candidate
    # log(1 - p), clamped so that a candidate the model is certain of gives a large, finite penalty
    penalty = -torch.log1p(-p.clamp(max=1 - 1e-5)) * valid
    return penalty.sum(dim=-1).mean()


def _next_token_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """``[B, L, V]`` logits -> ``[B, L-1, V]`` log-probabilities of the next token, in >= float32."""
    return logits[:, :-1].to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)


def unlikelihood_lm_loss(alpha: float, kind: str = "context"):
    """A ``loss_fn(model, batch) -> (loss, metrics)`` for :func:`pard_ref.training.lm.train`: NLL + alpha * UL."""
    if alpha < 0:
        raise ValueError(f"the unlikelihood weight alpha must be >= 0, got {alpha}")
    if kind not in CANDIDATES:
        raise ValueError(f"unknown unlikelihood candidates {kind!r}; choose one of {CANDIDATES}")

    def loss_fn(model, batch):
        x = batch["input_ids"]
        log_probs = _next_token_log_probs(model(input_ids=x).logits)  # [B, L-1, V]
        nll = -log_probs.gather(2, x[:, 1:].unsqueeze(-1)).mean()
        ul = unlikelihood_term(log_probs, x, kind)
        return nll + alpha * ul, {"nll": float(nll.detach()), "unlikelihood": float(ul.detach())}

    return loss_fn


# ----------------------------------------------------------------------------------------------
# sequence-level unlikelihood: penalise the loops of the model's own greedy continuations
# ----------------------------------------------------------------------------------------------
def repeated_ngram_mask(ids: torch.Tensor, start: int, n: int = 4) -> torch.Tensor:
    """Boolean ``[B, T]``: positions ``>= start`` whose token lies in an n-gram that occurred earlier.

    This is Welleck et al.'s sequence-level candidate set: a token of a continuation that belongs to
    a repeated n-gram (``n=4`` there) is part of a loop.
    """
    B, T = ids.shape
    grams = ids.unfold(1, n, 1)  # [B, G, n], G = T - n + 1: the n-gram starting at each position
    same = (grams.unsqueeze(2) == grams.unsqueeze(1)).all(dim=-1)  # [B, G, G]
    earlier = torch.ones(same.shape[1], same.shape[1], dtype=torch.bool, device=ids.device).tril(-1)
    repeated = (same & earlier).any(dim=2)  # [B, G]: n-gram i occurred at some j < i
    mask = torch.zeros(B, T, dtype=torch.bool, device=ids.device)
    for offset in range(n):  # every token of a repeated n-gram
        mask[:, offset:offset + repeated.shape[1]] |= repeated
    mask[:, :start] = False
    return mask


@torch.no_grad()
def greedy_continuations(model, prefixes: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """``[B, P + new_tokens]``: each prefix followed by the model's greedy continuation (EOS does not stop it)."""
    return model.generate(prefixes, attention_mask=torch.ones_like(prefixes), max_new_tokens=new_tokens,
                          min_new_tokens=new_tokens, do_sample=False, eos_token_id=None, pad_token_id=0)


def sequence_unlikelihood_lm_loss(alpha: float, prefix_len: int = 32, new_tokens: int = 96, n: int = 4):
    """``loss_fn`` for :func:`pard_ref.training.lm.train`: NLL on the batch + alpha * sequence-level UL.

    The sequence-level term (Welleck et al. 2020, section 5.2): continue the first ``prefix_len``
    tokens of each row of ``batch["prefix_ids"]`` (or of ``batch["input_ids"]`` without it) greedily
    for ``new_tokens`` tokens, then push down ``p(x_t)`` at every token of the continuation that lies
    in a repeated ``n``-gram: ``sum -log(1 - p(x_t | x_<t))`` over those
    tokens, divided by the continuation's length. It trains directly against what greedy decoding
    does wrong, at the price of a generation per step.
    """
    if alpha < 0:
        raise ValueError(f"the unlikelihood weight alpha must be >= 0, got {alpha}")

    def loss_fn(model, batch):
        x = batch["input_ids"]
        nll = model(input_ids=x, labels=x).loss
        prefixes = batch.get("prefix_ids", x)[:, :prefix_len]  # [B, P]: own prefix windows, if given
        seq = greedy_continuations(model, prefixes, new_tokens)  # [B, P + N]
        loop = repeated_ngram_mask(seq, prefix_len, n)[:, 1:]  # [B, P + N - 1], aligned with predictions
        log_probs = _next_token_log_probs(model(input_ids=seq).logits)  # [B, P+N-1, V]
        p = log_probs.gather(2, seq[:, 1:].unsqueeze(-1)).squeeze(-1).exp()  # [B, P+N-1]
        ul = (-torch.log1p(-p.clamp(max=1 - 1e-5)) * loop).sum() / (seq.shape[0] * new_tokens)
        return nll + alpha * ul, {"nll": float(nll.detach()), "seq_unlikelihood": float(ul.detach()),
                                  "loop_fraction": float(loop.float().sum() / (seq.shape[0] * new_tokens))}

    return loss_fn
