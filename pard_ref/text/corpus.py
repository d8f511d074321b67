"""The offline three-domain corpus: code, math and prose, mirroring the PARD paper's benchmarks.

=========  ======================================================  ====================
domain     source                                                  paper's benchmark
=========  ======================================================  ====================
code       the Python standard library's own ``.py`` source        HumanEval
math       synthetic grade-school word problems with worked         GSM8K
           step-by-step solutions, from a seeded generator here
prose      Python's documentation topics shipped in ``pydoc_data``  MT-Bench (chat answers)
=========  ======================================================  ====================

Everything is built from what is already on the machine, deterministically: ``python -m pard_ref data``
writes ``data/build/<domain>.<split>.jsonl`` (one document per line, ``{"id", "text"}``) and, if they
are missing, the small held-out evaluation prompt files ``data/eval/<domain>.jsonl`` (committed).

Splits never overlap. Code files and prose topics are assigned to a split by a hash of their *name*
(not of Python's per-process string hash), so a module held out on Python 3.11 is held out on every
version; math problems come from disjoint seeds and any text that also occurs in train is dropped.

What it does not handle: the stdlib and pydoc text differ between Python versions, so the corpus
(and the zoo trained on it) is deterministic per Python version, not across versions.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from .. import paths

DOMAINS = ("code", "math", "prose")
SPLITS = ("train", "heldout")
CORPUS_VERSION = 2  # bump when the build changes what it writes; the zoo keys its cache on it

HELDOUT_PERCENT = {"code": 5, "prose": 12}
MATH_TRAIN_PROBLEMS = 30_000
MATH_HELDOUT_PROBLEMS = 600
EVAL_PROMPTS_PER_DOMAIN = 24

# Folders of the standard library that are not ordinary source (tests, vendored data tables) or that
# belong to another domain (pydoc_data is the prose domain).
_CODE_EXCLUDE = {"test", "tests", "idle_test", "site-packages", "pydoc_data", "encodings",
                 "__pycache__", "lib2to3", "turtledemo", "ensurepip", "config-3"}


@dataclass(frozen=True)
class Document:
    id: str
    text: str


def _stable_bucket(name: str, buckets: int = 100) -> int:
    """A split bucket from a name, stable across processes and Python versions."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % buckets


def split_of(domain: str, name: str) -> str:
    """``"heldout"`` or ``"train"`` for a code file (relative path) or prose topic name."""
    return "heldout" if _stable_bucket(f"{domain}:{name}") < HELDOUT_PERCENT[domain] else "train"


# ----------------------------------------------------------------------------------------------
# code: the standard library's source
# ----------------------------------------------------------------------------------------------
def code_documents() -> dict[str, list[Document]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out: dict[str, list[Document]] = {s: [] for s in SPLITS}
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib).as_posix()
        parts = set(rel.split("/")[:-1])
        if parts & _CODE_EXCLUDE or any(p.startswith("config-") for p in parts):
            continue
        if rel.startswith("test_") or "/test_" in rel:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        text = text.replace("\r\n", "\n").strip("\n")
        if len(text) < 200:
            continue
        out[split_of("code", rel)].append(Document(f"code:{rel}", text + "\n"))
    return out


# ----------------------------------------------------------------------------------------------
# prose: pydoc_data documentation topics
_UNDERLINE = re.compile(r"^[*=\-~^]{3,}[ \t]*\n", flags=re.MULTILINE)
# ----------------------------------------------------------------------------------------------
def prose_documents() -> dict[str, list[Document]]:
    from pydoc_data.topics import topics

    out: dict[str, list[Document]] = {s: [] for s in SPLITS}
    for name in sorted(topics):
        text = topics[name].replace("\r\n", "\n").strip("\n")
        # Drop heading underlines ("*****", "=====", "-----"): their length matches the heading, which
        # a tiny model cannot count, so it learns to emit them forever. Collapse runs of blank lines.
        text = _UNDERLINE.sub("", text)
        text = re.sub(r"\n{3,}", "\n\n", text)
        out[split_of("prose", name)].append(Document(f"prose:{name}", text))
    # Some topics repeat paragraphs of others (e.g. "for" quotes "break"): drop from held-out
    # documents every paragraph that also occurs in a training document, so nothing leaks.
    train_paras = {p for d in out["train"] for p in d.text.split("\n\n")}
    out["heldout"] = [Document(d.id, "\n\n".join(p for p in d.text.split("\n\n") if p not in train_paras))
                      for d in out["heldout"]]
    return {split: [Document(d.id, d.text + "\n") for d in docs if len(d.text) >= 200]
            for split, docs in out.items()}


