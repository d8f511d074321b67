"""The per-task test-time-training driver: adapt, predict under augmentations, vote, two attempts.

For one task (``solve_task``) with ``TTTSettings()`` (the full method):

1. **Training data** (``training_examples``): leave-one-out tasks from the task's own demonstrations
   (optionally leave-two-out too, or the "plain pairs" ablation), each with random invertible
   augmentations, capped at ``max_examples`` (``loo.ttt_examples``).
2. **Adapt** (``adapt``): reset the LoRA adapters to their initial weights (so every task starts
   from the same model), then train them on those examples (``adapt.train_lora``).
3. **Augmented inference** (``predict_candidates``): for every test input, the prompt under each of
   the 6 inference symmetries x ``n_orders`` demonstration orders (``vote.inference_augmentations``),
   decoded greedily (all views in one batch), parsed, and mapped back with the inverse transform.
4. **Vote** (``vote.VOTES``): hierarchical by default; two attempts per test input (pass@2).

The **base model** is the same pipeline with ``ttt=False``: no adapter, the *same* augmented
inference and vote (so the comparison isolates test-time training). ``inference_augment=False``
gives the plainest model instead: one identity prompt, one greedy answer.

``solve_tasks`` runs a list of tasks. With ``adapter="shared"`` (the ablation "one adapter for all
tasks") it trains ONE adapter once, on the union of every task's examples (each task's examples
built exactly as in per-task mode), then predicts every task with it.

Every setting of ``TTTSettings`` is used as given; a setting that the chosen configuration would
not use (e.g. ``lr`` with ``ttt=False``, ``augmentations_per_task`` with ``augment=False``) raises
``ValueError`` when it differs from its default, instead of being silently ignored.

Votes: ``"hierarchical"``, ``"flat"``, ``"untransformed"`` (identity views only) and ``"oracle"``
(pass if the answer is among the candidates at all: needs the answer; an upper bound). The results
keep every candidate, so ``TaskResult.score(vote)`` re-scores them under any vote without
re-running anything.

Determinism: the example sampling and the training order are seeded from ``settings.seed`` and a
CRC of the task id (never Python's ``hash``), so the same settings give the same results.

Not handled: several adapters at once (tasks run one after another); likelihood-scored votes;
tasks whose prompts exceed the model's context.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Iterable, Sequence

import torch

from .adapt import collate, masked_lm_loss, position_ids, predict_grids, train_lora
from .augment import SYMMETRIES
from .loo import LOSS_MODES, VARIANTS, TrainingExample, loss_mask, ttt_examples
from .lora import ALL_TARGETS, PAPER_TARGETS, apply_lora, lora_modules, remove_lora, reset_lora
from .serialize import encode_prompt, encode_task
from .tasks import Grid, Task
from .vote import INFERENCE_SYMMETRIES, VOTES, group_candidates, inference_augmentations, oracle_correct, pass_at_k

ADAPTERS = ("per_task", "shared")
VOTE_NAMES = ("hierarchical", "flat", "untransformed", "oracle")

# settings that only matter when a model is adapted, when training data are augmented, etc.
_TRAINING = ("adapter", "variant", "leave_two_out", "augment", "augmentations_per_task", "permute_colours",
             "max_examples", "max_length", "loss", "lora_rank", "lora_alpha", "lora_targets", "lr", "epochs",
             "batch_size", "weight_decay", "max_grad_norm")
_AUGMENT = ("augmentations_per_task", "permute_colours")
_INFERENCE_AUGMENT = ("n_orders", "inference_symmetries")


@dataclass(frozen=True)
class TTTSettings:
    """Every switch of the pipeline. Defaults: the full method at this repository's tiny scale.

    The defaults were chosen on 26 held-out synthetic tasks with the full-scale ``arc-base`` (see
    docs/ttt.md): leave-one-out + leave-two-out tasks, 7 augmentations each, at most 48 examples,
    2 epochs at lr 5e-3 with a rank-32 adapter (alpha 64). The paper's settings (rank 128, alpha 16,
    lr 5e-5..1e-4, 250 examples) are for 1-8B models on a GPU; a 0.7M model needs a far larger rate
    (1e-2 diverged, 2e-3 with fewer examples solved nothing).

    Test-time training:
      ``ttt``: adapt a LoRA per task (False: the base model).
      ``adapter``: ``"per_task"`` (a fresh adapter per task, reset to the same initial weights) or
        ``"shared"`` (one adapter trained once on the union of all tasks' examples).
      ``variant``: ``"loo"`` (leave-one-out tasks) or ``"plain"`` (each demonstration as a 0-shot
        input -> output pair).  ``leave_two_out``: add leave-two-out tasks (``"loo"`` only).
      ``augment``: random invertible augmentations of the training tasks (symmetries, colour
        permutations if ``permute_colours``, demonstration order); ``augmentations_per_task`` of
        them per leave-one-out task, besides the untransformed one. False: untransformed only.
      ``max_examples`` / ``max_length``: cap on examples per task / tokens per example.
      ``loss``: ``"outputs"`` (all outputs but the first demonstration's, the paper),
        ``"query"`` or ``"all"``.
      ``lora_rank`` / ``lora_alpha`` / ``lora_targets``; ``lr``, ``epochs``, ``batch_size``,
        ``weight_decay``, ``max_grad_norm`` (None: no clipping) for AdamW.
    Inference:
      ``inference_augment``: predict under ``inference_symmetries`` x ``n_orders`` demonstration
        orders (False: the identity prompt only, one view).
      ``vote``: ``"hierarchical"``, ``"flat"``, ``"untransformed"`` or ``"oracle"``; ``attempts``
        answers per test input (2 in ARC).
      ``max_size``: the largest grid side the decoder may produce (limits the tokens decoded).
      ``decode_batch``: prompts decoded at once.
    ``seed``: everything random (example sampling, training order, LoRA init, view orders).
    """

    ttt: bool = True
    adapter: str = "per_task"
    variant: str = "loo"
    leave_two_out: bool = True
    augment: bool = True
    augmentations_per_task: int = 7
    permute_colours: bool = True
    max_examples: int | None = 48
    max_length: int | None = None
    loss: str = "outputs"
    lora_rank: int = 32
    lora_alpha: float = 64.0
    lora_targets: tuple[str, ...] = PAPER_TARGETS
    lr: float = 5e-3
    epochs: int = 2
    batch_size: int = 4
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    inference_augment: bool = True
    inference_symmetries: tuple[str, ...] = INFERENCE_SYMMETRIES
    n_orders: int = 2
    vote: str = "hierarchical"
    attempts: int = 2
    max_size: int = 10
    decode_batch: int = 32
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "lora_targets", tuple(self.lora_targets))
        object.__setattr__(self, "inference_symmetries", tuple(self.inference_symmetries))
        _check_choice("adapter", self.adapter, ADAPTERS)
        _check_choice("variant", self.variant, VARIANTS)
        _check_choice("loss", self.loss, LOSS_MODES)
        _check_choice("vote", self.vote, VOTE_NAMES)
        bad = [t for t in self.lora_targets if t not in ALL_TARGETS]
        if bad or not self.lora_targets:
            raise ValueError(f"lora_targets {self.lora_targets} must be a non-empty subset of {ALL_TARGETS}")
        bad = [s for s in self.inference_symmetries if s not in SYMMETRIES]
        if bad or not self.inference_symmetries:
            raise ValueError(f"inference_symmetries {self.inference_symmetries} must be non-empty names "
                             f"from {SYMMETRIES}")
        for name in ("augmentations_per_task", "epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lora_rank", "batch_size", "n_orders", "attempts", "decode_batch", "max_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ValueError(f"max_examples must be >= 1 or None, got {self.max_examples}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        # settings that this configuration would not use must keep their defaults
        unused: dict[str, str] = {}
        if not self.ttt:
            unused.update((n, "ttt=False") for n in _TRAINING)
        elif not self.augment:
            unused.update((n, "augment=False") for n in _AUGMENT)
        if self.ttt and self.variant == "plain" and self.leave_two_out:
            raise ValueError("leave_two_out applies to variant='loo' only: "
                             "use variant='plain' with leave_two_out=False")
        if not self.inference_augment:
            unused.update((n, "inference_augment=False") for n in _INFERENCE_AUGMENT)
        changed = [f"{n} (because {why})" for n, why in unused.items() if getattr(self, n) != _DEFAULTS[n]]
        if changed:
            raise ValueError(f"settings would be ignored: {', '.join(changed)}; leave them at their defaults")

    def replace(self, **changes) -> "TTTSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line saying what runs."""
        if not self.ttt:
            train = "no TTT (base model)"
        else:
            if self.variant == "loo":
                data = "leave-one-out" + (" + leave-two-out" if self.leave_two_out else "")
            else:
                data = "plain pairs"
            aug = f"{self.augmentations_per_task} augmentations/task" if self.augment else "no augmentations"
            train = (f"TTT ({self.adapter} LoRA r={self.lora_rank} a={self.lora_alpha}, {data}, {aug}, "
                     f"<= {self.max_examples} examples, {self.epochs} epochs, lr {self.lr:g})")
        views = (f"{len(self.inference_symmetries)} symmetries x {self.n_orders} orders" if self.inference_augment
                 else "identity prompt only")
        return f"{train}; inference: {views}; vote: {self.vote}, {self.attempts} attempts"


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; use one of {choices}")


_DEFAULTS = {f.name: f.default for f in fields(TTTSettings)}


# ----------------------------------------------------------------------------------------------
# results


@dataclass
class TaskResult:
    """One task's outcome. Per test input: the grouped candidates (original frame), the chosen
    attempts, the known answer (or None) and ``answer_nll``: the mean negative log-likelihood per token
    (nats) of the known answer after the untransformed prompt, teacher-forced (a continuous measure
    of how close the model is, where exact match is all-or-nothing)."""

    task_id: str
    candidates: list[dict[str, list[Grid | None]]]
    attempts: list[list[Grid]]
    answers: list[Grid | None]
    vote: str
    answer_nll: list[float | None] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    n_examples: int = 0
    train_seconds: float = 0.0
    infer_seconds: float = 0.0

    def score(self, vote: str | None = None, k: int = 2) -> float:
        """Fraction of this task's test inputs solved (pass@k) under ``vote`` (default: the one used).

        ``"oracle"``: solved if the answer is among the candidates at all. Needs known answers.
        """
        vote = vote or self.vote
        _check_choice("vote", vote, VOTE_NAMES)
        if any(a is None for a in self.answers):
            raise ValueError(f"task {self.task_id}: a test answer is unknown, cannot score")
        solved = 0
        for cands, answer in zip(self.candidates, self.answers):
            if vote == "oracle":
                solved += oracle_correct(cands, answer)
            else:
                solved += pass_at_k(VOTES[vote](cands, k=k), answer, k)
        return solved / len(self.answers)


def choose(candidates: dict[str, list[Grid | None]], vote: str, k: int, answer: Grid | None = None) -> list[Grid]:
    """The ``k`` attempts a vote picks; ``"oracle"`` picks the answer if any candidate is it."""
    if vote == "oracle":
        if answer is None:
            raise ValueError("the oracle vote needs the answer")
        if oracle_correct(candidates, answer):
            return [answer]
        return VOTES["hierarchical"](candidates, k=k)
    return VOTES[vote](candidates, k=k)


def accuracy(results: Sequence[TaskResult], vote: str | None = None) -> float:
    """Mean task score (tasks solved, with fractional credit for multi-test tasks)."""
    return sum(r.score(vote) for r in results) / max(1, len(results))


# ----------------------------------------------------------------------------------------------
# the steps


def task_seed(task: Task, seed: int) -> int:
    """A per-task seed that does not depend on PYTHONHASHSEED."""
    return (zlib.crc32(task.id.encode()) + 1_000_003 * seed) % (2**31)


def training_examples(task: Task, settings: TTTSettings) -> list[TrainingExample]:
    """The test-time training set of ``task`` under ``settings`` (see ``loo.ttt_examples``)."""
    return ttt_examples(
        task,
        variant=settings.variant,
        use_leave_two_out=settings.leave_two_out,
        augmentations_per_task=settings.augmentations_per_task if settings.augment else 0,
        permute_colours=settings.permute_colours,
        shuffle_demonstrations=settings.augment,
        include_untransformed=True,
        max_examples=settings.max_examples,
        max_length=settings.max_length,
        loss=settings.loss,
        seed=task_seed(task, settings.seed),
    )


@contextlib.contextmanager
def lora_attached(model: torch.nn.Module, settings: TTTSettings):
    """Wrap ``model`` with LoRA adapters for the duration (if ``settings.ttt``), then restore it exactly."""
    if not settings.ttt:
        yield model
        return
    if lora_modules(model):
        raise ValueError("the model already has LoRA adapters")
    apply_lora(model, r=settings.lora_rank, alpha=settings.lora_alpha, targets=settings.lora_targets,
               seed=settings.seed)
    try:
        yield model
    finally:
        remove_lora(model)


def adapt(model: torch.nn.Module, examples: Sequence[TrainingExample], settings: TTTSettings, seed: int) -> list[float]:
    """Reset the adapters to their initial weights, then train them on ``examples``; the step losses."""
    reset_lora(model)
    return train_lora(model, examples, epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size,
                      weight_decay=settings.weight_decay, max_grad_norm=settings.max_grad_norm, seed=seed)


def inference_views(task: Task, settings: TTTSettings):
    """``[(test_index, augmentation, prompt_ids), ...]``: every test input under every view."""
    if settings.inference_augment:
        augs = inference_augmentations(len(task.train), symmetries=settings.inference_symmetries,
                                       n_orders=settings.n_orders, seed=task_seed(task, settings.seed))
    else:
        augs = inference_augmentations(len(task.train), symmetries=("identity",), n_orders=1)
    views = []
    for i in range(len(task.test)):
        for aug in augs:
            t = aug.task(task)
            views.append((i, aug, encode_prompt(t.train, t.test[i][0]).ids))
    return views


def predict_candidates(model, tasks: Sequence[Task], settings: TTTSettings) -> list[list[dict]]:
    """For each task, for each test input: candidates grouped by symmetry, in the original frame.

    All views of all ``tasks`` are decoded together in batches (one model for all of them).
    """
    views = [(k, *v) for k, task in enumerate(tasks) for v in inference_views(task, settings)]
    grids = predict_grids(model, [v[3] for v in views], max_size=settings.max_size, batch_size=settings.decode_batch)
    out = []
    for k, task in enumerate(tasks):
        per_test = []
        for i in range(len(task.test)):
            sel = [(v[2], g) for v, g in zip(views, grids) if v[0] == k and v[1] == i]
            per_test.append(group_candidates([a for a, _ in sel], [g for _, g in sel]))
        out.append(per_test)
    return out


@torch.no_grad()
def answer_nll(model, task: Task) -> list[float | None]:
    """Per test input: mean NLL (nats/token) of the known answer (and its ``<eos>``) after the
    identity prompt, teacher-forced; ``None`` where the answer is unknown."""
    out = []
    for i, (_, answer) in enumerate(task.test):
        if answer is None:
            out.append(None)
            continue
        enc = encode_task(task, i, with_answer=True)
        ex = TrainingExample(task.id, enc.ids, loss_mask(enc, "query"))
        ids, attn, labels = collate([ex], next(model.parameters()).device)
        logits = model(input_ids=ids, attention_mask=attn, position_ids=position_ids(model, ids)).logits
        out.append(float(masked_lm_loss(logits, labels)))
    return out


def _result(task, cands, settings, **extra) -> TaskResult:
    answers = [o for _, o in task.test]
    if settings.vote == "oracle" and any(a is None for a in answers):
        raise ValueError(f"task {task.id}: the oracle vote needs known test answers")
    attempts = [choose(c, settings.vote, settings.attempts, a) for c, a in zip(cands, answers)]
    return TaskResult(task.id, cands, attempts, answers, settings.vote, **extra)


def solve_task(model, task: Task, settings: TTTSettings = TTTSettings()) -> TaskResult:
    """One task end to end (per-task adapter, or the base model). The model is left unchanged."""
    if settings.ttt and settings.adapter == "shared":
        raise ValueError("a shared adapter is trained over many tasks: use solve_tasks")
    return solve_tasks(model, [task], settings, progress=False)[0]


def solve_tasks(model, tasks: Sequence[Task], settings: TTTSettings = TTTSettings(), *, progress: bool = True,
                desc: str = "ttt") -> list[TaskResult]:
    """Every task under ``settings``; the model is left exactly as it was (adapters removed)."""
    from tqdm.auto import tqdm

    tasks = list(tasks)
    results: list[TaskResult] = []
    with lora_attached(model, settings):
        if not settings.ttt or settings.adapter == "shared":
            losses, n, t_train = [], 0, 0.0
            if settings.ttt:  # ONE adapter, trained once on the union of every task's examples
                t0 = time.perf_counter()
                examples = [e for t in tasks for e in training_examples(t, settings)]
                n = len(examples)
                losses = adapt(model, examples, settings, seed=settings.seed)
                t_train = time.perf_counter() - t0
            t0 = time.perf_counter()
            cands = predict_candidates(model, tasks, settings)
            t_infer = (time.perf_counter() - t0) / max(1, len(tasks))
            for task, c in zip(tasks, cands):
                results.append(_result(task, c, settings, answer_nll=answer_nll(model, task),
                                       train_losses=losses, n_examples=n,
                                       train_seconds=t_train / max(1, len(tasks)), infer_seconds=t_infer))
            return results
        for task in tqdm(tasks, desc=desc, disable=not progress, leave=False):
            t0 = time.perf_counter()
            examples = training_examples(task, settings)
            losses = adapt(model, examples, settings, seed=task_seed(task, settings.seed))
            t1 = time.perf_counter()
            cands = predict_candidates(model, [task], settings)[0]
            results.append(_result(task, cands, settings, answer_nll=answer_nll(model, task),
                                   train_losses=losses, n_examples=len(examples),
                                   train_seconds=t1 - t0, infer_seconds=time.perf_counter() - t1))
    return results


def ablation_settings(base: TTTSettings = TTTSettings()) -> dict[str, TTTSettings]:
    """The rows of the paper's ablation that need their own run (the vote rows reuse ``"ttt"``)."""
    defaults = {n: _DEFAULTS[n] for n in _TRAINING}
    return {
        "base": base.replace(ttt=False, **defaults),
        "ttt": base,
        "no_augmentation": base.replace(augment=False, augmentations_per_task=_DEFAULTS["augmentations_per_task"],
                                        permute_colours=_DEFAULTS["permute_colours"]),
        "plain_pairs": base.replace(variant="plain", leave_two_out=False),
        "shared_adapter": base.replace(adapter="shared"),
    }


def mean_answer_nll(results: Iterable[TaskResult]) -> float | None:
    """Mean over tasks of the mean answer NLL of their test inputs (None if no answer is known)."""
    per_task = [sum(v) / len(v) for r in results for v in [[x for x in r.answer_nll if x is not None]] if v]
    return sum(per_task) / len(per_task) if per_task else None
