"""The zoo tokenizer: round-trips text and never produces the mask token from ordinary text."""

import pytest
from transformers import PreTrainedTokenizerFast

from pard_ref.text import corpus, tokenizer


@pytest.fixture(scope="module")
def tok():
    return tokenizer.load()


def test_is_a_transformers_fast_tokenizer(tok, tmp_path):
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert len(tok) == tokenizer.DEFAULT_VOCAB_SIZE
    assert [tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.mask_token_id] == [0, 1, 2, 3]
    tok.save_pretrained(tmp_path)
    again = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    assert again("def f(x): return x")["input_ids"] == tok("def f(x): return x")["input_ids"]
    assert again.mask_token_id == tok.mask_token_id


@pytest.mark.parametrize("domain", corpus.DOMAINS)
def test_round_trip_and_no_special_tokens_in_text(tok, domain):
    special = {tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.mask_token_id}
    for doc in corpus.load_documents(domain, "heldout")[:40]:
        text = doc.text[:5000]
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
        assert not special & set(ids)


def test_literal_special_strings_are_just_text(tok):
    """Even the mask token's own spelling encodes to ordinary byte tokens."""
    text = f"x = '{tokenizer.MASK}' + '{tokenizer.EOS}' {tokenizer.BOS}"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.mask_token_id not in ids and tok.eos_token_id not in ids and tok.bos_token_id not in ids
    assert tok.decode(ids) == text


def test_unicode_round_trip(tok):
    text = "naïve café — ∑ x² → ✓ 日本語"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_document_and_prompt_encoding(tok):
    doc = tokenizer.encode_document(tok, "hello")
    assert doc[0] == tok.bos_token_id and doc[-1] == tok.eos_token_id
    assert tokenizer.encode_prompt(tok, "hello") == doc[:-1]
