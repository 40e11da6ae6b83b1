"""The cohort plan: every person's needs resolved against the catalogue's capacity at once.

Diagnosis stays per person; :func:`plan_cohort` takes the diagnosed cohort and
shares out what is scarce (docs/route.md, "Cohort plans"):

* **mentors** -- one min-cost flow over every person's units (one per
  mentoring form) and every school flagged for team support
  (:mod:`deficit_engine.resolve.allocate`): each mentor's ``capacity`` counts
  across the whole cohort;
* **programme places** -- seats, cohort groups and minimum in-person groups
  (:mod:`.programmes`);
* **formats** -- unlimited, as for one person.

The result is one :class:`~deficit_engine.models.Resolution` per person, in
input order, which the route builder turns into routes as usual; the same
inputs give the same plan.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar, overload

import numpy as np

from ..catalogue import CatalogueIndex
from ..errors import UsageError
from ..gcpause import paused_gc
from ..kb import KnowledgeBase
from ..models import Need, Recommendation, Resolution, Result
from ..resolve import needs_by_kind
from ..resolve.allocate import allocate_arrays
from ..resolve.formats import resolve_formats
from ..resolve.mentors import (
    Candidate,
    MentorChoice,
    Seeker,
    Unit,
    Why,
    _unit,
    full_why,
    mentor_recommendations,
    mentor_units,
    why_not,
)
from ..schema import Mentor, Profile
from .arcs import CohortArcs, FlowArcs, cohort_arcs, flow_arcs
from .programmes import (
    Demands,
    ProgrammeDemand,
    demand_key,
    plan_programme_outcomes,
)
from .rows import PlanRow, RowTable, SharedValues, _extend, plan_row
from .schools import SchoolFlag, SchoolProfile, flag_schools, school_profiles_of
from .schools import _profiles as _school_profiles  # from a RowTable's entries

__all__ = [
    "COLLEAGUE_FORMS",
    "COLLEAGUE_PREFIX",
    "CodedChoice",
    "CohortPlan",
    "PlanShare",
    "PlanStats",
    "PlanTables",
    "Resolver",
    "StreamedPlan",
    "TeamSupport",
    "colleague_mentors",
    "plan_cohort",
    "plan_rows",
]

Person = tuple[Profile, Result]
#: A school's needs weigh as high-severity ones: the school was flagged because
#: many of its staff have deficits in the group.
SCHOOL_SEVERITY = "high"
_NO_UNITS: tuple[Unit, ...] = ()  # a seeker's units once read
_NO_SEVERITIES: Mapping[str, str] = MappingProxyType({})  # a seeker's severities once read
_NOBODY = Seeker(None, None, frozenset(), frozenset())  # a seeker once resolved
_KINDS = frozenset(("program", "mentor", "format"))  # the kinds needs_by_kind sorts


@dataclass(frozen=True)
class PlanStats:
    """What the plan achieved, and how long it took.

    Attributes
    ----------
    people : int
        Diagnosed people in the plan.
    mentees : int
        People with at least one mentor need.
    mentees_placed : int
        People given at least one mentor.
    mentee_bound : int
        The most people any allocation could place (a max flow from people to
        the mentors who qualify for one of their needs, within capacity).
    units, units_placed : int
        (person, form) pairs asking for a mentor, and those given one.
    schools_flagged, schools_placed : int
        Schools flagged for team support, and those given a mentor team.
    exact : bool
        Whether the mentor objective was exactly lexicographic (else the
        weights were bounded to fit the solver: see resolve/allocate.py).
    programme_passes : int
        How many passes the minimum group size took.
    closed_groups : int
        (programme, municipality) pairs of in-person places closed as too small.
    seconds : float
        The allocation's wall time.
    """

    people: int
    mentees: int
    mentees_placed: int
    mentee_bound: int
    units: int
    units_placed: int
    schools_flagged: int
    schools_placed: int
    exact: bool
    programme_passes: int
    closed_groups: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict.

        Returns
        -------
        dict
            One key per attribute; ``seconds`` rounded to milliseconds.
        """
        out = dict(self.__dict__)
        out["seconds"] = round(self.seconds, 3)
        return out


class TeamSupport(NamedTuple):
    """A school flagged for командное наставничество and the mentor team it got."""

    flag: SchoolFlag
    mentor: str | None  # None: no team mentor could be given
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The school's flag, its mentor and why, as a JSON-ready dict.

        Returns
        -------
        dict
            The flag's dict plus ``mentor`` and ``mentor_reason``.
        """
        out = self.flag.to_dict()
        out["mentor"] = self.mentor
        out["mentor_reason"] = self.reason
        return out


@dataclass(frozen=True)
class CohortPlan:
    """A cohort's plan: per person the Resolution, per school the team support.

    Attributes
    ----------
    resolutions : tuple
        One per person in input order: their Resolution, or None for a person
        who was not diagnosed (an error Result).
    schools : tuple of SchoolProfile
        The school profiles (aggregates only).
    teams : tuple of TeamSupport
        The flagged schools and their mentor teams.
    mentor_load : Mapping
        Mentor id -> (mentee, form) pairings and schools given to them.
    programme_load : Mapping
        Programme id -> people placed on it.
    stats : PlanStats
        The figures.
    """

    resolutions: tuple[Resolution | None, ...]
    schools: tuple[SchoolProfile, ...]
    teams: tuple[TeamSupport, ...]
    mentor_load: Mapping[str, int]
    programme_load: Mapping[str, int]
    stats: PlanStats


_V = TypeVar("_V")


class _Decoded(Sequence[_V], Generic[_V]):
    """Per seeker one value: people's decoded from their rows when read (a
    :class:`~.rows.RowTable`'s), the flagged schools' held (appended after them).

    Held in a list, a cohort's needs and severities decoded from the table would
    be about 900 bytes a person from the seekers to each person's resolution;
    decoded when read, they cost nothing between reads. The last person's value
    is kept: the flows read one person's units, and so their needs, one after
    another.
    """

    def __init__(self, decode: Callable[[int], _V], people: int) -> None:
        self.decode, self.people = decode, people
        self.schools: list[_V] = []
        self.last: tuple[int, _V] | None = None

    def append(self, value: _V) -> None:
        """Add the next flagged school's value."""
        self.schools.append(value)

    def release(self) -> None:
        """Let the rows go (once every person is resolved): only schools are read."""
        self.decode, self.last = _released, None

    def __len__(self) -> int:
        return self.people + len(self.schools)

    @overload
    def __getitem__(self, k: int) -> _V: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[_V]: ...

    def __getitem__(self, k: int | slice) -> _V | Sequence[_V]:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if k >= self.people:
            return self.schools[k - self.people]
        last = self.last
        if last is not None and last[0] == k:
            return last[1]
        value = self.decode(k)
        self.last = (k, value)
        return value


