"""Cohorts: read profiles from CSV, JSONL or XLSX, run them, write results and analytics.

``run_batch`` streams the input through ``Engine.evaluate_many`` (bounded
memory), sets bad rows aside with their reasons, aggregates cohort analytics as
it goes, and publishes the output folder whole or not at all.

The input formats (CSV, JSONL, XLSX: the columns, encodings, delimiters and
how cells are read) are described in :mod:`deficit_engine.tables`.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import dataclasses
import functools
import importlib.util
import itertools
import json
import operator
import os
import re
import shutil
import tempfile
import uuid
from collections import Counter, deque
from collections.abc import Callable, Generator, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from .engine import (
    COLUMNAR_RUN,
    Diagnosed,
    Engine,
    EngineRef,
    check_cluster,
    engine_for,
    engine_ref,
    evaluate_many,
    keep_engine,
    route_planned,
    run_chunk,
)
from .errors import Issue, SourceError, UsageError
from .export import render
from .gcpause import call_without_gc, paused_gc
from .kb import KnowledgeBase
from .models import (
    Deficit,
    Need,
    Provenance,
    Recommendation,
    Result,
    Route,
    UnmetEntry,
    json_number,
)
from .models.provenance import PlainProvenance, plain_provenance
from .months import month_index
from .outputs import DocumentNames, FlatTables, person_record
from .parts import (
    FORMATS,
    PartRow,
    Pieces,
    arrow_without_pandas,
    check_kept,
    part_path,
    write_part,
)
from .planner import (
    CohortPlan,
    RowTable,
    SharedValues,
    StreamedPlan,
    plan_cohort,
)
from .planner.plan import COLLEAGUE_PREFIX, PlanShare, Resolver
from .profile import parse_profile
from .progressbar import Progress
from .schema import Period, Person, Preferences, Profile
from .tables import KNOWN_COLUMNS, Row, Share, TableReading, read_profiles, read_rows, read_share
from .workers import (
    DASK_WINDOW,
    dask_client,
    forks,
    in_order,
    max_workers,
    pool_worker,
    spill,
    start_pool,
    start_worker,
    stop_pool,
    unspill,
)

#: What ``run_batch(documents=...)`` can write: the ИОМ document's formats.
DOCUMENT_FORMATS = ("html", "md")

__all__ = [
    "EXPERIENCE_BANDS",
    "BatchSummary",
    "Digest",
    "PersonKeys",
    "digest",
    "digests",
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


#: What a batch calls with each evaluated person as it writes them: their digest and
#: their profile (a dict as read, or the validated Profile of a planned run).
Recorder = Callable[[Digest, Any], None]


def digest(result: Result, trace: bool = False, *, line: bool = True) -> Digest:
    """The batch's view of one Result (a module-level function: it runs in workers).

    Parameters
    ----------
    result : Result
        One person's Result.
    trace : bool
        Keep the trace in the JSON line.
    line : bool
        Make the JSON line (a worker that writes its part itself needs only the figures).

    Returns
    -------
    Digest
        The JSON line and the figures the summary counts.
    """
    return digests((result,), trace, line=line)[0]


def digests(results: Sequence[Result], trace: bool = False, *, line: bool = True) -> list[Digest]:
    """:func:`digest` of each Result (a part's), the figures of the pieces the
    people share made once.

    A part's people share most of their recommendations' catalogue attributes
    (about 150 distinct attribute tuples in 2,900 recommendations) and of their
    unmet entries (560 distinct in 2,600): a recommendation's hours are read once
    per attribute tuple, an unmet entry's figures once per entry, both by identity
    (the Results keep them alive meanwhile, so an id is not taken by another object).

    Parameters
    ----------
    results : sequence of Result
        The people's Results.
    trace : bool
        Keep the trace in the JSON lines.
    line : bool
        Make the JSON lines.

    Returns
    -------
    list of Digest
        One per Result, in order.
    """
    hours_of: dict[int, int] = {}  # id(attrs) -> the recommendation's whole hours
    unmet_of: dict[int, tuple[str, str, str, tuple[str, ...]]] = {}  # id(entry) -> figures
    made = []
    for result in results:
        if not result.ok:
            made.append(Digest(False, result.profile, result.errors, "", (), (), (), False))
            continue
        route = result.route
        late = route if route is not None and route.overflow is not None else None
        recommendations = []
        for r in result.recommendations:
            hours = hours_of.get(id(r.attrs))
            if hours is None:
                hours = hours_of[id(r.attrs)] = _recommended_hours(r)
            recommendations.append((r.kind, r.id, hours))
        unmet = []
        for u in result.unmet:
            figures = unmet_of.get(id(u))
            if figures is None:
                figures = unmet_of[id(u)] = _unmet_figures(u)
            unmet.append(figures)
        # made without the frozen dataclass's __init__ (eleven frozen setattrs), and
        # its tuples from lists: a worker makes one per person of every part
        item: Digest = _new_object(Digest)
        item.__dict__.update(
            {
                "ok": True,
                "profile": result.profile,
                "errors": (),
                "line": (
                    json.dumps(result.to_dict(trace=trace), ensure_ascii=False) if line else ""
                ),
                "deficits": tuple(map(_deficit_figures, result.deficits)),
                "recommendations": tuple(recommendations),
                "unmet": tuple(unmet),
                "overflow": late is not None,
                "overflow_reason": "" if late is None else _overflow_reason(late),
                "overflow_kinds": () if late is None else _spilled_kinds(late),
                "overflow_defaulted": late is not None and bool(late.defaults),
            }
        )
        made.append(item)
    return made


#: A deficit's figures in a digest: competency, severity, group.
_deficit_figures = operator.attrgetter("competency", "severity", "group")
_recommendation_key = operator.attrgetter("kind", "id")
_recommendation_attrs = operator.attrgetter("attrs")


def _recommended_hours(recommendation: Recommendation) -> int:
    """A recommendation's hours in a digest: whole (the summary adds them as ints)."""
    return int(json_number(recommendation.get("hours") or 0))


def _unmet_figures(entry: UnmetEntry) -> tuple[str, str, str, tuple[str, ...]]:
    """An unmet entry's figures in a digest: kind, competency, cause and, with cause
    ``capacity``, the ids whose places ran out."""
    return (
        entry.kind,
        entry.competency or "—",
        getattr(entry, "cause", "unaddressed"),
        tuple(getattr(entry, "exhausted", ())),
    )


_new_object = object.__new__


def _overflow_reason(route: Route) -> str:
    """Why a route runs past its period: ``hours`` when its steps need more hours
    than the period's months at the monthly budget give, else ``calendar`` (the
    hours would fit, but programme groups' start months or the steps' order push
    the last step past the end)."""
    # the period's months counted from their indexes (month_range's length, without
    # its list of texts); the steps' hours summed in step order, as before
    first, last = route.period
    months = max(0, month_index(last) - month_index(first) + 1)
    needed = sum(map(_step_hours, route.steps))  # a Step is a tuple: 10 is hours
    return "hours" if needed > months * route.hours_per_month + 1e-9 else "calendar"


_step_hours = operator.itemgetter(10)


def _spilled_kinds(route: Route) -> tuple[str, ...]:
    """The kinds (program, mentor, format...) of the steps that end after the period, once each."""
    late = set(route.overflow.steps) if route.overflow is not None else set()
    # a Step is a tuple: 0 is its id, 1 its kind (by index: a late route's every step)
    return tuple(sorted({step[1] for step in route.steps if step[0] in late}))


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

    def merge(self, other: Breakdown) -> None:
        """Add another breakdown's counts of the same dimension (a part's, from a worker)."""
        self.people.update(other.people)
        self.with_deficit.update(other.with_deficit)
        self.groups.update(other.groups)
        self.competencies.update(other.competencies)

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

    def add_results(
        self, results: Sequence[Result], people: Sequence[PersonKeys | str | None]
    ) -> None:
        """Count many people's Results (a part's, in the worker that wrote it): the
        same figures as :meth:`add` on each one's :func:`digest`, without the digests.

        The recommendations and unmet entries are counted by identity (most are
        shared between a part's people: 1,800 objects for 2,900 recommendations, 560
        for 2,600 unmet entries), in C, and each distinct object's figures made once
        (a recommendation's hours once per attribute tuple: about 150 a part).

        Parameters
        ----------
        results : sequence of Result
            The people's Results.
        people : sequence of PersonKeys or str or None
            What the breakdowns file each under (a str: the municipality alone).

        Raises
        ------
        ValueError
            If ``results`` and ``people`` are not as long as each other.
        """
        evaluated = self._evaluated(results, people)
        chain = itertools.chain.from_iterable
        self._count_people(
            [(keys, tuple(map(_deficit_figures, result.deficits))) for result, keys in evaluated]
        )
        recommendations = list(chain(result.recommendations for result, _ in evaluated))
        # counted by (kind, id, the identity of its attributes) in C: the hours are
        # read once per attribute tuple (about 150 in a part's 2,900 recommendations)
        attributes = list(map(_recommendation_attrs, recommendations))
        # a recommendation of each attribute tuple (its hours are the tuple's)
        holding = dict(zip(map(id, attributes), recommendations, strict=True))
        counted: Counter[tuple[str, str, int]] = Counter()
        for ((kind, ref), attrs), count in Counter(
            zip(map(_recommendation_key, recommendations), map(id, attributes), strict=True)
        ).items():
            counted[(kind, ref, _recommended_hours(holding[attrs]))] += count
        self._count_recommendations(counted)
        entries = list(chain(result.unmet for result, _ in evaluated))
        short_of: dict[int, tuple[tuple[str, str], ...]] = {}
        unmet: Counter[tuple[str, str, str, tuple[str, ...]]] = Counter()
        objects_unmet = dict(zip(map(id, entries), entries, strict=True))
        for at, count in Counter(map(id, entries)).items():
            made = _unmet_figures(objects_unmet[at])
            short_of[at] = tuple([(made[0], ref) for ref in made[3]]) if made[3] else ()
            unmet[made] += count
        self._count_unmet(unmet)
        short_get = short_of.__getitem__
        short: list[tuple[str, str]] = []  # each person's (kind, item) once
        late: list[Route] = []
        for result, _keys in evaluated:
            if result.unmet:
                short.extend(set(chain(map(short_get, map(id, result.unmet)))))
            route = result.route
            if route is not None and route.overflow is not None:
                late.append(route)
        self.shortfall_people.update(short)
        self.overflow += len(late)
        self.overflow_reasons.update([_overflow_reason(route) or "unknown" for route in late])
        self.overflow_kinds.update(chain(map(_spilled_kinds, late)))
        self.overflow_defaulted += sum([bool(route.defaults) for route in late])

    def _evaluated(
        self, items: Sequence[Any], people: Sequence[PersonKeys | str | None]
    ) -> list[tuple[Any, PersonKeys]]:
        """The people counted as read, set aside or evaluated; the evaluated ones
        with their breakdown keys."""
        evaluated = [
            (item, keys if isinstance(keys, PersonKeys) else PersonKeys(municipality=keys))
            for item, keys in zip(items, people, strict=True)
            if item.ok
        ]
        self.profiles += len(items)
        self.set_aside += len(items) - len(evaluated)
        self.evaluated += len(evaluated)
        return evaluated

    def _count_people(
        self, people: Sequence[tuple[PersonKeys, Sequence[tuple[str, str, str | None]]]]
    ) -> None:
        """Count evaluated people by their keys and deficits (competency, severity,
        group): the breakdowns, the groups, the worst severities, the deficits."""
        # each person's breakdown keys, and for those with a deficit their groups and
        # competencies, each once, in flat lists with how many each person has: the
        # breakdowns' (key, group) and (key, competency) pairs are then made and
        # counted in C (zip of the keys repeated and the values), not per person
        keyed: list[tuple[str, str, str, str]] = []
        with_deficit: list[tuple[str, str, str, str]] = []
        groups: list[str] = []
        in_groups: list[int] = []
        competencies: list[str] = []
        in_competencies: list[int] = []
        worst: list[str] = []
        bands: dict[float | None, str] = {}  # years -> band, a few dozen values a part
        for keys, deficits in people:
            years = keys.experience_years
            band = bands.get(years)
            if band is None:
                band = bands[years] = experience_band(years)
            at = (
                keys.municipality or UNKNOWN,
                keys.organization or UNKNOWN,
                keys.role or UNKNOWN,
                band,
            )
            keyed.append(at)
            if not deficits:
                continue
            with_deficit.append(at)
            named, severities, grouped = zip(*deficits, strict=True)
            mine = set(grouped)
            mine.discard(None)
            mine.discard("")
            groups.extend(mine)
            in_groups.append(len(mine))
            distinct = set(named)
            competencies.extend(distinct)
            in_competencies.append(len(distinct))
            known = set(severities)
            for severity in SEVERITY_ORDER:  # the most severe (min by _severity_rank)
                if severity in known:
                    break
            else:
                severity = min(known, key=_severity_rank)
            worst.append(severity)
        self.with_deficit += len(worst)
        self.worst_severity.update(worst)
        self.groups.update(groups)
        dimensions = ("municipality", "organization", "role", "experience")
        # the keys by dimension (a transposed empty list has no columns: four empty)
        every_key = list(zip(*keyed, strict=True)) or [()] * 4
        deficient_key = list(zip(*with_deficit, strict=True)) or [()] * 4
        for n, (name, every, deficient) in enumerate(
            zip(dimensions, every_key, deficient_key, strict=True)
        ):
            breakdown = self.breakdowns[name]
            breakdown.people.update(every)
            breakdown.with_deficit.update(deficient)
            if n == 0:  # the municipalities' own figures
                self.people_by_municipality.update(every)
                self.municipalities.update(deficient)
            repeated = itertools.chain.from_iterable(map(itertools.repeat, deficient, in_groups))
            breakdown.groups.update(zip(repeated, groups, strict=True))
            if breakdown.competencies_too:
                repeated = itertools.chain.from_iterable(
                    map(itertools.repeat, deficient, in_competencies)
                )
                breakdown.competencies.update(zip(repeated, competencies, strict=True))
        counted = Counter(itertools.chain.from_iterable(d for _keys, d in people))
        for (competency, severity, _group), count in counted.items():
            self.deficits[competency] += count
            self.severities[f"{competency} {severity}"] += count

    def _count_recommendations(self, counted: Counter[tuple[str, str, int]]) -> None:
        """Add each (kind, id, hours) counted: demand and hours by programme, mentor, format."""
        for (kind, ref, hours), count in counted.items():
            if kind == "program":
                self.programmes[ref] += count
                self.programme_hours[ref] += hours * count
            elif kind == "mentor":
                self.mentors[ref] += count
            elif kind == "format":
                self.formats[ref] += count

    def _count_unmet(self, counted: Counter[tuple[str, str, str, tuple[str, ...]]]) -> None:
        """Add each (kind, competency, cause, exhausted) counted, and the needs each
        item whose places ran out left unmet (``shortfall_people`` is the caller's)."""
        for (kind, competency, cause, exhausted), count in counted.items():
            self.unmet[f"{kind} {competency}"] += count
            self.unmet_causes[f"{kind} {cause}"] += count
            self.unmet_by_cause[(kind, cause, competency)] += count
            for ref in exhausted:
                self.shortfall_needs[(kind, ref)] += count

    def merge(self, other: BatchSummary) -> None:
        """Add the people another summary counted (a part's, counted by the worker
        that wrote it): the same figures as adding its people here, every count an
        int (the hours too: see :func:`digest`), so the order of the additions
        does not show.

        Parameters
        ----------
        other : BatchSummary
            A summary of people only (no plan figures).

        Raises
        ------
        UsageError
            If ``other`` holds the plan's figures, which are the batch's own.
        TypeError
            If a field is of a kind this does not add (a figure added to the class
            without its merge).
        """
        if other.plan is not None or other.allocation_seconds is not None:
            raise UsageError("a part's summary counts people only, not the plan")
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif f.name == "breakdowns":
                for name, breakdown in theirs.items():
                    self.breakdowns[name].merge(breakdown)
            elif f.name not in ("plan", "allocation_seconds"):  # a new figure: merge it here
                raise TypeError(f"BatchSummary.merge does not know how to add {f.name!r}")

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

# The table reader is deficit_engine.tables (read_rows); what the batch keeps of a
# row beside its profile is the person record of deficit_engine.outputs.


class _SetAside(Exception):
    """A row the table reader set aside: the engine reports it as the row's error,
    under the row's id when it has one (``profile_id``)."""

    def __init__(self, message: str, profile_id: str = "") -> None:
        super().__init__(message)
        self.profile_id = profile_id


@dataclass(frozen=True)
class _Input:
    """One row of the cohort file as the batch runs it."""

    line: int
    profile: Any  # the profile dict, a _SetAside naming file, line and column, or None once used
    person: dict[str, Any]  # person_record: what the outputs carry besides the Result
    keys: PersonKeys  # what the summary breaks the cohort down by
    place: str = ""  # "file:line" for the row's errors
    # a table row's result columns, in the profile's order; None for a JSONL line,
    # whose errors keep their field paths
    columns: tuple[str, ...] | None = None


#: A profile field path's first part -> the table column it is read from.
_FIELD_COLUMNS = {
    "person.role": "role",
    "person.experience_years": "experience_years",
    "person.organization": "organization",
    "person.municipality": "municipality",
    "person.subjects": "subjects",
    "person.levels": "levels",
    "preferences.delivery": "delivery",
    "preferences.hours_per_month": "hours_per_month",
    "preferences.period.start": "period_start",
    "preferences.period.end": "period_end",
    "preferences.period": "period_start",
    "requests": "requests",
    "id": "id",
}
_RESULT_PATH = re.compile(r"^results\[(\d+)\](?:\.[\w.]+)?$")
_ANY_INDEX = re.compile(r"\[\d+\]")


def _result_columns(profile: Any) -> tuple[str, ...]:
    """The column each of a table row's results came from (its competency or indicator)."""
    results = profile.get("results") if isinstance(profile, dict) else None
    if not isinstance(results, list):
        return ()
    return tuple(str(r.get("competency") or r.get("indicator") or "") for r in results)


def _row_error(row: _Input, error: str) -> str:
    """An engine error of a row, placed: ``cohort.csv:17: column "normative.fgos": ...``
    for a table row (the field path becomes the column header), ``file:line: path: ...``
    for a JSONL line. Errors the reader already placed pass unchanged."""
    if not row.place or error.startswith(row.place):
        return error
    path, sep, rest = error.partition(": ")
    if not sep:
        return f"{row.place}: {error}"
    if row.columns is not None:
        found = _RESULT_PATH.match(path)
        if found and int(found.group(1)) < len(row.columns):
            return f'{row.place}: column "{row.columns[int(found.group(1))]}": {rest}'
        column = _FIELD_COLUMNS.get(path) or _FIELD_COLUMNS.get(_ANY_INDEX.sub("", path))
        if column is not None:
            return f'{row.place}: column "{column}": {rest}'
    return f"{row.place}: {error}"


def _kept_columns(table: TableReading, keep: Sequence[str]) -> tuple[str, ...]:
    """The ``--keep-columns`` names, each checked against what the file passes through."""
    allowed = ("name",) if table.format == "jsonl" else table.extra_columns
    for column in keep:
        if column in allowed:
            continue
        if table.format == "jsonl":
            why = "a JSONL profile passes through only the person's 'name'"
        elif column in KNOWN_COLUMNS:
            why = "it is read as a profile field, and the outputs carry it anyway"
        else:
            found = ", ".join(table.extra_columns) or "none"
            why = f"{table.source} has no such pass-through column (it has: {found})"
        raise UsageError(f"--keep-columns {column}: {why}")
    return tuple(dict.fromkeys(keep))


def _inputs(table: TableReading, keep: tuple[str, ...]) -> Iterator[_Input]:
    """The table's rows with their person records (pass-through cells only if kept)."""
    for row in table:
        yield _input(table.source, table.format, row, keep)


def _input(source: str, fmt: str, row: Row, keep: tuple[str, ...]) -> _Input:
    """One row of ``source`` (a file of format ``fmt``) as the batch runs it."""
    made, profile = _input_apart(source, fmt, row, keep)
    return _Input(made.line, profile, made.person, made.keys, made.place, made.columns)


def _input_apart(source: str, fmt: str, row: Row, keep: tuple[str, ...]) -> tuple[_Input, Any]:
    """:func:`_input` without its profile, and the profile (the dict, or the
    :class:`_SetAside` naming why the reader set the row aside)."""
    place = f"{source}:{row.line}"
    if row.error is not None:
        error = _SetAside(f"{place}: {row.error}", row.ident)
        return _Input(row.line, None, person_record(None), PersonKeys(), place), error
    person = person_record(row.profile, keep, row.extra)
    columns = _result_columns(row.profile) if fmt != "jsonl" else None
    keys = person_keys(row.profile)
    return _Input(row.line, None, person, keys, place, columns), row.profile


def _warning_records(table: TableReading, keep: tuple[str, ...]) -> list[dict[str, Any]]:
    """The header's warnings as summary.json lists them: column names, never cells."""
    records = []
    for issue in table.warnings:
        column = table.columns[issue.col - 1] if 0 < issue.col <= len(table.columns) else None
        records.append(
            {
                "code": issue.code,
                "column": column,
                "message": issue.message,
                "suggestion": issue.suggestion,
                "kept": column in keep,
            }
        )
    return records


# --- running ------------------------------------------------------------------------


def _lighter(item: Diagnosed, trace: bool = False) -> Diagnosed:
    """A diagnosis as the batch keeps it until the plan is made: without its trace
    unless asked (a module-level function: it runs in the workers)."""
    profile, result = item
    if trace or not result.trace:
        return item
    return profile, dataclasses.replace(result, trace=())


#: A staging folder's name beside OUT: ``.OUT.<pid of its run>.<8 random characters>``
#: (what ``tempfile.mkdtemp`` adds), so the next run can tell a dead run's leftover.
_STAGING_NAME = r"\.{name}\.(\d+)\.[a-z0-9_]{{8}}"


def _output_error(outdir: Path, exc: OSError, code: str = "cannot-write") -> SourceError:
    """An output folder that cannot be written (full disk, read-only parent, no
    permission), as one line naming the folder."""
    why = exc.strerror or str(exc) or type(exc).__name__
    return SourceError([Issue(str(outdir), 0, 0, code, why)], "output folder")


def _process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts: it may be running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(parent: Path, name: str) -> None:
    """Remove the staging folders of earlier runs on the same OUT whose process is gone
    (killed with ``kill -9``, or the machine stopped): only folders named exactly as
    :class:`_Staging` names them, whose run's process no longer exists, so a run still
    going on the same OUT keeps its folder."""
    pattern = re.compile(_STAGING_NAME.format(name=re.escape(name)))
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return  # the folder cannot be listed: creating the staging folder will say why
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found is None or int(found.group(1)) == os.getpid():
            continue
        if entry.is_dir(follow_symlinks=False) and not _process_alive(int(found.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)


@dataclass
class _Staging:
    """The output folder being written: a temporary folder beside it, renamed at the end."""

    outdir: Path
    path: Path

    @classmethod
    def open(cls, outdir: Path) -> _Staging:
        """The staging folder of ``outdir``, made after the checks (nothing is written
        when one fails) and after removing a killed run's leftover staging folders.

        Raises
        ------
        SourceError
            If ``outdir`` is not empty, is a symbolic link, or cannot be made.
        """
        if outdir.is_symlink():
            # publishing renames a folder over OUT: a link would be replaced, or its
            # target written beside it; refused before any work
            raise SourceError(
                [
                    Issue(
                        str(outdir),
                        0,
                        0,
                        "symlink",
                        "the output folder is a symbolic link; name the folder itself",
                    )
                ],
                "output folder",
            )
        try:
            if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
                raise SourceError(
                    [
                        Issue(
                            str(outdir), 0, 0, "exists", "the output folder exists and is not empty"
                        )
                    ],
                    "output folder",
                )
            parent = outdir.resolve().parent
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(parent, outdir.name)
            prefix = f".{outdir.name}.{os.getpid()}."
            return cls(outdir, Path(tempfile.mkdtemp(prefix=prefix, dir=parent)))
        except OSError as exc:
            raise _output_error(outdir, exc) from None

    def write_json(self, name: str, data: Any) -> None:
        (self.path / name).write_text(
            json.dumps(data, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
            errors="backslashreplace",
        )

    def publish(self) -> None:
        if self.outdir.exists():
            self.outdir.rmdir()  # empty, checked when opened
        os.replace(self.path, self.outdir)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _with_person(line: str, profile_id: str, person: dict[str, Any]) -> str:
    """A Result's JSON line with ``"person"`` right after ``"profile"``.

    Spliced into the text rather than parsed and dumped again: the line may
    hold a long trace, and a batch writes tens of thousands of them.
    """
    prefix = json.dumps({"profile": profile_id}, ensure_ascii=False)[:-1]
    fields = json.dumps(person, ensure_ascii=False)
    if line.startswith(prefix):
        return f'{prefix}, "person": {fields}{line[len(prefix) :]}'
    return f'{{"person": {fields}, {line[1:]}'  # not from Result.to_dict: still one object


class _Documents:
    """Each person's ИОМ document in ``documents/``, under a safe unique name, and
    ``documents/index.csv`` (profile id, file) to find them."""

    def __init__(self, folder: Path, fmt: str) -> None:
        self.folder = folder / "documents"
        self.folder.mkdir()
        self.fmt = fmt
        self.names = DocumentNames(fmt)
        self._index = (self.folder / "index.csv").open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._index, lineterminator="\r\n")
        self._writer.writerow(["id", "file"])

    def write(self, profile_id: str, text: str) -> None:
        name = self.names.name(profile_id)
        (self.folder / name).write_text(text, encoding="utf-8")
        self._writer.writerow([profile_id, name])

    def close(self) -> None:
        self._index.close()


class _Writer:
    """The per-person outputs (results.jsonl, errors.jsonl, the flat tables, the
    documents), and the summary counted as they are written."""

    def __init__(
        self,
        staging: _Staging,
        summary: BatchSummary,
        keep: tuple[str, ...],
        documents: str | None,
        record: Recorder | None = None,
        parts: bool = False,
    ) -> None:
        self.summary = summary
        self.record = record
        # a lone surrogate (an id read from a broken file) is written as its JSON
        # escape, "\\udc80", rather than failing the write after the row was handled
        self.errors = _jsonl(staging.path / "errors.jsonl")
        # with parts (--format) the workers write the results: here only the errors
        self.results = None if parts else _jsonl(staging.path / "results.jsonl")
        self.flat = None if parts else FlatTables(staging.path, keep)
        self.documents = _Documents(staging.path, documents) if documents else None

    def add(
        self,
        item: Digest,
        row: _Input,
        document: Callable[[], str] | None = None,
        profile: Any = None,
        counted: bool = False,
    ) -> None:
        """Write one person's outputs; ``document`` renders their ИОМ (when asked);
        ``profile`` (the row's, as read or validated) goes to the recorder;
        ``counted``: the summary has them already (a worker's part summary)."""
        if not counted:
            self.summary.add(item, row.keys)
        if not item.ok:
            errors = [_row_error(row, e) for e in item.errors]
            record = {"line": row.line, "profile": item.profile, "errors": errors}
            self.errors.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        if self.results is None or self.flat is None:  # a worker wrote the row in its part
            if self.record is not None:
                self.record(item, profile)
            return
        self.results.write(_with_person(item.line, item.profile, row.person) + "\n")
        self.flat.add(json.loads(item.line), row.person)
        if self.documents is not None and document is not None:
            self.documents.write(item.profile, document())
        if self.record is not None:
            self.record(item, profile)

    def close(self) -> None:
        """Finish every file (the workbook is saved here)."""
        self.errors.close()
        if self.results is not None and self.flat is not None:
            self.results.close()
            self.flat.close()
        if self.documents is not None:
            self.documents.close()

    def discard(self) -> None:
        """Close every file without finishing them (the staging folder goes); a close
        that fails (the disk that filled up) does not stop the others."""
        closes = [self.errors.close]
        if self.results is not None and self.flat is not None:
            closes += [self.results.close, self.flat.discard]
        if self.documents is not None:
            closes.append(self.documents.close)
        for close in closes:
            with contextlib.suppress(OSError, ValueError):
                close()


def _jsonl(path: Path) -> TextIO:
    """A JSON Lines file to write; unencodable text (a lone surrogate) as its escape."""
    return path.open("w", encoding="utf-8", errors="backslashreplace")


def _document_profile(profile: Profile, keep: tuple[str, ...]) -> Profile:
    """The profile as its document may show it: without the name unless kept."""
    if profile.person.name is None or "name" in keep:
        return profile
    return profile.model_copy(update={"person": profile.person.model_copy(update={"name": None})})


@dataclass(frozen=True)
class _Options:
    """How a batch runs, as run_batch was asked."""

    workers: int | None
    trace: bool
    allocate: bool
    keep: tuple[str, ...]
    documents: str | None
    progress: Progress
    columnar: bool = False
    record: Recorder | None = None
    output_format: str | None = None  # jsonl or parquet: the workers write parts
    client: Any = None  # a dask.distributed Client to run the chunks on

    def renderer(self, engine: Engine, profile: Profile | None, result: Result) -> Any:
        """What renders one person's document (None when not asked or not possible)."""
        if self.documents is None or profile is None or not result.ok:
            return None
        shown = _document_profile(profile, self.keep)
        return functools.partial(render, self.documents, engine.kb, shown, result)


#: Profiles per chunk (and per share of the input file) on the columnar path: one run
#: of ``Engine.diagnose_many``'s, so a worker's chunk is diagnosed in one columnar run.
#: Measured with benchmarks/columnar.py, back to back on 8,192 profiles: the dense stage
#: 8.5 µs a profile in runs of 4,096 against 13.1 in runs of 2,048.
COLUMNAR_CHUNK = COLUMNAR_RUN


def run_batch(
    engine: Engine,
    source: Path,
    outdir: Path,
    *,
    workers: int | None = None,
    trace: bool = False,
    encoding: str | None = None,
    allocate: bool = True,
    keep_columns: Sequence[str] = (),
    documents: str | None = None,
    progress: Progress | None = None,
    on_warning: Callable[[Issue], None] | None = None,
    columnar: bool = False,
    record: Recorder | None = None,
    output_format: str | None = None,
    scheduler: Any = None,
) -> BatchSummary:
    """Evaluate a cohort file into ``outdir``.

    The folder holds ``results.jsonl`` (one Result per line, with a ``person``
    object: role, municipality, organization, experience_years, subjects),
    ``errors.jsonl`` (the rows set aside), ``summary.json`` (the analytics and
    the header's ``warnings``), ``results.csv`` / ``deficits.csv`` and
    ``results.xlsx`` (one row per person, one per deficit), and with
    ``documents`` each person's ИОМ in ``documents/``.

    With ``allocate`` (the default) the cohort is planned as a whole
    (:meth:`Engine.plan_cohort`): everyone is diagnosed first, then mentors,
    programme places and mentor teams are shared out, then the routes are
    built; ``schools.json`` holds the school profiles and team support, and
    ``summary.json`` the plan's figures. Without it, each person is resolved
    alone as if the catalogue were theirs (streamed, bounded memory). The
    folder appears whole or not at all: everything is written to a temporary
    folder beside it and renamed at the end.

    Pass-through columns (those the table format does not know, such as a
    ``ФИО``) and a JSONL profile's ``person.name`` are personal data: their
    values reach the per-person outputs only when named in ``keep_columns``,
    and never summary.json, which lists the columns' names only.

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
    keep_columns : sequence of str
        Pass-through columns whose values go to the per-person outputs (``name``
        for a JSONL profile's name).
    documents : str, optional
        ``"html"`` or ``"md"``: write each person's ИОМ document too.
    progress : Progress, optional
        Progress bars to draw (default: none).
    on_warning : callable, optional
        Called once with each warning of the file's header (an unknown column).
    columnar : bool
        Diagnose a planned cohort on the columnar path (:meth:`Engine.diagnose_many`):
        the same results, the rules run over whole chunks at once. Not used with
        ``trace`` (traces come from the per-profile engine) or without ``allocate``.
    record : callable, optional
        Called with each evaluated person's :class:`Digest` and profile as it is
        written (``deficit_engine.store.BatchRecorder`` keeps them in a database).
        With ``output_format`` too, the workers send each Result's JSON line back
        for it, as the default batch has it.
    output_format : str, optional
        ``"jsonl"`` or ``"parquet"``: each worker writes the people of the chunks it
        ran to ``results/part-NNNNN.<format>`` (:mod:`deficit_engine.parts`) instead
        of sending their Results here; results.jsonl, the flat tables and the
        documents are not written. Default: the outputs above.
    scheduler : str or dask.distributed.Client, optional
        Run the chunks on a Dask cluster (a scheduler's address, or a Client):
        needs ``output_format``, the same KB folder and a shared output folder on
        every worker (docs/parts.md).

    Returns
    -------
    BatchSummary
        The cohort analytics (with ``plan`` and ``allocation_seconds`` when planned).

    Raises
    ------
    SourceError
        If the input cannot be read as a cohort, or ``outdir`` is not empty, is a
        symbolic link or cannot be written (a full disk, a read-only parent):
        nothing is published and the staging folder is removed. A staging folder
        left by a killed run on the same ``outdir`` (``.OUT.<pid>.<random>``, its
        process gone) is removed when the next run starts.
    UsageError
        If ``keep_columns`` names a column the input does not pass through,
        ``documents`` is not ``html`` or ``md``, ``output_format`` is not ``jsonl``
        or ``parquet`` or comes with ``documents``, or ``scheduler`` comes without
        ``output_format``.
    """
    if documents is not None and documents not in DOCUMENT_FORMATS:
        raise UsageError(f"documents: expected one of {', '.join(DOCUMENT_FORMATS)}")
    _check_parts(output_format, documents, scheduler)
    with dask_client(scheduler) if scheduler is not None else contextlib.nullcontext() as client:
        return _run_batch(
            engine,
            source,
            outdir,
            _Options(
                workers,
                trace,
                allocate,
                (),
                documents,
                progress or Progress.off(),
                columnar,
                record,
                output_format,
                client,
            ),
            encoding,
            keep_columns,
            on_warning,
        )


def _check_parts(output_format: str | None, documents: str | None, scheduler: Any) -> None:
    """The part options' checks (:func:`run_batch`'s UsageError)."""
    if output_format is not None and output_format not in FORMATS:
        raise UsageError(f"format: expected one of {', '.join(FORMATS)}")
    if output_format is not None and documents is not None:
        raise UsageError("--documents is not written with --format (the workers write parts)")
    if scheduler is not None and output_format is None:
        raise UsageError("--scheduler needs --format jsonl or parquet (the workers write parts)")
    if output_format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise UsageError("--format parquet needs pyarrow: pip install 'deficit-engine[parquet]'")


def _run_batch(
    engine: Engine,
    source: Path,
    outdir: Path,
    asked: _Options,
    encoding: str | None,
    keep_columns: Sequence[str],
    on_warning: Callable[[Issue], None] | None,
) -> BatchSummary:
    """:func:`run_batch` once its options are checked."""
    staging = _Staging.open(outdir)
    summary = BatchSummary()
    try:
        with read_rows(source, engine.kb, encoding=encoding) as table:
            keep = _kept_columns(table, keep_columns)
            for issue in table.warnings:
                if on_warning is not None:
                    on_warning(issue)
            options = dataclasses.replace(asked, keep=keep)
            if options.output_format == "parquet":
                check_kept(keep)
            total = table.estimated_rows() if options.progress.enabled else None
            _run(engine, table, total, options, summary, staging)
            data = summary.to_dict(engine)
            data["warnings"] = _warning_records(table, keep)
        staging.write_json("summary.json", data)
        staging.publish()
    except OSError as exc:  # the whole run failed (a full disk, the folder gone): not a row
        staging.discard()
        raise _run_error(exc, source, outdir, staging) from None
    except BaseException:
        staging.discard()
        raise
    return summary


def _run_error(exc: OSError, source: Path, outdir: Path, staging: _Staging) -> SourceError:
    """An OSError that ended a batch, naming the file it concerns: the input when it
    was reading it, else the output folder (a file in the staging folder is named as
    it would have been published)."""
    name = exc.filename if isinstance(exc.filename, str | os.PathLike) else None
    if name is not None and Path(name) == source:
        why = exc.strerror or str(exc)
        return SourceError([Issue(str(source), 0, 0, "cannot-read", why)], "cohort file")
    if name is not None and Path(name).is_relative_to(staging.path):
        return _output_error(outdir / Path(name).relative_to(staging.path), exc)
    return _output_error(outdir, exc)


def _run(
    engine: Engine,
    table: TableReading,
    total: int | None,
    options: _Options,
    summary: BatchSummary,
    staging: _Staging,
) -> None:
    """Write every output into the staging folder, closing its files either way."""
    parts = options.output_format is not None
    writer = _Writer(staging, summary, options.keep, options.documents, options.record, parts)
    rows = _inputs(table, options.keep)
    try:
        if options.allocate:
            _planned(engine, table if parts else None, rows, total, options, writer, staging)
        elif parts:
            _streamed_parts(engine, rows, total, options, writer, staging)
        else:
            _streamed(engine, rows, total, options, writer)
    except BaseException:
        writer.discard()
        raise
    writer.close()


def _streamed(
    engine: Engine,
    rows: Iterator[_Input],
    total: int | None,
    options: _Options,
    writer: _Writer,
) -> None:
    """Each person alone: streamed through evaluate_many, bounded memory.

    The workers send back each Result's digest; with documents asked, the whole
    Result instead (the document needs it), and the profile is validated again
    here to render it.
    """
    in_flight: deque[_Input] = deque()  # rows whose results are still coming

    def profiles() -> Iterator[Any]:
        for row in rows:
            in_flight.append(row)
            yield row.profile

    transform = None if options.documents else functools.partial(digest, trace=options.trace)
    outcomes = evaluate_many(engine, profiles(), options.workers, transform=transform)
    # closed on any exit, so an interrupted or failed run stops its workers at once
    with contextlib.closing(outcomes):
        _write_streamed(engine, outcomes, in_flight, total, options, writer)


def _write_streamed(
    engine: Engine,
    outcomes: Iterator[Any],
    in_flight: deque[_Input],
    total: int | None,
    options: _Options,
    writer: _Writer,
) -> None:
    """Write what the workers send back, in input order, with its row."""
    for outcome in options.progress.track(outcomes, "batch", total):
        row = in_flight.popleft()  # results come back in input order
        if isinstance(outcome, Digest):
            writer.add(outcome, row, profile=row.profile)
            continue
        profile = parse_profile(row.profile, engine.kb) if outcome.ok else None
        render_it = options.renderer(engine, profile, outcome)
        writer.add(digest(outcome, options.trace), row, render_it, row.profile)


def _planned(
    engine: Engine,
    table: TableReading | None,
    rows: Iterator[_Input],
    total: int | None,
    options: _Options,
    writer: _Writer,
    staging: _Staging,
) -> None:
    """The cohort as a whole: diagnose everyone, plan, then build and write the routes.

    With ``table`` (a batch writing parts) whose file can be cut into shares, each
    worker reads its own share of it, keeps its diagnoses and writes its routes;
    else the rows are read here and sent.

    The first way keeps no diagnosis here (:func:`_spilled_plan`); the second
    holds the whole cohort's (:func:`_held_plan`).
    """
    # the columnar path gives no traces: a batch keeping them diagnoses per profile
    columnar = options.columnar and not options.trace
    stage = "columnar" if columnar else "diagnose"
    chunk_size = COLUMNAR_CHUNK if columnar else 64
    shares = None
    if table is not None:
        shares = table.shares(_share_records(table, chunk_size, total, options))
    if shares is not None and options.output_format is not None:
        plan = _spilled_plan(engine, shares, stage, total, options, writer, staging)
    else:
        plan = _held_plan(engine, rows, stage, chunk_size, total, options, writer, staging)
    _plan_outputs(plan, writer, staging)


def _held_plan(
    engine: Engine,
    rows: Iterator[_Input],
    stage: str,
    chunk_size: int,
    total: int | None,
    options: _Options,
    writer: _Writer,
    staging: _Staging,
) -> CohortPlan:
    """The planned cohort with every diagnosis held here: the rows read here and sent
    to the workers (a file that cannot be cut into shares, or the outputs written
    here: results.jsonl, the flat tables, the documents)."""
    kb = engine.kb
    read, diagnosed = _diagnosed_rows(engine, rows, stage, chunk_size, total, options)
    people = [(p, r) if p is not None and r.ok else None for p, r in diagnosed]
    plan = plan_cohort(kb, people)
    planned = zip(read, diagnosed, plan.resolutions, strict=True)
    if options.output_format is not None:
        _planned_parts(engine, planned, len(read), options, writer, staging)
    else:
        for row, (profile, result), resolution in options.progress.track(
            planned, "routes", len(read)
        ):
            if profile is not None and resolution is not None:
                result = route_planned(kb, profile, result, resolution)
            renderer = options.renderer(engine, profile, result)
            writer.add(digest(result, options.trace), row, renderer, profile)
    return plan


def _plan_outputs(plan: CohortPlan, writer: _Writer, staging: _Staging) -> None:
    """What the plan adds to the summary, and schools.json."""
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


def _diagnosed_rows(
    engine: Engine,
    rows: Iterator[_Input],
    stage: str,
    chunk_size: int,
    total: int | None,
    options: _Options,
) -> tuple[list[_Input], list[Diagnosed]]:
    """The rows read here, sent to the workers and diagnosed: the rows (without
    their profiles: the diagnoses hold them, validated) and the diagnoses."""
    read: list[_Input] = []

    def profiles() -> Iterator[Any]:
        for row in rows:
            read.append(dataclasses.replace(row, profile=None))
            yield row.profile

    if options.client is not None:
        diagnoses = _diagnosed_on(options.client, engine, profiles(), stage, chunk_size, options)
    else:
        diagnoses = evaluate_many(
            engine,
            profiles(),
            options.workers,
            stage=stage,
            chunk_size=chunk_size,
            transform=functools.partial(_lighter, trace=options.trace),
        )
    with contextlib.closing(diagnoses):  # an interrupted run stops its workers at once
        diagnosed: list[Diagnosed] = list(options.progress.track(diagnoses, "diagnose", total))
    return read, diagnosed


#: What a worker keeps of each row of its share, in the share's spill file, until
#: the routes are built: the row (without its profile), its diagnosis, the positions
#: of the diagnosis's needs in the share's table of needs (None: the diagnosis keeps
#: its own), and whether its label is its index. The row, profile and diagnosis are
#: kept coded (:class:`_SpillCodes`) or, when they have parts the code does not
#: cover, as themselves.
_Kept = tuple[Any, Any, Any, "Sequence[int] | None", bool]
#: What it sends the parent of its share: each row's line, its id as written, and
#: the rows the plan reads, int-coded (a person not diagnosed has none).
_Sent = tuple[list[int], list[str], RowTable]


def _diagnose_spilled(
    ref: EngineRef,
    share: Share,
    path: str,
    stage: str,
    keep: tuple[str, ...],
    trace: bool,
    slim: bool,
) -> _Sent:
    """A worker's task: read a share of the cohort file, diagnose its rows, keep the
    diagnoses in the spill file ``path`` and send back only what the plan reads.

    The rows are numbered from 0 here: a row labelled by its index (it has no id)
    is marked, and the task that routes it, which is told where it is in the whole
    file, relabels it. With ``slim``, each validated profile is kept without its
    ``results``: the diagnosis has read them, and neither the plan nor the route
    reads them again (a third of the bytes kept).

    The spill file's first item is the share's tables (:meth:`_SpillCodes.tables`),
    then one :data:`_Kept` per row.
    """
    engine = engine_for(ref)
    kb = engine.kb
    lines: list[int] = []
    idents: list[str] = []
    kept: list[_Kept] = []
    # the share's plan rows int-coded, each distinct value once: the needs'
    # positions in it are the spill's too, and the parent adds it to its own whole
    table = RowTable()
    codes = _SpillCodes(share.source)
    read = read_share(share, kb)
    # a piece at a time: its rows' dicts, profiles and diagnoses are all held at once
    # while it is diagnosed (about 30 KB a person), its codes only once it is coded
    while piece := list(itertools.islice(read, DIAGNOSIS_PIECE)):
        at = len(lines)
        rows: list[_Input] = []
        profiles: list[Any] = []
        for row_read, ident in piece:
            row, profile = _input_apart(share.source, share.format, row_read, keep)
            rows.append(row)
            profiles.append(profile)
            idents.append(ident)
        del piece
        named = list(map(_own_name, profiles))
        # the rows' dicts handed over, not kept here: the diagnosis lets each go once
        # it is validated (a third of what a piece holds while its rules run)
        # slim: the profiles come back without their results, most never made into models
        diagnosed = run_chunk(engine, stage, at, _handed_over(profiles), slim=slim)
        lines.extend(row.line for row in rows)
        # each profile and diagnosis let go once coded (popped from the end): when the
        # spill is written, the codes are all the task holds of its people
        diagnosed.reverse()
        for k, row in enumerate(rows):
            n = at + k
            profile, result = _lighter(diagnosed.pop(), trace)
            by_index = _labelled_by_index(named[k], result, n)
            if profile is not None and result.ok:
                table.add(kb, profile, result)  # plan_row's row, coded without making it
            else:
                table.append(None)
            kept.append(codes.person(row, profile, result, table, n, by_index, slim))
    spill(Path(path), [codes.tables(table.need_values()), *kept])
    return lines, idents, table


#: People a diagnosis task diagnoses at once, of its share: a piece's profiles and
#: diagnoses are held together while it is diagnosed, about 30 KB a person (a share
#: of 4,096 at once peaked at 131 MB, traced), and cut in pieces the worker's heap
#: stays a quarter of that. The columnar runs cost no more per person below a few
#: thousand (benchmarks/columnar.py --chunk).
DIAGNOSIS_PIECE = 1024


def _handed_over(items: list[Any]) -> Iterator[Any]:
    """The items, each dropped from ``items`` as it is taken (the list ends empty)."""
    items.reverse()
    while items:
        yield items.pop()


#: The fields of the values a person's spill is made of, in their classes' order.
_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(Result))
_DEFICIT_FIELDS = tuple(f.name for f in dataclasses.fields(Deficit))
_PROVENANCE_FIELDS = tuple(f.name for f in dataclasses.fields(Provenance))
_PROFILE_FIELDS = tuple(Profile.model_fields)
_PERSON_FIELDS = tuple(Person.model_fields)
_PREFERENCES_FIELDS = tuple(Preferences.model_fields)
_PERIOD_FIELDS = tuple(Period.model_fields)


class _Distinct:
    """Distinct values, each at a position: a table of a share's spill file. Its
    values are text and None, alone, in tuples or in sets: equal means the same
    there (``1``, ``1.0`` and ``True`` are equal and print differently: numbers
    are a person's own values)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._positions: dict[Any, int] = {}

    def __call__(self, value: Hashable) -> int:
        """The position of ``value`` (added when new)."""
        found = self._positions.get(value)
        if found is None:
            found = self._positions[value] = len(self.values)
            self.values.append(value)
        return found

    def many(self, values: Sequence[Hashable]) -> tuple[int, ...]:
        """The positions of ``values``: found at C speed when all were seen before."""
        found = tuple(map(self._positions.get, values))
        if None in found:
            found = tuple(map(self, values))
        return found  # type: ignore[return-value]


#: What a deficit and a provenance are coded by: their parts of text and None
#: (their position in the share's table), and their own values.
_DEFICIT_PART = operator.attrgetter("competency", "group", "severity", "rule")
_PROVENANCE_PART = operator.attrgetter(
    "target", "kind", "instrument", "instrument_id", "source", "date"
)
_SCORE = operator.attrgetter("score_pct")
_SET_ASIDE = operator.attrgetter("set_aside")


class _SpillCodes:
    """A share's rows, profiles and diagnoses coded for its spill file: each distinct
    part (a deficit but its score, a provenance but its score, the preferences, a
    set of fields given) once in the share's tables, and a person their own values
    and the parts' positions, in tuples of plain values.

    Pickled whole, a person's Result and Profile were most of a worker's cost of
    spilling and loading them (a Result is rebuilt from dozens of small objects, a
    Profile from four pydantic models' states). What the code does not cover (a
    Result with a route or a trace; a profile with its results kept)
    is kept as itself. :class:`_SpillReader` undoes the code, value for value and
    type for type.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.deficits = _Distinct()  # (competency, group, severity, rule)
        self.provenance = _Distinct()  # its fields but score_pct
        self.versions = _Distinct()  # (kb_hash, kb_version)
        self.fields = _Distinct()  # (fields set of a model,)
        self.preferences = _Distinct()  # see profile()
        # a plain provenance's part's position by its kind and target (see _plain_parts)
        self._plain: dict[str, dict[str, int]] = {}

    def tables(self, needs: Sequence[Need]) -> tuple[Any, ...]:
        """The share's tables, as :class:`_SpillReader` reads them.

        Parameters
        ----------
        needs : sequence of Need
            The share's needs (``RowTable.need_values``: the rows' positions read them).

        Returns
        -------
        tuple
            The file, the needs, then the values of each table of distinct parts.
        """
        distinct = (self.deficits, self.provenance, self.versions, self.fields, self.preferences)
        return (self.source, needs, *(table.values for table in distinct))

    def person(
        self,
        row: _Input,
        profile: Profile | None,
        result: Result,
        table: RowTable,
        n: int,
        by_index: bool,
        slim: bool,
    ) -> _Kept:
        """What the spill file keeps of person ``n`` of the share (their plan row in
        ``table``; None there: not planned, their diagnosis kept as itself)."""
        if not table.diagnosed(n):
            slimmed = _slim(profile) if profile is not None and slim else profile
            return self.row(row), slimmed, result, None, by_index
        assert profile is not None  # a planned person was validated
        coded = self.row(row), self.profile(profile, slim), self.result(result)
        return (*coded, table.need_positions(n), by_index)

    def row(self, row: _Input) -> Any:
        """A row without its profile: its line, person, keys and columns (its place
        is the file's and its line); the row itself when its place is another."""
        if row.place != f"{self.source}:{row.line}":
            return dataclasses.replace(row, profile=None)
        keys = row.keys
        return (
            row.line,
            row.person,
            (keys.municipality, keys.organization, keys.role, keys.experience_years),
            row.columns,
        )

    def profile(self, profile: Profile, slim: bool) -> Any:
        """A validated profile coded (``slim``: without its results); the profile
        itself (slimmed) when it has parts the code does not cover."""
        state = profile.__dict__
        person, preferences = state["person"], state["preferences"]
        period = preferences.period if type(preferences) is Preferences else None
        if (
            (state["results"] and not slim)
            or type(state["requests"]) is not list
            or tuple(state) != _PROFILE_FIELDS
            or type(person) is not Person
            or tuple(person.__dict__) != _PERSON_FIELDS
            # a tuple in the code is a list of the profile's: none may be a tuple
            or any(type(value) is tuple for value in person.__dict__.values())
            or type(preferences) is not Preferences
            or tuple(preferences.__dict__) != _PREFERENCES_FIELDS
            or type(preferences.delivery) is not list
            or not (period is None or type(period) is Period)
            or (period is not None and tuple(period.__dict__) != _PERIOD_FIELDS)
            or any(
                model.__pydantic_extra__ is not None or model.__pydantic_private__ is not None
                for model in (profile, person, preferences, period)
                if model is not None
            )
        ):
            return _slim(profile) if slim else profile
        fields = self.fields  # sets of field names
        people = [
            tuple(value) if type(value) is list else value for value in person.__dict__.values()
        ]
        asked = (
            tuple(preferences.delivery),
            None if period is None else (period.start, period.end),
            frozenset(preferences.__pydantic_fields_set__),
            None if period is None else frozenset(period.__pydantic_fields_set__),
        )
        return (
            state["id"],
            tuple(people),
            fields(frozenset(person.__pydantic_fields_set__)),
            self.preferences(asked),
            preferences.hours_per_month,
            fields(frozenset(profile.__pydantic_fields_set__)),
            tuple(state["requests"]),
        )

    def result(self, result: Result) -> Any:
        """A diagnosis coded without its needs (the plan row's, equal one by one, are
        in the share's table) and its scores (the plan row has read them; no route,
        part or digest reads them, and a Result's JSON leaves them out); the Result
        so lightened when it has parts the code does not cover."""
        if (
            type(result.facts) is not tuple
            or result.trace != ()
            or result.recommendations != ()
            or result.unmet != ()
            or result.route is not None
            or result.errors != ()
        ):
            return dataclasses.replace(result, needs=(), scores=None)
        deficits = result.deficits
        # runs not yet read (normalise_many's): coded from the runs, no Provenance made
        runs = result.__dict__.get("provenance")
        if type(runs) is PlainProvenance:
            parts, scores, set_aside = self._plain_parts(runs)
        else:
            provenance = result.provenance
            parts = self.provenance.many(list(map(_PROVENANCE_PART, provenance)))
            scores = tuple(map(_SCORE, provenance))
            set_aside = tuple(map(_SET_ASIDE, provenance))
        return (
            result.profile,
            self.deficits.many(list(map(_DEFICIT_PART, deficits))),
            tuple(map(_SCORE, deficits)),
            parts,
            scores,
            set_aside,
            self.versions((result.kb_hash, result.kb_version)),
            result.facts,
        )

    def _plain_parts(
        self, runs: PlainProvenance
    ) -> tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...]]:
        """What :meth:`result` codes of the Provenances of ``runs`` (their parts'
        positions, scores and set_aside), read from the runs: a plain Provenance's
        part is its target and kind, its instrument, instrument_id, source and date
        None, and it sets none aside (:func:`.plain_provenance`)."""
        at: list[int] = []
        scores: list[float] = []
        for kind, ids, pct in runs:
            known = self._plain.setdefault(kind, {})
            found = list(map(known.get, ids))
            if None in found:
                found = [self._plain_part(known, kind, target) for target in ids]
            at += found  # type: ignore[arg-type]  # None is not in found
            scores += map(pct.__getitem__, ids)
        return tuple(at), tuple(scores), (0,) * len(at)

    def _plain_part(self, known: dict[str, int], kind: str, target: str) -> int:
        """The position of a plain Provenance's part (``known``: of its kind), its
        part taken from the Provenance ``plain_provenance`` makes, as :meth:`result`
        takes it (once per target and kind, so the two codings cannot drift)."""
        found = known.get(target)
        if found is None:
            (made,) = plain_provenance(kind, (target,), {target: 0.0})
            found = known[target] = self.provenance(_PROVENANCE_PART(made))
        return found


