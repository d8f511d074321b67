"""The zoo quality gate on the ci scale (docs/zoo.md), so a regression fails CI.

Checked here, on the same held-out data and prompts as `python -m pard_ref zoo report`: (1) held-out
loss strictly ordered in every domain, target-l < target-m < target-s < draft-ar; (2) target-l's
greedy continuations of the held-out prompts are not degenerate: mean distinct-2 over 128 new tokens
>= 0.5 in every domain (all 24 prompts of each domain). The cost, agreement and math gates are
measured by `python -m pard_ref zoo report` (docs/zoo.md): timings do not belong in tests.
"""

import pytest

from pard_ref import zoo
from pard_ref.text import corpus
from pard_ref.text.tokenizer import encode_prompt
from pard_ref.training.lm import heldout_loss, token_stream
from pard_ref.zoo import gate as zoo_report


@pytest.fixture(scope="module")
def family(built_zoo):
    return {n: zoo.load(n, built_zoo, device="cpu") for n in zoo.TEXT_MODELS}


def test_distinct_n():
    assert zoo_report.distinct_n([1, 2, 3, 4]) == 1.0
    assert zoo_report.distinct_n([7, 7, 7, 7, 7]) == 0.25
    assert zoo_report.distinct_n([1, 2, 1, 2, 1, 2]) == 0.4


@pytest.mark.parametrize("domain", corpus.DOMAINS)
def test_heldout_loss_is_ordered(family, domain):
    tok = family["target-l"][1]
    stream = token_stream(tok, domain, "heldout")
    loss = {n: heldout_loss(m, stream, seq_len=128, max_tokens=16_384) for n, (m, _) in family.items()}
    assert loss["target-l"] < loss["target-m"] < loss["target-s"] < loss["draft-ar"], loss


@pytest.mark.parametrize("domain", corpus.DOMAINS)
def test_target_l_text_is_not_degenerate(family, domain):
    model, tok = family["target-l"]
    prompts = [r["prompt"] for r in corpus.load_eval_prompts(domain)]
    assert len(prompts) == corpus.EVAL_PROMPTS_PER_DOMAIN
    scores = [zoo_report.distinct_n(zoo_report.greedy_continuation(model, encode_prompt(tok, p)))
              for p in prompts]
    assert sum(scores) / len(scores) >= zoo_report.GATE_DISTINCT2, scores


def test_finished_models_record_their_finish(family, built_zoo):
    """A model whose recipe has a finish (target-l) carries the finish's log in its build record; others do not."""
    for name in zoo.TEXT_MODELS:
        rec = zoo.info(name, built_zoo)
        finish = zoo.SPECS[name].recipes[built_zoo].finish
        assert ("finish_log" in rec) == (finish is not None), name
        if finish is not None:
            log = rec["finish_log"]
            assert log["steps"][-1] == finish.steps - 1
            assert len(log["seq_unlikelihood"]) == len(log["steps"]) and all(v >= 0 for v in log["seq_unlikelihood"])


def test_greedy_continuation_has_the_asked_length(family):
    model, tok = family["draft-ar"]
    cont = zoo_report.greedy_continuation(model, encode_prompt(tok, "def f(x):"), new_tokens=20)
    assert len(cont) == 20 and all(isinstance(t, int) for t in cont)
