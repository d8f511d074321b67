"""What a decoding run reports: one :class:`StepRecord` per iteration, :class:`DecodingStats` for the run,
and :class:`DecodingOutput` (the sequence plus its stats).

Vocabulary (see ``docs/algorithm.md``): an iteration's *accepted length* is the number of accepted
proposals + 1, the target's own *bonus* token; its mean over iterations is tau.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

__all__ = ["DecodingStats", "StepRecord", "DecodingOutput"]


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
    draft_seconds: float = 0.0
    target_seconds: float = 0.0

    @property
    def accepted_length(self) -> int:
        """Accepted proposals + 1 (the bonus)."""
        return self.accepted + 1


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
class DecodingOutput:
    """``sequences`` [1, prompt + new] (prompt included) and the run's :class:`DecodingStats`."""

    sequences: torch.Tensor
    stats: DecodingStats
