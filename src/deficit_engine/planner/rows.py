"""What the cohort plan reads of one diagnosed person: a compact row.

A whole Profile and Result per person is far more than a plan needs (a Result
carries facts, scores of every instrument, the trace...): at a national
cohort's size (about 1.1 million people) holding them all is gigabytes. The
planner reads only a :class:`PlanRow` per person, which a caller may build as
soon as the person is diagnosed (:func:`plan_row`) and keep instead of the
Profile and the Result (docs/route.md, "Cohort plans").

Most of a row repeats from person to person: the same places, subjects, needs,
deficits and severities. :class:`SharedValues` makes equal parts of many rows
one object, so that a cohort's rows cost little more than their ids and the
tuples that hold the shared parts, and pickle small (pickle writes an object
it has seen once as a reference).
"""

from __future__ import annotations

import bisect
import operator
import os
import pickle
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar, overload

from ..kb import KnowledgeBase
from ..models import Need, Recommendation, Result, Unmet
from ..period import period_hours, settings, working_months
from ..resolve import person_levels
from ..resolve.mentors import Why
from ..schema import Profile

__all__ = ["PlanRow", "RowTable", "SharedValues", "plan_row"]

_T = TypeVar("_T")
_Made = TypeVar("_Made", Recommendation, Unmet)


class PlanRow(NamedTuple):
    """One diagnosed person, as the cohort plan reads them.

    Attributes
    ----------
    id : str
        The profile's id (the last tie-break of who gets a programme place first).
    role : str
        The person's role.
    organization, municipality : str or None
        Where they work (locality of mentors, school profiles, in-person groups).
    subjects : frozenset of str
        The subjects they teach.
    levels : frozenset of str
        The levels of education they work at (``resolve.person_levels``).
    delivery : tuple of str
        The programme deliveries they asked for.
    period : tuple of (str, str)
        Their route's first and last month.
    period_hours : float
        The hours that period holds (longer programmes come last).
    needs : tuple of Need
        The Result's needs, in order.
    severities : Mapping
        Competency -> the severity of their deficit on it.
    group_pct : Mapping
        Competency group -> their score in it, in percent (school profiles).
    deficits : tuple of (str or None, str, str)
        (group, competency, severity) of each deficit (school profiles).
    strengths : tuple of str
        The competencies they could mentor colleagues in: at
        ``planning.colleague_level`` or above without a deficit, when the KB's
        ``planning.colleague_mentors`` is on (else empty).
    """

    id: str
    role: str
    organization: str | None
    municipality: str | None
    subjects: frozenset[str]
    levels: frozenset[str]
    delivery: tuple[str, ...]
    period: tuple[str, str]
    period_hours: float
    needs: tuple[Need, ...]
    severities: Mapping[str, str]
    group_pct: Mapping[str, float]
    deficits: tuple[tuple[str | None, str, str], ...]
    strengths: tuple[str, ...]


def plan_row(kb: KnowledgeBase, profile: Profile, result: Result) -> PlanRow:
    """The row the cohort plan reads of one diagnosed person.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB the person was diagnosed with (levels of subjects, the planning
        calendar, the colleague settings).
    profile : Profile
        The validated profile.
    result : Result
        Its diagnosed Result (``ok``).

    Returns
    -------
    PlanRow
        What the plan needs of the person, and nothing else.
    """
    person = profile.person
    start, end, _hours, _defaults = settings(profile, None)
    scores = result.scores
    return PlanRow(
        id=profile.id,
        role=person.role,
        organization=person.organization,
        municipality=person.municipality,
        subjects=frozenset(person.subjects),
        levels=person_levels(kb, person),
        delivery=tuple(profile.preferences.delivery),
        period=(start, end),
        period_hours=period_hours(profile, kb.planning.planning.calendar),
        needs=tuple(result.needs),
        severities=result.severities,
        group_pct=dict(scores.group_pct) if scores is not None else {},
        deficits=tuple((d.group, d.competency, d.severity) for d in result.deficits),
        strengths=_strengths(kb, result),
    )


def _strengths(kb: KnowledgeBase, result: Result) -> tuple[str, ...]:
    """Competencies at the colleague level or above without a deficit (see PlanRow)."""
    planning = kb.planning.planning
    if not planning.colleague_mentors or result.scores is None:
        return ()
    levels = kb.scale.ids
    strong = set(levels[levels.index(planning.colleague_level or levels[-1]) :])
    weak = {d.competency for d in result.deficits}
    return tuple(
        sorted(
            c
            for c, level in result.scores.competency_level.items()
            if level in strong and c not in weak
        )
    )