class _SpillReader:
    """A share's spill file's rows, profiles and diagnoses decoded (see
    :class:`_SpillCodes`), from its tables."""

    def __init__(self, tables: tuple[Any, ...]) -> None:
        source, needs, deficits, provenance, versions, fields, preferences = tables
        self.source = source
        self.needs = needs
        # each part's fields in its class's order, the score a placeholder the
        # person's own replaces in a copy
        self.deficits = [
            dict(zip(_DEFICIT_FIELDS, (*v[:3], None, v[3]), strict=True)) for v in deficits
        ]
        self.provenance = [
            dict(zip(_PROVENANCE_FIELDS, (*v[:2], None, *v[2:], 0), strict=True))
            for v in provenance
        ]
        self.versions = versions
        self.fields = fields
        self.preferences = preferences

    def row(self, coded: Any) -> _Input:
        """A row (without its profile)."""
        if type(coded) is not tuple:
            row: _Input = coded
            return row
        line, person, keys, columns = coded
        place = f"{self.source}:{line}"
        return _Input(line, None, person, PersonKeys(*keys), place, columns)

    def profile(self, coded: Any) -> Profile | None:
        """A validated profile (None for a row that has none)."""
        if type(coded) is not tuple:
            kept: Profile | None = coded
            return kept
        ident, people, person_fields, preferences, hours, profile_fields, requests = coded
        delivery, period, asked_fields, period_fields = self.preferences[preferences]
        values = [list(value) if type(value) is tuple else value for value in people]
        person = _model(
            Person, dict(zip(_PERSON_FIELDS, values, strict=True)), self.fields[person_fields]
        )
        when = (
            None
            if period is None
            else _model(Period, dict(zip(_PERIOD_FIELDS, period, strict=True)), period_fields)
        )
        asked = {"delivery": list(delivery), "hours_per_month": hours, "period": when}
        asking = _model(Preferences, asked, asked_fields)
        profile_values: tuple[Any, ...] = (ident, person, asking, [], list(requests))
        state = dict(zip(_PROFILE_FIELDS, profile_values, strict=True))
        return _model(Profile, state, self.fields[profile_fields])

    def result(self, coded: Any, positions: Sequence[int] | None) -> Result:
        """A diagnosis with its needs (their positions in the share's table)."""
        if type(coded) is not tuple:
            return _unspilled_result(coded, positions, self.needs)
        (
            ident,
            deficit_parts,
            deficit_scores,
            provenance_parts,
            scores,
            set_aside,
            version,
            facts,
        ) = coded
        assert positions is not None  # a coded diagnosis is a planned one
        kb_hash, kb_version = self.versions[version]
        values = (
            ident,
            _deficits(self.deficits, deficit_parts, deficit_scores),
            tuple(map(self.needs.__getitem__, positions)),
            facts,
            (),
            (),
            (),
            None,
            (),
            None,
            _provenance(self.provenance, provenance_parts, scores, set_aside),
            kb_hash,
            kb_version,
        )
        made: Result = _new_object(Result)
        made.__dict__.update(zip(_RESULT_FIELDS, values, strict=True))
        return made


