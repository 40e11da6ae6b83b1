"""Needs to catalogue items: ДПП programmes, mentors and formats; unmet needs.

Rules decide *what* is needed (``need`` facts); this module decides *which*
catalogue items serve it (DESIGN.md section 6), as a pure function of the
knowledge base, the profile and the needs:

* **programmes** -- only those whose ``audience`` includes the person's role
  and that cover the need's competency (and satisfy its filters); chosen
  greedily as a set cover of the person's programme needs, ranking candidates
  lexicographically by (1) how many still-uncovered needs they cover, (2) a
  delivery the profile requests, (3) ФР ДПП, (4) fewer hours, (5) id;
* **mentors** -- the competency among their strengths, the need's form among
  their forms, free capacity; same municipality first, then more of the
  person's needs served, then id. One mentor serves all of one person's mentor
  needs they qualify for and counts that person once against their capacity;
* **formats** -- by the filters the need names (format id, education, phase);
  a format need may name no competency.

Every recommendation carries the rule that asked for it and a reason in
Russian; a need no catalogue item serves is returned as :class:`Unmet` with
its reason, never dropped and never invented.
"""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from .labels import (
    DELIVERY_RU,
    EDUCATION_RU,
    FORM_RU,
    LEVEL_RU,
    PHASE_ORDER,
    PHASE_RU,
    ROLE_RU,
    format_hours,
    plural_ru,
)
from .loader import KnowledgeBase
from .models import Need, Recommendation, Resolution, Unmet
from .schema import Format, Mentor, Profile, Program

# PHASE_ORDER and format_hours live in labels; they are re-exported for the
# modules that import them from here.
__all__ = [
    "MENTORING_FORMAT",
    "PHASE_ORDER",
    "Recommendation",
    "Resolution",
    "Unmet",
    "format_hours",
    "mentoring_defaults",
    "resolve",
]

#: The format whose attributes (education, phase, hours) a mentoring step takes,
#: when the KB has it; otherwise the defaults below.
MENTORING_FORMAT = "mentoring"
_MENTORING_DEFAULT = ("informal", "practice", 18.0)


def mentoring_defaults(kb: KnowledgeBase) -> tuple[str, str, float]:
    """(education, phase, hours) of a mentoring step in this KB."""
    fmt = kb.formats.get(MENTORING_FORMAT)
    if fmt is None:
        return _MENTORING_DEFAULT
    return (fmt.education, fmt.phase, float(fmt.hours))


# --- helpers ---------------------------------------------------------------------


