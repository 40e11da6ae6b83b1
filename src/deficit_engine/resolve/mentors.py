"""Mentors for mentor needs: one mentor per mentoring form, chosen by a min-cost flow.

A seeker (a person, or a school asking for a mentor team) gets at most one
mentor per mentoring form (a need's ``form`` filter; needs naming no form
make one more "form"): the *unit*. That mentor serves every need of the unit
they qualify for. A mentor qualifies for a need when the competency is among
their strengths, the need's filters pass, they have a free place, their
``subjects`` and ``levels`` (if any) meet the seeker's, and -- for
``management`` (менторство) and for a school's mentor team -- they work in
another organisation.

Which mentor each unit gets is the lexicographic optimum of
:mod:`.allocate` (docs/route.md, "Cohort plans"): the same code serves one
person (:func:`resolve_mentors`) and a whole cohort (the planner builds the
units of every person with :func:`mentor_units` and :func:`unit_arcs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..catalogue import MEMO_LIMIT, CatalogueIndex, exact_key, mismatch, mismatch_text
from ..labels import FORM_RU, SUBJECT_RU
from ..models import Need, Recommendation
from ..schema import Mentor
from .allocate import Arc, _cached_weights, allocate
from .needinfo import NeedInfo, competency_bits, form_of, infos_of

__all__ = [
    "SEVERITY_WEIGHT",
    "Candidate",
    "MentorChoice",
    "Seeker",
    "Unit",
    "Why",
    "full_why",
    "ids_text",
    "mentor_recommendations",
    "mentor_units",
    "resolve_mentors",
    "unit_arcs",
    "why_not",
]

#: A need's weight in a pairing's priority, by the severity of the deficit on
#: its competency (a need with no deficit -- a request -- weighs as ``low``):
#: one critical need outweighs two high ones, and so on.
SEVERITY_WEIGHT = {"critical": 8, "high": 4, "moderate": 2, "low": 1}
#: Forms whose mentor must work in another organisation (менторство is between
#: different management teams; a mentor team comes from a leader school).
CROSS_ORGANISATION_FORMS = frozenset({"management"})
_LOC_RU = ("та же организация", "тот же муниципалитет", "другой муниципалитет")


class Seeker(NamedTuple):
    """Who is mentored: what mentor eligibility and ranking read of a person or school."""

    organization: str | None
    municipality: str | None
    subjects: frozenset[str]
    levels: frozenset[str]
    school: bool = False  # a school asking for a mentor team (always across organisations)


class Unit(NamedTuple):
    """A seeker's needs of one mentoring form (None: needs naming no form)."""

    form: str | None
    needs: tuple[int, ...]


class Candidate(NamedTuple):
    """A mentor who could take a unit, and how good the pairing is."""

    mentor: Mentor
    served: tuple[int, ...]
    prio: int
    loc: int
    nosubj: int

    def key(self, rank: Mapping[str, int]) -> tuple[int, int, int, int]:
        """The pairing's rank among a unit's candidates (less is better)."""
        return (-self.prio, self.loc, self.nosubj, rank[self.mentor.id])


#: A Candidate (a Unit, a MentorChoice) from a tuple, without the NamedTuple's keyword
#: machinery (a person's units have half a dozen candidates each).
_candidate = _unit = _choice = tuple.__new__


class Why(NamedTuple):
    """Why a need is unmet: the reason, its cause (models.UNMET_CAUSES), what ran out."""

    reason: str
    cause: str = "catalogue"
    exhausted: tuple[str, ...] = ()


class MentorChoice(NamedTuple):
    """The outcome for one unit: the chosen candidate (or None) and the others."""

    unit: Unit
    chosen: Candidate | None
    others: tuple[Candidate, ...]
    free: int  # the chosen mentor's free places before this plan (0 if none)
    # for a unit left without a mentor: why each of its needs is unmet, when the
    # caller knows it already (a cohort plan finds it from its arrays)
    why: Mapping[int, Why] | None = None