def _deficits(
    parts: list[dict[str, Any]], at: Sequence[int], scores: Sequence[Any]
) -> tuple[Deficit, ...]:
    """Deficits made, without their ``__init__``, of their parts and scores."""
    out = []
    new = _new_object
    for position, score in zip(at, scores, strict=True):
        made: Deficit = new(Deficit)
        fields = made.__dict__
        fields.update(parts[position])
        fields["score_pct"] = score  # in its place: the part holds the key
        out.append(made)
    return tuple(out)


def _provenance(
    parts: list[dict[str, Any]], at: Sequence[int], scores: Sequence[Any], set_aside: Sequence[Any]
) -> tuple[Provenance, ...]:
    """Provenance made, as :func:`_deficits` makes deficits, with their own set_aside."""
    out = []
    new = _new_object
    for position, score, count in zip(at, scores, set_aside, strict=True):
        made: Provenance = new(Provenance)
        fields = made.__dict__
        fields.update(parts[position])
        fields["score_pct"] = score
        fields["set_aside"] = count
        out.append(made)
    return tuple(out)


_ModelT = TypeVar("_ModelT", Profile, Person, Preferences, Period)


def _model(cls: type[_ModelT], fields: dict[str, Any], given: frozenset[str]) -> _ModelT:
    """A pydantic model of ``cls`` from its state, as unpickling makes one."""
    made: _ModelT = cls.__new__(cls)
    made.__setstate__(
        {
            "__dict__": fields,
            "__pydantic_extra__": None,
            "__pydantic_fields_set__": set(given),
            "__pydantic_private__": None,
        }
    )
    return made