def _filters_text(pairs: Sequence[tuple[str, Any]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs)


class _CompKeys(dict[str, tuple[int, str]]):
    """Competency -> sort key, (10**9, id) for an id not in the ontology (not
    stored). A dict, so that ``__getitem__`` makes a fast sort key."""

    def __missing__(self, comp: str) -> tuple[int, str]:
        return (10**9, comp)


class _Index:
    """Per-KB lookup tables for the resolver and the route builder.

    Everything here is a function of the KB's catalogues and ontology only, so
    it is built once per KB (see :func:`_index`) instead of once per profile:
    the catalogues in id order, programmes by (role, competency), mentors by
    strength, the fixed filter attributes of every item, competency sort keys
    and prerequisite sets. The tables are read-only once built; the memos
    (``filtered``, ``program_texts``, ``format_texts``) only gain entries, each
    a pure function of the KB, so threads at worst compute one twice.
    It assumes the catalogue dicts are not edited in place; replacing one (or
    changing its size) is noticed by :func:`_index`, which builds a new index.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        # The objects the tables were built from; a KB whose catalogue or
        # ontology was replaced (or resized) since gets a fresh index.
        self.kb_ref = weakref.ref(kb)
        self.sources = (kb.programs, kb.mentors, kb.formats, kb.ontology)
        self.sizes = (len(kb.programs), len(kb.mentors), len(kb.formats))
        onto = kb.ontology
        #: competency -> its ontology sort key (prerequisites first).
        self.comp_keys = _CompKeys({c: (onto.order_key(c), c) for c in onto.competencies})
        #: A competency's sort key: ontology order; unknown ids last, by id.
        self.comp_key: Callable[[str], tuple[int, str]] = self.comp_keys.__getitem__
        #: competency -> its transitive prerequisites.
        self.prerequisites: dict[str, frozenset[str]] = {
            c: frozenset(onto.prerequisites(c)) for c in onto.competencies
        }
        self.programs: list[Program] = [kb.programs[k] for k in sorted(kb.programs)]
        self.program_attrs: dict[str, dict[str, Any]] = {
            p.id: _program_attrs(p) for p in self.programs
        }
        #: the role-independent tail of a programme's ranking key.
        self.program_rank: dict[str, tuple[int, float, str]] = {
            p.id: (0 if p.federal_registry else 1, float(p.hours), p.id) for p in self.programs
        }
        #: competency -> programmes covering it (any role), in id order.
        self.programs_by_comp: dict[str, list[Program]] = {}
        #: role -> competency -> programmes for the role covering it, in id order.
        self.programs_by_role: dict[str, dict[str, list[Program]]] = {}
        for p in self.programs:
            for comp in dict.fromkeys(p.covers):
                self.programs_by_comp.setdefault(comp, []).append(p)
            for role in dict.fromkeys(p.audience):
                by_comp = self.programs_by_role.setdefault(role, {})
                for comp in dict.fromkeys(p.covers):
                    by_comp.setdefault(comp, []).append(p)
        self.mentoring = mentoring_defaults(kb)
        education, phase, _hours = self.mentoring
        self.mentors: list[Mentor] = [kb.mentors[k] for k in sorted(kb.mentors)]
        #: mentor id -> free places when no load is given (their capacity).
        self.capacity: dict[str, int] = {m.id: m.capacity for m in self.mentors}
        self.mentor_attrs: dict[str, dict[str, Any]] = {
            m.id: _mentor_attrs(m, education, phase) for m in self.mentors
        }
        #: competency -> mentors with it among their strengths, in id order.
        self.mentors_by_strength: dict[str, list[Mentor]] = {}
        for m in self.mentors:
            for comp in dict.fromkeys(m.strengths):
                self.mentors_by_strength.setdefault(comp, []).append(m)
        self.formats: list[Format] = [kb.formats[k] for k in sorted(kb.formats)]
        self.format_attrs: dict[str, dict[str, Any]] = {
            f.id: _format_attrs(f) for f in self.formats
        }
        #: the formats by preference for a filter-only need: (phase, hours, id).
        self.formats_ranked: list[Format] = sorted(
            self.formats, key=lambda f: (PHASE_ORDER.get(f.phase, 9), float(f.hours), f.id)
        )
        #: programme id -> what program_text() returns, filled on first use.
        self.program_texts: dict[str, tuple[str, str, str, tuple[tuple[str, Any], ...]]] = {}
        #: format id -> what format_text() returns, filled on first use.
        self.format_texts: dict[str, tuple[str, str, tuple[tuple[str, Any], ...]]] = {}
        self.attrs: dict[str, dict[str, dict[str, Any]]] = {
            "program": self.program_attrs,
            "mentor": self.mentor_attrs,
            "format": self.format_attrs,
        }
        #: item kind -> a need's filters -> what they select (see _filtered).
        #: Needs come from the KB's rules, so there are a handful of distinct
        #: filter sets; at most _FILTERED_LIMIT a kind are kept all the same.
        self.filtered: dict[str, dict[tuple[tuple[str, Any], ...], _Filtered]] = {
            kind: {} for kind in self.attrs
        }

    def fresh_for(self, kb: KnowledgeBase) -> bool:
        programs, mentors, formats, ontology = self.sources
        return (
            self.kb_ref() is kb
            and kb.programs is programs
            and kb.mentors is mentors
            and kb.formats is formats
            and kb.ontology is ontology
            and self.sizes == (len(programs), len(mentors), len(formats))
        )

    def sort(self, comps: Sequence[str]) -> tuple[str, ...]:
        """Distinct competency ids in ontology order (prerequisites first)."""
        if len(comps) == 1:
            return (comps[0],)
        return tuple(sorted(dict.fromkeys(comps), key=self.comp_key))

    def program_text(self, p: Program) -> tuple[str, str, str, tuple[tuple[str, Any], ...]]:
        """A programme's delivery in Russian, its ФР ДПП and hours parts of the
        reason and its recommendation attrs (made on first use)."""
        found = self.program_texts.get(p.id)
        if found is None:
            found = self.program_texts[p.id] = (
                DELIVERY_RU[p.delivery],
                "входит в ФР ДПП" if p.federal_registry else "не входит в ФР ДПП",
                f"{format_hours(p.hours)} ч",
                (
                    ("hours", float(p.hours)),
                    ("delivery", p.delivery),
                    ("provider", p.provider),
                    ("federal_registry", p.federal_registry),
                    ("program_kind", p.kind),
                ),
            )
        return found

    def format_text(self, fmt: Format) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
        """A format's reason line, hours text and recommendation attrs (made on
        first use: they are the same for every person)."""
        found = self.format_texts.get(fmt.id)
        if found is None:
            found = self.format_texts[fmt.id] = (
                f"{EDUCATION_RU[fmt.education]} образование, этап «{PHASE_RU[fmt.phase]}», "
                f"{LEVEL_RU[fmt.level]} уровень",
                format_hours(fmt.hours),
                (
                    ("hours", float(fmt.hours)),
                    ("education", fmt.education),
                    ("phase", fmt.phase),
                    ("level", fmt.level),
                ),
            )
        return found


#: id(kb) -> its :class:`_Index`: built once per KB, not per profile. Keyed by
#: identity (a KnowledgeBase is not hashable) and dropped when the KB is
#: garbage-collected, so it holds one entry per live KB. An index is stored
#: only once built, so threads never see a half-built one (two threads may
#: both build one: harmless, the last stored wins).
_INDEXES: dict[int, _Index] = {}
#: How many filter sets a kind one KB's ``filtered`` memo keeps.
_FILTERED_LIMIT = 1024


def _index(kb: KnowledgeBase) -> _Index:
    """The lookup tables of ``kb``, built on first use."""
    key = id(kb)
    index = _INDEXES.get(key)
    if index is not None and index.fresh_for(kb):
        return index
    if index is None or index.kb_ref() is not kb:
        weakref.finalize(kb, _INDEXES.pop, key, None)
    index = _Index(kb)
    _INDEXES[key] = index
    return index


def _mismatch(attrs: Mapping[str, Any], need: Need) -> tuple[str, Any, Any] | None:
    """The first filter of ``need`` the item's ``attrs`` do not satisfy, if any.

    A filter an item kind does not have (``form`` on a programme) is not
    satisfied: an unserved filter is reported, never ignored.
    """
    for name, wanted in need.filters:
        have = attrs.get(name)
        if isinstance(have, (list, tuple, frozenset, set)):
            if wanted not in have:
                return (name, wanted, have)
        elif have != wanted:
            return (name, wanted, have)
    return None


class _Filtered(NamedTuple):
    """What a need's filters select among the items of one kind."""

    passing: frozenset[str]  # ids of the items of which the filters find no _mismatch
    named: Any  # need.get("format"): the format id the need names, if any


