"""Cohorts: read profiles from CSV, JSONL or XLSX, run them, write results and analytics.

``run_batch`` streams the input through ``Engine.evaluate_many`` (bounded
memory), sets bad rows aside with their reasons, aggregates cohort analytics as
it goes, and publishes the output folder whole or not at all.

The input formats (CSV, JSONL, XLSX: the columns, encodings, delimiters and
how cells are read) are described in :mod:`deficit_engine.tables`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .engine import Diagnosed, Engine, evaluate_many
from .errors import Issue, SourceError
from .kb import KnowledgeBase
from .models import Result, Route, json_number
from .months import month_range
from .planner import plan_cohort
from .planner.plan import COLLEAGUE_PREFIX
from .route import build_route, with_plan
from .tables import read_profiles

__all__ = [
    "EXPERIENCE_BANDS",
    "BatchSummary",
    "Digest",
    "PersonKeys",
    "digest",
    "experience_band",
    "person_keys",
    "read_profiles",
    "run_batch",
]

#: Experience bands of the report, in years: (label, from, to). A band takes its
#: lower bound and not its upper one, so 3 years is in «3–10» and 20 in «20+».
EXPERIENCE_BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("0–3", 0, 3),
    ("3–10", 3, 10),
    ("10–20", 10, 20),
    ("20+", 20, None),
)
#: What the breakdowns file a person under when the profile does not say.
UNKNOWN = "—"
#: Severities from the most severe (the order of the schema's Severity).
SEVERITY_ORDER: tuple[str, ...] = ("critical", "high", "moderate", "low")


@dataclass(frozen=True)
class Digest:
    """What a batch keeps of one Result: its JSON line and the figures the summary
    counts. Made in the worker, so only this small value crosses processes."""

    ok: bool
    profile: str
    errors: tuple[str, ...]
    line: str  # the Result as one JSON line ("" when it could not be evaluated)
    deficits: tuple[tuple[str, str, str | None], ...]  # competency, severity, group
    recommendations: tuple[tuple[str, str, int], ...]  # kind, id, hours
    # kind, competency, cause, and with cause "capacity" the ids whose places ran out
    unmet: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    overflow: bool
    # why the route overflows its period ("hours" or "calendar", see _overflow_reason),
    # the kinds of the steps that spill over, and whether the period or the hours a
    # month were defaulted (the profile did not give them)
    overflow_reason: str = ""
    overflow_kinds: tuple[str, ...] = ()
    overflow_defaulted: bool = False


def digest(result: Result, trace: bool = False) -> Digest:
    """The batch's view of one Result (a module-level function: it runs in workers).

    Parameters
    ----------
    result : Result
        One person's Result.
    trace : bool
        Keep the trace in the JSON line.

    Returns
    -------
    Digest
        The JSON line and the figures the summary counts.
    """
    if not result.ok:
        return Digest(False, result.profile, result.errors, "", (), (), (), False)
    route = result.route
    spill = route.overflow if route is not None else None
    return Digest(
        True,
        result.profile,
        (),
        json.dumps(result.to_dict(trace=trace), ensure_ascii=False),
        tuple((d.competency, d.severity, d.group) for d in result.deficits),
        tuple(
            (r.kind, r.id, int(json_number(r.get("hours") or 0))) for r in result.recommendations
        ),
        tuple(
            (
                u.kind,
                u.competency or "—",
                getattr(u, "cause", "unaddressed"),
                tuple(getattr(u, "exhausted", ())),
            )
            for u in result.unmet
        ),
        spill is not None,
        _overflow_reason(route) if route is not None and spill is not None else "",
        _spilled_kinds(route) if route is not None and spill is not None else (),
        route is not None and spill is not None and bool(route.defaults),
    )


def _overflow_reason(route: Route) -> str:
    """Why a route runs past its period: ``hours`` when its steps need more hours
    than the period's months at the monthly budget give, else ``calendar`` (the
    hours would fit, but programme groups' start months or the steps' order push
    the last step past the end)."""
    budget = len(month_range(*route.period)) * route.hours_per_month
    needed = sum(step.hours for step in route.steps)
    return "hours" if needed > budget + 1e-9 else "calendar"


def _spilled_kinds(route: Route) -> tuple[str, ...]:
    """The kinds (program, mentor, format...) of the steps that end after the period, once each."""
    late = set(route.overflow.steps) if route.overflow is not None else set()
    return tuple(sorted({step.kind for step in route.steps if step.id in late}))


@dataclass(frozen=True)
class PersonKeys:
    """What the report breaks a cohort down by: one person's place, role and experience
    (never their name)."""

    municipality: str | None = None
    organization: str | None = None
    role: str | None = None
    experience_years: float | None = None


def person_keys(profile: Any) -> PersonKeys:
    """The breakdown keys of a profile as the batch read it (a dict; anything else
    has none: a row set aside still counts as read).

    Parameters
    ----------
    profile : Any
        A profile dict, or whatever the reader gave for a bad row.

    Returns
    -------
    PersonKeys
        Its municipality, organisation, role and years of experience, where given.
    """
    person = profile.get("person") if isinstance(profile, dict) else None
    if not isinstance(person, dict):
        return PersonKeys()

    def text(key: str) -> str | None:
        value = person.get(key)
        return value.strip() or None if isinstance(value, str) else None

    years = person.get("experience_years")
    number = isinstance(years, int | float) and not isinstance(years, bool)
    return PersonKeys(
        text("municipality"),
        text("organization"),
        text("role"),
        float(years) if isinstance(years, int | float) and number else None,
    )


def experience_band(years: float | None) -> str:
    """The experience band (:data:`EXPERIENCE_BANDS`) of ``years``: the lower bound is in it.

    Parameters
    ----------
    years : float or None
        Years of experience.

    Returns
    -------
    str
        The band's label, or ``—`` when not known.
    """
    if years is None:
        return UNKNOWN
    for label, low, high in EXPERIENCE_BANDS:
        if years >= low and (high is None or years < high):
            return label
    return UNKNOWN  # negative: the profile check rejects it before this


@dataclass
class Breakdown:
    """Prevalence by one dimension (municipality, organisation, role, experience band):
    people assessed, people with any deficit, and people with a deficit in each group
    and (when ``competencies``) each competency. Bounded by the dimension's values."""

    competencies_too: bool = False
    people: Counter[str] = field(default_factory=Counter)
    with_deficit: Counter[str] = field(default_factory=Counter)
    groups: Counter[tuple[str, str]] = field(default_factory=Counter)
    competencies: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, key: str, groups: set[str], competencies: set[str]) -> None:
        self.people[key] += 1
        if competencies:
            self.with_deficit[key] += 1
        self.groups.update((key, g) for g in groups)
        if self.competencies_too:
            self.competencies.update((key, c) for c in competencies)

    def to_dict(self) -> list[dict[str, Any]]:
        """One entry per value, most people first, ties by value."""
        groups: dict[str, dict[str, int]] = {}
        for (key, group), n in sorted(self.groups.items()):
            groups.setdefault(key, {})[group] = n
        comps: dict[str, dict[str, int]] = {}
        for (key, comp), n in sorted(self.competencies.items()):
            comps.setdefault(key, {})[comp] = n
        out = []
        for key, people in sorted(self.people.items(), key=lambda kv: (-kv[1], kv[0])):
            entry: dict[str, Any] = {
                "key": key,
                "people": people,
                "with_deficit": self.with_deficit[key],
                "groups": groups.get(key, {}),
            }
            if self.competencies_too:
                entry["competencies"] = comps.get(key, {})
            out.append(entry)
        return out