# ----------------------------------------------------------------------------------------------
# math: a seeded generator of grade-school word problems with worked solutions (GSM8K-like)
# ----------------------------------------------------------------------------------------------
_NAMES = ["Ava", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jamal", "Kira",
          "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor",
          "Wen", "Yusuf", "Zoe"]
_ITEMS = [("pencils", "box"), ("stickers", "pack"), ("apples", "bag"), ("cookies", "tray"),
          ("marbles", "jar"), ("cards", "deck"), ("eggs", "carton"), ("books", "shelf"),
          ("beads", "string"), ("shells", "bucket"), ("stamps", "sheet"), ("crayons", "case")]
_GOODS = [("notebook", "notebooks"), ("pen", "pens"), ("ticket", "tickets"), ("sandwich", "sandwiches"),
          ("plant", "plants"), ("toy car", "toy cars"), ("cup", "cups"), ("ball", "balls")]


def _problem(rng: random.Random) -> tuple[str, str, int]:
    """One word problem: (question, worked solution, final answer). Numbers stay below 1000."""
    kind = rng.randrange(8)
    a_name, b_name, c_name = rng.sample(_NAMES, 3)
    items, unit = rng.choice(_ITEMS)
    if kind == 0:  # packs, then give some away
        n, per = rng.randint(2, 9), rng.randint(3, 12)
        total = n * per
        give = rng.randint(1, total - 1)
        ans = total - give
        q = (f"{a_name} buys {n} {unit}s of {items}. Each {unit} has {per} {items}. "
             f"{a_name} gives {give} {items} to {b_name}. How many {items} does {a_name} have now?")
        s = (f"{a_name} buys {n} * {per} = {total} {items}.\n"
             f"After giving {give} away, {a_name} has {total} - {give} = {ans} {items}.")
    elif kind == 1:  # wage over days
        rate, hours, days = rng.randint(5, 15), rng.randint(2, 8), rng.randint(2, 6)
        day = rate * hours
        ans = day * days
        q = (f"{a_name} earns ${rate} per hour and works {hours} hours a day. "
             f"How much does {a_name} earn in {days} days?")
        s = (f"In one day {a_name} earns {rate} * {hours} = ${day}.\n"
             f"In {days} days {a_name} earns {day} * {days} = ${ans}.")
    elif kind == 2:  # share equally, then eat some
        friends, each = rng.randint(2, 8), rng.randint(3, 12)
        total = friends * each
        eat = rng.randint(1, each - 1)
        ans = each - eat
        q = (f"{a_name} has {total} {items} and shares them equally among {friends} friends. "
             f"{b_name} is one of the friends and uses {eat} of them. How many {items} does {b_name} have left?")
        s = (f"Each friend gets {total} / {friends} = {each} {items}.\n"
             f"{b_name} has {each} - {eat} = {ans} {items} left.")
    elif kind == 3:  # ages
        age, older, mult = rng.randint(4, 30), rng.randint(2, 15), rng.randint(2, 3)
        b_age = age + older
        ans = b_age * mult
        word = {2: "twice", 3: "three times"}[mult]
        q = (f"{a_name} is {age} years old. {b_name} is {older} years older than {a_name}. "
             f"{c_name} is {word} as old as {b_name}. How old is {c_name}?")
        s = (f"{b_name} is {age} + {older} = {b_age} years old.\n"
             f"{c_name} is {b_age} * {mult} = {ans} years old.")
    elif kind == 4:  # shopping with two goods
        (g1, g1s), (g2, g2s) = rng.sample(_GOODS, 2)
        n1, p1, n2, p2 = rng.randint(2, 9), rng.randint(2, 20), rng.randint(2, 9), rng.randint(2, 20)
        c1, c2 = n1 * p1, n2 * p2
        ans = c1 + c2
        q = (f"{a_name} buys {n1} {g1s} for ${p1} each and {n2} {g2s} for ${p2} each. "
             f"How much does {a_name} spend in total?")
        s = (f"The {g1s} cost {n1} * {p1} = ${c1}.\n"
             f"The {g2s} cost {n2} * {p2} = ${c2}.\n"
             f"In total {a_name} spends {c1} + {c2} = ${ans}.")
    elif kind == 5:  # half, then buy more
        half = rng.randint(3, 60)
        total = 2 * half
        more = rng.randint(2, 40)
        ans = half + more
        q = (f"{a_name} has {total} {items}. {a_name} gives half of them to {b_name} "
             f"and then buys {more} more. How many {items} does {a_name} have now?")
        s = (f"Half of {total} is {total} / 2 = {half}, so {a_name} keeps {half} {items}.\n"
             f"After buying {more} more, {a_name} has {half} + {more} = {ans} {items}.")
    elif kind == 6:  # distance
        speed, hours, extra = rng.randint(20, 90), rng.randint(2, 6), rng.randint(5, 60)
        part = speed * hours
        ans = part + extra
        q = (f"{a_name} drives at {speed} miles per hour for {hours} hours, then drives {extra} more miles. "
             f"How many miles does {a_name} drive in total?")
        s = (f"In {hours} hours {a_name} drives {speed} * {hours} = {part} miles.\n"
             f"In total {a_name} drives {part} + {extra} = {ans} miles.")
    else:  # comparison, then total
        x, more, fewer = rng.randint(5, 60), rng.randint(2, 30), rng.randint(1, 20)
        y = x + more
        z = y - fewer
        ans = x + y + z
        q = (f"{a_name} has {x} {items}. {b_name} has {more} more {items} than {a_name}. "
             f"{c_name} has {fewer} fewer {items} than {b_name}. How many {items} do they have together?")
        s = (f"{b_name} has {x} + {more} = {y} {items}.\n"
             f"{c_name} has {y} - {fewer} = {z} {items}.\n"
             f"Together they have {x} + {y} + {z} = {ans} {items}.")
    return q, s, ans


