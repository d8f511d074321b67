"""pard_ref.ttt.serialize: lossless round trips (all of ARC-AGI-1, generated tasks), a strict parser."""

import pytest

from pard_ref.ttt import serialize as S
from pard_ref.ttt.generator import HELDOUT_FAMILIES, generate_tasks
from pard_ref.ttt.tasks import Task, load_arc


def _check_round_trip(task: Task):
    """Checks every test pair and every grid of ``task``; returns the full sequences for a tokenizer check."""
    sequences = []
    for i, (inp, out) in enumerate(task.test):
        full = S.encode_task(task, i, with_answer=True)
        prompt = S.encode_task(task, i)
        assert S.parse_sequence(full.ids) == list(task.train) + [(inp, out)]
        assert S.parse_sequence(prompt.ids) == list(task.train) + [(inp, None)]
        assert full.ids[: len(prompt)] == prompt.ids and prompt.ids[-1] == S.OUT_ID
        # the completion the model must produce parses back to the answer exactly
        assert S.parse_grid(full.ids[len(prompt) :]) == out
        assert len(full.ids) == len(full.pair) == len(full.is_output)
        sequences.append(full)
    for inp, out in task.train:
        for g in (inp, out):
            assert S.parse_grid(S.grid_to_ids(g) + [S.EOS_ID]) == g
            assert S.parse_grid_text(S.grid_to_text(g) + " <eos>") == g
    return sequences


def _check_tokenizer_agrees(sequences):
    """The transformers tokenizer maps every sequence's text to the same ids (one batched call)."""
    ids = S.get_tokenizer()([e.text for e in sequences], add_special_tokens=False).input_ids
    assert ids == [e.ids for e in sequences]


def test_round_trip_every_arc_agi_1_task():
    tasks = load_arc("all")
    assert max(t.max_side() for t in tasks) == 30  # the serializer handles the largest ARC grids
    _check_tokenizer_agrees([e for t in tasks for e in _check_round_trip(t)])


def test_round_trip_generated_tasks():
    tasks = generate_tasks(n=60, seed=1) + generate_tasks(HELDOUT_FAMILIES, n=26, seed=1)
    _check_tokenizer_agrees([e for t in tasks for e in _check_round_trip(t)])


def test_format_and_vocabulary():
    assert S.grid_to_text(((1, 2), (3, 4))) == "1 2 <nl> 3 4"
    t = Task("t", train=[(((1,),), ((2,),))], test=[(((3,),), ((4,),))])
    assert S.task_to_text(t, with_answer=True) == "<bos> <in> 1 <out> 2 <sep> <in> 3 <out> 4 <eos>"
    assert S.task_to_text(t) == "<bos> <in> 1 <out> 2 <sep> <in> 3 <out>"
    assert S.task_to_ids(t) == S.text_to_ids(S.task_to_text(t)) and S.task_to_ids(t, with_answer=True)[-1] == S.EOS_ID
    tok = S.get_tokenizer()
    assert len(tok) == len(S.VOCAB) == 18
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (S.PAD_ID, S.BOS_ID, S.EOS_ID)
    assert tok.decode(S.text_to_ids("1 2 <nl> 3 4 <eos>")) == "1 2 <nl> 3 4 <eos>"
    assert S.max_grid_tokens(10) == 110
    with pytest.raises(ValueError, match="no known output"):
        S.encode_task(Task("u", train=[(((1,),), ((2,),))], test=[(((3,),), None)]), with_answer=True)


