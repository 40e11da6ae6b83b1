"""What a large batch's parent keeps per person, coded compactly, gives back exactly
what it was given: the plan rows (planner.RowTable) and the programme passes' outcome
(planner.programmes.ProgrammeOutcomes).

The cohort is synthetic (deficit_engine.synthetic): no real person's data.
"""

from __future__ import annotations

import dataclasses
import itertools
import pickle
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deficit_engine.engine import Engine, run_chunk
from deficit_engine.errors import UsageError
from deficit_engine.models import Need
from deficit_engine.planner import PlanRow, RowTable, plan_row
from deficit_engine.planner import plan as plan_module
from deficit_engine.planner import programmes as programmes_module
from deficit_engine.planner import rows as rows_module
from deficit_engine.planner.plan import _demand
from deficit_engine.planner.programmes import ProgrammeOutcomes, plan_programmes
from deficit_engine.resolve.mentors import Unit
from deficit_engine.synthetic import synthetic_profiles
from test_planner_programmes import scarce_kb


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.fixture(scope="module")
def rows(engine: Engine) -> list[PlanRow]:
    kb = engine.kb
    diagnosed = engine.diagnose_many(list(synthetic_profiles(kb, 80, seed=7)))
    return [plan_row(kb, p, r) for p, r in diagnosed if p is not None and r.ok]


def _printed(row: PlanRow | None) -> Any:
    """A row as it prints: its fields with their values' types (1 == 1.0 == True)."""
    if row is None:
        return None
    out = []
    for value in row:
        items = list(value.items()) if isinstance(value, dict) else value
        out.append((repr(items), type(value)))
    return out


def test_a_row_table_gives_back_each_row_as_it_was_given(rows: list[PlanRow]) -> None:
    first = rows[0]
    odd = [
        # group scores of other types than float, and severities not made from the
        # deficits: held whole
        first._replace(id="odd-1", group_pct={"subject": 50, "methodical": True}),
        first._replace(id="odd-2", severities={"x.y": "high"}),
        first._replace(id="odd-3", severities={}, deficits=()),
        # needs that are not shared (a number, a list among the filters)
        first._replace(
            id="odd-4",
            needs=(
                Need("program", "normative.fgos", (("max_hours", 36),), "R-1"),
                Need("format", None, (("phases", ["learn"]),), "R-2"),
                *first.needs,
            ),
            period_hours=36,
        ),
    ]
    given: list[PlanRow | None] = [*rows[:30], None, *odd, None, *rows[30:]]
    table = RowTable(given)
    assert len(table) == len(given)
    assert [table[n] for n in range(len(table))] == given
    assert [_printed(table[n]) for n in range(len(table))] == list(map(_printed, given))
    assert table[-1] == given[-1] and table[3:6] == given[3:6]
    assert [table.diagnosed(n) for n in range(len(table))] == [r is not None for r in given]
    assert list(table.school_entries()) == [
        (r.organization, r.municipality, r.group_pct, r.deficits) for r in given if r
    ]
    for n, row in enumerate(given):
        assert table.needs(n) == (row.needs if row else ())
        assert table.severities(n) == (row.severities if row else {})
    # equal needs whose filters are text are one object; the others their own
    decoded = [table[n] for n in range(len(table))]
    needs = {id(need): need for row in decoded if row for need in row.needs}
    text = [n for n in needs.values() if all(type(v) is str for _k, v in n.filters)]
    assert len(text) == len({(n.kind, n.competency, n.filters, n.rule) for n in text})
    assert type(decoded[given.index(odd[3])].period_hours) is int  # type: ignore[union-attr]
    # the lean rows the plan's passes read: each row but its group scores, the same
    # objects as the full decoding's where shared, as printed where not
    lean = list(table.lean())
    assert [r and r._replace(group_pct={}) for r in lean] == [
        r and r._replace(group_pct={}) for r in given
    ]
    assert [_printed(r and r._replace(group_pct={})) for r in lean] == [
        _printed(r and r._replace(group_pct={})) for r in given
    ]
    assert not any(r.group_pct for r in lean if r)


