"""The one family switch: ``$PARD_REF_FAMILY`` = zoo | smol | auto, and the loader the notebooks use.

Env parsing (default auto; unknown values refused with the allowed ones; smol not built refused with
the build command), auto falling back to the zoo when a smol model is missing (``is_built`` patched),
the loader on the zoo family at ci scale, and on smol when its drafts are built at ci scale.
"""

import pytest
import torch

import pard_ref
from pard_ref.bench import decoding as bench
from pard_ref.text import corpus
from pard_ref.text.tokenizer import encode_prompt
from pard_ref.zoo import families, smol
from pard_ref.zoo import builder

SMOL = families.FAMILIES["smol"].models()


def _built(present):
    """A stand-in for ``is_built``: True exactly for the names in ``present``."""
    return lambda name, scale=None: name in present


def test_bench_keeps_its_public_names():
    assert bench.FAMILIES is families.FAMILIES and bench.Family is families.Family
    assert bench.family_of is families.family_of and bench._prompts is families.prompts


def test_unknown_value_is_refused_with_the_allowed_values(monkeypatch):
    monkeypatch.setenv(families.ENV, "tiny")
    with pytest.raises(ValueError, match="zoo, smol, auto"):
        families.current_family("ci")


def test_zoo_is_zoo_whatever_is_built(monkeypatch):
    monkeypatch.setattr(families, "is_built", _built(SMOL))
    monkeypatch.setenv(families.ENV, "zoo")
    assert families.current_family("ci") == "zoo"
    assert families.family_reason("ci") == ("zoo", "PARD_REF_FAMILY=zoo")


@pytest.mark.parametrize("value", [None, "", "auto", " AUTO "])
def test_auto_is_the_default_and_picks_smol_when_all_three_are_built(monkeypatch, value):
    monkeypatch.setattr(families, "is_built", _built(SMOL))
    if value is None:
        monkeypatch.delenv(families.ENV, raising=False)
    else:
        monkeypatch.setenv(families.ENV, value)
    family, why = families.family_reason("ci")
    assert family == "smol" and "auto" in why and "built" in why


@pytest.mark.parametrize("absent", SMOL)
def test_auto_falls_back_to_the_zoo_when_a_smol_model_is_not_built(monkeypatch, absent):
    monkeypatch.setattr(families, "is_built", _built(set(SMOL) - {absent}))
    monkeypatch.setenv(families.ENV, "auto")
    family, why = families.family_reason("ci")
    assert family == "zoo" and absent in why and "not built" in why


def test_smol_not_built_names_the_build_command(monkeypatch):
    monkeypatch.setattr(families, "is_built", _built({smol.NAME}))
    monkeypatch.setenv(families.ENV, "smol")
    with pytest.raises(FileNotFoundError, match=r"python -m pard_ref zoo build smol-draft-pard --scale ci"):
        families.current_family("ci")
    monkeypatch.setattr(families, "is_built", _built(SMOL))
    assert families.current_family("ci") == "smol"


def test_the_zoo_loader_at_ci(built_zoo, monkeypatch):
    monkeypatch.setenv(families.ENV, "zoo")
    fam = families.load(scale=built_zoo)
    assert fam.family == "zoo" and fam.line() == "family: zoo (PARD_REF_FAMILY=zoo)"
    assert fam.target_name == "target-l" and set(fam.drafts) == {"draft-ar", "draft-pard"}
    assert fam.dtype == torch.float32 and fam.target.dtype == torch.float32 and fam.exact_dtype == torch.float64
    assert fam.mask_id == fam.tokenizer.mask_token_id == fam.drafts["draft-pard"].config.pard_token
    assert fam.eos_id == fam.tokenizer.eos_token_id and fam.domains == corpus.DOMAINS
    text = corpus.load_eval_prompts("math")[0]["prompt"]
    assert fam.prompt("math") == text and fam.encode(text) == encode_prompt(fam.tokenizer, text)
    assert fam.ids(text).shape == (1, len(fam.encode(text)))
    assert fam.exact(fam.target).dtype == torch.float64 and fam.target.dtype == torch.float32  # a copy
    assert fam.fast_dtype == torch.float32 and fam.fast(fam.target) is fam.target  # the zoo times as loaded
    with pytest.raises(ValueError, match="prose"):
        fam.prompts("chat")


def test_the_zoo_loader_tells_a_missing_draft(built_zoo, monkeypatch):
    real = builder.is_built
    monkeypatch.setattr(families, "is_built", lambda n, s=None: n != "draft-pard" and real(n, s))
    fam = families.load("zoo", built_zoo, target="target-s")
    assert fam.target_name == "target-s" and set(fam.drafts) == {"draft-ar"} and fam.missing == ("draft-pard",)
    assert fam.mask_id == fam.tokenizer.mask_token_id  # the tokenizer's reserved mask, through the resolver
    with pytest.raises(FileNotFoundError, match="draft-pard"):
        fam.draft("draft-pard")
    with pytest.raises(ValueError, match="smol-target"):
        families.load("smol", built_zoo, target="smol-target-xl")


def test_the_smol_loader_when_built(built_zoo, monkeypatch):
    missing = [n for n in SMOL if not builder.is_built(n, built_zoo)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not built at scale {built_zoo!r} (make test builds them)")
    monkeypatch.setenv(families.ENV, "auto")
    fam = families.load(scale=built_zoo)
    assert fam.family == "smol" and "auto" in fam.line()
    assert fam.target_name == smol.NAME and fam.draft_names == {"draft-ar": "smol-draft-ar",
                                                                "draft-pard": "smol-draft-pard"}
    assert fam.mask_id == 3 and fam.eos_id == smol.EOS_ID and fam.domains == smol.CHAT_DOMAINS
    assert fam.target.dtype == fam.exact_dtype == torch.float32 and fam.exact(fam.target) is fam.target
    fast = fam.fast(fam.draft("draft-pard"))  # smol is timed in bfloat16 on a CPU: a copy
    assert fam.fast_dtype == torch.bfloat16 and fast.dtype == torch.bfloat16
    assert fam.draft("draft-pard").dtype == torch.float32
    row = smol.eval_prompts("code", "dev")[0]
    assert fam.prompts("code")[0] == row and fam.encode(row["prompt"]) == smol.chat_ids(fam.tokenizer, row["prompt"])
    x = fam.ids(fam.prompt("math"))
    plain = pard_ref.generate(fam.target, x, method="none", max_new_tokens=6, eos_token_id=None)
    spec = pard_ref.generate(fam.target, x, draft=fam.draft(), method="pard", k=4, max_new_tokens=6,
                             eos_token_id=None, mask_token_id=fam.mask_id)
    assert torch.equal(plain.sequences, spec.sequences)  # float32: speculative greedy == plain greedy
