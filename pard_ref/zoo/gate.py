"""The zoo quality gate: is the model family really a family?

``python -m pard_ref zoo report --scale full`` measures and prints:

1. held-out loss per domain for every model; the gate wants target-l < target-m < target-s < draft-ar
   in every domain;
2. diversity of target-l's greedy continuations of the held-out prompts: distinct-2 (unique bigrams /
   bigrams over 128 new tokens; EOS does not stop the continuation) >= 0.5 in every domain;
3. cost: the one-token forward (KV cache) of target-l against draft-ar, >= 4x;
4. agreement: draft-ar drafting for target-l, greedy, K=4: mean accepted length >= 2.0 (mean over domains);
5. math: target-l answers more held-out word problems correctly than target-s.

Timings are medians of repeated calls in one process, so ratios are stable even on a noisy machine;
absolute milliseconds are only indicative.

What it does not handle: draft-pard's figures (the benchmarks issue reports those).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import torch

from .. import zoo
from ..decoding.timing import forward_ms
from ..text import corpus
from ..text.tokenizer import encode_prompt
from ..training.lm import heldout_loss, token_stream

GATE_DISTINCT2 = 0.5
GATE_COST_RATIO = 4.0
GATE_ACCEPTED_LENGTH = 2.0
NEW_TOKENS = 128


def distinct_n(tokens: list[int], n: int = 2) -> float:
    """Unique n-grams / n-grams: 1.0 for text that never repeats an n-gram, near 0 for a loop."""
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@torch.no_grad()
def greedy_continuation(model, prompt_ids: list[int], new_tokens: int = NEW_TOKENS) -> list[int]:
    """Plain greedy decoding with transformers' own ``generate`` (EOS does not stop it)."""
    x = torch.tensor([prompt_ids], device=model.device)
    out = model.generate(x, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                         eos_token_id=None, pad_token_id=0)
    return out[0, len(prompt_ids):].tolist()