def _released(k: int) -> Any:
    """A person's value once the rows are let go: none is read then."""
    raise IndexError(f"seeker {k}: the rows were let go")


class _Seekers(NamedTuple):
    """Everyone who asks for mentors: people, then flagged schools."""

    seekers: list[Seeker]
    needs: list[Sequence[Need]] | _Decoded[Sequence[Need]]
    severities: list[Mapping[str, str]] | _Decoded[Mapping[str, str]]
    # held as runs from the rows' reading (_UnitRuns) until the person's share:
    # a tuple a person of interned units was about 170 bytes a person of Python's
    # heap at the reading's end
    units: _UnitRuns


def _school_needs(flag: Sequence[SchoolFlag]) -> list[Need]:
    """A school's team needs: one per competency of its flags (the flags' forms)."""
    out: list[Need] = []
    for f in flag:
        out.extend(Need("mentor", comp, (("form", f.form),), f.rule) for comp in f.competencies)
    return out


def _read(
    rows: Sequence[PlanRow | None],
) -> tuple[Demands, array[int], _Seekers]:
    """Each row read once: the programme demands of the diagnosed people (held as
    positions: see programmes.Demands), the order the passes serve them in
    (positions among the demands), and the people among the mentor seekers (the
    flagged schools are added once the school profiles are made: see
    _add_schools).

    The demands have no ``key``: the service order is the only reader of the
    key, so it is found here, from the two weights (held in arrays) and the ids,
    and the keys (a tuple of two weights, an id and a position, about 180 bytes a
    person) are not held through the passes, which are the plan's peak.

    The two were made each from its own reading of the rows, and a RowTable's
    row is decoded where read (about 9 µs a row, lean); the people's seekers and
    units are a hundred bytes a person held over the programme passes.
    """
    # a RowTable's needs and severities are decoded where read (see _Decoded)
    table = rows if isinstance(rows, RowTable) else None
    out = (
        _Seekers([], [], [], _UnitRuns())
        if table is None
        else _Seekers(
            [],
            _Decoded(table.needs, len(table)),
            _Decoded(table.severities, len(table)),
            _UnitRuns(),
        )
    )
    # a RowTable's programme needs as positions in its table of needs; a list's
    # rows' needs kept by identity (Demands.add_needs)
    demands = Demands(None if table is None else table.need_values())
    most, summed = array("q"), array("q")  # the kept demands' two weights (demand_key)
    ids: list[str] = []
    # equal seekers (most people share a school, subjects and levels) held once:
    # they are only read, and live from here to the person's resolution
    one = SharedValues().one
    for n, row in enumerate(_lean(rows)):
        if row is None:
            out.seekers.append(_NOBODY)
            if table is None:
                out.needs.append(())
                out.severities.append(_NO_SEVERITIES)
            out.units.add(_NO_UNITS)
            continue
        programme, mentor = _programme_and_mentor(row.needs)
        # DemandHead's fields (made a DemandHead once per value: see Demands)
        head = (
            row.role,
            row.subjects,
            row.levels,
            row.municipality,
            row.delivery,
            row.period,
            row.period_hours,
        )
        if table is None:
            needs = row.needs
            demands.add_needs(head, [needs[i] for i in programme], programme)
        else:
            at = table.need_positions(n)
            demands.add(head, [at[i] for i in programme], programme)
        weights = demand_key(row.needs, programme, row.severities)
        most.append(weights[0])
        summed.append(weights[1])
        ids.append(row.id)
        seeker = Seeker(row.organization, row.municipality, row.subjects, row.levels)
        out.seekers.append(one(seeker))
        if table is None:
            out.needs.append(row.needs)
            out.severities.append(row.severities)
        out.units.add(mentor_units(row.needs, mentor))
    # the key's fourth part, the person's position, only breaks ties of the first
    # three: a stable sort of the kept demands, in input order, does the same. Held
    # in an array through the passes (a list held an int object a person too)
    order = array("q", sorted(range(len(ids)), key=lambda j: (most[j], summed[j], ids[j])))
    demands.close()
    return demands, order, out


def _add_schools(out: _Seekers, flags: Sequence[SchoolFlag]) -> list[tuple[str, list[SchoolFlag]]]:
    """The flagged schools added to the seekers, after the people, by name; and
    their flags, in that order."""
    by_school: dict[str, list[SchoolFlag]] = {}
    for f in flags:
        by_school.setdefault(f.organization, []).append(f)
    schools = sorted(by_school.items())
    for org, fl in schools:
        needs = _school_needs(fl)
        out.seekers.append(Seeker(org, fl[0].municipality, frozenset(), frozenset(), school=True))
        out.needs.append(needs)
        out.severities.append({n.competency or "": SCHOOL_SEVERITY for n in needs})
        out.units.add(mentor_units(needs, range(len(needs))))
    return schools


#: The forms a colleague of the cohort may mentor in (seed 002: «учитель,
#: владеющий определенной компетенцией – учитель, которому необходимо
#: сформировать эту компетенцию»).
COLLEAGUE_FORMS = ("competency_pair", "teacher_teacher")
COLLEAGUE_PREFIX = "colleague."


def colleague_mentors(kb: KnowledgeBase, people: Sequence[Person | None]) -> dict[str, Mentor]:
    """The cohort's own colleagues who may mentor, when the KB's planning allows it.

    A diagnosed person whose level on a competency is ``planning.colleague_level``
    or above (default: the scale's top level), and who has no deficit on it,
    may mentor it in :data:`COLLEAGUE_FORMS`, taking at most ``colleague_load``
    mentees. Their id is ``colleague.<input position>`` and their name says
    only that they are a colleague: no personal data travels.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB (``planning`` and the scale).
    people : sequence
        The diagnosed cohort, as for :func:`plan_cohort`.

    Returns
    -------
    dict
        Mentor id -> Mentor (empty when ``planning.colleague_mentors`` is off).
    """
    return _colleagues(kb, _rows(kb, people))