def _unspilled_result(
    result: Result, positions: Sequence[int] | None, table: Sequence[Need]
) -> Result:
    """A diagnosis kept as itself, lightened, with its needs from the table."""
    if positions is None:
        return result
    # a copy without dataclasses.replace's __init__ (thirteen frozen setattrs, five
    # times the cost), as route.with_plan makes one: a part task makes one a person
    unspilled: Result = _new_object(Result)
    fields = unspilled.__dict__
    fields.update(result.__dict__)
    fields["needs"] = tuple([table[at] for at in positions])
    return unspilled


def _slim(profile: Profile) -> Profile:
    """A profile without its results (see :func:`_diagnose_spilled`)."""
    if not profile.results:
        return profile
    return profile.model_copy(update={"results": []})


def _own_name(profile: Any) -> tuple[bool, Any]:
    """What a row's own data names it: whether the reader set it aside, and then
    whether it has an id, else the ``id`` its dict holds (None: none)."""
    if isinstance(profile, Exception):
        return True, bool(getattr(profile, "profile_id", ""))
    return False, profile.get("id") if isinstance(profile, dict) else None


def _labelled_by_index(named: tuple[bool, Any], result: Result, index: int) -> bool:
    """Whether ``result`` is labelled ``#index`` because its profile has no id
    (``named``: what its row names it, :func:`_own_name`)."""
    label = f"#{index}"
    if result.profile != label:
        return False
    set_aside, name = named
    return not name if set_aside else name != label


