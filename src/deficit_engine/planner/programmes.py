"""Programme places across a cohort: seats per period, cohort groups, minimum group size.

A programme may have no limit, ``seats`` for the plan period, or cohort
``groups`` (start month, seats, delivery). People are served in priority
order -- the most severe programme need first (weights as for mentors), then
more needs, then profile id -- each with the person's own set cover over the
programmes that still have a place for them (a group starting within their
route's period). An in-person programme (or group) opens in a municipality
only if at least ``min_group`` people there are placed on it: after a pass,
each (programme, municipality) below that is closed and the pass is redone,
until none is (each redo closes at least one pair, so this ends). A need whose
programmes had no place for the person is unmet with the cause ``capacity``,
naming what ran out (docs/route.md, "Cohort plans").
"""

from __future__ import annotations

import dataclasses
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, overload

from ..catalogue import CatalogueIndex
from ..errors import UsageError
from ..kb import KnowledgeBase
from ..models import Need, Recommendation
from ..months import month_label
from ..resolve.mentors import SEVERITY_WEIGHT
from ..resolve.programmes import Pick, candidates, programme_cover, programme_recommendations
from ..schema import Program
from .rows import SharedValues, _extend

__all__ = [
    "DemandHead",
    "Demands",
    "ProgrammeDemand",
    "ProgrammeOutcomes",
    "ProgrammePlace",
    "ProgrammesPlan",
    "plan_programme_outcomes",
    "plan_programmes",
]

_UNLIMITED = -1
#: A person without unmet programme needs: one empty tuple of (need, reason) pairs
#: for all of them (a pass builds each person's own and stores it whole).
_NO_UNMET: tuple[tuple[int, tuple[str, tuple[str, ...]]], ...] = ()
_NO_REASONS: tuple[tuple[int, UnmetWhy], ...] = ()  # as _NO_UNMET, for a cover


class ProgrammeDemand(NamedTuple):
    """One person's programme needs, as the planner reads them."""

    role: str
    subjects: frozenset[str]
    levels: frozenset[str]
    municipality: str | None
    prefs: tuple[str, ...]
    period: tuple[str, str]
    period_hours: float  # the hours the period holds: longer programmes come last
    # the programme needs, in order, and their positions among the person's needs
    # (only these are held: the passes read no other need, and a cohort's needs
    # held whole for the passes were a tuple of dozens a person)
    needs: tuple[Need, ...]
    idx: tuple[int, ...]
    # the service order (demand_key: the severities), or () when the order is
    # given to plan_programmes apart (a batch's parent does not hold the keys)
    key: tuple[int, int, str, int] | tuple[()]


class DemandHead(NamedTuple):
    """What a programme demand holds besides its needs: one value each, most
    people's equal to another's (a cohort has a few thousand), held once."""

    role: str
    subjects: frozenset[str]
    levels: frozenset[str]
    municipality: str | None
    prefs: tuple[str, ...]
    period: tuple[str, str]
    period_hours: float