class SharedValues:
    """Equal values of many PlanRows made one object (see the module's docstring).

    Only values whose equality means the same output are shared: Python holds
    ``1``, ``1.0`` and ``True`` equal, and a need's filter may hold a number bound
    from a person's facts, so numbers are shared by type and value, and a need is
    shared only when its filters are all text (a need with a number or a list among
    them stays its own). The mappings of a row (``severities``, ``group_pct``) are
    shared too: the plan only reads them.
    """

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}
        self._made: dict[Any, Any] = {}  # see made()
        self._unmet: dict[tuple[Any, ...], Unmet] = {}  # see unmet()

    def one(self, value: _T) -> _T:
        """The first value equal to ``value`` this object was given: for text, None,
        and tuples and frozensets of text (where equal means the same).

        Parameters
        ----------
        value : hashable
            A value.

        Returns
        -------
        object
            ``value``, or the equal value seen first.
        """
        found: _T = self._seen.setdefault(value, value)
        return found

    def number(self, value: _T) -> _T:
        """:meth:`one` for a number: shared only with numbers of its type.

        Parameters
        ----------
        value : int or float
            A number.

        Returns
        -------
        int or float
            ``value``, or the equal number of the same type seen first.
        """
        found: _T = self._seen.setdefault((type(value), value), value)
        return found

    def need(self, need: Need) -> Need:
        """:meth:`one` for a need whose filters are all text; any other need itself.

        Parameters
        ----------
        need : Need
            A need.

        Returns
        -------
        Need
            ``need``, or the equal need seen first.
        """
        if all(type(value) is str for _name, value in need.filters):
            return self.one(need)
        return need

    def mapping(self, value: Mapping[str, _T]) -> Mapping[str, _T]:
        """The first mapping with the same items, in the same order and of the same
        types, as ``value``.

        Parameters
        ----------
        value : Mapping
            A mapping of hashable values.

        Returns
        -------
        Mapping
            ``value``, or the equal mapping seen first.
        """
        key = (tuple(value.items()), tuple(map(type, value.values())))
        found: Mapping[str, _T] = self._seen.setdefault(key, value)
        return found

    def keyed(self, value: _T, key: Any) -> _T:
        """The first value given with a key equal to ``key`` (the caller's key says
        what makes two values the same); ``value`` itself when the key is not
        hashable.

        Parameters
        ----------
        value : object
            A value.
        key : object
            What identifies it.

        Returns
        -------
        object
            ``value``, or the value first given with that key.
        """
        try:
            found: _T = self._seen.setdefault(("keyed", key), value)
        except TypeError:  # a list somewhere in the key: not shared
            return value
        return found

    def made(self, value: _Made) -> _Made:
        """A recommendation or unmet need, shared with an equal one only when their
        needs are the same objects (the rows share a need only when it prints the
        same: :meth:`need`) and their attributes' values of the same types.

        Parameters
        ----------
        value : Recommendation or Unmet
            What a plan made for one person.

        Returns
        -------
        Recommendation or Unmet
            ``value``, or the equal one first given.
        """
        # keyed by the value alone: most values a plan makes are one person's own,
        # and a key tuple per value (its needs' ids, its attributes' types) would
        # cost more than the values shared save; the rare equal value that would
        # print differently is told apart by that key in the second lookup
        try:
            found: _Made = self._made.setdefault(value, value)
        except TypeError:  # a list among its attributes: not shared
            return value
        if found is value or _alike(found, value):
            return found
        return self.keyed(value, (value, *_printing(value)))

    def unmet(self, need: Need, why: str | Why) -> Unmet:
        """``unmet_of(need, why)``, shared as :meth:`made` shares an unmet need (with
        an equal one of the same need object), but found by the need's identity and
        the reason's parts: for one seen before, no Unmet is made, nor is its need
        hashed field by field.

        Parameters
        ----------
        need : Need
            The need.
        why : str or Why
            Why it is unmet (a plain reason: cause ``catalogue``).

        Returns
        -------
        Unmet
            The unmet need, or the equal one first made.
        """
        # the key holds what Unmet holds, the need by identity: the value kept
        # with it holds the need, so its id is not reused while the key is here
        reason, cause, exhausted = (why, "catalogue", ()) if isinstance(why, str) else why
        key = (id(need), reason, cause, exhausted)
        found: Unmet | None = self._unmet.get(key)
        if found is None:
            found = self._unmet[key] = Unmet.of(need, reason, cause, exhausted)
        return found

    def row(self, row: PlanRow) -> PlanRow:
        """``row`` with its parts shared with the rows seen before.

        Parameters
        ----------
        row : PlanRow
            A row.

        Returns
        -------
        PlanRow
            An equal row.
        """
        one = self.one
        return PlanRow(
            id=row.id,
            role=one(row.role),
            organization=one(row.organization),
            municipality=one(row.municipality),
            subjects=one(row.subjects),
            levels=one(row.levels),
            delivery=one(row.delivery),
            period=one(row.period),
            period_hours=self.number(row.period_hours),
            needs=tuple(map(self.need, row.needs)),
            severities=self.mapping(row.severities),
            group_pct=self.mapping(row.group_pct),
            deficits=one(tuple(map(one, row.deficits))),
            strengths=one(row.strengths),
        )


