"""The store (issue 14, parts 4-5), on SQLite and on a real PostgreSQL server.

Every test runs twice through the ``db`` fixture: on an SQLite file and on a
fresh database of a throwaway PostgreSQL cluster (``tests/pgcluster.py``). The
PostgreSQL runs skip with the reason when no server binaries are installed,
and fail instead under ``DEFICIT_ENGINE_REQUIRE_POSTGRES=1`` (what .ci/run sets).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import pgcluster
from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.cli import main
from deficit_engine.cohort import run_batch
from deficit_engine.errors import UsageError
from deficit_engine.models.marks import StepMark
from deficit_engine.store import BatchRecorder, Store, database_url
from deficit_engine.store.tables import (
    deficits,
    diagnoses,
    persons,
    results,
    route_versions,
)

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a throwaway cluster's ``postgres`` database, for the session."""
    reason = pgcluster.why_not()
    if reason is not None:
        if os.environ.get(pgcluster.REQUIRE) == "1":
            pytest.fail(f"{pgcluster.REQUIRE}=1, but {reason}")
        pytest.skip(reason)
    with pgcluster.cluster() as url:
        yield url


def _fresh_postgres(server: str) -> str:
    """A new, empty database on the cluster, for one test."""
    name = f"t{os.getpid()}_{next(_names)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store database, on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return _fresh_postgres(request.getfixturevalue("postgres"))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    s = Store.open(db)
    s.upgrade()
    yield s
    s.engine.dispose()


def _count(store: Store, table: sa.Table, **where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _cohort(path: Path, count: int, seed: int = 3) -> list[dict[str, Any]]:
    profiles = list(synthetic_profiles(load_kb(), count, seed=seed))
    path.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in profiles), encoding="utf-8"
    )
    return profiles


# --- the schema and the library API ---------------------------------------------------


def test_upgrade_creates_the_schema_once_and_a_store_without_it_is_refused(db: str) -> None:
    bare = Store.open(db)
    with pytest.raises(UsageError, match="db upgrade"):
        bare.require_current()
    assert bare.upgrade() == "0001"
    assert bare.upgrade() == "0001"  # a second upgrade changes nothing
    bare.require_current()
    names = set(sa.inspect(bare.engine).get_table_names())
    assert {"runs", "persons", "diagnoses", "results", "route_versions", "step_marks"} <= names


def test_a_recorded_diagnosis_keeps_profile_provenance_and_kb_hash_but_no_name(
    store: Store, engine: Engine
) -> None:
    profile = {
        "id": "T-1",
        "person": {
            "role": "teacher",
            "experience_years": 2,
            "name": "Имя Фамилия",
            "municipality": "Город",
            "organization": "Школа 1",
        },
        "results": [
            {
                "competency": "normative.fgos",
                "score": 20,
                "instrument": "ЦНППМ-тест",
                "date": "2026-09-14",
            },
            {"competency": "methodical.assessment", "score": 40, "date": "2026-10-02"},
        ],
    }
    result = engine.evaluate(profile)
    assert store.record(profile, result)  # the Result carries its KB's hash
    (stored,) = store.history("T-1")
    assert "name" not in stored.profile["person"]
    assert "Имя" not in json.dumps(stored.profile, ensure_ascii=False)
    assert stored.provenance[0] == {
        "competency": "normative.fgos",
        "instrument": "ЦНППМ-тест",
        "date": "2026-09-14",
    }
    assert stored.diagnosed_on == "2026-10-02"
    assert stored.kb_hash == result.kb_hash == engine.kb.content_hash != ""
    assert stored.result["deficits"] == result.to_dict()["deficits"]
    assert stored.route_version == 1
    assert _count(store, deficits, diagnosis_id=stored.id) == len(result.deficits) > 0


def test_marks_refer_to_the_newest_route_and_the_newest_mark_of_a_step_wins(store: Store) -> None:
    _record(store, "p", {}, [_step("s1", "program", "P1", ["c1"]), _step("s2", "format", "F", [])])
    store.mark("p", StepMark.make("s1", "in_progress", "2026-10-01"))
    assert store.mark("p", StepMark.make("s1", "done", "2026-11-20", "удостоверение 42")) == 1
    assert store.marks("p") == [StepMark("s1", "done", "2026-11-20", "удостоверение 42")]
    with pytest.raises(UsageError, match="has no step 's9'"):
        store.mark("p", StepMark.make("s9", "done"))
    with pytest.raises(UsageError, match="no stored route"):
        store.mark("nobody", StepMark.make("s1", "done"))
    _record(store, "p", {}, [_step("s1", "mentoring", "M", ["c1"])])  # a revised route
    assert store.marks("p") == []  # version 2 is not marked yet
    assert store.marks("p", version=1)[0].status == "done"


