"""The cohort plan pinned: a seeded cohort's whole plan hashed against a recorded reference.

The planner is rewritten for speed (issue 16) with the rule that its output stays
identical. This test holds it to that: seeded synthetic cohorts on the shipped KB
with a scarce synthetic mentor pool (so mentor capacity binds) and the shipped
programmes' seats, groups and minimum in-person groups (so places bind too), one
of them with colleagues of the cohort as mentors. Each plan is written as
canonical JSON -- the figures (seconds aside), loads, school profiles, team
support, and every person's Resolution -- and its sha256 compared with
``tests/data/planner_reference.json``, recorded from the planner before the
speed work. A digest per slice of people says where a difference starts.

Regenerate (only when the plan is meant to change, saying why in the commit)::

    .venv/bin/python tests/test_planner_reference.py
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.errors import UsageError
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.models import Resolution
from deficit_engine.planner import CohortPlan, StreamedPlan, plan_cohort, plan_row, plan_rows
from deficit_engine.planner.schools import school_profiles, school_profiles_of
from deficit_engine.synthetic import synthetic_mentors

REFERENCE = Path(__file__).parent / "data" / "planner_reference.json"
#: name -> (people, mentors, seed, colleagues of the cohort as mentors)
COHORTS = {
    "scarce": (3000, 300, 16, False),
    "colleagues": (800, 15, 17, True),
}
SLICE = 500


def cohort_kb(mentors: int, seed: int, colleagues: bool) -> KnowledgeBase:
    """The shipped KB with a small synthetic pool (and colleagues as mentors, if asked)."""
    kb = load_kb()
    kb = dataclasses.replace(kb, mentors=synthetic_mentors(kb, mentors, seed=seed))
    if colleagues:
        settings = kb.planning.planning.model_copy(update={"colleague_mentors": True})
        kb = dataclasses.replace(kb, planning=kb.planning.model_copy(update={"planning": settings}))
    return kb


def diagnosed(kb: KnowledgeBase, people: int, seed: int) -> list[Any]:
    """The cohort as plan_cohort takes it: (Profile, Result), None for an error."""
    engine = Engine(kb, backend="fast")
    out: list[Any] = []
    for profile in synthetic_profiles(kb, people, seed=seed):
        validated, result = engine.diagnose(profile)
        out.append((validated, result) if result.ok else None)
    return out


def _resolution(r: Resolution | None) -> Any:
    if r is None:
        return None
    return {
        "recommendations": [x.to_dict() for x in r.recommendations],
        "unmet": [u.to_dict() for u in r.unmet],
    }


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def plan_digests(plan: CohortPlan) -> dict[str, Any]:
    """The plan's digests: the whole, the figures, and each slice of resolutions."""
    stats = plan.stats.to_dict()
    del stats["seconds"]
    figures = {
        "stats": stats,
        "mentor_load": plan.mentor_load,
        "programme_load": plan.programme_load,
        "schools": [s.to_dict() for s in plan.schools],
        "teams": [t.to_dict() for t in plan.teams],
    }
    resolutions = [_resolution(r) for r in plan.resolutions]
    slices = [_digest(resolutions[k : k + SLICE]) for k in range(0, len(resolutions), SLICE)]
    return {
        "whole": _digest({"figures": figures, "resolutions": resolutions}),
        "figures": _digest(figures),
        "stats": stats,
        "slices": slices,
    }


def current(name: str) -> dict[str, Any]:
    """The digests of one reference cohort's plan as the planner makes it now."""
    people, mentors, seed, colleagues = COHORTS[name]
    kb = cohort_kb(mentors, seed, colleagues)
    return plan_digests(plan_cohort(kb, diagnosed(kb, people, seed)))


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_plan_is_identical_to_the_recorded_reference(name: str) -> None:
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))[name]
    got = current(name)
    # capacity must bind, or the reference would not pin the shared-out places
    stats = got["stats"]
    assert stats["mentees_placed"] < stats["mentees"]
    assert got["stats"] == expected["stats"]
    assert got["figures"] == expected["figures"]
    assert got["slices"] == expected["slices"]
    assert got["whole"] == expected["whole"]


def test_plan_from_compact_rows_is_the_same_plan() -> None:
    """plan_rows over rows kept instead of Profiles and Results: the recorded plan."""
    people, mentors, seed, colleagues = COHORTS["colleagues"]
    kb = cohort_kb(mentors, seed, colleagues)
    cohort = diagnosed(kb, people, seed)
    rows = [None if p is None else plan_row(kb, *p) for p in cohort]
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))["colleagues"]
    assert plan_digests(plan_rows(kb, rows))["whole"] == expected["whole"]
    ok = [p for p in cohort if p is not None]
    assert school_profiles_of(kb, [r for r in rows if r is not None]) == school_profiles(kb, ok)


def test_streamed_plan_taken_in_pieces_is_the_same_plan() -> None:
    """StreamedPlan, its resolutions taken a part at a time (as the batch sends
    them), then the plan finished: the recorded plan, resolutions and figures."""
    people, mentors, seed, colleagues = COHORTS["colleagues"]
    kb = cohort_kb(mentors, seed, colleagues)
    rows = [None if p is None else plan_row(kb, *p) for p in diagnosed(kb, people, seed)]
    stream = StreamedPlan(kb, rows)
    del rows  # the stream holds them now, as the batch leaves them to it
    resolutions = stream.take(1) + stream.take(0)
    with pytest.raises(UsageError, match="every Resolution is taken"):
        stream.finished()
    while len(resolutions) < len(stream):
        resolutions += stream.take(257)
    assert stream.take(10) == []  # nobody left
    plan = dataclasses.replace(stream.finished(), resolutions=tuple(resolutions))
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))["colleagues"]
    got = plan_digests(plan)
    assert got["stats"] == expected["stats"]
    assert got["figures"] == expected["figures"]
    assert got["whole"] == expected["whole"]
    assert plan.teams  # the schools' teams are made after the people, and checked


def regenerate() -> None:
    """Record the reference from the planner as it is (see the module docstring)."""
    out = {name: current(name) for name in sorted(COHORTS)}
    REFERENCE.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()
