"""durable_rules 2.0.28 behaviour the engine guards against, pinned by experiment.

If an upgrade changes one of these, the test says so, and the workaround in
compiler.py / inference.py can be revisited.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, inference

pytestmark = pytest.mark.skipif(
    not inference.durable_available(), reason="durable_rules not importable"
)

if inference.durable_available():
    import durable_rules_engine
    from durable import engine as durable_engine


def _host(name: str, definition: dict[str, Any]) -> tuple[Any, list[tuple[str, str]]]:
    class Quiet(durable_engine.Host):  # type: ignore[misc]
        def _run(self) -> None:
            pass

    fired: list[tuple[str, str]] = []

    def record(c: Any) -> None:
        fired.append((c.p0._d["c"], c.p1._d["c"]))

    host = Quiet()
    host.register_rulesets({name: {"r": {**definition, "run": record}}})
    return host, fired


def _assert_all(host: Any, name: str, facts: list[dict[str, Any]]) -> None:
    for i, fact in enumerate(facts):
        with contextlib.suppress(durable_engine.MessageNotHandledException):
            host.assert_fact(name, {"sid": "s", "id": f"f{i}", "type": "d", **fact})


def test_reference_dropped_next_to_a_nested_and() -> None:
    nested = {"$and": [{"$neq": {"s": "low"}}]}
    definition = {
        "all": [
            {"p0": {"type": "d"}},
            {"p1": {"$and": [{"type": "d"}, nested, {"$gt": {"c": {"p0": "c"}}}]}},
        ]
    }
    host, fired = _host("quirk_nested", definition)
    _assert_all(host, "quirk_nested", [{"c": c, "s": "high"} for c in ("x", "y", "z")])
    # the `c > p0.c` join is ignored: all 6 ordered pairs fire instead of 3
    assert len(fired) == 6


def test_reference_against_a_missing_field_raises_311() -> None:
    definition = {
        "all": [
            {"p0": {"type": "d"}},
            {"p1": {"$and": [{"type": "d"}, {"$lt": {"n": {"p0": "n"}}}]}},
        ]
    }
    host, _ = _host("quirk_311", definition)
    with pytest.raises(durable_rules_engine.error, match="311"):
        _assert_all(host, "quirk_311", [{"c": "x", "n": 1.0}, {"c": "y"}])


def test_a_colliding_fact_id_is_reasserted_not_lost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fnv1a32(text: str) -> int:
        h = 2166136261
        for byte in text.encode():
            h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
        return h

    seen: dict[int, str] = {}
    pair: tuple[str, str] | None = None
    n = 0
    while pair is None:
        fid = f"x{n}"
        h = fnv1a32(fid)
        if h in seen:
            pair = (seen[h], fid)
        seen[h] = fid
        n += 1
    first, second = pair

    def colliding_id(seq: int, attempt: int) -> str:
        if attempt == 0 and seq in (0, 1):
            return (first, second)[seq]
        return f"{seq}~{attempt}"

    monkeypatch.setattr(inference.DurableMatcher, "fact_id", staticmethod(colliding_id))
    durable = Engine.from_path(backend="durable")
    profile = {
        "id": "C",
        "person": {"role": "teacher", "experience_years": 1},
        "results": [{"competency": "methodical.assessment", "score": 3, "max": 25}],
    }
    result = durable.evaluate(profile)
    assert durable._durable is not None and durable._durable.collisions >= 1
    assert result.to_json() == Engine.from_path(backend="python").evaluate(profile).to_json()
