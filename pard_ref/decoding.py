"""The speculative decoding loop: plain decoding, vanilla (AR-draft) speculative decoding, and PARD.

Two entry points, one loop:

- :class:`SpeculativeDecoder` runs ONE iteration per :meth:`~SpeculativeDecoder.step` call and returns
  a :class:`StepRecord` (proposals, accepted count, bonus, emitted tokens): the API behind the
  notebooks' step-by-step widgets.
- :func:`generate` builds a decoder and calls ``step()`` until it is done. There is no second copy of
  the loop.

One iteration (method ``"ar"`` or ``"pard"``, see ``specs/pard.md``):

1. the drafter proposes K tokens (:mod:`pard_ref.drafting`);
2. the target is fed, in ONE forward, the tokens not yet in its cache (the whole prompt at first,
   then the previous bonus) followed by the K proposals; the last K+1 logits rows are verified
   (:mod:`pard_ref.verify`), giving n accepted proposals and a bonus token;
3. the target cache is cropped to ``prefix + accepted`` (the bonus is in no cache yet), the drafter
   rolls its own cache back, and ``proposals[:n] + [bonus]`` are appended, truncated after an EOS
   and to ``max_new_tokens``.

Method ``"none"`` is plain decoding with a KV cache: one target forward per token.

Greedy (``temperature == 0``) output is token-identical to plain greedy decoding (up to the rounding of
a (K+1)-token forward versus a 1-token forward, which can flip exact near-ties in low precision).
Sampling (``temperature > 0``, optional ``top_p``) follows the target's processed distribution exactly.
Near the end K shrinks to ``max_new_tokens - emitted - 1`` so that no work is done for tokens that
could not be emitted (and no position beyond ``prompt + max_new_tokens`` is ever fed).

What this module does NOT handle: batch size > 1 (ValueError), attention masks / padding, a draft and
a target with different vocabularies or tokenizers (ValueError when the sizes differ; same size but
different tokenizers is not detected), models whose caches cannot be cropped (sliding-window
attention), logits processors other than temperature and top-p, streaming of text. It does not call
``model.eval()``: put models in eval mode yourself (``from_pretrained`` already does).
"""

from __future__ import annotations

import numbers
import time
from dataclasses import asdict, dataclass, field

import torch

from .drafting import ARDrafter, ForwardClock, ParallelDrafter
from .kv_cache import crop_cache, new_cache
from .sampling import check_sampling_args, probabilities, sample
from .verify import verify_greedy, verify_sampling

__all__ = ["METHODS", "DecodingStats", "StepRecord", "DecodingOutput", "SpeculativeDecoder", "generate"]

METHODS = ("none", "ar", "pard")


@dataclass
class DecodingStats:
    """Counters and timings of one decoding run.

    ``accepted_lengths``: per iteration, accepted proposals + 1 (the bonus), as verified; only the
    last iteration's tokens may be truncated afterwards (EOS, ``max_new_tokens``), so
    ``sum(accepted_lengths) >= new_tokens``. Plain decoding records 1 per token.
    Times are wall-clock seconds: ``seconds`` is the time spent inside ``step()`` calls (a widget
    waiting between steps is not counted); ``draft_seconds`` / ``target_seconds`` are the time
    inside the models' forwards; the rest (``overhead_seconds``) is the loop's own cost: argmax /
    softmax / sampling, verification, cache cropping, bookkeeping.
    """

    accepted_lengths: list[int] = field(default_factory=list)
    new_tokens: int = 0
    target_calls: int = 0
    draft_calls: int = 0
    seconds: float = 0.0
    draft_seconds: float = 0.0
    target_seconds: float = 0.0

    @property
    def iterations(self) -> int:
        return len(self.accepted_lengths)

    @property
    def mean_accepted_length(self) -> float:
        """tau: mean over iterations of (accepted proposals + 1); 0.0 before the first iteration."""
        return sum(self.accepted_lengths) / len(self.accepted_lengths) if self.accepted_lengths else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def overhead_seconds(self) -> float:
        """Seconds not spent inside model forwards."""
        return max(self.seconds - self.draft_seconds - self.target_seconds, 0.0)

    @property
    def overhead_fraction(self) -> float:
        return self.overhead_seconds / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        """All fields and derived figures, e.g. for a pandas row."""
        d = asdict(self)
        derived = ("iterations", "mean_accepted_length", "tokens_per_second", "overhead_seconds", "overhead_fraction")
        for name in derived:
            d[name] = getattr(self, name)
        return d

    def __str__(self) -> str:
        return (
            f"{self.new_tokens} tokens in {self.seconds:.3f} s ({self.tokens_per_second:.1f} tok/s), "
            f"{self.iterations} iterations, mean accepted length {self.mean_accepted_length:.2f}, "
            f"target {self.target_calls} calls / {self.target_seconds:.3f} s, "
            f"draft {self.draft_calls} calls / {self.draft_seconds:.3f} s, "
            f"loop overhead {self.overhead_fraction:.1%}"
        )