#: The folder, inside the staging folder, of the shares' spill files: each holds a
#: share's diagnoses from its diagnosis until its people's routes are written.
_SPILL = "spill"
#: The file, in the spill folder, of the parent's plan rows (see _gathered).
_ROWS = "rows.pickle"


@dataclass
class _Gathered:
    """What the parent keeps of a cohort diagnosed in shares: a PlanRow per person
    (int-coded in a RowTable, whose columns :func:`_gathered` writes to the spill
    folder), each share's spill file and its first person, and the rows set aside
    here."""

    rows: RowTable = field(default_factory=RowTable)
    files: list[str] = field(default_factory=list)  # per share, its spill file
    starts: list[int] = field(default_factory=lambda: [0])  # per share, its first person
    # person -> (their id, the line it was first on): duplicates, set aside
    duplicates: dict[int, tuple[str, int]] = field(default_factory=dict)

    def pieces(self, start: int, stop: int) -> list[tuple[str, int, int]]:
        """People ``start:stop`` as (spill file, first, last + 1) within each share."""
        out = []
        k = bisect.bisect_right(self.starts, start) - 1
        while start < stop:
            end = min(stop, self.starts[k + 1])
            if end > start:
                out.append((self.files[k], start - self.starts[k], end - self.starts[k]))
            start, k = end, k + 1
        return out


