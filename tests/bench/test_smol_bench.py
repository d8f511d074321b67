"""The benchmark's smol family at a tiny ci setting: correctness only, never timing.

Checked on the real smol-target (converted by `python -m pard_ref zoo build smol-target`; make test
does it): the family runs hf-greedy, pard_ref none and prompt lookup on the chat prompts' test split in
the chat template, in float32 with hf-greedy's tokens, with the per-call cost table at 1/4/9/13/17 tokens
(the zoo's target-l measured beside it);
a divergence is reported with the target's top-2 logit gap there; drafted methods without a draft in
the registry and domains of another family are refused with a clear message.
"""

import dataclasses

import pytest

from pard_ref import cli
from pard_ref.bench import decoding as bench
from pard_ref.bench import methods
from pard_ref.zoo import smol

N = 6


@pytest.fixture(scope="module")
def fp32_models(built_zoo):
    if not smol.is_converted():
        pytest.fail(f"smol-target is not converted: run `{smol.CONVERT_COMMAND}` (make test does this)")
    return bench.load_models("ci", family="smol", dtype="float32")


def test_smol_family_rows_tokens_and_cost_table(fp32_models):
    res = bench.run("ci", domains=["code"], max_new_tokens=N, progress=False, models=fp32_models, family="smol")
    assert res.settings["family"] == "smol" and res.settings["dtype"] == "float32"
    have = set(bench.available_methods("smol", "ci", built=True))  # the drafted ones once their drafts are built
    assert {"hf-greedy", "none", "hf-prompt-lookup"} <= have and set(res.settings["methods"]) == have
    assert {r["method"] for r in res.rows} == have and all(r["domain"] == "code" for r in res.rows)
    assert res.mismatches == [] and all(r["same_tokens"] for r in res.rows), bench.format_markdown(res)
    assert res.settings["prompt_ids"] == {"code": [smol.eval_prompts("code", "test")[0]["id"]]}
    assert sorted(res.costs["target"]["smol-target"]) == [1, 4, 9, 13, 17]
    # the zoo's largest target, measured beside it in the same passes (not run)
    assert sorted(res.costs["target"]["target-l (ci)"]) == [1, 4, 9, 13, 17]
    assert {r["target"] for r in res.rows} == {"smol-target"}
    md = bench.format_markdown(res)
    assert "family `smol`" in md and "17 tokens" in md and "Goals" not in md
    assert "| target-l (ci), for comparison (not run) forward |" in md
    both = bench.format_cost_comparison([res, res])
    assert both.count("| smol-target | float32 | ") == 2


def test_a_divergence_is_reported_with_the_top2_gap(fp32_models, monkeypatch):
    real = methods.generate_with

    def corrupt(method, *args):
        tokens = real(method, *args)
        if method == "none":
            tokens = tokens.clone()
            tokens[2] = (tokens[2] + 1) % 49152
        return tokens

    monkeypatch.setattr(methods, "generate_with", corrupt)
    res = bench.run("ci", methods=["hf-greedy", "none"], domains=["math"], max_new_tokens=4, progress=False,
                    models=fp32_models, family="smol")
    (x,) = res.mismatches
    assert (x["method"], x["first_difference"], x["method_token"]) == ("none", 2, (x["hf_token"] + 1) % 49152)
    # the gap is read where hf-greedy chose its token: in float32 that token is the target's argmax there
    assert x["top2_tokens"][0] == x["hf_token"] and x["top2_gap"] >= 0 and x["ulp"] > 0
    assert "logit gap" in bench.format_markdown(res)


def test_the_command_runs_the_family_and_refuses_what_it_lacks(fp32_models, capsys, monkeypatch):
    assert cli.main(["bench", "--family", "smol", "--scale", "ci", "--domains", "chat", "--max-new-tokens", "3",
                     "--dtype", "float32", "bfloat16", "--no-k-sweep", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "family `smol` (smol-target), float32" in out and "family `smol` (smol-target), bfloat16" in out
    assert "Per-call costs by dtype" in out
    # a drafted method whose draft the registry lacks is refused by the draft's name
    fam = bench.FAMILIES["smol"]
    monkeypatch.setitem(bench.FAMILIES, "smol", dataclasses.replace(fam, drafts={"draft-ar": "no-such-ar",
                                                                                 "draft-pard": "no-such-pard"}))
    assert bench.available_methods("smol") == ("hf-greedy", "none", "hf-prompt-lookup")
    assert cli.main(["bench", "--family", "smol", "--scale", "ci", "--methods", "none", "pard"]) == 2
    assert "need the draft(s) no-such-pard, which the model registry does not have" in capsys.readouterr().err
    assert cli.main(["bench", "--family", "smol", "--scale", "ci", "--domains", "prose"]) == 2
    assert "unknown domain 'prose'" in capsys.readouterr().err