def _filtered(index: _Index, kind: str, need: Need) -> _Filtered:
    """:class:`_Filtered` for ``need`` and the ``kind`` items (program, mentor,
    format): a function of ``need.filters``, memoised per KB by them.

    Filters that compare equal select the same items (item attributes are
    strings), but a memoised ``named`` that is not a ``str`` may be an equal
    value of another type (``1`` for ``True``): re-read it from the need before
    printing it.
    """
    memo = index.filtered[kind]
    filters = need.filters
    try:
        hit = memo.get(filters)
        hashable = True
    except TypeError:  # an unhashable filter value: not memoised
        hit, hashable = None, False
    if hit is None:
        hit = _Filtered(
            frozenset(
                item for item, attrs in index.attrs[kind].items() if _mismatch(attrs, need) is None
            ),
            need.get("format"),
        )
        if hashable and len(memo) < _FILTERED_LIMIT:
            memo[filters] = hit
    return hit


def _program_attrs(p: Program) -> dict[str, Any]:
    return {"education": "formal", "phase": "learn", "delivery": p.delivery}


def _format_attrs(f: Format) -> dict[str, Any]:
    return {"format": f.id, "education": f.education, "phase": f.phase}


def _mismatch_text(name: str, wanted: Any, have: Any, what: str) -> str:
    if have is None:
        return f"условие {name}={wanted} неприменимо: у {what} нет признака «{name}»"
    if isinstance(have, (list, tuple)):
        have = ", ".join(str(h) for h in have)
    return f"условие {name}={wanted} не выполнено (у {what}: {have})"


