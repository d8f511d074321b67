"""Sequence-level distillation data and a draft initialised from its target: what a draft of a real target needs.

- :func:`answer_prompts`: the target answers instruction prompts greedily (batched, left-padded, chat
  template), and each prompt + answer becomes one document of token ids. A draft trained on these
  documents learns the target's own habits (sequence-level distillation, as Medusa and EAGLE train on
  target-generated data); the answers are the target's greedy outputs, so they are what speculative
  decoding will later ask the draft to predict.
- :func:`projected_embedding`: the target's ``[V, H]`` embedding projected onto its top ``width``
  right-singular directions, ``[V, width]``: a draft of width ``width < H`` starts with the target's
  token geometry instead of random rows.
- :func:`small_llama_like`: a narrow ``LlamaForCausalLM`` that shares the target's vocabulary and
  special-token ids, with that embedding (tied input/output).

What it does NOT handle: soft labels (the target's logits), sampling-based answers, multi-turn chats,
or models that are not Llama/Qwen-style causal LMs with a chat template.
"""

from __future__ import annotations

import time

import torch

from ..text.tokenizer import encode_chat

__all__ = ["answer_prompts", "draft_config", "projected_embedding", "small_llama_like"]


@torch.no_grad()
def answer_prompts(target, tok, prompts: list[str], *, max_new_tokens: int = 128, batch_size: int = 16,
                   progress: bool = True) -> tuple[list[dict], dict]:
    """``(records, stats)``: each prompt answered greedily by the target, in the chat template.

    Batches of ``batch_size`` prompts are left-padded and decoded with ``target.generate`` (greedy,
    up to ``max_new_tokens``, stopping at the tokenizer's eos). A record is ``{"prompt", "answer",
    "ids"}``: the answer's text and the document's ids (prompt ids plus answer ids up to and including
    the eos, padding removed). ``stats``: prompts, tokens, seconds.
    """
    from tqdm.auto import tqdm

    if not prompts:
        raise ValueError("answer_prompts needs at least one prompt")
    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    device = next(target.parameters()).device
    docs: list[dict] = []
    t0 = time.perf_counter()
    bar = tqdm(total=len(prompts), desc="distillation answers", unit="prompt", disable=not progress)
    for start in range(0, len(prompts), batch_size):
        prefixes = [encode_chat(tok, p) for p in prompts[start:start + batch_size]]
        width = max(len(p) for p in prefixes)
        ids = torch.full((len(prefixes), width), pad, dtype=torch.long)
        attn = torch.zeros((len(prefixes), width), dtype=torch.long)
        for i, p in enumerate(prefixes):  # left padding: every answer starts at column `width`
            ids[i, width - len(p):] = torch.tensor(p)
            attn[i, width - len(p):] = 1
        out = target.generate(input_ids=ids.to(device), attention_mask=attn.to(device), do_sample=False,
                              max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=pad)  # [b, width + new]
        for i, (p, text) in enumerate(zip(prefixes, prompts[start:start + batch_size])):
            answer = out[i, width:].tolist()
            if eos in answer:
                answer = answer[:answer.index(eos) + 1]
            docs.append({"prompt": text, "answer": tok.decode(answer, skip_special_tokens=True), "ids": p + answer})
        bar.update(len(prefixes))
    bar.close()
    seconds = round(time.perf_counter() - t0, 1)
    return docs, {"prompts": len(prompts), "tokens": sum(len(d["ids"]) for d in docs), "seconds": seconds}


@torch.no_grad()
def projected_embedding(embedding: torch.Tensor, width: int, row_norm: float | None = None) -> torch.Tensor:
    """``[V, width]``: ``embedding`` ``[V, H]`` projected onto its top ``width`` right-singular directions.

    Rescaled so the rows' mean norm is ``row_norm`` (default: the original embedding's mean row norm).
    """
    e = embedding.detach().float()
    if not 0 < width <= e.shape[1]:
        raise ValueError(f"width must be in 1..{e.shape[1]} (the target's hidden size), got {width}")
    _, _, vh = torch.linalg.svd(e - e.mean(0, keepdim=True), full_matrices=False)  # vh: [H, H]
    p = e @ vh[:width].T  # [V, width]
    target_norm = e.norm(dim=1).mean() if row_norm is None else row_norm
    return p * (target_norm / p.norm(dim=1).mean())


def draft_config(target_config, *, width: int, layers: int, heads: int, kv_heads: int, intermediate: int):
    """A ``LlamaConfig`` for a narrow draft sharing ``target_config``'s vocabulary, special ids, RoPE and positions."""
    from transformers import LlamaConfig

    t = target_config
    if width % heads or heads % kv_heads:
        raise ValueError(f"width {width} must divide into {heads} heads, and heads into {kv_heads} KV heads")
    rope = getattr(t, "rope_parameters", None) or {"rope_type": "default", "rope_theta": getattr(t, "rope_theta", 1e4)}
    return LlamaConfig(vocab_size=t.vocab_size, hidden_size=width, intermediate_size=intermediate,
                       num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                       head_dim=width // heads, max_position_embeddings=t.max_position_embeddings,
                       rms_norm_eps=t.rms_norm_eps, rope_parameters=dict(rope), tie_word_embeddings=True,
                       bos_token_id=t.bos_token_id, eos_token_id=t.eos_token_id, pad_token_id=t.pad_token_id)


def small_llama_like(target, *, width: int, layers: int, heads: int, kv_heads: int, intermediate: int,
                     init_embedding: bool = True, seed: int = 0):
    """A float32 ``LlamaForCausalLM`` draft of :func:`draft_config`, tied input/output embedding; with
    ``init_embedding`` the embedding starts from :func:`projected_embedding` of the target's, at the mean
    row norm of the draft's own random initialisation (``initializer_range * sqrt(width)``). At the
    target's own scale (SmolLM2: 3.2 per row) the tied output layer starts with logits of tens of nats:
    a first full-scale run measured a training loss of 22 at step 30 and 9.8 at step 63, above the
    10.8 of a uniform guess."""
    from transformers import LlamaForCausalLM

    cfg = draft_config(target.config, width=width, layers=layers, heads=heads, kv_heads=kv_heads,
                       intermediate=intermediate)
    torch.manual_seed(seed)
    draft = LlamaForCausalLM(cfg)
    if init_embedding:
        row_norm = cfg.initializer_range * width ** 0.5
        draft.get_input_embeddings().weight.data.copy_(
            projected_embedding(target.get_input_embeddings().weight, width, row_norm))
    draft.tie_weights()
    return draft.float()