class Demands(Sequence[ProgrammeDemand]):
    """A cohort's programme demands held as positions: what the passes read.

    Held as :class:`ProgrammeDemand` objects through the passes (the plan's peak),
    a demand was about 500 bytes a person (its named tuple, its needs' and their
    positions' tuples) and the passes' per-person record about 200 more. Here a
    demand is the position of its head (:class:`DemandHead`, equal ones held
    once) and a run of its programme needs' positions in a table of needs (a
    :class:`~.rows.RowTable`'s, or the distinct objects added, by identity) with
    their positions among the person's needs: about 20 bytes a person. The
    passes decode a person's needs where they read them (their first cover,
    a cover whose open programmes changed, their recommendations); ``demands[k]``
    makes the whole demand, equal to the one added, its needs the same objects,
    without a key (the service order is given apart: see :func:`plan_programmes`).

    Parameters
    ----------
    needs : sequence of Need, optional
        The table the positions given to :meth:`add` point into (not copied);
        without it, :meth:`add_needs` keeps the needs added, each object once.
    """

    def __init__(self, needs: Sequence[Need] | None = None) -> None:
        self.heads: list[DemandHead] = []  # the distinct heads
        # a head -> its position: the head found with a tuple of its fields (equal
        # to it), held only while demands are added (see close)
        self._head_ids: dict[tuple[Any, ...], int] = {}
        self.head_at = array("i")  # each demand's head
        self.values: Sequence[Need] = [] if needs is None else needs
        self._own_values = needs is None  # add_needs may append to values
        self._value_ids: dict[int, int] = {}  # by identity (add_needs)
        # the programme needs' positions in ``values`` and among the person's
        # needs: 16 bits wide until one does not fit (rows._extend)
        self._at, self._idx, self._ends = array("H"), array("H"), array("q", [0])
        # the last demand's needs decoded: a pass reads one person's needs for
        # their cover, then for their unmet needs' blocked programmes
        self._last: tuple[int, tuple[Need, ...]] = (-1, ())

    @classmethod
    def of(cls, demands: Iterable[ProgrammeDemand]) -> Demands:
        """Demands made objects held as positions (their keys dropped).

        Parameters
        ----------
        demands : iterable of ProgrammeDemand
            The demands, in order.

        Returns
        -------
        Demands
            The same demands, ``out[k]`` equal to the k-th but for its key.
        """
        out = cls()
        for d in demands:
            head = DemandHead(
                d.role, d.subjects, d.levels, d.municipality, d.prefs, d.period, d.period_hours
            )
            out.add_needs(head, d.needs, d.idx)
        out.close()
        return out

    def _head(self, head: tuple[Any, ...]) -> int:
        ids = self._head_ids
        found = ids.get(head)
        if found is None:  # the head held is its own key (a tuple equal to head)
            held = DemandHead(*head)
            found = ids[held] = len(self.heads)
            self.heads.append(held)
            return found
        if type(self.heads[found].period_hours) is type(head[-1]):
            return found
        # equal hours of another type are another head (the reasons print them):
        # keyed with their type, apart
        key = (head, type(head[-1]))
        found = ids.get(key)
        if found is None:
            found = ids[key] = len(self.heads)
            self.heads.append(DemandHead(*head))
        return found

    def close(self) -> None:
        """No more demands: let go the table that finds equal heads (held through
        the passes, it was about 40 bytes a person)."""
        self._head_ids = {}

    def add(self, head: tuple[Any, ...], at: Sequence[int], idx: Sequence[int]) -> None:
        """Add the next demand: its head, and per programme need its position in
        the table given and among the person's needs.

        Parameters
        ----------
        head : tuple
            The person's :class:`DemandHead`, or a tuple of its fields (held once
            per value, as a DemandHead).
        at, idx : sequence of int
            The programme needs' positions in the table and among the person's
            needs, in order.
        """
        self.head_at.append(self._head(head))
        self._at = _extend(self._at, at)
        self._idx = _extend(self._idx, idx)
        self._ends.append(len(self._at))

    def add_needs(self, head: tuple[Any, ...], needs: Sequence[Need], idx: Sequence[int]) -> None:
        """Add the next demand with its programme needs themselves (kept here, each
        object once: see :meth:`add`).

        Parameters
        ----------
        head : tuple
            As for :meth:`add`.
        needs : sequence of Need
            The programme needs, in order.
        idx : sequence of int
            Their positions among the person's needs.

        Raises
        ------
        UsageError
            If the demands were made over a table of needs (``Demands(needs)``).
        """
        values = self.values
        # a table given (even an empty one) is the caller's: never appended to
        if not self._own_values or not isinstance(values, list):
            raise UsageError("Demands.add_needs: these demands point into a table of needs")
        ids = self._value_ids
        at = []
        for need in needs:
            found = ids.get(id(need))
            if found is None:  # the list holds the need: its id is not reused
                found = ids[id(need)] = len(values)
                values.append(need)
            at.append(found)
        self.add(head, at, idx)

    def needs(self, k: int) -> tuple[Need, ...]:
        """Demand ``k``'s programme needs, in order (the objects added).

        Parameters
        ----------
        k : int
            The demand's position.

        Returns
        -------
        tuple of Need
            The needs.
        """
        last = self._last
        if last[0] == k:
            return last[1]
        ends = self._ends
        needs = tuple(map(self.values.__getitem__, self._at[ends[k] : ends[k + 1]]))
        self._last = (k, needs)
        return needs

    def idx(self, k: int) -> tuple[int, ...]:
        """Demand ``k``'s programme needs' positions among the person's needs.

        Parameters
        ----------
        k : int
            The demand's position.

        Returns
        -------
        tuple of int
            The positions, in order.
        """
        ends = self._ends
        return tuple(self._idx[ends[k] : ends[k + 1]])

    def has_needs(self, k: int) -> bool:
        """Whether demand ``k`` has a programme need."""
        ends = self._ends
        return ends[k + 1] > ends[k]

    def __len__(self) -> int:
        return len(self.head_at)

    @overload
    def __getitem__(self, k: int) -> ProgrammeDemand: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[ProgrammeDemand]: ...

    def __getitem__(self, k: int | slice) -> ProgrammeDemand | Sequence[ProgrammeDemand]:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):  # the arrays' reads would wrap round, not raise
            raise IndexError(f"demand index out of range: {k}")
        head = self.heads[self.head_at[k]]
        return ProgrammeDemand(*head, self.needs(k), self.idx(k), ())


class ProgrammePlace(NamedTuple):
    """A place a person was given: a programme and, if it has groups, the group's start."""

    programme: str
    group: str | None  # the group's start month


#: Why a programme need is unmet: the reason, and the programmes that ran out.
UnmetWhy = tuple[str, tuple[str, ...]]
_K = TypeVar("_K", bound=tuple[Any, ...])  # a tuple held once (see _Held.one)


@dataclass
class ProgrammesPlan:
    """Per person: the programme recommendations, the places, and unmet needs with reasons."""

    recommendations: list[Sequence[Recommendation]]
    places: list[Sequence[ProgrammePlace]]
    # per person (need, (reason, exhausted ids)) pairs, needs distinct, in the
    # cover's order: a tuple of pairs held once each (a dict a person was about
    # 220 bytes, held from its pass to the outcome's coding)
    unmet: list[Sequence[tuple[int, tuple[str, tuple[str, ...]]]]]
    closed: set[tuple[str, str | None]] = field(default_factory=set)  # (programme, municipality)
    passes: int = 1

    def load(self) -> Counter[str]:
        """Programme id -> people placed on it."""
        return Counter(p.programme for places in self.places for p in places)


