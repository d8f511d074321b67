"""A small, readable language-model training loop: the one every model of the zoo is trained with.

- Data: the corpus is tokenized once per tokenizer (cached as tensors) into one long stream of
  ``<|bos|> document <|eos|>`` per domain; a batch is ``batch_size`` random windows of ``seq_len``
  tokens, each window's domain drawn by the mixture weights.
- Optimiser: AdamW, linear warm-up then cosine decay to ``min_lr_ratio * lr``, gradient clipping.
  (The zoo's quality-gate work measured, docs/zoo.md, that constant learning rates and no clipping give models that
  loop; this schedule is what fixed it.)
- Device-agnostic: runs where the model is; on CUDA in bfloat16 autocast.

What it does not handle: multiple GPUs, gradient accumulation, checkpoint resumption (zoo builds are
minutes long; an interrupted build restarts).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch

from .. import paths
from ..text import corpus
from ..text.tokenizer import encode_document, fingerprint


# ----------------------------------------------------------------------------------------------
# token streams
# ----------------------------------------------------------------------------------------------
def token_stream(tok, domain: str, split: str) -> torch.Tensor:
    """All documents of one domain/split as one 1-D LongTensor ``[T]``, cached on disk per tokenizer."""
    cache = paths.zoo_dir() / "tokens" / f"v{corpus.CORPUS_VERSION}-{fingerprint(tok)}" / f"{domain}.{split}.pt"
    if cache.exists():
        return torch.load(cache)
    ids: list[int] = []
    for doc in corpus.load_documents(domain, split):
        ids.extend(encode_document(tok, doc.text))
    stream = torch.tensor(ids, dtype=torch.int32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{time.time_ns()}.tmp")
    torch.save(stream, tmp)
    tmp.replace(cache)  # atomic: a reader sees no file or the whole file
    return stream


def random_windows(streams: dict[str, torch.Tensor], weights: dict[str, float], batch_size: int,
                   seq_len: int, generator: torch.Generator) -> torch.Tensor:
    """``[batch_size, seq_len]`` random windows; each row's domain is drawn with probability ∝ weight."""
    names = list(streams)
    w = torch.tensor([weights.get(n, 0.0) for n in names], dtype=torch.float)
    domain_of_row = torch.multinomial(w / w.sum(), batch_size, replacement=True, generator=generator)
    rows = []
    for d in domain_of_row.tolist():
        s = streams[names[d]]
        start = int(torch.randint(0, len(s) - seq_len, (1,), generator=generator))
        rows.append(s[start:start + seq_len])
    return torch.stack(rows).long()  # [B, L]


def lm_batches(streams: dict[str, torch.Tensor], weights: dict[str, float], batch_size: int, seq_len: int,
               seed: int) -> Iterator[dict[str, torch.Tensor]]:
    """An endless iterator of causal-LM batches ``{"input_ids": [B, L], "labels": [B, L]}``.

    Labels equal the inputs: transformers models shift them internally (position t predicts t+1).
    """
    g = torch.Generator().manual_seed(seed)
    while True:
        x = random_windows(streams, weights, batch_size, seq_len, g)
        yield {"input_ids": x, "labels": x}


# ----------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    steps: int
    lr: float = 3e-3
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    log_every: int = 10

    def lr_at(self, step: int) -> float:
        """Linear warm-up for ``warmup_steps``, then cosine decay to ``min_lr_ratio * lr`` at ``steps``."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)


@dataclass
class TrainLog:
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    extra: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def causal_lm_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """The ordinary next-token loss: ``model(**batch).loss``."""
    return model(**batch).loss, {}


def _decay_groups(model, weight_decay: float):
    """Weight decay on matrices only (not on norms, which are 1-D)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def train(model, batches: Iterator[dict[str, torch.Tensor]], cfg: TrainConfig, *,
          loss_fn: Callable = causal_lm_loss, desc: str = "train", progress: bool = True,
          on_log: Callable[[int, float, dict], None] | None = None) -> TrainLog:
    """Train ``model`` in place for ``cfg.steps`` steps on ``batches``; returns the loss log.

    ``loss_fn(model, batch) -> (loss, metrics)`` lets other objectives (PARD's) reuse this loop.
    """
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    use_autocast = device.type == "cuda"
    opt = torch.optim.AdamW(_decay_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas,
                            fused=device.type == "cuda")
    log = TrainLog()
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    running = None
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(step)
        batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_autocast):
            loss, metrics = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        log.tokens += int(batch["input_ids"].numel())
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            value = float(loss.detach())
            running = value if running is None else 0.8 * running + 0.2 * value
            log.steps.append(step)
            log.losses.append(value)
            for k, v in metrics.items():
                log.extra.setdefault(k, []).append(float(v))
            bar.set_postfix(loss=f"{running:.3f}")
            if on_log is not None:
                on_log(step, value, metrics)
    model.eval()
    log.seconds = time.perf_counter() - t0
    return log


@torch.no_grad()
def heldout_loss(model, stream: torch.Tensor, seq_len: int, max_tokens: int = 32_768,
                 batch_size: int = 16) -> float:
    """Mean next-token loss (nats) over consecutive ``seq_len`` windows of the first ``max_tokens`` tokens."""
    device = next(model.parameters()).device
    n = min(len(stream), max_tokens) // seq_len
    windows = stream[: n * seq_len].long().view(n, seq_len)  # [n, L]
    total, count = 0.0, 0
    model.eval()
    for i in range(0, n, batch_size):
        x = windows[i:i + batch_size].to(device)
        out = model(input_ids=x, labels=x)
        k = x.shape[0] * (seq_len - 1)
        total += float(out.loss) * k
        count += k
    return total / count
