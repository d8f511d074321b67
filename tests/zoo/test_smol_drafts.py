"""smol-draft-ar / smol-draft-pard: registration and cache keys, the training prompts kept apart from the
held-out chat prompts, the distillation records, the PARD layout on the draft's own configuration, and
(at the ci scale) a built smol-draft-pard that carries pard_token / spd_type and decodes exactly like
plain greedy with smol-target.

Tests that read smol-target need its converted checkpoint (``python -m pard_ref zoo build smol-target``);
a missing conversion is an error, not a skip (as in test_smol.py).
"""

import json

import pytest
import torch
from transformers import AutoConfig, LlamaForCausalLM, PreTrainedTokenizerFast

import pard_ref
from pard_ref import zoo
from pard_ref.text.instructions import training_prompts
from pard_ref.training.distill import draft_config, projected_embedding
from pard_ref.training.pard_layout import build_pard_batch, cod_tokens_per_sequence
from pard_ref.zoo import smol, smol_drafts


@pytest.fixture(scope="module")
def converted():
    if not smol.is_converted():
        pytest.fail(f"smol-target is not converted: run `{smol.CONVERT_COMMAND}` (make test does this)")
    return smol.folder()


def test_registered_with_keys_per_scale():
    for name in (smol_drafts.AR_NAME, smol_drafts.PARD_NAME):
        spec = zoo.SPECS[name]
        assert spec.family == "smol" and spec.role == "draft" and spec.builder is not None
    assert zoo.SPECS[smol_drafts.PARD_NAME].pard_from == smol_drafts.AR_NAME
    keys = {(n, s): zoo.build_key(n, s) for n in (smol_drafts.AR_NAME, smol_drafts.PARD_NAME) for s in ("ci", "full")}
    assert len(set(keys.values())) == 4
    assert zoo.lineages([smol_drafts.AR_NAME, smol_drafts.PARD_NAME]) == [[smol_drafts.AR_NAME, smol_drafts.PARD_NAME]]
    assert 3 <= smol_drafts.MASK_ID <= 16  # a code-pretraining special token of SmolLM2