def mentor_units(
    needs: Sequence[Need], idx: Sequence[int], infos: Sequence[NeedInfo] | None = None
) -> list[Unit]:
    """The units of a seeker's mentor needs ``idx``: grouped by form, in order.

    Parameters
    ----------
    needs : sequence of Need
        The seeker's needs.
    idx : sequence of int
        The indexes of the mentor needs among them.
    infos : sequence of NeedInfo, optional
        The needs' infos, which know their forms.

    Returns
    -------
    list of Unit
        One unit per distinct form, in the order the forms first appear.
    """
    grouped: dict[str | None, list[int]] = {}
    for i in idx:
        form = form_of(needs[i]) if infos is None else infos[i].form
        members = grouped.get(form)
        if members is None:
            grouped[form] = [i]
        else:
            members.append(i)
    return [_unit(Unit, (form, tuple(members))) for form, members in grouped.items()]


def _eligible(m: Mentor, seeker: Seeker, form: str | None) -> bool:
    """The seeker-dependent conditions: subjects, levels, another organisation."""
    if not _meets(m, seeker):
        return False
    if _cross(seeker, form):
        return m.organization != seeker.organization
    return True


def _meets(m: Mentor, seeker: Seeker) -> bool:
    """Whether the mentor's subjects and levels (if any) meet the seeker's."""
    if m.subjects and seeker.subjects.isdisjoint(m.subjects):
        return False
    return not (m.levels and seeker.levels.isdisjoint(m.levels))


def locality(m: Mentor, seeker: Seeker) -> int:
    """0 same organisation, 1 same municipality, 2 elsewhere (or not known).

    Parameters
    ----------
    m : Mentor
        The mentor.
    seeker : Seeker
        The person or school.

    Returns
    -------
    int
        The locality class.
    """
    if seeker.organization is not None and m.organization == seeker.organization:
        return 0
    if seeker.municipality is not None and m.municipality == seeker.municipality:
        return 1
    return 2


def unit_arcs(
    index: CatalogueIndex,
    seeker: Seeker,
    needs: Sequence[Need],
    unit: Unit,
    free: Mapping[str, int],
    severities: Mapping[str, str],
    infos: Sequence[NeedInfo] | None = None,
    table: dict[int, tuple[Mentor, ...]] | None = None,
) -> list[Candidate]:
    """The mentors who could take ``unit``, each with the needs they would serve.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    seeker : Seeker
        The person or school.
    needs : sequence of Need
        The seeker's needs (the unit indexes them).
    unit : Unit
        One form's needs.
    free : Mapping
        Mentor id -> free places; mentors with none are left out.
    severities : Mapping
        Competency -> the seeker's deficit severity on it.
    infos : sequence of NeedInfo, optional
        The needs' infos (found here when not given).
    table : dict, optional
        The seeker's qualified mentors by need token (:func:`_qualified_table`,
        found here when not given): a caller with several units finds it once.

    Returns
    -------
    list of Candidate
        In mentor id order.
    """
    if infos is None:
        infos = infos_of(index, needs)
    if table is None:
        table = _qualified_table(index, seeker)
    served: dict[str, tuple[Mentor, list[int]]] = {}
    # menторство and mentor teams: not a mentor of the seeker's own organisation
    own = seeker.organization if _cross(seeker, unit.form) else None
    weight = {}
    for i in unit.needs:
        info = infos[i]
        weight[i] = SEVERITY_WEIGHT.get(severities.get(info.competency or "", "low"), 1)
        token = info.token
        found = table.get(token) if token is not None else None
        if found is None:
            found = _qualified(index, seeker, needs[i], token, table)
        for m in found:
            mid = m.id
            if free.get(mid, 0) > 0 and (own is None or m.organization != own):
                got = served.get(mid)
                if got is None:
                    served[mid] = (m, [i])
                else:
                    got[1].append(i)
    return _candidates(seeker, served, weight)


def _candidates(
    seeker: Seeker, served: dict[str, tuple[Mentor, list[int]]], weight: dict[int, int]
) -> list[Candidate]:
    """:func:`unit_arcs`' candidates, in mentor id order, from the needs each serves."""
    out = []
    subjects = seeker.subjects
    for mid in sorted(served) if len(served) > 1 else served:
        m, got = served[mid]
        prio = weight[got[0]] if len(got) == 1 else sum([weight[i] for i in got])
        nosubj = 0 if not subjects or not subjects.isdisjoint(m.subjects) else 1
        out.append(_candidate(Candidate, (m, tuple(got), prio, locality(m, seeker), nosubj)))
    return out


