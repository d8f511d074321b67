"""pard_ref.ttt.peft_compare: the hand-written LoRA computes exactly what peft's LoRA computes with the
same weights (tiny random Llama, trained-looking adapters: B not zero)."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pard_ref.ttt import lora

peft = pytest.importorskip("peft")  # in the test extra (pip install -e .[test])
from pard_ref.ttt.peft_compare import max_logit_difference, to_peft  # noqa: E402


def model_with_adapters(r=4, alpha=8.0, targets=lora.PAPER_TARGETS):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = LlamaForCausalLM(cfg).eval()
    lora.apply_lora(model, r=r, alpha=alpha, targets=targets, seed=3)
    with torch.no_grad():
        for m in lora.lora_modules(model).values():
            m.lora_B.normal_(0, 0.5)  # as after training: the adapter changes the output
    return model


@pytest.mark.parametrize("r,alpha,targets", [(4, 8.0, lora.PAPER_TARGETS), (2, 3.0, ("q_proj", "o_proj"))])
def test_same_weights_same_outputs(r, alpha, targets):
    model = model_with_adapters(r, alpha, targets)
    twin = to_peft(model)
    ids = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(1))
    assert max_logit_difference(model, twin, ids) < 1e-5
    n_ours = sum(p.numel() for p in lora.lora_parameters(model))
    assert n_ours == sum(p.numel() for n, p in twin.named_parameters() if "lora_" in n)
    # the adapters matter: without them the outputs differ
    plain = model_with_adapters(r, alpha, targets)
    lora.remove_lora(plain)
    assert max_logit_difference(plain, twin, ids) > 1e-3
    assert lora.lora_modules(model)  # the original keeps its adapters


def test_a_model_without_adapters_is_refused():
    model = model_with_adapters()
    lora.remove_lora(model)
    with pytest.raises(ValueError, match="apply_lora"):
        to_peft(model)
