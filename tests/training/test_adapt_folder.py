"""train-pard: an AR draft folder becomes a PARD draft folder that loads with from_pretrained, carries
pard_token and spd_type, and decodes exactly like plain greedy through the PARD path; bad input stops
before any training with a clear message; an interrupted run leaves no folder that loads."""

import json

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase, \
    PreTrainedTokenizerFast, ViTConfig

from pard_ref import cli, generate
from pard_ref.training import adapt_folder as af

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<reserved_a>", "<reserved_b>"]
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TEXTS = ["def add(a, b):\n    return a + b\n", "The cat sat on the mat. The dog ran in the park.",
         "x = 1\ny = x * 2\nprint(x + y)\n", "Two apples and three pears make five fruits."]


def _tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXTS * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIALS,
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                           show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = TEMPLATE
    return fast


def _llama(tok, layers, hidden, seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=2 * hidden, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt")
    tok = _tokenizer()
    for name, (layers, hidden, seed) in {"target": (2, 64, 0), "draft": (1, 32, 1)}.items():
        _llama(tok, layers, hidden, seed).save_pretrained(root / name)
        tok.save_pretrained(root / name)
    rows = [{"text": t} for t in TEXTS] + [{"messages": [{"role": "user", "content": "add two numbers"},
                                                         {"role": "assistant", "content": TEXTS[0]}]}]
    (root / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows * 3) + "\n")
    return root


SMALL = af.AdaptConfig(k=4, steps=3, batch_size=2, seq_len=24, lr=1e-3)