def _cross(seeker: Seeker, form: str | None) -> bool:
    """Whether the mentor must work in another organisation than the seeker's."""
    return (seeker.school or form in CROSS_ORGANISATION_FORMS) and seeker.organization is not None


def _met_by(index: CatalogueIndex, seeker: Seeker) -> frozenset[str]:
    """The ids of the mentors restricted to some subjects or levels whose
    restrictions the seeker meets: with the unrestricted ones, who meet anyone,
    what :func:`_meets` makes of the seeker's subjects and levels (2,000 synthetic
    people: 223 (subjects, levels), 52 such sets). Remembered per KB."""
    memo = index.memo("restricted mentors met")
    key = (seeker.subjects, seeker.levels)
    found: frozenset[str] | None = memo.get(key)
    if found is None:
        found = index.remember(
            memo,
            key,
            frozenset(
                [
                    m.id
                    for m in index.mentor_by_id.values()
                    if (m.subjects or m.levels) and _meets(m, seeker)
                ]
            ),
        )
    return found


def _qualified_table(index: CatalogueIndex, seeker: Seeker) -> dict[int, tuple[Mentor, ...]]:
    """Need token -> :func:`_qualified`'s mentors, for every seeker who meets the same
    restricted mentors (:func:`_met_by`) as this one: filled as needs are met, found
    per KB by the seeker's subjects and levels (one lookup a unit, not one a need)."""
    memo = index.memo("qualified mentors per subjects and levels")
    key = (seeker.subjects, seeker.levels)
    table: dict[int, tuple[Mentor, ...]] | None = memo.get(key)
    if table is None:
        shared = index.memo("qualified mentors by token, per restricted mentors met")
        met = _met_by(index, seeker)
        table = shared.get(met)
        if table is None:
            table = index.remember(shared, met, {})
        index.remember(memo, key, table)
    return table


def _qualified(
    index: CatalogueIndex,
    seeker: Seeker,
    need: Need,
    token: int | None,
    table: dict[int, tuple[Mentor, ...]],
) -> tuple[Mentor, ...]:
    """The mentors with ``need``'s competency among their strengths who pass its
    filters and whose subjects and levels (if any) meet the seeker's, in id order.

    A function of the index, the need's competency and filters (its ``token``,
    :class:`~.needinfo.NeedInfo`) and which restricted mentors the seeker meets
    (:func:`_met_by`): kept in the seeker's ``table`` (:func:`_qualified_table`)
    under its token (none when the token is None).
    """
    cands = index.mentors_by_strength.get(need.competency or "", ())
    if cands and need.filters:
        ok = index.filtered("mentor", need).passing
        cands = [c for c in cands if c.id in ok]
    found = tuple(m for m in cands if _meets(m, seeker))
    if token is not None and len(table) < MEMO_LIMIT:
        table[token] = found
    return found


def resolve_mentors(
    index: CatalogueIndex,
    seeker: Seeker,
    needs: Sequence[Need],
    idx: Sequence[int],
    load: Mapping[str, int],
    severities: Mapping[str, str],
    infos: Sequence[NeedInfo] | None = None,
) -> tuple[list[Recommendation], dict[int, Why]]:
    """Mentors for the needs ``idx`` (indexes into ``needs``) of one seeker.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    seeker : Seeker
        The person.
    needs : sequence of Need
        The Result's needs; ``idx`` picks the mentor needs among them.
    idx : sequence of int
    load : Mapping
        Mentor id -> mentees already taken (lowers the free places).
    severities : Mapping
        Competency -> the person's deficit severity on it.
    infos : sequence of NeedInfo, optional
        The needs' infos (found here when not given).

    Returns
    -------
    tuple
        The recommendations and need index -> why no mentor serves it.
    """
    if infos is None:
        infos = infos_of(index, needs)
    free = index.capacity
    if load:
        free = dict(free)
        for mid, taken in load.items():
            if mid in free:
                free[mid] -= taken
    units = mentor_units(needs, idx, infos)
    table = _qualified_table(index, seeker)
    cands = [unit_arcs(index, seeker, needs, u, free, severities, infos, table) for u in units]
    best = _best_alone(index, cands, free, len(units))
    if best is None:
        flat = [(u, c) for u, cs in enumerate(cands) for c in cs]
        got = _allocate_alone(index, units, flat, free) if flat else (-1,) * len(units)
        best = [None if k < 0 else flat[k][1] for k in got]
    choices = []
    for unit, chosen, cs in zip(units, best, cands, strict=True):
        if chosen is None:
            choices.append(_choice(MentorChoice, (unit, None, tuple(cs), 0, None)))
            continue
        others = tuple([c for c in cs if c is not chosen]) if len(cs) > 1 else ()
        choices.append(_choice(MentorChoice, (unit, chosen, others, free[chosen.mentor.id], None)))
    return mentor_recommendations(index, seeker, needs, choices, cohort=False, infos=infos)