def test_the_programme_outcomes_coded_are_the_plan_s(engine: Engine, rows: list[PlanRow]) -> None:
    demands = [_demand(row, n) for n, row in enumerate(rows)]
    plan = plan_programmes(engine.kb, [d for d in demands if d is not None])
    coded = ProgrammeOutcomes(plan)
    assert len(coded) == len(plan.recommendations) and coded.passes == plan.passes
    assert any(plan.recommendations) and any(plan.unmet)
    for slot, (recs, unmet) in enumerate(zip(plan.recommendations, plan.unmet, strict=True)):
        made = coded.recommendations(slot)
        assert len(made) == len(recs) and all(a is b for a, b in zip(made, recs, strict=True))
        assert list(coded.unmet(slot)) == list(unmet)


@pytest.mark.parametrize("colleagues", [False, True])
def test_a_row_added_from_its_diagnosis_is_coded_as_its_plan_row_appended(
    engine: Engine, colleagues: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the workers' path (RowTable.add) against plan_row + append, on a columnar
    # chunk (whose equal needs are one object, found by identity), the bound on
    # the needs found by identity small enough to be cleared often
    kb = engine.kb
    if colleagues:
        settings = kb.planning.planning.model_copy(update={"colleague_mentors": True})
        kb = dataclasses.replace(kb, planning=kb.planning.model_copy(update={"planning": settings}))
    monkeypatch.setattr(rows_module, "_RECENT", 40)
    profiles: list[Any] = list(synthetic_profiles(kb, 120, seed=11))
    profiles[5] = {"id": "broken"}  # not validated: no row
    chunk = run_chunk(Engine(kb, backend="fast"), "columnar", 0, profiles)
    old, new = RowTable(), RowTable()
    for profile, result in chunk:
        ok = profile is not None and result.ok
        old.append(plan_row(kb, profile, result) if ok else None)
        if ok:
            new.add(kb, profile, result)
        else:
            new.append(None)
    assert any(row is None for row in new) and len(new) == len(chunk)
    assert [_printed(new[n]) for n in range(len(new))] == [
        _printed(old[n]) for n in range(len(old))
    ]
    assert pickle.dumps(new) == pickle.dumps(old)
    assert any(row.strengths for row in new if row) == colleagues


@given(
    st.sampled_from(["h", "H"]),
    st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=6), max_size=6),
)
def test_positions_widen_when_one_does_not_fit(start: str, chunks: list[list[int]]) -> None:
    """A RowTable's positions start 16 bits wide: extended with a value that does not
    fit, they are widened, and hold every value extended, in order."""
    items = array(start)
    fits = [v for chunk in chunks for v in chunk if 0 <= v < 2**15]
    for chunk in chunks:
        items = rows_module._extend(items, [v for v in chunk if 0 <= v < 2**15])
    assert items.typecode == start and items.tolist() == fits
    items = array(start)
    for chunk in chunks:
        items = rows_module._extend(items, chunk)
    assert items.tolist() == [v for chunk in chunks for v in chunk]


def test_a_row_table_past_16_bits_gives_back_each_row(rows: list[PlanRow]) -> None:
    """More distinct needs and deficits than 16 bits number (and head values past
    15 bits): the table's positions widen, appended or merged, and every row comes
    back as given."""
    first = rows[0]
    given: list[PlanRow | None] = []
    for k in range(700):
        needs = tuple(
            Need("program", "normative.fgos", (("n", f"{k}.{i}"),), "R") for i in range(100)
        )
        deficits = tuple((None, f"c{k}.{i}", "high") for i in range(100))
        given.append(
            first._replace(
                id=f"p{k}",
                organization=f"school {k}",
                needs=needs,
                deficits=deficits,
                severities={c: s for _g, c, s in deficits},
            )
        )
    given.insert(350, None)
    table = RowTable(given)
    assert {a.typecode for a in (table._needs, table._deficits, table._head)} == {"i"}
    merged = RowTable(given[:300])
    merged.merge(RowTable(given[300:]))
    again = pickle.loads(pickle.dumps(merged))
    for made in (table, merged, again):
        assert [made[n] for n in range(len(made))] == given


