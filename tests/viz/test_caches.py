"""pard_ref.viz.caches: the picture of both KV caches through an iteration.

Hand-computed snapshots of one AR and one PARD iteration give the expected kinds position by position;
snapshots read off the package's own decoder after every step hold no rejected proposal, no mask, and
leave the bonus in no cache; bad snapshots are refused with a clear error.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from pard_ref import SpeculativeDecoder  # noqa: E402
from pard_ref.viz.caches import CacheSnapshot, cache_figure, cache_rows, snapshot  # noqa: E402

MASK = 47


def tiny_llama(seed):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=48, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(config).double().eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


def test_an_ar_iteration_position_by_position():
    # the sequence has 10 tokens (the last, the previous bonus, not in the target cache yet); K = 4, 2 accepted
    drafted = CacheSnapshot("drafted", prefix=10, k=4, target=9, draft=13)
    verified = CacheSnapshot("verified", prefix=10, k=4, target=14, draft=13, accepted=2)
    cropped = CacheSnapshot("cropped", prefix=10, k=4, target=12, draft=12, accepted=2)
    assert drafted.kinds("target") == ["text"] * 9
    assert drafted.kinds("draft") == ["text"] * 10 + ["proposal"] * 3          # x_4 is never fed to the draft
    assert verified.kinds("target") == ["text"] * 10 + ["accepted", "accepted", "rejected", "rejected"]
    assert verified.kinds("draft") == ["text"] * 10 + ["accepted", "accepted", "rejected"]
    assert cropped.kinds("target") == cropped.kinds("draft") == ["text"] * 10 + ["accepted"] * 2
    assert cropped.bonus_position == 12 and drafted.bonus_position is None
    rows, labels, positions = cache_rows([drafted, verified, cropped], start=8, end=15)
    assert positions == list(range(8, 15)) and labels[0] == "drafted | target" and labels[5] == "cropped | draft"
    assert rows[0] == ["text", "", "", "", "", "", ""]
    assert rows[2] == ["text", "text", "accepted", "accepted", "rejected", "rejected", ""]
    assert rows[4] == rows[5] == ["text", "text", "accepted", "accepted", "bonus", "", ""]


def test_a_pard_iteration_holds_masks_until_its_crop():
    drafted = CacheSnapshot("drafted", prefix=6, k=4, target=5, draft=9, draft_fed="mask")
    cropped_masks = CacheSnapshot("mask crop", prefix=6, k=4, target=5, draft=6, draft_fed="mask")
    assert drafted.kinds("draft") == ["text"] * 6 + ["mask"] * 3
    assert cropped_masks.kinds("draft") == ["text"] * 6
    rows, _, positions = cache_rows([drafted, cropped_masks])
    assert positions == list(range(4, 11))          # default window: 2 before the prefix .. the bonus after K proposals
    assert rows[1] == ["text", "text", "mask", "mask", "mask", "", ""]


@pytest.mark.parametrize("method", ["ar", "pard"])
def test_snapshots_of_the_package_decoder_after_every_step(method):
    target = tiny_llama(0)
    for draft in (target, tiny_llama(1)):          # all accepted, then mostly rejected
        dec = SpeculativeDecoder(target, torch.tensor([[3, 5, 7, 9]]), draft=draft, method=method, k=3,
                                 max_new_tokens=16, mask_token_id=MASK)
        snaps = []
        while not dec.done:
            prefix = dec.length
            rec = dec.step()
            if not rec.proposals:
                continue
            s = snapshot(f"it {rec.iteration}", prefix, len(rec.proposals), dec.target_cache, dec.drafter.cache,
                         accepted=rec.accepted)
            snaps.append(s)
            for which in ("target", "draft"):
                assert set(s.kinds(which)) <= {"text", "accepted"}, (which, s)   # no rejected proposal, no mask
            assert s.target == s.bonus_position == dec.length - 1 or rec.finished   # the bonus: in no cache
            assert s.draft <= s.target
        pic = cache_figure(snaps)
        assert pic.rows == cache_rows(snaps)[0] and len(pic.rows) == 2 * len(snaps)
        assert any("bonus" in row for row in pic.rows)
        plt.close("all")


def test_bad_snapshots_are_refused():
    with pytest.raises(ValueError, match="prefix must be an integer >= 0"):
        CacheSnapshot("x", prefix=-1, k=2, target=0, draft=0)
    with pytest.raises(ValueError, match="draft_fed must be one of"):
        CacheSnapshot("x", prefix=3, k=2, target=2, draft=3, draft_fed="masks")
    with pytest.raises(ValueError, match="accepted must be in 0..k=2"):
        CacheSnapshot("x", prefix=3, k=2, target=2, draft=3, accepted=3)
    with pytest.raises(ValueError, match="the target cache holds 6 entries"):
        CacheSnapshot("x", prefix=3, k=2, target=6, draft=3)
    with pytest.raises(ValueError, match="which must be"):
        CacheSnapshot("x", prefix=3, k=2, target=2, draft=3).kinds("both")
    with pytest.raises(ValueError, match="no snapshots"):
        cache_rows([])
    with pytest.raises(ValueError, match="start < end"):
        cache_rows([CacheSnapshot("x", prefix=3, k=2, target=2, draft=3)], start=5, end=5)