def _best_alone(
    index: CatalogueIndex,
    cands: Sequence[Sequence[Candidate]],
    free: Mapping[str, int],
    n_units: int,
) -> list[Candidate | None] | None:
    """Each unit's candidate as :func:`_allocate_alone` chooses it, in the usual case
    where that is plain to see, without the allocation's arcs: one owner whose units'
    best candidates (by ``Candidate.key``: a unit's keys are unique, its mentors are)
    ask no mentor beyond their free places, with weights exact and a tie-break
    (what :func:`.allocate._one_owner` checks; these are then its answer). None
    otherwise: the caller allocates."""
    rank = index.mentor_rank
    best: list[Candidate | None] = []
    taken: dict[str, int] = {}
    ids: set[str] = set()
    most = 0
    placeable = 0
    for cs in cands:
        if not cs:
            best.append(None)
            continue
        placeable += 1
        top = cs[0]
        if len(cs) > 1:
            least = None
            for c in cs:
                ids.add(c.mentor.id)
                if c.prio > most:
                    most = c.prio
                key = (-c.prio, c.loc, c.nosubj, rank[c.mentor.id])
                if least is None or key < least:
                    top, least = c, key
        else:
            ids.add(top.mentor.id)
            if top.prio > most:
                most = top.prio
        best.append(top)
        mid = top.mentor.id
        taken[mid] = taken.get(mid, 0) + 1
    if not placeable:
        return best
    for mid, count in taken.items():
        if count > free[mid]:
            return None
    weights = _cached_weights(
        placeable,
        1,
        sum([free[mid] for mid in ids]),
        len(ids),
        most,
        2 + 1 + placeable + len(ids),
        0,
        n_units,
    )
    return best if weights.exact and weights.tie else None


def _allocate_alone(
    index: CatalogueIndex,
    units: Sequence[Unit],
    flat: Sequence[tuple[int, Candidate]],
    free: Mapping[str, int],
) -> tuple[int, ...]:
    """Each unit's chosen candidate (an index into ``flat``) or -1: :mod:`.allocate`
    for one seeker, the mentors numbered by their ranks in the whole pool, as a
    cohort plan numbers them."""
    ids = sorted({c.mentor.id for _u, c in flat}, key=index.mentor_rank.__getitem__)
    local = {mid: r for r, mid in enumerate(ids)}
    arcs = [Arc(u, local[c.mentor.id], c.served, c.prio, c.loc, c.nosubj) for u, c in flat]
    return allocate([0] * len(units), arcs, [free[mid] for mid in ids]).chosen


