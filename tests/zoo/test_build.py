"""The zoo: loads transformers models, builds atomically and once, explains what is missing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from pard_ref import paths, zoo
from pard_ref.text import tokenizer
from pard_ref.zoo import builder

WORKER = Path(__file__).with_name("_zoo_worker.py")


@pytest.fixture
def tmp_zoo(tmp_path, monkeypatch):
    """A private zoo folder that already holds the (shared) tokenizer, so nothing is retrained."""
    import shutil

    src = tokenizer.build(quiet=True)
    shutil.copytree(src, tmp_path / src.name)
    monkeypatch.setattr(paths, "zoo_dir", lambda: tmp_path)
    return tmp_path


def _worker(zoo_dir, counter, *extra):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(WORKER), str(zoo_dir), str(counter), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_load_returns_transformers_objects(built_zoo):
    model, tok = zoo.load("draft-ar", built_zoo)
    assert isinstance(model, PreTrainedModel) and type(model).__name__ == "LlamaForCausalLM"
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert model.config.vocab_size == len(tok)
    assert not model.training
    # ...and the folder is an ordinary checkpoint: plain from_pretrained works on it
    from transformers import AutoModelForCausalLM

    again = AutoModelForCausalLM.from_pretrained(zoo.model_dir("draft-ar", built_zoo))
    x = torch.tensor([[tok.bos_token_id, 10, 11, 12]])
    torch.testing.assert_close(again(x).logits, model(x).logits)


def test_every_text_model_is_built_and_described(built_zoo):
    sizes = {}
    for name in zoo.TEXT_MODELS:
        rec = zoo.info(name, built_zoo)
        assert rec["name"] == name and rec["scale"] == built_zoo and rec["build_seconds"] > 0
        assert len(rec["loss_curve"]["losses"]) > 2
        sizes[name] = rec["parameters"]
    assert sizes["draft-ar"] * 8 <= sizes["target-l"]
    assert sizes["target-s"] < sizes["target-m"] < sizes["target-l"]


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError) as err:
        zoo.load("target-xl", "ci")
    for name in zoo.TEXT_MODELS:
        assert name in str(err.value)


def test_unknown_scale_is_an_error():
    with pytest.raises(ValueError, match="ci"):
        zoo.load("target-l", "huge")


def test_missing_build_names_the_command(tmp_zoo):
    with pytest.raises(FileNotFoundError, match=r"python -m pard_ref zoo build --scale ci"):
        zoo.load("target-l", "ci")


def test_build_key_changes_with_the_recipe():
    key = zoo.build_key("target-l", "ci")
    assert key == zoo.build_key("target-l", "ci")
    assert key != zoo.build_key("target-l", "full")
    assert zoo.build_key("target-s", "ci") != key


def test_interrupted_build_is_not_loadable(tmp_zoo):
    """A build killed mid-training leaves nothing that loads; the next build completes normally."""
    counter = tmp_zoo / "count.txt"
    proc = _worker(tmp_zoo, counter, "block")
    deadline = time.time() + 60
    while not counter.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert counter.exists(), proc.stderr.read() if proc.poll() is not None else "worker never started training"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    final = tmp_zoo / "ci"
    assert not any(p.name.startswith("tiny-") for p in final.iterdir()), list(final.iterdir())
    # a finished build afterwards works and is loadable
    done = _worker(tmp_zoo, counter)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert (folder / "pard_ref.json").exists() and folder.name.startswith("tiny-")


def test_concurrent_builders_train_once(tmp_zoo):
    counter = tmp_zoo / "count.txt"
    procs = [_worker(tmp_zoo, counter) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    folders = {o.strip().splitlines()[-1] for o, _ in outs}
    assert len(folders) == 1
    assert counter.read_text().count("trained") == 1


def test_grow_deeper_preserves_the_function():
    """target-m and target-l start as exact copies (in function) of the shallower target."""
    from transformers import LlamaForCausalLM

    tok = tokenizer.load()
    torch.manual_seed(0)
    arch = zoo.Arch(hidden=32, layers=2, heads=2, intermediate=64)
    parent = LlamaForCausalLM(arch.llama_config(tok)).double()
    for p in parent.parameters():
        p.data.normal_(0, 0.05)  # non-trivial weights everywhere
    child = zoo.grow_deeper(parent, zoo.Arch(hidden=32, layers=4, heads=2, intermediate=64), tok)
    assert child.config.num_hidden_layers == 4
    x = torch.randint(4, len(tok), (2, 40))
    torch.testing.assert_close(child(x).logits, parent(x).logits, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="doubles depth"):
        zoo.grow_deeper(parent, zoo.Arch(hidden=32, layers=3, heads=2, intermediate=64), tok)
    with pytest.raises(ValueError, match="width"):
        zoo.grow_deeper(parent, zoo.Arch(hidden=48, layers=4, heads=2, intermediate=64), tok)


def test_lineages_group_each_model_with_its_parents():
    groups = zoo.lineages(zoo.names())
    assert groups[0] == ["target-s", "target-m", "target-l"]  # the longest lineage first
    assert ["draft-ar", "draft-pard"] in groups and ["arc-base"] in groups
    assert sorted(n for g in groups for n in g) == sorted(zoo.names())
    # only what is asked for: an adapted draft without its (already built) parent is its own lineage
    assert zoo.lineages(["draft-pard", "target-l"]) == [["target-l"], ["draft-pard"]]


def test_a_failed_parallel_lineage_is_a_clear_error():
    # each lineage is a `python -m pard_ref zoo build` process; one that fails names itself and the resume command
    with pytest.raises(RuntimeError, match=r"no-such-model.*zoo build --scale ci"):
        builder._build_in_parallel("ci", [["no-such-model"]], jobs=2, progress=False)


def test_context_extension_switches_to_longer_windows_at_the_same_tokens_per_step():
    """The main phase reads batch_size x seq_len windows, then long_steps steps of long_seq_len windows."""
    streams = {d: torch.arange(5000) + i * 10_000 for i, d in enumerate(("code", "math", "prose"))}
    recipe = zoo.Recipe(steps=5, batch_size=4, seq_len=16, long_seq_len=32, long_steps=2)
    shapes = [tuple(b["input_ids"].shape) for _, b in zip(range(7), zoo.main_batches(streams, recipe))]
    assert shapes == [(4, 16)] * 3 + [(2, 32)] * 4  # the long iterator goes on past `steps`, like lm_batches
    # every window is a contiguous slice of one domain's stream, labels equal inputs
    b = next(iter(zoo.main_batches(streams, recipe)))
    assert torch.equal(b["labels"], b["input_ids"])
    assert torch.all(b["input_ids"][:, 1:] - b["input_ids"][:, :-1] == 1)
    # without extension: exactly the plain batches of the recipe's seed
    plain = zoo.main_batches(streams, zoo.Recipe(steps=5, batch_size=4, seq_len=16))
    from pard_ref.training.lm import lm_batches
    ref = lm_batches(streams, dict(zoo.Recipe(steps=1).mixture), 4, 16, seed=0)
    assert all(torch.equal(next(plain)["input_ids"], next(ref)["input_ids"]) for _ in range(3))
    with pytest.raises(ValueError, match="long_steps"):
        zoo.main_batches(streams, zoo.Recipe(steps=5, batch_size=1, seq_len=16, long_seq_len=32, long_steps=2))
    with pytest.raises(ValueError, match="long_steps"):
        zoo.main_batches(streams, zoo.Recipe(steps=1, batch_size=4, seq_len=16, long_seq_len=32, long_steps=2))


def test_build_key_of_a_recipe_without_context_extension_ignores_its_fields(monkeypatch):
    """Adding the context-extension option did not change the key (so the cache) of models that don't use it."""
    from dataclasses import replace

    key = zoo.build_key("target-s", "ci")
    spec = zoo.SPECS["target-s"]
    unused = replace(spec, recipes={**spec.recipes, "ci": replace(spec.recipes["ci"], long_seq_len=512)})
    monkeypatch.setitem(zoo.SPECS, "target-s", unused)
    assert zoo.build_key("target-s", "ci") == key
    used = replace(spec, recipes={**spec.recipes, "ci": replace(spec.recipes["ci"], long_steps=10)})
    monkeypatch.setitem(zoo.SPECS, "target-s", used)
    assert zoo.build_key("target-s", "ci") != key
