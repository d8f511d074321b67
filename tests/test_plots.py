"""The notebook pictures draw the library's own layout: check the data they return."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pard_ref import plots  # noqa: E402
from pard_ref.pard_layout import cod_tokens_per_sequence  # noqa: E402


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
