"""The corpus builds deterministically, its splits never overlap, and the committed prompts are held out."""

import json

import pytest

from pard_ref.text import corpus


@pytest.fixture(scope="module")
def docs():
    return corpus.all_documents()


def test_build_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    corpus.build(a, quiet=True)
    corpus.build(b, quiet=True)
    for domain in corpus.DOMAINS:
        for split in corpus.SPLITS:
            name = f"build/{domain}.{split}.jsonl"
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
        assert (a / f"eval/{domain}.jsonl").read_bytes() == (b / f"eval/{domain}.jsonl").read_bytes()


def test_every_domain_and_split_has_data(docs):
    for domain in corpus.DOMAINS:
        for split in corpus.SPLITS:
            assert len(docs[domain][split]) > 5, (domain, split)


def test_splits_are_disjoint(docs):
    for domain in corpus.DOMAINS:
        train_ids = {d.id.split(":", 1)[1] for d in docs[domain]["train"]}
        held_ids = {d.id.split(":", 1)[1] for d in docs[domain]["heldout"]}
        train_text = {d.text for d in docs[domain]["train"]}
        assert not train_text & {d.text for d in docs[domain]["heldout"]}, domain
        if domain != "math":  # math ids are indices per split; their texts are compared above
            assert not train_ids & held_ids, domain


def test_split_assignment_is_by_name_not_by_process():
    # sha256-based buckets: fixed values, whatever PYTHONHASHSEED or Python version
    assert corpus.split_of("code", "json/decoder.py") == corpus.split_of("code", "json/decoder.py")
    assert corpus._stable_bucket("code:json/decoder.py") == int(
        __import__("hashlib").sha256(b"code:json/decoder.py").hexdigest()[:8], 16) % 100


def test_committed_eval_prompts_are_held_out(docs):
    """Every committed evaluation prompt comes from held-out text, never from a training document."""
    train_text = {d: "\n".join(x.text for x in docs[d]["train"]) for d in ("code", "prose")}
    for domain in corpus.DOMAINS:
        rows = corpus.load_eval_prompts(domain)
        assert len(rows) == corpus.EVAL_PROMPTS_PER_DOMAIN
        for row in rows:
            if domain == "math":
                assert row["prompt"].startswith(corpus.MATH_QUESTION_PREFIX)
                assert isinstance(row["answer"], int)
                assert not any(d.text.startswith(row["prompt"]) for d in docs["math"]["train"])
            else:
                assert row["id"].split("#")[0] in {d.id for d in docs[domain]["heldout"]}
                assert row["prompt"] not in train_text[domain]


def test_math_problems_are_consistent():
    """The worked solution's final line is the stated answer, and the parser finds it."""
    for q, s, a in corpus.math_problems(seed=123, count=400):
        text = corpus.format_math(q, s, a)
        assert corpus.parse_math_answer(text.split(corpus.MATH_ANSWER_PREFIX)[1]) == a
        assert s.rstrip(".").split("= ")[-1].lstrip("$").split(" ")[0].rstrip(".") == str(a)
        assert 0 <= a < 1000


def test_parse_math_answer_handles_garbage():
    assert corpus.parse_math_answer("no answer here") is None
    assert corpus.parse_math_answer("... #### $42\n") == 42


def test_bad_input_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown domain"):
        corpus.load_documents("poetry", "train")
    with pytest.raises(ValueError, match="unknown split"):
        corpus.load_documents("code", "test")
    with pytest.raises(FileNotFoundError, match="python -m pard_ref data"):
        corpus.load_documents("code", "train", tmp_path / "nowhere")


def test_interrupted_build_is_redone(tmp_path, monkeypatch):
    """Without the BUILD.json marker (written last) the next build starts over."""
    corpus.build(tmp_path, quiet=True)
    marker = tmp_path / "build" / "BUILD.json"
    info = json.loads(marker.read_text())
    marker.unlink()
    (tmp_path / "build" / "code.train.jsonl").write_text("half a file")
    corpus.build(tmp_path, quiet=True)
    assert json.loads(marker.read_text()) == info
    assert (tmp_path / "build" / "code.train.jsonl").read_text() != "half a file"
