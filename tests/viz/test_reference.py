"""pard_ref.viz.reference: the committed results load, the noise formulas are right, and every figure
draws live and reference numbers that are the inputs' own (checked on the picture objects)."""

import math

import matplotlib
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.viz import reference

matplotlib.use("Agg")


def test_the_committed_results_load():
    for name in reference.REFERENCES:
        assert isinstance(reference.load_reference(name), dict)
    with pytest.raises(FileNotFoundError, match="docs"):
        reference.load_reference("no_such_result.json")


def test_wilson_interval():
    lo, hi = reference.wilson_interval(17, 100)
    assert lo < 0.17 < hi and lo == pytest.approx(0.1091, abs=1e-3) and hi == pytest.approx(0.2554, abs=1e-3)
    assert reference.wilson_interval(0, 10)[0] == 0.0 and reference.wilson_interval(10, 10)[1] == 1.0
    assert reference.wilson_interval(1, 4)[1] - reference.wilson_interval(1, 4)[0] > \
        reference.wilson_interval(25, 100)[1] - reference.wilson_interval(25, 100)[0]  # fewer tasks, wider
    with pytest.raises(ValueError):
        reference.wilson_interval(3, 2)


def test_standard_errors():
    per_prompt = {"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 2.0]}
    # var(a) = 1, var(b) = 0; SE of the mean of the two domain means = sqrt(1/3 + 0) / 2
    assert reference.tau_standard_error(per_prompt) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert reference.tau_standard_error(per_prompt, n_prompts=12) == pytest.approx(math.sqrt(1 / 12) / 2)
    with pytest.raises(ValueError, match="2 prompts"):
        reference.tau_standard_error({"a": [1.0]})
    assert reference.iteration_standard_error([1, 3]) == pytest.approx(math.sqrt(2) / math.sqrt(2))


def test_per_prompt_tau_with_a_draft_equal_to_the_target():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=2, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    target = LlamaForCausalLM(cfg).eval()
    prompts = {"x": [torch.tensor([[3, 4, 5]]), torch.tensor([[6, 7]])]}
    taus = reference.per_prompt_tau(target, target, prompts, method="ar", k=3, max_new_tokens=8)
    assert taus == {"x": [4.0, 4.0]}


def _cod(scale):
    def result(name, r, seconds, taus):
        return {"setting": {"name": name, "drop_ratio": r, "min_drop_ratio": 0.2}, "text_tokens": 1000,
                "seconds": seconds, "checkpoints": [{"text_tokens": 500 * (i + 1), "seconds": seconds * (i + 1) / 2,
                                                     "tau": {"mean": t}} for i, t in enumerate(taus)]}
    return {"config": {"scale": scale}, "draft_ar_tau": {"mean": 1.5},
            "results": [result("no-drop", 1.0, 10.0, [1.7, 1.9]), result("cod", 0.7, 4.0, [1.6, 1.85])]}


def test_cod_figure_numbers():
    live, ref = _cod("ci"), _cod("full")
    ref["results"][1]["seconds"] = 2.0
    pic = reference.cod_reference_figure(live, ref, live_se=0.05, reference_se=0.03)
    assert pic.curves["live", "cod"] == [(0, 1.5), (500, 1.6), (1000, 1.85)]
    assert pic.throughput["live", "cod"] == pytest.approx(250.0) and pic.throughput["reference", "no-drop"] == 100.0
    assert pic.cod_speedup == {"live": pytest.approx(2.5), "reference": pytest.approx(5.0)}
    assert len(pic.axes) == 2 and pic.se == {"live": 0.05, "reference": 0.03}
    matplotlib.pyplot.close("all")


def _rows(speed, taus):
    return [{"method": m, "target": "target-l", "domain": d, "speedup": speed[m],
             "accepted_lengths": None if m == "hf-greedy" else taus[m]}
            for m in ("hf-greedy", "ar", "pard") for d in ("code", "math")]


def test_bench_figure_numbers():
    live = _rows({"hf-greedy": 1.0, "ar": 0.8, "pard": 1.1}, {"ar": [1, 3], "pard": [1, 2]})
    ref = _rows({"hf-greedy": 1.0, "ar": 0.7, "pard": 1.0}, {"ar": [2, 2, 3, 1], "pard": [1, 1, 2, 2]})
    pic = reference.bench_reference_figure(live, ref, methods=("ar", "pard"))
    assert pic.speedup["live", "pard"] == pytest.approx(1.1) and pic.speedup["reference", "ar"] == pytest.approx(0.7)
    assert pic.tau["live", "ar"] == pytest.approx(2.0) and pic.tau["reference", "pard"] == pytest.approx(1.5)
    assert pic.tau_se["live", "pard"] == pytest.approx(reference.iteration_standard_error([1, 2, 1, 2]))
    matplotlib.pyplot.close("all")


def _ttt(ids, solved_ttt, nll):
    n = len(ids)
    per = {"base": [0.0] * n, "ttt": solved_ttt}
    return {"benchmarks": {"synthetic": {"n_tasks": n, "task_ids": ids, "per_task": per,
                                         "solved": {k: sum(v) for k, v in per.items()},
                                         "answer_nll": {"base": nll + 0.2, "ttt": nll}}}}


def test_ttt_figure_compares_the_same_tasks():
    ref = _ttt([f"t{i}" for i in range(10)], [1.0, 0.0, 1.0] + [0.0] * 7, 0.6)
    live = _ttt(["t0", "t1", "t2", "t3"], [0.0, 0.0, 1.0, 0.0], 0.7)
    pic = reference.ttt_reference_figure(live, ref, runs=("base", "ttt"))
    assert pic.same_tasks == 4
    assert pic.solved["live", "ttt"] == (1.0, 4)
    assert pic.solved["reference, same tasks", "ttt"] == (2.0, 4)   # the reference's score on t0..t3
    assert pic.solved["reference, all tasks", "ttt"] == (2.0, 10)
    assert pic.interval["live", "ttt"] == reference.wilson_interval(1, 4)
    assert pic.nll["live", "ttt"] == 0.7 and pic.nll["reference, all tasks", "base"] == pytest.approx(0.8)
    other = _ttt(["u0", "u1"], [1.0, 0.0], 0.5)  # tasks the reference never ran: no "same tasks" bars
    assert ("reference, same tasks", "ttt") not in reference.ttt_reference_figure(other, ref, runs=("ttt",)).solved
    matplotlib.pyplot.close("all")