class ProgrammeOutcomes:
    """A finished :class:`ProgrammesPlan`'s recommendations and unmet needs, int-coded.

    Held as the passes leave them (a tuple of recommendations and a dict of unmet
    needs a person then, and the places), a cohort's outcome was about 1.1 KB a
    person from the passes to each person's resolution; here each distinct recommendation
    and reason is held once, and a person is their positions in flat arrays (a
    few dozen bytes). The places are not kept: only the load reads them.

    The planner codes each person's outcome as the plan makes it
    (:func:`plan_programme_outcomes`): the plan's tuples of recommendations, a
    person's, are then never held all at once.

    Parameters
    ----------
    plan : ProgrammesPlan, optional
        The plan, once its passes are done; without it, the people are added
        one by one (:meth:`add`), then :meth:`done` is called.
    """

    def __init__(self, plan: ProgrammesPlan | None = None) -> None:
        self.passes = self.closed = 0
        self._recs: list[Recommendation] = []
        self._whys: list[UnmetWhy] = []
        # each distinct unmet (need, reason) pair once: as given (the passes hold
        # each one object), and as (need, the reason's position) for coded
        self._pairs: list[tuple[int, UnmetWhy]] = []
        self._pair_codes: list[tuple[int, int]] = []
        # a person's runs' ends 32 bits wide (4 bytes a person each), and an unmet
        # need a pair's position (4 bytes, not a need's and a reason's 8): about
        # 30 bytes a person less, made at the plan's peak (_recommend)
        self._made, self._made_ends = array("i"), array("I", [0])
        self._unmet, self._unmet_ends = array("i"), array("I", [0])
        # a recommendation and a pair by identity (the passes made each distinct
        # one one object; the lists hold them, so an id is not reused), a reason
        # by value
        self._rec_at: dict[int, int] = {}
        self._pair_at: dict[int, int] = {}
        self._why_at: dict[UnmetWhy, int] = {}
        if plan is not None:
            for recs, unmet in zip(plan.recommendations, plan.unmet, strict=True):
                self.add(recs, unmet)
            self.done(plan)

    def add(self, recs: Sequence[Recommendation], unmet: Sequence[tuple[int, UnmetWhy]]) -> None:
        """Code the next person's outcome.

        Parameters
        ----------
        recs : sequence of Recommendation
            Their programme recommendations, in order (equal ones one object).
        unmet : sequence of (int, (str, tuple of str))
            Their unmet programme needs, as the plan's ``unmet`` items.
        """
        rec_at, why_at = self._rec_at, self._why_at
        for rec in recs:
            at = rec_at.get(id(rec))
            if at is None:
                at = rec_at[id(rec)] = len(self._recs)
                self._recs.append(rec)
            self._made.append(at)
        self._made_ends.append(len(self._made))
        pair_at, coded = self._pair_at, self._unmet
        for pair in unmet:
            at = pair_at.get(id(pair))
            if at is None:
                at = pair_at[id(pair)] = len(self._pairs)
                self._pairs.append(pair)
                i, why = pair
                code = why_at.get(why)
                if code is None:
                    code = why_at[why] = len(self._whys)
                    self._whys.append(why)
                self._pair_codes.append((i, code))
            coded.append(at)
        self._unmet_ends.append(len(coded))

    def done(self, plan: ProgrammesPlan) -> None:
        """Note the plan's passes and closed pairs once every person is added (the
        tables that found each distinct value are let go).

        Parameters
        ----------
        plan : ProgrammesPlan
            The plan whose outcomes were added.
        """
        self.passes = plan.passes
        self.closed = len(plan.closed)
        self._rec_at, self._pair_at, self._why_at = {}, {}, {}

    def __len__(self) -> int:
        return len(self._made_ends) - 1

    def recommendations(self, slot: int) -> tuple[Recommendation, ...]:
        """One person's programme recommendations, as the plan made them.

        Parameters
        ----------
        slot : int
            The person's position among the plan's demands.

        Returns
        -------
        tuple of Recommendation
            The same objects as the plan's, in order.
        """
        ends = self._made_ends
        return tuple(map(self._recs.__getitem__, self._made[ends[slot] : ends[slot + 1]]))

    def unmet(self, slot: int) -> Iterator[tuple[int, UnmetWhy]]:
        """One person's unmet programme needs, as the plan's ``unmet`` items.

        Parameters
        ----------
        slot : int
            The person's position among the plan's demands.

        Yields
        ------
        tuple of (int, (str, tuple of str))
            The need's position among the person's needs, the reason and the
            programmes that ran out, in the plan's order.
        """
        first, last = self._unmet_ends[slot], self._unmet_ends[slot + 1]
        yield from map(self._pairs.__getitem__, self._unmet[first:last])

    def coded(self, slot: int) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
        """One person's outcome as positions in :meth:`tables` (sent to a worker
        that holds the tables: see ``planner.plan.Resolver``).

        Parameters
        ----------
        slot : int
            The person's position among the plan's demands.

        Returns
        -------
        tuple
            Their recommendations' positions, in order, and per unmet need
            (its position among the person's needs, its reason's position).
        """
        ends, unmet_ends = self._made_ends, self._unmet_ends
        first, last = unmet_ends[slot], unmet_ends[slot + 1]
        return (
            tuple(self._made[ends[slot] : ends[slot + 1]]),
            tuple(map(self._pair_codes.__getitem__, self._unmet[first:last])),
        )

    def tables(self) -> tuple[list[Recommendation], list[UnmetWhy]]:
        """The distinct recommendations and reasons that :meth:`coded` points into.

        Returns
        -------
        tuple
            The recommendations and the reasons (the lists themselves: not to be
            changed).
        """
        return self._recs, self._whys


def demand_key(
    needs: Sequence[Need], idx: Sequence[int], severities: Mapping[str, str]
) -> tuple[int, int]:
    """(-the most severe need's weight, -the weights summed): who is served first.

    Parameters
    ----------
    needs : sequence of Need
        A person's needs.
    idx : sequence of int
        The ones that count.
    severities : Mapping
        Competency -> the person's deficit severity.

    Returns
    -------
    tuple of int
        Less is served first.
    """
    weights = [
        SEVERITY_WEIGHT.get(severities.get(needs[i].competency or "", "low"), 1) for i in idx
    ]
    return (-max(weights, default=0), -sum(weights))


