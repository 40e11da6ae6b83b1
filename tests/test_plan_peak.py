"""The planned batch parent's peak made lower (planpeak, issue 16): each compact or
narrowed form held to the plain one it replaced, on generated inputs."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deficit_engine.engine import Engine
from deficit_engine.planner import plan as plan_module
from deficit_engine.planner import programmes as programmes_module
from deficit_engine.planner import schools as schools_module
from deficit_engine.planner.arcs import CohortArcs
from deficit_engine.planner.programmes import ProgrammeOutcomes
from deficit_engine.resolve import allocate as allocate_module


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


_OWNERS = st.lists(st.integers(0, 12), max_size=40)


@given(_OWNERS, st.booleans(), st.data())
def test_units_positions_among_their_owners_are_the_counted_ones(
    owners: list[int], in_order: bool, data: st.DataObject
) -> None:
    """``_positions_of`` (a search among sorted owners, else the count) gives each
    arc's unit the position ``_positions`` counts; ``most_units`` the largest run."""
    if in_order:
        owners = sorted(owners)
    held = np.asarray(owners, np.int64)
    unit = np.asarray(
        data.draw(st.lists(st.integers(0, max(len(owners) - 1, 0)), max_size=30)) if owners else [],
        np.int64,
    )
    want = np.asarray(allocate_module._positions(owners), np.int64)[unit]
    assert allocate_module._positions_of(held, unit).tolist() == want.tolist()
    most = max(Counter(owners).values()) if owners else 1
    assert allocate_module.most_units(held) == most


def _bound_over_every_owner(owners: np.ndarray, arcs: CohortArcs, capacity: np.ndarray) -> int:
    """The mentee bound as it was: every owner a node of the max flow."""
    from ortools.graph.python import max_flow

    codes, owner_of_unit = np.unique(owners, return_inverse=True)
    first_mentor = 2 + len(codes)
    solver = max_flow.SimpleMaxFlow()
    owner_nodes = 2 + np.arange(len(codes), dtype=np.int64)
    solver.add_arcs_with_capacity(
        np.zeros(len(codes), np.int64), owner_nodes, np.ones(len(codes), np.int64)
    )
    solver.add_arcs_with_capacity(
        owner_nodes[owner_of_unit[arcs.unit]],
        first_mentor + arcs.mentor,
        np.ones(len(arcs.unit), np.int64),
    )
    solver.add_arcs_with_capacity(
        first_mentor + np.arange(len(capacity), dtype=np.int64),
        np.ones(len(capacity), np.int64),
        capacity.astype(np.int64),
    )
    assert solver.solve(0, 1) == solver.OPTIMAL
    return int(solver.optimal_flow())


@given(
    st.lists(st.integers(0, 15), min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), st.integers(0, 4)), min_size=1, max_size=40),
    st.lists(st.integers(0, 3), min_size=5, max_size=5),
)
def test_the_mentee_bound_over_the_arcs_owners_is_the_bound_over_every_owner(
    owners: list[int], pairs: list[tuple[int, int]], capacity: list[int]
) -> None:
    """Owners with no arc carry no flow: leaving them out of the max flow gives
    the bound the network with every owner gives."""
    held = np.asarray(sorted(owners), np.int64)
    units = np.asarray([u % len(owners) for u, _m in pairs], np.int64)
    mentors = np.asarray([m for _u, m in pairs], np.int64)
    none = np.zeros(0, np.int64)
    arcs = CohortArcs(units, mentors, none, none, none, none, none, none)
    places = np.asarray(capacity, np.int64)
    assert plan_module._mentee_bound(held, arcs, places) == _bound_over_every_owner(
        held, arcs, places
    )


_WHYS = [("нет мест", ()), ("нет мест", ("P-1",)), ("нет программы", ()), ("x", ("P-2", "P-3"))]