def _colleagues(kb: KnowledgeBase, rows: Sequence[PlanRow | None]) -> dict[str, Mentor]:
    """:func:`colleague_mentors` from the rows (their ``strengths``)."""
    settings_ = kb.planning.planning
    if not settings_.colleague_mentors:
        return {}
    out: dict[str, Mentor] = {}
    for n, row in enumerate(rows):
        if row is None or not row.strengths:
            continue
        mid = f"{COLLEAGUE_PREFIX}{n}"
        # model_construct: a colleague's municipality or organisation may be unknown
        out[mid] = Mentor.model_construct(
            id=mid,
            name="Коллега из когорты",
            municipality=row.municipality or "",
            organization=row.organization or "",
            strengths=list(row.strengths),
            forms=list(COLLEAGUE_FORMS),
            capacity=settings_.colleague_load,
            subjects=[],
            levels=[],
        )
    return out


def _allocate_mentors(
    index: CatalogueIndex, s: _Seekers, n_people: int, whole: bool = False
) -> tuple[_Choices, bool, int]:
    """Every seeker's units paired with mentors: people first, in one flow for the
    whole cohort, then the flagged schools with the places people left (``whole``:
    on the whole networks, see ``_pair``)."""
    capacity = np.array([m.capacity for m in index.mentors], np.int64)
    themselves = {
        k: index.mentor_rank[f"{COLLEAGUE_PREFIX}{k}"]
        for k in range(n_people)
        if f"{COLLEAGUE_PREFIX}{k}" in index.mentor_rank
    }
    people = _OwnedUnits(s.units, 0, n_people)
    flow, left, bound = _pair(index, s, people, capacity, themselves, True, whole)
    del people
    schools = _OwnedUnits(s.units, n_people, len(s.units))
    school_flow, _left, _bound = _pair(index, s, schools, left, {}, False, whole)
    choices = _Choices(index, s, n_people, flow, school_flow)
    return choices, flow.exact and school_flow.exact, bound


class _OwnedUnits(Sequence[tuple[int, Unit]]):
    """The units of seekers ``first:last``, each as (its seeker's position, the
    unit), in order: what a flow reads them as (``flow_arcs``).

    Held as a list of those pairs while the flow is built and solved, they were
    about 100 bytes a unit (the pair and an int object for a position past 256);
    here the positions are an array and a pair is made when read, its unit read
    from the seekers' runs (:class:`_UnitRuns`; a flow reads each unit twice).
    """

    def __init__(self, runs: _UnitRuns, first: int, last: int) -> None:
        self.owners = array("q")
        self.runs = runs
        starts = runs.starts
        self.first = starts[first]  # the first unit's position among the runs' units
        for k in range(first, last):
            count = starts[k + 1] - starts[k]
            if count:
                self.owners.extend([k] * count)

    def __len__(self) -> int:
        return len(self.owners)

    @overload
    def __getitem__(self, u: int) -> tuple[int, Unit]: ...

    @overload
    def __getitem__(self, u: slice) -> Sequence[tuple[int, Unit]]: ...

    def __getitem__(self, u: int | slice) -> tuple[int, Unit] | Sequence[tuple[int, Unit]]:
        if isinstance(u, slice):
            return [self[v] for v in range(*u.indices(len(self)))]
        if u < 0:
            u += len(self.owners)
        return self.owners[u], self.runs.unit(self.first + u)

    def __iter__(self) -> Iterator[tuple[int, Unit]]:
        unit, first = self.runs.unit, self.first
        return ((k, unit(first + u)) for u, k in enumerate(self.owners))


class _UnitRuns:
    """Every seeker's units (people, then flagged schools), held as runs of integers
    from the rows' reading to each seeker's turn: per unit its form's code and the
    end of its needs' positions (among the seeker's needs) in one array, per seeker
    where their units start.

    Held as the seekers' tuples of units (a named tuple and a tuple of positions a
    unit, a tuple a seeker) they were about 160 bytes a person from the rows'
    reading to the person's Resolution, through the programme passes, the plan's
    peak; as runs about 20. They are added seeker by seeker as the rows are read
    (:meth:`add`): made as tuples there and let go after the flows, they were the
    largest part of what the reading left in Python's heap, whose freed blocks it
    keeps. A seeker's units are made again when read: equal to those given (not
    the same objects; what reads them reads their values).
    """

    def __init__(self, units: Iterable[Sequence[Unit]] = ()) -> None:
        self.forms: list[str | None] = []
        self._codes: dict[str | None, int] = {}
        # 16 and 32 bits wide until a value does not fit (rows._extend widens them)
        self.form = array("H")  # per unit, its form's code (in ``forms``)
        self.needs = array("H")  # the units' needs' positions, unit after unit
        self.ends = array("i")  # per unit, where its positions end
        self.starts = array("i", [0])  # per seeker, where their units start; then all
        for mine in units:
            self.add(mine)

    def add(self, mine: Sequence[Unit]) -> None:
        """Add the next seeker's units (none: a seeker without mentor needs)."""
        if mine:
            codes, forms = self._codes, self.forms
            mine_forms, mine_ends = [], []
            at = len(self.needs)
            for unit in mine:
                code = codes.get(unit.form)
                if code is None:
                    code = codes[unit.form] = len(forms)
                    forms.append(unit.form)
                mine_forms.append(code)
                at += len(unit.needs)
                mine_ends.append(at)
            self.form = _extend(self.form, mine_forms)
            self.needs = _extend(self.needs, [i for unit in mine for i in unit.needs])
            self.ends = _extend(self.ends, mine_ends)
        self.starts = _extend(self.starts, (len(self.ends),))

    def __len__(self) -> int:
        """How many seekers."""
        return len(self.starts) - 1

    def __getitem__(self, k: int) -> tuple[Unit, ...]:
        """Seeker ``k``'s units."""
        first, last = self.starts[k], self.starts[k + 1]
        if first == last:
            return _NO_UNITS
        return tuple([self.unit(u) for u in range(first, last)])

    def unit(self, u: int) -> Unit:
        """The ``u``-th unit of all (seekers' units one after another)."""
        ends = self.ends
        return _unit(
            Unit, (self.forms[self.form[u]], tuple(self.needs[ends[u - 1] if u else 0 : ends[u]]))
        )

    def count(self, k: int) -> int:
        """How many units seeker ``k`` has."""
        return self.starts[k + 1] - self.starts[k]


class _Flow(NamedTuple):
    """One flow's outcome, as compact as it was found: per unit the arc chosen
    (-1: none), and the arcs to read each unit's candidates from."""

    exact: bool
    chosen: np.ndarray
    found: _Candidates


