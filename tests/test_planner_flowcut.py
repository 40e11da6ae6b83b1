"""The mentors' flow solved on the network cut down to the mentors' capacity
(planner/arcs.py ``cut_arcs``/``flow_arcs``, docs/route.md): its optima are the
whole network's, on random small networks and on synthetic cohorts, and the cut
keeps exactly the arcs its rule names (a cut one owner short loses optima)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine
from deficit_engine.kb import KnowledgeBase
from deficit_engine.planner import arcs as arcs_module
from deficit_engine.planner import plan, plan_row
from deficit_engine.planner.arcs import cohort_arcs, cut_arcs, flow_arcs
from deficit_engine.planner.schools import flag_schools, school_profiles_of
from deficit_engine.resolve.allocate import Allocation, allocate_arrays, most_units
from deficit_engine.synthetic import synthetic_mentors, synthetic_profiles

Network = dict[str, np.ndarray]


def _criteria(net: Network, allocation: Allocation) -> tuple[int, ...]:
    """The plan's objective, criterion by criterion, best the highest: owners
    placed, priority, locality, subject match, and the tie-break when the
    weights carried it (``allocate``'s module docstring)."""
    chosen = np.asarray(allocation.chosen, np.int64)
    units = np.flatnonzero(chosen >= 0)
    a = chosen[units]
    owners = net["owners"]
    first = np.searchsorted(owners, owners[units], "left")
    tie = net["mentor"][a] * (most_units(owners) - (units - first))
    out = [
        len(np.unique(owners[units])),
        int(net["prio"][a].sum()),
        -int(net["loc"][a].sum()),
        -int(net["nosubj"][a].sum()),
    ]
    if allocation.weights.tie:
        out.append(-int(tie.sum()))
    return tuple(out)


def _solved(net: Network, keep: np.ndarray | None = None) -> tuple[Network, Allocation]:
    """The network (or its arcs ``keep``) and its optimum."""
    if keep is not None:
        net = {k: v if k in ("owners", "capacity") else v[keep] for k, v in net.items()}
    found = allocate_arrays(
        net["owners"],
        net["unit"],
        net["mentor"],
        net["prio"],
        net["loc"],
        net["nosubj"],
        net["capacity"],
    )
    return net, found


def _max_flow(net: Network) -> int:
    arcs = arcs_module.CohortArcs(net["unit"], net["mentor"], *([net["unit"][:0]] * 6))
    return plan._mentee_bound(net["owners"], arcs, net["capacity"])


def _cut_rule(net: Network, people: int) -> list[int]:
    """The cut's rule written out plainly: per mentor, its arcs in order of (cost,
    unit) up to the first of the ``people``-th distinct owner."""
    owners, most = net["owners"], most_units(net["owners"])
    first = {int(o): int(np.searchsorted(owners, o)) for o in np.unique(owners)}
    kept = []
    for m in np.unique(net["mentor"]).tolist():
        mine = np.flatnonzero(net["mentor"] == m).tolist()

        def key(i: int, m: int = m) -> tuple[int, ...]:
            u = int(net["unit"][i])
            tie = m * (most - (u - first[int(owners[u])]))
            return (-int(net["prio"][i]), int(net["loc"][i]), int(net["nosubj"][i]), tie, u)

        seen: set[int] = set()
        for i in sorted(mine, key=key):
            if len(seen) == people:
                break
            kept.append(i)
            seen.add(int(owners[int(net["unit"][i])]))
    return sorted(kept)


@st.composite
def networks(draw: st.DrawFn) -> Network:
    """Small flow networks with many equal costs (so the cut has ties to break) and
    few places (so it cuts)."""
    n_owners = draw(st.integers(1, 9))
    per_owner = draw(st.lists(st.integers(1, 3), min_size=n_owners, max_size=n_owners))
    owners = np.repeat(np.arange(n_owners, dtype=np.int64), per_owner)
    n_mentors = draw(st.integers(1, 4))
    capacity = np.array(draw(st.lists(st.integers(1, 2), min_size=n_mentors, max_size=n_mentors)))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, len(owners) - 1), st.integers(0, n_mentors - 1)),
            min_size=1,
            max_size=30,
            unique=True,
        )
    )
    pairs.sort()
    n = len(pairs)
    small = st.lists(st.integers(0, 1), min_size=n, max_size=n)
    return {
        "owners": owners,
        "unit": np.array([u for u, _m in pairs], np.int64),
        "mentor": np.array([m for _u, m in pairs], np.int64),
        "prio": 1 + np.array(draw(small), np.int64) * 3,
        "loc": np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64),
        "nosubj": np.array(draw(small), np.int64),
        "capacity": capacity.astype(np.int64),
    }


