"""A picture of the two KV caches through speculative iterations: which positions each cache holds after
drafting, after verifying and after the crop.

The bookkeeping that hand-written speculative decoders most often get wrong is here, position by
position: the target's verification forward adds the K proposals to its cache, the crop keeps the
accepted ones, the bonus token is in no cache yet (it is fed at the next iteration), an AR draft holds
its own proposals x_1..x_{K-1}, and a PARD draft holds K-1 mask entries until it crops them.

- :class:`CacheSnapshot`: the state at one moment of one iteration: the sequence length when the
  iteration began (``prefix``), K, how many entries each cache holds, how many proposals were
  accepted (once verified), and what the draft's entries past the prefix are (its own proposals, or
  masks); :func:`snapshot` reads the lengths off two real caches.
- :meth:`CacheSnapshot.kinds`: what each held position is: ``"text"`` (the sequence before the
  iteration), ``"proposal"`` (not verified yet), ``"accepted"``, ``"rejected"``, ``"mask"``.
- :func:`cache_rows`: the snapshots as data, two rows each (target, draft), one column per position
  in a window, ``""`` where a cache holds nothing, ``"bonus"`` at the bonus's position (in no cache).
- :func:`cache_figure`: draws those rows with matplotlib and returns them (:class:`CachePicture`), so a
  notebook can assert on what it shows.

What it does NOT handle: batches, tree drafts, sampled runs whose draft keeps distributions (only
lengths are drawn), caches that are not a prefix of the sequence (every cache here is: that is the
invariant the crop keeps), and long windows (labels stop being legible beyond ~40 positions).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "COLOURS", "CacheSnapshot", "CachePicture", "snapshot", "cache_rows", "cache_figure"]

KINDS = ("", "text", "proposal", "accepted", "rejected", "mask", "bonus")
COLOURS = {"": "#ffffff", "text": "#cbd5e0", "proposal": "#f6ad55", "accepted": "#68d391", "rejected": "#fc8181",
           "mask": "#b794f4", "bonus": "#bee3f8"}
DRAFT_FED = ("proposal", "mask")


@dataclass(frozen=True)
class CacheSnapshot:
    """Both caches at one moment of one iteration.

    ``prefix``: tokens in the sequence when the iteration began; the K proposals sit at positions
    ``prefix .. prefix + k - 1``. ``target`` / ``draft``: entries each cache holds (always a prefix of
    positions 0..). ``accepted``: n once verified (None before). ``draft_fed``: what the draft's
    entries at positions >= prefix are: ``"proposal"`` (an AR draft feeds itself x_1..x_{K-1}) or
    ``"mask"`` (a PARD draft's K-1 masks, before its crop).
    """

    label: str
    prefix: int
    k: int
    target: int
    draft: int
    accepted: int | None = None
    draft_fed: str = "proposal"

    def __post_init__(self):
        for name in ("prefix", "k", "target", "draft"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        if self.draft_fed not in DRAFT_FED:
            raise ValueError(f"draft_fed must be one of {DRAFT_FED}, got {self.draft_fed!r}")
        if self.accepted is not None and not 0 <= self.accepted <= self.k:
            raise ValueError(f"accepted must be in 0..k={self.k}, got {self.accepted!r}")
        top = self.prefix + self.k  # nothing is ever fed past the last proposal
        for name in ("target", "draft"):
            if getattr(self, name) > top:
                raise ValueError(f"the {name} cache holds {getattr(self, name)} entries, more than the sequence "
                                 f"({self.prefix}) plus the {self.k} proposals")

    @property
    def bonus_position(self) -> int | None:
        """Where the bonus goes once verified (``prefix + accepted``): in no cache yet."""
        return None if self.accepted is None else self.prefix + self.accepted

    def kinds(self, which: str) -> list[str]:
        """The kind of each position the ``"target"`` or ``"draft"`` cache holds, position 0 first."""
        if which not in ("target", "draft"):
            raise ValueError(f"which must be 'target' or 'draft', got {which!r}")
        out = []
        for pos in range(getattr(self, which)):
            i = pos - self.prefix  # index of the proposal at this position (0-based), if any
            if i < 0:
                out.append("text")
            elif which == "draft" and self.draft_fed == "mask":
                out.append("mask")
            elif self.accepted is None:
                out.append("proposal")
            else:
                out.append("accepted" if i < self.accepted else "rejected")
        return out


def snapshot(label: str, prefix: int, k: int, target_cache, draft_cache, *, accepted: int | None = None,
             draft_fed: str = "proposal") -> CacheSnapshot:
    """A :class:`CacheSnapshot` with the lengths read off two real KV caches."""
    from ..decoding.kv_cache import cache_length

    return CacheSnapshot(label, prefix, k, cache_length(target_cache), cache_length(draft_cache), accepted, draft_fed)


def cache_rows(snapshots, *, start: int | None = None, end: int | None = None):
    """``(rows, row_labels, positions)``: two rows per snapshot (target, then draft) of kinds per position.

    Positions ``start .. end - 1``; by default the window that covers every snapshot's proposals and
    bonus (``end`` = the largest prefix + K + 1, ``start`` = 2 positions before the smallest prefix). A position a
    cache does not hold is ``""``, except the bonus's position, which is ``"bonus"`` in both rows.
    """
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("no snapshots to draw")
    if end is None:
        end = max(s.prefix + s.k + 1 for s in snapshots)
    if start is None:
        start = max(min(s.prefix for s in snapshots) - 2, 0)
    if not 0 <= start < end:
        raise ValueError(f"need 0 <= start < end, got start={start}, end={end}")
    rows, labels = [], []
    for s in snapshots:
        for which in ("target", "draft"):
            held = s.kinds(which)
            row = [held[p] if p < len(held) else ("bonus" if p == s.bonus_position else "") for p in range(start, end)]
            rows.append(row)
            labels.append(f"{s.label} | {which}")
    return rows, labels, list(range(start, end))


@dataclass
class CachePicture:
    """What :func:`cache_figure` drew: ``rows[r][c]`` is the kind at ``positions[c]`` in row ``row_labels[r]``."""

    ax: object
    rows: list[list[str]]
    row_labels: list[str]
    positions: list[int]

    def __repr__(self) -> str:
        return f"CachePicture({len(self.rows)} rows x {len(self.positions)} positions)"


def cache_figure(snapshots, *, start: int | None = None, end: int | None = None, title: str = "",
                 ax=None) -> CachePicture:
    """Draw :func:`cache_rows` as coloured cells (a legend names the kinds) and return it as data."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows, labels, positions = cache_rows(snapshots, start=start, end=end)
    index = {kind: i for i, kind in enumerate(KINDS)}
    grid = [[index[k] for k in row] for row in rows]  # [rows, positions]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.42 * len(positions) + 3.5), 0.34 * len(rows) + 1.4))
    ax.imshow(grid, cmap=ListedColormap([COLOURS[k] for k in KINDS]), vmin=0, vmax=len(KINDS) - 1, aspect="auto",
              interpolation="nearest")
    for r, row in enumerate(rows):
        for c, kind in enumerate(row):
            if kind == "bonus":
                ax.text(c, r, "B", ha="center", va="center", fontsize=7, color="#2b6cb0", weight="bold")
    for r in range(2, len(rows), 2):  # a line between snapshots
        ax.axhline(r - 0.5, color="black", lw=0.8)
    ax.set_xticks(range(len(positions)), positions, fontsize=7)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xticks([c - 0.5 for c in range(1, len(positions))], minor=True)
    ax.grid(which="minor", axis="x", color="white", lw=0.6)
    ax.tick_params(which="minor", length=0)
    ax.set(xlabel="position in the sequence", title=title)
    shown = [k for k in KINDS[1:] if any(k in row for row in rows)]
    ax.legend(handles=[Patch(color=COLOURS[k], label="bonus (in no cache)" if k == "bonus" else k) for k in shown],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return CachePicture(ax, rows, labels, positions)
