"""train_pard: it lowers the PARD loss, writes pard_token, saves atomically, reloads, refuses bad settings."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

import pard_ref
from pard_ref.training.pard_layout import build_pard_batch
from pard_ref.training.pard_training import pard_batches

VOCAB, MASK, K, L = 50, 3, 4, 32



def tiny_draft(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(cfg)


def phrase_stream(n_phrases: int = 2000, seed: int = 0) -> torch.Tensor:
    """A learnable 1-D stream: the same 6 fixed 8-token phrases (never the mask id) in a random order
    drawn from ``seed``."""
    g = torch.Generator().manual_seed(0)
    phrases = [torch.randint(MASK + 1, VOCAB, (8,), generator=g) for _ in range(6)]
    g = torch.Generator().manual_seed(seed)
    return torch.cat([phrases[i] for i in torch.randint(0, 6, (n_phrases,), generator=g).tolist()])


FAST = dict(k=K, mask_token_id=MASK, steps=30, batch_size=8, seq_len=L, warmup=5, log_every=5, progress=False)


@pytest.fixture(scope="module")
def stream():
    return phrase_stream()


@pytest.fixture(scope="module")
def trained(stream, tmp_path_factory):
    """One 30-step run shared by several tests: (initial eval loss, draft, log, save_dir)."""
    draft = tiny_draft()
    held_out = build_pard_batch(phrase_stream(64, seed=1).view(16, L), k=K, mask_token_id=MASK, drop_ratio=1.0)
    with torch.no_grad():
        before = float(draft(**held_out).loss)
    save_dir = tmp_path_factory.mktemp("zoo") / "pard-draft"
    draft, log = pard_ref.train_pard_with_log(draft, stream, save_dir=save_dir, **FAST)
    with torch.no_grad():
        after = float(draft(**held_out).loss)
    return before, after, draft, log, save_dir


def test_training_reduces_pard_loss(trained):
    before, after, draft, log, _ = trained
    assert after < before - 0.2, (before, after)  # measured: ~3.91 -> ~3.54
    assert log.losses[-1] < log.losses[0] - 0.2
    assert not draft.training  # returned in eval mode


def test_log_has_per_depth_metrics(trained):
    *_, log, _ = trained
    assert log.steps == [0, 5, 10, 15, 20, 25, 29]
    for j in range(K):
        assert len(log.extra[f"acc_{j}"]) == len(log.steps)
        assert len(log.extra[f"loss_{j}"]) == len(log.steps)
    assert log.extra["acc_0"][-1] > 0.3  # the phrases make next-token prediction easy
    n = pard_ref.cod_tokens_per_sequence(L, K, 0.7, 0.2)
    assert log.tokens == 30 * 8 * n


def test_saved_draft_has_pard_token_and_reloads(trained):
    _, _, draft, log, save_dir = trained
    assert draft.config.pard_token == MASK
    config = json.loads((save_dir / "config.json").read_text())
    assert config["pard_token"] == MASK
    assert json.loads((save_dir / "pard_train_log.json").read_text())["losses"] == log.losses
    assert not list(save_dir.parent.glob(".*tmp-*"))  # the temporary folder was renamed away
    reloaded = AutoModelForCausalLM.from_pretrained(save_dir).eval()
    assert reloaded.config.pard_token == MASK
    x = phrase_stream(8, seed=3)[None]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=x).logits, draft(input_ids=x).logits)


def test_existing_save_dir_is_refused_before_training_unless_overwrite(stream, tmp_path):
    target = tmp_path / "draft"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(FileExistsError, match="overwrite"):
        pard_ref.train_pard(tiny_draft(), stream, save_dir=target, **FAST | {"steps": 1})
    draft = pard_ref.train_pard(tiny_draft(), stream, save_dir=target, overwrite=True, **FAST | {"steps": 1})
    assert (target / "config.json").exists() and not (target / "old.txt").exists()
    assert isinstance(draft, LlamaForCausalLM)


def test_mask_token_from_config_and_missing_mask_token():
    stream = phrase_stream(200)
    draft = tiny_draft()
    with pytest.raises(ValueError, match="mask_token_id"):
        pard_ref.train_pard(draft, stream, **{n: v for n, v in FAST.items() if n != "mask_token_id"})
    draft.config.pard_token = MASK
    kwargs = {n: v for n, v in FAST.items() if n != "mask_token_id"} | {"steps": 2}
    _, log = pard_ref.train_pard_with_log(draft, stream, **kwargs)
    assert draft.config.pard_token == MASK and len(log.losses) == 2


def test_same_seed_same_run():
    stream = phrase_stream(300)
    runs = [pard_ref.train_pard_with_log(tiny_draft(), stream, **FAST | {"steps": 3, "log_every": 1})[1]
            for _ in range(2)]
    assert runs[0].losses == runs[1].losses
    other = pard_ref.train_pard_with_log(tiny_draft(), stream, **FAST | {"steps": 3, "log_every": 1, "seed": 1})[1]
    assert other.losses != runs[0].losses


def test_domain_dict_with_weights_and_batches_reproducible():
    streams = {"a": phrase_stream(100, seed=0), "b": phrase_stream(100, seed=5)}
    _, log = pard_ref.train_pard_with_log(tiny_draft(), streams, weights={"a": 1.0, "b": 0.0},
                                          **FAST | {"steps": 2, "drop_ratio": 1.0})
    assert log.tokens == 2 * 8 * K * L  # drop_ratio 1.0: the full layout
    kw = dict(batch_size=4, seq_len=L, k=K, mask_token_id=MASK, drop_ratio=0.7, min_drop_ratio=0.2, seed=3)
    a, b = next(pard_batches(streams, {"a": 1, "b": 1}, **kw)), next(pard_batches(streams, {"a": 1, "b": 1}, **kw))
    assert all(torch.equal(a[n], b[n]) for n in a) and "depth" in a


@pytest.mark.parametrize("kwargs,match", [
    ({"k": 1}, "k"),
    ({"drop_ratio": 0.0}, "drop_ratio"),
    ({"drop_ratio": 0.5, "min_drop_ratio": 0.7}, "must not exceed"),
    ({"seq_len": 4}, "too short"),
    ({"mask_token_id": VOCAB}, "outside the draft's vocabulary"),
    ({"mask_token_id": 4}, "contains the mask id"),
    ({"weights": {"text": 1.0}}, "weights only apply"),
    ({"steps": 0}, "steps"),
    ({"batch_size": 0}, "batch_size"),
    ({"lr": 0.0}, "lr"),
    ({"warmup": -1}, "warmup"),
    ({"seq_len": 5000}, "need more than seq_len"),
])
def test_bad_settings_raise(kwargs, match):
    stream = torch.arange(4, 50).repeat(20)  # contains 4 but not 3
    with pytest.raises(ValueError, match=match):
        pard_ref.train_pard(tiny_draft(), stream, **FAST | kwargs)


def test_bad_tokens_raise():
    with pytest.raises(ValueError, match="1-D"):
        pard_ref.train_pard(tiny_draft(), torch.zeros(4, 100, dtype=torch.long) + 5, **FAST)
    with pytest.raises(ValueError, match="not in tokens"):
        pard_ref.train_pard(tiny_draft(), {"a": phrase_stream(100)}, weights={"b": 1.0}, **FAST)
    with pytest.raises(ValueError, match="vocabulary"):
        pard_ref.train_pard(tiny_draft(), torch.full((500,), VOCAB + 1), **FAST)
