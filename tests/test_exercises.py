"""Every notebook exercise is a real exercise: its check passes on the solution and fails on the stub and
on a plausible wrong answer, and the notebook holds the stub, never the solution.

The exercises are found by reading the notebooks: each ``check("NN.M", answer, nbNN.ex_M, key=...)`` call
in a code cell (see ``pard_ref/exercises/__init__.py``). For each one, ``notebooks/solutions/nbNN.py``
defines ``ex_M`` (the solution), ``wrong_M`` (a wrong answer) and, when the call passes context,
``context_M()`` returning exactly the keywords the notebook passes. Then

- ``check_strict`` passes on ``ex_M`` and raises AssertionError, with a message, on ``wrong_M``, on the
  stub (None, or a function that raises NotImplementedError) and, for answers in words, on an empty
  or irrelevant sentence; ``check`` (what the notebook runs) returns False on the stub, so nbval
  passes on a notebook of stubs;
- the notebook assigns the answer's name only as the stub (``answer = None`` or a function whose body
  raises NotImplementedError);
- every ``ex_M`` of a solutions file has its check call in the notebook, and ids are unique and
  numbered 1, 2, ... in each notebook.

Notebooks without check calls are not required to have any here (``test_notebook_policy.py`` requires
exercises with checks in every notebook).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pard_ref.exercises import check, check_strict

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "solutions"


@dataclass(frozen=True)
class Exercise:
    notebook: str       # file name
    number: str         # "NN"
    index: int          # M
    answer: str         # the answer argument's source
    module: str         # the checker module alias used in the call
    checker: str        # "ex_M"
    keywords: tuple     # context keywords the call passes

    @property
    def id(self) -> str:
        return f"{self.number}.{self.index}"


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    cells = []
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            src = "".join(c["source"])
            # IPython magics and shell lines are not Python
            cells.append("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines()))
    return cells


def _trees(path: Path) -> list[ast.Module]:
    return [ast.parse(src) for src in _code_cells(path)]


def _exercises(path: Path) -> list[Exercise]:
    found = []
    for tree in _trees(path):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"):
                continue
            args = node.args
            assert len(args) == 3, f"{path.name}: check() takes (id, answer, checker): {ast.unparse(node)}"
            assert isinstance(args[0], ast.Constant) and isinstance(args[0].value, str), ast.unparse(node)
            m = re.fullmatch(r"(\d\d)\.(\d+)", args[0].value)
            assert m, f"{path.name}: exercise id {args[0].value!r} is not 'NN.M'"
            ck = args[2]
            assert isinstance(ck, ast.Attribute) and isinstance(ck.value, ast.Name), (
                f"{path.name}: the checker must be written nbNN.ex_M: {ast.unparse(node)}")
            found.append(Exercise(path.name, m.group(1), int(m.group(2)), ast.unparse(args[1]), ck.value.id, ck.attr,
                                  tuple(sorted(k.arg for k in node.keywords))))
    return found


EXERCISES = [e for path in NOTEBOOKS for e in _exercises(path)]


def _solutions(number: str):
    path = SOLUTIONS / f"nb{number}.py"
    assert path.exists(), f"notebook {number} has exercises but no solutions file {path.relative_to(ROOT)}"
    spec = importlib.util.spec_from_file_location(f"pard_ref_solutions_nb{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_CACHE: dict[str, object] = {}


def solutions(number: str):
    if number not in _CACHE:
        _CACHE[number] = _solutions(number)
    return _CACHE[number]


def _stub_function(*args, **kwargs):
    raise NotImplementedError  # your code


def test_the_notebooks_have_exercises():
    assert EXERCISES, "no check(...) calls found in notebooks/*.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ids_match_the_notebook_and_are_numbered_in_order(path):
    found = _exercises(path)
    if not found:
        pytest.skip(f"{path.name} has no check() calls yet")
    number = path.name[:2]
    for e in found:
        assert e.number == number, f"{path.name}: exercise {e.id} carries another notebook's number"
        assert e.module == f"nb{number}", f"{path.name}: exercise {e.id} is checked by {e.module}, not nb{number}"
        assert e.checker == f"ex_{e.index}", f"{path.name}: exercise {e.id} is checked by {e.checker}, not ex_{e.index}"
    assert sorted(e.index for e in found) == list(range(1, len(found) + 1)), (
        f"{path.name}: exercise numbers {[e.index for e in found]} should be 1..{len(found)}, each once")
    imports = "\n".join(_code_cells(path))
    assert re.search(rf"from pard_ref\.exercises import [^\n]*\bnb{number}\b", imports), (
        f"{path.name}: import the checkers with `from pard_ref.exercises import check, nb{number}`")


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.id)
def test_the_notebook_holds_the_stub_not_the_solution(ex):
    path = ROOT / "notebooks" / ex.notebook
    name = ex.answer
    assert re.fullmatch(r"[A-Za-z_]\w*", name), f"exercise {ex.id}: pass the answer as a plain name, got {name!r}"
    bindings = []
    for tree in _trees(path):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                bindings.append(("assign", node))
            elif isinstance(node, (ast.FunctionDef, ast.Lambda)) and getattr(node, "name", None) == name:
                bindings.append(("def", node))
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and getattr(node.target, "id", None) == name:
                bindings.append(("other", node))
    assert bindings, f"exercise {ex.id}: the notebook never defines {name!r} (a stub cell should)"
    for kind, node in bindings:
        if kind == "assign":
            ok = isinstance(node.value, ast.Constant) and node.value.value is None
        elif kind == "def":
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            ok = len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.unparse(body[0])
        else:
            ok = False
        assert ok, (f"exercise {ex.id}: the notebook binds {name!r} to something other than the stub: "
                    f"{ast.unparse(node)}")


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.id)
def test_the_check_passes_on_the_solution_and_bites_on_wrong_answers(ex, capsys):
    sol = solutions(ex.number)
    checkers = importlib.import_module(f"pard_ref.exercises.nb{ex.number}")
    checker = getattr(checkers, ex.checker, None)
    assert callable(checker), f"pard_ref/exercises/nb{ex.number}.py has no {ex.checker}"
    for attr in (f"ex_{ex.index}", f"wrong_{ex.index}"):
        assert hasattr(sol, attr), f"notebooks/solutions/nb{ex.number}.py lacks {attr}"
    make_context = getattr(sol, f"context_{ex.index}", None)
    context = make_context() if make_context else {}
    assert tuple(sorted(context)) == ex.keywords, (
        f"exercise {ex.id}: the notebook passes context {ex.keywords}, "
        f"context_{ex.index}() gives {tuple(sorted(context))}")
    solution, wrong = getattr(sol, f"ex_{ex.index}"), getattr(sol, f"wrong_{ex.index}")

    assert check_strict(ex.id, solution, checker, **context) is True
    assert check(ex.id, solution, checker, **context) is True
    assert "correct" in capsys.readouterr().out

    stubs = [None] + ([_stub_function] if callable(solution) else [])
    for stub in stubs:
        with pytest.raises(AssertionError, match="not answered"):
            check_strict(ex.id, stub, checker, **context)
        assert check(ex.id, stub, checker, **context) is False        # what nbval runs: no failure
        assert "not answered yet" in capsys.readouterr().out

    wrongs = [wrong] + (["", "I am not sure."] if isinstance(solution, str) else [])
    for bad in wrongs:
        with pytest.raises(AssertionError) as err:
            check_strict(ex.id, bad, checker, **context)
        message = str(err.value).split("not yet right.", 1)[-1].strip()
        assert len(message) > 20, f"exercise {ex.id}: the message for a wrong answer should help: {message!r}"


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("nb[0-9][0-9].py")), ids=lambda p: p.name)
def test_every_solution_has_its_exercise_in_the_notebook(path):
    number = path.stem[2:]
    in_notebook = {e.index for e in EXERCISES if e.number == number}
    in_solutions = {int(m.group(1)) for name in vars(solutions(number)) if (m := re.fullmatch(r"ex_(\d+)", name))}
    assert in_solutions == in_notebook, (
        f"{path.name}: solutions for exercises {sorted(in_solutions)}, notebook {number} checks {sorted(in_notebook)}")


def test_the_cost_model_exercise_compares_with_the_measurement_unless_the_machine_is_overloaded(monkeypatch, capsys):
    from pard_ref.bench import compare
    from pard_ref.exercises import nb03

    def formula(k):
        return k * (0.8 + 0.02) / (0.8 + k * 0.02)

    monkeypatch.setattr(compare, "overloaded", lambda margin=1.0: False)
    with pytest.raises(AssertionError, match="factor 2"):
        check_strict("03.1", formula, nb03.ex_1, a=0.8, b=0.02, measured_ratio=20.0)   # predicted 6.8x
    assert check_strict("03.1", formula, nb03.ex_1, a=0.8, b=0.02, measured_ratio=5.0)
    monkeypatch.setattr(compare, "overloaded", lambda margin=1.0: True)
    assert check_strict("03.1", formula, nb03.ex_1, a=0.8, b=0.02, measured_ratio=20.0)
    assert "overloaded" in capsys.readouterr().out