def test_adapted_folder_loads_and_decodes_like_plain_greedy(folders, tmp_path, capsys):
    out = tmp_path / "pard-draft"
    rc = cli.main(["train-pard", "--draft", str(folders / "draft"), "--data", str(folders / "data.jsonl"),
                   "--out", str(out), "--k", "4", "--steps", "3", "--batch-size", "2", "--seq-len", "24",
                   "--dtype", "float64", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    config = json.loads((out / "config.json").read_text())
    tok = PreTrainedTokenizerFast.from_pretrained(out)
    assert config["spd_type"] == "pard"
    assert config["pard_token"] == tok.convert_tokens_to_ids("<reserved_a>")  # the first unused special token
    record = json.loads((out / af.LOG_NAME).read_text())
    assert record["k"] == 4 and record["steps"] == 3 and record["train_tokens"] > 0
    draft = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float64).eval()
    before = AutoModelForCausalLM.from_pretrained(folders / "draft", dtype=torch.float64)
    assert not torch.equal(draft.model.layers[0].mlp.up_proj.weight, before.model.layers[0].mlp.up_proj.weight)
    target = AutoModelForCausalLM.from_pretrained(folders / "target", dtype=torch.float64).eval()
    ids = torch.tensor([tok("def add(a, b):", add_special_tokens=False)["input_ids"]])
    plain = generate(target, ids, method="none", max_new_tokens=30)
    for k in (2, 4, 8):
        pard = generate(target, ids, draft=draft, method="pard", k=k, max_new_tokens=30)
        assert pard.sequences.tolist() == plain.sequences.tolist(), k
        assert pard.stats.target_calls <= 30
    rc = cli.main(["generate", "--target", str(folders / "target"), "--draft", str(out), "--prompt", "x = 1",
                   "--k", "4", "--max-new-tokens", "10", "--dtype", "float32"])
    assert rc == 0 and "same tokens as plain: yes" in capsys.readouterr().out


@pytest.fixture
def no_training(monkeypatch):
    def fail(*a, **kw):
        raise AssertionError("training started although the input was bad")
    monkeypatch.setattr(af, "train_pard_with_log", fail)


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_bad_inputs_stop_before_training(folders, tmp_path, no_training):
    data, draft = folders / "data.jsonl", folders / "draft"
    out = tmp_path / "out"
    ViTConfig().save_pretrained(tmp_path / "vit")
    (tmp_path / "empty").mkdir()
    tok = PreTrainedTokenizerFast.from_pretrained(draft)
    cases = [
        (dict(draft_dir=tmp_path / "missing"), "does not exist"),
        (dict(draft_dir=tmp_path / "empty"), "no config.json"),
        (dict(draft_dir=tmp_path / "vit"), "not a causal language model"),
        (dict(data=_write(tmp_path / "notext.jsonl", [{"title": "x"}, {"text": "  "}])), "no training text"),
        (dict(data=_write(tmp_path / "broken.jsonl", ['{"text": "a"}', "not json"])),
         "broken.jsonl:2 is not valid JSON"),
        (dict(data=tmp_path / "absent.jsonl"), "does not exist"),
        # the literal special token encodes to its id, so that id is used by the data
        (dict(mask_id=tok.convert_tokens_to_ids("<reserved_a>"),
              data=_write(tmp_path / "masked.jsonl", [{"text": t + " <reserved_a>"} for t in TEXTS])), "occurs"),
        (dict(mask_id=tok.convert_tokens_to_ids("<reserved_b>"),
              data=_write(tmp_path / "masked_b.jsonl", [{"text": t + " <reserved_b>"} for t in TEXTS])), "occurs"),
        (dict(mask_id=tok.convert_tokens_to_ids("~")), "ordinary vocabulary token"),  # a byte the data never uses
        (dict(mask_id=tok.eos_token_id), "bos/eos/pad/unk"),
        (dict(mask_id=10_000), "outside the draft's vocabulary"),
        (dict(config=af.AdaptConfig(k=1)), "K=1"),
        (dict(config=af.AdaptConfig(drop_ratio=1.5)), "drop_ratio must be in (0, 1]"),
        (dict(config=af.AdaptConfig(drop_ratio=0.3, min_drop_ratio=0.5)), "must not exceed"),
        (dict(config=af.AdaptConfig(steps=0)), "steps must be a positive int"),
        (dict(config=af.AdaptConfig(seq_len=4096)), "seq_len=4096"),
        (dict(out_dir=folders / "target"), "already exists"),
    ]
    for overrides, message in cases:
        kwargs = {**dict(draft_dir=draft, data=data, out_dir=out, config=SMALL, progress=False), **overrides}
        with pytest.raises(ValueError) as e:
            af.adapt_folder(kwargs.pop("draft_dir"), kwargs.pop("data"), kwargs.pop("out_dir"), **kwargs)
        assert message in str(e.value), (overrides, str(e.value))
        assert not out.exists()


def test_both_reserved_tokens_in_data_leave_no_candidate(folders, tmp_path, no_training):
    data = _write(tmp_path / "both.jsonl", [{"text": t + " <reserved_a> <reserved_b>"} for t in TEXTS])
    with pytest.raises(ValueError, match="no unused special token"):
        af.adapt_folder(folders / "draft", data, tmp_path / "out", config=SMALL, progress=False)


def test_cli_reports_bad_ratios_without_a_traceback(folders, tmp_path, capsys, no_training):
    rc = cli.main(["train-pard", "--draft", str(folders / "draft"), "--data", str(folders / "data.jsonl"),
                   "--out", str(tmp_path / "o"), "--min-drop-ratio", "0"])
    assert rc == 2 and "min_drop_ratio must be in (0, 1]" in capsys.readouterr().err


def test_interrupted_run_leaves_no_folder_that_loads(folders, tmp_path, monkeypatch):
    def interrupted(self, *a, **kw):  # the weights are written, then the run is killed
        raise KeyboardInterrupt
    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", interrupted)
    out = tmp_path / "pard-draft"
    with pytest.raises(KeyboardInterrupt):
        af.adapt_folder(folders / "draft", folders / "data.jsonl", out, config=SMALL, progress=False)
    assert not out.exists()
    assert not any((p / "config.json").exists() for p in tmp_path.iterdir())