# --- programmes -----------------------------------------------------------------


def _greedy(
    fits: Mapping[str, set[int]], key_of: Callable[[str, int], tuple[Any, ...]]
) -> Iterator[tuple[tuple[Any, ...], str, set[int], tuple[tuple[Any, ...], str] | None]]:
    """Greedy set cover of the needs in ``fits`` (candidate id -> need indexes).

    Each round picks the candidate with the least ``key_of(id, uncovered needs
    it covers)`` (keys are unique: they end with the id) and yields (its key,
    its id, the needs it now serves, (key, id) of the runner-up: the least of
    the other candidates sharing one of those needs, or None). A key only grows
    as needs get covered, so instead of re-ranking every candidate each round
    a heap keeps (key, uncovered needs it covers, id) as they were when pushed:
    the least entry still up to date is the least candidate (lazy greedy).
    """
    uncovered: set[int] = set().union(*fits.values()) if fits else set()
    sharing: dict[int, list[str]] = {}  # need -> the candidates covering it
    for cid, needs in fits.items():
        for i in needs:
            sharing.setdefault(i, []).append(cid)
    heap = [(key_of(cid, len(needs)), len(needs), cid) for cid, needs in fits.items()]
    heapq.heapify(heap)
    while uncovered:
        key, left, cid = heapq.heappop(heap)
        served = fits[cid] & uncovered
        while len(served) != left:  # out of date: push it back as it is now
            if served:  # (else all its needs are covered: out for good)
                heapq.heappush(heap, (key_of(cid, len(served)), len(served), cid))
            key, left, cid = heapq.heappop(heap)
            served = fits[cid] & uncovered
        others = {a for i in served for a in sharing[i] if a != cid}
        alt = min([(key_of(a, len(fits[a] & uncovered)), a) for a in others]) if others else None
        uncovered -= served
        yield key, cid, served, alt


def _program_versus(
    best: Program,
    alt: Program,
    kb_: tuple[Any, ...],
    ka: tuple[Any, ...],
) -> str:
    if kb_[0] != ka[0]:
        return f"охватывает больше потребностей ({-kb_[0]} против {-ka[0]})"
    if kb_[1] != ka[1]:
        return f"в запрошенной форме обучения (у {alt.id} — {DELIVERY_RU[alt.delivery]})"
    if kb_[2] != ka[2]:
        return f"входит в ФР ДПП, {alt.id} — нет"
    if kb_[3] != ka[3]:
        return f"меньше часов ({format_hours(best.hours)} против {format_hours(alt.hours)})"
    return "при равных условиях — по порядку идентификаторов"


def _fits(
    index: _Index,
    kind: str,
    needs: Sequence[Need],
    idx: Sequence[int],
    by_competency: Mapping[str, Sequence[Program | Mentor]],
    free: Mapping[str, int] | None = None,
) -> dict[str, set[int]]:
    """Candidate id -> the needs (indexes into ``needs``) it can serve: those of a
    competency it is listed under whose filters it passes (and, given ``free``,
    only candidates with a free place)."""
    fits: dict[str, set[int]] = {}
    for i in idx:
        need = needs[i]
        cands = by_competency.get(need.competency, ())  # type: ignore[arg-type]
        if cands and need.filters:
            ok = _filtered(index, kind, need).passing
            cands = [c for c in cands if c.id in ok]
        for c in cands:
            if free is not None and free[c.id] <= 0:
                continue
            if c.id in fits:
                fits[c.id].add(i)
            else:
                fits[c.id] = {i}
    return fits


