"""The notebook pictures draw the library's own layout: check the data they return."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pard_ref.training.pard_layout import cod_tokens_per_sequence  # noqa: E402
from pard_ref.viz import plots  # noqa: E402


def test_layout_picture_rule():
    toks = list("abcdef")
    pic = plots.pard_layout_figure(toks, k=3)
    n = len(pic.depth)
    assert n == 3 * 6 and pic.allowed.shape == (n, n) and len(pic.row_labels) == n
    # query "block 2 @ p=4" (chain start s=2) sees x_0..x_2, block-1 @3 and itself, and predicts x_5
    q = int(((pic.depth == 2) & (pic.positions == 4)).nonzero())
    keys = {(int(pic.depth[t]), int(pic.positions[t])) for t in pic.allowed[q].nonzero().flatten()}
    assert keys == {(0, 0), (0, 1), (0, 2), (1, 3), (2, 4)} and int(pic.targets[q]) == 5
    assert pic.row_labels[q].endswith("\u2192 f")
    plt.close("all")


@pytest.mark.parametrize("k,r,r_min", [(8, 0.7, 0.2), (4, 0.5, 0.3), (3, 1.0, 0.2)])
def test_cod_picture_counts_and_chains(k, r, r_min):
    pic = plots.cod_keep_figure(seq_len=40, k=k, drop_ratio=r, min_drop_ratio=r_min)
    assert pic.tokens == cod_tokens_per_sequence(40, k, r, r_min) == sum(len(b) for b in pic.blocks)
    assert pic.full_tokens == k * 40 and not pic.clipped
    if r < 1:
        for j in range(2, k):  # every kept query's predecessor is kept
            assert set((pic.blocks[j] - 1).tolist()) <= set(pic.blocks[j - 1].tolist())
    plt.close("all")


def test_cod_picture_clips_r_min_for_widgets():
    pic = plots.cod_keep_figure(seq_len=32, k=4, drop_ratio=0.4, min_drop_ratio=0.6)
    assert pic.clipped and pic.min_drop_ratio == 0.4 and "clipped" in pic.ax.get_title()
    assert "fewer attention entries" in repr(pic)
    plt.close("all")


# ---------------------------------------------------------------- acceptance by position, bars, agreement
def _record(k, accepted):
    from pard_ref.decoding import StepRecord

    proposals = list(range(k))
    return StepRecord(iteration=1, proposals=proposals, accepted=accepted, bonus=99,
                      emitted=proposals[:accepted] + [99], finished=False, stop_reason=None,
                      draft_seconds=0.0, target_seconds=0.0)


def test_acceptance_by_position_counts_and_tau_identity():
    records = [_record(4, a) for a in (0, 1, 4, 2, 2)]
    rates = plots.acceptance_by_position(records)
    assert rates == [4 / 5, 3 / 5, 1 / 5, 1 / 5]
    tau = sum(r.accepted + 1 for r in records) / len(records)
    assert abs(1 + sum(rates) - tau) < 1e-12  # τ = 1 + Σ_i P(accepted >= i)
    # a short last iteration counts only for the positions it proposed; plain steps are ignored
    rates = plots.acceptance_by_position(records + [_record(2, 2), _record(0, 0)], k=5)
    assert rates[:2] == [5 / 6, 4 / 6] and rates[2] == 1 / 5 and rates[4] == 0.0


def test_acceptance_by_position_of_a_real_run_matches_its_tau():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from pard_ref import SpeculativeDecoder

    def tiny(seed, layers):
        torch.manual_seed(seed)
        cfg = LlamaConfig(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                          bos_token_id=None, eos_token_id=None, pad_token_id=None)
        return LlamaForCausalLM(cfg).double().eval()

    target, draft = tiny(0, 2), tiny(0, 2)  # the draft IS the target: every proposal is accepted
    dec = SpeculativeDecoder(target, torch.tensor([[1, 5, 7]]), draft=draft, method="ar", k=3, max_new_tokens=16)
    records = list(dec)
    assert plots.acceptance_by_position(records) == [1.0, 1.0, 1.0]
    pic = plots.acceptance_by_position_figure({"self": records})
    assert pic.rates["self"] == [1.0, 1.0, 1.0] and len(pic.ax.lines) == 1
    plt.close("all")


def test_grouped_bars_draws_one_bar_per_value_and_rejects_empty():
    ax = plots.grouped_bars({"target-s": {"ar": 0.8, "pard": 1.2}, "target-l": {"pard": 1.5}}, baseline=1.0)
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.8, 1.2, 1.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["target-s", "target-l"]
    with pytest.raises(ValueError, match="at least one"):
        plots.grouped_bars({})
    plt.close("all")


def test_top1_agreement_is_symmetric_and_counts_text_accuracy():
    import torch

    class Oracle(torch.nn.Module):
        """Predicts ``(id + shift) % V`` at every position: a model whose argmax we know."""

        def __init__(self, shift, vocab=10):
            super().__init__()
            self.shift, self.vocab = shift, vocab
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids):
            logits = torch.nn.functional.one_hot((input_ids + self.shift) % self.vocab, self.vocab).double()
            return type("Out", (), {"logits": logits})

    text = torch.tensor([[1, 2, 3, 4, 9], [5, 6, 0, 8, 9]])  # next = id + 1 at 5 of the 8 positions
    names, m = plots.top1_agreement({"plus1": Oracle(1), "plus1b": Oracle(1), "plus2": Oracle(2)}, text)
    assert names == ["plus1", "plus1b", "plus2", "text"]
    assert torch.equal(m, m.T) and torch.all(m.diagonal() == 1)
    assert m[0, 1] == 1.0 and m[0, 2] == 0.0
    assert abs(float(m[0, 3]) - 5 / 8) < 1e-12
    pic = plots.agreement_figure({"plus1": Oracle(1)}, text)
    assert pic.positions == 8 and abs(pic.of("plus1", "text") - 5 / 8) < 1e-12
    with pytest.raises(ValueError, match="windows"):
        plots.top1_agreement({"plus1": Oracle(1)}, text[:, :1])
    plt.close("all")
