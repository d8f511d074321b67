"""The speculative decoding loop: plain decoding, vanilla (AR-draft) speculative decoding, and PARD.

One iteration of :meth:`SpeculativeDecoder.step` (``docs/algorithm.md`` has the algorithm and the proofs):

1. **draft**: the drafter proposes K tokens (:mod:`~pard_ref.decoding.drafting`: K one-token forwards
   for an AR draft, ONE forward with K-1 mask tokens for PARD);
2. **verify**: the target is fed, in ONE forward, the tokens not yet in its cache (the whole prompt at
   first, then the previous bonus) followed by the K proposals; its last K+1 logits rows decide n
   accepted proposals and a bonus token (:mod:`~pard_ref.decoding.verify`);
3. **roll back**: the target cache is cropped to ``prefix + accepted`` (the bonus is in no cache yet),
   the drafter rolls its own cache back, and ``proposals[:n] + [bonus]`` are emitted, truncated after
   an EOS and to ``max_new_tokens``.

Method ``"none"`` is plain decoding with a KV cache: one target forward per token. :func:`generate` is
a loop over ``step()``; there is no second copy of the loop.

Greedy (``temperature == 0``) output is token-identical to plain greedy decoding (up to the rounding of
a (K+1)-token forward versus a 1-token forward, which can flip exact near-ties in low precision).
Sampling (``temperature > 0``, optional ``top_p``) follows the target's processed distribution exactly.
Near the end K shrinks to ``max_new_tokens - emitted - 1``, so no work is done for tokens that could not
be emitted.

What this module does NOT handle: batch size > 1, attention masks / padding, a draft whose tokenizer
differs from the target's while the vocabulary sizes agree (not detectable from the models), caches that
cannot be cropped (sliding-window attention), logits processors other than temperature and top-p,
streaming text. It does not call ``model.eval()`` (``from_pretrained`` already does).
"""

from __future__ import annotations

import time

import torch

from .checks import check_decoding_args, check_positions, eos_ids, model_device, resolve_mask_id
from .drafting import ARDrafter, ParallelDrafter
from .kv_cache import crop_cache, new_cache
from .records import DecodingOutput, DecodingStats, StepRecord
from .sampling import greedy, probabilities, sample
from .timing import ForwardClock
from .verify import verify_greedy, verify_sampling

__all__ = ["SpeculativeDecoder", "generate"]