def _resolve_programs(
    kb: KnowledgeBase,
    role: str,
    prefs: Sequence[str],
    needs: Sequence[Need],
    idx: Sequence[int],
    index: _Index,
) -> tuple[list[Recommendation], dict[int, str]]:
    fits = _fits(index, "program", needs, idx, index.programs_by_role.get(role, {}))
    covered: set[int] = set().union(*fits.values()) if fits else set()
    unmet = {i: _program_unmet(role, index, needs[i]) for i in idx if i not in covered}
    # Ranking key: (-needs covered, not in a requested delivery, not in ФР ДПП,
    # hours, id); all but the first are fixed for this call.
    rank = index.program_rank
    fixed = {
        pid: (0 if (not prefs or kb.programs[pid].delivery in prefs) else 1, *rank[pid])
        for pid in fits
    }
    recs: list[Recommendation] = []
    for key, pid, served_set, alt in _greedy(fits, lambda pid, left: (-left, *fixed[pid])):
        best = kb.programs[pid]
        served = sorted(served_set)
        comps = index.sort([str(needs[i].competency) for i in served])
        n = len(served)
        parts = [
            f"Покрывает {n} {plural_ru(n, 'потребность', 'потребности', 'потребностей')}"
            f" ({', '.join(comps)})"
        ]
        d, registry, hours, attrs = index.program_text(best)
        if not prefs:
            parts.append(f"форма обучения {d} (предпочтения не указаны)")
        elif best.delivery in prefs:
            parts.append(f"{d} форма обучения соответствует запросу")
        else:
            asked = ", ".join(DELIVERY_RU.get(x, x) for x in prefs)
            parts.append(
                f"{d} форма не запрошена (запрошена: {asked}); "
                "программ с тем же охватом в запрошенной форме нет"
            )
        parts.append(registry)
        parts.append(hours)
        if alt is None:
            parts.append("других подходящих программ нет")
        else:
            parts.append(
                f"предпочтена {alt[1]}: " + _program_versus(best, kb.programs[alt[1]], key, alt[0])
            )
        recs.append(
            Recommendation(
                kind="program",
                id=best.id,
                title=best.title,
                competencies=comps,
                needs=tuple([needs[i] for i in served]),
                reason="; ".join(parts) + ".",
                attrs=attrs,
            )
        )
    return recs, unmet


def _program_unmet(role: str, index: _Index, need: Need) -> str:
    covering = index.programs_by_comp.get(need.competency, [])  # type: ignore[arg-type]
    if not covering:
        return "в каталоге нет программы, покрывающей компетенцию"
    for_role = [p for p in covering if role in p.audience]
    if not for_role:
        ids = ", ".join(p.id for p in covering)
        return (
            f"программы по компетенции есть ({ids}), но ни одна не предназначена "
            f"для роли «{ROLE_RU.get(role, role)}»"
        )
    reasons = []
    for p in for_role:
        bad = _mismatch(_program_attrs(p), need)
        assert bad is not None
        reasons.append(f"{p.id}: {_mismatch_text(*bad, 'программы')}")
    return "ни одна программа по компетенции не удовлетворяет условиям потребности (" + (
        "; ".join(reasons) + ")"
    )


# --- mentors ---------------------------------------------------------------------


def _mentor_attrs(m: Mentor, education: str, phase: str) -> dict[str, Any]:
    return {"form": tuple(m.forms), "education": education, "phase": phase}


