"""A family's losses on any text: does the bigger model predict it better?

The zoo's family claim (bigger targets are better) is measured on held-out text from the corpus's
own sources and generators (``docs/zoo.md``: held-out loss ordered in every domain). This module
lets a reader test it on text of their own:

- :func:`text_losses`: mean next-token loss (nats per token) of each model on one text;
- :func:`window_losses`: the same on held-out windows ``[B, T]`` of token ids;
- :func:`family_loss_view`: both, for one text, with the order of the models and whether the
  family's order holds on it (:class:`FamilyLossView`);
- :func:`family_loss_widget`: a text box (and a few example texts) that redraws the comparison.

What it does NOT handle: texts longer than the models' positions (truncated to ``max_tokens``),
batching several texts, or per-token pictures (the loss is one mean per model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

__all__ = ["EXAMPLE_TEXTS", "FamilyLossView", "text_losses", "window_losses", "family_loss_view",
           "family_loss_widget"]

# short texts phrased unlike the corpus: a word problem in sentences (no "Question: ... Answer:" lines),
# a paragraph about modules (not pydoc's wording), a small generator function
EXAMPLE_TEXTS = {
    "word problem": "Maria has three boxes of pencils. Each box holds twelve pencils, and she gives nine of them "
                    "to her brother. She shares the rest equally with two friends, so each of the three of them "
                    "ends up with the same number of pencils.",
    "about modules": "When a program grows, it helps to split it into several files. Each file becomes a module "
                     "that the others can import, and keeping related functions together makes the code easier "
                     "to read, to test and to reuse.",
    "generator": "def countdown(n):\n    while n > 0:\n        yield n\n        n -= 1\n\n\nfor i in countdown(3):\n"
                 "    print(i)\n",
}


@torch.no_grad()
def _mean_loss(model, ids: torch.Tensor) -> float:
    # ids: [B, T] -> mean cross-entropy of predicting ids[:, 1:] from the prefix
    device = next(model.parameters()).device
    ids = ids.to(device)
    logits = model(input_ids=ids[:, :-1]).logits  # [B, T-1, V]
    return float(F.cross_entropy(logits.flatten(0, 1).float(), ids[:, 1:].flatten()))


def text_losses(models: dict, tok, text: str, *, max_tokens: int = 128) -> dict[str, float]:
    """``{name: nats per token}`` of every model on ``text`` (BOS + the text's tokens, at most ``max_tokens``)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("give a non-empty text")
    ids = [tok.bos_token_id] + tok(text, add_special_tokens=False)["input_ids"][: max_tokens - 1]
    if len(ids) < 2:
        raise ValueError("the text must be at least one token long")
    x = torch.tensor([ids])  # [1, T]
    return {name: _mean_loss(m, x) for name, m in models.items()}


def window_losses(models: dict, windows: torch.Tensor) -> dict[str, float]:
    """``{name: nats per token}`` of every model on held-out windows ``[B, T]``."""
    return {name: _mean_loss(m, windows) for name, m in models.items()}


@dataclass
class FamilyLossView:
    text: str
    n_tokens: int
    losses: dict                       # name -> nats per token on the text
    order: list                        # names, lowest loss first
    family_order: list                 # the order the family claims (best first)
    holds: bool                        # the text's order is the family's
    heldout: dict = field(default_factory=dict)  # domain -> {name: loss} on held-out windows, if given


def family_loss_view(models: dict, tok, text: str, *, heldout: dict | None = None,
                     max_tokens: int = 128) -> FamilyLossView:
    """The losses of ``models`` (ordered as the family claims: best first, e.g. target-l .. draft-ar) on
    ``text``, and whether that order holds on it. ``heldout``: ``{domain: {name: loss}}`` to draw beside."""
    losses = text_losses(models, tok, text, max_tokens=max_tokens)
    order = sorted(losses, key=losses.get)
    n = min(max_tokens, 1 + len(tok(text, add_special_tokens=False)["input_ids"]))
    return FamilyLossView(text=text, n_tokens=n, losses=losses, order=order, family_order=list(models),
                          holds=order == list(models), heldout=dict(heldout or {}))


def draw_family_losses(view: FamilyLossView, ax=None):
    """Bars: each model's loss on the text; markers: its held-out loss per domain. Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    names = view.family_order
    bars = ax.bar(range(len(names)), [view.losses[n] for n in names], color="#2b6cb0", label="your text")
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
    for i, (domain, losses) in enumerate(view.heldout.items()):
        ax.plot(range(len(names)), [losses[n] for n in names], marker="os^D"[i % 4], ls=":", color=f"C{i + 1}",
                label=f"held-out {domain}")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("loss (nats / token)")
    verdict = "holds" if view.holds else "does NOT hold"
    ax.set_title(f"{view.n_tokens} tokens; the family's order {verdict} on this text")
    ax.legend(fontsize=7)
    return ax


def family_loss_widget(models: dict, tok, *, heldout: dict | None = None, texts: dict | None = None,
                       default: str = "word problem"):
    """An ``ipywidgets.interactive``: a text box (prefilled from ``texts``, default :data:`EXAMPLE_TEXTS`)
    whose value is passed to :func:`family_loss_view`; the picture is redrawn and ``widget.result`` holds
    the :class:`FamilyLossView`. Setting ``widget.children[0].value`` runs it (headless tests do)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    texts = dict(texts or EXAMPLE_TEXTS)
    if default not in texts:
        raise ValueError(f"default {default!r} is not one of the texts {sorted(texts)}")

    def show(text):
        view = family_loss_view(models, tok, text, heldout=heldout)
        draw_family_losses(view)
        plt.show()
        print("lowest loss first: " + " < ".join(f"{n} {view.losses[n]:.2f}" for n in view.order))
        return view

    box = widgets.Textarea(value=texts[default], layout=widgets.Layout(width="95%", height="8em"),
                           continuous_update=False, description="text")
    picker = widgets.Dropdown(options=list(texts), value=default, description="example")

    def pick(change):
        box.value = texts[change["new"]]

    picker.observe(pick, names="value")
    widget = widgets.interactive(show, text=box)
    widget.children = (box, picker, *widget.children[1:])
    return widget
