"""Which model family a run uses: the zoo's own tiny models, or the real smol-target with its drafts.

Two families share every decoding path of the package:

==========  ==========================================================================================
family      what it is
==========  ==========================================================================================
``zoo``     target-s / target-m / target-l and draft-ar / draft-pard, trained here on the three-domain
            corpus (:mod:`pard_ref.zoo.family`); plain-text prompts (``corpus.load_eval_prompts``),
            domains code / math / prose, mask token ``<|mask|>``
``smol``    smol-target (SmolLM2-135M-Instruct, :mod:`pard_ref.zoo.smol`) with smol-draft-ar and
            smol-draft-pard (:mod:`pard_ref.zoo.smol_drafts`, mask id 3); chat prompts from
            ``data/eval/chat/`` through the chat template, domains code / math / chat
==========  ==========================================================================================

- :data:`FAMILIES`, :class:`Family`, :func:`family_of`: what each family holds (the benchmark,
  :mod:`pard_ref.bench.decoding`, re-exports them); :func:`prompts`: the benchmark's encoded prompts.
- :func:`current_family`: THE switch. ``$PARD_REF_FAMILY`` = ``zoo`` | ``smol`` | ``auto`` (default
  ``auto``: smol when smol-target, smol-draft-ar and smol-draft-pard are all built at the scale, else zoo).
- :func:`load`: everything a notebook needs for the current family in one object (:class:`Loaded`).

**Dtype.** :func:`load` loads every model in float32 unless told otherwise, for both families:
float32 is the zoo's saved precision and ``smol.load``'s default on a CPU, and in float32 speculative
greedy decoding of smol-target gives hf-greedy's tokens (the benchmark checks it). bfloat16 is smol's
fast CPU dtype (the benchmark also runs it), but a bfloat16 (K+1)-token forward can round a near-tie
differently from a 1-token one, so exactness is never asserted in it: pass ``dtype=torch.bfloat16``
only for speed. :attr:`Loaded.exact_dtype` is the dtype the notebooks' exactness checks use: float64
copies of the zoo's tiny models (cheap), float32 for smol (a float64 copy of a 135M model is slow
and needs ~1 GB more).

What it does NOT handle: other families than these two, a GPU-specific choice of dtype (pass one),
and choosing between scales (``$PARD_REF_SCALE`` does that).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

import torch

from ..decoding.checks import resolve_mask_id
from ..decoding.seen_rows import compact_output_layer
from ..scale import current as current_scale
from ..text import corpus
from ..text.tokenizer import encode_prompt
from . import smol
from .builder import is_built, load as load_model
from .family import TARGETS, names
from .smol_drafts import MASK_ID as SMOL_MASK_ID

__all__ = ["ENV", "CHOICES", "Family", "FAMILIES", "family_of", "prompts", "current_family", "family_reason",
           "Loaded", "load"]

ENV = "PARD_REF_FAMILY"
CHOICES = ("zoo", "smol", "auto")


@dataclass(frozen=True)
class Family:
    """What one family runs: its targets, its drafts by role, its prompt domains and dtypes.

    ``drafts`` maps the draft roles the methods use (``"draft-ar"``, ``"draft-pard"``: see
    :data:`pard_ref.bench.methods.DRAFT_OF`) to zoo model names; a drafted method is available when the
    registry has its draft. ``chat``: prompts come from ``data/eval/chat/`` through the tokenizer's chat
    template, else from the corpus's held-out prompts as plain text. ``dtypes``: the benchmark's.
    """

    name: str
    targets: tuple[str, ...]
    drafts: dict
    domains: tuple[str, ...]
    chat: bool = False
    dtypes: tuple[str, ...] = ("float32",)
    cost_references: tuple[str, ...] = ()  # other targets whose per-call costs are measured beside (not run)

    @property
    def target(self) -> str:
        """The family's teaching target: its largest (target-l; smol-target)."""
        return self.targets[-1]

    def models(self) -> tuple[str, ...]:
        """The target the notebooks use and every draft: what must be built to run the family."""
        return (self.target, *self.drafts.values())

    def eval_prompts(self, domain: str, split: str = "dev") -> list[dict]:
        """Held-out prompt records ``{"id", "prompt", ...}`` of one domain: for a chat family the chat
        prompts of ``split`` (``dev`` for teaching, ``test`` for reported figures); for the zoo the
        corpus's held-out prompts (one set: ``split`` is ignored)."""
        if domain not in self.domains:
            raise ValueError(f"unknown domain {domain!r} for family {self.name!r}: choose from {', '.join(self.domains)}")
        return smol.eval_prompts(domain, split) if self.chat else corpus.load_eval_prompts(domain)

    def encode(self, tok, prompt: str) -> list[int]:
        """Token ids of a prompt: the chat template's user turn for a chat family, else plain text."""
        return smol.chat_ids(tok, prompt) if self.chat else encode_prompt(tok, prompt)


