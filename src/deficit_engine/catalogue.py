"""The catalogue index: a knowledge base's catalogues as lookup tables for the resolver.

Everything here is a function of the KB's ontology and catalogues only, so it is
built once per KB (``KnowledgeBase.index``) instead of once per profile. The
route builder reads it too (competency order, mentoring defaults). It is built
from the KB's parts, not from the KB, and sits below it: ``kb`` imports this
module for ``KnowledgeBase.index``, this module imports nothing of the KB's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from .labels import DELIVERY_RU, EDUCATION_RU, LEVEL_RU, PHASE_ORDER, PHASE_RU, format_hours
from .models import Need
from .ontology import Ontology
from .schema import Format, Mentor, Program

__all__ = [
    "MENTORING_FORMAT",
    "CatalogueIndex",
    "CompetencyKeys",
    "Filtered",
    "exact_key",
    "filters_text",
    "mentoring_of",
    "mismatch",
    "mismatch_text",
]

#: The format whose attributes (education, phase, hours) a mentoring step takes,
#: when the KB has it; otherwise the defaults below.
MENTORING_FORMAT = "mentoring"
_MENTORING_DEFAULT = ("informal", "practice", 18.0)
#: How many filter sets of one item kind an index's ``filtered`` memo keeps.
FILTERED_LIMIT = 1024
#: How many entries each of an index's per-need memos (``memo``) keeps.
MEMO_LIMIT = 1 << 16

Attrs = tuple[tuple[str, Any], ...]


def mentoring_of(formats: Mapping[str, Format]) -> tuple[str, str, float]:
    """(education, phase, hours) of a mentoring step, given the KB's formats."""
    fmt = formats.get(MENTORING_FORMAT)
    if fmt is None:
        return _MENTORING_DEFAULT
    return (fmt.education, fmt.phase, float(fmt.hours))


# --- matching an item's attributes against a need's filters --------------------


def mismatch(attrs: Mapping[str, Any], need: Need) -> tuple[str, Any, Any] | None:
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


def mismatch_text(name: str, wanted: Any, have: Any, what: str) -> str:
    """A :func:`mismatch` in Russian; ``what`` names the item kind (genitive)."""
    if have is None:
        return f"условие {name}={wanted} неприменимо: у {what} нет признака «{name}»"
    if isinstance(have, (list, tuple)):
        have = ", ".join(str(h) for h in have)
    return f"условие {name}={wanted} не выполнено (у {what}: {have})"


def exact_key(filters: tuple[tuple[str, Any], ...]) -> Any:
    """A need's filters as a memo key that tells apart values printed apart.

    Filters that compare equal may print differently (``1`` and ``True``, ``1``
    and ``1.0``, ``0.0`` and ``-0.0``), and reasons print them: a memo of texts
    keyed by the filters alone could answer for the wrong one. String values (the
    usual case) are their own key; ints, bools, None and floats add their types
    (floats their repr); any other value gives None: not memoised.

    Parameters
    ----------
    filters : tuple of (str, value) pairs
        A need's filters.

    Returns
    -------
    hashable or None
        The key, or None when the filters should not be memoised.
    """
    for pair in filters:
        if type(pair[1]) is not str:
            return _typed_key(filters)
    return filters


def _typed_key(filters: tuple[tuple[str, Any], ...]) -> Any:
    kinds: list[Any] = []
    for _name, value in filters:
        kind = type(value)
        if kind is float:
            kinds.append(repr(value))
        elif kind in (str, int, bool, type(None)):
            kinds.append(kind)
        else:
            return None
    return (None, filters, tuple(kinds))  # never equal to a plain filters tuple


def filters_text(pairs: Sequence[tuple[str, Any]]) -> str:
    """A need's filters as ``name=value, ...``."""
    return ", ".join(f"{k}={v}" for k, v in pairs)


def program_attrs(p: Program) -> dict[str, Any]:
    """What a need's filters can ask of a programme."""
    return {"education": "formal", "phase": "learn", "delivery": p.delivery}


def mentor_attrs(m: Mentor, education: str, phase: str) -> dict[str, Any]:
    """What a need's filters can ask of a mentor (education and phase: mentoring's)."""
    return {"form": tuple(m.forms), "education": education, "phase": phase}


def format_attrs(f: Format) -> dict[str, Any]:
    """What a need's filters can ask of a format."""
    return {"format": f.id, "education": f.education, "phase": f.phase}


class Filtered(NamedTuple):
    """What a need's filters select among the items of one kind."""

    passing: frozenset[str]  # ids of the items of which the filters find no mismatch
    named: Any  # need.get("format"): the format id the need names, if any


class CompetencyKeys(dict[str, tuple[int, str]]):
    """Competency -> sort key, (10**9, id) for an id not in the ontology (not
    stored). A dict, so that ``__getitem__`` makes a fast sort key."""

    def __missing__(self, comp: str) -> tuple[int, str]:
        return (10**9, comp)


def _by_id(items: Mapping[str, Any]) -> list[Any]:
    return [items[k] for k in sorted(items)]