def _spilled_plan(
    engine: Engine,
    shares: Iterator[Share],
    stage: str,
    total: int | None,
    options: _Options,
    writer: _Writer,
    staging: _Staging,
) -> CohortPlan:
    """The planned cohort without holding it here: the workers diagnose their shares
    and keep the diagnoses in spill files; here only a PlanRow per person is held,
    the plan made, and each part's share of it sent to the worker that builds its
    routes from the spill files and writes the part.

    Here, in input order: the duplicate-id check over every share (as the whole
    file's reader does it); the labels of rows without an id (their index in the
    whole file) are given by the routing tasks, which know where their people are.
    """
    folder = staging.path / _SPILL
    folder.mkdir()
    runner = _Runner(engine, options)  # one pool: forked while this process is small
    try:
        gathered = _gathered(runner, shares, folder, stage, total, options)
        stream = StreamedPlan(engine.kb, gathered.rows)
        # the plan holds the rows now, and lets them go with the last resolution
        gathered.rows = RowTable()
        _route_spilled_parts(runner, gathered, stream, options, writer, staging)
        plan = stream.finished()
    except BaseException:  # interrupted or failed: stop the workers now
        runner.close(failed=True)
        raise
    runner.close()
    shutil.rmtree(folder)
    return plan


def _gathered(
    runner: _Runner,
    shares: Iterator[Share],
    folder: Path,
    stage: str,
    total: int | None,
    options: _Options,
) -> _Gathered:
    """Every share diagnosed by a worker: here the plan's rows and the duplicates.

    The rows are written to a file in ``folder`` (the spill folder, removed with
    it) as they come, and read back where the plan reads them: about 300 bytes
    a person the parent does not hold (``RowTable``'s ``spill``)."""
    out = _Gathered(RowTable(spill=folder / _ROWS))
    # the store records the profiles whole: only without one are they kept slim
    slim = options.record is None

    def calls() -> Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]:
        for n, share in enumerate(shares):
            out.files.append(str(folder / f"share-{n:06d}.pickle"))
            args = (share, out.files[-1], stage, options.keep, options.trace, slim)
            yield _diagnose_spilled, args

    dropped: list[int] = []  # the rows of the share being read set aside here

    def sent() -> Iterator[tuple[int, str]]:
        for lines, idents, table in runner.in_order(calls()):
            out.starts.append(out.starts[-1] + len(idents))
            yield from zip(lines, idents, strict=True)
            # back here once its last row is checked: its rows join the others
            out.rows.merge(table, set(dropped))
            dropped.clear()

    first: dict[str, int] = {}  # id -> the line it was first on
    # the rows int-coded, each distinct value once across shares: about 300 bytes
    # a person (1.9 KB as shared PlanRows, 27 KB as unpickled), written to the
    # spill folder a share at a time (out.rows' spill file), not held here
    for n, (line, ident) in enumerate(options.progress.track(sent(), "diagnose", total)):
        if ident in first:
            out.duplicates[n] = (ident, first[ident])
            dropped.append(n - out.starts[-2])
        elif ident:
            first[ident] = line
    return out