class _Choices:
    """Each seeker's MentorChoices (one per unit), made when asked for.

    Made for the whole cohort at once, the choices (each with its candidate
    mentors and, for a unit left without one, the reasons) took about 3 KB a
    person until the last resolution was made; made from the flows' arrays for
    one seeker at a time, they live only while that seeker's resolution is made.
    A seeker's units are consecutive in its flow, in the seekers' order, so where
    their units start among the seekers' (:class:`_UnitRuns`) finds them.
    """

    def __init__(
        self, index: CatalogueIndex, s: _Seekers, n_people: int, people: _Flow, schools: _Flow
    ) -> None:
        self.index, self.s, self.n_people = index, s, n_people
        self.people, self.schools = people, schools
        self.units = s.units  # held as runs from the rows' reading (_read)

    def __getitem__(self, k: int) -> list[MentorChoice]:
        s = self.s
        return decoded_choices(self.index, s.seekers[k], s.needs[k], self.coded(k))

    def coded(self, k: int) -> tuple[CodedChoice, ...]:
        """Seeker ``k``'s choices int-coded (see :data:`CodedChoice`): what a worker
        holding the plan's index makes them from (:func:`decoded_choices`)."""
        units = self.units
        if k < self.n_people:
            flow, first = self.people, units.starts[k]
        else:  # the schools' flow numbers its units from the first school's
            flow, first = self.schools, units.starts[k] - units.starts[self.n_people]
        found = flow.found
        chosen = flow.chosen
        out = []
        for u, unit in enumerate(units[k], first):
            a = int(chosen[u])
            out.append((unit, -1, found.serving(u)) if a < 0 else (unit, *found.coded(u, a)))
        return tuple(out)


#: One unit's outcome, int-coded: (unit, the chosen candidate's position among its
#: candidates, the candidates as (mentor's position in the index, needs served,
#: priority, locality, no subject)), or (unit, -1, need -> the positions of the
#: mentors who could serve it) for a unit left without a mentor.
CodedChoice = tuple[Unit, int, Any]


def decoded_choices(
    index: CatalogueIndex, seeker: Seeker, needs: Sequence[Need], coded: Sequence[CodedChoice]
) -> list[MentorChoice]:
    """A seeker's MentorChoices from their int-coded choices (``_Choices.coded``).

    Parameters
    ----------
    index : CatalogueIndex
        The plan's index (its mentors in the order the codes number them).
    seeker : Seeker
        The seeker.
    needs : sequence of Need
        The seeker's needs (the units index them).
    coded : sequence of CodedChoice
        Per unit its outcome.

    Returns
    -------
    list of MentorChoice
        As the plan made them: a placed unit's chosen candidate and the others,
        an unplaced one's reasons.
    """
    mentors = index.mentors
    out = []
    for unit, a, found in coded:
        if a < 0:
            why = _unplaced(index, seeker, needs, unit, found)
            out.append(MentorChoice(unit, None, (), 0, why))
            continue
        cands = [Candidate(mentors[m], served, p, loc, ns) for m, served, p, loc, ns in found]
        best = cands[a]
        others = tuple([c for c in cands if c is not best])
        out.append(MentorChoice(unit, best, others, best.mentor.capacity))
    return out


def _pair(
    index: CatalogueIndex,
    s: _Seekers,
    units: _OwnedUnits,
    capacity: np.ndarray,
    themselves: dict[int, int],
    with_bound: bool,
    whole: bool = False,
) -> tuple[_Flow, np.ndarray, int]:
    """One flow: ``units`` paired within ``capacity``. Returns the flow's outcome,
    the places left and (people only) the max-flow bound.

    The flow is solved on the network cut down to the mentors' capacity
    (``arcs.flow_arcs``: its optima are the whole network's); ``whole`` solves
    the whole network instead (the reference the tests hold the cut to)."""
    owners = np.array(units.owners, np.int64)
    if whole:
        arcs = cohort_arcs(index, s.seekers, s.needs, s.severities, units, capacity, themselves)
        net = FlowArcs(arcs, np.arange(len(arcs.unit), dtype=np.int64), arcs, len(arcs.unit))
    else:
        net = flow_arcs(
            index, s.seekers, s.needs, s.severities, units, capacity, owners, themselves
        )
    kept = net.kept
    _give_back_freed()  # the chunks' arcs found and cut: see _give_back_freed
    allocation = allocate_arrays(
        owners, kept.unit, kept.mentor, kept.prio, kept.loc, kept.nosubj, capacity
    )
    _give_back_freed()  # the solver's graph
    chosen = np.asarray(allocation.chosen, np.int64)
    placed = chosen[chosen >= 0]
    taken = np.bincount(kept.mentor[placed], minlength=len(capacity))
    bound = _mentee_bound(owners, kept, capacity) if with_bound else 0
    chosen[chosen >= 0] = net.full[placed]  # as positions among all the unit's arcs
    del kept, placed
    # held until the last Resolution: int32 while the arcs are fewer than 2**31
    held = chosen.astype(np.int32) if net.arcs < 2**31 else chosen
    flow = _Flow(allocation.exact, held, _Candidates(index, net.candidates))
    return flow, capacity - taken, bound