@torch.no_grad()
def math_accuracy(model, tok, problems: list[dict], max_new_tokens: int = 80) -> float:
    """Fraction of word problems whose final answer (after ``####``) is right; greedy decoding."""
    right = 0
    for p in problems:
        ids = encode_prompt(tok, p["prompt"])
        x = torch.tensor([ids], device=model.device)
        out = model.generate(x, max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        text = tok.decode(out[0, len(ids):], skip_special_tokens=True)
        right += corpus.parse_math_answer(text) == p["answer"]
    return right / len(problems)


def heldout_math_problems(count: int) -> list[dict]:
    """The first ``count`` held-out math problems as ``{"prompt", "answer"}`` (question only)."""
    rows = []
    for d in corpus.load_documents("math", "heldout")[:count]:
        question, rest = d.text.split(corpus.MATH_ANSWER_PREFIX, 1)
        answer = corpus.parse_math_answer(rest)
        rows.append({"prompt": question + corpus.MATH_ANSWER_PREFIX, "answer": answer})
    return rows


def accepted_length_ar(target, draft, tok, prompts: list[str], k: int = 4) -> float:
    """Mean accepted length of draft-ar drafting for ``target`` (greedy, K=k) over ``prompts``."""
    from ..decoding import generate

    lengths = []
    for text in prompts:
        x = torch.tensor([encode_prompt(tok, text)], device=target.device)
        out = generate(target, x, draft=draft, method="ar", k=k, max_new_tokens=NEW_TOKENS)
        lengths.extend(out.stats.accepted_lengths)
    return sum(lengths) / len(lengths)


def measure(scale: str | None = None, prompts_per_domain: int | None = None, progress: bool = True) -> dict:
    """Every figure of the gate, as a dict (see :func:`format_markdown`)."""
    from tqdm.auto import tqdm

    scale = scale or zoo.DEFAULT_SCALE
    n_prompts = prompts_per_domain or corpus.EVAL_PROMPTS_PER_DOMAIN  # all 24 held-out prompts per domain
    n_math = 40 if scale == "ci" else 150
    models = {n: zoo.load(n, scale) for n in zoo.TEXT_MODELS}
    tok = models["target-l"][1]
    streams = {d: token_stream(tok, d, "heldout") for d in corpus.DOMAINS}
    prompts = {d: [r["prompt"] for r in corpus.load_eval_prompts(d)][:n_prompts] for d in corpus.DOMAINS}
    res: dict = {"scale": scale, "models": {}, "distinct2": {}, "accepted_length": {}, "samples": {}}

    bar = tqdm(total=len(models) + 3, desc="zoo report", disable=not progress, leave=False)
    for name, (model, _) in models.items():
        rec = zoo.info(name, scale)
        res["models"][name] = {
            "parameters": rec["parameters"], "layers": rec["arch"]["layers"], "hidden": rec["arch"]["hidden"],
            "build_seconds": rec["build_seconds"], "train_tokens": rec["train_tokens"],
            "finish": rec["recipe"].get("finish"),
            "loss": {d: heldout_loss(model, streams[d], seq_len=128) for d in corpus.DOMAINS},
            "one_token_ms": forward_ms(model, prompt_len=128, new_tokens=1, reps=40),
        }
        bar.update()

    target_l, draft = models["target-l"][0], models["draft-ar"][0]
    for d in corpus.DOMAINS:
        conts = [greedy_continuation(target_l, encode_prompt(tok, p)) for p in prompts[d]]
        res["distinct2"][d] = sum(distinct_n(c) for c in conts) / len(conts)
        res["samples"][d] = {"prompt": prompts[d][0], "continuation": tok.decode(conts[0])}
    bar.update()
    for d in corpus.DOMAINS:
        res["accepted_length"][d] = accepted_length_ar(target_l, draft, tok, prompts[d])
    bar.update()
    problems = heldout_math_problems(n_math)
    res["math_accuracy"] = {n: math_accuracy(models[n][0], tok, problems) for n in zoo.TARGETS}
    res["math_problems"] = len(problems)
    bar.update()
    bar.close()
    res["gate"] = gate(res)
    return res


def gate(res: dict) -> dict[str, bool]:
    m = res["models"]
    order = ["target-l", "target-m", "target-s", "draft-ar"]
    return {
        "1 loss ordered in every domain": all(
            all(m[a]["loss"][d] < m[b]["loss"][d] for a, b in zip(order, order[1:])) for d in corpus.DOMAINS),
        "2 distinct-2 >= 0.5 in every domain": all(v >= GATE_DISTINCT2 for v in res["distinct2"].values()),
        "3 cost target-l >= 4x draft-ar": m["target-l"]["one_token_ms"] >= GATE_COST_RATIO * m["draft-ar"]["one_token_ms"],
        "4 AR accepted length (K=4) >= 2.0": statistics.mean(res["accepted_length"].values()) >= GATE_ACCEPTED_LENGTH,
        "5 math: target-l > target-s": res["math_accuracy"]["target-l"] > res["math_accuracy"]["target-s"],
    }


def format_markdown(res: dict) -> str:
    m = res["models"]
    lines = [f"### Zoo quality gate, scale `{res['scale']}`", "",
             "Held-out loss in nats per token, perplexity (e^loss) in brackets.", "",
             "| model | params | layers x width | train tokens | build s | code | math | prose "
             "| 1-token forward ms |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in m.items():
        lines.append(f"| {name} | {r['parameters'] / 1e6:.2f}M | {r['layers']} x {r['hidden']} | "
                     f"{r['train_tokens'] / 1e6:.2f}M | {r['build_seconds']:.0f} | "
                     + " | ".join(f"{r['loss'][d]:.3f} ({math.exp(r['loss'][d]):.1f})" for d in corpus.DOMAINS)
                     + f" | {r['one_token_ms']:.2f} |")
    ratio = m["target-l"]["one_token_ms"] / m["draft-ar"]["one_token_ms"]
    acc = res["math_accuracy"]
    lines += ["", "| figure | code | math | prose | mean |", "|---|---:|---:|---:|---:|"]
    for label, key in (("target-l distinct-2 (128 new tokens)", "distinct2"),
                       ("draft-ar -> target-l accepted length, K=4", "accepted_length")):
        vals = [res[key][d] for d in corpus.DOMAINS]
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {statistics.mean(vals):.2f} |")
    lines += ["", f"- one-token forward cost, target-l / draft-ar: **{ratio:.1f}x**",
              f"- held-out math accuracy ({res['math_problems']} problems, greedy, final answer): "
              + ", ".join(f"{n} {100 * acc[n]:.1f}%" for n in zoo.TARGETS),
              f"- total build time of these models: {sum(r['build_seconds'] for r in m.values()):.0f} s"]
    finished = [n for n, r in m.items() if r.get("finish")]
    if finished:
        f = m[finished[0]]["finish"]
        lines.append(f"- finished with sequence-level unlikelihood ({f['steps']} steps, alpha {f['alpha']}, "
                     f"{f['ngram']}-gram loops; in the build seconds): {', '.join(finished)}")
    lines += ["",
              "| gate | result |", "|---|---|"]
    lines += [f"| {k} | {'PASS' if v else 'FAIL'} |" for k, v in res["gate"].items()]
    return "\n".join(lines) + "\n"


def plot_loss_curves(scale: str | None = None, path: str | Path | None = None):
    """Training loss against training tokens for every built model of the family (a matplotlib Figure)."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    offset = {}
    for name in zoo.names():
        if zoo.SPECS[name].kind != "text" or not zoo.is_built(name, scale):
            continue
        rec = zoo.info(name, scale)
        tokens_per_step = rec["recipe"]["batch_size"] * rec["recipe"]["seq_len"]
        # a grown or adapted model continues its parent's curve: plot it after the parent's tokens
        start = offset.get(rec.get("grown_from") or rec.get("pard_from"), 0)
        offset[name] = start + rec["train_tokens"]
        xs = [start + s * tokens_per_step for s in rec["loss_curve"]["steps"]]
        smooth, ys = None, []
        for loss in rec["loss_curve"]["losses"]:  # exponential moving average: batches of 4 are noisy
            smooth = loss if smooth is None else 0.9 * smooth + 0.1 * loss
            ys.append(smooth)
        label = name + (" (PARD loss)" if rec.get("pard_from") else "")
        ax.plot([x / 1e6 for x in xs], ys, label=label, lw=1.5)
    ax.set(xlabel="training tokens (millions; grown/adapted models continue their parent's)",
           ylabel="training loss (moving average)",
           title=f"zoo training curves, scale {scale or zoo.DEFAULT_SCALE}", ylim=(0.5, 8))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def main(scale: str | None = None, out: str | None = None) -> dict:
    res = measure(scale)
    text = format_markdown(res)
    print(text)
    for d, s in res["samples"].items():
        print(f"--- sample ({d}) ---\n{s['prompt']}\033[1m{s['continuation']}\033[0m\n")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        Path(out).with_suffix(".json").write_text(json.dumps(res, indent=1))
        plot_loss_curves(scale, Path(out).with_suffix(".png"))
    return res
