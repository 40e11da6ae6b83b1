"""The store: :class:`Store`, over an integrator's SQLAlchemy engine or a URL.

Every write of one person is one transaction (their person row, diagnosis,
Result, deficits and route version go in together or not at all), and a
diagnosis is unique per (run, person), so recording a run again with the same
run id adds nothing twice. Names never reach the store: a profile is kept
without ``person.name``, and a person is their pseudonymous id.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ..cohort import person_keys
from ..errors import DeficitEngineError, UsageError
from ..models import Result
from ..models.marks import StepMark
from .analytics import Effectiveness, Stored, effectiveness
from .connect import make_engine
from .migrate import current_revision, head_revision, upgrade
from .tables import deficits, diagnoses, persons, results, route_versions, runs, step_marks

__all__ = ["Diagnosis", "RunInfo", "Store", "StoreError"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class StoreError(DeficitEngineError):
    """The database failed under a store operation (unreachable, full, locked too long).

    Its message is one line naming the database (never its password) and the
    driver's reason; the command prints it and exits 2.
    """


def _reported(method: Callable[_P, _T]) -> Callable[_P, _T]:
    """A store method whose database failures are one :class:`StoreError` line, not
    SQLAlchemy's text (which quotes the SQL and its values)."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(*args, **kwargs)
        except DBAPIError as exc:
            store = args[0]
            assert isinstance(store, Store)
            raise StoreError(f"database {store.shown}: {_first_line(exc.orig)}") from None

    return wrapper


@dataclass(frozen=True)
class Diagnosis:
    """One stored diagnosis of a person, with its Result and route version.

    Attributes
    ----------
    id : int
        Its row id.
    person : str
        The person's pseudonymous id.
    run : str or None
        The cohort run that recorded it.
    diagnosed_on : str or None
        The latest date among its results, ISO, when they carry dates.
    profile : dict
        The profile, without the person's name.
    provenance : list of dict
        Per result: what it measured, the instrument, the date, and what else it said.
    result : dict
        The Result's JSON.
    kb_hash : str
        The content hash of the KB that produced the Result.
    route_version : int or None
        The person's route version this Result planned, if it planned one.
    """

    id: int
    person: str
    run: str | None
    diagnosed_on: str | None
    profile: dict[str, Any]
    provenance: list[dict[str, Any]]
    result: dict[str, Any]
    kb_hash: str
    route_version: int | None


@dataclass(frozen=True)
class RunInfo:
    """A cohort run as stored: its id, when, its KB and its counts (None until finished)."""

    id: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    source: str | None
    kb_hash: str | None
    profiles: int | None
    evaluated: int | None
    set_aside: int | None
    recorded: int


