"""Programme places: the shortcuts of plan_programmes give the plan a full recomputation gives.

A redo of the service order (after closing in-person groups below their
minimum) serves again only the people whose programmes drifted from the last
pass (planner/programmes.py, ``_Drift``). The reference here is the same pass
with that check answering "serve again" for everyone: both must give the same
places, recommendations and unmet needs, on seeded cohorts whose seats are cut
and minimum groups raised so that places bind and several passes run.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.planner import PlanRow, RowTable, plan_row
from deficit_engine.planner import programmes as programmes_module
from deficit_engine.planner.plan import _Demands, _of_kind
from deficit_engine.planner.programmes import (
    ProgrammeDemand,
    ProgrammesPlan,
    demand_key,
    plan_programmes,
)
from deficit_engine.resolve.programmes import (
    candidates,
    programme_cover,
    programme_recommendations,
)


def scarce_kb(divisor: int, min_group: int) -> KnowledgeBase:
    """The shipped KB with every programme's seats (and its groups') divided, at
    least one left, and a larger minimum in-person group."""
    kb = load_kb()
    programs = {}
    for pid, p in kb.programs.items():
        groups = [g.model_copy(update={"seats": max(1, g.seats // divisor)}) for g in p.groups]
        seats = None if p.seats is None else max(1, p.seats // divisor)
        programs[pid] = p.model_copy(update={"seats": seats, "groups": groups})
    settings = kb.planning.planning.model_copy(update={"min_group": min_group})
    planning = kb.planning.model_copy(update={"planning": settings})
    return dataclasses.replace(kb, programs=programs, planning=planning)


def rows_of(kb: KnowledgeBase, people: int, seed: int) -> list[PlanRow | None]:
    """A diagnosed synthetic cohort's plan rows (None: not diagnosed)."""
    engine = Engine(kb, backend="fast")
    out: list[PlanRow | None] = []
    for profile in synthetic_profiles(kb, people, seed=seed):
        validated, result = engine.diagnose(profile)
        out.append(plan_row(kb, validated, result) if result.ok else None)
    return out


def made_whole(row: PlanRow, n: int) -> ProgrammeDemand:
    """Person ``n``'s programme demand made from their whole row, as the plan made
    each before it made them when read (the reference for _Demands)."""
    idx = tuple(i for i, need in enumerate(row.needs) if need.kind == "program")
    return ProgrammeDemand(
        row.role,
        row.subjects,
        row.levels,
        row.municipality,
        row.delivery,
        row.period,
        row.period_hours,
        tuple(row.needs[i] for i in idx),
        idx,
        (*demand_key(row.needs, idx, row.severities), row.id, n),
    )


def demands_of(kb: KnowledgeBase, people: int, seed: int) -> list[ProgrammeDemand]:
    """A diagnosed synthetic cohort's programme demands, as the plan makes them."""
    rows = rows_of(kb, people, seed)
    return [made_whole(row, n) for n, row in enumerate(rows) if row is not None]


def outcome(plan: ProgrammesPlan) -> Any:
    """Everything the plan says, as comparable values."""
    return (
        [[r.to_dict() for r in recs] for recs in plan.recommendations],
        [list(places) for places in plan.places],
        [dict(unmet) for unmet in plan.unmet],
        sorted(plan.closed, key=repr),
        plan.passes,
    )


@pytest.mark.parametrize(
    ("people", "seed", "divisor", "min_group"),
    [(1500, 3, 4, 8), (1500, 4, 10, 12), (1000, 5, 1, 15)],
)
def test_redone_passes_serve_again_only_whom_it_changes(
    monkeypatch: pytest.MonkeyPatch, people: int, seed: int, divisor: int, min_group: int
) -> None:
    kb = scarce_kb(divisor, min_group)
    demands = demands_of(kb, people, seed)
    served = []
    touches = programmes_module._Drift.touches

    def counted(self: Any, *args: Any) -> bool:
        found = touches(self, *args)
        served.append(found)
        return found

    monkeypatch.setattr(programmes_module._Drift, "touches", counted)
    fast = plan_programmes(kb, demands)
    monkeypatch.setattr(programmes_module._Drift, "touches", lambda *_args: True)
    full = plan_programmes(kb, demands)
    # the redo ran, skipped some people and served others again: both paths tested
    assert fast.passes > 1 and fast.closed
    assert any(served) and not all(served)
    assert outcome(fast) == outcome(full)


@pytest.mark.parametrize("seed", [3, 16])
def test_a_cover_less_shut_programmes_is_the_cover_over_the_open_ones(seed: int) -> None:
    """The passes cover a person over the admitting programmes less the shut ones
    (``programme_cover(..., admits, shut)``); the cover over the open programmes
    listed per competency (``by_comp``, as the passes did before) is the same:
    the same picks and unmet reasons, and so the same recommendations."""
    kb = load_kb()
    index = kb.index
    rnd = random.Random(seed)
    checked = 0
    for d in demands_of(kb, 120, seed):
        if not d.needs:
            continue
        idx = range(len(d.needs))
        admitting = candidates(index, d.role, d.subjects, d.levels, d.needs, idx)
        ids = sorted({p.id for progs in admitting.values() for p in progs})
        shut = tuple(rnd.sample(ids, rnd.randint(0, len(ids))))
        allowed = {c: [p for p in progs if p.id not in shut] for c, progs in admitting.items()}
        got = programme_cover(
            index,
            d.role,
            d.prefs,
            d.needs,
            idx,
            period_hours=d.period_hours,
            admits=(d.subjects, d.levels),
            shut=shut,
        )
        want = programme_cover(index, d.role, d.prefs, d.needs, idx, allowed, d.period_hours)
        assert got == want
        made = programme_recommendations(index, d.prefs, d.needs, got[0], d.period_hours)
        assert [r.id for r in made] == [pid for pid, _served, _alt in want[0]]
        checked += bool(shut)
    assert checked > 20


@pytest.mark.parametrize("table", [False, True])
def test_demands_made_when_read_are_those_made_whole(table: bool) -> None:
    """The planner's demands, made from a list of rows or a RowTable when read (twice
    here), are the demands made from the whole rows: equal field by field, the
    needs the rows' own objects, the service order that of their keys; and the
    passes over them plan what the passes over a list of them plan."""
    kb = scarce_kb(6, 10)
    rows = rows_of(kb, 900, 21)
    rows[5] = None  # a person not diagnosed is no demand
    held: Any = RowTable(rows) if table else rows
    lazy = _Demands(held)
    expected = [made_whole(row, n) for n, row in enumerate(rows) if row is not None]
    assert len(lazy) == len(expected) and len(expected) < len(rows)
    for k, want in enumerate(expected):
        first, again = lazy[k], lazy[k]
        assert first == again == want
        n = want.key[-1]
        own = held.needs(n) if table else held[n].needs
        assert all(a is own[i] for a, i in zip(first.needs, first.idx, strict=True))
        assert first.idx == tuple(_of_kind(own, "program"))
    assert list(lazy.order) == sorted(range(len(expected)), key=lambda k: expected[k].key)
    reference = plan_programmes(kb, expected)
    assert reference.passes > 1 and reference.closed  # places bind, groups close
    assert outcome(plan_programmes(kb, lazy, lazy.order)) == outcome(reference)
    assert outcome(plan_programmes(kb, lazy)) == outcome(reference)
