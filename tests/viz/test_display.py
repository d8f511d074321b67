"""pard_ref.viz.display: the spans behind the notebooks' accepted / rejected / bonus pictures.

The output text of a decoding run must be exactly the accepted and bonus spans, in order; every
proposal of an iteration must appear once (accepted, rejected or discarded); the HTML must carry one
element per span with the kind as its class, and escape the token text.
"""

import re

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref import SpeculativeDecoder
from pard_ref.decoding import StepRecord
from pard_ref.viz.display import (
    KINDS, Span, decoding_html, decoding_spans, iterations_html, legend_html, output_tokens, spans_html, step_spans
)


class FakeTok:
    """Decodes id i to a fixed string, enough to test rendering."""

    table = {0: "a", 1: " b", 2: "\n", 3: "<&>", 4: " ", 5: "c"}

    def decode(self, ids):
        return "".join(self.table.get(i, f"[{i}]") for i in ids)


def record(proposals, accepted, bonus, emitted=None, iteration=1):
    emitted = proposals[:accepted] + [bonus] if emitted is None else emitted
    return StepRecord(iteration=iteration, proposals=proposals, accepted=accepted, bonus=bonus, emitted=emitted,
                      finished=False, stop_reason=None, draft_seconds=0.0, target_seconds=0.0)


def kinds(spans):
    return [s.kind for s in spans]


def test_partial_acceptance_orders_accepted_rejected_discarded_bonus():
    spans = step_spans(FakeTok(), record([0, 1, 5, 3], accepted=1, bonus=2, iteration=7))
    assert kinds(spans) == ["accepted", "rejected", "discarded", "discarded", "bonus"]
    assert [s.token for s in spans] == [0, 1, 5, 3, 2]
    assert all(s.iteration == 7 for s in spans)
    assert output_tokens(spans) == [0, 2]


def test_all_accepted_and_none_accepted():
    assert kinds(step_spans(None, record([0, 1], accepted=2, bonus=5))) == ["accepted", "accepted", "bonus"]
    assert kinds(step_spans(None, record([0, 1], accepted=0, bonus=5))) == ["rejected", "discarded", "bonus"]


def test_plain_decoding_step_is_a_bonus():
    assert kinds(step_spans(None, record([], accepted=0, bonus=4))) == ["bonus"]


def test_truncated_iteration_shows_only_emitted_tokens():
    # EOS (or max_new_tokens) cut the block after the first accepted proposal
    spans = step_spans(None, record([0, 1, 5], accepted=3, bonus=2, emitted=[0]))
    assert kinds(spans) == ["accepted"] and output_tokens(spans) == [0]
    # cut exactly at the bonus: nothing is lost
    spans = step_spans(None, record([0, 1], accepted=1, bonus=2, emitted=[0, 2]))
    assert kinds(spans) == ["accepted", "rejected", "bonus"]


def test_html_has_one_element_per_span_and_escapes_text():
    spans = decoding_spans(FakeTok(), torch.tensor([[0, 1]]), [record([3, 2], accepted=1, bonus=4)])
    assert kinds(spans) == ["prompt", "prompt", "accepted", "rejected", "bonus"]
    out = spans_html(spans)
    assert len(re.findall(r'<span class="pard-', out)) == len(spans)
    assert "&lt;&amp;&gt;" in out and "<&>" not in out  # the token text "<&>" is escaped
    assert "\u21b5" in out  # the rejected newline token is made visible
    assert "\u2423" in out  # so is the space-only bonus token
    for kind in ("prompt", "accepted", "rejected", "bonus"):
        assert f'class="pard-{kind}"' in out


def test_legend_and_views_render():
    assert all(f"pard-{k}" in legend_html() for k in ("accepted", "rejected", "discarded", "bonus"))
    recs = [record([0, 1], accepted=2, bonus=5, iteration=1), record([3, 0], accepted=0, bonus=1, iteration=2)]
    full = decoding_html(FakeTok(), [0], recs)
    assert "pard-discarded" in full and full.startswith("<div")
    only_output = decoding_html(FakeTok(), [0], recs, show_rejected=False, legend=False)
    assert "pard-rejected" not in only_output
    table = iterations_html(FakeTok(), recs)
    assert table.count("<tr>") == 3
    assert iterations_html(FakeTok(), recs, last=1).count("<tr>") == 2


def test_every_kind_has_a_colour():
    from pard_ref.viz.display import COLOURS

    assert set(COLOURS) == set(KINDS)
    assert Span(0, "x", "bonus").in_output and not Span(0, "x", "rejected").in_output


def tiny_llama(seed, layers=1, vocab=48):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).to(torch.float64).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


@pytest.mark.parametrize("method", ["ar", "pard"])
def test_spans_of_a_real_run_reproduce_its_output(method):
    target, draft = tiny_llama(0, layers=2), tiny_llama(1)
    prompt = torch.tensor([[5, 9, 11, 3, 7]])
    dec = SpeculativeDecoder(target, prompt, draft=draft, method=method, k=3, max_new_tokens=17, mask_token_id=47)
    records = list(dec)
    spans = decoding_spans(None, prompt, records)
    assert output_tokens(spans) == dec.sequences[0, prompt.shape[1]:].tolist()
    proposals = [s for s in spans if s.kind in ("accepted", "rejected", "discarded")]
    # every proposal appears once, except those of a truncated last iteration
    assert len(proposals) <= sum(len(r.proposals) for r in records)
    assert len(proposals) >= sum(len(r.proposals) for r in records[:-1])


def test_a_bar_marks_the_first_token_of_each_iteration():
    recs = [record([0, 1], accepted=2, bonus=5, iteration=1), record([3, 0], accepted=0, bonus=1, iteration=2)]
    out = spans_html(decoding_spans(FakeTok(), [0, 1], recs))
    assert out.count("border-left") == 2  # iterations 1 and 2; none inside the prompt