def _resolve_mentors(
    kb: KnowledgeBase,
    municipality: str | None,
    needs: Sequence[Need],
    idx: Sequence[int],
    load: Mapping[str, int],
    index: _Index,
) -> tuple[list[Recommendation], dict[int, str]]:
    education, phase, _hours = index.mentoring
    mentors = index.mentors
    free = {m.id: m.capacity - load.get(m.id, 0) for m in mentors} if load else index.capacity
    fits = _fits(index, "mentor", needs, idx, index.mentors_by_strength, free)
    covered: set[int] = set().union(*fits.values()) if fits else set()
    unmet = {
        i: _mentor_unmet(index, free, needs[i], education, phase) for i in idx if i not in covered
    }
    # Ranking key: (not in the person's municipality, -needs served, id). A
    # mentor, once chosen, has no uncovered need left: the person counts once.
    local = {mid: 0 if kb.mentors[mid].municipality == municipality else 1 for mid in fits}
    recs: list[Recommendation] = []
    for k, mid, served_set, alt in _greedy(fits, lambda mid, left: (local[mid], -left, mid)):
        best = kb.mentors[mid]
        served = sorted(served_set)
        comps = index.sort([str(needs[i].competency) for i in served])
        forms = tuple(dict.fromkeys(str(f) for f in [needs[i].get("form") for i in served] if f))
        n = len(comps)
        head = (
            f"Наставник по компетенции {comps[0]}"
            if n == 1
            else f"Наставник по {n} компетенциям ({', '.join(comps)})"
        )
        if forms:
            head += " в форме " + ", ".join(f"«{FORM_RU.get(f, f)}»" for f in forms)
        parts = [head]
        if municipality is None:
            parts.append(
                f"муниципалитет педагога не указан; наставник из муниципалитета "
                f"«{best.municipality}»"
            )
        elif best.municipality == municipality:
            parts.append(f"тот же муниципалитет («{best.municipality}»)")
        else:
            parts.append(
                f"в муниципалитете педагога («{municipality}») подходящего наставника со "
                f"свободными местами нет; наставник из муниципалитета «{best.municipality}»"
            )
        parts.append(f"свободных мест: {free[mid]} из {best.capacity}")
        if alt is not None:
            ka, a = alt
            if ka[0] != k[0]:
                why = f"{a} — из другого муниципалитета («{kb.mentors[a].municipality}»)"
            elif ka[1] != k[1]:
                why = f"охватывает больше потребностей ({-k[1]} против {-ka[1]})"
            else:
                why = "при равных условиях — по порядку идентификаторов"
            parts.append(f"предпочтён {a}: {why}")
        recs.append(
            Recommendation(
                kind="mentor",
                id=best.id,
                title=best.name,
                competencies=comps,
                needs=tuple([needs[i] for i in served]),
                reason="; ".join(parts) + ".",
                attrs=(
                    ("forms", forms),
                    ("municipality", best.municipality),
                    ("organization", best.organization),
                    ("capacity", best.capacity),
                    ("free", free[mid]),
                ),
            )
        )
    return recs, unmet


def _mentor_unmet(
    index: _Index, free: Mapping[str, int], need: Need, education: str, phase: str
) -> str:
    strong = index.mentors_by_strength.get(need.competency, [])  # type: ignore[arg-type]
    if not strong:
        return "в пуле нет наставника с этой компетенцией"
    fitting = [m for m in strong if _mismatch(_mentor_attrs(m, education, phase), need) is None]
    if not fitting:
        ids = ", ".join(m.id for m in strong)
        form = need.get("form")
        if form is not None and all(form not in m.forms for m in strong):
            return (
                f"наставники по компетенции есть ({ids}), но ни один не работает "
                f"в форме «{FORM_RU.get(str(form), form)}»"
            )
        bad = _mismatch(_mentor_attrs(strong[0], education, phase), need)
        text = _mismatch_text(*bad, "наставничества") if bad else ""
        return f"наставники по компетенции есть ({ids}), но {text}"
    ids = ", ".join(m.id for m in fitting)
    return f"у подходящих наставников ({ids}) нет свободных мест"


# --- formats ---------------------------------------------------------------------