class _Places:
    """What is left of every limited programme during one pass."""

    def __init__(
        self, programs: Mapping[str, Program], closed: set[tuple[str, str | None]]
    ) -> None:
        self.programs = programs
        self.closed = closed
        self.seats = {p.id: p.seats for p in programs.values() if p.seats is not None}
        self.groups = {
            (p.id, g.start): g.seats
            for p in programs.values()
            for g in sorted(p.groups, key=lambda g: g.start)
        }
        # each programme's groups by start, sorted once (group_for runs per person)
        self.starts = {
            p.id: tuple(
                (g.start, g.delivery or p.delivery) for g in sorted(p.groups, key=lambda g: g.start)
            )
            for p in programs.values()
            if p.groups
        }
        self.reasons: dict[tuple[Any, ...], UnmetWhy] = {}  # see blocked

    def group_for(
        self, p: Program, period: tuple[str, str], municipality: str | None
    ) -> str | None:
        """The earliest group of ``p`` in ``period`` with a seat and open here, if any."""
        for start, delivery in self.starts[p.id]:
            if not (period[0] <= start <= period[1]) or self.groups[(p.id, start)] <= 0:
                continue
            if delivery == "in_person" and (p.id, municipality) in self.closed:
                continue
            return start
        return None

    def open_for(self, p: Program, period: tuple[str, str], municipality: str | None) -> bool:
        if p.groups:
            return self.group_for(p, period, municipality) is not None
        if p.delivery == "in_person" and (p.id, municipality) in self.closed:
            return False
        return self.seats.get(p.id, _UNLIMITED) != 0

    def take(self, p: Program, period: tuple[str, str], municipality: str | None) -> ProgrammePlace:
        if p.groups:
            start = self.group_for(p, period, municipality)
            assert start is not None
            self.groups[(p.id, start)] -= 1
            return ProgrammePlace(p.id, start)
        if p.id in self.seats:
            self.seats[p.id] -= 1
        return ProgrammePlace(p.id, None)

    def left(self, place: ProgrammePlace) -> int | None:
        """What is left of ``place``'s seats or group (None: it never runs out)."""
        if place.group is not None:
            return self.groups[(place.programme, place.group)]
        return self.seats.get(place.programme)

    def replay(self, taken: Sequence[ProgrammePlace]) -> None:
        """Take again the places a person took in the last pass (see _Drift)."""
        for place in taken:
            if place.group is not None:
                self.groups[(place.programme, place.group)] -= 1
            elif place.programme in self.seats:
                self.seats[place.programme] -= 1

    def blocked(
        self, blocked: Sequence[Program], period: tuple[str, str], municipality: str | None
    ) -> UnmetWhy:
        """The reason of a need whose admitting programmes ``blocked`` have no place
        for this person, and their ids: made once a pass for each (``blocked``,
        period, municipality) (the closed pairs are fixed within a pass), of which
        a cohort has a few hundred."""
        ids = tuple([p.id for p in blocked])
        key = (ids, period, municipality)
        found = self.reasons.get(key)
        if found is None:
            why = "; ".join(self.why_not(p, period, municipality) for p in blocked)
            found = self.reasons[key] = (f"нехватка мест в программах: {why}", ids)
        return found

    def why_not(self, p: Program, period: tuple[str, str], municipality: str | None) -> str:
        """Why ``p`` has no place for this person (Russian)."""
        if p.groups:
            inside = [g for g in p.groups if period[0] <= g.start <= period[1]]
            if not inside:
                return f"{p.id}: ни одна группа не начинается в периоде маршрута"
        if (p.id, municipality) in self.closed:
            return f"{p.id}: очная группа в муниципалитете не набрана"
        return f"{p.id}: места на период исчерпаны"


#: (role, subjects, levels) -> competency -> the programmes that admit such a person.
Eligible = dict[tuple[str, frozenset[str], frozenset[str]], dict[str, list[Program]]]
#: A person's last set cover: (the ids of their limited programmes that were shut,
#: which with their eligible lists says which programmes were open to them) -> the
#: programmes picked (see resolve.programmes.Pick) and unmet reasons by the need's
#: position among the programme needs. The cover is a pure function of those and
#: of the person, so a later pass that leaves the same programmes open reuses it;
#: the last pass's covers are made recommendations once the passes are done.
#: A pick held (see _Held): its needs served a tuple, the pick shared by equal ones.
Held = tuple[str, tuple[int, ...], tuple[str, int] | None]
#: The unmet reasons held as (position, reason) pairs, each pair shared (see _Held).
#: A person's cover is held as positions of these in _Held (see _Covers).
Found = tuple[tuple[Held, ...], tuple[tuple[int, UnmetWhy], ...]]


class _People(NamedTuple):
    """What every pass reads of the people besides their demands, found once
    before the passes (a named tuple a person, holding their needs, was about 200
    bytes: here a reference a person)."""

    # per demand, the ids of the programmes admitting them that can run out, each
    # once (empty: every pass agrees on this person, whatever the others take;
    # None: no programme need), equal tuples one object
    limited: list[tuple[str, ...] | None]
    # per head (Demands.heads): competency -> the programmes that admit such a
    # person, the table of every person of their role, subjects and levels (it
    # holds each of their needs' competencies)
    eligible: list[dict[str, list[Program]]]


def _people(index: CatalogueIndex, demands: Demands, unlimited: frozenset[str]) -> _People:
    memo: Eligible = {}
    eligible = [memo.setdefault((h.role, h.subjects, h.levels), {}) for h in demands.heads]
    limited: list[tuple[str, ...] | None] = []
    # equal tuples of limited ids held once: they are held through the passes, and
    # most people's equal another's (their kind's programmes for their competencies)
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    heads = demands.heads
    for k, h in enumerate(demands.head_at):
        if not demands.has_needs(k):
            limited.append(None)
            continue
        needs = demands.needs(k)
        known = _eligible(index, heads[h], needs, eligible[h])
        comps = dict.fromkeys(need.competency or "" for need in needs)
        mine = tuple(
            dict.fromkeys(p.id for comp in comps for p in known[comp] if p.id not in unlimited)
        )
        limited.append(seen.setdefault(mine, mine))
    return _People(limited, eligible)