class _Candidates:
    """A placed unit's candidates (what ``unit_arcs`` finds) read from the flow's arcs.

    The arcs are sorted by (unit, mentor), mentors in id order, so one unit's
    arcs are a slice in ``unit_arcs``' order; the rows are sorted the same way and
    a (unit, mentor) pair's rows keep the order of the unit's needs, which is
    ``unit_arcs``' order of the needs a mentor serves. Colleagues are never their own
    candidates there either (cohort_arcs leaves those arcs out).
    """

    def __init__(self, index: CatalogueIndex, arcs: CohortArcs) -> None:
        # Held until the last resolution is made: each unit's arcs and rows found by
        # where they start (the unit columns themselves are not kept), in the
        # narrowest types their values fit (arcs._narrowed: mentor and need indexes
        # and a priority sum int16 where they fit, locality 0-2, subject match 0-1;
        # the starts int32 while the arcs are fewer than 2**31): 6 bytes an arc and
        # 4 a row, 8 a unit, instead of 40, 24 and 16. The rows are as cohort_arcs
        # sorted them (by unit and mentor, a pair's rows in the unit's need order)
        self.arc_start = _starts_of(arcs.unit)
        self.mentor, self.prio, self.loc, self.nosubj = arcs[1:5]
        # (one search for every unit: serving runs for each unit left without a
        # mentor, most of them where mentors are scarce)
        self.row_start = _starts_of(arcs.row_unit)
        self.row_mentor, self.row_need = arcs.row_mentor, arcs.row_need

    def _rows(self, u: int) -> tuple[int, int]:
        """Unit ``u``'s rows: their slice in the sorted rows."""
        starts = self.row_start
        if u + 1 < len(starts):
            return int(starts[u]), int(starts[u + 1])
        return len(self.row_mentor), len(self.row_mentor)  # past the last unit with rows

    def serving(self, u: int) -> dict[int, list[int]]:
        """Need -> the positions of the mentors who could serve it, for unit ``u``
        (from its rows: in mentor order, as the rows are sorted)."""
        first, last = self._rows(u)
        out: dict[int, list[int]] = {}
        for m, i in zip(
            self.row_mentor[first:last].tolist(), self.row_need[first:last].tolist(), strict=True
        ):
            out.setdefault(i, []).append(m)
        return out

    def coded(self, u: int, a: int) -> tuple[int, tuple[tuple[Any, ...], ...]]:
        """Unit ``u``'s outcome when the flow chose its arc ``a``: the chosen one's
        position among the unit's candidates, and the candidates int-coded (see
        :data:`CodedChoice`)."""
        lo, hi = int(self.arc_start[u]), int(self.arc_start[u + 1])  # a placed unit has arcs
        first, last = self._rows(u)
        served: dict[int, list[int]] = {}
        for m, i in zip(
            self.row_mentor[first:last].tolist(), self.row_need[first:last].tolist(), strict=True
        ):
            served.setdefault(m, []).append(i)
        found = tuple(
            [
                (m, tuple(served[m]), p, loc, ns)
                for m, p, loc, ns in zip(
                    self.mentor[lo:hi].tolist(),
                    self.prio[lo:hi].tolist(),
                    self.loc[lo:hi].tolist(),
                    self.nosubj[lo:hi].tolist(),
                    strict=True,
                )
            ]
        )
        return a - lo, found


def _starts_of(units: np.ndarray) -> np.ndarray:
    """Where each unit's entries start in ``units`` (sorted), up to one past the last
    unit with entries: unit ``u``'s are ``starts[u]:starts[u + 1]``."""
    count = int(units.max()) + 2 if len(units) else 1
    starts = np.searchsorted(units, np.arange(count, dtype=units.dtype))
    return starts.astype(np.int32) if len(units) < 2**31 else starts


def _unplaced(
    index: CatalogueIndex,
    seeker: Seeker,
    needs: Sequence[Need],
    unit: Unit,
    serving: Mapping[int, Sequence[int]],
) -> dict[int, Why]:
    """Why each need of a unit that got no mentor is unmet: the places of the
    mentors who could serve it (``serving``: need -> their positions in the index)
    all went to others, or nobody can.

    The first reason is a function of those positions alone, kept per index by
    them: of 15,706 such needs of 4,000 synthetic people, 83 distinct lists.
    """
    full = index.memo("mentors full, by their positions")
    mentors = index.mentors
    out: dict[int, Why] = {}
    for i in unit.needs:
        at = serving.get(i)
        if not at:
            out[i] = why_not(index, seeker, needs[i], unit.form)
            continue
        key = tuple(at)
        why: Why | None = full.get(key)
        if why is None:
            why = index.remember(full, key, full_why([mentors[m].id for m in at], cohort=True))
        out[i] = why
    return out


def _mentee_bound(owners: np.ndarray, arcs: CohortArcs, capacity: np.ndarray) -> int:
    """The most owners any allocation could place: a max flow owner -> mentor -> sink.

    An owner with two units for one mentor gets two parallel arcs, which is
    harmless (an owner takes one unit of flow) and spares sorting 4 million
    pairs to remove them."""
    if not len(arcs.unit):
        return 0
    from ortools.graph.python import max_flow

    n_mentors = len(capacity)
    # only the owners of some arc: one without any carries no flow (the network,
    # with every owner, held a node and an arc for each: tens of bytes a person)
    codes, owner_of_arc = np.unique(owners[arcs.unit], return_inverse=True)
    n_owners = len(codes)
    first_mentor = 2 + n_owners
    solver = max_flow.SimpleMaxFlow()
    owner_nodes = 2 + np.arange(n_owners, dtype=np.int64)
    solver.add_arcs_with_capacity(
        np.zeros(n_owners, np.int64), owner_nodes, np.ones(n_owners, np.int64)
    )
    solver.add_arcs_with_capacity(
        owner_nodes[owner_of_arc.reshape(-1)],
        first_mentor + arcs.mentor,
        np.ones(len(arcs.unit), np.int64),
    )
    solver.add_arcs_with_capacity(
        first_mentor + np.arange(n_mentors, dtype=np.int64),
        np.ones(n_mentors, np.int64),
        capacity.astype(np.int64),
    )
    if solver.solve(0, 1) != solver.OPTIMAL:  # pragma: no cover - a max flow always exists
        return 0
    return int(solver.optimal_flow())


def _team_support(
    flags: Sequence[SchoolFlag],
    choices: Sequence[MentorChoice],
    recs: Sequence[Recommendation],
    unmet: Mapping[int, Why],
) -> list[TeamSupport]:
    """Each flag of one school with the mentor its form's unit got, if that mentor
    serves one of the flag's competencies (the school's needs are the flags'
    competencies, flag after flag: see _school_needs)."""
    by_form = {ch.unit.form: ch for ch in choices}
    reasons = {r.id: r.reason for r in recs}
    out = []
    start = 0
    for f in flags:
        mine = set(range(start, start + len(f.competencies)))
        start += len(f.competencies)
        ch = by_form.get(f.form)
        chosen = ch.chosen if ch is not None else None
        if chosen is not None and mine.intersection(chosen.served):
            out.append(TeamSupport(f, chosen.mentor.id, reasons[chosen.mentor.id]))
            continue
        why = [unmet[i].reason for i in sorted(mine) if i in unmet]
        out.append(TeamSupport(f, None, why[0] if why else "наставник не назначен"))
    return out


