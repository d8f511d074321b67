"""Grids and tasks <-> tokens, with a tiny word-level vocabulary; and the parser back to grids.

One token per cell. A grid is its rows, left to right, with ``<nl>`` between rows:

    ((1, 2), (3, 4))  ->  "1 2 <nl> 3 4"

A sequence is the demonstrations, then the query; each pair is ``<in> input <out> output`` and a
pair ends with ``<sep>``, except the query, which ends with ``<eos>``:

    <bos> <in> x1 <out> y1 <sep> <in> x2 <out> y2 <sep> <in> xq <out> yq <eos>

A *prompt* stops right after the query's ``<out>``: the model's completion is ``yq <eos>``, which
``parse_grid`` turns back into a grid. The prompt is always a prefix of the full sequence.

``Encoded`` carries, for every token, the index of the pair it belongs to and whether it belongs to
an *output* (the output grid's tokens and the ``<sep>``/``<eos>`` that ends it: the model must learn
where a grid stops). Loss masks (``loo.loss_mask``) are built from these roles, never by searching
for particular token ids, so they do not depend on the tokenizer.

``get_tokenizer()`` gives the same vocabulary as a transformers ``PreTrainedTokenizerFast`` (a
``tokenizers`` WordLevel model on whitespace-split text); ``encode_*`` produce ids directly and the
tests check that both agree.

*Grid position ids* (``grid_position_ids``, ``GridPositions``): instead of counting tokens 0, 1, 2, ...,
a token can be given a position that says *where in which grid* it is. Pair ``k`` starts at
``k * PAIR_STRIDE``; its input grid's cell (r, c) sits at ``base + r * ROW_STRIDE + c``, and its
output grid's cell (r, c) at the same place plus ``OUTPUT_OFFSET``. With RoPE (which only sees
differences of positions) "the same cell of the input", "the cell above" and "the same cell one
demonstration earlier" are then constant offsets for every grid size, which a tiny model learns
far faster than counting ``<nl>`` tokens. Models trained this way say so in their config
(``arc_positions = "grid"``; see ``adapt.position_ids``).

Not handled: grids larger than 30x30 (the parser rejects them); several test inputs in one prompt;
any text outside this vocabulary (it maps to ``<unk>``, which the parser rejects); tasks with more
than ``MAX_PAIRS`` pairs (their grid position ids pass ``MAX_GRID_POSITION``; a model's garbage
completion can do that too, and is then simply unparseable).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Sequence

from .tasks import ARC_MAX_SIZE, Grid, Task

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
IN, OUT, SEP, NL = "<in>", "<out>", "<sep>", "<nl>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK, IN, OUT, SEP, NL)
COLOUR_TOKENS = tuple(str(c) for c in range(10))
VOCAB: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + COLOUR_TOKENS)}
ID_TO_TOKEN: dict[int, str] = {i: tok for tok, i in VOCAB.items()}

PAD_ID, BOS_ID, EOS_ID, UNK_ID = VOCAB[PAD], VOCAB[BOS], VOCAB[EOS], VOCAB[UNK]
IN_ID, OUT_ID, SEP_ID, NL_ID = VOCAB[IN], VOCAB[OUT], VOCAB[SEP], VOCAB[NL]
COLOUR_IDS = tuple(VOCAB[t] for t in COLOUR_TOKENS)  # COLOUR_IDS[c] is the id of colour c
_ID_TO_COLOUR = {i: c for c, i in enumerate(COLOUR_IDS)}


def max_grid_tokens(max_size: int = ARC_MAX_SIZE) -> int:
    """Tokens of the longest completion: max_size rows of max_size cells, max_size-1 ``<nl>``, ``<eos>``."""
    return max_size * max_size + max_size


# ----------------------------------------------------------------------------------------------
# grids


def grid_to_ids(grid: Grid) -> list[int]:
    """``((1, 2), (3, 4))`` -> ids of ``1 2 <nl> 3 4`` (no terminator)."""
    ids: list[int] = []
    for r, row in enumerate(grid):
        if r:
            ids.append(NL_ID)
        ids.extend(COLOUR_IDS[c] for c in row)
    return ids


def grid_to_text(grid: Grid) -> str:
    return ids_to_text(grid_to_ids(grid))


def ids_to_text(ids: Sequence[int]) -> str:
    """Space-separated tokens; unknown ids show as ``<unk>``."""
    return " ".join(ID_TO_TOKEN.get(int(i), UNK) for i in ids)


def text_to_ids(text: str) -> list[int]:
    """Whitespace-split ``text``; tokens outside the vocabulary become ``<unk>``."""
    return [VOCAB.get(tok, UNK_ID) for tok in text.split()]


def parse_grid(ids: Sequence[int], *, max_size: int = ARC_MAX_SIZE, end_id: int = EOS_ID) -> Grid | None:
    """A completion -> the grid, or ``None`` if it is malformed. Never raises.

    Reads up to the first ``end_id`` (default ``<eos>``; whatever follows, e.g. padding, is
    ignored). Malformed: no ``end_id``; any token other than a colour or ``<nl>`` before it; an
    empty grid or an empty row; rows of different lengths; a side longer than ``max_size``.
    """
    try:
        ids = [int(i) for i in ids]
    except (TypeError, ValueError):
        return None
    if end_id not in ids:
        return None
    rows: list[tuple[int, ...]] = []
    row: list[int] = []
    for i in ids[: ids.index(end_id)]:
        if i == NL_ID:
            if not row:
                return None
            rows.append(tuple(row))
            row = []
        elif i in _ID_TO_COLOUR:
            row.append(_ID_TO_COLOUR[i])
        else:
            return None  # a stray token
    if not row:
        return None  # empty grid, or a trailing <nl>
    rows.append(tuple(row))
    if len({len(r) for r in rows}) != 1 or len(rows) > max_size or len(rows[0]) > max_size:
        return None
    return tuple(rows)


def parse_grid_text(text: str, *, max_size: int = ARC_MAX_SIZE) -> Grid | None:
    """Like ``parse_grid`` for text such as ``"1 2 <nl> 3 4 <eos>"``."""
    if not isinstance(text, str):
        return None
    return parse_grid(text_to_ids(text), max_size=max_size)


# ----------------------------------------------------------------------------------------------
# sequences


@dataclass
class Encoded:
    """Token ids of a sequence with the role of every token.

    ``ids``: (T,). ``pair``: (T,) index of the pair each token belongs to (-1 for ``<bos>``); the
    query is pair ``n_pairs - 1``. ``is_output``: (T,) True on output-grid tokens and on the
    ``<sep>``/``<eos>`` that ends an output. ``complete``: False for a prompt (the query output is
    missing).
    """

    ids: list[int] = field(default_factory=list)
    pair: list[int] = field(default_factory=list)
    is_output: list[bool] = field(default_factory=list)
    n_pairs: int = 0
    complete: bool = True

    def _add(self, ids: Sequence[int], pair: int, is_output: bool) -> None:
        self.ids.extend(ids)
        self.pair.extend([pair] * len(ids))
        self.is_output.extend([is_output] * len(ids))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def text(self) -> str:
        return ids_to_text(self.ids)


def encode_sequence(demonstrations: Sequence[tuple[Grid, Grid]], query: tuple[Grid, Grid | None]) -> Encoded:
    """Demonstrations then the query; a full sequence ending in ``<eos>`` if the query has an
    output, else a prompt ending in ``<out>``."""
    enc = Encoded()
    enc._add([BOS_ID], -1, False)
    pairs = list(demonstrations) + [query]
    for k, (inp, out) in enumerate(pairs):
        last = k == len(pairs) - 1
        enc._add([IN_ID], k, False)
        enc._add(grid_to_ids(inp), k, False)
        enc._add([OUT_ID], k, False)
        if last and out is None:
            enc.complete = False
            break
        enc._add(grid_to_ids(out) + [EOS_ID if last else SEP_ID], k, True)
    enc.n_pairs = len(pairs)
    return enc


def encode_prompt(demonstrations: Sequence[tuple[Grid, Grid]], query_input: Grid) -> Encoded:
    """The prompt for predicting ``query_input``'s output (ends with ``<out>``)."""
    return encode_sequence(demonstrations, (query_input, None))


