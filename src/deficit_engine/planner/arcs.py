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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ..catalogue import CatalogueIndex
from ..models import Need
from ..resolve.mentors import CROSS_ORGANISATION_FORMS, SEVERITY_WEIGHT, Seeker, Unit

__all__ = ["CohortArcs", "cohort_arcs"]


class CohortArcs(NamedTuple):
    """The arcs (one per unit and mentor) and the rows they were summed from.

    ``unit`` indexes the units as given; ``mentor`` the index's mentors in id
    order. The rows keep, for each (unit, need), the mentors who could serve it
    (what an unmet need's reason names).
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

    # One entry per (unit, need) with candidates, in order; each names its list
    # of candidate mentors (one per distinct competency and filters, the mentors
    # with free places only), and the rows are those lists laid end to end.
    lists: dict[tuple[str, tuple[tuple[str, object], ...]], int] = {}
    pool: list[np.ndarray] = []
    e_unit: list[int] = []
    e_need: list[int] = []
    e_list: list[int] = []
    e_weight: list[int] = []
    cross = np.zeros(len(units), bool)
    unit_seeker = np.zeros(len(units), np.int64)
    for u, (k, unit) in enumerate(units):
        unit_seeker[u] = k
        cross[u] = seekers[k].school or unit.form in CROSS_ORGANISATION_FORMS
        for i in unit.needs:
            need = needs[k][i]
            comp = need.competency or ""
            key = (comp, need.filters)
            found = lists.get(key)
            if found is None:
                found = lists[key] = len(pool)
                pool.append(_candidates(index, need, strong.get(comp), passing, free))
            if not len(pool[found]):
                continue
            e_unit.append(u)
            e_need.append(i)
            e_list.append(found)
            e_weight.append(SEVERITY_WEIGHT.get(severities[k].get(comp, "low"), 1))
    if not e_unit:
        empty = np.zeros(0, np.int64)
        return CohortArcs(empty, empty, empty, empty, empty, empty, empty, empty)
    sizes = np.array([len(c) for c in pool], np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    which = np.array(e_list, np.int64)
    lengths = sizes[which]
    # row r of entry e is pool[start of e's list + (r - first row of e)]
    first_row = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    offset = np.repeat(starts[which] - first_row, lengths)
    r_mentor = np.concatenate(pool)[offset + np.arange(int(lengths.sum()))]
    r_unit = np.repeat(np.array(e_unit, np.int64), lengths)
    r_need = np.repeat(np.array(e_need, np.int64), lengths)
    r_weight = np.repeat(np.array(e_weight, np.int64), lengths)
    k_of = unit_seeker[r_unit]
    keep = subjects.matrix("admits")[s_subj[k_of], r_mentor]
    keep &= levels.matrix("admits")[s_lvl[k_of], r_mentor]
    same_org = (s_org[k_of] >= 0) & (m_org[r_mentor] == s_org[k_of])
    keep &= ~(cross[r_unit] & same_org)
    keep &= own[k_of] != r_mentor
    r_unit, r_need, r_mentor, r_weight = r_unit[keep], r_need[keep], r_mentor[keep], r_weight[keep]

    key = r_unit * n_mentors + r_mentor
    uniq, inverse = np.unique(key, return_inverse=True)
    prio = np.bincount(inverse, weights=r_weight).astype(np.int64)
    a_unit, a_mentor = uniq // n_mentors, uniq % n_mentors
    a_seeker = unit_seeker[a_unit]
    org_match = (s_org[a_seeker] >= 0) & (m_org[a_mentor] == s_org[a_seeker])
    mun_match = (s_mun[a_seeker] >= 0) & (m_mun[a_mentor] == s_mun[a_seeker])
    loc = np.where(org_match, 0, np.where(mun_match, 1, 2)).astype(np.int64)
    matched = subjects.matrix("matches")[s_subj[a_seeker], a_mentor]
    nosubj = (s_has_subjects[a_seeker] & ~matched).astype(np.int64)
    return CohortArcs(a_unit, a_mentor, prio, loc, nosubj, r_unit, r_need, r_mentor)
