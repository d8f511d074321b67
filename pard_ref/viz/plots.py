"""Pictures for the notebooks. Every function draws with matplotlib and returns what it drew as data,
so a notebook can assert on the data and a widget can simply call the function.

- :func:`pard_layout_figure`: the PARD training layout of one short sequence: its attention mask as
  an image, rows (queries) and columns (keys) labelled with token, block and position.
- :func:`cod_keep_figure`: COD's keep pattern (which query of which block is trained) on a K x L grid.
- :func:`acceptance_by_position` / :func:`acceptance_by_position_figure`: how often proposal i of an
  iteration is accepted, for i = 1..K, from the :class:`~pard_ref.decoding.StepRecord` list of runs.
- :func:`grouped_bars`: one group of bars per target (or domain), one bar per method.
- :func:`top1_agreement` / :func:`agreement_figure`: how often two models' greedy next tokens agree
  on the same text (teacher-forced), with the text itself as one more "model".

What it does NOT handle: long sequences in ``pard_layout_figure`` (labels stop being legible beyond
~40 layout entries; use ``cod_keep_figure`` to look at realistic lengths); sampled runs in
``acceptance_by_position`` (it reads the records' accepted counts, whatever rule produced them, but
a sampled draft's rates then mix luck with agreement); batches of models on different devices in
``top1_agreement`` (the text is moved to each model's device in turn).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..training.pard_layout import IGNORE_INDEX, build_pard_batch, cod_keep_positions, cod_tokens_per_sequence


@dataclass
class LayoutPicture:
    """What :func:`pard_layout_figure` drew.

    ``allowed[q, k]``: query q may attend to key k ([N, N] bool); ``depth``/``positions``: block and
    position id of each layout entry ([N]); ``targets``: the index p+1 of the token each query
    predicts, or -1 (no loss); ``row_labels``/``col_labels``: the tick labels.
    """

    ax: object
    allowed: torch.Tensor
    depth: torch.Tensor
    positions: torch.Tensor
    targets: torch.Tensor
    row_labels: list[str]
    col_labels: list[str]

    def __repr__(self) -> str:
        return (f"LayoutPicture(N={len(self.depth)} layout entries, K={int(self.depth.max()) + 1}, "
                f"{int(self.allowed.sum())} allowed attention entries)")


def pard_layout_figure(tokens: list[str], k: int = 3, *, drop_ratio: float = 1.0, min_drop_ratio: float = 0.2,
                       seed: int = 0, mask: str = "<m>", ax=None) -> LayoutPicture:
    """Draw the PARD attention mask of a sequence of (decoded) ``tokens`` at training depth ``k``.

    The layout is the library's own (``build_pard_batch`` on placeholder ids), so the picture is
    what training computes. Row ``q`` is a query, column a key; a dark cell = "may attend".
    Row labels read ``block j | token-or-mask @ position -> target``; blocks are separated by lines.
    ``drop_ratio < 1`` draws a COD-thinned layout (pattern drawn with ``seed``).
    """
    import matplotlib.pyplot as plt

    L = len(tokens)
    x = torch.arange(1, L + 1)[None]  # placeholder ids 1..L; id 0 plays the mask
    batch = build_pard_batch(x, k=k, mask_token_id=0, drop_ratio=drop_ratio, min_drop_ratio=min_drop_ratio,
                             generator=torch.Generator().manual_seed(seed), return_depth=True)
    depth, pos = batch["depth"][0], batch["position_ids"][0]  # [N], [N]
    allowed = batch["attention_mask"][0, 0] == 0  # [N, N]
    labels = batch["labels"][0]
    targets = torch.where(labels == IGNORE_INDEX, torch.full_like(labels, -1), labels - 1)  # index into tokens

    def show(i):
        return tokens[i].replace("\n", "\\n").replace(" ", "\u2423")  # ␣ makes spaces visible

    col_labels = [f"{show(int(p)) if int(d) == 0 else mask} @{int(p)}" for d, p in zip(depth, pos)]
    row_labels = [f"b{int(d)} | {c} \u2192 {show(int(t)) if int(t) >= 0 else '-'}"
                  for d, c, t in zip(depth, col_labels, targets)]
    n = len(depth)
    if ax is None:
        size = max(4.0, 0.32 * n + 2)
        _, ax = plt.subplots(figsize=(size + 1.5, size))
    ax.imshow(allowed.float().numpy(), cmap="Blues", vmin=0, vmax=1.3, interpolation="nearest")
    ax.set_xticks(range(n), col_labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), row_labels, fontsize=8)
    for b in range(1, k):  # block boundaries
        edge = int((depth < b).sum()) - 0.5
        ax.axhline(edge, color="crimson", lw=1)
        ax.axvline(edge, color="crimson", lw=1)
    ax.set_xlabel("key (token or mask @ position id)")
    ax.set_ylabel("query: block | input @ position \u2192 target")
    ax.set_title(f"PARD layout, K={k}" + (f", COD r={drop_ratio}, r_min={min_drop_ratio}" if drop_ratio < 1 else ""))
    return LayoutPicture(ax, allowed, depth, pos, targets, row_labels, col_labels)


@dataclass
class CODPicture:
    """What :func:`cod_keep_figure` drew: ``blocks[j]`` = kept positions of block j; ``tokens`` = N,
    the layout length (``cod_tokens_per_sequence``); ``full_tokens`` = K·L; ``clipped`` = r_min was
    lowered to r for the drawing."""

    ax: object
    seq_len: int
    k: int
    drop_ratio: float
    min_drop_ratio: float
    blocks: list[torch.Tensor]
    tokens: int
    full_tokens: int
    clipped: bool = False

    @property
    def attention_ratio(self) -> float:
        """How many times fewer attention entries (N² vs (K·L)²) COD leaves."""
        return (self.full_tokens / self.tokens) ** 2

    def __repr__(self) -> str:
        return (f"COD K={self.k} r={self.drop_ratio} r_min={self.min_drop_ratio} L={self.seq_len}: "
                f"{self.tokens} layout tokens instead of {self.full_tokens} "
                f"({self.full_tokens / self.tokens:.2f}x fewer tokens, "
                f"{self.attention_ratio:.1f}x fewer attention entries)")


def cod_keep_figure(seq_len: int = 48, k: int = 8, drop_ratio: float = 0.7, min_drop_ratio: float = 0.2,
                    seed: int = 0, ax=None) -> CODPicture:
    """Draw COD's keep pattern: a K x L grid, a filled cell (j, p) = block j keeps the query at position p.

    Grey cells can never have a loss (chain starting before x_0, or target beyond the window); lines
    join each kept query to its predecessor (p-1 in block j-1), which is always kept: every chain is
    whole. ``min_drop_ratio`` above ``drop_ratio`` is lowered to ``drop_ratio`` (a widget may ask for
    it; the library itself raises), and the picture says so.
    """
    import matplotlib.pyplot as plt

    clipped = min_drop_ratio > drop_ratio
    min_drop_ratio = min(min_drop_ratio, drop_ratio)
    blocks = cod_keep_positions(seq_len, k, drop_ratio, min_drop_ratio, torch.Generator().manual_seed(seed))
    tokens = cod_tokens_per_sequence(seq_len, k, drop_ratio, min_drop_ratio)
    grid = torch.zeros(k, seq_len)  # 0 dropped, 1 kept, -1 never has a loss
    for j in range(1, k):
        grid[j, :j] = -1
        grid[j, seq_len - 1] = -1
    for j, b in enumerate(blocks):
        grid[j, b] = 1
    if ax is None:
        _, ax = plt.subplots(figsize=(min(14, 2 + seq_len * 0.22), 1.2 + 0.45 * k))
    ax.imshow(grid.numpy(), cmap=plt.matplotlib.colors.ListedColormap(["#d9d9d9", "white", "#2b6cb0"]),
              vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    kept = [set(b.tolist()) for b in blocks]
    for j in range(2, k):
        for p in kept[j]:
            ax.plot([p - 1, p], [j - 1, j], color="orange", lw=0.8)
    ax.set_yticks(range(k), [f"block {j}" + (" (x)" if j == 0 else "") + f"  n={len(b)}" for j, b in enumerate(blocks)],
                  fontsize=8)
    ax.set_xlabel("position p")
    ax.set_title(f"COD K={k}, r={drop_ratio}, r_min={min_drop_ratio}{' (clipped to r)' if clipped else ''}, "
                 f"L={seq_len}: {tokens} layout tokens of {k * seq_len}", fontsize=9)
    return CODPicture(ax, seq_len, k, drop_ratio, min_drop_ratio, blocks, tokens, k * seq_len, clipped)


# ----------------------------------------------------------------------------------------------
# acceptance, per position and per target
# ----------------------------------------------------------------------------------------------
def acceptance_by_position(records, k: int | None = None) -> list[float]:
    """``rates[i-1]``: the fraction of iterations whose proposal i was accepted, for i = 1..k.

    ``records``: :class:`~pard_ref.decoding.StepRecord` objects (anything with ``proposals`` and
    ``accepted``), from one run or many. Proposal i is accepted when the iteration accepted at least
    i proposals; the rate of position i counts only the iterations that proposed at least i (a last
    iteration near ``max_new_tokens`` proposes fewer). Iterations without proposals (plain decoding)
    are ignored. ``k`` defaults to the longest proposal list; a position nobody proposed gets 0.0.

    When every iteration proposed k tokens, ``1 + sum(rates)`` is exactly the mean accepted length τ
    (τ = E[accepted + 1] = 1 + Σ_i P(accepted >= i)).
    """
    records = [r for r in records if len(r.proposals) > 0]
    if k is None:
        k = max((len(r.proposals) for r in records), default=0)
    rates = []
    for i in range(1, k + 1):
        proposed = [r for r in records if len(r.proposals) >= i]
        rates.append(sum(int(r.accepted) >= i for r in proposed) / len(proposed) if proposed else 0.0)
    return rates


@dataclass
class PositionPicture:
    """What :func:`acceptance_by_position_figure` drew: ``rates[label][i-1]`` = acceptance of proposal i."""

    ax: object
    rates: dict[str, list[float]]


def acceptance_by_position_figure(records_by_label: dict, *, k: int | None = None, styles: dict | None = None,
                                  title: str = "acceptance of proposal i", ax=None) -> PositionPicture:
    """One line per label: the acceptance rate of proposal i (x axis: i = 1..K) over that label's records.

    ``records_by_label``: ``{label: [StepRecord, ...]}``; ``styles``: optional ``{label: plot kwargs}``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    rates = {label: acceptance_by_position(recs, k) for label, recs in records_by_label.items()}
    for label, r in rates.items():
        ax.plot(range(1, len(r) + 1), r, marker="o", label=label, **(styles or {}).get(label, {}))
    ax.set(xlabel="proposal i of the iteration", ylabel="fraction accepted", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return PositionPicture(ax, rates)


def grouped_bars(values: dict, *, ylabel: str = "", title: str = "", baseline: float | None = None,
                 colours: dict | None = None, fmt: str = "{:.2f}", label_size: float = 8, label_rotation: float = 0,
                 legend_columns: int = 1, ax=None):
    """Grouped bars: ``values[group][series]`` (e.g. ``{target: {method: speedup}}``); returns the Axes.

    Every group gets one bar per series (a series missing from a group leaves a gap); each bar is
    labelled with its value (``fmt``, in ``label_size`` points, turned by ``label_rotation`` degrees when
    many bars crowd a group); ``baseline`` draws a horizontal reference line (e.g. 1.0 for "as fast as
    plain decoding").
    """
    import matplotlib.pyplot as plt

    groups = list(values)
    series = list(dict.fromkeys(s for g in groups for s in values[g]))
    if not groups or not series:
        raise ValueError("grouped_bars needs at least one group with at least one value")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(groups) * max(1, len(series)) / 2 + 2), 3.8))
    width = 0.8 / len(series)
    for j, s in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i, g in enumerate(groups) if s in values[g]]
        ys = [values[g][s] for g in groups if s in values[g]]
        bars = ax.bar(xs, ys, width, label=s, color=(colours or {}).get(s))
        ax.bar_label(bars, labels=[fmt.format(y) for y in ys], fontsize=label_size, rotation=label_rotation,
                     padding=2 if label_rotation else 0)
    if baseline is not None:
        ax.axhline(baseline, color="grey", lw=1, ls="--")
    ax.set_xticks(range(len(groups)), groups)
    ax.set(ylabel=ylabel, title=title)
    ax.margins(y=0.15)
    ax.legend(fontsize=8 if legend_columns == 1 else 7, ncol=legend_columns)
    return ax