MATH_QUESTION_PREFIX = "Question: "
MATH_ANSWER_PREFIX = "\nAnswer:"
MATH_FINAL_MARK = "#### "


def format_math(question: str, solution: str | None = None, answer: int | None = None) -> str:
    """The text layout of a math problem. With no solution: the prompt the model completes.

    The prompt ends with ``"Answer:"`` and no trailing space: byte-level BPE glues a space to the
    word after it, so a prompt ending in a bare space token would be unlike any training text.
    """
    text = f"{MATH_QUESTION_PREFIX}{question}{MATH_ANSWER_PREFIX}"
    if solution is None:
        return text
    return f"{text} {solution}\n{MATH_FINAL_MARK}{answer}\n"


def parse_math_answer(completion: str) -> int | None:
    """The final answer after ``#### `` in a model's completion, or ``None`` if there is none."""
    m = re.search(r"####\s*\$?(-?\d+)", completion)
    return int(m.group(1)) if m else None


def math_problems(seed: int, count: int) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    return [_problem(rng) for _ in range(count)]


def math_documents() -> dict[str, list[Document]]:
    train = math_problems(seed=1, count=MATH_TRAIN_PROBLEMS)
    seen = {q for q, _, _ in train}
    held = [p for p in math_problems(seed=2, count=MATH_HELDOUT_PROBLEMS * 2) if p[0] not in seen]
    held = held[:MATH_HELDOUT_PROBLEMS]
    return {
        "train": [Document(f"math:train:{i}", format_math(*p)) for i, p in enumerate(train)],
        "heldout": [Document(f"math:heldout:{i}", format_math(*p)) for i, p in enumerate(held)],
    }


# ----------------------------------------------------------------------------------------------
# evaluation prompts (held-out, committed)
# ----------------------------------------------------------------------------------------------
def _code_prompt(doc: Document, rng: random.Random, max_chars: int) -> str | None:
    """A prompt from a held-out source file: a few lines, a ``def`` line and the first line of its body."""
    lines = doc.text.split("\n")
    starts = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("def ") and i + 2 < len(lines)]
    if not starts:
        return None
    i = rng.choice(starts)
    # Take a few lines of context before the def, the def itself and its next line.
    lo = max(0, i - 6)
    # No trailing newline: byte-level BPE merges a newline with the indentation after it, so a
    # prompt ending in a bare "\n" token would announce an unindented line.
    text = "\n".join(lines[lo:i + 2]).rstrip()
    return text[-max_chars:] if len(text) > max_chars else text


def _prose_prompt(doc: Document, rng: random.Random, max_chars: int) -> str | None:
    paras = [p for p in doc.text.split("\n\n") if len(p) > 120 and not p.startswith("   ")]
    if not paras:
        return None
    p = rng.choice(paras)
    cut = p[:max_chars]
    cut = cut[: cut.rfind(" ")] if " " in cut else cut  # end on a word boundary
    return cut