@settings(max_examples=300, deadline=None)
@given(networks())
def test_the_cut_network_has_the_whole_networks_optimum(net: Network) -> None:
    places = int(net["capacity"].sum())
    keep = cut_arcs(
        net["owners"], net["unit"], net["mentor"], net["prio"], net["loc"], net["nosubj"], places
    )
    assert keep.tolist() == _cut_rule(net, places + 1)
    whole, best = _solved(net)
    cut, found = _solved(net, keep)
    assert found.weights.exact and best.weights.exact
    # the tie-break is compared only when both weights carry it
    both = min(len(_criteria(whole, best)), len(_criteria(cut, found)))
    assert _criteria(cut, found)[:both] == _criteria(whole, best)[:both]
    assert _max_flow(cut) == _max_flow(whole)


def test_a_cut_one_owner_short_loses_the_optimum() -> None:
    """Two mentors of one place each (K = 2), mentor 0's best candidate is also
    mentor 1's only one: kept to K - 1 = 1 owner a mentor, the second person is lost.
    The rule's K + 1 keeps them (and the random networks above would see a cut
    keeping fewer than its rule says)."""
    net = {
        "owners": np.array([0, 1], np.int64),
        "unit": np.array([0, 0, 1], np.int64),
        "mentor": np.array([0, 1, 0], np.int64),
        "prio": np.array([8, 1, 1], np.int64),
        "loc": np.zeros(3, np.int64),
        "nosubj": np.zeros(3, np.int64),
        "capacity": np.array([1, 1], np.int64),
    }
    fields = (net["owners"], net["unit"], net["mentor"], net["prio"], net["loc"], net["nosubj"])
    whole, best = _solved(net)
    assert _criteria(whole, best)[0] == 2
    short, lost = _solved(net, cut_arcs(*fields, places=0))  # one owner a mentor
    assert _criteria(short, lost)[0] == 1
    assert cut_arcs(*fields, places=2).tolist() == [0, 1, 2]


# --- synthetic cohorts: the flows of the plan, cut and whole


def _kb(mentors: int, seed: int) -> KnowledgeBase:
    shipped = Engine.from_path(backend="fast").kb
    return dataclasses.replace(shipped, mentors=synthetic_mentors(shipped, mentors, seed=seed))


def _seekers(kb: KnowledgeBase, people: int, seed: int) -> tuple[Any, Any, int]:
    """The plan's index and seekers (people, then flagged schools) as ``_Work`` reads them."""
    engine = Engine(kb, backend="fast")
    rows = []
    for profile in synthetic_profiles(kb, people, seed=seed):
        validated, result = engine.diagnose(profile)
        rows.append(plan_row(kb, validated, result) if result.ok else None)
    index = plan._plan_index(kb, plan._colleagues(kb, rows))
    _demands, _order, s = plan._read(rows)
    ok = (r for r in rows if r is not None)
    plan._add_schools(s, flag_schools(kb, school_profiles_of(kb, ok)))
    return index, s, len(rows)


@pytest.fixture(scope="module")
def scarce() -> tuple[Any, Any, int]:
    """1,200 people and 40 mentors: capacity binds and the cut drops arcs."""
    return _seekers(_kb(40, 31), 1200, 32)


def _network(index: Any, s: Any, units: Any, capacity: np.ndarray) -> Network:
    arcs = cohort_arcs(index, s.seekers, s.needs, s.severities, units, capacity)
    owners = np.array(units.owners, np.int64)
    return {
        "owners": owners,
        "unit": arcs.unit,
        "mentor": arcs.mentor,
        "prio": arcs.prio,
        "loc": arcs.loc,
        "nosubj": arcs.nosubj,
        "capacity": capacity,
    }


