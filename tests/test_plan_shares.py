"""People's shares of a cohort plan resolved elsewhere: a batch's parent sends each
person's int-coded share of the plan (``StreamedPlan.take_shares``) and the worker
that holds their Result makes the Resolution (``planner.plan.Resolver``), which must
be the Resolution the parent would have made (``StreamedPlan.take``), byte for byte.

The cohorts are synthetic (deficit_engine.synthetic): no real person's data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from pathlib import Path

import pytest

from deficit_engine import cohort as cohort_module
from deficit_engine.cohort import PersonKeys, run_batch
from deficit_engine.engine import Engine
from deficit_engine.errors import UsageError
from deficit_engine.models import Result, UnaddressedDeficit
from deficit_engine.planner import SharedValues, StreamedPlan, plan_row
from deficit_engine.planner.plan import PlanShare, Resolver, decoded_choices
from deficit_engine.resolve.mentors import full_why, why_not
from deficit_engine.synthetic import synthetic_profiles
from deficit_engine.tables import TableReading
from test_batch_stream import _cohort, _files
from test_hardening_batch import needs_fork
from test_planner_reference import COHORTS, REFERENCE, cohort_kb, diagnosed, plan_digests


def test_shares_resolved_from_pickled_tables_are_the_recorded_plan() -> None:
    """Shares and tables through pickle (as they travel), resolved with each person's
    Result's needs and a fresh KB index with the colleagues: the recorded plan."""
    people, mentors, seed, colleagues = COHORTS["colleagues"]
    kb = cohort_kb(mentors, seed, colleagues)
    cohort = diagnosed(kb, people, seed)
    rows = [None if p is None else plan_row(kb, *p) for p in cohort]
    stream = StreamedPlan(kb, rows)
    tables = pickle.loads(pickle.dumps(stream.tables()))
    assert tables.colleagues  # the worker's index is the pool and the colleagues
    resolver = Resolver.of(kb, tables)
    assert resolver.index is not kb.index
    resolutions = []
    while len(resolutions) < len(stream):
        shares = pickle.loads(pickle.dumps(stream.take_shares(97)))
        shared = SharedValues()
        for share in shares:
            person = cohort[len(resolutions)]
            assert (share is None) == (person is None)
            if share is None or person is None:
                resolutions.append(None)
                continue
            assert isinstance(share, PlanShare)
            resolutions.append(resolver.resolve(share, person[1].needs, shared))
    plan = dataclasses.replace(stream.finished(), resolutions=tuple(resolutions))
    expected = json.loads(REFERENCE.read_text(encoding="utf-8"))["colleagues"]
    got = plan_digests(plan)
    assert got["figures"] == expected["figures"]  # the loads counted from the shares
    assert got["whole"] == expected["whole"]


