"""pard_ref.ttt.adapt: the masked loss, the training loop's settings, cached greedy decoding."""

import math

import pytest
import torch
import torch.nn.functional as F

from pard_ref.ttt import serialize as S
from pard_ref.ttt.adapt import IGNORE, collate, greedy_decode, masked_lm_loss, predict_grid, tiny_llama, train_lora
from pard_ref.ttt.loo import TrainingExample
from pard_ref.ttt.lora import apply_lora, get_lora_state, reset_lora

SHORT = TrainingExample("a", [1, 4, 9, 5, 10, 2], [False, False, False, False, True, True])
LONG = TrainingExample("b", [1, 4, 9, 9, 7, 9, 9, 5, 11, 11, 7, 11, 11, 2], [False] * 8 + [True] * 6)



def test_collate_pads_right_and_masks_labels():
    ids, attn, labels = collate([SHORT, LONG], "cpu")
    assert ids.shape == (2, 14) and ids[0, 6:].eq(S.PAD_ID).all() and attn[0].tolist() == [1] * 6 + [0] * 8
    assert labels[0].tolist() == [IGNORE] * 4 + [10, 2] + [IGNORE] * 8
    assert labels[1, 8:].tolist() == LONG.ids[8:]
    with pytest.raises(ValueError, match="mask"):
        collate([TrainingExample("c", [1, 2], [True])], "cpu")


def test_masked_loss_is_the_token_mean_and_ignores_padding():
    model = tiny_llama(dtype=torch.float64, init_std=0.3)

    def batch_loss(examples):
        ids, attn, labels = collate(examples, "cpu")
        with torch.no_grad():
            return float(masked_lm_loss(model(input_ids=ids, attention_mask=attn).logits, labels))

    # by hand for SHORT: positions 3 and 4 predict tokens 4 and 5 (the masked ones)
    with torch.no_grad():
        logp = F.log_softmax(model(input_ids=torch.tensor([SHORT.ids])).logits[0], -1)
    by_hand = -(logp[3, 10] + logp[4, 2]) / 2
    assert math.isclose(batch_loss([SHORT]), float(by_hand), rel_tol=1e-12)
    # right padding changes nothing: a mixed batch is the token-weighted mean of the singles
    mixed = (2 * batch_loss([SHORT]) + 6 * batch_loss([LONG])) / 8
    assert math.isclose(batch_loss([SHORT, LONG]), mixed, rel_tol=1e-10)


def test_training_honours_its_settings():
    def run(**kw):
        model = tiny_llama(dtype=torch.float64, init_std=0.2)
        apply_lora(model, r=4, alpha=8)
        losses = train_lora(model, [SHORT, LONG, LONG], **kw)
        return losses, get_lora_state(model)

    losses, state = run(epochs=3, lr=1e-2, batch_size=2, seed=1)
    assert len(losses) == 3 * 2  # ceil(3 / 2) steps per epoch
    assert len(run(epochs=2, lr=1e-2, batch_size=1)[0]) == 6
    assert losses[-1] < losses[0]  # it learns
    _, again = run(epochs=3, lr=1e-2, batch_size=2, seed=1)
    assert all(torch.equal(state[k], again[k]) for k in state)  # deterministic given the seed
    _, slower = run(epochs=3, lr=1e-3, batch_size=2, seed=1)  # the learning rate is used
    assert not all(torch.equal(state[k], slower[k]) for k in state)
    _, decayed = run(epochs=3, lr=1e-2, batch_size=2, seed=1, weight_decay=0.5)
    assert not all(torch.equal(state[k], decayed[k]) for k in state)
    _, clipped = run(epochs=3, lr=1e-2, batch_size=2, seed=1, max_grad_norm=1e-3)
    assert not all(torch.equal(state[k], clipped[k]) for k in state)
    assert run(epochs=0, lr=1e-2)[0] == []
    with pytest.raises(ValueError, match="trainable"):
        train_lora(tiny_llama().requires_grad_(False), [SHORT])
    model = tiny_llama()
    apply_lora(model)
    with pytest.raises(ValueError, match="batch_size"):
        train_lora(model, [SHORT], batch_size=0)
    with pytest.raises(ValueError, match="nothing to learn"):
        train_lora(model, [TrainingExample("z", [1, 2], [False, False])])


def test_training_memorises_a_grid_and_decodes_it():
    model = tiny_llama(dtype=torch.float64, init_std=0.2, seed=2)
    apply_lora(model, r=8, alpha=16)
    prompt = S.text_to_ids("<bos> <in> 1 2 <nl> 3 4 <out>")
    completion = S.text_to_ids("4 3 <nl> 2 1 <eos>")
    ex = TrainingExample("m", prompt + completion, [False] * len(prompt) + [True] * len(completion))
    assert predict_grid(model, prompt) != ((4, 3), (2, 1))
    train_lora(model, [ex], epochs=60, lr=3e-2, batch_size=1)
    assert predict_grid(model, prompt) == ((4, 3), (2, 1))
    reset_lora(model)
    assert predict_grid(model, prompt) != ((4, 3), (2, 1))


def test_cached_greedy_equals_uncached():
    model = tiny_llama(dtype=torch.float64, init_std=0.5, seed=1)  # varied outputs, float64: no near-ties
    g = torch.Generator().manual_seed(0)
    for n in (1, 5, 23):
        prompt = [S.BOS_ID] + torch.randint(3, len(S.VOCAB), (n,), generator=g).tolist()
        for max_new in (1, 7, 25):
            cached = greedy_decode(model, prompt, max_new_tokens=max_new, eos_id=-1)
            assert cached == greedy_decode(model, prompt, max_new_tokens=max_new, eos_id=-1, use_cache=False)
            assert len(cached) == max_new
        first = greedy_decode(model, prompt, max_new_tokens=25, eos_id=-1)
        # stopping at a chosen "eos": the output ends at its first occurrence
        stop = first[3]
        out = greedy_decode(model, prompt, max_new_tokens=25, eos_id=stop)
        assert out == first[: first.index(stop) + 1]
    assert len({tuple(greedy_decode(model, [S.BOS_ID, t], max_new_tokens=6, eos_id=-1)) for t in range(8, 18)}) > 1


class _Scripted(torch.nn.Module):
    """A mock causal LM that emits a fixed token script (position -> token), no cache."""

    def __init__(self, script, prompt_len):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.script, self.prompt_len = script, prompt_len

    def forward(self, input_ids, use_cache=False, **_):
        T = input_ids.shape[1]
        logits = torch.zeros(1, T, len(S.VOCAB))
        k = T - self.prompt_len
        logits[0, -1, self.script[k] if k < len(self.script) else S.COLOUR_IDS[1]] = 1.0
        return {"logits": logits}


class _Out(dict):
    def __getattr__(self, name):
        return self[name]


def test_predict_grid_parses_or_returns_none():
    prompt = S.text_to_ids("<bos> <in> 1 <out>")

    def predict(text, **kw):
        m = _Scripted(S.text_to_ids(text), len(prompt))
        m.forward = lambda input_ids, use_cache=False, _f=m.forward, **k: _Out(_f(input_ids))
        return predict_grid(m, prompt, use_cache=False, **kw)

    assert predict("5 6 <nl> 7 8 <eos>") == ((5, 6), (7, 8))
    assert predict("5 6 <nl> 7 <eos>") is None  # ragged
    assert predict("5 <out> <eos>") is None  # stray token
    assert predict("5 5 5 5") is None  # never ends (runs out of max_new_tokens)
    assert predict("1 " * 11 + "<eos>", max_size=10) is None  # too wide for the model's limit