FAMILIES = {
    "zoo": Family("zoo", TARGETS, {"draft-ar": "draft-ar", "draft-pard": "draft-pard"}, corpus.DOMAINS),
    "smol": Family("smol", (smol.NAME,), {"draft-ar": "smol-draft-ar", "draft-pard": "smol-draft-pard"},
                   smol.CHAT_DOMAINS, chat=True, dtypes=("float32", "bfloat16"), cost_references=("target-l",)),
}


def family_of(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}: choose from {', '.join(FAMILIES)}")
    return FAMILIES[name]


def prompts(tok, domains, per_domain: int, family: str = "zoo") -> dict[str, list[tuple[str, torch.Tensor]]]:
    """``{domain: [(prompt id, ids [1, P])]}``: the first ``per_domain`` held-out prompts (a chat family:
    of the chat prompts' test split, in the chat template). The benchmark's prompts."""
    fam = family_of(family)
    out = {}
    for d in domains:
        rows = fam.eval_prompts(d, "test")
        if per_domain > len(rows):
            raise ValueError(f"prompts_per_domain={per_domain} but domain {d!r} has {len(rows)} held-out prompts")
        out[d] = [(r["id"], torch.tensor([fam.encode(tok, r["prompt"])])) for r in rows[:per_domain]]
    return out


def _build_command(missing: list[str], scale: str) -> str:
    return " && ".join(f"python -m pard_ref zoo build {n}" + ("" if n == smol.NAME else f" --scale {scale}")
                       for n in missing)


def family_reason(scale: str | None = None) -> tuple[str, str]:
    """``(family, why)``: :func:`current_family`'s choice and the reason, for a notebook to print."""
    scale = current_scale(scale)
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{ENV}={os.environ.get(ENV)!r} is not a family: choose from {', '.join(CHOICES)} "
                         f"(auto: smol when its target and drafts are built at the scale, else zoo)")
    smol_models = FAMILIES["smol"].models()
    missing = [n for n in smol_models if n not in names() or not is_built(n, scale)]
    if value == "zoo":
        return "zoo", f"{ENV}=zoo"
    if value == "smol":
        if missing:
            raise FileNotFoundError(
                f"{ENV}=smol but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not built at scale "
                f"{scale!r}: build with `{_build_command(missing, scale)}` (smol-draft-pard builds smol-draft-ar "
                f"too), or set {ENV}=zoo or auto")
        return "smol", f"{ENV}=smol"
    if missing:
        return "zoo", f"{ENV}=auto, {', '.join(missing)} not built at scale {scale!r}"
    return "smol", f"{ENV}=auto, smol drafts built at scale {scale!r}"


def current_family(scale: str | None = None) -> str:
    """The family to run: ``$PARD_REF_FAMILY`` = ``zoo`` | ``smol`` | ``auto`` (default ``auto``).

    ``auto``: ``smol`` when smol-target, smol-draft-ar and smol-draft-pard are all built at ``scale``
    (default ``$PARD_REF_SCALE``), else ``zoo``. An unknown value is a ValueError naming the allowed
    ones; ``smol`` with a model not built is a FileNotFoundError naming the build command.
    """
    return family_reason(scale)[0]