def plan_cohort(kb: KnowledgeBase, people: Sequence[Person | None]) -> CohortPlan:
    """Share out mentors, programme places and mentor teams across a diagnosed cohort.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base.
    people : sequence
        Per person, in input order: (validated Profile, diagnosed Result), or
        None for a person who could not be diagnosed.

    Returns
    -------
    CohortPlan
        Per person the Resolution; the school profiles, flags and team mentors;
        loads and figures.

    Raises
    ------
    EvaluationError
        If the flow solver fails (it should not: the problem is always feasible).
    """
    started = time.perf_counter()
    # making the rows walks the held cohort too: at 20 000 people, with the GC on,
    # it took 10 times longer (gcpause)
    with paused_gc(keep=True):
        rows = _rows(kb, people)
    return _timed_plan(kb, rows, started)


def plan_rows(kb: KnowledgeBase, rows: Sequence[PlanRow | None]) -> CohortPlan:
    """:func:`plan_cohort` from compact rows: what the plan reads of each person.

    A caller that diagnoses a large cohort keeps one :class:`~.rows.PlanRow`
    per person (:func:`~.rows.plan_row`) instead of their Profile and Result,
    and plans from those; the plan is the same.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the people were diagnosed with.
    rows : sequence
        Per person, in input order: their PlanRow, or None for a person who
        could not be diagnosed.

    Returns
    -------
    CohortPlan
        As :func:`plan_cohort` returns it.

    Raises
    ------
    EvaluationError
        If the flow solver fails (it should not: the problem is always feasible).
    """
    return _timed_plan(kb, rows, time.perf_counter())


def _rows(kb: KnowledgeBase, people: Sequence[Person | None]) -> list[PlanRow | None]:
    """The rows of diagnosed people (None for those not diagnosed)."""
    return [None if p is None or not p[1].ok else plan_row(kb, p[0], p[1]) for p in people]


def _timed_plan(kb: KnowledgeBase, rows: Sequence[PlanRow | None], started: float) -> CohortPlan:
    stream = StreamedPlan(kb, rows, started=started)
    resolutions = stream.take(len(rows), SharedValues())
    return dataclasses.replace(stream.finished(), resolutions=tuple(resolutions))


class StreamedPlan:
    """A cohort's plan whose Resolutions are handed out as they are made.

    :func:`plan_rows` returns every person's Resolution at once: at a national
    cohort's size those are gigabytes held together until the routes read them.
    Here the shared-out part of the plan (mentors, programme places, flagged
    schools) is made when the object is built, and each person's Resolution only
    when the caller takes it (:meth:`take`, in input order), so a caller that
    sends each part's Resolutions away as it takes them holds none of them; the
    plan's working data for a person, and its reference to their row, are dropped
    as their Resolution is made. The Resolutions, and :meth:`finished`'s plan,
    are those :func:`plan_rows` gives.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the people were diagnosed with.
    rows : sequence
        Per person, in input order: their PlanRow, or None. The sequence itself
        is not kept: once the caller drops it, each row is freed when its
        Resolution is made.
    started : float, optional
        When the plan started (``time.perf_counter``), if before this call.

    Raises
    ------
    EvaluationError
        If the flow solver fails (it should not: the problem is always feasible).
    """

    def __init__(
        self, kb: KnowledgeBase, rows: Sequence[PlanRow | None], *, started: float | None = None
    ) -> None:
        began = time.perf_counter()
        with paused_gc(keep=True):  # few objects per need, no cycles, kept: see gcpause
            self._work = _Work(kb, rows)
        self._next = 0
        # the plan's own time: what the caller does between two takes is not in it
        self._seconds = time.perf_counter() - (began if started is None else started)

    def __len__(self) -> int:
        return self._work.n_people

    def take(self, count: int, shared: SharedValues | None = None) -> list[Resolution | None]:
        """The next ``count`` people's Resolutions (fewer at the end), in input order.

        Parameters
        ----------
        count : int
            How many people.
        shared : SharedValues, optional
            Where equal recommendations and unmet needs are made one object
            (a fresh one per call when not given: one kept across calls would
            hold every distinct value the plan has made).

        Returns
        -------
        list
            Per person their Resolution, or None for one not diagnosed.
        """
        shared = SharedValues() if shared is None else shared
        return self._taken(count, lambda n: self._work.resolve(n, shared))

    def take_shares(self, count: int) -> list[PlanShare | None]:
        """The next ``count`` people's shares of the plan (fewer at the end), in input
        order: what :meth:`take` makes their Resolutions from besides their needs,
        int-coded, for a :class:`Resolver` where the needs are (a batch's workers).

        The plan counts the people taken either way (mentor load, people and units
        placed): each person is taken once, by this or :meth:`take`.

        Parameters
        ----------
        count : int
            How many people.

        Returns
        -------
        list
            Per person their PlanShare, or None for one not diagnosed.
        """
        return self._taken(count, self._work.share)

    def _taken(self, count: int, make: Callable[[int], _V]) -> list[_V]:
        """``make(n)`` for the next ``count`` people, in order; the rows let go after
        the last, and the time counted in the plan's."""
        began = time.perf_counter()
        stop = min(self._next + count, len(self))
        with paused_gc(keep=True):
            out = [make(n) for n in range(self._next, stop)]
        self._next = stop
        if stop == len(self):
            self._work.release()
        self._seconds += time.perf_counter() - began
        return out

    def tables(self) -> PlanTables:
        """What a :class:`Resolver` needs of the whole plan, sent once (not per part).

        Returns
        -------
        PlanTables
            The cohort's colleagues who mentor, and the programme outcomes' tables.
        """
        recs, whys = self._work.programmes.tables()
        return PlanTables(self._work.colleagues, recs, whys)

    def finished(self) -> CohortPlan:
        """The plan once every Resolution is taken: the schools' mentor teams, the
        loads and figures (its ``resolutions`` empty: they were taken).

        Returns
        -------
        CohortPlan
            As :func:`plan_rows` returns it, without the Resolutions.

        Raises
        ------
        UsageError
            If some people's Resolutions were not taken yet.
        """
        if self._next < len(self):
            raise UsageError(
                f"the plan is finished once every Resolution is taken: "
                f"{self._next} of {len(self)} so far"
            )
        began = time.perf_counter()
        with paused_gc():
            plan = self._work.finish()
        seconds = self._seconds + time.perf_counter() - began
        return dataclasses.replace(plan, stats=dataclasses.replace(plan.stats, seconds=seconds))