def encode_task(task: Task, test_index: int = 0, *, with_answer: bool = False) -> Encoded:
    """A task's prompt (default) or full sequence (``with_answer``; needs the known test output)."""
    inp, out = task.test[test_index]
    if with_answer and out is None:
        raise ValueError(f"task {task.id}: test {test_index} has no known output")
    return encode_sequence(task.train, (inp, out if with_answer else None))


def task_to_ids(task: Task, test_index: int = 0, *, with_answer: bool = False) -> list[int]:
    """The token ids of ``encode_task``: the prompt, or the full sequence with ``with_answer``."""
    return encode_task(task, test_index, with_answer=with_answer).ids


def task_to_text(task: Task, test_index: int = 0, *, with_answer: bool = False) -> str:
    """The text of ``encode_task``, e.g. ``"<bos> <in> 1 <out> 2 <sep> <in> 3 <out>"``."""
    return encode_task(task, test_index, with_answer=with_answer).text


def parse_sequence(ids: Sequence[int]) -> list[tuple[Grid, Grid | None]] | None:
    """A full sequence or a prompt -> its pairs (the prompt's query output is ``None``).

    The exact inverse of ``encode_sequence``; ``None`` for anything malformed. Never raises.
    """
    try:
        ids = [int(i) for i in ids]
    except (TypeError, ValueError):
        return None
    if not ids or ids[0] != BOS_ID:
        return None
    pairs: list[tuple[Grid, Grid | None]] = []
    pos = 1
    while True:
        if pos >= len(ids) or ids[pos] != IN_ID or OUT_ID not in ids[pos:]:
            return None
        out_pos = ids.index(OUT_ID, pos)
        inp = parse_grid(ids[pos + 1 : out_pos] + [EOS_ID])
        if inp is None:
            return None
        rest = ids[out_pos + 1 :]
        if not rest:  # a prompt: stops right after <out>
            pairs.append((inp, None))
            return pairs
        ends = [k for k, i in enumerate(rest) if i in (SEP_ID, EOS_ID)]
        if not ends:
            return None
        end = ends[0]
        out = parse_grid(rest[:end] + [EOS_ID])
        if out is None:
            return None
        pairs.append((inp, out))
        pos = out_pos + 1 + end + 1
        if rest[end] == EOS_ID:
            return pairs if pos == len(ids) else None