def _unlimited(programs: Mapping[str, Program]) -> frozenset[str]:
    """The programmes that never run out: no seats, no groups, not in person."""
    return frozenset(
        p.id
        for p in programs.values()
        if p.seats is None and not p.groups and p.delivery != "in_person"
    )


class _Drift:
    """Where a pass's places taken so far differ from the last pass's at the same
    point of the service order: per (programme, group), new takes minus old ones,
    and the programmes where that makes a place open now that was not then, or
    the other way round.

    A seat or a group is open while what is left of it is above zero (the schema
    keeps seats from below zero, and a place is taken only while open); what was
    left at the same point of the last pass is what is left now plus the drift.
    Only where one of the two is zero does the drift change what a person finds
    (a programme with hundreds of seats drifted by a few is as open as before).
    A person none of whose limited programmes differs so, and none of them newly
    closed in their municipality, finds every one of them exactly as open, and in
    the same groups, as in the last pass: their outcome is the last pass's, and
    the pass only replays their places (which keeps the drift as it was).
    """

    def __init__(self, places: _Places) -> None:
        self.places = places
        self.delta: dict[ProgrammePlace, int] = {}
        # programme -> its places open now and not then, or then and not now
        self.off: dict[str, set[ProgrammePlace]] = {}

    def moved(self, places: Sequence[ProgrammePlace], by: int) -> None:
        """Count ``places`` as taken (``by`` 1) in this pass or (-1) in the last."""
        delta = self.delta
        for place in places:
            delta[place] = delta.get(place, 0) + by

    def recheck(self, places: Sequence[ProgrammePlace]) -> None:
        """Note whether each of ``places`` is open now as it was at this point of
        the last pass: after its drift or what is left of it changed."""
        delta, off = self.delta, self.off
        left = self.places.left
        for place in places:
            now = left(place)
            if now is None:  # never runs out: open either way
                continue
            then = now + delta.get(place, 0)
            if (now > 0) != (then > 0):
                off.setdefault(place.programme, set()).add(place)
            else:
                differing = off.get(place.programme)
                if differing is not None:
                    differing.discard(place)
                    if not differing:
                        del off[place.programme]

    def replayed(self, places: Sequence[ProgrammePlace]) -> None:
        """Note what a replay of ``places`` left: only a drifted place can change
        from open to not (or back) against the last pass."""
        delta = self.delta
        if any(delta.get(place) for place in places):
            self.recheck(places)

    def touches(self, limited: tuple[str, ...], municipality: str | None, closed: set[Any]) -> bool:
        """Whether one of the person's ``limited`` programmes is open otherwise than
        at this point of the last pass, or was newly closed (``closed``: the pairs
        closed since the last pass) where they work."""
        off = self.off
        return any(pid in off or (pid, municipality) in closed for pid in limited)


class _Made:
    """The programme recommendations of a plan, each distinct one made one object.

    Keyed by what makes one (SharedValues.made hashes the whole value, its needs
    field by field, and this runs for every recommendation of every pass): the
    programme, the reason, the attributes (their values' types are fixed per name)
    and the needs it serves by identity, as SharedValues.made shares a value only
    when its needs are the same objects. The table holds each value, and so its
    needs: an id in a key cannot be reused while the key is there.
    """

    def __init__(self) -> None:
        self.seen: dict[tuple[Any, ...], Recommendation] = {}

    def __call__(self, rec: Recommendation) -> Recommendation:
        """``rec``, or the recommendation made first with the same key."""
        return self.seen.setdefault((rec.id, rec.reason, rec.attrs, *map(id, rec.needs)), rec)


class _Shared(NamedTuple):
    """What a plan's passes intern their outcomes in."""

    values: SharedValues  # places
    made: _Made  # recommendations
    held: _Held  # the covers' picks and reasons


def _one_pass(
    index: CatalogueIndex,
    demands: Demands,
    people: _People,
    order: Sequence[int],
    plan: ProgrammesPlan,
    newly: set[tuple[str, str | None]] | None,
    covers: _Covers,
    shared: _Shared,
) -> None:
    """One pass in service order, writing each person's outcome into ``plan``.

    ``newly`` is None on the first pass (everyone is served); on a redo it holds
    the pairs just closed, and only the people :class:`_Drift` says may be served
    otherwise than last time are: the others' outcome stays, their places replayed.
    """
    programs = index.program_by_id
    places = _Places(programs, plan.closed)
    drift = _Drift(places)
    heads, head_at, limited_of = demands.heads, demands.head_at, people.limited
    for k in order:
        limited = limited_of[k]
        if limited is None:
            continue
        h = heads[head_at[k]]
        if newly is not None:
            if not limited:  # nothing they take can run out: as last pass
                continue
            if not drift.touches(limited, h.municipality, newly):
                places.replay(plan.places[k])
                drift.replayed(plan.places[k])
                continue
        key = _shut(places, h, limited)
        picks, _unmet_pairs = _cover(index, demands, k, h, key, covers)
        taken = [places.take(programs[pid], h.period, h.municipality) for pid, _s, _a in picks]
        if newly is not None:
            drift.moved(plan.places[k], -1)
            drift.moved(taken, 1)
            drift.recheck(plan.places[k])
            drift.recheck(taken)
        # a person given nothing keeps the empty outcome every person starts with;
        # one given something gets their own, stored whole (tuples, interned: most
        # people's are equal)
        # the places' tuple is interned whole (most people's equal another's), and
        # without a group the cover's own tuple of recommendations is kept (its
        # recommendations are interned already): a tuple a person less each
        # (the unmet needs' reasons are made from the last cover once the passes
        # are done: see _last_unmet)
        plan.places[k] = shared.values.one(tuple(map(shared.values.one, taken))) if taken else ()


