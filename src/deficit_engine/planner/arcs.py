"""A cohort's candidate pairings (unit, mentor) as arrays, for the mentor flow at regional size.

:func:`deficit_engine.resolve.mentors.unit_arcs` finds one unit's candidates
as Python objects: right for one person, but a region has about 75 000 units
and 1 000 mentors, some 4 million candidate pairings. Here the same rules are
applied to the whole cohort at once with numpy: one row per (unit, need,
mentor) that could serve it, then one arc per (unit, mentor) with the
severity weights of the needs it serves summed. The rules are those of
``unit_arcs`` (a test checks that both find the same arcs):

- the competency among the mentor's strengths and the need's filters passing;
- a free place (capacity above zero);
- the mentor's subjects and levels, if any, meeting the seeker's;
- another organisation for ``management`` and for a school's team;
- nobody paired with themselves (a colleague of the cohort).

The flow itself is given fewer arcs (:func:`flow_arcs`, :func:`cut_arcs`): per
mentor, those a plan could use, K + 1 distinct seekers' worth for K places in
all, in order of cost and then of the units' order (docs/route.md, "The network
cut down to the mentors' capacity"); its optima are the whole network's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ..catalogue import CatalogueIndex
from ..errors import UsageError
from ..models import Need
from ..resolve.allocate import most_units
from ..resolve.mentors import CROSS_ORGANISATION_FORMS, SEVERITY_WEIGHT, Seeker, Unit

__all__ = ["CohortArcs", "FlowArcs", "cohort_arcs", "cut_arcs", "flow_arcs"]


class CohortArcs(NamedTuple):
    """The arcs (one per unit and mentor) and the rows they were summed from.

    ``unit`` indexes the units as given; ``mentor`` the index's mentors in id
    order. The rows keep, for each (unit, need), the mentors who could serve it
    (what an unmet need's reason names); they are sorted by (unit, mentor), a
    pair's rows in the order of the unit's needs.
    """

    unit: np.ndarray
    mentor: np.ndarray
    prio: np.ndarray
    loc: np.ndarray
    nosubj: np.ndarray
    row_unit: np.ndarray
    row_need: np.ndarray
    row_mentor: np.ndarray


class _Codes:
    """Strings as small integers (organisations, municipalities); None is -1."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def __call__(self, value: str | None) -> int:
        if value is None:
            return -1
        return self.codes.setdefault(value, len(self.codes))


class _Sets:
    """Distinct subject or level sets of the seekers, each with the mentors it admits
    and those it matches (a row of a boolean matrix over the mentors).

    The mentors' sets are one boolean matrix (mentor x value): a seeker's set
    matches the mentors with any of its values in their row, found for all the
    mentors at once.
    """

    def __init__(self, restrictions: Sequence[frozenset[str]]) -> None:
        self.n_mentors = len(restrictions)
        self.values: dict[str, int] = {}
        for r in restrictions:
            for value in sorted(r):
                self.values.setdefault(value, len(self.values))
        self.held = np.zeros((len(self.values), self.n_mentors), bool)  # value x mentor
        for m, r in enumerate(restrictions):
            for value in r:
                self.held[self.values[value], m] = True
        self.free = ~self.held.any(axis=0)  # the mentors with no restriction
        self.ids: dict[frozenset[str], int] = {}
        self.admits: list[np.ndarray] = []
        self.matches: list[np.ndarray] = []

    def id_of(self, values: frozenset[str]) -> int:
        found = self.ids.get(values)
        if found is None:
            found = self.ids[values] = len(self.ids)
            rows = [self.values[v] for v in values if v in self.values]
            match = np.any(self.held[rows], axis=0)
            self.matches.append(match)
            self.admits.append(match | self.free)
        return found

    def matrix(self, which: str) -> np.ndarray:
        rows = self.admits if which == "admits" else self.matches
        return np.vstack(rows) if rows else np.zeros((0, self.n_mentors), bool)


def _candidates(
    index: CatalogueIndex,
    need: Need,
    cands: np.ndarray | None,
    passing: dict[tuple[tuple[str, object], ...], np.ndarray],
    free: np.ndarray,
) -> np.ndarray:
    """The mentors (indexes) strong in a need's competency, passing its filters,
    with a free place; ``passing`` memoises the filters' masks."""
    if cands is None:
        return np.zeros(0, np.int64)
    if need.filters:
        mask = passing.get(need.filters)
        if mask is None:
            ok = index.filtered("mentor", need).passing
            mask = passing[need.filters] = np.array([m.id in ok for m in index.mentors], bool)
        cands = cands[mask[cands]]
    out: np.ndarray = cands[free[cands]]
    return out


def _chunks(
    index: CatalogueIndex,
    seekers: Sequence[Seeker],
    needs: Sequence[Sequence[Need]],
    severities: Sequence[Mapping[str, str]],
    units: Sequence[tuple[int, Unit]],
    capacity: Sequence[int] | np.ndarray,
    themselves: Mapping[int, int] | None,
) -> Iterator[CohortArcs]:
    """The arcs and rows of :func:`cohort_arcs`, ``_CHUNK_UNITS`` units at a time, in
    the units' order (each chunk sorted by (unit, mentor); a chunk whose needs have
    no candidates left out, one whose candidates the rules all refuse empty)."""
    mentors = index.mentors
    n_mentors = len(mentors)
    codes = _Codes()
    m_org = np.array([codes(m.organization) for m in mentors], np.int64)
    m_mun = np.array([codes(m.municipality) for m in mentors], np.int64)
    free = np.asarray(capacity, np.int64) > 0
    rank = index.mentor_rank
    strong = {
        comp: np.array([rank[m.id] for m in ms], np.int64)
        for comp, ms in index.mentors_by_strength.items()
    }
    passing: dict[tuple[tuple[str, object], ...], np.ndarray] = {}
    subjects = _Sets([frozenset(m.subjects) for m in mentors])
    levels = _Sets([frozenset(m.levels) for m in mentors])
    s_org = np.array([codes(s.organization) for s in seekers], np.int64)
    s_mun = np.array([codes(s.municipality) for s in seekers], np.int64)
    s_subj = np.array([subjects.id_of(s.subjects) for s in seekers], np.int64)
    s_lvl = np.array([levels.id_of(s.levels) for s in seekers], np.int64)
    s_has_subjects = np.array([bool(s.subjects) for s in seekers], bool)
    own = np.full(len(seekers), -1, np.int64)
    for k, m in (themselves or {}).items():
        own[k] = m

    cross = np.zeros(len(units), bool)
    unit_seeker = np.zeros(len(units), np.int64)
    for u, (k, unit) in enumerate(units):
        unit_seeker[u] = k
        cross[u] = seekers[k].school or unit.form in CROSS_ORGANISATION_FORMS
    found = _Found(index, strong, passing, free)
    subj_admits, lvl_admits = subjects.matrix("admits"), levels.matrix("admits")
    subj_matches = subjects.matrix("matches")

    def summed(
        r_unit: np.ndarray, r_need: np.ndarray, r_mentor: np.ndarray, r_weight: np.ndarray
    ) -> CohortArcs:
        """A chunk's rows filtered by the rules and summed into arcs."""
        k_of = unit_seeker[r_unit]
        keep = subj_admits[s_subj[k_of], r_mentor]
        keep &= lvl_admits[s_lvl[k_of], r_mentor]
        same_org = (s_org[k_of] >= 0) & (m_org[r_mentor] == s_org[k_of])
        keep &= ~(cross[r_unit] & same_org)
        keep &= own[k_of] != r_mentor
        if not keep.any():
            return _EMPTY
        # the rows sorted by (unit, mentor), stably (a pair's rows keep the order of
        # the unit's needs): the arcs are the runs of equal pairs, and the rows are
        # in the order a unit's candidates are read in (plan._Candidates)
        key = r_unit[keep] * n_mentors + r_mentor[keep]
        order = np.argsort(key, kind="stable")
        key = key[order]
        r_unit, r_need = r_unit[keep][order], r_need[keep][order]
        r_mentor, r_weight = r_mentor[keep][order], r_weight[keep][order]
        first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        prio = np.add.reduceat(r_weight, first)
        a_unit, a_mentor = r_unit[first], r_mentor[first]
        a_seeker = unit_seeker[a_unit]
        org_match = (s_org[a_seeker] >= 0) & (m_org[a_mentor] == s_org[a_seeker])
        mun_match = (s_mun[a_seeker] >= 0) & (m_mun[a_mentor] == s_mun[a_seeker])
        loc = np.where(org_match, 0, np.where(mun_match, 1, 2)).astype(np.int64)
        matched = subj_matches[s_subj[a_seeker], a_mentor]
        nosubj = (s_has_subjects[a_seeker] & ~matched).astype(np.int64)
        return CohortArcs(a_unit, a_mentor, prio, loc, nosubj, r_unit, r_need, r_mentor)

    for lo in range(0, len(units), _CHUNK_UNITS):
        entries = found.entries(units, needs, severities, lo, min(lo + _CHUNK_UNITS, len(units)))
        if entries is not None:
            yield summed(*entries)


def cohort_arcs(
    index: CatalogueIndex,
    seekers: Sequence[Seeker],
    needs: Sequence[Sequence[Need]],
    severities: Sequence[Mapping[str, str]],
    units: Sequence[tuple[int, Unit]],
    capacity: Sequence[int] | np.ndarray,
    themselves: Mapping[int, int] | None = None,
) -> CohortArcs:
    """Every unit's candidate mentors, as arrays (see the module docstring).

    Parameters
    ----------
    index : CatalogueIndex
        The catalogue index whose mentors (in id order) the arcs index.
    seekers, needs, severities : sequence
        Per seeker: who they are, their needs, competency -> deficit severity.
    units : sequence of (int, Unit)
        The units, each with its seeker's position.
    capacity : sequence of int
        Each mentor's free places (a mentor with none gets no arc).
    themselves : Mapping, optional
        Seeker position -> the mentor index that is that seeker (a colleague).

    Returns
    -------
    CohortArcs
        The arcs sorted by (unit, mentor), and the rows.
    """
    parts = list(_chunks(index, seekers, needs, severities, units, capacity, themselves))
    return _joined(parts)


def _joined(parts: list[CohortArcs]) -> CohortArcs:
    """The chunks' arcs and rows laid end to end (in the chunks' order)."""
    if not parts:
        return _EMPTY
    # one field at a time, each chunk's copy let go as it is joined: the peak is the
    # arrays themselves and one field's chunks, not the cohort's rows before filtering
    fields = []
    for f in range(len(CohortArcs._fields)):
        fields.append(np.concatenate([part[f] for part in parts]))
        parts = [part._replace(**{CohortArcs._fields[f]: _NONE}) for part in parts]
    return CohortArcs(*fields)


#: Units per chunk of :func:`cohort_arcs`: the rows of a chunk, before the rules
#: filter them, are a few times its arcs; a region's 75 000 units at once made
#: them the peak of the mentor flow.
_CHUNK_UNITS = 4096
_NONE = np.empty(0, np.int64)  # a chunk's field already joined
_EMPTY = CohortArcs(_NONE, _NONE, _NONE, _NONE, _NONE, _NONE, _NONE, _NONE)


class _Found:
    """The (unit, need) entries with candidates, and the candidate lists they name.

    One list per distinct competency and filters (the mentors strong in it, passing
    the filters, with free places), made once for the whole cohort and kept laid
    end to end in ``joined``."""

    def __init__(
        self,
        index: CatalogueIndex,
        strong: Mapping[str, np.ndarray],
        passing: dict[tuple[tuple[str, object], ...], np.ndarray],
        free: np.ndarray,
    ) -> None:
        self.index, self.strong, self.passing, self.free = index, strong, passing, free
        self.lists: dict[tuple[str, tuple[tuple[str, object], ...]], int] = {}
        self.pool: list[np.ndarray] = []
        self.joined = np.zeros(0, np.int64)  # the pool laid end to end, when it grew

    def entries(
        self,
        units: Sequence[tuple[int, Unit]],
        needs: Sequence[Sequence[Need]],
        severities: Sequence[Mapping[str, str]],
        lo: int,
        hi: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Units ``lo:hi``'s rows before the rules: (unit, need, mentor, weight), in
        order of unit, need and mentor id; None when no need of theirs has candidates."""
        lists, pool = self.lists, self.pool
        e_unit: list[int] = []
        e_need: list[int] = []
        e_list: list[int] = []
        e_weight: list[int] = []
        for u in range(lo, hi):
            k, unit = units[u]
            for i in unit.needs:
                need = needs[k][i]
                comp = need.competency or ""
                key = (comp, need.filters)
                found = lists.get(key)
                if found is None:
                    found = lists[key] = len(pool)
                    cands = _candidates(
                        self.index, need, self.strong.get(comp), self.passing, self.free
                    )
                    pool.append(cands)
                if not len(pool[found]):
                    continue
                e_unit.append(u)
                e_need.append(i)
                e_list.append(found)
                e_weight.append(SEVERITY_WEIGHT.get(severities[k].get(comp, "low"), 1))
        if not e_unit:
            return None
        sizes = np.array([len(c) for c in pool], np.int64)
        if int(sizes.sum()) != len(self.joined):
            self.joined = np.concatenate(pool)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        which = np.array(e_list, np.int64)
        lengths = sizes[which]
        # row r of entry e is pool[start of e's list + (r - first row of e)]
        first_row = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        offset = np.repeat(starts[which] - first_row, lengths)
        r_mentor = self.joined[offset + np.arange(int(lengths.sum()))]
        r_unit = np.repeat(np.array(e_unit, np.int64), lengths)
        r_need = np.repeat(np.array(e_need, np.int64), lengths)
        r_weight = np.repeat(np.array(e_weight, np.int64), lengths)
        return r_unit, r_need, r_mentor, r_weight


class FlowArcs(NamedTuple):
    """A flow's network, cut down to the mentors' capacity, and every unit's candidates.

    ``kept`` are the arcs given to the solver (their rows empty), sorted by
    (unit, mentor); ``full`` their positions among all the arcs; ``candidates``
    every arc and row (as :func:`cohort_arcs` finds them, in narrow integer types:
    what a placed unit's candidates and an unplaced one's reasons are read from);
    ``arcs`` how many arcs in all.
    """

    kept: CohortArcs
    full: np.ndarray
    candidates: CohortArcs
    arcs: int


class _Ranked(NamedTuple):
    """Arcs as the cut reads them, each with its position among all the arcs."""

    unit: np.ndarray
    mentor: np.ndarray
    prio: np.ndarray
    loc: np.ndarray
    nosubj: np.ndarray
    full: np.ndarray


def cut_arcs(
    owners: np.ndarray,
    unit: np.ndarray,
    mentor: np.ndarray,
    prio: np.ndarray,
    loc: np.ndarray,
    nosubj: np.ndarray,
    places: int,
) -> np.ndarray:
    """The arcs the mentors' flow keeps (docs/route.md, "The network cut down to the
    mentors' capacity"): per mentor, in order of the arc's cost and then of the unit,
    the arcs up to the one at which the ``places`` + 1-th distinct owner appears.

    Every optimum of the network of these arcs is an optimum of the whole one, of
    equal cost (:func:`deficit_engine.resolve.allocate.allocate_arrays`' objective,
    whatever weights it gets, when every owner earns the same bonus: no
    ``secondary`` owners), and so is its max flow of owners.

    Parameters
    ----------
    owners : numpy.ndarray
        The owner of each unit (int64, sorted: an owner's units are consecutive).
    unit, mentor, prio, loc, nosubj : numpy.ndarray
        The arcs (int64 each), as :func:`cohort_arcs` gives them.
    places : int
        The mentors' free places summed (K).

    Returns
    -------
    numpy.ndarray
        The kept arcs' positions, ascending.

    Raises
    ------
    UsageError
        If ``owners`` is not sorted (the cut reads the last owner as the largest and
        an owner's units as consecutive).
    """
    _check_sorted(owners)
    ranked = _Ranked(unit, mentor, prio, loc, nosubj, np.arange(len(unit), dtype=np.int64))
    kept: np.ndarray = np.sort(_cut(ranked, owners, most_units(owners), places + 1).full)
    return kept


def _check_sorted(owners: np.ndarray) -> None:
    """Refuse owners out of order (see :func:`cut_arcs`' Raises)."""
    if len(owners) and bool(np.any(owners[1:] < owners[:-1])):
        raise UsageError("the units' owners must be sorted (an owner's units consecutive)")


def _cut(arcs: _Ranked, owners: np.ndarray, most: int, people: int) -> _Ranked:
    """Per mentor, ``arcs`` in the cut's order up to the first arc of the
    ``people``-th distinct owner (all of them where fewer owners have arcs), in no
    particular order.

    Cutting the arcs found so far and then the next ones with them keeps what one
    cut of all of them would: an arc dropped has ``people`` owners before it, and
    so it would have among more arcs. Only the mentors with more than ``people``
    arcs can lose any: the others' are kept without sorting them.

    The order: per mentor, the arc's cost in the flow (``prio`` down, ``loc``,
    ``nosubj`` and the tie-break's term up: ``allocate.arc_costs``' ``tie``, the
    mentor's rank times the owner's ``most`` units less the unit's position among
    its owner's), then the unit."""
    crowded = np.bincount(arcs.mentor)[arcs.mentor] > people
    if not crowded.any():
        return arcs
    calm = _Ranked(*(field[~crowded] for field in arcs))
    arcs = _Ranked(*(field[crowded] for field in arcs))
    owner = owners[arcs.unit]
    tie = arcs.mentor * (most - (arcs.unit - np.searchsorted(owners, owner, "left")))
    order = np.lexsort((arcs.unit, tie, arcs.nosubj, arcs.loc, -arcs.prio, arcs.mentor))
    arcs = _Ranked(*(field[order] for field in arcs))
    owner = owner[order]
    pair = arcs.mentor * (int(owners[-1]) + 1) + owner  # owners are sorted
    new = np.zeros(len(pair), np.int64)
    new[np.unique(pair, return_index=True)[1]] = 1  # an owner's first arc to this mentor
    before = np.cumsum(new) - new  # distinct (mentor, owner) pairs before each arc
    starts = np.flatnonzero(np.concatenate(([True], arcs.mentor[1:] != arcs.mentor[:-1])))
    group = np.zeros(len(pair), np.int64)
    group[starts[1:]] = 1
    np.cumsum(group, out=group)
    before -= before[starts][group]  # ... of this arc's mentor
    keep = before < people
    return _Ranked(*(np.concatenate((c, f[keep])) for c, f in zip(calm, arcs, strict=True)))


def flow_arcs(
    index: CatalogueIndex,
    seekers: Sequence[Seeker],
    needs: Sequence[Sequence[Need]],
    severities: Sequence[Mapping[str, str]],
    units: Sequence[tuple[int, Unit]],
    capacity: Sequence[int] | np.ndarray,
    owners: np.ndarray,
    themselves: Mapping[int, int] | None = None,
) -> FlowArcs:
    """:func:`cohort_arcs` and :func:`cut_arcs` chunk by chunk: the network's arcs are
    cut as they are found, so that the arcs held at once for the flow are the pool's
    (its mentors times K + 1 owners) and those found since the last cut (up to
    ``_CUT_FLOOR`` or twice those kept, whichever is more: a few chunks), not the
    cohort's.

    Parameters
    ----------
    index, seekers, needs, severities, units, capacity, themselves
        As for :func:`cohort_arcs`.
    owners : numpy.ndarray
        Each unit's seeker (int64, sorted).

    Returns
    -------
    FlowArcs
        The kept arcs (sorted by unit and mentor) and every arc and row.

    Raises
    ------
    UsageError
        If ``owners`` is not sorted.
    """
    _check_sorted(owners)
    people = int(np.sum(np.asarray(capacity, np.int64))) + 1
    most = most_units(owners)
    kept: list[_Ranked] = []  # the last cut's arcs, then the chunks found since
    narrow: list[CohortArcs] = []
    found = last = waiting = 0
    for chunk in _chunks(index, seekers, needs, severities, units, capacity, themselves):
        narrow.append(_narrowed(chunk))
        numbers = np.arange(found, found + len(chunk.unit), dtype=np.int64)
        kept.append(_Ranked(*chunk[:5], numbers))
        found += len(chunk.unit)
        waiting += len(chunk.unit)
        del chunk
        # cut again once the arcs waiting outnumber the floor and twice those kept:
        # each arc is sorted a few times at most, and no more than that is held
        if waiting > max(_CUT_FLOOR, 2 * last):
            kept = [_cut(_together(kept), owners, most, people)]
            last, waiting = len(kept[0].unit), 0
    candidates = _joined(narrow)
    if not kept:
        return FlowArcs(_EMPTY, _NONE, candidates, 0)
    held = _cut(_together(kept), owners, most, people)
    del kept
    if not np.any(held.full[1:] < held.full[:-1]):  # no mentor sorted: still in order
        return FlowArcs(CohortArcs(*held[:5], _NONE, _NONE, _NONE), held.full, candidates, found)
    order = np.argsort(held.full)
    network = CohortArcs(
        held.unit[order],
        held.mentor[order],
        held.prio[order],
        held.loc[order],
        held.nosubj[order],
        _NONE,
        _NONE,
        _NONE,
    )
    return FlowArcs(network, held.full[order], candidates, found)


#: The arcs found, beyond those kept, before they are cut again (see flow_arcs): a few
#: chunks' worth, a few MB.
_CUT_FLOOR = 1 << 16


def _together(parts: list[_Ranked]) -> _Ranked:
    """Ranked arcs laid end to end."""
    if len(parts) == 1:
        return parts[0]
    return _Ranked(*(np.concatenate(field) for field in zip(*parts, strict=True)))


def _narrowed(arcs: CohortArcs) -> CohortArcs:
    """A chunk's arcs and rows in the narrowest types their values fit: the unit
    columns int32, locality and subject match int8, the mentor and need indexes and
    the priority sums int16 where they fit (hundreds of mentors, a few dozen needs
    a person, sums of a few weights of 1-8), else int32. Chunks of different widths
    are joined in the wider (numpy's concatenate)."""
    return CohortArcs(
        arcs.unit.astype(np.int32),
        _small(arcs.mentor),
        _small(arcs.prio),
        arcs.loc.astype(np.int8),
        arcs.nosubj.astype(np.int8),
        arcs.row_unit.astype(np.int32),
        _small(arcs.row_need),
        _small(arcs.row_mentor),
    )


def _small(values: np.ndarray) -> np.ndarray:
    """``values`` as int16 if they all fit, else int32 (they are int32 at most)."""
    fits = not len(values) or (
        int(values.min()) >= np.iinfo(np.int16).min and int(values.max()) <= np.iinfo(np.int16).max
    )
    return values.astype(np.int16 if fits else np.int32)