def _breakdowns() -> dict[str, Breakdown]:
    return {
        "municipality": Breakdown(competencies_too=True),
        "organization": Breakdown(),
        "role": Breakdown(),
        "experience": Breakdown(),
    }


@dataclass
class BatchSummary:
    """Cohort analytics, aggregated while the batch runs."""

    profiles: int = 0
    evaluated: int = 0
    set_aside: int = 0
    deficits: Counter[str] = field(default_factory=Counter)  # competency
    severities: Counter[str] = field(default_factory=Counter)  # "competency severity"
    groups: Counter[str] = field(default_factory=Counter)  # people with a deficit in the group
    municipalities: Counter[str] = field(default_factory=Counter)  # people with any deficit
    people_by_municipality: Counter[str] = field(default_factory=Counter)
    programmes: Counter[str] = field(default_factory=Counter)
    programme_hours: Counter[str] = field(default_factory=Counter)
    mentors: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    unmet: Counter[str] = field(default_factory=Counter)  # "kind competency"
    unmet_causes: Counter[str] = field(default_factory=Counter)  # "kind cause"
    # (kind, cause, competency) -> needs: demand over supply and the request for new ДПП
    unmet_by_cause: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # (kind, item id) -> needs left unmet because that item's places ran out, and people
    shortfall_needs: Counter[tuple[str, str]] = field(default_factory=Counter)
    shortfall_people: Counter[tuple[str, str]] = field(default_factory=Counter)
    overflow: int = 0
    overflow_reasons: Counter[str] = field(default_factory=Counter)
    overflow_kinds: Counter[str] = field(default_factory=Counter)  # routes a step kind spills
    overflow_defaulted: int = 0  # overflowing routes whose period or hours were defaulted
    with_deficit: int = 0  # people with any deficit
    worst_severity: Counter[str] = field(default_factory=Counter)  # people by most severe
    breakdowns: dict[str, Breakdown] = field(default_factory=_breakdowns)
    school_mentors: Counter[str] = field(default_factory=Counter)  # schools given each mentor
    plan: dict[str, Any] | None = None  # the cohort plan's figures (without its time)
    allocation_seconds: float | None = None  # not in summary.json: it would differ run to run

    def add(self, item: Digest, person: PersonKeys | str | None) -> None:
        """Count one person's Digest.

        Parameters
        ----------
        item : Digest
            The person's figures.
        person : PersonKeys or str or None
            What the breakdowns file them under (a str: the municipality alone).
        """
        self.profiles += 1
        if not item.ok:
            self.set_aside += 1
            return
        self.evaluated += 1
        keys = person if isinstance(person, PersonKeys) else PersonKeys(municipality=person)
        place = keys.municipality or UNKNOWN
        self.people_by_municipality[place] += 1
        groups = {group for _c, _s, group in item.deficits if group}
        competencies = {competency for competency, _s, _g in item.deficits}
        if item.deficits:
            self.municipalities[place] += 1
            self.with_deficit += 1
            severities = {severity for _c, severity, _g in item.deficits}
            self.worst_severity[min(severities, key=_severity_rank)] += 1
        for name, key in (
            ("municipality", place),
            ("organization", keys.organization or UNKNOWN),
            ("role", keys.role or UNKNOWN),
            ("experience", experience_band(keys.experience_years)),
        ):
            self.breakdowns[name].add(key, groups, competencies)
        for group in groups:
            self.groups[group] += 1
        for competency, severity, _group in item.deficits:
            self.deficits[competency] += 1
            self.severities[f"{competency} {severity}"] += 1
        for kind, ref, hours in item.recommendations:
            if kind == "program":
                self.programmes[ref] += 1
                self.programme_hours[ref] += hours
            elif kind == "mentor":
                self.mentors[ref] += 1
            elif kind == "format":
                self.formats[ref] += 1
        short: set[tuple[str, str]] = set()
        for kind, competency, cause, exhausted in item.unmet:
            self.unmet[f"{kind} {competency}"] += 1
            self.unmet_causes[f"{kind} {cause}"] += 1
            self.unmet_by_cause[(kind, cause, competency)] += 1
            # a need that any of several full items could have served counts for each
            for ref in exhausted:
                self.shortfall_needs[(kind, ref)] += 1
                short.add((kind, ref))
        self.shortfall_people.update(short)
        if item.overflow:
            self.overflow += 1
            self.overflow_reasons[item.overflow_reason or "unknown"] += 1
            self.overflow_kinds.update(item.overflow_kinds)
            self.overflow_defaulted += item.overflow_defaulted

    def to_dict(self, engine: Engine) -> dict[str, Any]:
        """The analytics as summary.json holds them.

        Parameters
        ----------
        engine : Engine
            The engine whose KB gives the mentors' capacity and the programmes' places.

        Returns
        -------
        dict
            JSON-ready; rankings most frequent first, ties by id.
        """
        kb = engine.kb
        mentors = []
        load = self.mentors + self.school_mentors
        for mid, total in sorted(load.items(), key=lambda kv: (-kv[1], kv[0])):
            capacity = _places(kb, "mentor", mid) or 0
            mentors.append(
                {
                    "id": mid,
                    "recommended": self.mentors[mid],
                    "schools": self.school_mentors[mid],
                    "capacity": capacity,
                    "over_capacity": max(0, total - capacity),
                    "municipality": kb.mentors[mid].municipality if mid in kb.mentors else None,
                }
            )

        def ranked(counter: Counter[str]) -> list[list[Any]]:
            return [[k, v] for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]

        return {
            "profiles": self.profiles,
            "evaluated": self.evaluated,
            "set_aside": self.set_aside,
            "routes_over_period": self.overflow,
            "deficit_prevalence": ranked(self.deficits),
            "deficit_severity": ranked(self.severities),
            "groups_people": ranked(self.groups),
            "municipalities": [
                [m, self.people_by_municipality[m], self.municipalities[m]]
                for m in sorted(self.people_by_municipality)
            ],
            "programme_demand": [
                [p, n, self.programme_hours[p]] for p, n in ranked(self.programmes)
            ],
            "mentor_load": mentors,
            "format_demand": ranked(self.formats),
            "unmet": ranked(self.unmet),
            "unmet_causes": ranked(self.unmet_causes),
            "unmet_by_cause": [
                [*key, n]
                for key, n in sorted(self.unmet_by_cause.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "capacity_shortfalls": self._shortfalls(engine),
            "with_deficit": self.with_deficit,
            "severity_people": ranked(self.worst_severity),
            "breakdowns": {name: b.to_dict() for name, b in self.breakdowns.items()},
            "overflow_reasons": ranked(self.overflow_reasons),
            "overflow_step_kinds": ranked(self.overflow_kinds),
            "overflow_defaulted": self.overflow_defaulted,
            "allocated": self.plan is not None,
            **(
                {"plan": {k: v for k, v in self.plan.items() if k != "seconds"}}
                if self.plan
                else {}
            ),
        }

    def _shortfalls(self, engine: Engine) -> list[dict[str, Any]]:
        """Per mentor or programme whose places ran out: its places, how many it was
        given and how many needs (and people) it left unmet; most needs first."""
        out = []
        for (kind, ref), needs in sorted(
            self.shortfall_needs.items(), key=lambda kv: (-kv[1], kv[0])
        ):
            taken = self.mentors[ref] if kind == "mentor" else self.programmes[ref]
            out.append(
                {
                    "kind": kind,
                    "id": ref,
                    "places": _places(engine.kb, kind, ref),
                    "taken": taken,
                    "needs": needs,
                    "people": self.shortfall_people[(kind, ref)],
                }
            )
        return out


def _severity_rank(severity: str) -> int:
    """Most severe first; a severity the schema does not know sorts last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _places(kb: KnowledgeBase, kind: str, ref: str) -> int | None:
    """A mentor's capacity (a colleague of the cohort's: ``planning.colleague_load``),
    or a programme's seats for the period (its groups' seats summed); None when the
    KB sets no limit or does not know the id."""
    if kind == "mentor":
        mentor = kb.mentors.get(ref)
        if mentor is None and ref.startswith(COLLEAGUE_PREFIX):
            return kb.planning.planning.colleague_load
        return None if mentor is None else mentor.capacity
    programme = kb.programs.get(ref)
    if programme is None:
        return None
    if programme.groups:
        return sum(g.seats for g in programme.groups)
    return programme.seats


# --- reading ------------------------------------------------------------------------

# The table reader is deficit_engine.tables (read_profiles and read_rows).


# --- running ------------------------------------------------------------------------


def _lighter(item: Diagnosed, trace: bool = False) -> Diagnosed:
    """A diagnosis as the batch keeps it until the plan is made: without its trace
    unless asked (a module-level function: it runs in the workers)."""
    profile, result = item
    if trace or not result.trace:
        return item
    return profile, dataclasses.replace(result, trace=())


@dataclass
class _Staging:
    """The output folder being written: a temporary folder beside it, renamed at the end."""

    outdir: Path
    path: Path

    @classmethod
    def open(cls, outdir: Path) -> _Staging:
        if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
            raise SourceError(
                [Issue(str(outdir), 0, 0, "exists", "the output folder exists and is not empty")],
                "output folder",
            )
        parent = outdir.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        return cls(outdir, Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=parent)))

    def write_json(self, name: str, data: Any) -> None:
        (self.path / name).write_text(
            json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    def publish(self) -> None:
        if self.outdir.exists():
            self.outdir.rmdir()  # empty, checked when opened
        os.replace(self.path, self.outdir)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class _Writer:
    """results.jsonl and errors.jsonl, and the summary counted as they are written."""

    def __init__(self, results: TextIO, errors: TextIO, summary: BatchSummary) -> None:
        self.results, self.errors, self.summary = results, errors, summary

    def add(self, item: Digest, line_no: int, place: PersonKeys) -> None:
        self.summary.add(item, place)
        if item.ok:
            self.results.write(item.line + "\n")
        else:
            record = {"line": line_no, "profile": item.profile, "errors": list(item.errors)}
            self.errors.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_batch(
    engine: Engine,
    source: Path,
    outdir: Path,
    *,
    workers: int | None = None,
    trace: bool = False,
    encoding: str | None = None,
    allocate: bool = True,
) -> BatchSummary:
    """Evaluate a cohort file into ``outdir`` (results.jsonl, errors.jsonl, summary.json).

    With ``allocate`` (the default) the cohort is planned as a whole
    (:meth:`Engine.plan_cohort`): everyone is diagnosed first, then mentors,
    programme places and mentor teams are shared out, then the routes are
    built; ``schools.json`` holds the school profiles and team support, and
    ``summary.json`` the plan's figures. Without it, each person is resolved
    alone as if the catalogue were theirs (streamed, bounded memory). The
    folder appears whole or not at all: everything is written to a temporary
    folder beside it and renamed at the end.

    Parameters
    ----------
    engine : Engine
        The engine (its KB).
    source : Path
        A .csv, .jsonl or .xlsx cohort file.
    outdir : Path
        The output folder: new, or empty.
    workers : int, optional
        Processes (default: one per core).
    trace : bool
        Keep each Result's trace in results.jsonl.
    encoding : str, optional
        The input's text encoding (default: detected).
    allocate : bool
        Plan the cohort as a whole (default) or resolve each person alone.

    Returns
    -------
    BatchSummary
        The cohort analytics (with ``plan`` and ``allocation_seconds`` when planned).

    Raises
    ------
    SourceError
        If the input cannot be read as a cohort, or ``outdir`` is not empty.
    """
    staging = _Staging.open(outdir)
    summary = BatchSummary()
    try:
        with (
            (staging.path / "results.jsonl").open("w", encoding="utf-8") as results,
            (staging.path / "errors.jsonl").open("w", encoding="utf-8") as errors,
        ):
            writer = _Writer(results, errors, summary)
            read = functools.partial(read_profiles, source, engine, encoding=encoding)
            if allocate:
                _planned(engine, read, workers, trace, writer, staging)
            else:
                _streamed(engine, read, workers, trace, writer)
        staging.write_json("summary.json", summary.to_dict(engine))
        staging.publish()
    except BaseException:
        staging.discard()
        raise
    return summary


def _streamed(
    engine: Engine,
    read: Callable[[], Iterable[tuple[int, Any]]],
    workers: int | None,
    trace: bool,
    writer: _Writer,
) -> None:
    """Each person alone: streamed through evaluate_many, bounded memory."""
    lines: deque[tuple[int, PersonKeys]] = deque()  # (line, person) of profiles in flight

    def profiles() -> Iterable[Any]:
        for line_no, item in read():
            lines.append((line_no, person_keys(item)))
            yield item

    digests = evaluate_many(
        engine, profiles(), workers, transform=functools.partial(digest, trace=trace)
    )
    for item in digests:
        line_no, place = lines.popleft()  # results come back in input order
        writer.add(item, line_no, place)


def _planned(
    engine: Engine,
    read: Callable[[], Iterable[tuple[int, Any]]],
    workers: int | None,
    trace: bool,
    writer: _Writer,
    staging: _Staging,
) -> None:
    """The cohort as a whole: diagnose everyone, plan, then build and write the routes."""
    kb = engine.kb
    lines: list[tuple[int, PersonKeys]] = []

    def profiles() -> Iterable[Any]:
        for line_no, item in read():
            lines.append((line_no, person_keys(item)))
            yield item

    diagnosed: list[Diagnosed] = list(
        evaluate_many(
            engine,
            profiles(),
            workers,
            stage="diagnose",
            transform=functools.partial(_lighter, trace=trace),
        )
    )
    people = [(p, r) if p is not None and r.ok else None for p, r in diagnosed]
    plan = plan_cohort(kb, people)
    for (line_no, place), (profile, result), resolution in zip(
        lines, diagnosed, plan.resolutions, strict=True
    ):
        if profile is not None and resolution is not None:
            route = build_route(kb, profile, result, resolution)
            result = with_plan(result, resolution, route)
        writer.add(digest(result, trace), line_no, place)
    # a school counts once against each mentor it got (one per mentoring form)
    writer.summary.school_mentors.update(
        mid
        for _org, mid in sorted({(t.flag.organization, t.mentor) for t in plan.teams if t.mentor})
    )
    writer.summary.plan = plan.stats.to_dict()
    writer.summary.allocation_seconds = plan.stats.seconds
    staging.write_json(
        "schools.json",
        {
            "schools": [s.to_dict() for s in plan.schools],
            "team_support": [t.to_dict() for t in plan.teams],
        },
    )