def _shares(table: RowTable, given: list[PlanRow | None], cuts: list[int]) -> RowTable:
    """``given`` merged into ``table`` a share at a time (cut at ``cuts``), each
    third share with its second row dropped (as the batch's duplicates are)."""
    bounds = [0, *cuts, len(given)]
    for j, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        share = RowTable(given[lo:hi])
        table.merge(share, {1} if j % 3 == 2 and hi - lo > 1 else set())
    return table


def _dropped(given: list[PlanRow | None], cuts: list[int]) -> list[PlanRow | None]:
    """The rows ``_shares`` keeps: its dropped ones None."""
    out = list(given)
    bounds = [0, *cuts, len(given)]
    for j, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if j % 3 == 2 and hi - lo > 1:
            out[lo + 1] = None
    return out


@pytest.mark.parametrize("wide", [False, True])
def test_a_spilled_row_table_reads_back_what_a_held_one_holds(
    engine: Engine,
    rows: list[PlanRow],
    wide: bool,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A RowTable with a spill file (the batch parent's) gives back every row, need,
    severity, lean row and school entry the same table held in memory gives, read
    in order or not, its positions widened after some parts were written (``wide``);
    pickled, it is the held table's state; and the plan made from it is the same."""
    monkeypatch.setattr(rows_module, "_SPILL_ROWS", 7)
    given: list[PlanRow | None] = [*rows[:20], None, *rows[20:], None]
    if wide:  # more distinct needs than 16 bits number, in the last shares
        first = rows[0]
        for k in range(40):
            needs = tuple(
                Need("program", "normative.fgos", (("n", f"{k}.{i}"),), "R") for i in range(2000)
            )
            given.append(first._replace(id=f"wide{k}", needs=needs))
    cuts = list(range(3, len(given), 9))
    kept = _dropped(given, cuts)
    held = _shares(RowTable(), given, cuts)
    spilled = _shares(RowTable(spill=tmp_path / "rows.pickle"), given, cuts)
    assert len(spilled) == len(held) == len(given)
    # most rows were written out: the table holds fewer than a part's worth
    assert len(spilled._ids) < 7 and spilled._first > len(given) - 7
    assert (tmp_path / "rows.pickle").stat().st_size > 0
    if wide:
        assert spilled._needs.typecode == "i" and spilled._load(0)._needs.typecode == "H"
    people = range(len(given))
    for order in (people, people[::-1], [*people[::5], *people[1::5], *people[::-3]]):
        assert [_printed(spilled[n]) for n in order] == [_printed(kept[n]) for n in order]
        assert [spilled.needs(n) for n in order] == [held.needs(n) for n in order]
        assert [spilled.severities(n) for n in order] == [held.severities(n) for n in order]
        assert [spilled.diagnosed(n) for n in order] == [
            r is not None for r in map(kept.__getitem__, order)
        ]
        values = spilled.need_values()
        assert [tuple(values[i] for i in spilled.need_positions(n)) for n in order] == [
            held.needs(n) for n in order
        ]
    assert [_printed(r) for r in spilled.lean()] == [_printed(r) for r in held.lean()]
    assert list(spilled.school_entries()) == list(held.school_entries())
    assert spilled[-1] == kept[-1] and spilled[2:12] == kept[2:12]
    with pytest.raises(IndexError):
        spilled.needs(-1)
    assert pickle.dumps(spilled) == pickle.dumps(held)
    again = pickle.loads(pickle.dumps(spilled))
    assert again._spill is None and [again[n] for n in people] == kept
    # merged into another table, a spilled one's rows are added as they read
    into = RowTable()
    into.merge(spilled)
    assert [into[n] for n in people] == kept
    if not wide:
        kb = scarce_kb(8, 6, engine.kb)
        plans = [plan_module.plan_rows(kb, table) for table in (spilled, held)]
        assert plans[0].resolutions and plans[0].teams
        timeless = [
            dataclasses.replace(p, stats=dataclasses.replace(p.stats, seconds=0.0)) for p in plans
        ]
        assert timeless[0] == timeless[1]


_FORMS = st.one_of(st.none(), st.sampled_from(["pair", "group", "school_team"]), st.text())
_UNITS = st.lists(
    st.lists(
        st.builds(
            Unit,
            _FORMS,
            st.lists(st.one_of(st.integers(0, 60), st.integers(0, 70_000)), max_size=4).map(tuple),
        ),
        max_size=3,
    ),
    max_size=12,
)


@given(_UNITS)
def test_the_seekers_units_held_as_runs_give_back_each_seekers_units(
    units: list[list[Unit]],
) -> None:
    """The seekers' units held as runs (``plan._UnitRuns``, 16 bits wide until a
    need's position or a form's code does not fit) give back each seeker's units,
    equal to those given, and their counts; many forms widen the codes."""
    runs = plan_module._UnitRuns(units)
    assert [list(runs[k]) for k in range(len(units))] == units
    assert [runs.count(k) for k in range(len(units))] == [len(u) for u in units]


@given(_UNITS, st.data())
def test_a_flow_s_units_read_from_the_runs_are_the_seekers_own(
    units: list[list[Unit]], data: st.DataObject
) -> None:
    """The runs added seeker by seeker as the rows are read (``_UnitRuns.add``) and
    a flow's units read from them (``_OwnedUnits`` over the runs) give the pairs
    and owners the seekers' own tuples give, in order, by position and by slice."""
    runs = plan_module._UnitRuns()
    for mine in units:
        runs.add(mine)
    assert len(runs) == len(units) and runs.starts[-1] == sum(map(len, units))
    first = data.draw(st.integers(0, len(units)))
    last = data.draw(st.integers(first, len(units)))
    pairs = [(k, unit) for k in range(first, last) for unit in units[k]]
    owned: Any = plan_module._OwnedUnits(runs, first, last)
    assert len(owned) == len(pairs) and list(owned) == pairs
    assert [owned[u] for u in range(len(owned))] == pairs and owned[1:3] == pairs[1:3]
    assert list(owned.owners) == [k for k, _unit in pairs]
    if pairs:
        assert owned[-1] == pairs[-1]


def test_units_of_more_forms_than_16_bits_hold_widen_their_codes() -> None:
    many = [[Unit(f"form {j}", (j,))] for j in range(70_000)]
    held = plan_module._UnitRuns(many)
    assert held.form.typecode != "H"
    assert [held[k] for k in (0, 65_535, 69_999)] == [(many[k][0],) for k in (0, 65_535, 69_999)]


def test_demands_held_as_positions_give_back_each_demand(
    engine: Engine, rows: list[PlanRow]
) -> None:
    """``programmes.Demands`` (a head held once per value, runs of positions) gives
    back each demand added, field by field, its needs the same objects (the passes
    key recommendations by identity), whether the needs are its own (a list of
    demands) or a RowTable's; past 16 bits, the positions widen."""
    made = [d for d in (_demand(row, n, keyed=False) for n, row in enumerate(rows)) if d]
    held = programmes_module.Demands.of(made)
    assert len(held) == len(made) and list(held) == made and held[-1] == made[-1]
    assert len(held.heads) < len(made)  # equal heads held once
    for d, want in zip(held, made, strict=True):
        assert all(a is b for a, b in zip(d.needs, want.needs, strict=True))
    # over a table's needs: their positions in it, the table's objects
    table = RowTable(rows)
    demands, _order, _seekers = plan_module._read(table)
    values = table.need_values()
    for k, want in enumerate(made):
        got = demands[k]
        assert got == want and all(need in values for need in got.needs)
    with pytest.raises(UsageError, match="table of needs"):
        demands.add_needs(demands.heads[0], made[0].needs, made[0].idx)
    # equal heads but for the type of their hours (the reasons print them) held apart
    typed = programmes_module.Demands()
    first = made[0]._replace(period_hours=12.0)
    for hours in (12.0, 12, 12.0, 12):
        typed.add_needs((*made[0][:6], hours), first.needs, first.idx)
    assert [type(d.period_hours) for d in typed] == [float, int, float, int]
    assert len(typed.heads) == 2
    # a position past 16 bits: the runs widen, the demands before it unchanged
    need = made[0].needs[0]
    many = [Need.of(need.kind, need.competency, (("n", j),), need.rule) for j in range(70_000)]
    wide = programmes_module.Demands(many)
    wide.add(demands.heads[0], [0, 69_999], [3, 70_000])
    wide.add(demands.heads[0], [5], [1])
    assert wide.idx(0) == (3, 70_000) and wide.idx(1) == (1,)
    assert wide.needs(0)[0] is many[0] and wide.needs(0)[1] is many[69_999]
    assert wide.needs(1) == (many[5],)
    with pytest.raises(IndexError):
        wide[-3]
    with pytest.raises(UsageError, match="table of needs"):  # an empty table too
        programmes_module.Demands([]).add_needs(demands.heads[0], [need], [0])


@pytest.mark.parametrize(("divisor", "min_group"), [(1, 0), (8, 6)])
def test_the_outcomes_coded_as_made_are_the_plan_s_coded(
    engine: Engine, rows: list[PlanRow], divisor: int, min_group: int
) -> None:
    """``plan_programme_outcomes`` (each person's outcome coded as the plan makes
    it) codes what ``ProgrammeOutcomes(plan_programmes(...))`` does: the same
    tables, in the same order, and the same positions a person; with scarce
    places too (redone passes, closed pairs)."""
    kb = scarce_kb(divisor, min_group, engine.kb)
    keyed = [d for d in (_demand(row, n) for n, row in enumerate(rows)) if d is not None]
    order = sorted(range(len(keyed)), key=lambda k: keyed[k].key)
    plan = plan_programmes(kb, keyed)
    want = ProgrammeOutcomes(plan)
    got, load = programmes_module.plan_programme_outcomes(
        kb, programmes_module.Demands.of(keyed), order
    )
    assert load == plan.load() and (got.passes, got.closed) == (want.passes, want.closed)
    assert got.tables() == want.tables() and len(got) == len(want)
    assert [got.coded(k) for k in range(len(got))] == [want.coded(k) for k in range(len(want))]
    if divisor > 1:
        assert plan.passes > 1 and any(plan.unmet)


@pytest.mark.parametrize(("divisor", "min_group"), [(8, 6), (4, 3), (2, 8)])
def test_the_unmet_needs_made_after_the_passes_are_those_the_passes_made(
    engine: Engine,
    rows: list[PlanRow],
    divisor: int,
    min_group: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each person's unmet programme needs, made from their last cover once the
    passes are done (``programmes._last_unmet``), are those the passes made when
    they covered the person (the plain way: ``_unmet`` right after the cover, with
    that pass's places), with scarce places: redone passes, closed groups."""
    kb = scarce_kb(divisor, min_group, engine.kb)
    keyed = [d for d in (_demand(row, n) for n, row in enumerate(rows)) if d is not None]
    made: dict[int, Any] = {}
    seen: dict[str, Any] = {}
    real_places, real_people = programmes_module._Places, programmes_module._people
    real_cover = programmes_module._cover

    def places(*args: Any) -> Any:
        seen["places"] = found = real_places(*args)
        return found

    def people(*args: Any) -> Any:
        seen["people"] = found = real_people(*args)
        return found

    def cover(index: Any, demands: Any, k: int, h: Any, key: Any, covers: Any) -> Any:
        picks, unmet = real_cover(index, demands, k, h, key, covers)
        eligible = seen["people"].eligible[demands.head_at[k]]
        made[k] = (
            programmes_module._unmet(
                seen["places"], demands, k, h, eligible, key, unmet, covers.held
            )
            if unmet
            else ()
        )
        return picks, unmet

    monkeypatch.setattr(programmes_module, "_Places", places)
    monkeypatch.setattr(programmes_module, "_people", people)
    monkeypatch.setattr(programmes_module, "_cover", cover)
    plan = plan_programmes(kb, keyed)
    assert plan.passes > 1 and plan.closed
    assert [tuple(plan.unmet[k]) for k in range(len(keyed))] == [
        made.get(k, ()) for k in range(len(keyed))
    ]
    assert any(why[1] for unmet in plan.unmet for _i, why in unmet)  # programmes ran out


def test_demands_as_positions_plan_as_the_list_of_demands(
    engine: Engine, rows: list[PlanRow]
) -> None:
    """``plan_programmes`` over ``Demands`` (the planner's) plans as over the list."""
    keyed = [d for d in (_demand(row, n) for n, row in enumerate(rows)) if d is not None]
    order = sorted(range(len(keyed)), key=lambda k: keyed[k].key)
    from_list = plan_programmes(engine.kb, keyed)
    held = plan_programmes(engine.kb, programmes_module.Demands.of(keyed), order)
    assert held == from_list and any(held.recommendations)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # the person
            st.integers(0, 3),  # their shut key
            st.lists(st.integers(0, 7), max_size=4),  # picks
            st.lists(st.integers(0, 7), max_size=3),  # unmet pairs
        ),
        max_size=30,
    ),
    st.lists(st.integers(0, 30), max_size=4),
)
def test_covers_held_as_runs_give_back_each_last_cover(
    puts: list[tuple[int, int, list[int], list[int]]], compact_after: list[int]
) -> None:
    """``programmes._Covers`` gives back each person's last cover (its key, picks
    and pairs, the held objects), whatever was put before it and whenever the runs
    left behind were dropped (``compact``)."""
    held = programmes_module._Held()
    keys = [held.at(("k", str(j))) for j in range(4)]
    things = [held.at(("x", (j,), None)) for j in range(8)]
    covers = programmes_module._Covers(6, held)
    last: dict[int, tuple[int, list[int], list[int]]] = {}
    for step, (k, key, picks, pairs) in enumerate(puts):
        found = covers.put(k, keys[key], [things[j] for j in picks], [things[j] for j in pairs])
        assert found == covers.found(k)
        last[k] = (key, picks, pairs)
        if step in compact_after:
            covers.compact()
        for person in range(6):
            if person not in last:
                assert covers.key_of(person) is None and covers.picks[person] == 0
                continue
            key_, picks_, pairs_ = last[person]
            assert covers.key_of(person) == ("k", str(key_))
            assert covers.found(person) == (
                tuple(held.items[things[j]] for j in picks_),
                tuple(held.items[things[j]] for j in pairs_),
            )
            assert covers.picks_of(person) == covers.found(person)[0]
    # the runs left behind are dropped once they are more than those in use: what
    # stays is the live runs and at most as many dead positions
    live = sum(covers.picks[k] + covers.reasons[k] for k in range(6))
    was_dead = covers.dead
    covers.compact()
    assert len(covers.run) == live + covers.dead
    if was_dead * 2 > live + was_dead:
        assert covers.dead == 0 and len(covers.run) == live
    else:
        assert covers.dead == was_dead
