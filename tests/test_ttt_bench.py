"""pard_ref.ttt.bench (table formatting, a one-task run on a tiny model) and pard_ref.ttt.plot."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from pard_ref.ttt import bench as B  # noqa: E402
from pard_ref.ttt import plot  # noqa: E402
from pard_ref.ttt.adapt import tiny_llama  # noqa: E402
from pard_ref.ttt.augment import SYMMETRIES  # noqa: E402
from pard_ref.ttt.generator import generate_task  # noqa: E402
from pard_ref.ttt.pipeline import TTTSettings  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    plt.close("all")
    torch.set_num_threads(before)


def _fake(solved_base=1, solved_ttt=3, n=10):
    solved = {k: 0 for k, *_ in B.ROWS} | {"base": solved_base, "ttt": solved_ttt, "vote_hierarchical": solved_ttt,
                                           "vote_oracle": 4.5}
    run = {"n_tasks": n, "solved": solved, "seconds": {r: 1.0 for r in B.RUNS},
           "mean_examples": {r: 2.0 for r in B.RUNS}, "answer_nll": {r: 0.5 for r in B.RUNS}}
    return {"benchmarks": {"synthetic": run, "arc": dict(run, solved=dict(solved, base=0))}}


def test_markdown_table():
    text = B.markdown_table(_fake())
    lines = text.splitlines()
    assert lines[0].startswith("| setting | held-out synthetic | ARC-AGI-1")
    assert len(lines) == 2 + len(B.ROWS) + 1
    assert "| base model (no TTT) | 1/10 (10.0%) | 0/10 (0.0%) |" in lines
    assert "| vote: oracle | 4.5/10 (45.0%) | 4.5/10 (45.0%) |" in lines
    assert lines[-1] == "| TTT / base | 3.0x | - |"  # no ratio against a base of 0
    assert B.timing_table(_fake()).count("\n") == 1 + len(B.RUNS)


def test_bench_runs_every_row_on_a_tiny_model():
    model = tiny_llama(hidden_size=32, num_layers=1, init_std=0.5)
    s = TTTSettings(max_examples=2, augmentations_per_task=1, epochs=1, batch_size=2, lora_rank=2, n_orders=1,
                    max_size=6)
    cfg = B.BenchConfig(n_synthetic=2, n_arc=1, settings=s)
    out = B.run_bench("ci", model=model, cfg=cfg, progress=False)
    for name, n in (("synthetic", 2), ("arc", 1)):
        r = out["benchmarks"][name]
        assert r["n_tasks"] == n and set(r["solved"]) == {k for k, *_ in B.ROWS}
        assert all(len(v) == n for v in r["per_task"].values())
    assert out["benchmarks"]["arc"]["task_ids"] == ["66e6c45b"]  # the shortest eval task <= 10x10
    assert "held-out synthetic" in B.markdown_table(out)


def test_plots_return_what_they_drew():
    task = generate_task("flip", [0, 1], max_side=6)
    pic = plot.show_task(task)
    assert pic.rows[: len(task.train)] == list(task.train) and pic.labels[-1] == "test 0"
    aug = plot.show_augmentations(task.train[0][0])
    assert set(aug.transformed) == set(SYMMETRIES) and all(g == task.train[0][0] for g in aug.restored.values())
    A, B_ = ((1, 2),), ((3, 4),)
    cp = plot.show_candidates({"identity": [A, A, None], "transpose": [None]}, [A, B_], answer=A)
    assert cp.counts["identity"][A] == 2 and cp.attempts == [A, B_]
    browser = plot.task_browser([task, generate_task("rotate", [0, 2], max_side=6)])
    browser.children[0].value = 1
    assert browser.result.rows[0] != pic.rows[0] and "1:" in browser.result.fig._suptitle.get_text()