def _shut(places: _Places, h: DemandHead, limited: tuple[str, ...]) -> tuple[str, ...]:
    """The ids of the person's ``limited`` programmes with no place for them now:
    what tells their cover apart from their other passes' (their eligible lists
    less those are the programmes open to them)."""
    if not limited:
        return ()
    programs = places.programs
    is_open = places.open_for
    period, municipality = h.period, h.municipality
    return tuple(pid for pid in limited if not is_open(programs[pid], period, municipality))


def _unmet(
    places: _Places,
    demands: Demands,
    k: int,
    h: DemandHead,
    eligible: Mapping[str, Sequence[Program]],
    shut: tuple[str, ...],
    unmet: Sequence[tuple[int, UnmetWhy]],
    held: _Held,
) -> tuple[tuple[int, UnmetWhy], ...]:
    """Person ``k``'s unmet programme needs with their reasons: when places ran
    out, which programmes were blocked (``shut``: their limited programmes with no
    place for them, see _shut) and why. ``unmet`` is the cover's: (the need's
    position among the programme needs, its reason with no programme run out),
    each pair held once (see _Held.pairs), so that a need no shut programme would
    serve takes its reason as it is: most do (of 4,000 synthetic people's 25,721
    unmet needs with some programme shut, 4,019 had one that admits them). The
    pairs returned are each the first equal one (``held``), in the cover's order."""
    idx = demands.idx(k)
    one = held.one
    if not shut:  # every programme open: none blocked
        return tuple([one((idx[j], why)) for j, why in unmet])
    out: list[tuple[int, UnmetWhy]] = []
    needs = demands.needs(k)
    for j, why in unmet:
        blocked = [p for p in eligible.get(needs[j].competency or "", ()) if p.id in shut]
        reason = places.blocked(blocked, h.period, h.municipality) if blocked else why
        out.append(one((idx[j], reason)))
    return tuple(out)


def _eligible(
    index: CatalogueIndex,
    h: DemandHead,
    needs: Sequence[Need],
    known: dict[str, list[Program]],
) -> dict[str, list[Program]]:
    """Competency -> the programmes that admit the person (people of one role,
    subjects and levels admit the same programmes: found once per competency),
    for their needs' competencies among others: ``known``, the table of their
    kind, shared by every person of it (a dict of their own was about 300 bytes a
    person), completed with their needs' competencies."""
    missing = [j for j, need in enumerate(needs) if (need.competency or "") not in known]
    if missing:  # one call for them all: each call copies the subjects and levels
        known.update(candidates(index, h.role, h.subjects, h.levels, needs, missing))
    return known


def _cover(
    index: CatalogueIndex,
    demands: Demands,
    k: int,
    h: DemandHead,
    key: tuple[str, ...],
    covers: _Covers,
) -> Found:
    """Person ``k``'s set cover over the programmes open to them: those that admit
    them less ``key``'s (see Cover); the last pass's, when the same ones are open.
    Only the picks are made: the passes read no recommendation (see _recommend)."""
    if covers.key_of(k) == key:
        return covers.found(k)
    needs = demands.needs(k)
    # which programmes serve each need is memoised per KB, by the person's
    # kind and the need (admits); the shut ones are left out of those
    made, reasons = programme_cover(
        index,
        h.role,
        h.prefs,
        needs,
        range(len(needs)),
        period_hours=h.period_hours,
        admits=(h.subjects, h.levels),
        shut=key,
    )
    held = covers.held
    return covers.put(k, held.at(key), held.picks(made), held.pairs(reasons))