def test_roles_mark_outputs_and_their_terminators():
    t = Task("t", train=[(((1, 1),), ((2,), (2,)))], test=[(((3,),), ((4, 4),))])
    enc = S.encode_task(t, with_answer=True)
    # <bos> <in> 1 1 <out> 2 <nl> 2 <sep> <in> 3 <out> 4 4 <eos>
    assert enc.text == "<bos> <in> 1 1 <out> 2 <nl> 2 <sep> <in> 3 <out> 4 4 <eos>"
    assert [S.ID_TO_TOKEN[i] for i, o in zip(enc.ids, enc.is_output) if o] == ["2", "<nl>", "2", "<sep>", "4", "4", "<eos>"]
    assert enc.pair == [-1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert enc.n_pairs == 2 and enc.complete and not S.encode_task(t).complete


@pytest.mark.parametrize(
    "text",
    [
        "1 2 <nl> 3 4",  # no <eos>
        "1 2 <nl> 3 <eos>",  # ragged rows
        "1 2 <nl> <nl> 3 4 <eos>",  # empty row
        "1 2 <nl> <eos>",  # trailing row separator
        "<nl> 1 2 <eos>",  # leading row separator
        "<eos>",  # empty grid
        "1 <out> 2 <eos>",  # stray marker
        "1 <bos> 2 <eos>",
        "1 <pad> <eos>",
        "1 foo <eos>",  # unknown word -> <unk>
        "",
    ],
)
def test_malformed_completions_parse_to_none(text):
    assert S.parse_grid_text(text) is None


def test_parser_never_raises_and_respects_limits():
    assert S.parse_grid([S.COLOUR_IDS[1]] * 31 + [S.EOS_ID]) is None  # 1x31 > 30
    assert S.parse_grid([S.COLOUR_IDS[1]] * 11 + [S.EOS_ID], max_size=10) is None
    assert S.parse_grid([S.COLOUR_IDS[1]] * 10 + [S.EOS_ID], max_size=10) == ((1,) * 10,)
    assert S.parse_grid([S.COLOUR_IDS[5], S.EOS_ID, S.COLOUR_IDS[7], S.PAD_ID]) == ((5,),)  # after <eos>: ignored
    for junk in ([10**9, S.EOS_ID], [-1, S.EOS_ID], ["a", S.EOS_ID], [None], None, 3, [[1, 2]]):
        assert S.parse_grid(junk) is None
        assert S.parse_sequence(junk) is None
    assert S.parse_grid_text(None) is None
    for bad in ("<in> 1 <out> 1 <eos>", "<bos> <in> 1 <out> 1", "<bos> <in> 1 <out> 1 <eos> 1",
                "<bos> <in> <out> 1 <eos>", "<bos> <in> 1 <out> 1 <sep>", "<bos>"):
        assert S.parse_sequence(S.text_to_ids(bad)) is None, bad


def test_grid_position_ids():
    task = Task("p", train=[(((1, 2, 3), (4, 5, 6)), ((7, 8, 9), (1, 2, 3)))],
                test=[(((1, 1), (2, 2)), ((3, 3), (4, 4)))])
    enc = S.encode_task(task, with_answer=True)
    pos = S.grid_position_ids(enc.ids)
    assert len(pos) == len(enc.ids) and pos[0] == 0
    tokens = enc.text.split()
    # cell (r, c) of an output sits exactly OUTPUT_OFFSET after cell (r, c) of its input; rows are ROW_STRIDE
    # apart; the same cell one pair later is PAIR_STRIDE later
    cells = {}
    pair, part, r, c = -1, None, 0, 0
    for tok, p in zip(tokens, pos):
        if tok == "<in>":
            pair, part, r, c = pair + 1, "in", 0, 0
        elif tok == "<out>":
            part, r, c = "out", 0, 0
        elif tok == "<nl>":
            r, c = r + 1, 0
        elif tok.isdigit():
            cells[(pair, part, r, c)] = p
            c += 1
    for (k, part, r, c), p in cells.items():
        if part == "out":
            assert p - cells[(k, "in", r, c)] == S.OUTPUT_OFFSET
        if r:
            assert p - cells[(k, part, r - 1, c)] == S.ROW_STRIDE
    assert cells[(1, "in", 0, 0)] - cells[(0, "in", 0, 0)] == S.PAIR_STRIDE
    assert len(set(pos)) == len(pos) and max(pos) < S.MAX_GRID_POSITION
    # the incremental tracker gives the same ids, and a prompt's ids are a prefix of the full sequence's
    tracker = S.GridPositions()
    assert [tracker.feed(t) for t in enc.ids] == pos
    prompt = S.encode_task(task)
    assert S.grid_position_ids(prompt.ids) == pos[: len(prompt)]