# ----------------------------------------------------------------------------------------------
# agreement between models
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def top1_agreement(models: dict, windows: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """``(names, matrix)``: how often the greedy next tokens of two models agree on the same text.

    ``windows``: ``[B, L+1]`` token ids. Each model reads ``windows[:, :-1]`` (teacher forcing: every
    model sees the same real prefix at every position) and predicts its argmax at each of the B·L
    positions; the text's own next tokens ``windows[:, 1:]`` are added as one more row called
    ``"text"``. ``matrix[a, b]`` is the fraction of positions where a and b predict the same token
    (the row ``"text"`` against a model is that model's top-1 accuracy). Symmetric, diagonal 1.
    """
    if windows.dim() != 2 or windows.shape[1] < 2:
        raise ValueError(f"windows must be [batch, length + 1] token ids with length >= 1, got {tuple(windows.shape)}")
    inputs, text = windows[:, :-1].long(), windows[:, 1:].long()  # [B, L], [B, L]
    preds = {}
    for name, model in models.items():
        device = next(model.parameters()).device
        preds[name] = model(input_ids=inputs.to(device)).logits.argmax(-1).cpu()  # [B, L]
    preds["text"] = text
    names = list(preds)
    flat = torch.stack([preds[n].reshape(-1) for n in names])  # [M, B*L]
    matrix = (flat[:, None, :] == flat[None, :, :]).double().mean(-1)  # [M, M]
    return names, matrix


@dataclass
class AgreementPicture:
    """What :func:`agreement_figure` drew: ``matrix[a, b]`` = agreement of ``names[a]`` and ``names[b]``
    over ``positions`` teacher-forced positions."""

    ax: object
    names: list[str]
    matrix: torch.Tensor
    positions: int

    def of(self, a: str, b: str) -> float:
        """The agreement of two names."""
        return float(self.matrix[self.names.index(a), self.names.index(b)])


def agreement_figure(models: dict, windows: torch.Tensor, *, title: str = "top-1 agreement (teacher-forced)",
                     ax=None) -> AgreementPicture:
    """:func:`top1_agreement` as an annotated heat map."""
    import matplotlib.pyplot as plt

    names, matrix = top1_agreement(models, windows)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(names) + 2, 1.0 * len(names) + 1))
    ax.imshow(matrix.numpy(), cmap="Greens", vmin=0, vmax=1)
    for a in range(len(names)):
        for b in range(len(names)):
            v = float(matrix[a, b])
            ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v > 0.6 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title(title, fontsize=10)
    return AgreementPicture(ax, names, matrix, windows.shape[0] * (windows.shape[1] - 1))