def test_training_prompts_are_deterministic_balanced_and_not_the_eval_prompts():
    n = smol_drafts.AR_RECIPES["full"].prompts  # the full recipe's count: the templates must hold that many
    a, b = training_prompts(n, 0), training_prompts(n, 0)
    assert a == b and a != training_prompts(n, 1)
    assert len({p["prompt"] for p in a}) == n
    assert {d: sum(p["domain"] == d for p in a) for d in smol.CHAT_DOMAINS} == {d: n // 3 for d in smol.CHAT_DOMAINS}
    held_out = {r["prompt"] for d in smol.CHAT_DOMAINS for s in smol.CHAT_SPLITS for r in smol.eval_prompts(d, s)}
    assert held_out and not held_out & {p["prompt"] for p in a}
    with pytest.raises(ValueError, match="n must be >= 1"):
        training_prompts(0)


def test_distillation_lines_end_finished_answers_only(converted):
    tok = PreTrainedTokenizerFast.from_pretrained(converted)
    records = [{"prompt": "Say hi.", "answer": "Hi!", "ids": [1, 5, tok.eos_token_id]},
               {"prompt": "Count.", "answer": "1, 2, 3", "ids": [1, 7, 8]}]
    done, cut = smol_drafts.distillation_lines(records, tok)
    assert done["messages"][1] == {"role": "assistant", "content": "Hi!"}
    assert cut["text"].endswith("<|im_start|>assistant\n1, 2, 3") and "Count." in cut["text"]


def test_projected_embedding_keeps_the_top_directions():
    g = torch.Generator().manual_seed(0)
    e = torch.randn(200, 3, generator=g) @ torch.randn(3, 16, generator=g)  # rank 3: all of it in 3 directions
    p = projected_embedding(e, 3)
    assert p.shape == (200, 3)
    centred = e - e.mean(0)
    gram_e, gram_p = centred @ centred.T, (p - p.mean(0)) @ (p - p.mean(0)).T  # distances are kept up to scale
    scale = gram_e.norm() / gram_p.norm()
    torch.testing.assert_close(gram_p * scale, gram_e, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="width must be in"):
        projected_embedding(e, 17)


def test_pard_layout_equals_inference_on_the_drafts_config(converted):
    """Row by row: a kept query of the training layout sees what inference with j masks sees."""
    r = smol_drafts.AR_RECIPES["full"]
    cfg = draft_config(AutoConfig.from_pretrained(converted), width=r.width, layers=r.layers, heads=r.heads,
                       kv_heads=r.kv_heads, intermediate=r.intermediate)
    torch.manual_seed(0)
    draft = LlamaForCausalLM(cfg).double().eval()
    k, L, mask = 8, 14, smol_drafts.MASK_ID
    x = torch.randint(100, cfg.vocab_size, (1, L), generator=torch.Generator().manual_seed(1))
    batch = build_pard_batch(x, k=k, mask_token_id=mask, drop_ratio=0.7, min_drop_ratio=0.2,
                             generator=torch.Generator().manual_seed(2), dtype=torch.float64, return_depth=True)
    depth = batch.pop("depth")
    with torch.no_grad():
        logits = draft(**batch).logits  # [1, N, V]
        checked = 0
        for t in range(batch["input_ids"].shape[1]):
            j, pos = int(depth[0, t]), int(batch["position_ids"][0, t])
            prompt = torch.cat([x[0, : pos - j + 1], torch.full((j,), mask)])[None]  # real prefix + j masks
            ref = draft(input_ids=prompt).logits[0, -1]
            torch.testing.assert_close(logits[0, t], ref, rtol=0, atol=1e-9)
            checked += 1
    assert checked == cod_tokens_per_sequence(L, k, 0.7, 0.2)


def test_ci_build_is_a_pard_draft_that_decodes_like_plain_greedy(converted):
    folder = zoo.build_one(smol_drafts.PARD_NAME, "ci", progress=False)
    config = json.loads((folder / "config.json").read_text())
    assert config["pard_token"] == smol_drafts.MASK_ID and config["spd_type"] == "pard"
    assert config["vocab_size"] == 49152
    assert zoo.is_built(smol_drafts.AR_NAME, "ci")
    draft, tok = zoo.load(smol_drafts.PARD_NAME, "ci", device="cpu", dtype=torch.float32)
    target, _ = smol.load(dtype=torch.float32, device="cpu")
    ids = torch.tensor([smol.chat_ids(tok, "Name three colours.")])
    plain = pard_ref.generate(target, ids, method="none", max_new_tokens=24)
    out = pard_ref.generate(target, ids, draft=draft, method="pard", k=8, max_new_tokens=24)
    assert out.sequences.tolist() == plain.sequences.tolist()
    assert out.stats.target_calls <= 24


def test_ci_drafts_keep_the_rows_their_data_never_uses_at_zero(converted):
    """The seen-vocabulary loss trains only the data's rows (+ the mask's in COD); the rest stay exactly zero."""
    from pard_ref.training.adapt_folder import encode_texts, read_texts

    zoo.build_one(smol_drafts.PARD_NAME, "ci", progress=False)
    ar, tok = zoo.load(smol_drafts.AR_NAME, "ci", device="cpu", dtype=torch.float32)
    pard, _ = zoo.load(smol_drafts.PARD_NAME, "ci", device="cpu", dtype=torch.float32)
    data = torch.unique(encode_texts(tok, read_texts(smol_drafts.distillation_file("ci", progress=False), tok)))
    for model, used in ((ar, data), (pard, torch.cat([data, torch.tensor([smol_drafts.MASK_ID])]))):
        w = model.get_output_embeddings().weight
        nonzero = (w != 0).any(dim=1)
        assert nonzero[used].all() and int(nonzero.sum()) == len(torch.unique(used))
