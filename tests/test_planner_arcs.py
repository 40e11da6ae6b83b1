"""planner/arcs.py: the cohort's candidate pairings found chunk by chunk are those
found at once, and their rows come in the order a unit's candidates are read in."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from deficit_engine import Engine
from deficit_engine.planner import arcs as arcs_module
from deficit_engine.planner.arcs import CohortArcs, cohort_arcs
from deficit_engine.resolve import seeker_of
from deficit_engine.resolve.mentors import mentor_units, unit_arcs
from deficit_engine.synthetic import synthetic_mentors, synthetic_profiles


@pytest.fixture(scope="module")
def cohort() -> dict[str, Any]:
    """A seeded cohort and a scarce synthetic pool (some mentors without places, so
    that some candidate lists are cut)."""
    shipped = Engine.from_path(backend="fast").kb
    kb = dataclasses.replace(shipped, mentors=synthetic_mentors(shipped, 60, seed=11))
    eng = Engine(kb, backend="fast")
    people = [eng.diagnose(p) for p in synthetic_profiles(kb, 150, seed=12)]
    units = [
        (k, u)
        for k, (_p, r) in enumerate(people)
        for u in mentor_units(r.needs, [i for i, n in enumerate(r.needs) if n.kind == "mentor"])
    ]
    index = kb.index
    capacity = [0 if j % 7 == 0 else m.capacity for j, m in enumerate(index.mentors)]
    return {
        "index": index,
        "seekers": [seeker_of(kb, p.person) for p, _r in people],
        "needs": [r.needs for _p, r in people],
        "severities": [r.severities for _p, r in people],
        "units": units,
        "capacity": capacity,
        "themselves": {0: 1, 3: 5},  # two seekers as if they were mentors 1 and 5
    }


def _arcs(cohort: dict[str, Any]) -> CohortArcs:
    c = cohort
    return cohort_arcs(
        c["index"],
        c["seekers"],
        c["needs"],
        c["severities"],
        c["units"],
        c["capacity"],
        c["themselves"],
    )


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunks_find_what_one_chunk_finds(
    cohort: dict[str, Any], chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _arcs(cohort)
    monkeypatch.setattr(arcs_module, "_CHUNK_UNITS", chunk)
    chunked = _arcs(cohort)
    assert len(whole.unit) > 300 and len(cohort["units"]) > 3 * chunk
    for field, a, b in zip(CohortArcs._fields, whole, chunked, strict=True):
        assert a.dtype == b.dtype == np.int64, field
        assert np.array_equal(a, b), field


def test_rows_come_in_the_order_unit_arcs_gives(cohort: dict[str, Any]) -> None:
    """Per unit: the arcs in mentor order, and the rows (mentor, need) in that order
    with a mentor's needs in the unit's order -- what unit_arcs gives as each
    Candidate's ``served`` -- so that a unit's candidates are read as slices."""
    c = cohort
    got = _arcs(c)
    index = c["index"]
    free = {m.id: cap for m, cap in zip(index.mentors, c["capacity"], strict=True)}
    own = {k: index.mentors[m].id for k, m in c["themselves"].items()}
    want_arcs: list[tuple[int, int, int, int, int]] = []
    want_rows: list[tuple[int, int, int]] = []
    for u, (k, unit) in enumerate(c["units"]):
        found = unit_arcs(index, c["seekers"][k], c["needs"][k], unit, free, c["severities"][k])
        for cand in found:
            if own.get(k) == cand.mentor.id:
                continue  # nobody is their own mentor (cohort_arcs' ``themselves``)
            m = index.mentor_rank[cand.mentor.id]
            want_arcs.append((u, m, cand.prio, cand.loc, cand.nosubj))
            want_rows.extend((u, m, i) for i in cand.served)
    arcs = list(
        zip(
            *(x.tolist() for x in (got.unit, got.mentor, got.prio, got.loc, got.nosubj)),
            strict=True,
        )
    )
    rows = list(
        zip(got.row_unit.tolist(), got.row_mentor.tolist(), got.row_need.tolist(), strict=True)
    )
    assert arcs == want_arcs and rows == want_rows
    assert any(u for u, _m, _i in want_rows) and len(want_rows) > len(want_arcs)


@pytest.mark.parametrize("largest", [5, 32_767, 32_768, 70_000])
def test_a_chunk_is_held_as_narrow_as_its_values_fit(largest: int) -> None:
    """The candidates a plan keeps are held int16 where a chunk's indexes and sums fit,
    int32 where one does not, and read back the same values; chunks of both widths
    are joined in the wider."""
    values = np.array([0, 3, largest], np.int64)
    arcs = CohortArcs(values, values, values, values % 3, values % 2, values, values, values)
    narrow = arcs_module._narrowed(arcs)
    wide = np.int16 if largest <= 32_767 else np.int32
    for name in ("mentor", "prio", "row_need", "row_mentor"):
        assert getattr(narrow, name).dtype == wide, name
    assert narrow.loc.dtype == narrow.nosubj.dtype == np.int8
    for got, given in zip(narrow, arcs, strict=True):
        assert got.tolist() == given.tolist()
    small = arcs_module._narrowed(CohortArcs(*(f[:2] for f in arcs)))
    joined = arcs_module._joined([small, narrow])
    assert joined.mentor.tolist() == [0, 3, 0, 3, largest]