class _Held:
    """Equal picks, unmet reasons and shut keys of the covers held once, each at
    its position (see _Covers); and the outcome's unmet pairs held once."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.seen: dict[Any, int] = {}
        self.same: dict[Any, Any] = {}  # value -> the first equal one (see one)

    def at(self, value: Any) -> int:
        """The position of ``value``, or of the first equal one."""
        found = self.seen.get(value)
        if found is None:
            found = self.seen[value] = len(self.items)
            self.items.append(value)
        return found

    def picks(self, picks: Sequence[Pick]) -> list[int]:
        """The positions of ``picks`` as held: their needs a tuple."""
        seen, items = self.seen, self.items
        out = []
        for pid, served, alt in picks:
            pick = (pid, tuple(served), alt)
            found = seen.get(pick)
            if found is None:
                found = seen[pick] = len(items)
                items.append(pick)
            out.append(found)
        return out

    def one(self, value: _K) -> _K:
        """An unmet (need, reason) pair of the plan's outcome, or a reason: the
        first equal one."""
        found: _K = self.same.setdefault(value, value)
        return found

    def pairs(self, reasons: Mapping[int, str]) -> list[int]:
        """The positions of (``j``, (``reason``, no programme run out)) for each
        item of ``reasons`` (see _unmet)."""
        seen, items, same = self.seen, self.items, self.same
        out = []
        for j, reason in reasons.items():
            why = (reason, ())
            pair = (j, same.setdefault(why, why))
            found = seen.get(pair)
            if found is None:
                found = seen[pair] = len(items)
                items.append(pair)
            out.append(found)
        return out


class _Covers:
    """Each person's last cover (see Cover), held from one pass to the next and
    to their recommendations: the position of its shut key, and a run of its
    picks' and unmet pairs' positions (see _Held).

    Held as tuples (the key and the cover's, the picks', the pairs'), a cover was
    about 250 bytes a person at the passes' peak; here it is about 30. A person
    covered again gets a new run at the end; the runs left behind are dropped
    when they are more than those in use (:meth:`compact`, between passes).
    """

    def __init__(self, people: int, held: _Held) -> None:
        self.held = held
        self.key = array("i", [-1]) * people  # -1: not covered yet
        self.start = array("q", [0]) * people
        self.picks = array("I", [0]) * people
        self.reasons = array("I", [0]) * people
        self.run = array("i")
        self.dead = 0  # items of runs left behind

    def key_of(self, k: int) -> tuple[str, ...] | None:
        """Person ``k``'s last cover's shut key, or None before their first."""
        at = self.key[k]
        if at < 0:
            return None
        found: tuple[str, ...] = self.held.items[at]
        return found

    def picks_of(self, k: int) -> tuple[Held, ...]:
        """Person ``k``'s last picks, the held objects."""
        first = self.start[k]
        return tuple(map(self.held.items.__getitem__, self.run[first : first + self.picks[k]]))

    def found(self, k: int) -> Found:
        """Person ``k``'s last picks and unmet pairs, the held objects."""
        first = self.start[k]
        middle = first + self.picks[k]
        items, run = self.held.items, self.run
        picks = tuple(map(items.__getitem__, run[first:middle]))
        if not self.reasons[k]:
            return picks, _NO_REASONS
        return picks, tuple(map(items.__getitem__, run[middle : middle + self.reasons[k]]))

    def put(self, k: int, key: int, picks: Sequence[int], reasons: Sequence[int]) -> Found:
        """Hold person ``k``'s new cover (positions in ``held``) and return it."""
        if self.key[k] >= 0:
            self.dead += self.picks[k] + self.reasons[k]
        run = self.run
        self.key[k], self.start[k] = key, len(run)
        self.picks[k], self.reasons[k] = len(picks), len(reasons)
        run.extend(picks)
        run.extend(reasons)
        items = self.held.items
        found = tuple(map(items.__getitem__, picks))
        return found, tuple(map(items.__getitem__, reasons)) if reasons else _NO_REASONS

    def recommending(self) -> None:
        """Let go what only the passes read, once they are done: ``held``'s table
        that finds the position of what it holds (a few MB at 200,000 people).
        The shut keys, the unmet pairs and the table that holds each pair once
        are read once more, for the unmet needs (``_last_unmet``).

        The recommendations are made after the last pass (``_recommend``), and the
        outcome they are coded into grows with the cohort: made where the table
        was freed, the plan's peak is lower."""
        self.held.seen = {}

    def compact(self) -> None:
        """Drop the runs left behind when they are more than those in use."""
        if self.dead * 2 <= len(self.run):
            return
        old, run = self.run, array("i")
        start, picks, reasons = self.start, self.picks, self.reasons
        for k in range(len(start)):
            first = start[k]
            start[k] = len(run)
            run.extend(old[first : first + picks[k] + reasons[k]])
        self.run, self.dead = run, 0


def _recommend(
    index: CatalogueIndex,
    demands: Demands,
    covers: _Covers,
    eligible: Sequence[Mapping[str, Sequence[Program]]],
    plan: ProgrammesPlan,
    made_once: _Made,
    into: ProgrammeOutcomes | None = None,
) -> None:
    """Each person's recommendations, from their last cover and places, into ``plan``.

    A redo pass covers a person again, and most of the first pass's covers are
    redone: made in the passes, a recommendation was made for every cover (about
    1.5 a person's). Its recommendations are interned (``made_once``): most
    people's are equal to another's; one naming its group is new.

    A pick's recommendation is a function of the programme, the needs it serves
    (by identity: ``made_once`` holds them), the runner-up, the requested
    deliveries and the period's hours (by repr, as the reasons print them): on
    3,000 synthetic people, 13,711 picks are 4,892 distinct ones, each made once.
    The covers are let go once read (the recommendations are the plan's peak).
    With ``into``, each person's recommendations and unmet needs are coded there
    in input order instead of stored in ``plan``: a tuple a person less at the peak.
    Each person's unmet needs are made here, from their last cover
    (:func:`_last_unmet`), not held from pass to pass.
    """
    made: dict[tuple[Any, ...], Recommendation] = {}
    heads, head_at = demands.heads, demands.head_at
    places = _Places(index.program_by_id, plan.closed)  # the reasons' (see _last_unmet)
    for k, picks in enumerate(covers.picks):
        unmet = _last_unmet(places, demands, eligible, covers, k)
        if into is None and unmet:
            plan.unmet[k] = unmet
        if not picks:
            if into is not None:
                into.add((), unmet)
            continue
        h = heads[head_at[k]]
        needs, prefs, hours = demands.needs(k), h.prefs, h.period_hours
        person = (prefs, repr(hours))
        out = []
        for pick, place in zip(covers.picks_of(k), plan.places[k], strict=True):
            pid, served, alt = pick
            key = (pid, alt, person, *[id(needs[i]) for i in served])
            rec = made.get(key)
            if rec is None:
                rec = made[key] = made_once(
                    programme_recommendations(
                        index, prefs, needs, [(pid, list(served), alt)], hours
                    )[0]
                )
            out.append(rec if place.group is None else made_once(_with_place(rec, place)))
        if into is None:
            plan.recommendations[k] = tuple(out)
        else:
            into.add(out, unmet)


def _last_unmet(
    places: _Places,
    demands: Demands,
    eligible: Sequence[Mapping[str, Sequence[Program]]],
    covers: _Covers,
    k: int,
) -> tuple[tuple[int, UnmetWhy], ...]:
    """Person ``k``'s unmet programme needs with their reasons (see _unmet), made
    from their last cover once the passes are done, with the plan's closed pairs
    (``places``: a pass's places, for the reasons alone).

    Held from the pass that made them to the outcome's coding, they were about
    80 bytes a person at the passes' end, the plan's peak. Made here they are the
    same: a cover's shut key and unmet pairs are the last pass's that served the
    person, and a reason reads, of the places, only whether each programme shut
    for the person is closed in their municipality (see _Places.why_not). A
    person a later pass did not serve again had none of their limited programmes
    newly closed where they work (_Drift.touches), so that is what it was when
    their cover was made; the rest of a reason is the catalogue's."""
    at = covers.key[k]
    if at < 0 or not covers.reasons[k]:  # never covered, or nothing unmet
        return _NO_UNMET
    held = covers.held
    first = covers.start[k] + covers.picks[k]
    unmet = tuple(map(held.items.__getitem__, covers.run[first : first + covers.reasons[k]]))
    h = demands.heads[demands.head_at[k]]
    shut: tuple[str, ...] = held.items[at]
    return _unmet(places, demands, k, h, eligible[demands.head_at[k]], shut, unmet, held)


def _with_place(rec: Recommendation, place: ProgrammePlace) -> Recommendation:
    """The recommendation, naming the group the person was placed in."""
    if place.group is None:
        return rec
    return dataclasses.replace(
        rec,
        reason=rec.reason[:-1]
        + f"; место в группе с началом обучения в {month_label(place.group)}.",
        attrs=(*rec.attrs, ("group_start", place.group)),
    )


def _undersized(
    kb: KnowledgeBase, demands: Demands, plan: ProgrammesPlan
) -> set[tuple[str, str | None]]:
    """(programme, municipality) pairs of in-person places below the minimum group."""
    programs = kb.programs
    counts: Counter[tuple[str, str | None]] = Counter()
    heads, head_at = demands.heads, demands.head_at
    for k, places in enumerate(plan.places):
        for place in places:
            p = programs[place.programme]
            delivery = p.delivery
            if place.group is not None:
                group = next(g for g in p.groups if g.start == place.group)
                delivery = group.delivery or p.delivery
            if delivery == "in_person":
                counts[(p.id, heads[head_at[k]].municipality)] += 1
    default = kb.planning.planning.min_group
    return {
        pair for pair, count in counts.items() if count < (programs[pair[0]].min_group or default)
    }


def plan_programme_outcomes(
    kb: KnowledgeBase, demands: Demands, order: Sequence[int]
) -> tuple[ProgrammeOutcomes, Counter[str]]:
    """:func:`plan_programmes`' plan, each person's outcome coded as it is made.

    Parameters
    ----------
    kb : KnowledgeBase
        As for :func:`plan_programmes`.
    demands : Demands
        The demands, in input order.
    order : sequence of int
        Their positions in the order they are served.

    Returns
    -------
    tuple
        The outcomes, as ``ProgrammeOutcomes(plan_programmes(...))`` codes them,
        and the plan's load (:meth:`ProgrammesPlan.load`).
    """
    outcomes = ProgrammeOutcomes()
    plan = _plan(kb, demands, order, outcomes)
    outcomes.done(plan)
    return outcomes, plan.load()


def plan_programmes(
    kb: KnowledgeBase, demands: Sequence[ProgrammeDemand], order: Sequence[int] | None = None
) -> ProgrammesPlan:
    """Share out programme places across a cohort (see the module docstring).

    Parameters
    ----------
    kb : KnowledgeBase
        The KB (catalogue and ``planning.min_group``).
    demands : sequence of ProgrammeDemand
        One per person, in input order: a list, or :class:`Demands` (the
        planner's, held as positions; their demands have no key).
    order : sequence of int, optional
        The positions of ``demands`` in the order they are served: by their
        ``key`` when not given (the demands' keys are then not read).

    Returns
    -------
    ProgrammesPlan
        Per person (input order): recommendations, places and unmet needs.

    Raises
    ------
    UsageError
        If ``order`` is not given and a demand has no key (one made for a plan that
        finds the service order apart): sorting by it would serve people in input
        order without a word.
    """
    if order is None:
        if any(not demand.key for demand in demands):
            raise UsageError("plan_programmes: a demand without a key needs the order given")
        order = sorted(range(len(demands)), key=lambda k: demands[k].key)
    return _plan(kb, demands if isinstance(demands, Demands) else Demands.of(demands), order)


def _plan(
    kb: KnowledgeBase,
    demands: Demands,
    order: Sequence[int],
    into: ProgrammeOutcomes | None = None,
) -> ProgrammesPlan:
    """:func:`plan_programmes` over demands held as positions (``into``: see _recommend)."""
    people = _people(kb.index, demands, _unlimited(kb.index.program_by_id))
    shared = _Shared(SharedValues(), _Made(), _Held())
    covers = _Covers(len(demands), shared.held)
    n = len(demands)
    # every person's outcome starts empty and shared (see _one_pass); a redo
    # rewrites only the outcomes that change, in place; the recommendations are
    # made once the passes are done, from each person's last cover (coded into
    # ``into`` when given: the plan's list of them is then left empty, 8 bytes a
    # person less at the passes' peak)
    plan = ProgrammesPlan(
        [] if into is not None else [()] * n,
        [()] * n,
        [] if into is not None else [_NO_UNMET] * n,
    )
    newly: set[tuple[str, str | None]] | None = None
    while True:
        _one_pass(kb.index, demands, people, order, plan, newly, covers, shared)
        covers.compact()
        small = _undersized(kb, demands, plan)
        if not small:
            # what only the passes read is let go before the recommendations are
            # made: they are the plan's peak (see _Covers.recommending)
            eligible = people.eligible
            del people
            covers.recommending()
            _recommend(kb.index, demands, covers, eligible, plan, shared.made, into)
            return plan
        plan.closed |= small
        plan.passes += 1
        newly = small
