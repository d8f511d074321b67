"""The zoo's tokenizer: byte-level BPE trained on the corpus, with one reserved mask token for PARD.

Every model of the zoo shares this tokenizer, which is what lets one draft serve a whole target family.
It is an ordinary ``transformers.PreTrainedTokenizerFast``: ``save_pretrained`` / ``from_pretrained``
work as for any hub tokenizer.

Special tokens (ids fixed, in this order at the start of the vocabulary)::

    0 <|pad|>   padding (never trained on)
    1 <|bos|>   start of a document
    2 <|eos|>   end of a document
    3 <|mask|>  PARD's mask token ("pard_token"): stands for "a token I have not seen yet"

The tokenizer is built with ``split_special_tokens=True``: text is never parsed into special tokens,
so ordinary text (even the literal string ``"<|mask|>"``) can never encode to the mask id. Special
tokens enter a sequence only by id (``bos_token_id`` / ``eos_token_id`` / ``mask_token_id``).

What it does not handle: normalisation (none is applied; bytes in, bytes out) and chat templates.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from .. import paths
from . import corpus

PAD, BOS, EOS, MASK = "<|pad|>", "<|bos|>", "<|eos|>", "<|mask|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, MASK]
DEFAULT_VOCAB_SIZE = 2048
# Characters of each domain's training split the BPE merges are learned from (a sample keeps it fast).
TRAIN_CHARS_PER_DOMAIN = 2_000_000


def train_tokenizer(vocab_size: int = DEFAULT_VOCAB_SIZE, data_dir: Path | None = None, seed: int = 0):
    """Learn byte-level BPE merges on an equal-sized sample of each domain's training split."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts: list[str] = []
    rng = random.Random(seed)
    for domain in corpus.DOMAINS:
        docs = corpus.load_documents(domain, "train", data_dir)
        rng.shuffle(docs)
        budget = TRAIN_CHARS_PER_DOMAIN
        for d in docs:
            texts.append(d.text[:budget])
            budget -= len(texts[-1])
            if budget <= 0:
                break

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, mask_token=MASK,
        split_special_tokens=True, clean_up_tokenization_spaces=False,
    )


def tokenizer_dir(vocab_size: int = DEFAULT_VOCAB_SIZE) -> Path:
    return paths.zoo_dir() / f"tokenizer-v{corpus.CORPUS_VERSION}-bpe{vocab_size}"


def build(vocab_size: int = DEFAULT_VOCAB_SIZE, *, quiet: bool = False) -> Path:
    """Train and save the tokenizer if it is not saved yet (atomically; safe with concurrent callers)."""
    final = tokenizer_dir(vocab_size)
    with paths.file_lock(final.parent / f".{final.name}.lock"):
        if not final.exists():
            tok = train_tokenizer(vocab_size)
            with paths.atomic_dir(final) as tmp:
                tok.save_pretrained(tmp)
            if not quiet:
                print(f"tokenizer: trained byte-level BPE, {len(tok)} tokens -> {final}")
    return final


def load(vocab_size: int = DEFAULT_VOCAB_SIZE):
    """The saved tokenizer as a ``PreTrainedTokenizerFast`` (built first if missing)."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(build(vocab_size, quiet=True))
    return tok


def fingerprint(tok) -> str:
    """A short hash of the vocabulary and merges: models trained with different tokenizers never mix."""
    state = json.loads(tok.backend_tokenizer.to_str())
    blob = json.dumps([state["model"]["vocab"], state["model"]["merges"]], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def encode_document(tok, text: str) -> list[int]:
    """``<|bos|> text <|eos|>`` as ids: the unit the zoo is trained on."""
    return [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"], tok.eos_token_id]


def encode_chat(tok, prompt: str, system: str | None = None) -> list[int]:
    """One user turn in ``tok``'s chat template, ready for the assistant's answer (instruction-tuned models).

    Without ``system`` the template inserts its own default system prompt, if it has one.
    """
    messages = ([{"role": "system", "content": system}] if system is not None else []) + \
               [{"role": "user", "content": prompt}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)  # a BatchEncoding in transformers 5


def encode_prompt(tok, text: str) -> list[int]:
    """``<|bos|> text`` as ids: how held-out prompts are fed for generation."""
    return [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]