def _route_spilled_parts(
    runner: _Runner,
    gathered: _Gathered,
    plan: StreamedPlan,
    options: _Options,
    writer: _Writer,
    staging: _Staging,
) -> None:
    """Each part's routes built and written by a worker from the spill files and its
    share of the plan; here the summary and errors, in input order. A part's shares
    of the plan are taken as the part is sent (``plan.take_shares``: int-coded, a
    few hundred bytes a person), while the workers route the parts before it, and
    the workers make each person's Resolution from them (:class:`~.planner.plan.Resolver`,
    from the plan's tables written once to the spill folder): that per-person work
    (about 130 µs of CPU, and pickling the Resolutions) ran here, serially, while the
    workers waited for it. The tables' programme recommendations grow with the
    cohort, slowly (1,703 distinct for 3,000 synthetic people, 2,248 for 6,000:
    0.9 MB pickled), and each worker holds them. A share's spill file goes as soon
    as all its people are written."""
    people = gathered.starts[-1]
    part = _PartOptions.of(options)
    duplicated = list(gathered.duplicates)  # in input order: found in it
    tables = staging.path / _SPILL / "plan.pickle"
    spill(tables, [plan.tables()])
    # the workers keep the resolver of the last file they read: the token tells this
    # batch's from another's at the same path (a batch run in this process)
    plan_file = (str(tables), uuid.uuid4().hex)

    def calls() -> Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]:
        for index, start in enumerate(range(0, people, PART_CHUNK)):
            stop = min(start + PART_CHUNK, people)
            mine = plan.take_shares(stop - start)
            mine_set_aside = duplicated[
                bisect.bisect_left(duplicated, start) : bisect.bisect_left(duplicated, stop)
            ]
            duplicates = {n: gathered.duplicates[n] for n in mine_set_aside}
            pieces = gathered.pieces(start, stop)
            folder = str(staging.path)
            args = (folder, index, start, pieces, plan_file, mine, duplicates, part)
            yield _route_spilled, args

    def routed() -> Iterator[tuple[Digest, _Input, Profile | None] | None]:
        # each part's people counted by its worker: here its summary merged, and
        # only the people written here (errors, or every one for a store) come back
        for summary, count, kept in runner.in_order(calls()):
            writer.summary.merge(summary)
            last = 0
            for at, item, row, profile in kept:
                yield from itertools.repeat(None, at - last)
                yield item, row, profile
                last = at + 1
            yield from itertools.repeat(None, count - last)

    share = 0
    try:
        for written, person in enumerate(options.progress.track(routed(), "routes", people), 1):
            if person is not None:
                item, row, profile = person
                writer.add(item, row, profile=profile, counted=True)
            while share < len(gathered.files) and gathered.starts[share + 1] <= written:
                Path(gathered.files[share]).unlink()
                share += 1
    finally:  # a batch run in this process (one worker) keeps no resolver nor reader after it
        _RESOLVERS.clear()
        _READERS.clear()


def _route_spilled(
    ref: EngineRef,
    folder: str,
    index: int,
    start: int,
    pieces: list[tuple[str, int, int]],
    plan_file: tuple[str, str],
    shares: list[PlanShare | None],
    duplicates: dict[int, tuple[str, int]],
    options: _PartOptions,
) -> tuple[BatchSummary, int, list[tuple[int, Digest, _Input, Profile | None]]]:
    """A worker's task: the people ``start:`` of one part read back from the spill
    files (``pieces``), set aside when their id came before, labelled by their index
    in the whole file when they have no id, resolved from their ``shares`` of the
    plan (whose tables are in ``plan_file``), routed, written to the part and counted
    in the part's summary. Back go the summary, the part's size and, for the people
    the parent writes (set aside: errors.jsonl; every one for a store), their
    position in the part, digest, row (and, for a store, profile): the parent
    counted every person's digest itself, 4.4 % of a batch's samples (py-spy), serially."""
    kb = engine_for(ref).kb
    resolver = _resolver(kb, *plan_file)
    people: list[tuple[_Input, Profile | None, Result]] = []
    for path, first, last in pieces:
        reader = _reader(path, plan_file[1])  # the share's tables: its rows point into them
        for kept_row, kept_profile, kept, positions, by_index in unspill(
            Path(path), first + 1, last + 1
        ):
            n = start + len(people)
            row = reader.row(kept_row)
            if n in duplicates:
                row, profile, result = _duplicate(row, *duplicates[n])
            else:
                profile, result = reader.profile(kept_profile), reader.result(kept, positions)
            if by_index:
                result = dataclasses.replace(result, profile=f"#{n}")
            people.append((row, profile, result))
    with paused_gc():  # as in _route_part: a part's routes make no cycles
        shared = SharedValues()  # one per part, as StreamedPlan.take makes one per call
        resolutions = [
            None if share is None else resolver.resolve(share, result.needs, shared)
            for (_row, _profile, result), share in zip(people, shares, strict=True)
        ]
        results = [
            (route_planned(kb, profile, result, resolution), row.person)
            for (row, profile, result), resolution in zip(people, resolutions, strict=True)
        ]
    _write_part_rows(folder, index, results, options)
    # the part's people counted from their Results at once (BatchSummary.add_results,
    # the figures of their digests); a digest made only for whom the parent writes
    summary = BatchSummary()
    routed = [result for result, _person in results]
    summary.add_results(routed, [row.keys for row, _profile, _result in people])
    sent = [at for at, result in enumerate(routed) if options.lines or not result.ok]
    made = digests([routed[at] for at in sent], options.trace, line=options.lines)
    kept = [
        (at, item, people[at][0], people[at][1] if options.lines else None)
        for at, item in zip(sent, made, strict=True)
    ]
    return summary, len(routed), kept


#: A worker's resolver of the plan it routes for, by (tables file, token): one at a
#: time, the last batch's.
_RESOLVERS: dict[tuple[str, str], Resolver] = {}


#: A worker's readers of the shares' spill files it routes from, by (spill file, the
#: plan's token): the last two (a part's people are in one share or two).
_READERS: dict[tuple[str, str], _SpillReader] = {}


def _reader(path: str, token: str) -> _SpillReader:
    """The reader of the share whose spill file is ``path``, its tables read at this
    worker's first part from it in the batch (``token``) and kept for its next parts.

    Read again for each part (16 of a 4,096-person share), the tables cost their
    unpickling each time, and every part's people had needs of their own objects,
    so the resolving's memos kept by a need's identity (its info, a format
    recommendation by the needs it serves) were met afresh every 256 people.
    """
    found = _READERS.get((path, token))
    if found is None:
        (tables,) = unspill(Path(path), 0, 1)
        # all but the newest go: their people are routed (a worker's parts come in
        # order); a copy of the keys, and pop, as a Dask worker's threads share them
        for older in list(_READERS)[:-1]:
            _READERS.pop(older, None)
        found = _READERS[(path, token)] = _SpillReader(tables)
    return found


def _resolver(kb: KnowledgeBase, path: str, token: str) -> Resolver:
    """The resolver of the plan whose tables are in ``path``, read at this worker's
    first part of the batch (``token``) and kept for its others."""
    found = _RESOLVERS.get((path, token))
    if found is None:
        (tables,) = unspill(Path(path), 0, 1)
        _RESOLVERS.clear()
        found = _RESOLVERS[(path, token)] = Resolver.of(kb, tables)
    return found


def _duplicate(row: _Input, ident: str, first: int) -> tuple[_Input, None, Result]:
    """A row whose id came before, set aside as :func:`deficit_engine.tables.read_rows` does."""
    message = f"{row.place}: duplicate id '{ident}' (first on line {first})"
    set_aside = _Input(row.line, None, person_record(None), PersonKeys(), row.place)
    return set_aside, None, Result.failed(ident, [message])


# --- parts: the workers write the results (--format) ----------------------------------

#: People per part with ``--format``: a Parquet row group of this many rows is well
#: compressed, and a part's Results stay a few megabytes in the worker.
PART_CHUNK = 256


@dataclass(frozen=True)
class _PartOptions:
    """What a part task needs of the batch's options (small: it travels with each task)."""

    fmt: str
    trace: bool
    keep: tuple[str, ...]
    lines: bool = False  # the digests carry the JSON line: the parent records it (--db)

    @classmethod
    def of(cls, options: _Options) -> _PartOptions:
        fmt = options.output_format or FORMATS[0]
        return cls(fmt, options.trace, options.keep, options.record is not None)


