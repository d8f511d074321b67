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


def test_arc_selection_all_is_every_eligible_task_shortest_first():
    every = B.arc_tasks(B.config_for("full", n_arc=None))
    assert len(every) == 77 and len({t.id for t in every}) == 77  # the ARC-AGI-1 eval tasks with grids <= 10x10
    assert all(max(len(g) for p in t.train + t.test for g in p if g) <= 10 for t in every)
    assert [t.id for t in B.arc_tasks(B.config_for("full"))] == [t.id for t in every[:10]]  # the default 10
    with pytest.raises(ValueError, match="77 ARC-AGI-1 evaluation tasks"):
        B.arc_tasks(B.config_for("full", n_arc=78))


def test_bench_options():
    cfg, parts = B.bench_options("full")
    assert parts == B.PARTS and cfg == B.config_for("full")  # no options: the 20-minute ablation, unchanged
    cfg, parts = B.bench_options("full", "arc", "all", "ttt,base")
    assert parts == ("arc",) and cfg.n_arc is None and cfg.runs == ("base", "ttt")  # canonical order
    cfg, parts = B.bench_options("ci", "arc,synthetic", "5")
    assert parts == ("synthetic", "arc") and cfg.n_arc == 5 and cfg.runs == B.RUNS
    bad = [({"n_arc": "0"}, "number >= 1"), ({"n_arc": "-3"}, "number >= 1"),
           ({"n_arc": "ten"}, "use 'all' or a positive number"), ({"n_arc": "78"}, "from 1 to 77"),
           ({"parts": "arc,foo"}, "unknown name.*'foo'"), ({"parts": ""}, "comma-separated list"),
           ({"parts": "arc,arc"}, "twice"), ({"parts": "synthetic", "n_arc": "all"}, "would be ignored"),
           ({"runs": "vote_flat"}, "unknown name.*vote_flat"), ({"runs": "base,"}, "comma-separated")]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            B.bench_options("ci", **kwargs)
    with pytest.raises(ValueError, match="unknown scale"):
        B.bench_options("huge")
    assert B.default_out_dir("full", ("arc",)).name == "ttt_bench-full-arc"
    assert B.default_out_dir("full").name == "ttt_bench-full"


def test_cli_rejects_bad_options_before_loading_anything(capsys, monkeypatch):
    from pard_ref import cli

    monkeypatch.setattr(B, "run_bench", lambda *a, **k: pytest.fail("ran despite a bad option"))
    for argv, message in ((["--arc-tasks", "0"], "--arc-tasks 0"), (["--parts", "arcs"], "'arcs'"),
                          (["--parts", "synthetic", "--arc-tasks", "3"], "would be ignored"),
                          (["--runs", "oracle"], "'oracle'")):
        assert cli.main(["ttt-bench", "--scale", "ci", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ttt-bench: error:") and message in err and "Traceback" not in err


def test_one_part_and_some_runs_with_partial_saves():
    model = tiny_llama(hidden_size=32, num_layers=1, init_std=0.5)
    s = TTTSettings(max_examples=2, augmentations_per_task=1, epochs=1, batch_size=2, lora_rank=2, n_orders=1)
    cfg = B.BenchConfig(n_synthetic=2, n_arc=2, settings=s, runs=("base", "ttt"))
    seen = []
    out = B.run_bench("ci", model=model, cfg=cfg, progress=False, benchmarks=("arc",),
                      on_update=lambda r: seen.append((r["complete"], sorted(r["benchmarks"]["arc"]["seconds"]))))
    assert seen == [(False, ["base"]), (False, ["base", "ttt"])] and out["complete"]
    r = out["benchmarks"]["arc"]
    assert list(out["benchmarks"]) == ["arc"] and r["n_tasks"] == 2 and r["n_eligible"] == 77
    assert set(r["solved"]) == {"base", "ttt", "vote_untransformed", "vote_flat", "vote_hierarchical", "vote_oracle"}
    assert all(len(v) == 2 for v in r["per_task_answer_nll"].values())
    table = B.markdown_table(out)
    assert "ARC-AGI-1 eval (2 shortest of 77 with grids <=10x10)" in table
    assert "| TTT without augmentations | - |" in table  # not run: a dash, never a made-up 0
    with pytest.raises(ValueError, match="non-empty subset"):
        B.run_bench("ci", model=model, cfg=cfg, progress=False, benchmarks=("arc", "nope"))


def test_cli_arc_part_at_ci_scale(tmp_path, capsys):
    """The real command at ci scale (zoo arc-base ci): --parts arc --arc-tasks 2, two runs."""
    import json

    from pard_ref import cli

    assert cli.main(["ttt-bench", "--scale", "ci", "--parts", "arc", "--arc-tasks", "2", "--runs", "base,ttt",
                     "--out", str(tmp_path), "--no-progress"]) == 0
    result = json.loads((tmp_path / "ttt_bench.json").read_text())
    assert result["complete"] and list(result["benchmarks"]) == ["arc"]
    assert result["options"] == {"parts": ["arc"], "arc_tasks": 2, "runs": ["base", "ttt"]}
    arc = result["benchmarks"]["arc"]
    assert arc["task_ids"] == [t.id for t in B.eligible_arc_tasks()[:2]]
    assert set(arc["seconds"]) == {"base", "ttt"} and arc["mean_examples"]["ttt"] > 0
    assert "ARC-AGI-1 eval (2 shortest of 77" in (tmp_path / "ttt_bench.md").read_text()
    assert "runs base,ttt" in capsys.readouterr().out


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