class _Work:
    """The plan's working data: the shared-out part made at once, then each
    person's Resolution made from it when asked for (see :class:`StreamedPlan`)."""

    def __init__(self, kb: KnowledgeBase, people: Sequence[PlanRow | None]) -> None:
        self.colleagues = colleagues = _colleagues(kb, people)
        self.index = _plan_index(kb, colleagues)
        # the mentors' flows first, then the programme places (the two are
        # independent): the passes' Python objects are the plan's peak, and the
        # flows' C++ graph (about 1.5 KB a person, outside Python's heap) was
        # added on top of the heap the passes left resident when the flows ran
        # after them; run before, it is freed and given back (_give_back_freed)
        # before the passes start. Each person's needs are sorted by kind where
        # they are read, not held sorted for the whole plan (about 1 KB a person)
        # a RowTable is kept as it is (a few hundred bytes a person, each row
        # decoded where read); a list of rows is copied, and each row freed from
        # the copy as its person's Resolution is made
        self.people: Sequence[PlanRow | None] = (
            people if isinstance(people, RowTable) else list(people)
        )
        self.n_people = len(self.people)
        # the people's mentor seekers are read with the demands (see _read)
        demands, order, self.seekers = _read(self.people)
        _give_back_freed()  # its sort keys and ids (see _give_back_freed)
        self.diagnosed = len(demands)
        self.schools = (
            _school_profiles(kb, self.people.school_entries())
            if isinstance(self.people, RowTable)
            else school_profiles_of(kb, (p for p in self.people if p is not None))
        )
        flags = flag_schools(kb, self.schools)
        self.flagged = _add_schools(self.seekers, flags)
        self.choices, self.exact, self.bound = _allocate_mentors(
            self.index, self.seekers, len(people)
        )
        n_people = len(people)
        runs = self.seekers.units
        self.mentees = sum(1 for n in range(n_people) if runs.count(n))
        self.units = runs.starts[n_people]
        _give_back_freed()  # the flows' C++ graph: see _give_back_freed
        # int-coded as made: about 80 bytes a person until their resolution, not
        # 1.1 KB; the passes are done: what follows reads only their outcome
        self.programmes, load = plan_programme_outcomes(kb, demands, order)
        del demands
        self.programme_load = dict(sorted(load.items()))
        self.slot = 0  # the next diagnosed person's place among the programme outcomes
        self.mentor_load: Counter[str] = Counter()
        self.placed = self.units_placed = 0
        self.resolver: Resolver | None = None  # made at the first resolve

    def resolve(self, n: int, shared: SharedValues) -> Resolution | None:
        """Person ``n``'s Resolution (people in input order, each once), and
        their working data and row let go: their share (:meth:`share`) resolved
        here, as a batch's worker resolves it."""
        people = self.people
        if isinstance(people, RowTable):
            # decoded once for this turn (see _Decoded), before the share lets it go
            needs = self.seekers.needs[n] if people.diagnosed(n) else None
        else:
            person = people[n]
            needs = None if person is None else person.needs
        share = self.share(n)
        if share is None or needs is None:
            return None
        if self.resolver is None:
            self.resolver = Resolver(self.index, self.programmes.tables())
        return self.resolver.resolve(share, needs, shared)

    def share(self, n: int) -> PlanShare | None:
        """Person ``n``'s share of the plan (people in input order, each once),
        counted in the plan's figures, and their working data and row let go."""
        people, seekers = self.people, self.seekers
        table = people if isinstance(people, RowTable) else None
        if (people[n] is None) if table is None else not table.diagnosed(n):
            return None
        units = self.choices.coded(n)  # made now, gone with this person's turn: see _Choices
        mentors = self.index.mentors
        placed = [mentors[found[a][0]].id for _unit, a, found in units if a >= 0]
        self.mentor_load.update(placed)
        self.placed += bool(placed)
        self.units_placed += len(placed)
        programmes, unmet = self.programmes.coded(self.slot)
        self.slot += 1
        share = PlanShare(seekers.seekers[n], units, programmes, unmet)
        # the person's row and seeker are read too (a RowTable's are a few ids)
        if table is None:
            assert isinstance(people, list) and isinstance(seekers.needs, list)
            assert isinstance(seekers.severities, list)
            people[n] = None
            seekers.needs[n] = ()
            seekers.severities[n] = _NO_SEVERITIES
        seekers.seekers[n] = _NOBODY
        return share

    def release(self) -> None:
        """Let the rows go once every person's Resolution is made (a list's rows
        went one by one; a RowTable's go together)."""
        self.people = []
        for column in (self.seekers.needs, self.seekers.severities):
            if isinstance(column, _Decoded):
                column.release()

    def finish(self) -> CohortPlan:
        """The schools' mentor teams, after every person's Resolution, and the figures."""
        first_school = self.n_people
        teams: list[TeamSupport] = []
        schools_placed = 0
        seekers = self.seekers
        for j, (_org, fl) in enumerate(self.flagged):
            k = first_school + j
            mine = self.choices[k]
            recs, unmet = mentor_recommendations(
                self.index, seekers.seekers[k], seekers.needs[k], mine, cohort=True
            )
            self.mentor_load.update(ch.chosen.mentor.id for ch in mine if ch.chosen)
            schools_placed += any(ch.chosen for ch in mine)
            teams.extend(_team_support(fl, mine, recs, unmet))
        stats = PlanStats(
            people=self.diagnosed,
            mentees=self.mentees,
            mentees_placed=self.placed,
            mentee_bound=self.bound,
            units=self.units,
            units_placed=self.units_placed,
            schools_flagged=len(self.flagged),
            schools_placed=schools_placed,
            exact=self.exact,
            programme_passes=self.programmes.passes,
            closed_groups=self.programmes.closed,
            seconds=0.0,  # the caller's clock: see StreamedPlan.finished
        )
        return CohortPlan(
            (),
            self.schools,
            tuple(teams),
            dict(sorted(self.mentor_load.items())),
            self.programme_load,
            stats,
        )


def _give_back_freed() -> None:
    """Return the C heap's free memory to the system (glibc's ``malloc_trim``;
    nothing elsewhere).

    The mentors' min-cost flow (OR-Tools, C++) allocates its graph with ``malloc``
    (about 1.5 KB a person) and frees it when solved; glibc keeps those pages for
    later ``malloc`` calls, but the programme passes that follow allocate mostly
    small Python objects, which come from Python's own arenas: without this, the
    freed flow stays resident under the passes' peak and the two add up. Called
    too where a step has just freed what the next one would not reuse (``_read``'s
    sort keys, the flow's arcs found and cut): the flows' numpy arrays and graph
    are then not laid beside them. Each call is a few milliseconds."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # TypeError: Windows takes no None path
        return None
    return trim


def _lean(rows: Sequence[PlanRow | None]) -> Iterable[PlanRow | None]:
    """The rows, a RowTable's without their group scores (see RowTable.lean): the
    programme demands and the seekers do not read them, and decoding them was
    about a fifth of decoding a row."""
    return rows.lean() if isinstance(rows, RowTable) else rows


def _plan_index(kb: KnowledgeBase, colleagues: Mapping[str, Mentor]) -> CatalogueIndex:
    """The plan's index: the KB's, or with colleagues the KB's pool and the colleagues."""
    if not colleagues:
        return kb.index
    return CatalogueIndex(kb.ontology, kb.programs, {**kb.mentors, **colleagues}, kb.formats)


