"""pard_ref.viz.family_loss: losses of several models on one text, the family's order, and the widget,
driven headlessly (setting a control's value runs the callback and stores ``result``)."""

import math

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.viz import family_loss

matplotlib.use("Agg")
VOCAB = 64


class ByteTok:
    """A stand-in tokenizer: one id per character (mod 60, offset 4), BOS = 1."""

    bos_token_id = 1

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [4 + ord(c) % 60 for c in text]}


def tiny(seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=2, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def models():
    return {"big": tiny(0), "mid": tiny(1), "small": tiny(2)}


def test_text_losses_are_the_mean_next_token_loss(models):
    tok = ByteTok()
    losses = family_loss.text_losses(models, tok, "hello")
    ids = torch.tensor([[1] + tok("hello")["input_ids"]])
    with torch.no_grad():
        logits = models["big"](input_ids=ids[:, :-1]).logits[0]
    assert losses["big"] == pytest.approx(float(F.cross_entropy(logits, ids[0, 1:])), abs=1e-6)
    assert set(losses) == set(models) and all(math.isfinite(v) for v in losses.values())
    assert family_loss.window_losses(models, ids)["mid"] == pytest.approx(losses["mid"], abs=1e-6)
    with pytest.raises(ValueError, match="non-empty"):
        family_loss.text_losses(models, tok, "   ")


def test_view_order_and_holds(models):
    view = family_loss.family_loss_view(models, ByteTok(), "abcabc", heldout={"code": {"big": 1, "mid": 2, "small": 3}})
    assert view.order == sorted(view.losses, key=view.losses.get)
    assert view.family_order == ["big", "mid", "small"] and view.holds == (view.order == ["big", "mid", "small"])
    assert view.n_tokens == 7
    ax = family_loss.draw_family_losses(view)
    assert len(ax.patches) == 3
    matplotlib.pyplot.close("all")


def test_widget_runs_the_real_function_headlessly(models):
    w = family_loss.family_loss_widget(models, ByteTok(), texts={"a": "first text", "b": "another one"}, default="a")
    box, picker = w.children[0], w.children[1]
    box.value = "a text typed by the student"
    assert w.result.text == "a text typed by the student"
    assert w.result.losses == family_loss.text_losses(models, ByteTok(), "a text typed by the student")
    picker.value = "b"  # choosing an example fills the box, which reruns the comparison
    assert box.value == "another one" and w.result.text == "another one"
    with pytest.raises(ValueError, match="default"):
        family_loss.family_loss_widget(models, ByteTok(), texts={"a": "x"}, default="zzz")
    matplotlib.pyplot.close("all")


def test_the_example_texts_are_not_the_corpus_phrasing():
    assert set(family_loss.EXAMPLE_TEXTS) == {"word problem", "about modules", "generator"}
    assert "Answer:" not in family_loss.EXAMPLE_TEXTS["word problem"]  # the math generator's answer line
