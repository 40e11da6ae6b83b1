"""Diagnoses equal the recorded reference byte for byte (tests/diagnose_reference.py).

The speed work of issue 16 on validation, normalisation, base facts, the fast
backend and the Result must leave every diagnosis as it was: the validated
profile, deficits, needs, custom facts, the trace and the scores.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from typing import Any

import pytest

import diagnose_reference as ref
from deficit_engine import Engine
from deficit_engine.models import Deficit, Need, Provenance, Recommendation, TraceEntry, Unmet


@pytest.fixture(scope="module")
def recorded() -> dict[str, object]:
    doc: dict[str, object] = json.loads(ref.REFERENCE.read_text("utf-8"))
    return doc


def _first_difference(got: list[str], want: list[str]) -> str:
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    return f"{len(bad)} of {len(want)} diagnoses differ from the reference, first at #{bad[0]}"


@pytest.mark.parametrize("backend", ["fast", "python"])
def test_diagnoses_equal_the_reference(backend: str, recorded: dict[str, object]) -> None:
    engine = Engine.from_path(backend=backend)
    if recorded["kb_hash"] != engine.kb.content_hash:
        pytest.fail(
            "the shipped KB changed since the reference was recorded: check the change "
            "is meant, then regenerate with `.venv/bin/python tests/diagnose_reference.py`"
        )
    want = recorded["digests"]
    assert isinstance(want, list) and len(want) == ref.COUNT
    got = ref.digests(engine)
    assert got == want, _first_difference(got, want)


def test_a_changed_diagnosis_changes_its_digest() -> None:
    """The digest reads the trace and the scores, not only deficits and needs."""
    engine = Engine.from_path(backend="fast")
    prof, result = engine.diagnose(ref.profiles(engine, 1)[0])
    base = ref.digest(prof, result)
    assert result.trace and result.scores is not None
    shorter = type(result)(**{**vars(result), "trace": result.trace[:-1]})
    assert ref.digest(prof, shorter) != base
    pct = dict(result.scores.competency_pct)
    first = next(iter(pct))
    pct[first] += 0.5
    rescored = type(result)(**{**vars(result), "scores": type(result.scores)(pct, {}, {}, {})})
    assert ref.digest(prof, rescored) != base


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (TraceEntry, ("R", ({"type": "result"},), ({"type": "deficit"},))),
        (Need, ("format", "c", (("format", "internship"),), "R")),
        (Deficit, ("c", "g", "high", 42.5, "R")),
        (Provenance, ("c", "competency", 42.5, "ЦНППМ", "cnppm", "cnppm_test", "2026-01-01", 1)),
        (
            Recommendation,
            ("format", "F-1", "Семинар", ("c",), (Need("format", "c", (), "R"),), "—", ()),
        ),
        (Unmet, (Need("mentor", "c", (), "R"), "нет мест", "capacity", ("M-1",))),
    ],
)
def test_fast_constructors_make_the_same_values(cls: Any, values: tuple[Any, ...]) -> None:
    """``X.of`` skips the frozen dataclass's __init__: the same value, every field set
    (a field added to the class and not to ``of`` fails here)."""
    fast, slow = cls.of(*values), cls(*values)
    assert fast == slow and repr(fast) == repr(slow)
    if cls is not TraceEntry:  # a trace entry holds dicts: unhashable either way
        assert hash(fast) == hash(slow)
    names = [f.name for f in dataclasses.fields(cls)]
    if hasattr(fast, "__dict__"):
        assert list(vars(fast)) == names
    else:  # slots (Need, Unmet): each field set (an unset one raises AttributeError)
        assert [getattr(fast, name) for name in names] == list(values)
    assert pickle.loads(pickle.dumps(fast)) == slow