def _resolve_formats(
    kb: KnowledgeBase, needs: Sequence[Need], idx: Sequence[int], index: _Index
) -> tuple[list[Recommendation], dict[int, str]]:
    chosen: dict[str, list[int]] = {}
    how: dict[str, set[str]] = {}
    unmet: dict[int, str] = {}
    selected = {i: _filtered(index, "format", needs[i]) for i in idx}
    named = [i for i in idx if selected[i].named is not None]
    # Needs naming a format id first, so that filter-only needs can reuse them.
    for i in named + [i for i in idx if selected[i].named is None]:
        need = needs[i]
        ok, name = selected[i]
        if name is not None and type(name) is not str:  # see _filtered
            name = need.get("format")
        if name is not None:
            fmt = kb.formats.get(str(name))
            if fmt is None:
                unmet[i] = f"в каталоге нет формы работы «{name}»"
                continue
            if fmt.id not in ok:
                bad = _mismatch(_format_attrs(fmt), need)
                assert bad is not None
                unmet[i] = f"форма работы «{fmt.id}»: " + _mismatch_text(*bad, "формы работы")
                continue
            if fmt.id in chosen:
                chosen[fmt.id].append(i)
                how[fmt.id].add("названа в потребности")
            else:
                chosen[fmt.id] = [i]
                how[fmt.id] = {"названа в потребности"}
            continue
        cands = [f for f in index.formats_ranked if f.id in ok]
        if not cands:
            unmet[i] = (
                "в каталоге нет формы работы, удовлетворяющей условиям потребности"
                f" ({_filters_text(need.filters) or 'условий нет'})"
            )
            continue
        # the best already chosen for an earlier need, else the best overall
        best = next((f for f in cands if f.id in chosen), cands[0])
        chosen.setdefault(best.id, []).append(i)
        ids = ", ".join(f.id for f in index.formats if f.id in ok)
        how.setdefault(best.id, set()).add(
            f"подобрана по условиям ({_filters_text(need.filters) or 'без условий'})"
            f" из {len(cands)} подходящих ({ids})"
        )
    recs: list[Recommendation] = []
    for fid in sorted(chosen, key=lambda f: (PHASE_ORDER.get(kb.formats[f].phase, 9), f)):
        fmt = kb.formats[fid]
        served = sorted(chosen[fid])
        comps = index.sort([str(needs[i].competency) for i in served if needs[i].competency])
        general = None in [needs[i].competency for i in served]
        line, hours, attrs = index.format_text(fmt)
        parts = [f"Форма работы {'; '.join(sorted(how[fid]))}", line]
        if comps:
            n = len(comps)
            parts.append(
                f"{hours} ч по каждой из {n} "
                f"{plural_ru(n, 'компетенции', 'компетенций', 'компетенций')}"
                if n > 1
                else f"{hours} ч по компетенции {comps[0]}"
            )
        if general:
            parts.append(f"{hours} ч — общий шаг маршрута")
        recs.append(
            Recommendation(
                kind="format",
                id=fmt.id,
                title=fmt.title,
                competencies=comps,
                needs=tuple([needs[i] for i in served]),
                reason="; ".join(parts) + ".",
                attrs=attrs,
            )
        )
    return recs, unmet


# --- entry point -------------------------------------------------------------------


def resolve(
    kb: KnowledgeBase,
    profile: Profile,
    needs: Sequence[Need],
    *,
    mentor_load: Mapping[str, int] | None = None,
) -> Resolution:
    """Choose catalogue items for ``needs`` (a Result's needs, in its order).

    ``mentor_load`` (mentor id -> mentees already taken, e.g. earlier in a
    cohort) lowers the free capacity; by default every mentor has their full
    capacity. Pure: the same arguments give the same Resolution.
    """
    if not isinstance(kb, KnowledgeBase):
        raise TypeError(f"resolve() needs a KnowledgeBase, not {type(kb).__name__}")
    if not isinstance(profile, Profile):
        raise TypeError(
            f"resolve() needs a validated Profile (see parse_profile), not {type(profile).__name__}"
        )
    load = dict(mentor_load or {})
    for mid, taken in load.items():
        if not isinstance(taken, int) or isinstance(taken, bool) or taken < 0:
            raise ValueError(f"mentor_load[{mid!r}] must be a non-negative integer, not {taken!r}")
    needs = list(needs)
    by_kind: dict[str, list[int]] = {"program": [], "mentor": [], "format": []}
    unmet: dict[int, str] = {}
    for i, n in enumerate(needs):
        if not isinstance(n, Need):
            raise TypeError(f"resolve() needs Need objects, not {type(n).__name__}")
        if n.kind in by_kind:
            by_kind[n.kind].append(i)
        else:
            unmet[i] = f"неизвестный вид потребности «{n.kind}»"
    index = _index(kb)
    person = profile.person
    programs, u1 = _resolve_programs(
        kb, person.role, list(profile.preferences.delivery), needs, by_kind["program"], index
    )
    mentors, u2 = _resolve_mentors(kb, person.municipality, needs, by_kind["mentor"], load, index)
    formats, u3 = _resolve_formats(kb, needs, by_kind["format"], index)
    unmet.update(u1)
    unmet.update(u2)
    unmet.update(u3)
    return Resolution(
        recommendations=(*programs, *mentors, *formats),
        unmet=tuple(Unmet(needs[i], unmet[i]) for i in sorted(unmet)),
    )