@dataclass
class Loaded:
    """One family, loaded: what a notebook needs to decode on it.

    ``drafts`` maps roles (``"draft-ar"``, ``"draft-pard"``) to models and ``draft_names`` to zoo names;
    a draft that is not built is left out of both (``missing`` names it). ``mask_id`` comes from
    :func:`~pard_ref.decoding.checks.resolve_mask_id` on the parallel draft. ``eos_id`` is the
    tokenizer's (smol: ``<|im_end|>``).
    """

    family: str
    reason: str
    scale: str
    target_name: str
    target: torch.nn.Module
    drafts: dict
    draft_names: dict
    tokenizer: object
    mask_id: int | None
    eos_id: int
    domains: tuple[str, ...]
    dtype: torch.dtype
    missing: tuple[str, ...] = ()
    spec: Family = field(default=None, repr=False)

    @property
    def chat(self) -> bool:
        return self.spec.chat

    @property
    def exact_dtype(self) -> torch.dtype:
        """The dtype of exactness checks (speculative greedy == plain greedy): float64 for the zoo's tiny
        models, float32 for smol (exact against hf greedy there; float64 would double a 135M model)."""
        return torch.float32 if self.chat else torch.float64

    def line(self) -> str:
        """``family: smol (PARD_REF_FAMILY=auto, smol drafts built ...)``."""
        return f"family: {self.family} ({self.reason})"

    def prompts(self, domain: str) -> list[dict]:
        """Teaching prompts of ``domain``: smol's dev split (never the benchmark's test split); the
        zoo's held-out corpus prompts."""
        return self.spec.eval_prompts(domain, "dev")

    def prompt(self, domain: str, index: int = 0) -> str:
        return self.prompts(domain)[index]["prompt"]

    def encode(self, prompt: str) -> list[int]:
        """Token ids: the chat template for smol, plain text for the zoo."""
        return self.spec.encode(self.tokenizer, prompt)

    def ids(self, prompt: str) -> torch.Tensor:
        """:meth:`encode` as a ``[1, P]`` tensor on the target's device."""
        return torch.tensor([self.encode(prompt)], device=next(self.target.parameters()).device)

    def draft(self, role: str = "draft-pard"):
        """The draft of ``role``; a clear error naming the build command when it is not built."""
        if role not in self.drafts:
            name = self.spec.drafts[role]
            raise FileNotFoundError(f"{name} is not built at scale {self.scale!r}: "
                                    f"`{_build_command([name], self.scale)}`")
        return self.drafts[role]

    def exact(self, model):
        """``model`` in :attr:`exact_dtype`: a copy when that is another dtype, else the model itself."""
        return model if model.dtype == self.exact_dtype else copy.deepcopy(model).to(self.exact_dtype)

    @property
    def fast_dtype(self) -> torch.dtype:
        """The dtype to time in: bfloat16 for smol on a CPU (a 9-token bf16 forward of smol-target costs
        1.12x a 1-token one, fp32 2.04x: docs/benchmarks.md), else the loaded dtype. Exactness is
        checked in :attr:`exact_dtype`, never in bfloat16 (near-ties round differently there)."""
        on_cpu = next(self.target.parameters()).device.type == "cpu"
        return torch.bfloat16 if self.chat and on_cpu else self.dtype

    def fast(self, model):
        """``model`` in :attr:`fast_dtype`: a copy when that is another dtype, else the model itself."""
        return model if model.dtype == self.fast_dtype else copy.deepcopy(model).to(self.fast_dtype)

    def size(self, model=None) -> float:
        """Parameters in millions (default: the target)."""
        return sum(p.numel() for p in (model if model is not None else self.target).parameters()) / 1e6


def load(family: str | None = None, scale: str | None = None, *, dtype=None, target: str | None = None,
         device=None) -> Loaded:
    """The current family (or ``family``) at ``scale``, loaded: :class:`Loaded`.

    ``target`` defaults to the family's teaching target (zoo: target-l; smol: smol-target); the drafts
    are every built draft of the family, loaded for inference: a draft whose output rows are mostly zero
    (smol's seen-vocabulary drafts) computes only the others (:func:`~pard_ref.decoding.seen_rows.compact_output_layer`;
    train from ``zoo.load`` instead). ``dtype`` defaults to float32 for both families (the module
    docstring says why); a torch dtype or its name.
    """
    scale = current_scale(scale)
    if family is None:
        family, reason = family_reason(scale)
    else:
        family_of(family)
        reason = "chosen by the caller"
    fam = family_of(family)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else (dtype or torch.float32)
    target_name = target or fam.target
    if target_name not in fam.targets:
        raise ValueError(f"unknown target {target_name!r} for family {family!r}: choose from {', '.join(fam.targets)}")
    model, tok = load_model(target_name, scale, dtype=dtype, device=device)
    drafts, draft_names, missing = {}, {}, []
    for role, name in fam.drafts.items():
        if name in names() and is_built(name, scale):
            drafts[role] = compact_output_layer(load_model(name, scale, dtype=dtype, device=device)[0])
            draft_names[role] = name
        else:
            missing.append(name)
    if "draft-pard" in drafts:
        mask_id = resolve_mask_id(drafts["draft-pard"], role="draft-pard")
    else:  # no parallel draft: the tokenizer's reserved mask (zoo), or the one smol's drafts are trained with
        mask = SMOL_MASK_ID if fam.chat else tok.mask_token_id
        mask_id = resolve_mask_id(None, mask, vocab_size=len(tok), role="tokenizer") if mask is not None else None
    return Loaded(family=family, reason=reason, scale=scale, target_name=target_name, target=model, drafts=drafts,
                  draft_names=draft_names, tokenizer=tok, mask_id=mask_id, eos_id=tok.eos_token_id,
                  domains=fam.domains, dtype=dtype, missing=tuple(missing), spec=fam)