class PlanShare(NamedTuple):
    """One person's share of a cohort plan, int-coded: what their Resolution is made
    from besides their needs and the plan's :class:`PlanTables` (see :class:`Resolver`).

    A few hundred bytes pickled, against a few kilobytes for the Resolution: a
    batch's parent sends these to the workers, which hold the people's needs.
    """

    seeker: Seeker
    mentors: tuple[CodedChoice, ...]  # per mentor unit (see CodedChoice)
    programmes: tuple[int, ...]  # positions in the tables' programme recommendations
    unmet: tuple[tuple[int, int], ...]  # (need, position of the reason) per unmet programme


class PlanTables(NamedTuple):
    """What resolving people's shares needs of the whole plan: the colleagues of the
    cohort who mentor (the plan's index is the KB's pool and them), the distinct
    programme recommendations and unmet reasons the shares point into."""

    colleagues: Mapping[str, Mentor]
    programmes: Sequence[Recommendation]
    reasons: Sequence[tuple[str, tuple[str, ...]]]


class Resolver:
    """People's Resolutions made from their :class:`PlanShare`: the per-person part
    of a plan (mentor reasons, formats, unmet needs), made where it is cheapest
    (:meth:`StreamedPlan.take` here, a batch's workers from
    :meth:`StreamedPlan.take_shares`), the same either way.

    Parameters
    ----------
    index : CatalogueIndex
        The plan's index (:meth:`of` makes it from the tables).
    tables : tuple
        The programme recommendations and reasons the shares point into.
    """

    def __init__(
        self,
        index: CatalogueIndex,
        tables: tuple[Sequence[Recommendation], Sequence[tuple[str, tuple[str, ...]]]],
    ) -> None:
        self.index = index
        self.programmes, self.reasons = tables

    @classmethod
    def of(cls, kb: KnowledgeBase, tables: PlanTables) -> Resolver:
        """The resolver of a plan of ``kb`` from its tables (sent from where it was made).

        Parameters
        ----------
        kb : KnowledgeBase
            The knowledge base the plan was made with.
        tables : PlanTables
            :meth:`StreamedPlan.tables`.

        Returns
        -------
        Resolver
            One that makes the plan's Resolutions.
        """
        return cls(_plan_index(kb, tables.colleagues), (tables.programmes, tables.reasons))

    def resolve(self, share: PlanShare, needs: Sequence[Need], shared: SharedValues) -> Resolution:
        """One person's Resolution.

        Parameters
        ----------
        share : PlanShare
            Their share of the plan.
        needs : sequence of Need
            Their Result's needs (their PlanRow's).
        shared : SharedValues
            Where equal recommendations and unmet needs are made one object.

        Returns
        -------
        Resolution
            As the plan resolves them.
        """
        index = self.index
        kinds = [need.kind for need in needs]
        # a need of another kind is rare: only then are the needs sorted by kind
        # for its reason (needs_by_kind words it)
        unknown = needs_by_kind(needs)[1] if not _KINDS.issuperset(kinds) else {}
        mine = decoded_choices(index, share.seeker, needs, share.mentors)
        recs, unmet = mentor_recommendations(index, share.seeker, needs, mine, cohort=True)
        formats, unmet_formats = resolve_formats(
            index, needs, [i for i, kind in enumerate(kinds) if kind == "format"], shared=True
        )
        reasons = self.reasons
        why: dict[int, Why | str] = {}
        for i, at in share.unmet:
            reason, exhausted = reasons[at]
            why[i] = Why(reason, "capacity" if exhausted else "catalogue", exhausted)
        why.update(unmet)
        why.update(unmet_formats)
        why.update(unknown)
        # the programme recommendations are one object per value across the plan
        # already (plan_programmes interns them), and the formats' across the KB's
        # plans (resolve_formats keeps them by their needs' identity, as made() would
        # share them): only the mentors' are shared here
        return Resolution(
            recommendations=(
                *map(self.programmes.__getitem__, share.programmes),
                *map(shared.made, recs),
                *formats,
            ),
            unmet=tuple([shared.unmet(needs[i], why[i]) for i in sorted(why)]),
        )


def _demand(
    row: PlanRow | None, n: int, idx: Sequence[int] | None = None, *, keyed: bool = True
) -> ProgrammeDemand | None:
    """Person ``n``'s programme demand from their row (``idx``: the positions of
    their programme needs, when known; None for a person not diagnosed; without
    its key, ``_UNKEYED``, when not ``keyed``: see _read)."""
    if row is None:
        return None
    needs = row.needs
    idx = tuple(_of_kind(needs, "program") if idx is None else idx)
    key = (*demand_key(needs, idx, row.severities), row.id, n) if keyed else _UNKEYED
    return ProgrammeDemand(
        row.role,
        row.subjects,
        row.levels,
        row.municipality,
        row.delivery,
        row.period,
        row.period_hours,
        tuple([needs[i] for i in idx]),
        idx,
        key,
    )


#: A demand's key when the service order is found apart (see _read)
_UNKEYED: tuple[()] = ()


def _of_kind(needs: Sequence[Need], kind: str) -> list[int]:
    """The indexes of the needs of one kind, in order: ``needs_by_kind(needs)[0][kind]``
    for a row's needs (Need objects: plan_row made them), where only one kind is
    read (needs_by_kind sorts every need into its list, and checks its type)."""
    return [i for i, need in enumerate(needs) if need.kind == kind]


def _programme_and_mentor(needs: Sequence[Need]) -> tuple[list[int], list[int]]:
    """``_of_kind(needs, "program")`` and ``_of_kind(needs, "mentor")`` in one reading."""
    programme: list[int] = []
    mentor: list[int] = []
    for i, need in enumerate(needs):
        kind = need.kind
        if kind == "program":
            programme.append(i)
        elif kind == "mentor":
            mentor.append(i)
    return programme, mentor