def mentor_recommendations(
    index: CatalogueIndex,
    seeker: Seeker,
    needs: Sequence[Need],
    choices: Sequence[MentorChoice],
    *,
    cohort: bool,
    infos: Sequence[NeedInfo] | None = None,
) -> tuple[list[Recommendation], dict[int, Why]]:
    """The recommendations and unmet needs of a seeker's units, as allocated.

    A mentor chosen for two forms is one recommendation naming both.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    seeker : Seeker
        The person.
    needs : sequence of Need
        The seeker's needs.
    choices : sequence of MentorChoice
        Each unit's outcome.
    cohort : bool
        Whether the places were shared out across a cohort (the reasons say so).
    infos : sequence of NeedInfo, optional
        The needs' infos, when the caller has them: a recommendation's competencies
        are then found by their bits, without reading the needs.

    Returns
    -------
    tuple
        The recommendations (in unit order) and need index -> why no mentor serves it.
    """
    rank = index.mentor_rank
    by_mentor: dict[str, list[MentorChoice]] = {}
    unmet: dict[int, Why] = {}
    for ch in choices:
        if ch.chosen is None and ch.why is not None:
            unmet.update(ch.why)
            continue
        if ch.chosen is None:
            for i in ch.unit.needs:
                unmet[i] = _unplaced_reason(index, seeker, needs[i], i, ch, cohort)
            continue
        mid = ch.chosen.mentor.id
        if mid in by_mentor:
            by_mentor[mid].append(ch)
        else:
            by_mentor[mid] = [ch]
        served = ch.chosen.served
        if len(served) == len(ch.unit.needs):  # (served is a subset of the unit's needs)
            continue
        for i in ch.unit.needs:
            if i in served:
                continue
            for c in ch.others:
                if i in c.served:
                    unmet[i] = _one_per_form_why(index, needs[i], ch)
                    break
            else:
                unmet[i] = why_not(index, seeker, needs[i], ch.unit.form)
    recs = [
        _recommendation(index, seeker, needs, chs, rank, cohort, infos)
        for chs in by_mentor.values()
    ]
    return recs, unmet


def _recommendation(
    index: CatalogueIndex,
    seeker: Seeker,
    needs: Sequence[Need],
    chs: Sequence[MentorChoice],
    rank: Mapping[str, int],
    cohort: bool,
    infos: Sequence[NeedInfo] | None,
) -> Recommendation:
    best = chs[0].chosen
    assert best is not None
    m = best.mentor
    if len(chs) == 1:
        served = sorted(best.served)
        forms: tuple[str, ...] = (chs[0].unit.form,) if chs[0].unit.form else ()
    else:
        served = sorted(i for ch in chs if ch.chosen for i in ch.chosen.served)
        forms = tuple(dict.fromkeys(ch.unit.form for ch in chs if ch.unit.form))
    served_needs = tuple([needs[i] for i in served])
    bits = 0 if infos is None else competency_bits(infos, served)
    comps = index.comps_of(bits) if bits else index.sort([str(n.competency) for n in served_needs])
    parts = [_opening(index, seeker, m, comps, forms, best.loc)]
    free = chs[0].free
    parts.append(
        f"мест у наставника: {m.capacity}, распределяются по всей когорте"
        if cohort
        else f"свободных мест: {free} из {m.capacity}"
    )
    for ch in chs:
        assert ch.chosen is not None
        versus = _versus(ch.chosen, ch.others, rank, cohort)
        if versus and versus not in parts:  # one mentor for two forms: said once
            parts.append(versus)
    return Recommendation.of(
        "mentor",
        m.id,
        m.name,
        comps,
        served_needs,
        "; ".join(parts) + ".",
        (
            ("forms", forms),
            ("municipality", m.municipality),
            ("organization", m.organization),
            ("capacity", m.capacity),
            ("free", free),
        ),
    )


def _opening(
    index: CatalogueIndex,
    seeker: Seeker,
    m: Mentor,
    comps: tuple[str, ...],
    forms: tuple[str, ...],
    loc: int,
) -> str:
    """The reason's first parts: what the mentor serves, where they are, the subjects
    they share with the seeker. A function of these arguments (of the seeker: the
    kind, municipality and subjects), remembered on the index: a cohort repeats them."""
    key = (m.id, comps, forms, loc, seeker.school, seeker.municipality, seeker.subjects)
    memo = index.memo("mentor reason openings")
    found: str | None = memo.get(key)
    if found is None:
        parts = [_head(comps, forms), _locality_reason(m, seeker, loc)]
        subjects = sorted(seeker.subjects.intersection(m.subjects))
        if subjects:
            parts.append("предмет: " + ", ".join(SUBJECT_RU.get(s, s) for s in subjects))
        found = index.remember(memo, key, "; ".join(parts))
    return found


