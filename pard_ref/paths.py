"""Where pard_ref keeps what it builds: the corpus and the model zoo.

In a checkout (the usual case: ``make lab`` / ``make test``) everything lives inside the repository:
``data/`` for the corpus and ``zoo/`` for trained models. Set ``PARD_REF_HOME`` to put both
elsewhere (``$PARD_REF_HOME/data`` and ``$PARD_REF_HOME/zoo``). A pip-installed copy outside a
checkout defaults to ``~/.cache/pard_ref``.

This module also holds the one small helper every builder uses to write files atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent
IN_CHECKOUT = (_CHECKOUT / "pyproject.toml").exists() and (_CHECKOUT / "notebooks").is_dir()


def home() -> Path:
    """The root folder for built artefacts."""
    env = os.environ.get("PARD_REF_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if IN_CHECKOUT:
        return _CHECKOUT
    return Path("~/.cache/pard_ref").expanduser()


def data_dir() -> Path:
    """``data/``: committed evaluation prompts plus the (rebuilt, not committed) corpus in ``data/build``."""
    return home() / "data"


def zoo_dir() -> Path:
    """``zoo/``: one folder per trained model, keyed by scale, name and a hash of its recipe."""
    return home() / "zoo"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; built files are ordinary readable files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(final: Path):
    """Build a folder under a temporary name and rename it to ``final`` only if the block succeeds.

    An interrupted build (exception, Ctrl-C, killed process) leaves at most a ``.tmp-*`` folder that
    nothing loads; ``final`` either does not exist or is complete.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    try:
        yield tmp
        if final.exists():  # someone else finished first; keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def file_lock(path: Path):
    """An exclusive inter-process lock (``fcntl.flock``); other processes wait until it is released."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