def _grouped(items: Sequence[Any], keys: Callable[[Any], Sequence[str]]) -> dict[str, list[Any]]:
    """key -> the items listing it (each once), in the items' order."""
    out: dict[str, list[Any]] = {}
    for item in items:
        for key in dict.fromkeys(keys(item)):
            out.setdefault(key, []).append(item)
    return out


class CatalogueIndex:
    """Per-KB lookup tables for the resolver and the route builder.

    The catalogues in id order, programmes by (role, competency), mentors by
    strength, the fixed filter attributes of every item, competency sort keys
    and prerequisite sets. The tables are read-only once built; the memos
    (``filtered``, ``program_texts``, ``format_texts``) only gain entries, each
    a pure function of the KB, so threads at worst compute one twice.

    Parameters
    ----------
    ontology : Ontology
        The KB's ontology (competency order, prerequisites).
    programs, mentors, formats : Mapping
        The KB's catalogues, by id.
    """

    def __init__(
        self,
        ontology: Ontology,
        programs: Mapping[str, Program],
        mentors: Mapping[str, Mentor],
        formats: Mapping[str, Format],
    ) -> None:
        #: competency -> its ontology sort key (prerequisites first).
        self.comp_keys = CompetencyKeys(
            {c: (ontology.order_key(c), c) for c in ontology.competencies}
        )
        #: A competency's sort key: ontology order; unknown ids last, by id.
        self.comp_key: Callable[[str], tuple[int, str]] = self.comp_keys.__getitem__
        #: competency -> one bit at its place in ontology order: a set of them is an
        #: int, sorted by :meth:`comps_of` (the places are distinct: a topological order).
        self.comp_bits: dict[str, int] = {c: 1 << key[0] for c, key in self.comp_keys.items()}
        self._comp_at: dict[int, str] = {key[0]: c for c, key in self.comp_keys.items()}
        #: a set of competency bits -> what :meth:`comps_of` makes of it.
        self.comps_by_bits: dict[int, tuple[str, ...]] = {}
        #: competency -> its transitive prerequisites.
        self.prerequisites: dict[str, frozenset[str]] = {
            c: frozenset(ontology.prerequisites(c)) for c in ontology.competencies
        }
        self.program_by_id: Mapping[str, Program] = programs
        self.mentor_by_id: Mapping[str, Mentor] = mentors
        self.format_by_id: Mapping[str, Format] = formats
        self._index_programs(_by_id(programs))
        self._index_mentors(_by_id(mentors), mentoring_of(formats))
        self._index_formats(_by_id(formats))
        self.attrs: dict[str, dict[str, dict[str, Any]]] = {
            "program": self.program_attrs,
            "mentor": self.mentor_attrs,
            "format": self.format_attrs,
        }
        #: item kind -> a need's filters -> what they select (see :meth:`filtered`).
        #: Needs come from the KB's rules, so there are a handful of distinct
        #: filter sets; at most FILTERED_LIMIT a kind are kept all the same.
        self.filtered_memo: dict[str, dict[Attrs, Filtered]] = {kind: {} for kind in self.attrs}
        #: the resolver's memos: name -> key -> a value that is a pure function of
        #: the KB and the key (see :meth:`memo`).
        self.memos: dict[str, dict[Any, Any]] = {}
        #: competency lists -> what :meth:`sort` makes of them.
        self.sorted_comps: dict[tuple[str, ...], tuple[str, ...]] = {}

    def memo(self, name: str) -> dict[Any, Any]:
        """The memo ``name`` (made empty on first use), for values that are a pure
        function of this index and their key; keep at most :data:`MEMO_LIMIT`
        entries in it (:meth:`remember`).

        Parameters
        ----------
        name : str
            The memo's name.

        Returns
        -------
        dict
            Key -> value.
        """
        found = self.memos.get(name)
        if found is None:
            found = self.memos[name] = {}
        return found

    @staticmethod
    def remember(memo: dict[Any, Any], key: Any, value: Any) -> Any:
        """Keep ``value`` under ``key`` (a None key, or a full memo: not kept) and return it.

        Parameters
        ----------
        memo : dict
            A memo from :meth:`memo`.
        key : hashable or None
            The key.
        value : Any
            The value.

        Returns
        -------
        Any
            ``value``.
        """
        if key is not None and len(memo) < MEMO_LIMIT:
            memo[key] = value
        return value

    def _index_programs(self, programs: list[Program]) -> None:
        self.programs = programs
        self.program_attrs = {p.id: program_attrs(p) for p in programs}
        #: the role-independent tail of a programme's ranking key.
        self.program_rank: dict[str, tuple[int, float, str]] = {
            p.id: (0 if p.federal_registry else 1, float(p.hours), p.id) for p in programs
        }
        #: competency -> programmes covering it (any role), in id order.
        self.programs_by_comp: dict[str, list[Program]] = _grouped(programs, lambda p: p.covers)
        #: role -> competency -> programmes for the role covering it, in id order.
        self.programs_by_role: dict[str, dict[str, list[Program]]] = {
            role: _grouped(listed, lambda p: p.covers)
            for role, listed in _grouped(programs, lambda p: p.audience).items()
        }
        #: programme id -> what program_text() returns, filled on first use.
        self.program_texts: dict[str, tuple[str, str, str, Attrs]] = {}

    def _index_mentors(self, mentors: list[Mentor], mentoring: tuple[str, str, float]) -> None:
        #: (education, phase, hours) of a mentoring step: see mentoring_of.
        self.mentoring = mentoring
        education, phase, _hours = mentoring
        self.mentors = mentors
        #: mentor id -> its position in id order (the allocation's tie-break).
        self.mentor_rank: dict[str, int] = {m.id: r for r, m in enumerate(mentors)}
        #: mentor id -> free places when no load is given (their capacity).
        self.capacity: dict[str, int] = {m.id: m.capacity for m in mentors}
        self.mentor_attrs = {m.id: mentor_attrs(m, education, phase) for m in mentors}
        #: competency -> mentors with it among their strengths, in id order.
        self.mentors_by_strength: dict[str, list[Mentor]] = _grouped(mentors, lambda m: m.strengths)

    def _index_formats(self, formats: list[Format]) -> None:
        self.formats = formats
        self.format_attrs = {f.id: format_attrs(f) for f in formats}
        #: the formats by preference for a filter-only need: (phase, hours, id).
        self.formats_ranked: list[Format] = sorted(
            formats, key=lambda f: (PHASE_ORDER.get(f.phase, 9), float(f.hours), f.id)
        )
        #: format id -> its place among a person's format recommendations: (phase, id).
        self.format_order: dict[str, tuple[int, str]] = {
            f.id: (PHASE_ORDER.get(f.phase, 9), f.id) for f in formats
        }
        #: format id -> what format_text() returns, filled on first use.
        self.format_texts: dict[str, tuple[str, str, Attrs]] = {}

    def sort(self, comps: Sequence[str]) -> tuple[str, ...]:
        """Distinct competency ids in ontology order (prerequisites first)."""
        if len(comps) == 1:
            return (comps[0],)
        key = tuple(comps)  # the same few lists recur person after person
        found = self.sorted_comps.get(key)
        if found is None:
            found = tuple(sorted(dict.fromkeys(comps), key=self.comp_key))
            if len(self.sorted_comps) < MEMO_LIMIT:
                self.sorted_comps[key] = found
        return found

    def comps_of(self, bits: int) -> tuple[str, ...]:
        """The competencies of a set of :attr:`comp_bits` (OR-ed), in ontology order:
        what :meth:`sort` makes of their ids, found by an int (a person's recommendations
        combine their needs' competencies anew, so a tuple of them is rarely met again).

        Parameters
        ----------
        bits : int
            The competencies' bits, OR-ed.

        Returns
        -------
        tuple of str
            Their ids, prerequisites first.
        """
        found = self.comps_by_bits.get(bits)
        if found is None:
            at, comps, rest = self._comp_at, [], bits
            while rest:
                low = rest & -rest
                comps.append(at[low.bit_length() - 1])
                rest ^= low
            found = tuple(comps)
            if len(self.comps_by_bits) < MEMO_LIMIT:
                self.comps_by_bits[bits] = found
        return found

    def program_text(self, p: Program) -> tuple[str, str, str, Attrs]:
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

    def format_text(self, fmt: Format) -> tuple[str, str, Attrs]:
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

    def filtered(self, kind: str, need: Need) -> Filtered:
        """:class:`Filtered` for ``need`` and the ``kind`` items (program, mentor,
        format): a function of ``need.filters``, memoised by them.

        Filters that compare equal select the same items (item attributes are
        strings), but a memoised ``named`` that is not a ``str`` may be an equal
        value of another type (``1`` for ``True``): re-read it from the need before
        printing it.
        """
        memo = self.filtered_memo[kind]
        filters = need.filters
        try:
            hit = memo.get(filters)
            hashable = True
        except TypeError:  # an unhashable filter value: not memoised
            hit, hashable = None, False
        if hit is None:
            hit = Filtered(
                frozenset(
                    item
                    for item, attrs in self.attrs[kind].items()
                    if mismatch(attrs, need) is None
                ),
                need.get("format"),
            )
            if hashable and len(memo) < FILTERED_LIMIT:
                memo[filters] = hit
        return hit

    def fit_masks(
        self,
        kind: str,
        needs: Sequence[Need],
        idx: Sequence[int],
        by_competency: Mapping[str, Sequence[Program | Mentor]],
    ) -> dict[str, int]:
        """Candidate id -> the needs it can serve, as a bitmask (bit ``i``: ``needs[i]``):
        those of a competency it is listed under whose filters it passes. (Mentors
        are found per unit by ``resolve.mentors.unit_arcs``, which also weighs free
        places.) Candidates are in the order they are first met."""
        fits: dict[str, int] = {}
        for i in idx:
            need = needs[i]
            cands = by_competency.get(need.competency, ())  # type: ignore[arg-type]
            if cands and need.filters:
                ok = self.filtered(kind, need).passing
                cands = [c for c in cands if c.id in ok]
            bit = 1 << i
            for c in cands:
                fits[c.id] = fits.get(c.id, 0) | bit
        return fits