def _printing(value: Recommendation | Unmet) -> tuple[tuple[int, ...], tuple[type, ...]]:
    """What tells apart equal values that print differently: the identity of their
    needs, and the types of their attributes' values (``1 == 1.0 == True``)."""
    needs = value.needs if isinstance(value, Recommendation) else (value.need,)
    attrs: tuple[tuple[str, Any], ...] = value.attrs if isinstance(value, Recommendation) else ()
    return tuple(map(id, needs)), tuple(type(v) for _name, v in attrs)


def _alike(a: Recommendation | Unmet, b: Recommendation | Unmet) -> bool:
    """Whether two equal values print the same (see _printing), compared in place:
    this runs on every value shared, and two key tuples each time cost CPU."""
    if isinstance(a, Unmet) or isinstance(b, Unmet):
        return isinstance(a, Unmet) and isinstance(b, Unmet) and a.need is b.need
    # equal values: as many needs and attributes on both sides
    return all(x is y for x, y in zip(a.needs, b.needs, strict=True)) and all(
        type(v) is type(w) for (_n, v), (_m, w) in zip(a.attrs, b.attrs, strict=True)
    )


#: The fields of a row held by one id each in a RowTable (the others are coded apart).
_HEAD = ("role", "organization", "municipality", "subjects", "levels", "delivery", "period")
_WIDTH = len(_HEAD) + 2  # and period_hours and strengths
#: The head's fields whose values are text, None, or tuples or sets of them, in
#: the head's order (period_hours, a number, goes before strengths).
_TEXT_FIELDS = operator.attrgetter(*_HEAD, "strengths")
_NOT_DIAGNOSED = -1  # a person without a row: their first id
_FROM_DEFICITS = -1  # severities made from the deficits, as plan_row makes them
_RECENT = 1024  # the needs a RowTable finds by identity, at most (see its _recent)
#: A deficit as a row holds it: (group, competency, severity), made at C speed
_TRIPLE = operator.attrgetter("group", "competency", "severity")
_FLOATS = frozenset({float})  # group scores coded as a run of floats when all are
_NO_SCORES: Mapping[str, float] = MappingProxyType({})  # see RowTable.lean
#: A spilled RowTable's open rows are written out once they are this many: a
#: batch's parent merges a share (up to 4,096 people) at a time, and a part read
#: back is about 300 bytes a person
_SPILL_ROWS = 1024
#: A RowTable's columns of people, as a spilled part holds them (see _Part)
_COLUMNS = (
    "_ids",
    "_head",
    "_needs",
    "_need_ends",
    "_deficits",
    "_deficit_ends",
    "_groups",
    "_pct",
    "_pct_ends",
    "_severities",
)


def _extend_runs(
    items: array[Any], ends: array[int], more: Sequence[Any], more_ends: array[int]
) -> array[Any]:
    """Runs of items (``items[ends[n]:ends[n + 1]]``) extended with another table's:
    the items, widened if they had to be (see _extend)."""
    base = len(items)
    items = _extend(items, more)
    ends.extend([base + end for end in more_ends[1:]])
    return items


#: A positions' array's next wider type: 16 bits, then 32, then 64
_WIDER = {"h": "i", "H": "i", "i": "q"}


def _extend(items: array[Any], more: Sequence[Any]) -> array[Any]:
    """``items`` extended with ``more``: the same array, or a wider copy of it when
    a value of ``more`` does not fit its type (positions start 16 bits wide: most
    tables never need more).

    A list's items are appended one by one, so those before the one that did not
    fit are taken back before the wider array is extended."""
    while True:
        start = len(items)
        try:
            items.extend(more)
        except OverflowError:
            del items[start:]
            items = array(_WIDER[items.typecode], items)
        else:
            return items