@dataclass
class StepRecord:
    """What one iteration did.

    ``proposals``: the draft's K proposals (empty for plain decoding and for a last iteration with
    room for one token only). ``accepted``: n, how many the target kept. ``bonus``: the target's own
    token after them. ``emitted``: the tokens appended to the sequence, i.e.
    ``proposals[:n] + [bonus]`` truncated after an EOS or at ``max_new_tokens``.
    ``stop_reason``: ``"eos"``, ``"max_new_tokens"`` or None while decoding goes on.
    """

    iteration: int
    proposals: list[int]
    accepted: int
    bonus: int
    emitted: list[int]
    finished: bool
    stop_reason: str | None
    draft_seconds: float
    target_seconds: float

    @property
    def accepted_length(self) -> int:
        """Accepted proposals + 1 (the bonus)."""
        return self.accepted + 1


@dataclass
class DecodingOutput:
    """``sequences`` [1, prompt + new] (prompt included) and the run's :class:`DecodingStats`."""

    sequences: torch.Tensor
    stats: DecodingStats


def _lm_head_size(model) -> int:
    """Rows of the logits: the lm-head's output size, else ``config.vocab_size``."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(model.config.vocab_size)


def _embedding_size(model) -> int:
    """Number of token ids the model can read: its input embedding rows, else ``config.vocab_size``."""
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    weight = getattr(emb, "weight", None)
    if weight is not None:
        return int(weight.shape[0])
    return int(model.config.vocab_size)


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def _eos_set(eos_token_id) -> frozenset[int]:
    if eos_token_id is None:
        return frozenset()
    if isinstance(eos_token_id, numbers.Integral):
        return frozenset((int(eos_token_id),))
    if isinstance(eos_token_id, torch.Tensor):
        return frozenset(int(t) for t in eos_token_id.flatten().tolist())
    return frozenset(int(t) for t in eos_token_id)


class SpeculativeDecoder:
    """Step-by-step speculative decoding of one sequence (see the module docstring)::

        dec = SpeculativeDecoder(target, input_ids, draft=draft, method="pard", k=8, max_new_tokens=64)
        rec = dec.step()          # one iteration: rec.proposals, rec.accepted, rec.bonus, rec.emitted
        while not dec.done:
            dec.step()            # or: for rec in dec: ...
        dec.result().sequences    # [1, prompt + new]

    Arguments are those of :func:`generate`; all validation happens here, before any forward.
    Attributes for inspection: ``sequences`` (property), ``stats``, ``done``, ``stop_reason``,
    ``target_cache`` and ``drafter.cache`` (the two KV caches), ``prompt_length``.
    """

    def __init__(
        self,
        target: torch.nn.Module,
        input_ids: torch.Tensor,
        *,
        draft: torch.nn.Module | None = None,
        method: str = "pard",
        k: int = 8,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        eos_token_id: int | list[int] | None = None,
        mask_token_id: int | None = None,
    ):
        input_ids = self._check_args(target, input_ids, draft, method, k, max_new_tokens, temperature, top_p)
        if method == "pard":
            mask_token_id = self._check_mask(draft, mask_token_id)
        self._check_positions(target, draft if method != "none" else None, input_ids.shape[1], max_new_tokens)

        self.target, self.draft, self.method = target, draft, method
        self.k, self.max_new_tokens = int(k), int(max_new_tokens)
        self.temperature, self.top_p = float(temperature), float(top_p)
        self.eos = _eos_set(eos_token_id)
        self.mask_token_id = mask_token_id
        self.device = _model_device(target)
        self.prompt_length = input_ids.shape[1]

        total = self.prompt_length + self.max_new_tokens
        # the token buffer: the real sequence is self._seq[:, :self.length]; proposals are written
        # right after it before verification (K <= tokens still allowed - 1, so they always fit)
        self._seq = torch.zeros((1, total), dtype=torch.long, device=self.device)  # [1, P + max_new]
        self._seq[:, : self.prompt_length] = input_ids.to(self.device)
        self._positions = torch.arange(total, device=self.device).unsqueeze(0)  # [1, P + max_new]
        self.length = self.prompt_length

        self.target_cache = new_cache(target)
        self._target_fed = 0  # tokens of the sequence whose keys/values are in target_cache
        self._target_clock = ForwardClock(self.device)
        self._draft_clock = ForwardClock(self.device)
        if method == "ar":
            self.drafter = ARDrafter(draft, self._positions, self._draft_clock)
        elif method == "pard":
            self.drafter = ParallelDrafter(draft, self._positions, self._draft_clock, mask_token_id, self.k)
        else:
            self.drafter = None

        self.generator = None
        if self.temperature > 0:
            self.generator = torch.Generator(device=self.device)
            if seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(int(seed))

        self.stats = DecodingStats()
        self.stop_reason: str | None = None
        self.iteration = 0

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_args(target, input_ids, draft, method, k, max_new_tokens, temperature, top_p) -> torch.Tensor:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: use one of {', '.join(map(repr, METHODS))}")
        if not isinstance(input_ids, torch.Tensor):
            input_ids = torch.as_tensor(input_ids, dtype=torch.long)
        if input_ids.dim() == 1:
            input_ids = input_ids.unsqueeze(0)
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
            t_vocab, d_vocab = _lm_head_size(target), _lm_head_size(draft)
            if t_vocab != d_vocab:
                raise ValueError(
                    f"vocabulary mismatch: the target has {t_vocab} output tokens (lm-head size; "
                    f"config.vocab_size={target.config.vocab_size}) but the draft has {d_vocab} "
                    f"(config.vocab_size={draft.config.vocab_size}); draft and target must share one "
                    "tokenizer and vocabulary: pick a draft of the target's family"
                )
            if _model_device(draft) != _model_device(target):
                raise ValueError(
                    f"the draft is on {_model_device(draft)} but the target is on {_model_device(target)}: "
                    "move both to one device"
                )
        vocab = _embedding_size(target)
        lo, hi = int(input_ids.min()), int(input_ids.max())
        if lo < 0 or hi >= vocab:
            raise ValueError(f"input_ids hold token ids in {lo}..{hi}, outside the target's vocabulary 0..{vocab - 1}")
        return input_ids.long()

    @staticmethod
    def _check_mask(draft, mask_token_id) -> int:
        if mask_token_id is None:
            mask_token_id = getattr(draft.config, "pard_token", None)
        if mask_token_id is None:
            raise ValueError(
                "method='pard' needs the mask token id: the draft's config has no `pard_token` "
                "(a PARD draft stores it in its config.json, e.g. 128020 for Llama-3 drafts); "
                "pass mask_token_id=... or set draft.config.pard_token, or use method='ar' for a plain AR draft"
            )
        if isinstance(mask_token_id, bool) or not isinstance(mask_token_id, numbers.Integral):
            raise ValueError(f"mask_token_id must be an int token id, got {mask_token_id!r}")
        mask_token_id = int(mask_token_id)
        vocab = _embedding_size(draft)
        if not 0 <= mask_token_id < vocab:
            raise ValueError(
                f"mask token id {mask_token_id} is outside the draft's vocabulary 0..{vocab - 1}: "
                "use the draft's reserved mask id (config.pard_token) or pass a valid mask_token_id"
            )
        return mask_token_id

    @staticmethod
    def _check_positions(target, draft, prompt_length: int, max_new_tokens: int) -> None:
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

    # ------------------------------------------------------------------ state
    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def new_tokens(self) -> int:
        return self.length - self.prompt_length

    @property
    def sequences(self) -> torch.Tensor:
        """[1, prompt + new] so far (a copy)."""
        return self._seq[:, : self.length].clone()

    def result(self) -> DecodingOutput:
        return DecodingOutput(sequences=self.sequences, stats=self.stats)

    def __iter__(self):
        """Yields one :class:`StepRecord` per iteration until done."""
        while not self.done:
            yield self.step()

    # ------------------------------------------------------------------ one iteration
    def step(self) -> StepRecord:
        """Run one iteration and return its :class:`StepRecord`. RuntimeError once done."""
        if self.done:
            raise RuntimeError(f"decoding already finished ({self.stop_reason}); build a new SpeculativeDecoder")
        start = time.perf_counter()
        draft_before, target_before = self._draft_clock.seconds, self._target_clock.seconds
        remaining = self.max_new_tokens - self.new_tokens
        k = min(self.k, remaining - 1)  # proposals this iteration: never more than can be emitted
        with torch.inference_mode():
            if self.drafter is None or k == 0:
                proposals, n, bonus = [], 0, self._plain_token()
            else:
                proposals, n, bonus = self._speculate(k)
        record = self._emit(proposals, n, bonus, remaining)

        stats = self.stats
        stats.seconds += time.perf_counter() - start
        stats.draft_calls, stats.draft_seconds = self._draft_clock.calls, self._draft_clock.seconds
        stats.target_calls, stats.target_seconds = self._target_clock.calls, self._target_clock.seconds
        record.draft_seconds = self._draft_clock.seconds - draft_before
        record.target_seconds = self._target_clock.seconds - target_before
        return record

    def _target_logits(self, end: int, num_logits: int) -> torch.Tensor:
        """Feed the target ``seq[fed:end]`` (the tokens not in its cache); logits [num_logits, V]."""
        fed = self._target_fed
        logits = self._target_clock.forward(
            self.target, self._seq[:, fed:end], self.target_cache, self._positions[:, fed:end], num_logits
        )
        self._target_fed = end
        return logits

    def _plain_token(self) -> int:
        """Plain decoding: one target forward, one token (the target's, so it is the 'bonus')."""
        logits = self._target_logits(self.length, 1)  # [1, V]
        if self.temperature == 0:
            return int(logits[0].argmax())
        return int(sample(probabilities(logits, self.temperature, self.top_p), self.generator))

    def _speculate(self, k: int) -> tuple[list[int], int, int]:
        """Draft K proposals, verify them with one target forward, roll the caches back."""
        length = self.length
        greedy = self.temperature == 0
        proposals, q = self.drafter.propose(self._seq, length, k, self.temperature, self.top_p, self.generator)
        self._seq[0, length : length + k] = proposals  # [K] written after the sequence
        # ONE target forward over [not-yet-cached tokens] + [K proposals]; keep the last K+1 rows
        logits = self._target_logits(length + k, k + 1)  # [K+1, V]
        if greedy:
            n, bonus = verify_greedy(proposals, logits)
        else:
            p = probabilities(logits, self.temperature, self.top_p)  # [K+1, V]
            n, bonus = verify_sampling(proposals, q, p, self.generator)
        # roll back: the target cache keeps prefix + accepted proposals (the bonus is fed next time)
        crop_cache(self.target_cache, length + n)
        self._target_fed = length + n
        self.drafter.commit(length, n)
        return proposals.tolist(), n, bonus

    def _emit(self, proposals: list[int], n: int, bonus: int, remaining: int) -> StepRecord:
        """Append ``proposals[:n] + [bonus]``, truncated after an EOS and to ``remaining`` tokens."""
        tokens = proposals[:n] + [bonus]
        emitted = tokens[:remaining]
        reason = None
        if self.eos:
            for i, token in enumerate(emitted):
                if token in self.eos:
                    emitted, reason = emitted[: i + 1], "eos"
                    break
        length = self.length
        self._seq[0, length + n] = bonus  # proposals[:n] are already in place
        self.length = length + len(emitted)
        if reason is None and self.new_tokens >= self.max_new_tokens:
            reason = "max_new_tokens"
        self.stop_reason = reason
        self.stats.accepted_lengths.append(n + 1)
        self.stats.new_tokens = self.new_tokens
        self.iteration += 1
        return StepRecord(
            iteration=self.iteration,
            proposals=proposals,
            accepted=n,
            bonus=bonus,
            emitted=emitted,
            finished=reason is not None,
            stop_reason=reason,
            draft_seconds=0.0,
            target_seconds=0.0,
        )


def generate(
    target: torch.nn.Module,
    input_ids: torch.Tensor,
    *,
    draft: torch.nn.Module | None = None,
    method: str = "pard",
    k: int = 8,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    eos_token_id: int | list[int] | None = None,
    mask_token_id: int | None = None,
) -> DecodingOutput:
    """Decode up to ``max_new_tokens`` tokens after ``input_ids`` with the target, optionally drafted.

    target, draft: transformers causal LMs sharing a vocabulary, on one device (any dtype).
    input_ids: [1, prompt] (or [prompt]) LongTensor. method: ``"none"`` (plain decoding with a KV
    cache), ``"ar"`` (vanilla speculative decoding: the draft proposes K tokens with K forwards) or
    ``"pard"`` (the draft proposes K tokens in one forward using mask tokens). k: K, proposals per
    iteration (ignored by ``"none"``). temperature 0: greedy; > 0: sampling with the lossless rejection
    rule (``top_p`` applied to draft and target alike), reproducible with ``seed``.
    eos_token_id: an id or a list of ids to stop after (the EOS is kept in the output); None = no EOS
    stop (this does NOT read ``generation_config``). mask_token_id: the draft's mask id, default
    ``draft.config.pard_token``.

    Returns a :class:`DecodingOutput`: ``sequences`` [1, prompt + new] and ``stats``
    (:class:`DecodingStats`). This is a loop over :meth:`SpeculativeDecoder.step`.
    """
    decoder = SpeculativeDecoder(
        target,
        input_ids,
        draft=draft,
        method=method,
        k=k,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        eos_token_id=eos_token_id,
        mask_token_id=mask_token_id,
    )
    while not decoder.done:
        decoder.step()
    return decoder.result()
