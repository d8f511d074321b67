"""Every committed notebook follows the policy in README.md "Contributing / notebooks".

- stripped: no outputs, no execution counts, no saved widget state (nbval then checks that every
  cell runs; correctness is carried by assert cells);
- it imports pard_ref (logic lives in the package, not in cells);
- learning goals first, a summary and exercises with checks last (``pard_ref.exercises.check`` cells);
- nbval markers stand alone on their comment line (``# NBVAL_SKIP because...`` is ignored by nbval).
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_policy(path):
    nb = json.loads(path.read_text())
    assert "widgets" not in nb.get("metadata", {}), "saved widget state: strip metadata.widgets"
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    for c in code:
        assert c.get("outputs", []) == [], f"stored outputs in a cell starting {''.join(c['source'])[:60]!r}"
        assert c.get("execution_count") is None
        for line in "".join(c["source"]).splitlines():
            if "NBVAL_" in line:
                assert re.fullmatch(r"\s*# NBVAL_[A-Z_]+\s*", line), f"marker not alone on its line: {line!r}"
    text = lambda c: "".join(c["source"])  # noqa: E731
    assert cells[0]["cell_type"] == "markdown" and "Learning goals" in text(cells[0])
    assert any("import pard_ref" in text(c) or "from pard_ref" in text(c) for c in code)
    markdown = [text(c) for c in cells if c["cell_type"] == "markdown"]
    assert any("## Summary" in m for m in markdown) and any("## Exercises" in m for m in markdown)
    last_md = max(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "## Exercises" in text(c))
    checks = [c for c in cells[last_md:] if c["cell_type"] == "code" and ("assert" in text(c) or "check(" in text(c))]
    assert checks, "exercises need check cells after them (pard_ref.exercises.check calls, or asserts)"
