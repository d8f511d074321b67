"""pard_ref.bench at a tiny ci setting: correctness only, never timing.

Checked: every method (transformers greedy / assisted / prompt lookup, pard_ref none / ar / pard)
produces hf-greedy's tokens on every target, and a plain no-cache argmax loop agrees; a corrupted
method IS reported as a mismatch; rows carry their fields with values inside their limits; calls and
accepted lengths counted by the hooks equal the engine's own stats; the bound is the spec's formula
of the measured costs; markdown, JSON, plots and the command line work, and bad input is refused with
a clear message.
"""

import math

import matplotlib
import pytest
import torch

from pard_ref import cli, generate
from pard_ref.bench import decoding as bench
from pard_ref.bench import methods
from pard_ref.bench.drafting_cost import speedup_bound

matplotlib.use("Agg")

N, K = 10, bench.zoo.PARD_K


@pytest.fixture(scope="module")
def models(built_zoo):
    return bench.load_models(built_zoo)


@pytest.fixture(scope="module")
def result(built_zoo, models):
    return bench.run(built_zoo, prompts_per_domain=1, max_new_tokens=N, repeats=1, progress=False, models=models)


def test_every_method_gives_greedy_tokens_on_every_target(result):
    assert result.mismatches == [], bench.format_markdown(result)
    assert {(r["method"], r["target"]) for r in result.rows} == {(m, t) for m in bench.METHODS for t in bench.TARGETS}
    assert all(r["same_tokens"] for r in result.rows)


