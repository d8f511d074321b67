"""Shared test set-up.

Tests run under pytest-xdist with one process per core; each process uses ONE torch thread, since
several multi-threaded torch processes on two cores slow tiny-model work down by orders of magnitude.
"""

import os

import pytest
import torch

torch.set_num_threads(1)


def _scale() -> str:
    return os.environ.get("PARD_REF_SCALE", "ci")


@pytest.fixture(scope="session")
def scale() -> str:
    """The zoo scale the tests use (``ci`` unless PARD_REF_SCALE says otherwise)."""
    return _scale()


@pytest.fixture(scope="session")
def built_zoo(scale):
    """Skip-free access to the built zoo: ``make test`` builds it first; a missing zoo is an error."""
    from pard_ref import zoo

    missing = [n for n in zoo.TEXT_MODELS if not zoo.is_built(n, scale)]
    if missing:
        pytest.fail(f"zoo models {missing} are not built at scale {scale!r}: run "
                    f"`python -m pard_ref zoo build --scale {scale}` (make test does this)")
    return scale
