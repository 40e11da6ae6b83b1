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
from deficit_engine.errors import UsageError
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.planner import RowTable, plan_row
from deficit_engine.planner import plan as plan_module
from deficit_engine.planner import programmes as programmes_module
from deficit_engine.planner.plan import _demand
from deficit_engine.planner.programmes import (
    ProgrammeDemand,
    ProgrammePlace,
    ProgrammesPlan,
    plan_programmes,
)
from deficit_engine.resolve.mentors import Seeker, mentor_units
from deficit_engine.resolve.programmes import (
    candidates,
    programme_cover,
    programme_recommendations,
)


def scarce_kb(divisor: int, min_group: int, kb: KnowledgeBase | None = None) -> KnowledgeBase:
    """``kb`` (the shipped KB by default) with every programme's seats (and its
    groups') divided, at least one left, and a larger minimum in-person group."""
    kb = load_kb() if kb is None else kb
    programs = {}
    for pid, p in kb.programs.items():
        groups = [g.model_copy(update={"seats": max(1, g.seats // divisor)}) for g in p.groups]
        seats = None if p.seats is None else max(1, p.seats // divisor)
        programs[pid] = p.model_copy(update={"seats": seats, "groups": groups})
    settings = kb.planning.planning.model_copy(update={"min_group": min_group})
    planning = kb.planning.model_copy(update={"planning": settings})
    return dataclasses.replace(kb, programs=programs, planning=planning)


def demands_of(kb: KnowledgeBase, people: int, seed: int) -> list[ProgrammeDemand]:
    """A diagnosed synthetic cohort's programme demands, as the plan makes them."""
    engine = Engine(kb, backend="fast")
    out = []
    for n, profile in enumerate(synthetic_profiles(kb, people, seed=seed)):
        validated, result = engine.diagnose(profile)
        if not result.ok:
            continue
        row = plan_row(kb, validated, result)
        demand = _demand(row, n)
        assert demand is not None
        out.append(demand)
    return out


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


def test_the_drift_counts_only_places_open_otherwise_than_in_the_last_pass() -> None:
    """A place drifted by a few takes is as open as before while both passes
    leave some of it: only a place one pass has used up and the other not makes
    its programme's people served again (``_Drift.touches``), until both agree."""
    kb = load_kb()
    plain = [p for p in kb.programs.values() if not p.groups][:2]
    scarce = plain[0].model_copy(update={"seats": 1})
    ample = plain[1].model_copy(update={"seats": 100})
    places = programmes_module._Places({scarce.id: scarce, ample.id: ample}, set())
    drift = programmes_module._Drift(places)
    period = ("2026-09", "2027-06")

    def person(*limited: str) -> tuple[str, ...]:
        return limited

    # the last pass gave someone the ample programme; this one the scarce one
    old = [ProgrammePlace(ample.id, None)]
    new = [places.take(scarce, period, None)]
    drift.moved(old, -1)
    drift.moved(new, 1)
    drift.recheck(old)
    drift.recheck(new)
    assert drift.delta == {old[0]: -1, new[0]: 1}
    assert drift.touches(person(scarce.id), None, set())  # used up now, not then
    assert not drift.touches(person(ample.id), None, set())  # 100 left now, 99 then
    assert drift.touches(person(ample.id), "M", {(ample.id, "M")})  # newly closed there
    # the next person had the scarce seat in the last pass and is served again:
    # now given the ample one, the two passes agree again
    old, new = new, [places.take(ample, period, None)]
    drift.moved(old, -1)
    drift.moved(new, 1)
    drift.recheck(old)
    drift.recheck(new)
    assert not drift.delta[old[0]] and not drift.delta[new[0]]
    assert not drift.off
    assert not drift.touches(person(scarce.id, ample.id), None, set())
    # a replay of a place that has not drifted changes nothing
    places.replay(new)
    drift.replayed(new)
    assert places.left(new[0]) == 98 and not drift.off


def test_the_rows_read_once_give_the_demands_and_the_seekers_read_apart() -> None:
    """The plan reads each row once for the programme demands and the mentor
    seekers (``plan._read``); read apart, as before, they are the same."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    rows: list[Any] = []
    for profile in synthetic_profiles(kb, 150, seed=8):
        validated, result = engine.diagnose(profile)
        rows.append(plan_row(kb, validated, result) if result.ok else None)
    rows.append(None)
    table = RowTable(rows)
    for source in (rows, table):
        demands, order, seekers = plan_module._read(source)
        made = [_demand(row, n, keyed=False) for n, row in enumerate(rows)]
        assert list(demands) == [d for d in made if d is not None]
        # the needs decoded are the rows' own objects (the passes key by identity)
        for d, want in zip(demands, (d for d in made if d is not None), strict=True):
            assert all(a is b for a, b in zip(d.needs, want.needs, strict=True))
        # the service order found apart is the keys' (see _read)
        keyed = [d for d in (_demand(row, n) for n, row in enumerate(rows)) if d is not None]
        assert list(order) == sorted(range(len(keyed)), key=lambda k: keyed[k].key)
        for n, row in enumerate(rows):
            if row is None:
                assert seekers.units[n] == () and seekers.seekers[n].organization is None
                continue
            mentor = plan_module._of_kind(row.needs, "mentor")
            assert list(seekers.units[n]) == mentor_units(row.needs, mentor)
            assert seekers.seekers[n] == Seeker(
                row.organization, row.municipality, row.subjects, row.levels
            )
            assert list(seekers.needs[n]) == list(row.needs)
            assert dict(seekers.severities[n]) == dict(row.severities)


def test_demands_without_keys_are_refused_without_their_order() -> None:
    """Demands made for a plan that finds the service order apart have no key: sorting
    by it would serve people in input order, so ``plan_programmes`` asks for the order;
    given the keys' order, they are planned as the keyed demands are."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    keyed, unkeyed = [], []
    for n, profile in enumerate(synthetic_profiles(kb, 40, seed=9)):
        validated, result = engine.diagnose(profile)
        if result.ok:
            row = plan_row(kb, validated, result)
            with_key, without = _demand(row, n), _demand(row, n, keyed=False)
            assert with_key is not None and without is not None
            keyed.append(with_key)
            unkeyed.append(without)
    with pytest.raises(UsageError, match="needs the order given"):
        plan_programmes(kb, unkeyed)
    order = sorted(range(len(keyed)), key=lambda k: keyed[k].key)
    assert outcome(plan_programmes(kb, unkeyed, order)) == outcome(plan_programmes(kb, keyed))