def test_greedy_reference_is_a_plain_argmax_loop(models):
    """hf-greedy and pard are checked against the simplest possible greedy decoder (no cache)."""
    target = models["target-l"]
    ids = bench._prompts(models["tokenizer"], ["code"], 1)["code"][0][1]
    seq = ids.clone()
    with torch.inference_mode():
        for _ in range(N):
            seq = torch.cat([seq, target(seq).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        with methods.hf_settings(models, K):
            for method in ("hf-greedy", "pard"):
                assert torch.equal(methods.generate_with(method, target, models, ids, K, N), seq[0, ids.shape[1]:])


def test_a_changed_token_is_reported(built_zoo, models, monkeypatch):
    real = methods.generate_with

    def corrupt(method, *args):
        tokens = real(method, *args)
        if method == "pard":
            tokens = tokens.clone()
            tokens[2] = (tokens[2] + 1) % 100
        return tokens

    monkeypatch.setattr(methods, "generate_with", corrupt)
    res = bench.run(built_zoo, targets=["target-s"], methods=["hf-greedy", "pard"], domains=["math"],
                    prompts_per_domain=1, max_new_tokens=4, repeats=1, progress=False, models=models)
    assert [(x["method"], x["first_difference"]) for x in res.mismatches] == [("pard", 2)]
    assert res.row("pard", "target-s", "math")["same_tokens"] is False
    assert "**NO**" in bench.format_markdown(res) and "differ from hf-greedy" in bench.format_markdown(res)


def test_rows_have_their_fields_and_limits(result):
    for r in result.rows:
        for key in ("method", "target", "domain", "tokens_per_second", "speedup", "mean_accepted_length", "draft_calls",
                    "target_calls", "bound", "same_tokens", "accepted_lengths"):
            assert key in r
        assert r["tokens_per_second"] > 0 and r["new_tokens"] == N
        if r["method"] == "hf-greedy":
            assert r["speedup"] == 1.0
        if r["method"] in bench.PLAIN:
            assert r["mean_accepted_length"] is None and r["target_calls"] == N and r["draft_calls"] == 0
        else:
            assert sum(r["accepted_lengths"]) == N and len(r["accepted_lengths"]) == r["target_calls"]
            assert 1 <= r["mean_accepted_length"] <= K + 1
        if r["method"] == "hf-prompt-lookup":
            assert r["draft_calls"] == 0 and r["bound"] is None
    # transformers' assisted generation and pard_ref's AR draft run the same algorithm with the same draft
    for t in bench.TARGETS:
        for d in bench.DOMAINS:
            a, b = result.row("hf-assisted", t, d), result.row("ar", t, d)
            assert a["accepted_lengths"] == b["accepted_lengths"] and a["draft_calls"] == b["draft_calls"]


def test_hook_counts_match_the_engine_stats(models):
    ids = bench._prompts(models["tokenizer"], ["prose"], 1)["prose"][0][1]
    nets = {n: m for n, m in models.items() if n != "tokenizer"}
    counter = methods.CallCounter(nets)
    try:
        for method, draft in (("ar", "draft-ar"), ("pard", "draft-pard")):
            counter.reset()
            out = generate(models["target-m"], ids, draft=models[draft], method=method, k=K, max_new_tokens=N)
            assert counter.calls["target-m"] == out.stats.target_calls
            assert counter.calls[draft] == out.stats.draft_calls
            got = methods.accepted_from_cache_lengths(counter.cache_lengths["target-m"], ids.shape[1], ids.shape[1] + N)
            assert got == out.stats.accepted_lengths
    finally:
        counter.close()


def test_bound_is_the_formula_of_the_measured_costs(result):
    for r in result.rows:
        if r["bound"] is None:
            continue
        assert math.isfinite(r["bound"]) and r["bound"] > 0 and 0 < r["of_bound"]
        c = result.costs["by_domain"][r["domain"]]  # the costs measured in this domain's rounds
        t = c["target"][r["target"]]
        draft_ms = c["draft"]["pard" if r["method"] == "pard" else "ar"][K]
        assert r["bound"] == pytest.approx(speedup_bound(r["mean_accepted_length"], t[1], t[K + 1], draft_ms))
        base = result.row("hf-greedy", r["target"], r["domain"])["tokens_per_second"]
        assert r["forwards_only_speedup"] == pytest.approx(r["bound_tokens_per_second"] / base)
    assert {r["method"] for r in result.rows if r["bound"] is not None} == {"hf-assisted", "ar", "pard"}


def test_markdown_json_and_goals(result):
    md = bench.format_markdown(result)
    for name in (*bench.METHODS, *bench.TARGETS, "Average over domains", "Goals", "Per-call costs"):
        assert name in md
    assert "Every method produced exactly hf-greedy's tokens" in md
    back = bench.BenchResult.from_json(result.to_json())
    assert back.rows == result.rows and back.costs == result.costs
    assert bench.format_markdown(back) == md
    gs = bench.goals(result)
    assert len(gs) == 5 and all(g["target"] == "target-l" for g in gs)
    assert all(g["met"] is None or g["met"] == (g["value"] >= g["threshold"]) for g in gs if g["value"] is not None)


def test_plots_and_k_sweep(built_zoo, models, result):
    ax = bench.plot_speedup(result, "target-l")
    assert len(ax.patches) == len(bench.METHODS) * (len(bench.DOMAINS) + 1)
    ax = bench.plot_accepted_histogram(result, "target-m")
    assert ax.patches and ax.get_legend() is not None
    with pytest.raises(ValueError, match="no rows for target"):
        bench.plot_speedup(result, "target-xl")
    rows = bench.k_sweep(built_zoo, "target-s", ks=[1, 3], domains=["code"], max_new_tokens=6, progress=False,
                         models=models)
    assert [(r["method"], r["k"]) for r in rows] == [("ar", 1), ("ar", 3), ("pard", 1), ("pard", 3)]
    assert all(r["same_tokens"] and r["bound"] > 0 and 1 <= r["mean_accepted_length"] <= r["k"] + 1 for r in rows)
    ax = bench.plot_k_sweep(rows)
    assert len(ax.lines) == 2 * 2 + 1  # measured + bound per method, the 1x line


def test_command_writes_table_json_and_plots(tmp_path, capsys):
    code = cli.main(["bench", "--scale", "ci", "--targets", "target-s", "--domains", "math", "--prompts", "1",
                     "--max-new-tokens", "6", "--repeats", "1", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| target-s | math | pard |" in out and "K sweep" in out
    assert {p.name for p in tmp_path.iterdir()} == {"bench.md", "bench.json", "bench_speedup.png", "bench_accepted.png",
                                                   "bench_k_sweep.png"}


@pytest.mark.parametrize("argv, message", [
    (["--methods", "beam"], "invalid choice: 'beam'"),
    (["--targets", "target-xl"], "invalid choice: 'target-xl'"),
    (["--domains", "poetry"], "invalid choice: 'poetry'"),
])
def test_command_refuses_unknown_names(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--scale", "ci", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--k", "0"], "k must be an integer >= 1, got 0"),
    (["--prompts", "0"], "prompts_per_domain must be an integer >= 1"),
    (["--prompts", "999"], "prompts_per_domain=999 but domain"),
    (["--max-new-tokens", "-3"], "max_new_tokens must be an integer >= 1"),
])
def test_command_refuses_bad_numbers(argv, message, capsys):
    assert cli.main(["bench", "--scale", "ci", "--no-k-sweep", "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err


def test_function_refuses_bad_names():
    with pytest.raises(ValueError, match="unknown method 'beam': choose from hf-greedy"):
        bench.run("ci", methods=["pard", "beam"])
    with pytest.raises(ValueError, match="unknown target 'target-xl'"):
        bench.k_sweep("ci", target="target-xl")
    with pytest.raises(ValueError, match="every K must be an integer >= 1"):
        bench.k_sweep("ci", ks=[0, 2])
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        bench.run("huge")