# --- batches --------------------------------------------------------------------------


def test_a_batch_recorded_twice_with_one_run_id_stores_each_person_once(
    store: Store, engine: Engine, tmp_path: Path
) -> None:
    profiles = _cohort(tmp_path / "cohort.jsonl", 12)
    for n, allocate in enumerate((True, False, True)):
        recorder = BatchRecorder(store, "spring", engine.kb, "cohort.jsonl")
        summary = run_batch(
            engine,
            tmp_path / "cohort.jsonl",
            tmp_path / f"out{n}",
            workers=1,
            allocate=allocate,
            record=recorder,
        )
        recorder.finish(summary)
        assert recorder.added == (len(profiles) if n == 0 else 0)
    assert store.recorded("spring") == {p["id"] for p in profiles}
    assert store.person_ids() == sorted(p["id"] for p in profiles)
    for table in (persons, diagnoses, results, route_versions):
        assert _count(store, table) == len(profiles)
    (run,) = store.runs()
    assert (run.id, run.recorded, run.evaluated, run.finished_at is not None) == (
        "spring",
        len(profiles),
        len(profiles),
        True,
    )


@pytest.mark.slow  # two batches of 100 people, on each engine
def test_kill_9_during_a_recorded_batch_leaves_whole_persons_and_a_rerun_completes_it(
    db: str, store: Store, tmp_path: Path
) -> None:
    profiles = _cohort(tmp_path / "cohort.jsonl", 100, seed=5)
    command = [
        sys.executable,
        "-m",
        "deficit_engine",
        "batch",
        str(tmp_path / "cohort.jsonl"),
        "--db",
        db,
        "--run-id",
        "autumn",
        "--no-allocate",
        "--workers",
        "1",
        "--quiet",
    ]
    batch = subprocess.Popen(
        [*command, "-o", str(tmp_path / "killed")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_records(store, batch, at_least=3)
        with _writers_blocked(db, store):
            time.sleep(0.5)  # let the batch reach its next person's transaction and wait there
            batch.send_signal(signal.SIGKILL)
            batch.wait(timeout=60)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == -signal.SIGKILL
    before = store.recorded("autumn")
    assert 3 <= len(before) < len(profiles)
    _assert_whole_persons(store)

    rerun = subprocess.run(
        [*command, "-o", str(tmp_path / "rerun")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(profiles) - len(before)} person(s) recorded" in rerun.stdout
    assert store.recorded("autumn") == {p["id"] for p in profiles}
    assert _count(store, diagnoses) == len(profiles)
    _assert_whole_persons(store)


def _wait_for_records(store: Store, batch: subprocess.Popen[bytes], at_least: int) -> None:
    deadline = time.monotonic() + 300
    while len(store.recorded("autumn")) < at_least:
        if batch.poll() is not None:
            pytest.fail(
                f"the batch ended early: {batch.stderr.read().decode() if batch.stderr else ''}"
            )
        if time.monotonic() > deadline:
            pytest.fail("the batch recorded nobody in 300 s")
        time.sleep(0.01)


class _writers_blocked:
    """Hold the database's write lock (SQLite) or the results table's (PostgreSQL), so
    that the batch is stopped inside a person's transaction when it is killed."""

    def __init__(self, db: str, store: Store) -> None:
        self.db, self.store = db, store

    def __enter__(self) -> None:
        if self.db.startswith("sqlite"):
            self.sqlite = sqlite3.connect(self.db.removeprefix("sqlite:///"), isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
        else:
            self.conn = self.store.engine.connect()
            self.tx = self.conn.begin()
            self.conn.execute(sa.text("LOCK TABLE results IN ACCESS EXCLUSIVE MODE"))

    def __exit__(self, *exc: object) -> None:
        if self.db.startswith("sqlite"):
            self.sqlite.execute("ROLLBACK")
            self.sqlite.close()
        else:
            self.tx.rollback()
            self.conn.close()


def _assert_whole_persons(store: Store) -> None:
    """Every stored person has a diagnosis, and every diagnosis its Result, all of its
    deficits and its route version: nothing half-written."""
    with store.engine.connect() as conn:
        people = {r[0] for r in conn.execute(sa.select(persons.c.id))}
        diagnosed = {r[0] for r in conn.execute(sa.select(diagnoses.c.person_id))}
        assert people == diagnosed
        for d in conn.execute(sa.select(diagnoses.c.id)):
            body = conn.execute(
                sa.select(results.c.result).where(results.c.diagnosis_id == d.id)
            ).scalar_one()
            n = conn.execute(
                sa.select(sa.func.count()).where(deficits.c.diagnosis_id == d.id)
            ).scalar_one()
            assert n == len(body["deficits"])
            routes = conn.execute(
                sa.select(sa.func.count()).where(route_versions.c.diagnosis_id == d.id)
            ).scalar_one()
            assert routes == (1 if body.get("route") else 0)


# --- effectiveness ----------------------------------------------------------------------


def _step(step_id: str, kind: str, ref: str | None, competencies: list[str]) -> dict[str, Any]:
    return {
        "id": step_id,
        "kind": kind,
        "ref": ref,
        "title": f"{kind} {ref}",
        "competencies": competencies,
    }


def _record(
    store: Store,
    person: str,
    found: dict[str, str],
    steps: list[dict[str, Any]] | None,
    run: str | None = None,
    place: tuple[str, str] = ("M1", "O1"),
    date: str | None = None,
) -> None:
    profile: dict[str, Any] = {
        "id": person,
        "person": {
            "role": "teacher",
            "experience_years": 5,
            "municipality": place[0],
            "organization": place[1],
        },
    }
    if date is not None:  # the diagnosis's date is its results' latest
        profile["results"] = [{"competency": "c1", "score": 50, "date": date}]
    body: dict[str, Any] = {
        "profile": person,
        "deficits": [{"competency": c, "severity": s, "score_pct": 40.0} for c, s in found.items()],
    }
    if steps is not None:
        body["route"] = {"steps": steps}
    assert store.record(profile, body, run_id=run, kb_hash="0" * 64)


def _two_runs(store: Store) -> None:
    """A hand-made cohort: four teachers in both runs, one in each run only."""
    store.begin_run("A")
    store.begin_run("B")
    m1o1, m1o2, m2o2 = ("M1", "O1"), ("M1", "O2"), ("M2", "O2")
    _record(
        store,
        "p1",
        {"c1": "high", "c2": "moderate"},
        [_step("s1", "program", "P1", ["c1", "c2"]), _step("s2", "mentoring", "MT1", ["c1"])],
        "A",
        m1o1,
    )
    _record(
        store,
        "p2",
        {"c1": "critical"},
        [_step("s1", "program", "P1", ["c1"]), _step("s2", "format", "F1", ["c1", "c3"])],
        "A",
        m1o1,
    )
    _record(
        store,
        "p3",
        {"c2": "low", "c3": "high"},
        [
            _step("s1", "program", "P1", ["c2"]),
            _step("s2", "format", "F1", ["c3"]),
            _step("s3", "self_education", None, ["c3"]),
        ],
        "A",
        m1o2,
    )
    _record(store, "p4", {"c1": "moderate"}, [_step("s1", "mentoring", "MT1", ["c1"])], "A", m2o2)
    _record(store, "p6", {"c1": "high"}, [_step("s1", "program", "P1", ["c1"])], "A", m2o2)
    for person, step, status in [
        ("p1", "s1", "done"),
        ("p1", "s2", "in_progress"),
        ("p2", "s1", "done"),
        ("p2", "s1", "skipped"),
        ("p2", "s2", "done"),
        ("p3", "s1", "done"),
        ("p3", "s2", "done"),
        ("p3", "s3", "done"),
        ("p6", "s1", "done"),
    ]:
        store.mark(person, StepMark.make(step, status))
    _record(store, "p1", {"c2": "low"}, None, "B", m1o1)
    _record(store, "p2", {"c1": "critical", "c3": "low"}, None, "B", m1o1)
    _record(store, "p3", {}, None, "B", m1o2)
    # p4's step is done, but after the re-diagnosis of 2027-05-15: not done by then
    store.mark("p4", StepMark.make("s1", "done", "2027-06-01"))
    _record(store, "p4", {"c1": "moderate"}, None, "B", m2o2, date="2027-05-15")
    _record(store, "p5", {"c1": "low"}, None, "B", m2o2)


def test_effectiveness_on_a_hand_made_two_run_cohort_matches_a_hand_count(store: Store) -> None:
    _two_runs(store)
    figures = store.effectiveness("A", "B")
    assert figures.persons == 4  # p5 and p6 are in one run only
    # (kind, ref): done targeted, done closed, not done targeted, not done closed
    assert {
        (s.kind, s.ref): (s.done_targeted, s.done_closed, s.other_targeted, s.other_closed)
        for s in figures.steps
    } == {
        ("program", "P1"): (3, 2, 1, 0),  # p1 c1 closed, c2 not; p3 c2 closed; p2 skipped: c1 not
        ("format", "F1"): (2, 1, 0, 0),  # p2 c1 (c3 was no deficit) not; p3 c3 closed
        ("mentoring", "MT1"): (0, 0, 2, 1),  # p1 in progress, closed; p4 done late, not closed
    }
    assert [s.ref for s in figures.steps] == ["P1", "F1", "MT1"]
    program = figures.steps[0]
    assert (program.done_share, program.other_share) == (66.7, 0.0)
    assert figures.steps[1].other_share is None
    # improved: p1 (c1 closed, c2 milder) and p3 (all closed); p2 got c3, p4 unchanged
    assert [(p.by, p.name, p.persons, p.improved) for p in figures.places] == [
        ("municipality", "M1", 3, 2),
        ("municipality", "M2", 1, 0),
        ("organization", "O1", 2, 1),
        ("organization", "O2", 2, 1),
    ]
    with pytest.raises(UsageError, match="no run 'C'"):
        store.effectiveness("A", "C")


def test_report_shows_the_effectiveness_section_from_the_store(
    db: str, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_runs(store)
    out = tmp_path / "run"
    profiles = tmp_path / "cohort.jsonl"
    _cohort(profiles, 3)
    assert main(["batch", str(profiles), "-o", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--effectiveness", "A", "B", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "Закрытие дефицитов при повторной диагностике, «A» → «B»" in text
    assert "Доля педагогов с улучшением" in text
    assert (
        main(["report", str(out), "--format", "json", "--effectiveness", "A", "B", "--db", db]) == 0
    )
    tables = {t["key"]: t for t in json.loads(capsys.readouterr().out)["report"]["tables"]}
    assert tables["effectiveness_steps"]["rows"][0][2:5] == [3, 2, 66.7]
    assert tables["effectiveness_places"]["rows"][0][2:] == [3, 2, 66.7]


# --- the commands ------------------------------------------------------------------------


def test_db_upgrade_batch_db_and_mark_from_the_command_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = _cohort(tmp_path / "cohort.jsonl", 4)
    batch = ["batch", str(tmp_path / "cohort.jsonl"), "--db", db, "--run-id", "r1", "--quiet"]
    assert main([*batch, "-o", str(tmp_path / "o1")]) == 2  # no schema yet
    assert "run 'deficit-engine db upgrade' first" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", db]) == 0
    assert main([*batch, "-o", str(tmp_path / "o1")]) == 0
    assert "run r1: 4 person(s) recorded" in capsys.readouterr().out
    assert main([*batch, "-o", str(tmp_path / "o2")]) == 0
    captured = capsys.readouterr()
    assert "run r1: 0 person(s) recorded" in captured.out
    assert "continuing, 4 person(s) already recorded" in captured.err
    person = profiles[0]["id"]
    assert (
        main(
            [
                "mark",
                person,
                "s1",
                "done",
                "--evidence",
                "удостоверение 7",
                "--date",
                "2026-12-01",
                "--db",
                db,
            ]
        )
        == 0
    )
    assert main(["mark", person, "s1", "done", "--date", "1 декабря", "--db", db]) == 2
    assert "mark: date:" in capsys.readouterr().err
    assert main(["db", "runs", "--db", db]) == 0
    assert "r1" in capsys.readouterr().out
    store = Store.open(db)
    assert store.marks(person) == [StepMark("s1", "done", "2026-12-01", "удостоверение 7")]
    assert main(["progress", person, "--db", db]) == 2  # one diagnosis only
    assert "1 stored diagnosis" in capsys.readouterr().err
    batch2 = [*batch[:-3], "--run-id", "r2", "--quiet", "-o", str(tmp_path / "o3")]
    assert main(batch2) == 0
    capsys.readouterr()
    assert main(["progress", person, "--db", db, "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["person"] == person
    step = next(s for s in found["steps"] if s["step"] == "s1")
    assert (step["status"], step["evidence"]) == ("done", "удостоверение 7")


def test_db_names_a_file_a_url_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert database_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    assert database_url("postgresql://u@h/d").startswith("postgresql+psycopg://u@h/d")
    monkeypatch.setenv("DEFICIT_ENGINE_DB", str(tmp_path / "env.db"))
    assert database_url(None) == f"sqlite:///{tmp_path / 'env.db'}"
    with pytest.raises(UsageError, match="not a database URL"):
        database_url("nonsense://::::/")


def test_the_shipped_migrations_build_exactly_the_tables_the_code_uses(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from deficit_engine.store.tables import metadata

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_a_database_that_fails_is_one_line_naming_it_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "runs", "--db", "postgresql://nobody:secret@127.0.0.1:1/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nobody:***@127.0.0.1:1/x" in err and "secret" not in err
    assert main(["db", "upgrade", "--db", str(tmp_path / "missing" / "x.db")]) == 2
    assert "unable to open database file" in capsys.readouterr().err


def test_a_stored_route_reads_back_equal_to_the_route_written(engine: Engine) -> None:
    from deficit_engine.store.restore import route_from_json

    for profile in synthetic_profiles(engine.kb, 15, seed=9):
        route = engine.evaluate(profile).route
        assert route is not None
        assert route_from_json(json.loads(json.dumps(route.to_dict()))) == route
