"""Distillation prompts written by smol-target itself (Magpie-style self-instruct): the lever "prompts phrased
like real chat rather than templates" of docs/pard_training.md, "Drafts for smol-target".

    OMP_NUM_THREADS=2 python experiments/smol_self_prompts.py answer --prompts 1440 --out zoo/real/smol-distill-self1440.jsonl
    python experiments/smol_self_prompts.py mix --self zoo/real/smol-distill-self1440.jsonl --n 720 \
        --out zoo/real/smol-distill-mix1440.jsonl
    OMP_NUM_THREADS=1 python experiments/smol_draft_recipe.py base --ar-steps 1200 --pard-steps 600 --data FILE

The chat template's prefix up to an open user turn (``<|im_start|>system ... <|im_end|>\\n<|im_start|>user\\n``)
is fed to smol-target, which samples the user's message (temperature 0.8, top-p 0.95, at most 64 tokens) until
it closes the turn; queries cut at the limit, shorter than three words, repeated, or equal to a held-out
prompt (dev or test) are dropped. The kept queries are answered greedily (batch 64, 160 new tokens) as the zoo
answers its templated prompts, and written in the zoo's JSONL format, atomically, with the query and answer
costs in ``FILE.stats.json``. ``mix`` writes the first N templated answers of the zoo's full-scale file followed
by the first N lines of a self-prompted file (no generation). ``probe`` times 64 requests x 64 tokens (no early
stop) three ways, twice: sampling with top-k 50 and top-p 0.95 (what ``answer`` does), top-k 50 alone, greedy.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from pard_ref import paths
from pard_ref.text.tokenizer import encode_chat
from pard_ref.training.distill import answer_prompts
from pard_ref.zoo import smol, smol_drafts


# how `answer` samples a request; top_k=50 is transformers' default, written out so `probe` times the same thing
SAMPLING = dict(do_sample=True, temperature=0.8, top_k=50, top_p=0.95)


def user_turn_prefix(tok) -> torch.Tensor:
    """``[1, P]``: the chat template's ids up to an open user turn (the default system prompt included)."""
    marker = "\x00QUERY\x00"
    text = tok.decode(encode_chat(tok, marker))
    return tok(text[: text.index(marker)], add_special_tokens=False, return_tensors="pt").input_ids


@torch.no_grad()
def sample_user_prompts(target, tok, n: int, *, batch: int = 64, max_new_tokens: int = 64, seed: int = 0,
                        exclude: set[str] = frozenset()) -> tuple[list[str], dict]:
    """``n`` distinct user messages sampled (``SAMPLING``) from ``target`` after its chat template's open user turn."""
    prefix = user_turn_prefix(tok)  # [1, P]
    eos = tok.eos_token_id
    kept, seen, drawn, tokens = [], set(exclude), 0, 0
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    while len(kept) < n:
        if drawn > 4 * n + 4 * batch:
            raise RuntimeError(f"only {len(kept)} usable queries after {drawn} samples")
        out = target.generate(input_ids=prefix.repeat(batch, 1), attention_mask=torch.ones(batch, prefix.shape[1], dtype=torch.long),
                              max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=eos, **SAMPLING)  # [batch, P + new]
        drawn += batch
        for row in out[:, prefix.shape[1]:].tolist():
            tokens += (row.index(eos) + 1) if eos in row else len(row)
            if eos not in row:
                continue  # cut at the limit: not a finished message
            q = tok.decode(row[: row.index(eos)], skip_special_tokens=True).strip()
            if len(q.split()) < 3 or q in seen:
                continue
            seen.add(q)
            kept.append(q)
    return kept[:n], {"drawn": drawn, "kept": n, "query_tokens": tokens, "seconds": round(time.perf_counter() - t0, 1)}


@torch.no_grad()
def probe(target, tok) -> None:
    ids = user_turn_prefix(tok).repeat(64, 1)  # [64, P]
    common = dict(attention_mask=torch.ones_like(ids), max_new_tokens=64, min_new_tokens=64,
                  eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
    ways = {"top-k 50 + top-p 0.95": SAMPLING, "top-k 50": {**SAMPLING, "top_p": 1.0}, "greedy": dict(do_sample=False)}
    for rep in range(2):
        for name, kw in ways.items():
            torch.manual_seed(0)
            t0 = time.perf_counter()
            target.generate(input_ids=ids, **common, **kw)
            print(f"pass {rep + 1}, {name}: {time.perf_counter() - t0:.1f} s for 64 requests x 64 tokens", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["answer", "mix", "probe"])
    p.add_argument("--prompts", type=int, default=1440, help="answer: how many self-written requests")
    p.add_argument("--self", dest="self_file", default=None, help="mix: a file written by `answer`")
    p.add_argument("--n", type=int, default=720, help="mix: lines taken from each file")
    p.add_argument("--out", default=None, help="answer / mix: the JSONL file to write")
    args = p.parse_args()
    if args.what != "probe" and args.out is None:
        raise SystemExit(f"{args.what} needs --out FILE.jsonl")
    out = Path(args.out) if args.out else None
    if args.what == "mix":
        if args.self_file is None:
            raise SystemExit("mix needs --self FILE.jsonl (written by `answer`)")
        templated = smol_drafts.distillation_file("full").read_text().splitlines()[: args.n]
        own = Path(args.self_file).read_text().splitlines()[: args.n]
        paths.atomic_write_text(out, "\n".join(templated + own) + "\n")
        print(f"{len(templated)} templated + {len(own)} self-prompted documents -> {out}")
        return
    target, tok = smol.load(dtype=torch.bfloat16, device="cpu", convert_if_missing=True)
    if args.what == "probe":
        probe(target, tok)
        return
    held_out = {r["prompt"].strip() for d in smol.CHAT_DOMAINS for s in ("dev", "test") for r in smol.eval_prompts(d, s)}
    queries, qst = sample_user_prompts(target, tok, args.prompts, exclude=held_out)
    print(f"queries: {qst}", flush=True)
    recipe = smol_drafts.AR_RECIPES["full"]
    records, st = answer_prompts(target, tok, queries, max_new_tokens=recipe.max_new_tokens, batch_size=recipe.gen_batch)
    print(f"answers: {st} ({st['tokens'] / st['seconds']:.0f} tokens/s)", flush=True)
    lines = smol_drafts.distillation_lines(records, tok)
    paths.atomic_write_text(out, "".join(json.dumps(x) + "\n" for x in lines))
    paths.atomic_write_text(out.with_suffix(".stats.json"), json.dumps({"queries": qst, "answers": st}, indent=1))
    print(f"{len(lines)} documents -> {out}")


if __name__ == "__main__":
    main()
