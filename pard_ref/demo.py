"""The terminal demo (``make demo`` / ``python -m pard_ref demo``).

Loads the largest target of the zoo, continues one held-out prompt of each domain with plain greedy
decoding, and again with speculative decoding (draft-pard when it is built, else draft-ar), then
checks that both produced the same tokens and prints the measured speed of each.
"""

from __future__ import annotations

import torch

from . import zoo
from .decoding import generate
from .text import corpus
from .text.tokenizer import encode_prompt

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def main(scale: str | None = None, max_new_tokens: int = 96) -> None:
    target, tok = zoo.load("target-l", scale)
    draft_name = "draft-pard" if "draft-pard" in zoo.names() and zoo.is_built("draft-pard", scale) else "draft-ar"
    draft, _ = zoo.load(draft_name, scale)
    method = "pard" if draft_name == "draft-pard" else "ar"
    print(f"pard_ref demo: target-l ({sum(p.numel() for p in target.parameters()) / 1e6:.1f}M parameters, "
          f"scale {scale or zoo.DEFAULT_SCALE}) on {target.device}; speculative decoding with {draft_name}\n")
    for domain in corpus.DOMAINS:
        prompt = corpus.load_eval_prompts(domain)[0]["prompt"]
        x = torch.tensor([encode_prompt(tok, prompt)], device=target.device)
        generate(target, x, method="none", max_new_tokens=8)  # warm-up, not timed
        plain = generate(target, x, method="none", max_new_tokens=max_new_tokens)
        spec = generate(target, x, draft=draft, method=method, k=4 if method == "ar" else 8,
                        max_new_tokens=max_new_tokens, mask_token_id=tok.mask_token_id)
        same = torch.equal(plain.sequences, spec.sequences)
        new = tok.decode(plain.sequences[0, x.shape[1]:])
        print(f"{BOLD}--- {domain} ---{RESET}\n{DIM}{prompt}{RESET}{BOLD}{new}{RESET}\n")
        print(f"  plain greedy: {plain.stats.tokens_per_second:7.1f} tokens/s")
        print(f"  {method:>4s} draft : {spec.stats.tokens_per_second:7.1f} tokens/s, "
              f"mean accepted length {spec.stats.mean_accepted_length:.2f}, "
              f"identical output: {'yes' if same else 'NO'}\n")
        if not same:
            raise SystemExit("speculative decoding changed the output: this is a bug, please report it")
