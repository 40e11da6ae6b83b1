"""The resolver's output is unchanged: digests of thousands of seeded resolutions.

The resolver was made faster (issue 16) without changing a byte of its output;
``tests/data/resolve_reference.json`` holds the digests recorded before
(``tests/resolve_reference.py`` says what they cover and how to regenerate them).
"""

from __future__ import annotations

import json

import pytest

from deficit_engine import load_kb
from resolve_reference import REFERENCE, reference


@pytest.fixture(scope="module")
def recorded() -> dict[str, object]:
    data: dict[str, object] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def test_reference_is_for_the_shipped_kb(recorded: dict[str, object]) -> None:
    """A changed KB changes the output: the reference must be regenerated, not compared."""
    kb = load_kb()
    assert recorded["content_hash"] == kb.content_hash, (
        "the shipped KB changed since tests/data/resolve_reference.json was recorded: "
        "regenerate it with `.venv/bin/python tests/resolve_reference.py` "
        "(after checking the resolver's output change is intended)"
    )


def test_resolutions_match_the_reference(recorded: dict[str, object]) -> None:
    kb = load_kb()
    if recorded["content_hash"] != kb.content_hash:
        pytest.skip("the KB changed: see test_reference_is_for_the_shipped_kb")
    assert reference(kb) == recorded