class SpeculativeDecoder:
    """Step-by-step speculative decoding of one sequence::

        dec = SpeculativeDecoder(target, input_ids, draft=draft, method="pard", k=8, max_new_tokens=64)
        rec = dec.step()          # one iteration: rec.proposals, rec.accepted, rec.bonus, rec.emitted
        while not dec.done:
            dec.step()            # or: for rec in dec: ...
        dec.result().sequences    # [1, prompt + new]

    Arguments are those of :func:`generate`; all validation happens before any forward. For inspection:
    ``sequences``, ``stats``, ``done``, ``stop_reason``, ``prompt_length``, and the two KV caches,
    ``target_cache`` and ``drafter.cache``.
    """

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
        record.draft_seconds = self._draft_clock.seconds - draft_before
        record.target_seconds = self._target_clock.seconds - target_before
        self._update_stats(time.perf_counter() - start)
        return record

    def _speculate(self, k: int) -> tuple[list[int], int, int]:
        """Draft K proposals, verify them with one target forward, roll the caches back."""
        length = self.length
        # 1. draft: K proposals (and, when sampling, the distributions q they were drawn from)
        proposals, q = self.drafter.propose(self._seq, length, k, self.temperature, self.top_p, self.generator)
        self._seq[0, length : length + k] = proposals  # [K] written after the sequence
        # 2. verify: ONE target forward over [not-yet-cached tokens] + [K proposals]; the last K+1 rows
        logits = self._target_logits(length + k, k + 1)  # [K+1, V]
        if self.temperature == 0:
            n, bonus = verify_greedy(proposals, logits)
        else:
            p = probabilities(logits, self.temperature, self.top_p)  # [K+1, V]
            n, bonus = verify_sampling(proposals, q, p, self.generator)
        # 3. roll back: the target cache keeps prefix + accepted proposals (the bonus is fed next time)
        crop_cache(self.target_cache, length + n)
        self._target_fed = length + n
        self.drafter.commit(length, n)
        return proposals.tolist(), n, bonus

    def _plain_token(self) -> int:
        """Plain decoding: one target forward, one token (the target's, so it is the 'bonus')."""
        logits = self._target_logits(self.length, 1)  # [1, V]
        if self.temperature == 0:
            return int(greedy(logits[0]))
        return int(sample(probabilities(logits, self.temperature, self.top_p), self.generator))

    def _target_logits(self, end: int, num_logits: int) -> torch.Tensor:
        """Feed the target ``seq[fed:end]`` (the tokens not in its cache); logits [num_logits, V]."""
        fed = self._target_fed
        logits = self._target_clock.forward(
            self.target, self._seq[:, fed:end], self.target_cache, self._positions[:, fed:end], num_logits
        )
        self._target_fed = end
        return logits

    def _emit(self, proposals: list[int], n: int, bonus: int, remaining: int) -> StepRecord:
        """Append ``proposals[:n] + [bonus]``, truncated after an EOS and to ``remaining`` tokens."""
        emitted = (proposals[:n] + [bonus])[:remaining]
        reason = None
        for i, token in enumerate(emitted):
            if token in self.eos:
                emitted, reason = emitted[: i + 1], "eos"
                break
        self._seq[0, self.length + n] = bonus  # proposals[:n] are already in place
        self.length += len(emitted)
        if reason is None and self.new_tokens >= self.max_new_tokens:
            reason = "max_new_tokens"
        self.stop_reason = reason
        self.stats.accepted_lengths.append(n + 1)
        self.iteration += 1
        return StepRecord(iteration=self.iteration, proposals=proposals, accepted=n, bonus=bonus,
                          emitted=emitted, finished=reason is not None, stop_reason=reason)

    # ------------------------------------------------------------------ set-up and bookkeeping
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
        input_ids = check_decoding_args(target, input_ids, draft, method, k, max_new_tokens, temperature, top_p)
        if method == "pard":
            mask_token_id = resolve_mask_id(draft, mask_token_id)
        check_positions(target, draft if method != "none" else None, input_ids.shape[1], max_new_tokens)
        self.target, self.draft, self.method = target, draft, method
        self.k, self.max_new_tokens = int(k), int(max_new_tokens)
        self.temperature, self.top_p = float(temperature), float(top_p)
        self.eos = eos_ids(eos_token_id)
        self.mask_token_id = mask_token_id
        self.device = model_device(target)
        self.prompt_length = self.length = input_ids.shape[1]

        # the token buffer: the real sequence is self._seq[:, :self.length]; proposals are written
        # right after it before verification (K <= tokens still allowed - 1, so they always fit)
        total = self.prompt_length + self.max_new_tokens
        self._seq = torch.zeros((1, total), dtype=torch.long, device=self.device)  # [1, P + max_new]
        self._seq[:, : self.prompt_length] = input_ids.to(self.device)
        self._positions = torch.arange(total, device=self.device).unsqueeze(0)  # [1, P + max_new]

        self.target_cache = new_cache(target)
        self._target_fed = 0  # tokens of the sequence whose keys/values are in target_cache
        self._target_clock, self._draft_clock = ForwardClock(self.device), ForwardClock(self.device)
        self.drafter = None
        if method == "ar":
            self.drafter = ARDrafter(draft, self._positions, self._draft_clock)
        elif method == "pard":
            self.drafter = ParallelDrafter(draft, self._positions, self._draft_clock, mask_token_id, self.k)

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

    def _update_stats(self, seconds: float) -> None:
        stats = self.stats
        stats.seconds += seconds
        stats.new_tokens = self.new_tokens
        stats.draft_calls, stats.draft_seconds = self._draft_clock.calls, self._draft_clock.seconds
        stats.target_calls, stats.target_seconds = self._target_clock.calls, self._target_clock.seconds

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

    Returns a :class:`~pard_ref.decoding.records.DecodingOutput`: ``sequences`` [1, prompt + new] and
    ``stats``. This is a loop over :meth:`SpeculativeDecoder.step`.
    """
    decoder = SpeculativeDecoder(
        target, input_ids, draft=draft, method=method, k=k, max_new_tokens=max_new_tokens,
        temperature=temperature, top_p=top_p, seed=seed, eos_token_id=eos_token_id, mask_token_id=mask_token_id,
    )
    while not decoder.done:
        decoder.step()
    return decoder.result()