@pytest.mark.parametrize(("chunk", "floor"), [(1, 0), (64, 500), (4096, arcs_module._CUT_FLOOR)])
def test_a_cohorts_cut_network_found_chunk_by_chunk(
    scarce: tuple[Any, Any, int], chunk: int, floor: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flow_arcs, cutting again as chunks are found (after every chunk, every few
    hundred arcs, or once), keeps what one cut of every arc keeps (the rule,
    written out), and its optimum is the whole network's."""
    index, s, n = scarce
    monkeypatch.setattr(arcs_module, "_CHUNK_UNITS", chunk)
    monkeypatch.setattr(arcs_module, "_CUT_FLOOR", floor)
    cuts = []
    cut = arcs_module._cut

    def counted(*args: Any) -> Any:
        cuts.append(len(args[0].unit))
        return cut(*args)

    monkeypatch.setattr(arcs_module, "_cut", counted)
    units = plan._OwnedUnits(s.units, 0, n)
    capacity = np.array([m.capacity for m in index.mentors], np.int64)
    net = _network(index, s, units, capacity)
    places = int(capacity.sum())
    found = flow_arcs(index, s.seekers, s.needs, s.severities, units, capacity, net["owners"])
    keep = _cut_rule(net, places + 1)
    assert found.arcs == len(net["unit"]) > len(keep) == len(found.full)  # it cuts
    assert found.full.tolist() == keep
    for name, kept in zip(("unit", "mentor", "prio", "loc", "nosubj"), found.kept[:5], strict=True):
        assert np.array_equal(kept, net[name][keep]), name
    for whole, narrow in zip(
        cohort_arcs(index, s.seekers, s.needs, s.severities, units, capacity),
        found.candidates,
        strict=True,
    ):
        assert np.array_equal(whole, narrow)
    assert len(cuts) == 1 if chunk == 4096 else len(cuts) > 2, cuts
    if chunk == 4096:
        w, best = _solved(net)
        c, got = _solved(net, np.array(keep, np.int64))
        both = min(len(_criteria(w, best)), len(_criteria(c, got)))
        assert _criteria(c, got)[:both] == _criteria(w, best)[:both]
        assert _max_flow(c) == _max_flow(w)


def test_the_plans_flows_cut_and_whole_are_equally_good(scarce: tuple[Any, Any, int]) -> None:
    """The plan's two flows (people, then schools with the places people left), on
    the cut networks and on the whole ones: the same criteria and bound (the
    schools' flow where people left the same places: another optimum for people
    may leave others); and a unit left without a mentor in both has the same
    reasons (read from every candidate, kept or not)."""
    index, s, n = scarce
    cut = plan._allocate_mentors(index, s, n)
    whole = plan._allocate_mentors(index, s, n, whole=True)
    assert cut[1:] == whole[1:]  # exact, and the bound
    owners = np.array(plan._OwnedUnits(s.units, 0, n).owners, np.int64)
    got, expected = (_flow_criteria(f.people, owners) for f in (cut[0], whole[0]))
    assert got == expected
    taken = [
        np.bincount(_mentors(f.people), minlength=len(index.mentors)) for f in (cut[0], whole[0])
    ]
    if np.array_equal(*taken):
        owners = np.array(plan._OwnedUnits(s.units, n, len(s.units)).owners, np.int64)
        got, expected = (_flow_criteria(f.schools, owners) for f in (cut[0], whole[0]))
        assert got == expected
    unplaced = 0
    for k in range(len(s.units)):
        for a, b in zip(cut[0].coded(k), whole[0].coded(k), strict=True):
            if a[1] < 0 and b[1] < 0:
                assert a == b
                unplaced += 1
    assert unplaced > 100


def _flow_criteria(flow: Any, owners: np.ndarray) -> tuple[int, ...]:
    """Criteria 1-4 of a plan's flow, read from its candidates."""
    found, chosen = flow.found, flow.chosen
    units = np.flatnonzero(chosen >= 0)
    a = chosen[units]
    return (
        len(np.unique(owners[units])),
        int(found.prio[a].sum()),
        -int(found.loc[a].sum()),
        -int(found.nosubj[a].sum()),
    )


def _mentors(flow: Any) -> np.ndarray:
    """The mentor of each placed unit of a plan's flow."""
    chosen = flow.chosen
    mentors: np.ndarray = flow.found.mentor[chosen[chosen >= 0]]
    return mentors


def test_owners_out_of_order_are_refused() -> None:
    """The cut reads an owner's units as consecutive and the last owner as the
    largest: owners out of order are a misuse, refused, not cut wrongly."""
    from deficit_engine.errors import UsageError

    arcs = [np.array(v, np.int64) for v in ([0, 1, 2], [0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0])]
    with pytest.raises(UsageError, match="owners must be sorted"):
        cut_arcs(np.array([1, 0, 2], np.int64), *arcs, 1)
    assert list(cut_arcs(np.array([0, 1, 2], np.int64), *arcs, 1)) == [0, 1]