def test_an_unplaced_units_reasons_are_made_from_its_mentors_positions_once() -> None:
    """A unit left without a mentor: each need's reason is ``full_why`` of the ids of
    the mentors whose places went to others (kept per index by their positions, so
    found again, not made again), else ``why_not``; the same with the memo emptied."""
    people, mentors, seed, colleagues = COHORTS["scarce"]
    kb = cohort_kb(mentors, seed, colleagues)
    cohort = diagnosed(kb, people // 4, seed)
    stream = StreamedPlan(kb, [None if p is None else plan_row(kb, *p) for p in cohort])
    index = Resolver.of(kb, stream.tables()).index
    full = index.memo("mentors full, by their positions")
    reasons = {"capacity": 0, "catalogue": 0}
    for share, person in zip(stream.take_shares(len(stream)), cohort, strict=True):
        if share is None or person is None:
            continue
        needs = person[1].needs
        for empty in (False, True):
            if empty:
                full.clear()
            choices = decoded_choices(index, share.seeker, needs, share.mentors)
            for (unit, a, found), choice in zip(share.mentors, choices, strict=True):
                if a >= 0:
                    continue
                assert choice.why is not None
                for i in unit.needs:
                    at = found.get(i)
                    expected = (
                        full_why([index.mentors[m].id for m in at], cohort=True)
                        if at
                        else why_not(index, share.seeker, needs[i], unit.form)
                    )
                    assert choice.why[i] == expected
                    reasons[expected.cause] += 1
    assert reasons["capacity"] > 10 * len(full) > 0  # found again far more than made
    assert reasons["catalogue"] > 0


def test_a_batch_with_colleagues_resolved_in_the_workers_writes_the_held_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers build the plan's index with the cohort's colleagues from the
    tables file: the parts, summary and schools of the batch that resolves here."""
    _people, mentors, seed, _colleagues = COHORTS["colleagues"]
    engine = Engine(cohort_kb(mentors, seed, True), backend="fast")
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 97)
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 61)
    source = _cohort(engine, tmp_path / "cohort.jsonl", 600)
    with monkeypatch.context() as patch:  # the reference: every diagnosis held here
        patch.setattr(TableReading, "shares", lambda self, records: None)
        run_batch(engine, source, tmp_path / "held", workers=1, output_format="jsonl")
    run_batch(engine, source, tmp_path / "streamed", workers=2, output_format="jsonl")
    expected = _files(tmp_path / "held")
    assert _files(tmp_path / "streamed") == expected
    plan = json.loads(expected["summary.json"])["plan"]
    assert plan["mentees_placed"] > 0
    assert any(
        m["id"].startswith("colleague.")
        for m in json.loads(expected["summary.json"])["mentor_load"]
    )


@needs_fork
def test_with_two_workers_the_parent_makes_no_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    resolve = Resolver.resolve
    here: list[int] = []
    elsewhere: list[int] = []

    def watched(self, share, needs, shared):  # type: ignore[no-untyped-def]
        (here if os.getpid() == parent else elsewhere).append(1)
        return resolve(self, share, needs, shared)

    # forked workers inherit the watch, but their counts stay in them: the
    # parent's list must stay empty while the batch's people are resolved
    monkeypatch.setattr(Resolver, "resolve", watched)
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 50)
    engine = Engine.from_path()
    source = tmp_path / "cohort.jsonl"
    profiles = synthetic_profiles(engine.kb, 200, seed=3)
    source.write_text("".join(json.dumps(p) + "\n" for p in profiles), encoding="utf-8")
    summary = run_batch(engine, source, tmp_path / "out", workers=2, output_format="jsonl")
    assert summary.evaluated == 200 and here == []
    with monkeypatch.context() as patch:  # the held path resolves here: the watch works
        patch.setattr(TableReading, "shares", lambda self, records: None)
        run_batch(engine, source, tmp_path / "held", workers=2, output_format="jsonl")
    assert len(here) == 200


def test_part_summaries_merged_are_the_summary_of_everyone() -> None:
    """The workers count their parts and the parent merges them: the same figures
    as the parent counting each person, set-aside people and breakdowns included."""
    engine = Engine.from_path()
    profiles = list(synthetic_profiles(engine.kb, 150, seed=8))
    items = []
    for n, profile in enumerate(profiles):
        # two set aside, as a batch sets aside a duplicate id
        result = Result.failed(f"p{n}", ["set aside"]) if n in (7, 70) else engine.evaluate(profile)
        keys = cohort_module.person_keys(profile) if result.ok else None
        items.append((cohort_module.digest(result, line=False), keys if n % 5 else "М-1"))
    whole = cohort_module.BatchSummary()
    for item, keys in items:
        whole.add(item, keys)
    merged = cohort_module.BatchSummary()
    for start, stop in ((0, 1), (1, 61), (61, 61), (61, 150)):
        part = cohort_module.BatchSummary()
        for item, keys in items[start:stop]:
            part.add(item, keys)
        merged.merge(part)
    assert merged.set_aside == 2 and merged.evaluated == 148
    assert json.dumps(merged.to_dict(engine)) == json.dumps(whole.to_dict(engine))
    assert merged == whole
    whole.plan = {"people": 148}
    with pytest.raises(UsageError, match="people only"):
        merged.merge(whole)


def test_a_part_counted_from_its_results_is_the_part_counted_person_by_person() -> None:
    """``BatchSummary.add_results`` (a worker's part, counted from the Results per
    distinct value) gives the figures of ``add`` on each person's digest in turn,
    field for field, and ``digests`` the digests ``digest`` makes one by one: planned
    people with routes that overflow and needs left unmet for want of places,
    set-aside people, people without a deficit, keys given as a bare municipality or
    not at all, groups missing or empty, severities the schema does not know, and
    empty parts."""
    engine = Engine.from_path()
    profiles = list(synthetic_profiles(engine.kb, 120, seed=11))
    cohort = engine.plan_cohort(profiles, workers=1)
    people: list[tuple[Result, object]] = []
    for n, (profile, result) in enumerate(zip(profiles, cohort.results, strict=True)):
        keys = cohort_module.person_keys(profile)
        people.append((result, keys if n % 7 else "М-1"))
    odd = [("severe", None), ("unheard", ""), ("low", "g1"), ("odd", "g2")]
    for n, keys in ((3, None), (4, PersonKeys("Город", None, "teacher", 25.0))):
        result = people[n][0]
        deficits = [
            dataclasses.replace(d, severity=odd[i % 4][0], group=odd[i % 4][1])
            for i, d in enumerate(result.deficits[: n - 1])
        ]
        unaddressed = (*result.unmet, UnaddressedDeficit(result.deficits[0]))  # shared below
        changed = dataclasses.replace(result, deficits=tuple(deficits), unmet=unaddressed)
        people.append((changed, keys))
        people.append((dataclasses.replace(changed, profile="again"), keys))
    people.append((dataclasses.replace(people[0][0], deficits=()), PersonKeys()))
    people.insert(5, (Result.failed("bad", ["set aside"]), None))
    made = [cohort_module.digest(result, line=False) for result, _ in people]
    assert sum(item.overflow for item in made) > 10
    assert sum(bool(u[3]) for item in made for u in item.unmet) > 10
    assert {u[2] for item in made for u in item.unmet} >= {"capacity", "catalogue", "unaddressed"}
    for start, stop in ((0, len(people)), (0, 1), (4, 6), (9, 9), (len(people) - 4, len(people))):
        one = cohort_module.BatchSummary()
        for item, (_result, keys) in zip(made[start:stop], people[start:stop], strict=True):
            one.add(item, keys)
        many = cohort_module.BatchSummary()
        many.add_results([r for r, _ in people[start:stop]], [k for _, k in people[start:stop]])
        assert many == one
        assert json.dumps(many.to_dict(engine)) == json.dumps(one.to_dict(engine))
        assert (
            cohort_module.digests([r for r, _ in people[start:stop]], line=False)
            == made[start:stop]
        )
    with pytest.raises(ValueError):
        cohort_module.BatchSummary().add_results([people[0][0]], [])


def test_a_batch_run_in_this_process_keeps_no_resolver(tmp_path: Path) -> None:
    engine = Engine.from_path()
    source = tmp_path / "cohort.jsonl"
    profiles = synthetic_profiles(engine.kb, 40, seed=9)
    source.write_text("".join(json.dumps(p) + "\n" for p in profiles), encoding="utf-8")
    made: list[Resolver] = []
    real = cohort_module._resolver

    def watched(kb, path, token):  # type: ignore[no-untyped-def]
        made.append(real(kb, path, token))
        return made[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cohort_module, "_resolver", watched)
        run_batch(engine, source, tmp_path / "out", workers=1, output_format="jsonl")
    assert made and all(r is made[0] for r in made)  # one per batch, read once
    assert cohort_module._RESOLVERS == {}


def test_a_worker_reads_each_share_once_and_writes_the_bytes_of_fresh_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share's tables are read at a worker's first part from it and kept for its
    next parts (``cohort._reader``; parts across shares here): the batch writes
    the bytes it writes when every part reads its shares afresh, and keeps no
    reader after it."""
    engine = Engine.from_path()
    source = _cohort(engine, tmp_path / "cohort.jsonl", 150)
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 40)
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 15)
    read: list[str] = []  # the share files whose tables were read
    real = cohort_module.unspill

    def counted(path: Path, start: int, stop: int) -> list[object]:
        if path.name.startswith("share-") and (start, stop) == (0, 1):
            read.append(path.name)
        return real(path, start, stop)

    monkeypatch.setattr(cohort_module, "unspill", counted)
    run_batch(engine, source, tmp_path / "kept", workers=1, output_format="jsonl")
    assert len(read) == len(set(read)) > 2  # each share's read once
    assert cohort_module._READERS == {}
    shares = len(read)

    kept = cohort_module._reader

    def fresh(path: str, token: str) -> cohort_module._SpillReader:
        cohort_module._READERS.clear()  # as before: every part reads its shares
        return kept(path, token)

    monkeypatch.setattr(cohort_module, "_reader", fresh)
    run_batch(engine, source, tmp_path / "fresh", workers=1, output_format="jsonl")
    assert len(read) > 2 * shares  # each part read its shares again
    assert _files(tmp_path / "fresh") == _files(tmp_path / "kept")