# ----------------------------------------------------------------------------------------------
# grid position ids

ROW_STRIDE = ARC_MAX_SIZE + 1  # a row: up to 30 cells and its <nl> (or the end token)
OUTPUT_OFFSET = 1024  # > 30 rows x 31: the output grid of a pair never overlaps its input grid
PAIR_STRIDE = 2 * OUTPUT_OFFSET
MAX_PAIRS = 11  # ARC tasks have at most 10 demonstrations, plus the query
MAX_GRID_POSITION = MAX_PAIRS * PAIR_STRIDE  # every grid position id is below this


class GridPositions:
    """Assigns grid position ids token by token (``feed(token) -> position``), for decoding.

    ``<bos>`` is 0; pair k's ``<in>`` is ``1 + k * PAIR_STRIDE`` = b, its input cells are at
    ``b + 1 + r * ROW_STRIDE + c``; ``<out>`` is ``b + OUTPUT_OFFSET``, the output cells at
    ``b + OUTPUT_OFFSET + 1 + r * ROW_STRIDE + c``. A ``<nl>`` / ``<sep>`` / ``<eos>`` takes the
    position of the cell that would follow the last one of its row. Unknown tokens count as cells.
    """

    def __init__(self):
        self.pair, self.base, self.row, self.col = -1, 0, 0, 0

    def feed(self, token: int) -> int:
        token = int(token)
        if token == BOS_ID:
            return 0
        if token == IN_ID:
            self.pair += 1  # (beyond MAX_PAIRS pairs the ids exceed MAX_GRID_POSITION; RoPE still computes)
            start = 1 + self.pair * PAIR_STRIDE
            self.base, self.row, self.col = start + 1, 0, 0
            return start
        if token == OUT_ID:
            start = 1 + max(self.pair, 0) * PAIR_STRIDE + OUTPUT_OFFSET
            self.base, self.row, self.col = start + 1, 0, 0
            return start
        pos = self.base + self.row * ROW_STRIDE + min(self.col, ARC_MAX_SIZE)
        if token == NL_ID:
            self.row, self.col = self.row + 1, 0
        elif token not in (SEP_ID, EOS_ID, PAD_ID):
            self.col += 1
        return pos


def grid_position_ids(ids: Sequence[int]) -> list[int]:
    """The grid position id of every token of a sequence or prompt (see ``GridPositions``)."""
    tracker = GridPositions()
    return [tracker.feed(t) for t in ids]


@functools.lru_cache(maxsize=1)
def get_tokenizer():
    """This vocabulary as a transformers ``PreTrainedTokenizerFast`` (WordLevel, whitespace split).

    It adds no special tokens on its own: ``<bos>``/``<eos>`` are part of the text.
    """
    from tokenizers import Tokenizer, decoders
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(WordLevel(vocab=dict(VOCAB), unk_token=UNK))
    core.pre_tokenizer = WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins tokens with single spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD
    )