def _head(comps: Sequence[str], forms: Sequence[str]) -> str:
    """The reason's first part: the competencies served and the forms asked for."""
    n = len(comps)
    head = (
        f"Наставник по компетенции {comps[0]}"
        if n == 1
        else f"Наставник по {n} компетенциям ({', '.join(comps)})"
    )
    if forms:
        head += " в форме " + ", ".join(f"«{FORM_RU.get(f, f)}»" for f in forms)
    return head


def _locality_reason(m: Mentor, seeker: Seeker, loc: int) -> str:
    if seeker.school:  # a mentor team always comes from another organisation
        where = "того же муниципалитета" if loc == 1 else "другого муниципалитета"
        return f"команда наставников из другой организации {where} («{m.organization}»)"
    if loc == 0:
        return f"та же организация («{m.organization}»)"
    if loc == 1:
        return f"тот же муниципалитет («{m.municipality}»)"
    if seeker.municipality is None:
        return f"муниципалитет не указан; наставник из муниципалитета «{m.municipality}»"
    return (
        f"в муниципалитете «{seeker.municipality}» подходящего наставника со свободным местом "
        f"нет; наставник из муниципалитета «{m.municipality}»"
    )


def _versus(
    chosen: Candidate, others: Sequence[Candidate], rank: Mapping[str, int], cohort: bool
) -> str:
    """Why ``chosen`` and not the best of the others (empty when there are none)."""
    if not others:
        return ""
    alt, theirs = others[0], None
    for c in others:  # the least by Candidate.key (the first, as min() finds it)
        key = (-c.prio, c.loc, c.nosubj, rank[c.mentor.id])
        if theirs is None or key < theirs:
            alt, theirs = c, key
    assert theirs is not None
    mine = (-chosen.prio, chosen.loc, chosen.nosubj, rank[chosen.mentor.id])
    if theirs < mine:  # only a cohort plan passes over a better mentor: their places went to others
        return (
            f"{alt.mentor.id} подошёл бы лучше, но его места распределены по плану когорты"
            if cohort
            else ""
        )
    if mine[0] != theirs[0]:
        return (
            f"выбран вместо {alt.mentor.id}: охватывает больше потребностей "
            "или более острые дефициты"
        )
    if mine[1] != theirs[1]:
        return f"выбран вместо {alt.mentor.id}: {_LOC_RU[alt.loc]} против «{_LOC_RU[chosen.loc]}»"
    if mine[2] != theirs[2]:
        return f"выбран вместо {alt.mentor.id}: тот наставник не ведёт предмет педагога"
    return f"выбран вместо {alt.mentor.id}: при равных условиях — по порядку идентификаторов"


def _one_per_form_why(index: CatalogueIndex, need: Need, ch: MentorChoice) -> Why:
    """Why a need another mentor of the unit's form could serve is unmet: a function
    of the form, the chosen mentor and the need's competency, remembered on the index."""
    assert ch.chosen is not None
    key = (ch.unit.form, ch.chosen.mentor.id, need.competency)
    memo = index.memo("one mentor per form")
    found: Why | None = memo.get(key)
    if found is None:
        found = index.remember(memo, key, Why(_one_per_form_reason(need, ch), "one_per_form"))
    return found


def _one_per_form_reason(need: Need, ch: MentorChoice) -> str:
    assert ch.chosen is not None
    form = FORM_RU.get(ch.unit.form or "", ch.unit.form or "без указания формы")
    return (
        f"в форме «{form}» назначается один наставник ({ch.chosen.mentor.id}); "
        f"компетенцией {need.competency} он не владеет, второй наставник в той же форме "
        "не назначается"
    )


def _unplaced_reason(
    index: CatalogueIndex,
    seeker: Seeker,
    need: Need,
    i: int,
    ch: MentorChoice,
    cohort: bool,
) -> Why:
    """Why need ``i`` of a unit that got no mentor is unmet: the mentors who could
    serve it are full, or none can."""
    full = tuple(c.mentor.id for c in ch.others if i in c.served)
    if full:
        return full_why(full, cohort)
    return why_not(index, seeker, need, ch.unit.form)