class Store:
    """Persons, diagnoses, Results, route versions, step marks and cohort runs in a database.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database: the integrator's own engine, or one made by :meth:`open`.

    Notes
    -----
    Every method that reads or writes raises :class:`StoreError` when the database
    fails (unreachable, a disk full, a lock held too long), as one line.

    Examples
    --------
    >>> store = Store.open("sqlite:///:memory:")
    >>> store.upgrade()
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, db: str | None = None) -> Store:
        """A store on the database named by a URL, an SQLite path or ``DEFICIT_ENGINE_DB``.

        Parameters
        ----------
        db : str, optional
            A SQLAlchemy URL or an SQLite file path; the environment variable, then
            ``deficit-engine.db`` here, when None.

        Returns
        -------
        Store
            Over a new engine (the schema is not touched: see :meth:`upgrade`).

        Raises
        ------
        UsageError
            If the URL cannot be read or names a database with no driver.
        """
        return cls(make_engine(db))

    @_reported
    def upgrade(self) -> str | None:
        """Create or update the schema with the shipped migrations.

        Returns
        -------
        str or None
            The revision the database is at afterwards.
        """
        upgrade(self.engine)
        return current_revision(self.engine)

    def require_current(self) -> None:
        """Check that the schema is at the shipped migrations' newest revision.

        Raises
        ------
        UsageError
            If it is not (or the database cannot be reached), naming the command that
            updates it.
        """
        try:
            current = current_revision(self.engine)
        except OperationalError as exc:
            raise StoreError(f"database {self.shown}: {_first_line(exc.orig)}") from None
        if current != head_revision():
            at = "has no store" if current is None else f"is at revision {current}"
            raise UsageError(f"database {self.shown} {at}: run 'deficit-engine db upgrade' first")

    # --- runs -------------------------------------------------------------------------

    @_reported
    def begin_run(
        self,
        run_id: str,
        *,
        source: str | None = None,
        kb_hash: str | None = None,
        kb_version: str | None = None,
    ) -> bool:
        """Open a cohort run, or find the one with this id (a rerun goes on with it).

        Parameters
        ----------
        run_id : str
            The run's id; not empty.
        source : str, optional
            The cohort file's name.
        kb_hash, kb_version : str, optional
            The KB the run uses.

        Returns
        -------
        bool
            True when the run is new, False when it was there already.

        Raises
        ------
        UsageError
            If ``run_id`` is empty or longer than 200 characters.
        """
        _check_id("run id", run_id)
        with self.engine.begin() as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first():
                return False
            conn.execute(
                insert(runs).values(
                    id=run_id,
                    started_at=_now(),
                    source=source,
                    kb_hash=kb_hash,
                    kb_version=kb_version,
                )
            )
        return True

    @_reported
    def finish_run(self, run_id: str, *, profiles: int, evaluated: int, set_aside: int) -> None:
        """Record that a run went through its whole cohort, with its counts.

        Parameters
        ----------
        run_id : str
            The run.
        profiles, evaluated, set_aside : int
            The batch's counts.
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    finished_at=_now(), profiles=profiles, evaluated=evaluated, set_aside=set_aside
                )
            )

    @_reported
    def runs(self) -> list[RunInfo]:
        """The stored runs, oldest first, each with the number of diagnoses it recorded.

        Returns
        -------
        list of RunInfo
        """
        recorded = (
            select(diagnoses.c.run_id, func.count().label("n"))
            .group_by(diagnoses.c.run_id)
            .subquery()
        )
        query = (
            select(runs, func.coalesce(recorded.c.n, 0))
            .outerjoin(recorded, recorded.c.run_id == runs.c.id)
            .order_by(runs.c.started_at, runs.c.id)
        )
        with self.engine.connect() as conn:
            return [
                RunInfo(
                    r.id,
                    r.started_at,
                    r.finished_at,
                    r.source,
                    r.kb_hash,
                    r.profiles,
                    r.evaluated,
                    r.set_aside,
                    int(r[-1]),
                )
                for r in conn.execute(query)
            ]

    @_reported
    def recorded(self, run_id: str) -> set[str]:
        """The persons a run has recorded so far.

        Parameters
        ----------
        run_id : str
            The run.

        Returns
        -------
        set of str
            Their ids.
        """
        query = select(diagnoses.c.person_id).where(diagnoses.c.run_id == run_id)
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    @_reported
    def person_ids(self) -> list[str]:
        """The pseudonymous ids of every stored person, sorted.

        Returns
        -------
        list of str
            Their ids.
        """
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(select(persons.c.id).order_by(persons.c.id))]

    # --- one person's diagnosis ----------------------------------------------------------

    @_reported
    def record(
        self,
        profile: Mapping[str, Any] | Any,
        result: Result | Mapping[str, Any],
        *,
        run_id: str | None = None,
        kb_hash: str | None = None,
        kb_version: str | None = None,
    ) -> bool:
        """Store one person's diagnosis, Result, deficits and route, in one transaction.

        Parameters
        ----------
        profile : dict or schema.Profile
            The profile the Result was computed from; its ``person.name`` is not kept.
        result : Result or dict
            The Result (or its JSON), for the same person.
        run_id : str, optional
            The cohort run this belongs to (opened with :meth:`begin_run`); with one,
            recording the same person again adds nothing.
        kb_hash, kb_version : str, optional
            The KB that produced the Result, for a Result that does not carry its own
            ``kb_hash`` and ``kb_version`` (those win when it does).

        Returns
        -------
        bool
            True when it was stored, False when the run already had this person.

        Raises
        ------
        UsageError
            If the profile and the Result are of different persons, the Result could
            not be evaluated, or no KB hash is known.
        """
        data = _profile_dict(profile)
        body = result.to_dict(trace=True) if isinstance(result, Result) else dict(result)
        person = str(data.get("id") or "")
        _check_id("profile id", person)
        if body.get("profile") != person:
            raise UsageError(f"record: the Result is of {body.get('profile')!r}, not {person!r}")
        if body.get("errors"):
            raise UsageError(f"record: {person!r}: a Result that could not be evaluated")
        # the Result's own hash names the KB that produced it; the argument is for a
        # Result made before Results carried one
        kb_hash = body.get("kb_hash") or kb_hash
        if not kb_hash:
            raise UsageError("record: kb_hash: the Result carries none; pass the KB's hash")
        kb_version = body.get("kb_version") or kb_version
        try:
            with self.engine.begin() as conn:
                if run_id is not None and _has(conn, run_id, person):
                    return False
                _write_person(conn, person, data, body, run_id, kb_hash, kb_version)
        except IntegrityError:
            # another writer recorded this person of this run first (the unique pair)
            if run_id is not None and person in self.recorded(run_id):
                return False
            raise
        return True

    @_reported
    def history(self, person: str) -> list[Diagnosis]:
        """A person's stored diagnoses, oldest first.

        Parameters
        ----------
        person : str
            The pseudonymous id.

        Returns
        -------
        list of Diagnosis
            Empty when the store does not know the person.
        """
        query = (
            select(
                diagnoses,
                results.c.result,
                results.c.kb_hash,
                route_versions.c.version,
            )
            .join(results, results.c.diagnosis_id == diagnoses.c.id)
            .outerjoin(route_versions, route_versions.c.diagnosis_id == diagnoses.c.id)
            .where(diagnoses.c.person_id == person)
            .order_by(diagnoses.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Diagnosis(
                    r.id,
                    r.person_id,
                    r.run_id,
                    r.diagnosed_on,
                    r.profile,
                    r.provenance,
                    r.result,
                    r.kb_hash,
                    r.version,
                )
                for r in conn.execute(query)
            ]

    # --- marks --------------------------------------------------------------------------

    @_reported
    def mark(self, person: str, mark: StepMark) -> int:
        """Record a tutor's mark on a step of the person's newest route version.

        Marks are kept as written, one row each: the newest mark of a step is its state.

        Parameters
        ----------
        person : str
            The pseudonymous id.
        mark : StepMark
            The step, its state, date and evidence.

        Returns
        -------
        int
            The route version the mark refers to.

        Raises
        ------
        UsageError
            If the store has no route for the person, or the route has no such step.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                select(route_versions.c.id, route_versions.c.version, route_versions.c.route)
                .where(route_versions.c.person_id == person)
                .order_by(route_versions.c.version.desc())
                .limit(1)
            ).first()
            if row is None:
                raise UsageError(f"mark: {person!r}: no stored route for this person")
            steps = [str(s.get("id")) for s in row.route.get("steps", [])]
            if mark.step not in steps:
                raise UsageError(
                    f"mark: {person!r}: route version {row.version} has no step {mark.step!r}"
                    f" (its steps: {', '.join(steps) or 'none'})"
                )
            conn.execute(
                insert(step_marks).values(
                    person_id=person,
                    route_version_id=row.id,
                    step=mark.step,
                    status=mark.status,
                    date=mark.date,
                    evidence=mark.evidence,
                    recorded_at=_now(),
                )
            )
            return int(row.version)

    @_reported
    def marks(self, person: str, version: int | None = None) -> list[StepMark]:
        """The state of each marked step of a route version: its newest mark.

        Parameters
        ----------
        person : str
            The pseudonymous id.
        version : int, optional
            The route version; the newest by default.

        Returns
        -------
        list of StepMark
            One per marked step, in the order the steps were first marked.
        """
        with self.engine.connect() as conn:
            chosen = _route_version_id(conn, person, version)
            if chosen is None:
                return []
            rows = conn.execute(
                select(step_marks)
                .where(step_marks.c.route_version_id == chosen)
                .order_by(step_marks.c.id)
            )
            newest: dict[str, StepMark] = {}
            for r in rows:
                newest[r.step] = StepMark(r.step, r.status, r.date, r.evidence)
        return list(newest.values())

    # --- analytics ----------------------------------------------------------------------

    @_reported
    def effectiveness(self, earlier: str, later: str) -> Effectiveness:
        """What the routes of ``earlier`` achieved by the re-diagnosis of ``later``.

        Parameters
        ----------
        earlier, later : str
            Two run ids of the same cohort, the first diagnosis and the re-diagnosis.

        Returns
        -------
        Effectiveness
            Per programme, format and mentor: targeted deficits closed among those who
            completed the step against those who did not; per municipality and
            organisation: the teachers who improved. See docs/store.md.

        Raises
        ------
        UsageError
            If either run is not in the store, or they are the same run.
        """
        if earlier == later:
            raise UsageError("effectiveness: the earlier and the later run are the same run")
        with self.engine.connect() as conn:
            for run_id in (earlier, later):
                if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                    raise UsageError(f"effectiveness: no run {run_id!r} in the store")
            first = dict(_stored(conn, earlier))
            second = dict(_stored(conn, later))
        return effectiveness(earlier, later, first, second)

    @property
    def shown(self) -> str:
        """The database's URL without its password, as messages name it."""
        return self.engine.url.render_as_string(hide_password=True)


# --- writing one person -------------------------------------------------------------------


def _write_person(
    conn: Connection,
    person: str,
    profile: dict[str, Any],
    body: dict[str, Any],
    run_id: str | None,
    kb_hash: str,
    kb_version: str | None,
) -> None:
    """Every row of one person's diagnosis, on one transaction's connection."""
    _upsert_person(conn, person, profile)
    provenance = _provenance(profile)
    inserted = conn.execute(
        insert(diagnoses).values(
            person_id=person,
            run_id=run_id,
            diagnosed_on=_latest_date(provenance),
            profile=profile,
            provenance=provenance,
            recorded_at=_now(),
        )
    ).inserted_primary_key
    assert inserted is not None  # a single-row insert always has its key
    diagnosis = inserted[0]
    conn.execute(
        insert(results).values(
            diagnosis_id=diagnosis, kb_hash=kb_hash, kb_version=kb_version, result=body
        )
    )
    found = [
        {
            "diagnosis_id": diagnosis,
            "competency": d["competency"],
            "severity": d["severity"],
            "score_pct": d.get("score_pct"),
        }
        for d in body.get("deficits", [])
    ]
    if found:
        conn.execute(insert(deficits), found)
    if body.get("route") is not None:
        version = conn.execute(
            select(func.coalesce(func.max(route_versions.c.version), 0)).where(
                route_versions.c.person_id == person
            )
        ).scalar_one()
        conn.execute(
            insert(route_versions).values(
                person_id=person,
                diagnosis_id=diagnosis,
                version=int(version) + 1,
                route=body["route"],
                created_at=_now(),
            )
        )


def _upsert_person(conn: Connection, person: str, profile: dict[str, Any]) -> None:
    """The person's row with the attributes of this profile (the newest ones win)."""
    keys = person_keys(profile)
    values = {
        "municipality": keys.municipality,
        "organization": keys.organization,
        "role": keys.role,
        "experience_years": keys.experience_years,
        "updated_at": _now(),
    }
    if conn.execute(select(persons.c.id).where(persons.c.id == person)).first() is None:
        conn.execute(insert(persons).values(id=person, **values))
    else:
        conn.execute(update(persons).where(persons.c.id == person).values(**values))


def _has(conn: Connection, run_id: str, person: str) -> bool:
    query = select(diagnoses.c.id).where(
        diagnoses.c.run_id == run_id, diagnoses.c.person_id == person
    )
    return conn.execute(query).first() is not None


def _profile_dict(profile: Mapping[str, Any] | Any) -> dict[str, Any]:
    """The profile as JSON, without the person's name (names never reach the store)."""
    if hasattr(profile, "model_dump"):
        data: dict[str, Any] = profile.model_dump(mode="json", exclude_none=True)
    elif isinstance(profile, Mapping):
        data = dict(profile)
    else:
        raise UsageError(f"record: profile: a dict or a Profile, not {type(profile).__name__}")
    person = data.get("person")
    if isinstance(person, Mapping):
        data["person"] = {k: v for k, v in person.items() if k != "name"}
    return data


#: What a result says besides its score: where it came from (issue 14, provenance).
_SCORE_FIELDS = frozenset({"score", "max"})


def _provenance(profile: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per result of the profile, everything but the score: what, instrument, date..."""
    found = profile.get("results")
    if not isinstance(found, Sequence):
        return []
    return [
        {k: v for k, v in r.items() if k not in _SCORE_FIELDS}
        for r in found
        if isinstance(r, Mapping)
    ]


def _latest_date(provenance: Sequence[Mapping[str, Any]]) -> str | None:
    """The latest ISO date among the results (dates that are not ISO are left out)."""
    dates = []
    for entry in provenance:
        text = str(entry.get("date") or "")[:10]
        try:
            dates.append(datetime.date.fromisoformat(text).isoformat())
        except ValueError:
            continue
    return max(dates, default=None)


def _route_version_id(conn: Connection, person: str, version: int | None) -> int | None:
    query = select(route_versions.c.id).where(route_versions.c.person_id == person)
    if version is not None:
        query = query.where(route_versions.c.version == version)
    row = conn.execute(query.order_by(route_versions.c.version.desc()).limit(1)).first()
    return None if row is None else int(row[0])


def _stored(conn: Connection, run_id: str) -> Iterator[tuple[str, Stored]]:
    """Each person of a run: attributes, deficits, route and the marks on that route."""
    rows = conn.execute(
        select(
            diagnoses.c.id,
            diagnoses.c.person_id,
            diagnoses.c.diagnosed_on,
            persons.c.municipality,
            persons.c.organization,
            route_versions.c.id.label("route_id"),
            route_versions.c.route,
        )
        .join(persons, persons.c.id == diagnoses.c.person_id)
        .outerjoin(route_versions, route_versions.c.diagnosis_id == diagnoses.c.id)
        .where(diagnoses.c.run_id == run_id)
    ).all()
    found: dict[int, dict[str, str]] = {r.id: {} for r in rows}
    for d in conn.execute(
        select(deficits.c.diagnosis_id, deficits.c.competency, deficits.c.severity)
        .join(diagnoses, diagnoses.c.id == deficits.c.diagnosis_id)
        .where(diagnoses.c.run_id == run_id)
    ):
        found[d.diagnosis_id][d.competency] = d.severity
    done = _done_steps(conn, [r.route_id for r in rows if r.route_id is not None])
    for r in rows:
        steps = r.route.get("steps", []) if r.route is not None else []
        yield (
            r.person_id,
            Stored(
                r.municipality,
                r.organization,
                found[r.id],
                tuple(steps),
                done.get(r.route_id, {}),
                r.diagnosed_on,
            ),
        )


def _done_steps(conn: Connection, route_ids: list[int]) -> dict[int, dict[str, str | None]]:
    """Route version -> its steps whose newest mark is ``done``, with that mark's date."""
    newest: dict[tuple[int, str], tuple[str, str | None]] = {}
    if route_ids:
        rows = conn.execute(
            select(
                step_marks.c.route_version_id,
                step_marks.c.step,
                step_marks.c.status,
                step_marks.c.date,
            )
            .where(step_marks.c.route_version_id.in_(route_ids))
            .order_by(step_marks.c.id)
        )
        for r in rows:
            newest[(r.route_version_id, r.step)] = (r.status, r.date)
    done: dict[int, dict[str, str | None]] = {}
    for (route, step), (status, date) in newest.items():
        if status == "done":
            done.setdefault(route, {})[step] = date
    return done


def _check_id(what: str, value: str) -> None:
    if not value or len(value) > 200:
        raise UsageError(f"{what}: 1 to 200 characters, not {len(value)}")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__