class RowTable(Sequence["PlanRow | None"]):
    """A cohort's PlanRows coded as integers: what a large batch's parent keeps.

    Shared as :class:`SharedValues` shares them, a row still cost about 1.9 KB:
    its tuple and the per-person containers that hold the shared parts (its needs'
    tuple, the severities' and group scores' dicts, its deficits' tuple). Here
    each distinct value is held once, in a table, and a person is their ids in
    flat arrays (about 400 bytes): the needs as positions in a table of distinct
    needs, the deficits as positions of distinct (group, competency, severity),
    the group scores as a shared tuple of groups and a run of floats. ``table[n]``
    decodes person ``n``'s row; :meth:`needs` and :meth:`severities` decode one
    field. A row decoded is equal to the row appended, field by field and type
    by type, and its shared parts are the table's (equal needs one object, as
    :meth:`SharedValues.need` shares them).

    With ``spill`` (a file path), the people's columns are not held either: once
    the rows added but not yet written are ``_SPILL_ROWS`` or more (checked after
    :meth:`merge` and :meth:`extend`), they are appended to that file as one
    part and let go, and a part is read back, with plain reads, when a row of
    it is read; the last part read is kept (the plan reads the rows in order,
    pass after pass). What stays in memory is the distinct values and needs and
    where each part is: at a national cohort's size the rows' columns, about
    300 bytes a person, leave the parent's heap (docs/parts.md). The file is
    the caller's to remove; the rows read back are the same.

    Parameters
    ----------
    rows : iterable of PlanRow or None
        The first rows (see :meth:`append`).
    spill : path, optional
        A file to write the rows to (made anew, emptied if it exists).
    """

    def __init__(
        self, rows: Iterable[PlanRow | None] = (), spill: str | os.PathLike[str] | None = None
    ) -> None:
        self._values: list[Any] = []  # distinct values of the head, strengths, deficits
        self._value_ids: dict[Any, int] = {}
        self._need_values: list[Need] = []
        self._need_ids: dict[Need, int] = {}
        # the needs seen last by identity: the rows of one share come with their
        # equal needs one object (the worker shares them), and a lookup by
        # identity spares hashing a need field by field (most of append's time).
        # _recent_held holds the needs, so their ids are not reused while here
        self._recent: dict[int, int] = {}
        self._recent_held: list[Need] = []
        # what add() keeps between people, dropped when pickled: the KB's working
        # months of each period
        self._kb: KnowledgeBase | None = None
        self._months: dict[tuple[str, str], int] = {}
        self._ids: list[str] = []
        # positions start 16 bits wide and widen when one does not fit (_extend): a
        # cohort's distinct values and needs are thousands (a few tens of thousands
        # of needs at 100,000 people), so the needs' run, four dozen a person, takes
        # 2 bytes a need instead of 4
        self._head = array("h")  # _WIDTH ids a person
        self._needs, self._need_ends = array("H"), array("q", [0])
        self._deficits, self._deficit_ends = array("H"), array("q", [0])
        # the group scores: the id of their groups' tuple, then their floats; a
        # mapping of other values is held whole, by a negative id (-1 - its
        # position in _values)
        self._groups = array("h")
        self._pct, self._pct_ends = array("d"), array("q", [0])
        # the severities: _FROM_DEFICITS, as plan_row makes them; else held whole
        # (-2 - its position)
        self._severities = array("h")
        # the columns above hold the open rows: people _first onwards. With a
        # spill file, the rows before them were written there, part by part
        # (_SPILL_ROWS people or more each, at _offsets[c]:_offsets[c + 1], people
        # _starts[c]:_starts[c + 1]), and are read back a part at a time (_part)
        self._spill = None if spill is None else os.fspath(spill)
        self._first = 0
        self._starts, self._offsets = array("q", [0]), array("q", [0])
        self._part: _Part | None = None
        if self._spill is not None:
            with open(self._spill, "wb"):  # a new file, empty
                pass
        self.extend(rows)

    def _id(self, value: Any) -> int:
        """The position of ``value`` among the distinct values (numbers by type)."""
        key = (type(value), value) if isinstance(value, (int, float)) else value
        found = self._value_ids.get(key)
        if found is None:
            found = self._value_ids[key] = len(self._values)
            self._values.append(value)
        return found

    def _held(self, value: Any) -> int:
        """A value held whole, unshared: its position."""
        self._values.append(value)
        return len(self._values) - 1

    def _need(self, need: Need) -> int:
        """The position of ``need`` in the table of needs (see SharedValues.need)."""
        if not all(type(value) is str for _name, value in need.filters):
            self._need_values.append(need)
            return len(self._need_values) - 1
        found = self._need_ids.get(need)
        if found is None:
            found = self._need_ids[need] = len(self._need_values)
            self._need_values.append(need)
        return found

    def _recent_need(self, need: Need) -> int:
        """A need's position found by identity (see _recent), or added there."""
        hit = self._recent.get(id(need))
        if hit is None:
            hit = self._recent[id(need)] = self._need(need)
            self._recent_held.append(need)
        return hit

    def _needs_of(self, needs: Sequence[Need]) -> list[int]:
        """The positions of a row's needs, found by identity (see _recent)."""
        recent = self._recent
        if len(recent) > _RECENT:
            recent.clear()
            self._recent_held.clear()
        at = list(map(recent.get, map(id, needs)))
        if None in at:
            return [self._recent_need(need) for need in needs]
        return at  # type: ignore[return-value]

    def append(self, row: PlanRow | None) -> None:
        """Add the next person's row (None: a person not diagnosed).

        Parameters
        ----------
        row : PlanRow or None
            The row.
        """
        if row is None:
            self._ids.append("")
            self._head.extend([_NOT_DIAGNOSED] * _WIDTH)
            self._groups.append(0)
            self._severities.append(_FROM_DEFICITS)
            self._close()
            return
        self._ids.append(row.id)
        # the head's values but period_hours, and the deficits, are text, None and
        # tuples or sets of them (PlanRow's types): their key is themselves, and
        # those seen before are found at C speed
        texts = _TEXT_FIELDS(row)
        head = list(map(self._value_ids.get, texts))
        if None in head:
            head = list(map(self._id, texts))
        head.insert(-1, self._id(row.period_hours))
        self._head = _extend(self._head, head)
        self._needs = _extend(self._needs, self._needs_of(row.needs))
        found = list(map(self._value_ids.get, row.deficits))
        if None in found:
            found = list(map(self._id, row.deficits))
        self._deficits = _extend(self._deficits, found)
        pct = row.group_pct
        if all(type(v) is float for v in pct.values()):
            self._groups = _extend(self._groups, [self._id(tuple(pct))])
            self._pct.extend(pct.values())
        else:
            self._groups = _extend(self._groups, [-1 - self._held(pct)])
        made = {competency: severity for _g, competency, severity in row.deficits}
        same = list(made.items()) == list(row.severities.items())
        held = _FROM_DEFICITS if same else -2 - self._held(row.severities)
        self._severities = _extend(self._severities, [held])
        self._close()

    def add(self, kb: KnowledgeBase, profile: Profile, result: Result) -> None:
        """Add the next person's row as ``plan_row(kb, profile, result)`` makes it,
        coded without making it: the same table as :meth:`append` of that row.

        A worker codes each person of its share so: the row's tuple and containers
        are not made, the deficits' (group, competency, severity) are taken at C
        speed (a share's deficits are mostly distinct objects: finding them by
        identity paid less), the severities are not made (:func:`plan_row`'s are
        always made from the deficits, which append then finds equal), and the
        working months of a period are counted once per KB.

        Parameters
        ----------
        kb : KnowledgeBase
            The KB the person was diagnosed with.
        profile : Profile
            The validated profile.
        result : Result
            Its diagnosed Result (``ok``).
        """
        if kb is not self._kb:
            self._kb, self._months = kb, {}
        person = profile.person
        start, end, hours, _defaults = settings(profile, None)
        months = self._months.get((start, end))
        if months is None:
            calendar = kb.planning.planning.calendar
            months = self._months[start, end] = working_months(start, end, calendar)
        self._ids.append(profile.id)
        # the head's ids in append's order: the text fields, then period_hours
        texts = (
            person.role,
            person.organization,
            person.municipality,
            frozenset(person.subjects),
            person_levels(kb, person),
            tuple(profile.preferences.delivery),
            (start, end),
            _strengths(kb, result),
        )
        head = list(map(self._value_ids.get, texts))
        if None in head:
            head = list(map(self._id, texts))
        head.insert(-1, self._id(hours * months))  # period_hours, as it counts them
        self._head = _extend(self._head, head)
        self._needs = _extend(self._needs, self._needs_of(result.needs))
        triples = list(map(_TRIPLE, result.deficits))
        found = list(map(self._value_ids.get, triples))
        if None in found:
            found = list(map(self._id, triples))
        self._deficits = _extend(self._deficits, found)
        scores = result.scores
        pct = scores.group_pct if scores is not None else {}
        if _FLOATS.issuperset(map(type, pct.values())):
            self._groups = _extend(self._groups, [self._id(tuple(pct))])
            self._pct.extend(pct.values())
        else:
            self._groups = _extend(self._groups, [-1 - self._held(dict(pct))])
        self._severities.append(_FROM_DEFICITS)
        self._close()

    def merge(self, other: RowTable, dropped: Collection[int] = ()) -> None:
        """Add the rows of ``other`` after these, as appending them one by one would
        (``dropped``: the positions in ``other`` added as None).

        A worker codes its share's rows in a table of its own, and the parent adds
        each share's table here: only the share's distinct values are looked up
        (a few hundred, against two dozen lookups a person), and the people's ids
        are translated array to array.

        Parameters
        ----------
        other : RowTable
            The next people's rows.
        dropped : collection of int
            Positions in ``other`` of rows not to keep (duplicates found later).
        """
        if dropped or other._first:  # rare (duplicate ids; a spilled other): row by row
            self.extend(None if k in dropped else other[k] for k in range(len(other)))
            return
        # other's values, each at its position here: found when shared (their key
        # in other's index), added anew when held whole (they are their person's own)
        values = other._values
        at = [-1] * len(values)
        for position in other._value_ids.values():
            at[position] = self._id(values[position])
        for position, value in enumerate(values):
            if at[position] < 0:
                at[position] = self._held(value)
        # a head id of -1 (_NOT_DIAGNOSED) reads at[-1]: that last item is -1 too
        at.append(_NOT_DIAGNOSED)
        self._ids.extend(other._ids)
        self._head = _extend(self._head, list(map(at.__getitem__, other._head)))
        needs_at = [self._need(need) for need in other._need_values]
        self._needs = _extend_runs(
            self._needs,
            self._need_ends,
            list(map(needs_at.__getitem__, other._needs)),
            other._need_ends,
        )
        self._deficits = _extend_runs(
            self._deficits,
            self._deficit_ends,
            list(map(at.__getitem__, other._deficits)),
            other._deficit_ends,
        )
        self._pct = _extend_runs(self._pct, self._pct_ends, other._pct, other._pct_ends)
        self._groups = _extend(
            self._groups, [at[g] if g >= 0 else -1 - at[-1 - g] for g in other._groups]
        )
        self._severities = _extend(
            self._severities,
            [s if s == _FROM_DEFICITS else -2 - at[-2 - s] for s in other._severities],
        )
        self._spill_if_full()

    def need_values(self) -> list[Need]:
        """The distinct needs, each at its position (see :meth:`need_positions`).

        Returns
        -------
        list of Need
            The table's needs (equal text-only needs one object).
        """
        return self._need_values

    def need_positions(self, n: int) -> array[int]:
        """Where person ``n``'s needs are in :meth:`need_values`, in order.

        Parameters
        ----------
        n : int
            The person's position.

        Returns
        -------
        array of int
            The positions.
        """
        c, k = self._at(n)
        return c._needs[c._need_ends[k] : c._need_ends[k + 1]]

    def __getstate__(self) -> dict[str, Any]:
        # the values found by identity mean nothing in another process, and the
        # rest of what add() keeps is not sent with the rows; a spilled table is
        # sent whole (its file is this process's)
        state = {
            **self.__dict__,
            "_recent": {},
            "_recent_held": [],
            "_kb": None,
            "_months": {},
            "_part": None,
        }
        if self._spill is not None:
            state.update(self._joined(), _spill=None, _first=0)
            state.update(_starts=array("q", [0]), _offsets=array("q", [0]))
        return state

    def extend(self, rows: Iterable[PlanRow | None]) -> None:
        """Add the next people's rows, in order (see :meth:`append`).

        Parameters
        ----------
        rows : iterable of PlanRow or None
            The rows.
        """
        for row in rows:  # a spilled table's written a part at a time as they come
            self.append(row)
            self._spill_if_full()

    def _close(self) -> None:
        self._need_ends.append(len(self._needs))
        self._deficit_ends.append(len(self._deficits))
        self._pct_ends.append(len(self._pct))

    def _spill_if_full(self) -> None:
        """The open rows written to the spill file once they are _SPILL_ROWS or more
        (with one), and let go here: the table keeps only where each part is."""
        if self._spill is not None and len(self._ids) >= _SPILL_ROWS:
            self._write_part()

    def _write_part(self) -> None:
        """The open rows appended to the spill file as one part, and let go."""
        assert self._spill is not None  # only a spilled table writes parts
        columns = tuple(getattr(self, name) for name in _COLUMNS)
        blob = pickle.dumps(columns, pickle.HIGHEST_PROTOCOL)
        with open(self._spill, "ab") as out:
            out.write(blob)
        self._offsets.append(self._offsets[-1] + len(blob))
        self._first += len(self._ids)
        self._starts.append(self._first)
        # the open rows anew, their positions as wide as they had to be
        self._ids = []
        self._head = array(self._head.typecode)
        self._needs, self._need_ends = array(self._needs.typecode), array("q", [0])
        self._deficits, self._deficit_ends = array(self._deficits.typecode), array("q", [0])
        self._groups = array(self._groups.typecode)
        self._pct, self._pct_ends = array("d"), array("q", [0])
        self._severities = array(self._severities.typecode)

    def _load(self, c: int) -> _Part:
        """Spilled part ``c`` read back (kept until another is read)."""
        part = self._part
        if part is not None and part.first == self._starts[c]:
            return part
        assert self._spill is not None  # only a spilled table has parts
        start, stop = self._offsets[c], self._offsets[c + 1]
        with open(self._spill, "rb") as source:
            source.seek(start)
            blob = source.read(stop - start)
        part = self._part = _Part(self._starts[c], pickle.loads(blob))
        return part

    def _at(self, n: int) -> tuple[RowTable | _Part, int]:
        """Where person ``n``'s columns are, and their position there: the open
        rows', or their spilled part's, read back when it is not the last read."""
        k = n - self._first
        if k >= 0 or not self._first:
            return self, k
        part = self._part
        if part is not None and 0 <= n - part.first < len(part._ids):
            return part, n - part.first
        if n < 0:  # the callers count from the end themselves (__getitem__)
            raise IndexError(f"person {n} of a spilled RowTable")
        part = self._load(bisect.bisect_right(self._starts, n) - 1)
        return part, n - part.first

    def _parts(self) -> Iterator[RowTable | _Part]:
        """Every person's columns, in order: the spilled parts read back one at a
        time, then the open rows."""
        for c in range(len(self._starts) - 1):
            yield self._load(c)
        yield self

    def _joined(self) -> dict[str, Any]:
        """Every person's columns joined, the spilled parts' and the open rows'."""
        whole = RowTable()
        for c in self._parts():
            whole._ids.extend(c._ids)
            whole._head = _extend(whole._head, c._head.tolist())
            whole._needs = _extend_runs(
                whole._needs, whole._need_ends, c._needs.tolist(), c._need_ends
            )
            whole._deficits = _extend_runs(
                whole._deficits, whole._deficit_ends, c._deficits.tolist(), c._deficit_ends
            )
            whole._pct = _extend_runs(whole._pct, whole._pct_ends, c._pct, c._pct_ends)
            whole._groups = _extend(whole._groups, c._groups.tolist())
            whole._severities = _extend(whole._severities, c._severities.tolist())
        return {name: getattr(whole, name) for name in _COLUMNS}

    def __len__(self) -> int:
        return self._first + len(self._ids)

    @overload
    def __getitem__(self, n: int) -> PlanRow | None: ...

    @overload
    def __getitem__(self, n: slice) -> list[PlanRow | None]: ...

    def __getitem__(self, n: int | slice) -> PlanRow | list[PlanRow | None] | None:
        if isinstance(n, slice):
            return [self[k] for k in range(*n.indices(len(self)))]
        if n < 0:
            n += len(self)
        c, k = self._at(n)
        at = k * _WIDTH
        head = c._head[at : at + _WIDTH]
        if head[0] == _NOT_DIAGNOSED:
            return None
        values = self._values
        role, org, mun, subjects, levels, delivery, period, hours, strengths = map(
            values.__getitem__, head
        )
        deficits = self._deficits_in(c, k)
        return PlanRow(
            id=c._ids[k],
            role=role,
            organization=org,
            municipality=mun,
            subjects=subjects,
            levels=levels,
            delivery=delivery,
            period=period,
            period_hours=hours,
            needs=self._needs_in(c, k),
            severities=self._severities_in(c, k, deficits),
            group_pct=self._group_pct_in(c, k),
            deficits=deficits,
            strengths=strengths,
        )

    def lean(self) -> Iterator[PlanRow | None]:
        """Each person's row in order, as ``table[n]`` decodes it but for the group
        scores: an empty mapping (the plan's programme passes and mentor flows do
        not read them; the school profiles read them from :meth:`school_entries`).

        Yields
        ------
        PlanRow or None
            Person by person, None for one appended as None.
        """
        get = self._values.__getitem__
        for c in self._parts():
            head, ids = c._head, c._ids
            for k in range(len(ids)):
                at = k * _WIDTH
                if head[at] == _NOT_DIAGNOSED:
                    yield None
                    continue
                role, org, mun, subjects, levels, delivery, period, hours, strengths = map(
                    get, head[at : at + _WIDTH]
                )
                deficits = self._deficits_in(c, k)
                yield PlanRow(
                    ids[k],
                    role,
                    org,
                    mun,
                    subjects,
                    levels,
                    delivery,
                    period,
                    hours,
                    self._needs_in(c, k),
                    self._severities_in(c, k, deficits),
                    _NO_SCORES,
                    deficits,
                    strengths,
                )

    def diagnosed(self, n: int) -> bool:
        """Whether person ``n`` has a row.

        Parameters
        ----------
        n : int
            The person's position.

        Returns
        -------
        bool
            False for a person appended as None.
        """
        c, k = self._at(n)
        return c._head[k * _WIDTH] != _NOT_DIAGNOSED

    def school_entries(
        self,
    ) -> Iterator[tuple[str | None, str | None, Mapping[str, float], tuple[Any, ...]]]:
        """What the school profiles read of each diagnosed person, in order: their
        organisation, municipality, group scores and deficits (decoding only
        those: ``school_profiles_of`` on the decoded rows reads the same).

        Yields
        ------
        tuple
            (organization, municipality, group_pct, deficits) of a row.
        """
        values = self._values
        for c in self._parts():
            head = c._head
            for k in range(len(c._ids)):
                at = k * _WIDTH
                if head[at] == _NOT_DIAGNOSED:
                    continue
                organization, municipality = values[head[at + 1]], values[head[at + 2]]
                yield organization, municipality, self._group_pct_in(c, k), self._deficits_in(c, k)

    def needs(self, n: int) -> tuple[Need, ...]:
        """Person ``n``'s needs (their row's ``needs``; empty without a row).

        Parameters
        ----------
        n : int
            The person's position.

        Returns
        -------
        tuple of Need
            The needs, in order, the table's objects.
        """
        c, k = self._at(n)
        return self._needs_in(c, k)

    def severities(self, n: int) -> Mapping[str, str]:
        """Person ``n``'s severities (their row's ``severities``; empty without a row).

        Parameters
        ----------
        n : int
            The person's position.

        Returns
        -------
        Mapping
            Competency -> severity, in the row's order.
        """
        c, k = self._at(n)
        return self._severities_in(c, k, self._deficits_in(c, k))

    def _needs_in(self, c: RowTable | _Part, k: int) -> tuple[Need, ...]:
        """The needs of the person at ``k`` in columns ``c`` (see _at), decoded."""
        return tuple(
            map(self._need_values.__getitem__, c._needs[c._need_ends[k] : c._need_ends[k + 1]])
        )

    def _deficits_in(self, c: RowTable | _Part, k: int) -> tuple[Any, ...]:
        """Their deficits, decoded: (group, competency, severity) each."""
        run = c._deficits[c._deficit_ends[k] : c._deficit_ends[k + 1]]
        return tuple(map(self._values.__getitem__, run))

    def _severities_in(
        self, c: RowTable | _Part, k: int, deficits: Sequence[tuple[str | None, str, str]]
    ) -> Mapping[str, str]:
        held = c._severities[k]
        if held != _FROM_DEFICITS:
            found: Mapping[str, str] = self._values[-2 - held]
            return found
        return {competency: severity for _g, competency, severity in deficits}

    def _group_pct_in(self, c: RowTable | _Part, k: int) -> Mapping[str, float]:
        groups = c._groups[k]
        if groups < 0:
            found: Mapping[str, float] = self._values[-1 - groups]
            return found
        values = c._pct[c._pct_ends[k] : c._pct_ends[k + 1]]
        return dict(zip(self._values[groups], values, strict=True))


class _Part:
    """A RowTable's spilled part read back: the same columns as its open rows, for
    the people from ``first`` on."""

    __slots__ = ("first", *_COLUMNS)

    _ids: list[str]
    _head: array[int]
    _needs: array[int]
    _need_ends: array[int]
    _deficits: array[int]
    _deficit_ends: array[int]
    _groups: array[int]
    _pct: array[float]
    _pct_ends: array[int]
    _severities: array[int]

    def __init__(self, first: int, columns: Sequence[Any]) -> None:
        self.first = first
        for name, column in zip(_COLUMNS, columns, strict=True):
            setattr(self, name, column)
