"""The resolve stage: needs to catalogue items (ДПП programmes, mentors, formats); unmet needs.

Rules decide *what* is needed (``need`` facts); this module decides *which*
catalogue items serve it (docs/route.md, section 1), as a pure function of the
knowledge base, the profile and the needs:

* **programmes** -- only those whose ``audience`` includes the person's role
  and that cover the need's competency (and satisfy its filters); chosen
  greedily as a set cover of the person's programme needs, ranking candidates
  lexicographically by (1) how many still-uncovered needs they cover, (2) a
  delivery the profile requests, (3) ФР ДПП, (4) fewer hours, (5) id;
* **mentors** -- at most one per mentoring form: the competency among their
  strengths, the need's form among their forms, a free place, their subjects
  and levels (if any) the person's, and for менторство another organisation;
  chosen by the lexicographic min-cost flow of :mod:`.allocate` (more severe
  needs served, then same organisation, same municipality, subject match, id);
* **formats** -- by the filters the need names (format id, education, phase);
  a format need may name no competency.

Every recommendation carries the rule that asked for it and a reason in
Russian; a need no catalogue item serves is returned as :class:`Unmet` with
its reason, never dropped and never invented.

The modules: :mod:`.cover` (the greedy set cover), :mod:`.programmes`,
:mod:`.mentors` and :mod:`.formats` (one kind of need each); this one checks
the arguments and puts the three together. They read the KB's catalogues
through its index (``kb.index``, :mod:`deficit_engine.catalogue`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from ..catalogue import MENTORING_FORMAT, CatalogueIndex, mentoring_of
from ..errors import UsageError, WrongTypeError
from ..labels import PHASE_ORDER, format_hours
from ..loader import KnowledgeBase
from ..models import Need, Recommendation, Resolution, Unmet
from ..period import settings, working_months
from ..schema import Person, Profile
from .formats import resolve_formats
from .mentors import Seeker, Why, resolve_mentors
from .needinfo import NeedInfo, infos_of, split_by_kind
from .programmes import resolve_programmes

# PHASE_ORDER and format_hours live in labels, the value types in models; they
# are re-exported for the modules that import them from here.
__all__ = [
    "MENTORING_FORMAT",
    "PHASE_ORDER",
    "CatalogueIndex",
    "Recommendation",
    "Resolution",
    "Seeker",
    "Unmet",
    "format_hours",
    "mentoring_defaults",
    "needs_by_kind",
    "person_levels",
    "resolve",
    "seeker_of",
    "unmet_of",
]


def unmet_of(need: Need, why: str | Why) -> Unmet:
    """An :class:`Unmet` from a resolver's reason (a plain reason: cause ``catalogue``).

    Parameters
    ----------
    need : Need
        The need.
    why : str or Why
        The reason, with its cause and what ran out when a ``Why``.

    Returns
    -------
    Unmet
        The unmet need.
    """
    if isinstance(why, str):
        return Unmet.of(need, why)
    return Unmet.of(need, why.reason, why.cause, why.exhausted)


def person_levels(kb: KnowledgeBase, person: Person) -> frozenset[str]:
    """The levels of education a person works at: as the profile gives them, else
    the levels at which the KB teaches the person's subjects.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB (its ``subjects``).
    person : Person
        The profile's person.

    Returns
    -------
    frozenset of str
        Level ids (empty when neither gives any).
    """
    if person.levels:
        return frozenset(person.levels)
    subjects = kb.subjects
    return frozenset(lv for s in person.subjects if s in subjects for lv in subjects[s].levels)


def seeker_of(kb: KnowledgeBase, person: Person) -> Seeker:
    """What mentor eligibility and ranking read of a person.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB (for the levels of the person's subjects).
    person : Person
        The profile's person.

    Returns
    -------
    Seeker
        Organisation, municipality, subjects and levels.
    """
    return Seeker(
        person.organization,
        person.municipality,
        frozenset(person.subjects),
        person_levels(kb, person),
    )


def needs_by_kind(needs: Sequence[Need]) -> tuple[dict[str, list[int]], dict[int, str]]:
    """The needs' indexes by kind, and why a need of an unknown kind is unmet.

    Parameters
    ----------
    needs : sequence of Need
        A person's needs.

    Returns
    -------
    tuple of (dict, dict)
        As :func:`.needinfo.split_by_kind`: kind -> indexes, and the reasons of
        the needs of an unknown kind.

    Raises
    ------
    WrongTypeError
        If an item is not a Need.
    """
    for n in needs:
        if type(n) is not Need and not isinstance(n, Need):
            raise WrongTypeError(f"resolve() needs Need objects, not {type(n).__name__}")
    return split_by_kind(needs)


def mentoring_defaults(kb: KnowledgeBase) -> tuple[str, str, float]:
    """(education, phase, hours) of a mentoring step in this KB.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base; its ``mentoring`` format, if any, gives the values.

    Returns
    -------
    tuple of (str, str, float)
        The kind of education, the phase and the hours of a mentoring step.
    """
    return mentoring_of(kb.formats)


def _period_hours(
    kb: KnowledgeBase, index: CatalogueIndex, profile: Profile, today: date | None
) -> float:
    """:func:`~deficit_engine.period.period_hours`, its working months remembered per
    period (a function of the KB's calendar and the period: a cohort has a few)."""
    start, end, hours, _defaults = settings(profile, today)
    memo = index.memo("working months")
    months: int | None = memo.get((start, end))
    if months is None:
        months = index.remember(
            memo, (start, end), working_months(start, end, kb.planning.planning.calendar)
        )
    return hours * months


def resolve(
    kb: KnowledgeBase,
    profile: Profile,
    needs: Sequence[Need],
    *,
    mentor_load: Mapping[str, int] | None = None,
    severities: Mapping[str, str] | None = None,
    today: date | None = None,
) -> Resolution:
    """Choose catalogue items for ``needs`` (a Result's needs, in its order).

    ``mentor_load`` (mentor id -> mentees already taken) lowers the free
    capacity; by default every mentor has their full capacity. ``severities``
    (competency -> the person's deficit severity) weighs mentor needs; a need
    on a competency without a deficit weighs as ``low``. A programme longer
    than the hours the person's period holds (:func:`~deficit_engine.period.period_hours`,
    ``today`` as for the route) is chosen only when no programme that fits
    serves its needs. Pure: the same
    arguments give the same Resolution. A whole cohort's places are shared out
    by :func:`deficit_engine.planner.plan_cohort` instead.
    """
    if not isinstance(kb, KnowledgeBase):
        raise WrongTypeError(f"resolve() needs a KnowledgeBase, not {type(kb).__name__}")
    if not isinstance(profile, Profile):
        raise WrongTypeError(
            f"resolve() needs a validated Profile (see parse_profile), not {type(profile).__name__}"
        )
    load = dict(mentor_load or {})
    for mid, taken in load.items():
        if not isinstance(taken, int) or isinstance(taken, bool) or taken < 0:
            raise UsageError(f"mentor_load[{mid!r}] must be a non-negative integer, not {taken!r}")
    needs = list(needs)
    infos = infos_of(kb.index, needs)  # also checks that each is a Need
    by_kind, unknown = split_by_kind(infos)
    unmet: dict[int, str | Why] = dict(unknown)
    index = kb.index
    person = profile.person
    prefs = list(profile.preferences.delivery)
    prog_idx = by_kind["program"]
    seeker = seeker_of(kb, person)
    holds = _period_hours(kb, index, profile, today)
    programs, u1 = resolve_programmes(
        index,
        person.role,
        prefs,
        needs,
        prog_idx,
        period_hours=holds,
        admits=(seeker.subjects, seeker.levels),
        infos=infos,
    )
    mentors, u2 = resolve_mentors(
        index, seeker, needs, by_kind["mentor"], load, severities or {}, infos=infos
    )
    formats, u3 = resolve_formats(index, needs, by_kind["format"], infos=infos)
    unmet.update(u1)
    unmet.update(u2)
    unmet.update(u3)
    return Resolution(
        recommendations=(*programs, *mentors, *formats),
        unmet=tuple([_unmet(infos[i], unmet[i]) for i in sorted(unmet)]),
    )


#: The most unmet values one need's info keeps (a need has a reason or two).
_MADE_LIMIT = 64


def _unmet(info: NeedInfo, why: str | Why) -> Unmet:
    """:func:`unmet_of` of the info's need, one object for the same need (object) and
    reason across people: most unmet needs are the same few hundred (no programme for
    the role, one mentor per form), and a frozen value can serve them all. Kept in the
    need's own info (``made``, by the reason), which :func:`.needinfo.infos_of` has
    just read: no key to build, no memo of every unmet need to search."""
    made = info.made
    if made is None:
        made = info.made = {}
    found: Unmet | None = made.get(why)
    if found is None:
        if len(made) >= _MADE_LIMIT:  # reasons that vary (places with a load given)
            made.clear()
        found = made[why] = unmet_of(info.need, why)
    return found