def eval_prompts(heldout: dict[str, list[Document]], train: dict[str, list[Document]],
                 count: int = EVAL_PROMPTS_PER_DOMAIN, seed: int = 0) -> dict[str, list[dict]]:
    """``{domain: [{"id", "prompt", ...}]}``: held-out prompts for generation, acceptance and accuracy.

    A candidate prompt whose text also occurs anywhere in the training split is skipped.
    """
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {}
    for domain, make in (("code", _code_prompt), ("prose", _prose_prompt)):
        train_text = "\n".join(d.text for d in train[domain])
        docs = list(heldout[domain])
        rng.shuffle(docs)
        rows = []
        for doc in docs * 10:  # wrap around if there are fewer documents than prompts
            prompt = make(doc, rng, 360)
            if prompt and prompt not in train_text and all(prompt != r["prompt"] for r in rows):
                rows.append({"id": f"{doc.id}#{len(rows)}", "prompt": prompt})
            if len(rows) == count:
                break
        out[domain] = rows
    problems = math_problems(seed=2, count=MATH_HELDOUT_PROBLEMS * 2)
    texts = {d.text for d in heldout["math"]}
    rows = []
    for i, (q, s, a) in enumerate(problems):
        if format_math(q, s, a) in texts:
            rows.append({"id": f"math:heldout:{i}", "prompt": format_math(q), "answer": a})
        if len(rows) == count:
            break
    out["math"] = rows
    return out


# ----------------------------------------------------------------------------------------------
# build / load
# ----------------------------------------------------------------------------------------------
def all_documents() -> dict[str, dict[str, list[Document]]]:
    return {"code": code_documents(), "math": math_documents(), "prose": prose_documents()}


def build(out_dir: Path | None = None, *, force: bool = False, quiet: bool = False) -> Path:
    """Build ``data/build/*.jsonl`` (and ``data/eval/*.jsonl`` when missing). Returns the data folder.

    Idempotent: an existing complete build is kept unless ``force``. Each file is written atomically.
    """
    out_dir = Path(out_dir) if out_dir is not None else paths.data_dir()
    build_dir = out_dir / "build"
    marker = build_dir / "BUILD.json"
    if marker.exists() and not force:
        info = json.loads(marker.read_text())
        if info.get("version") == CORPUS_VERSION:
            if not quiet:
                print(f"corpus: up to date in {build_dir}")
            _ensure_eval(out_dir)
            return out_dir
    docs = all_documents()
    stats = {}
    for domain in DOMAINS:
        for split in SPLITS:
            rows = docs[domain][split]
            text = "".join(json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n" for d in rows)
            paths.atomic_write_text(build_dir / f"{domain}.{split}.jsonl", text)
            stats[f"{domain}.{split}"] = {"documents": len(rows), "characters": sum(len(d.text) for d in rows)}
    _ensure_eval(out_dir, docs)
    # The marker is written last: a build interrupted before it is redone from scratch next time.
    paths.atomic_write_text(marker, json.dumps({"version": CORPUS_VERSION, "stats": stats}, indent=1))
    if not quiet:
        for k, v in stats.items():
            print(f"corpus: {k:15s} {v['documents']:6d} documents {v['characters'] / 1e6:7.2f} M characters")
    return out_dir


def _ensure_eval(out_dir: Path, docs: dict[str, dict[str, list[Document]]] | None = None) -> None:
    eval_dir = out_dir / "eval"
    if all((eval_dir / f"{d}.jsonl").exists() for d in DOMAINS):
        return
    if docs is None:
        docs = {d: {s: load_documents(d, s, out_dir) for s in SPLITS} for d in DOMAINS}
    prompts = eval_prompts({d: docs[d]["heldout"] for d in DOMAINS}, {d: docs[d]["train"] for d in DOMAINS})
    for domain, rows in prompts.items():
        path = eval_dir / f"{domain}.jsonl"
        if not path.exists():
            paths.atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _require_built(out_dir: Path) -> Path:
    build_dir = out_dir / "build"
    if not (build_dir / "BUILD.json").exists():
        raise FileNotFoundError(
            f"The corpus is not built in {build_dir}. Build it with `python -m pard_ref data` (or `make data`).")
    return build_dir


def load_documents(domain: str, split: str, data_dir: Path | None = None) -> list[Document]:
    """The documents of one domain and split from the built corpus."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {DOMAINS}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    build_dir = _require_built(Path(data_dir) if data_dir else paths.data_dir())
    with open(build_dir / f"{domain}.{split}.jsonl", encoding="utf-8") as f:
        return [Document(**json.loads(line)) for line in f]


def load_eval_prompts(domain: str, data_dir: Path | None = None) -> list[dict]:
    """The committed held-out prompts of one domain (``data/eval/<domain>.jsonl``)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {DOMAINS}")
    path = (Path(data_dir) if data_dir else paths.data_dir()) / "eval" / f"{domain}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing. Rebuild it with `python -m pard_ref data`.")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]