def _write_rows(
    folder: str, index: int, results: Sequence[tuple[Result, dict[str, Any]]], options: _PartOptions
) -> list[Digest]:
    """Write a chunk's evaluated people to its part; their digests, without the JSON
    line unless the parent records them in a store, are all that goes back to the
    parent (set-aside rows keep their errors)."""
    # the digests' tuples make no cycles: no collection walks the cohort the worker
    # holds. The digests were made after the pause, and the collections their tuples
    # triggered made them cost more than the Results' dicts (py-spy, a 3,000-person
    # batch: 6.0 % of its CPU against 4.9 %)
    with paused_gc():
        _write_part_rows(folder, index, results, options)
        return digests([result for result, _person in results], options.trace, line=options.lines)


def _write_part_rows(
    folder: str, index: int, results: Sequence[tuple[Result, dict[str, Any]]], options: _PartOptions
) -> None:
    """Write a chunk's evaluated people (with their person records) to its part."""
    if options.fmt == "parquet" and pool_worker():  # a worker of the batch's own
        arrow_without_pandas()
    with paused_gc():  # the rows' dicts die with the part: no collection walks the cohort
        pieces = Pieces()  # the dicts of the part's shared needs and recommendations, made once
        rows = [
            PartRow(result.profile, person, result.json_data(options.trace, each=pieces.each))
            for result, person in results
            if result.ok
        ]
        write_part(part_path(Path(folder), index, options.fmt), rows, options.fmt, options.keep)
        del rows, pieces


def _route_part(
    ref: EngineRef,
    folder: str,
    index: int,
    items: list[tuple[Profile | None, Result, Any, dict[str, Any]]],
    options: _PartOptions,
) -> list[Digest]:
    """A worker's task for a planned cohort: build each person's route from their
    share of the plan, and write the chunk's part."""
    kb = engine_for(ref).kb
    with paused_gc():  # a chunk's routes make no cycles; collections would walk the cohort
        results = [
            (route_planned(kb, profile, result, resolution), person)
            if profile is not None and resolution is not None
            else (result, person)
            for profile, result, resolution, person in items
        ]
        digests = _write_rows(folder, index, results, options)
        del results  # freed before the collector is back
    return digests


def _evaluate_part(
    ref: EngineRef,
    folder: str,
    index: int,
    start: int,
    items: list[tuple[Any, dict[str, Any]]],
    options: _PartOptions,
) -> list[Digest]:
    """A worker's task without the plan: evaluate each person alone and write the part."""
    engine = engine_for(ref)
    results = run_chunk(engine, "evaluate", start, [profile for profile, _person in items])
    return _write_rows(
        folder, index, list(zip(results, (p for _, p in items), strict=True)), options
    )


def _diagnose_part(ref: EngineRef, stage: str, start: int, chunk: list[Any], trace: bool) -> Any:
    """A Dask worker's diagnosis of a chunk, as evaluate_many's workers give it."""
    return [_lighter(item, trace) for item in run_chunk(engine_for(ref), stage, start, chunk)]


class _Done:
    """A task run at once in this process (one worker), shaped like a future."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value

    def cancel(self) -> bool:
        return False  # done already


def _worker_count(options: _Options) -> int:
    """The local pool's processes a batch starts (1: it runs in this process)."""
    return max(1, min(options.workers or os.cpu_count() or 1, max_workers()))


def _share_records(table: TableReading, chunk: int, total: int | None, options: _Options) -> int:
    """Records per share of the input file: ``chunk`` at most, and as many shares
    for each worker of a local pool.

    The workers take the shares as they come free, so the diagnosis ends with the
    worker that took the most: 10,000 rows in shares of 4,096 are three shares, one
    worker diagnoses 5,904 rows while the other waits after 4,096. Cut in four
    shares of 2,500, each does 5,000. A larger run costs a little more per profile
    in shorter columnar runs (benchmarks/columnar.py), far less than the waiting.
    A Dask cluster's size is its own: its shares stay ``chunk``.
    """
    workers = _worker_count(options)
    if workers == 1 or options.client is not None:
        return chunk
    rows = total if total is not None else table.estimated_rows()
    if rows <= 0:
        return chunk
    shares = -(-rows // chunk)  # ceil: the fewest shares of at most ``chunk``
    shares = -(-shares // workers) * workers  # rounded up to a multiple of the workers
    return max(1, -(-rows // shares))


class _Runner:
    """Where the part tasks run: in this process (one worker), a pool of forked
    processes, or a Dask cluster; ``submit`` gives a future either way."""

    def __init__(self, engine: Engine, options: _Options) -> None:
        self.client = options.client
        workers = _worker_count(options)
        self.window = 4 * workers
        self.pool: ProcessPoolExecutor | None = None
        self.forks = False  # the workers are forked from this process, on first submit
        self.ref: EngineRef = engine_ref(engine)
        if self.client is not None:
            check_cluster(self.client, engine, engine_ref(engine))
            self.window = DASK_WINDOW  # enough to keep a cluster busy, bounded memory here
        elif workers > 1:
            keep_engine(engine_ref(engine), engine)  # inherited by the forked workers
            self.forks = forks()
            self.pool = start_pool(workers, start_worker, (os.getpid(),))
        else:
            self.ref = engine

    def submit(self, task: Callable[..., Any], *args: Any) -> Any:
        """``task(ref, *args)`` started where the tasks run, with the cyclic GC paused
        for the whole task (:func:`~.gcpause.call_without_gc`): a task makes a share's
        or a part's objects and drops them all, and collections while they lived (and
        the one at the end of a pause inside the task) walked them, and in this
        process the whole cohort held here, again and again: a quarter of a batch's CPU.
        """
        if self.client is not None:
            return self.client.submit(call_without_gc, task, self.ref, *args, pure=False)
        if self.pool is not None:
            return self.pool.submit(call_without_gc, task, self.ref, *args)
        return _Done(call_without_gc(task, self.ref, *args))

    def in_order(
        self, calls: Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]
    ) -> Iterator[Any]:
        """Each call's value in the order of the calls, a bounded number in flight."""
        try:
            yield from in_order(lambda task, args: self.submit(task, *args), calls, self.window)
        except BaseException:  # failed or interrupted: nothing keeps running
            self.close(failed=True)
            raise

    def close(self, failed: bool = False) -> None:
        if not isinstance(self.ref, Engine):
            keep_engine(self.ref, None)
        if self.pool is not None:
            if failed:
                stop_pool(self.pool)
            else:
                self.pool.shutdown()
            self.pool = None


def _chunked(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _diagnosed_on(
    client: Any,
    engine: Engine,
    profiles: Iterator[Any],
    stage: str,
    chunk_size: int,
    options: _Options,
) -> Generator[Diagnosed, None, None]:
    """The cohort diagnosed on a Dask cluster, chunk by chunk, in input order."""
    runner = _Runner(engine, options)
    calls = (
        (_diagnose_part, (stage, n * chunk_size, chunk, options.trace))
        for n, chunk in enumerate(_chunked(profiles, chunk_size))
    )
    for chunk_result in runner.in_order(calls):
        yield from chunk_result


def _planned_parts(
    engine: Engine,
    planned: Iterator[tuple[_Input, Diagnosed, Any]],
    total: int,
    options: _Options,
    writer: _Writer,
    staging: _Staging,
) -> None:
    """Routes built and parts written by the workers; here the summary and errors.

    Forked workers find the diagnoses and the plan in :data:`_PLANNED`, inherited at
    the fork: sending them would cost more than building the routes (pickling a
    profile and its diagnosis there and back took 2.3 ms a person, the route 0.4).
    """
    rows: list[_Input] = []
    items: list[tuple[Profile | None, Result, Any, dict[str, Any]]] = []
    for row, (profile, result), resolution in planned:
        rows.append(row)
        items.append((profile, result, resolution, row.person))
    folder, part = str(staging.path), _PartOptions.of(options)
    _PLANNED[:] = items  # before the runner's workers are forked
    try:
        runner = _Runner(engine, options)

        def calls() -> Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]:
            for index, start in enumerate(range(0, len(items), PART_CHUNK)):
                stop = start + PART_CHUNK
                if runner.forks:
                    yield _route_forked, (folder, index, start, stop, part)
                else:
                    yield _route_part, (folder, index, items[start:stop], part)

        read = deque(zip(rows, (item[0] for item in items), strict=True))
        _merge(runner, calls(), read, total, options, writer, "routes")
    finally:
        _PLANNED.clear()


#: The planned cohort's (profile, diagnosis, share of the plan, person record), for
#: the workers forked while :func:`_planned_parts` runs.
_PLANNED: list[tuple[Profile | None, Result, Any, dict[str, Any]]] = []


def _route_forked(
    ref: EngineRef, folder: str, index: int, start: int, stop: int, options: _PartOptions
) -> list[Digest]:
    """:func:`_route_part` on the people ``start:stop`` of :data:`_PLANNED` (a forked worker)."""
    return _route_part(ref, folder, index, _PLANNED[start:stop], options)


def _streamed_parts(
    engine: Engine,
    rows: Iterator[_Input],
    total: int | None,
    options: _Options,
    writer: _Writer,
    staging: _Staging,
) -> None:
    """Each person alone, evaluated and written by the workers chunk by chunk."""
    read: deque[tuple[_Input, Any]] = deque()

    def calls() -> Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]:
        for index, chunk in enumerate(_chunked(rows, PART_CHUNK)):
            read.extend((row, row.profile) for row in chunk)
            payload = [(row.profile, row.person) for row in chunk]
            start = index * PART_CHUNK
            part = _PartOptions.of(options)
            yield _evaluate_part, (str(staging.path), index, start, payload, part)

    _merge(_Runner(engine, options), calls(), read, total, options, writer, "batch")


def _merge(
    runner: _Runner,
    calls: Iterator[tuple[Callable[..., Any], tuple[Any, ...]]],
    read: deque[tuple[_Input, Any]],
    total: int | None,
    options: _Options,
    writer: _Writer,
    label: str,
) -> None:
    """Count the digests the workers send back into the summary, with their rows and
    profiles (for the store), and record them (``label``: the progress bar's, as the
    default batch names the same step)."""
    digests = (item for chunk in runner.in_order(calls) for item in chunk)
    try:
        for item in options.progress.track(digests, label, total):
            row, profile = read.popleft()
            writer.add(item, row, profile=profile)
    except BaseException:  # writing here failed or was interrupted: stop the workers now
        runner.close(failed=True)
        raise
    runner.close()
