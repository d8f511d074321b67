"""HTML pictures of speculative decoding: which tokens the target accepted, rejected, or added itself.

The notebooks' step-by-step widgets call these functions on the :class:`~pard_ref.decoding.StepRecord`
list of a :class:`~pard_ref.decoding.SpeculativeDecoder`. Every picture is built in two stages so that
a test (or an assert cell) can check the data without parsing HTML:

1. :func:`step_spans` / :func:`decoding_spans` turn records into :class:`Span` objects, one per token,
   each with a *kind*:

   ==========  ======================================================================
   kind        meaning
   ==========  ======================================================================
   prompt      a token of the prompt
   accepted    a draft proposal the target kept (it is in the output)
   rejected    the first proposal the target did not keep (its bonus replaces it)
   discarded   a proposal after the rejected one: never judged, thrown away with it
   bonus       the target's own token at the end of an iteration (in the output)
   ==========  ======================================================================

   The output text is exactly the concatenation of the ``accepted`` and ``bonus`` spans, in order.
2. :func:`spans_html` renders spans as coloured ``<span>`` elements (rejected and discarded ones
   struck through); :func:`decoding_html` and :func:`iterations_html` are the two ready-made views.

What it does NOT handle: tokens whose bytes are not valid UTF-8 on their own (byte-level BPE can split
a character across tokens; each token is decoded separately, so such a character shows as U+FFFD), and
right-to-left text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["KINDS", "COLOURS", "Span", "step_spans", "decoding_spans", "spans_html", "legend_html",
           "decoding_html", "iterations_html", "output_tokens"]

KINDS = ("prompt", "accepted", "rejected", "discarded", "bonus")
# background colour, text decoration
COLOURS = {
    "prompt": ("#edf2f7", "none"),
    "accepted": ("#c6f6d5", "none"),
    "rejected": ("#fed7d7", "line-through"),
    "discarded": ("#fff5f5", "line-through"),
    "bonus": ("#bee3f8", "none"),
}
_DESCRIPTIONS = {
    "prompt": "prompt",
    "accepted": "draft token accepted by the target",
    "rejected": "draft token rejected by the target",
    "discarded": "draft token after a rejection (discarded unjudged)",
    "bonus": "the target's own (bonus) token",
}


@dataclass(frozen=True)
class Span:
    """One token of a picture: its id, its text, its kind (see :data:`KINDS`) and the iteration (1-based)
    of the decoding loop that produced it (0 for the prompt)."""

    token: int
    text: str
    kind: str
    iteration: int = 0

    @property
    def in_output(self) -> bool:
        """Whether the token is part of the generated text (accepted proposals and bonus tokens)."""
        return self.kind in ("accepted", "bonus")


def _token_text(tok, token: int) -> str:
    return tok.decode([int(token)]) if tok is not None else f"<{int(token)}>"


def step_spans(tok, record) -> list[Span]:
    """The spans of one iteration: accepted proposals, then the rejected and discarded ones, then the bonus.

    ``record`` is a :class:`~pard_ref.decoding.StepRecord` (or anything with ``iteration``,
    ``proposals``, ``accepted`` and ``emitted``). When the iteration's tokens were cut (an EOS inside
    the accepted block, or ``max_new_tokens``), only the emitted ones are shown, as accepted / bonus.
    ``tok`` decodes ids to text (``None``: show ``<id>``).
    """
    n, proposals, emitted, it = int(record.accepted), list(record.proposals), list(record.emitted), record.iteration
    spans = [Span(int(t), _token_text(tok, t), "accepted", it) for t in emitted[:n]]
    if len(emitted) == n + 1:  # nothing was cut: show what the bonus replaced, then the bonus
        for j, bad in enumerate(proposals[n:]):
            spans.append(Span(int(bad), _token_text(tok, bad), "rejected" if j == 0 else "discarded", it))
        spans.append(Span(int(emitted[n]), _token_text(tok, emitted[n]), "bonus", it))
    return spans


def decoding_spans(tok, prompt_ids, records, *, show_rejected: bool = True) -> list[Span]:
    """Prompt spans followed by the spans of every record (``show_rejected=False`` keeps output tokens only).

    ``prompt_ids``: a list of ids, a 1-D tensor or a ``[1, P]`` tensor.
    """
    if hasattr(prompt_ids, "tolist"):
        prompt_ids = prompt_ids.reshape(-1).tolist()
    spans = [Span(int(t), _token_text(tok, t), "prompt", 0) for t in prompt_ids]
    for record in records:
        spans.extend(s for s in step_spans(tok, record) if show_rejected or s.in_output)
    return spans


def output_tokens(spans) -> list[int]:
    """The generated token ids a list of spans stands for (accepted and bonus tokens, in order)."""
    return [s.token for s in spans if s.in_output]


def _span_html(span: Span, first_of_iteration: bool = False) -> str:
    background, decoration = COLOURS[span.kind]
    # a thin bar before each iteration's first token shows where one target call's tokens begin
    edge = ";border-left:2px solid #718096" if first_of_iteration else ""
    text = span.text
    if span.kind != "prompt":
        # make whitespace-only tokens visible: a newline shows as a return arrow before the line break
        text = text.replace("\n", "\u21b5\n")
        if not text.strip():
            text = text.replace(" ", "\u2423")
    title = f"{_DESCRIPTIONS[span.kind]}" + (f", iteration {span.iteration}" if span.iteration else "")
    return (f'<span class="pard-{span.kind}" title="{html.escape(title)}" '
            f'style="background:{background};text-decoration:{decoration};border-radius:2px{edge}">'
            f"{html.escape(text)}</span>")


def spans_html(spans) -> str:
    """Spans as HTML: one coloured ``<span class="pard-KIND">`` per token, whitespace preserved; a grey
    bar marks the first token of each iteration."""
    body, previous = [], 0
    for s in spans:
        body.append(_span_html(s, first_of_iteration=s.iteration not in (0, previous)))
        previous = s.iteration
    body = "".join(body)
    return f'<div style="font-family:monospace;white-space:pre-wrap;line-height:1.7">{body}</div>'


def legend_html(kinds=("accepted", "rejected", "discarded", "bonus")) -> str:
    """A one-line colour legend."""
    items = " ".join(_span_html(Span(-1, _DESCRIPTIONS[k], k)) for k in kinds)
    return f'<div style="font-family:monospace;font-size:90%;margin-bottom:4px">{items}</div>'


def decoding_html(tok, prompt_ids, records, *, show_rejected: bool = True, legend: bool = True) -> str:
    """The prompt and the text generated so far, every token coloured by what happened to it.

    ``records``: the :class:`~pard_ref.decoding.StepRecord` list of a decoding run (possibly unfinished).
    """
    spans = decoding_spans(tok, prompt_ids, records, show_rejected=show_rejected)
    return (legend_html() if legend else "") + spans_html(spans)


def iterations_html(tok, records, *, last: int | None = None) -> str:
    """A table with one row per iteration: its proposals (coloured), accepted count, accepted length.

    ``last``: only the last ``last`` iterations (None: all).
    """
    rows = records if last is None else records[-last:]
    head = ("<tr><th>iteration</th><th>K</th><th>draft proposals &rarr; bonus</th>"
            "<th>accepted</th><th>accepted length</th></tr>")
    body = []
    for r in rows:
        cells = "".join(_span_html(s) for s in step_spans(tok, r))
        body.append(f"<tr><td>{r.iteration}</td><td>{len(r.proposals)}</td>"
                    f'<td style="font-family:monospace;white-space:pre;text-align:left">{cells}</td>'
                    f"<td>{r.accepted}</td><td>{r.accepted + 1}</td></tr>")
    return f'<table style="border-collapse:collapse">{head}{"".join(body)}</table>'