@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 6), st.integers(0, len(_WHYS) - 1)), max_size=5),
        max_size=12,
    ),
    st.booleans(),
)
def test_unmet_needs_coded_as_pairs_are_the_needs_and_reasons_coded_apart(
    people: list[list[tuple[int, int]]], shared: bool
) -> None:
    """``ProgrammeOutcomes`` codes an unmet need as a pair's position: what it gives
    back (the pairs, their coded form, the reasons' table) is what coding the need
    and the reason apart gave, whether equal pairs are one object (the passes') or
    not."""
    held: dict[tuple[int, Any], tuple[int, Any]] = {}
    outcomes = ProgrammeOutcomes()
    given_pairs = []
    for person in people:
        pairs = []
        for i, w in person:
            pair = (i, (_WHYS[w][0], tuple(_WHYS[w][1])))
            pairs.append(held.setdefault(pair, pair) if shared else pair)
        outcomes.add((), pairs)
        given_pairs.append(pairs)
    # the plain form: each distinct reason once, by value, in the order first met
    whys: list[Any] = []
    for pairs in given_pairs:
        for _i, why in pairs:
            if why not in whys:
                whys.append(why)
    assert outcomes.tables()[1] == whys
    for slot, pairs in enumerate(given_pairs):
        assert list(outcomes.unmet(slot)) == pairs
        assert outcomes.coded(slot) == ((), tuple((i, whys.index(why)) for i, why in pairs))


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 3),
            st.lists(st.integers(0, 7), max_size=4),
            st.lists(st.integers(0, 7), max_size=3),
        ),
        max_size=30,
    )
)
def test_covers_let_go_for_the_recommendations_keep_each_person_s_picks(
    puts: list[tuple[int, int, list[int], list[int]]],
) -> None:
    """``_Covers.recommending`` drops the table only the passes read: each person's
    last picks, unmet pairs and shut key (what ``_recommend`` reads, the unmet
    needs made there: see ``_last_unmet``) stay as they were."""
    held = programmes_module._Held()
    keys = [held.at(("k", str(j))) for j in range(4)]
    things = [held.at(("x", (j,), None)) for j in range(8)]
    covers = programmes_module._Covers(6, held)
    for k, key, picks, pairs in puts:
        covers.put(k, keys[key], [things[j] for j in picks], [things[j] for j in pairs])
    before = [(covers.picks_of(k), covers.key_of(k)) for k in range(6)]
    found = [covers.found(k) for k in range(6) if covers.key_of(k) is not None]
    covers.recommending()
    assert [(covers.picks_of(k), covers.key_of(k)) for k in range(6)] == before
    assert [covers.found(k) for k in range(6) if covers.key_of(k) is not None] == found
    assert not held.seen


def _plain_profiles(
    engine: Engine, entries: list[tuple[str | None, str | None, dict[str, float], list[Any]]]
) -> list[tuple[str, tuple[Any, ...]]]:
    """Per school, its groups counted as the tallies' lists counted them."""
    groups = tuple(engine.kb.ontology.groups)
    rank = {s: i for i, s in enumerate(schools_module.SEVERITY_ORDER)}
    scores: dict[tuple[str, str], list[float]] = {}
    worst: dict[tuple[str, str], list[str]] = {}
    comps: dict[tuple[str, str], list[str]] = {}
    for org, _municipality, pct, deficits in entries:
        if org is None:
            continue
        for g in groups:
            if g not in pct:
                continue
            scores.setdefault((org, g), []).append(pct[g])
            mine = [(c, s) for group, c, s in deficits if group == g]
            if mine:
                worst.setdefault((org, g), []).append(
                    min((s for _c, s in mine), key=lambda s: rank.get(s, len(rank)))
                )
                comps.setdefault((org, g), []).extend({c for c, _s in mine})
    out = []
    for org in sorted({o for o, *_ in entries if o is not None}):
        made = []
        for g in groups:
            if (org, g) not in scores:
                continue
            counted = Counter(worst.get((org, g), []))
            made.append(
                (
                    g,
                    len(scores[(org, g)]),
                    tuple((s, counted[s]) for s in schools_module.SEVERITY_ORDER),
                    math.fsum(scores[(org, g)]) / len(scores[(org, g)]),
                    tuple(sorted(Counter(comps.get((org, g), [])).items())),
                )
            )
        out.append((org, tuple(made)))
    return out


@given(st.data())
def test_school_tallies_counted_as_they_go_are_the_listed_counts(
    engine: Engine, data: st.DataObject
) -> None:
    """The school profiles' severities and competencies counted per person as read
    are what counting each person's listed ones at the end gave."""
    groups = list(engine.kb.ontology.groups)
    severities = [*schools_module.SEVERITY_ORDER, "odd"]
    entry = st.tuples(
        st.sampled_from([None, "S1", "S2", "S3"]),
        st.sampled_from([None, "M1"]),
        st.dictionaries(st.sampled_from(groups), st.floats(0, 100), max_size=3),
        st.lists(
            st.tuples(
                st.sampled_from([None, *groups[:3]]),
                st.sampled_from(["c1", "c2", "c3"]),
                st.sampled_from(severities),
            ),
            max_size=5,
        ),
    )
    entries = data.draw(st.lists(entry, max_size=15))
    made = schools_module._profiles(engine.kb, entries)
    got = [
        (
            school.organization,
            tuple(
                (
                    g.group,
                    g.assessed,
                    g.by_severity,
                    g.mean_score,
                    tuple(sorted(g.prevalence)),
                )
                for g in school.groups
            ),
        )
        for school in made
    ]
    assert got == _plain_profiles(engine, entries)
