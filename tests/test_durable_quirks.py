"""durable_rules 2.0.28 behaviour the engine guards against, pinned by experiment.

If an upgrade changes one of these, the test says so, and the workaround in
compiler.py / inference/durable.py can be revisited.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, inference

pytestmark = pytest.mark.skipif(
    not inference.durable_available(), reason="durable_rules not importable"
)

if inference.durable_available():
    pass


# The experiments run in a child process: they drive durable_rules into the
# states the engine avoids, which can corrupt its memory.
_EXPERIMENT = """
import json, sys
from durable import engine
import durable_rules_engine

class Quiet(engine.Host):
    def _run(self):
        pass

definition, facts = json.loads(sys.argv[1]), json.loads(sys.argv[2])
fired = []
definition["run"] = lambda c: fired.append((c.p0._d["c"], c.p1._d["c"]))
host = Quiet()
host.register_rulesets({"quirk": {"r": definition}})
try:
    for i, fact in enumerate(facts):
        try:
            host.assert_fact("quirk", {"sid": "s", "id": "f%d" % i, "type": "d", **fact})
        except engine.MessageNotHandledException:
            pass
except durable_rules_engine.error as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"fired": fired}))
"""


def _experiment(definition: dict[str, Any], facts: list[dict[str, Any]]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _EXPERIMENT, json.dumps(definition), json.dumps(facts)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode < 0:  # killed by a signal: durable crashed (memory corruption)
        return {"crashed": -done.returncode}
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_reference_dropped_next_to_a_nested_and() -> None:
    nested = {"$and": [{"$neq": {"s": "low"}}]}
    definition = {
        "all": [
            {"p0": {"type": "d"}},
            {"p1": {"$and": [{"type": "d"}, nested, {"$gt": {"c": {"p0": "c"}}}]}},
        ]
    }
    out = _experiment(definition, [{"c": c, "s": "high"} for c in ("x", "y", "z")])
    # the `c > p0.c` join is ignored: all 6 ordered pairs fire instead of 3 (or it crashes)
    assert "crashed" in out or len(out["fired"]) == 6


def test_reference_against_a_missing_field_raises_311() -> None:
    definition = {
        "all": [
            {"p0": {"type": "d"}},
            {"p1": {"$and": [{"type": "d"}, {"$lt": {"n": {"p0": "n"}}}]}},
        ]
    }
    out = _experiment(definition, [{"c": "x", "n": 1.0}, {"c": "y"}])
    assert "crashed" in out or "311" in out["error"]


def test_numbers_with_a_bare_exponent_are_refused_204() -> None:
    definition = {"all": [{"p0": {"type": "d"}}, {"p1": {"type": "d"}}]}
    out = _experiment(definition, [{"c": "x", "n": 1e-05}])
    assert "204" in out["error"]


def test_a_colliding_fact_id_is_reasserted_not_lost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fnv1a32(text: str) -> int:
        h = 2166136261
        for byte in text.encode():
            h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
        return h

    # two ids durable hashes alike (the first pair a birthday search over "x0", "x1", ...
    # finds, after a million hashes: kept here rather than searched on every run)
    first, second = "x496069", "x1035124"
    assert fnv1a32(first) == fnv1a32(second)

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