def full_why(ids: Sequence[str], cohort: bool) -> Why:
    """A need unmet because every mentor who could serve it is full.

    Parameters
    ----------
    ids : sequence of str
        Those mentors' ids (all go to ``exhausted``; the reason names five).
    cohort : bool
        Whether their places went to others in a cohort plan.

    Returns
    -------
    Why
        The reason, cause ``capacity``.
    """
    if cohort:
        reason = (
            f"нехватка мест: места подходящих наставников ({ids_text(ids)}) "
            "распределены по плану когорты"
        )
    else:
        reason = f"у подходящих наставников ({ids_text(ids)}) нет свободных мест"
    return Why(reason, "capacity", tuple(ids))


def ids_text(ids: Sequence[str], shown: int = 5) -> str:
    """Ids for a reason: the first ``shown`` of them, then how many more.

    Parameters
    ----------
    ids : sequence of str
        The ids.
    shown : int
        How many to name.

    Returns
    -------
    str
        ``"M-1, M-2"`` or ``"M-1, ..., M-5 и ещё 3"``.
    """
    if len(ids) <= shown:
        return ", ".join(ids)
    return ", ".join(ids[:shown]) + f" и ещё {len(ids) - shown}"


def why_not(index: CatalogueIndex, seeker: Seeker, need: Need, form: str | None) -> Why:
    """Why no mentor with a free place can take ``need`` (a need with no candidate).

    Parameters
    ----------
    index : CatalogueIndex
        The catalogue index.
    seeker : Seeker
        The person or school.
    need : Need
        The need.
    form : str or None
        Its unit's form.

    Returns
    -------
    Why
        The reason and its cause.
    """
    filters = exact_key(need.filters)
    own = seeker.organization if _cross(seeker, form) else None
    key = (need.competency, filters, form, seeker.subjects, seeker.levels, seeker.school, own)
    memo = index.memo("why no mentor")
    found: Why | None = memo.get(key) if filters is not None else None
    if found is None:
        found = index.remember(
            memo, key if filters is not None else None, _why_not(index, seeker, need, form)
        )
    return found


def _why_not(index: CatalogueIndex, seeker: Seeker, need: Need, form: str | None) -> Why:
    """:func:`why_not`, not memoised: a function of the need's competency and filters,
    the form, and the seeker's subjects, levels, kind and (across organisations) organisation."""
    strong = index.mentors_by_strength.get(need.competency or "", [])
    if not strong:
        return Why("в пуле нет наставника с этой компетенцией")
    attrs = index.mentor_attrs
    fitting = [m for m in strong if mismatch(attrs[m.id], need) is None]
    if not fitting:
        ids = ", ".join(m.id for m in strong)
        if form is not None and all(form not in m.forms for m in strong):
            return Why(
                f"наставники по компетенции есть ({ids}), но ни один не работает "
                f"в форме «{FORM_RU.get(form, form)}»"
            )
        bad = mismatch(attrs[strong[0].id], need)
        text = mismatch_text(*bad, "наставничества") if bad else ""
        return Why(f"наставники по компетенции есть ({ids}), но {text}")
    eligible = [m for m in fitting if _eligible(m, seeker, form)]
    if not eligible:
        ids = ", ".join(m.id for m in fitting)
        why = _ineligible_text(fitting[0], seeker, form)
        return Why(f"наставники по компетенции ({ids}) не подходят: {why}")
    full = tuple(m.id for m in eligible)
    return Why(f"у подходящих наставников ({', '.join(full)}) нет свободных мест", "capacity", full)


def _ineligible_text(m: Mentor, seeker: Seeker, form: str | None) -> str:
    if m.subjects and not seeker.subjects.intersection(m.subjects):
        subj = ", ".join(SUBJECT_RU.get(s, s) for s in m.subjects)
        if seeker.school:
            return f"наставник предметный ({subj}), а школе нужна команда по всей группе"
        return (
            f"ведут другие предметы ({subj})"
            if seeker.subjects
            else (f"наставник предметный ({subj}), а предметы педагога не указаны")
        )
    if m.levels and not seeker.levels.intersection(m.levels):
        return "работают на другом уровне образования"
    return (
        "из той же организации, а наставник-ментор или команда наставников "
        "должны быть из другой организации"
    )
