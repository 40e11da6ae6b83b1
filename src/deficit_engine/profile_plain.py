"""The common profile's results read as the row's plain dicts: checked and normalised
in one pass each, without models; and, for ``Engine.evaluate``, the rest of the row
checked and its models made without pydantic.

What :func:`~deficit_engine.profile.parsed_apart_or_whole` and
:func:`~deficit_engine.profile.normalise` do for most profiles (results of the shape
the model takes as it is, one per id, none naming its instrument, source or date; an
id, person, preferences and requests of the types and within the bounds the models
take as they are), kept apart from ``profile.py`` so that the compiled build compiles
them with mypyc (docs/performance.md, «Compiled build»): ``profile.py`` defines
``Normalised``, a subclass of a model's frozen dataclass, which a compiled module
cannot hold. Nothing here makes a class of its own: it gives ``profile.py`` the
values, and builds the models' frozen dataclasses and pydantic models (pure Python in
either build) without their ``__init__`` or validation.
"""

from __future__ import annotations

import datetime
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .loader import KnowledgeBase
from .models.provenance import PlainProvenance
from .months import FIRST_PERIOD_YEAR, LAST_PERIOD_YEAR, MAX_PERIOD_MONTHS
from .rollups import _ROUNDED, EXACT_BELOW, rollup_groups, rollup_indicators, round_kept
from .schema import (
    _PRINTABLE,
    DELIVERIES,
    EDUCATION_LEVELS,
    QUALIFICATION_CATEGORIES,
    RESULT_SOURCES,
    ROLES,
    Period,
    Person,
    Preferences,
    Profile,
    ProfileResult,
)

__all__ = ["checked_profile", "checked_results", "plain_fields"]

_new = object.__new__
_set_attr = object.__setattr__

#: The keys a result may have (the model forbids any other).
_RESULT_KEYS = frozenset(ProfileResult.model_fields)
#: A score or max given as an int is checked here only up to this: every int up to it
#: is a float exactly, so the model's float compares and normalises as the int does.
_EXACT_INT = 2**53
_SOURCES = frozenset(RESULT_SOURCES)
#: ``ShortText``'s length bound (schema.py).
_SHORT_TEXT = 300
#: The largest finite float: ``0 <= x <= _LARGEST`` is ``isfinite(x) and x >= 0``.
_LARGEST = sys.float_info.max
#: The percents ``profile.percent`` works out again (100 * score overflowed).
_INFINITE = frozenset((math.inf, -math.inf))


def checked_results(results: Any, kb: KnowledgeBase) -> list[dict[str, Any]] | None:
    """``results`` if ProfileResult takes each as it is and each names a KB id once.

    A dict of known keys naming one known competency or indicator, a finite score of
    at least 0 at most its max, a finite max above 0 (ints up to 2**53), and the text
    fields as the model bounds them.

    Parameters
    ----------
    results : Any
        A row's ``results``, as read.
    kb : KnowledgeBase
        The KB whose ids they must name.

    Returns
    -------
    list of dict or None
        ``results`` itself; None otherwise, or when in doubt: the whole row is then
        validated by pydantic, which reports any problem.
    """
    if type(results) is not list:
        return None
    onto = kb.ontology
    competencies, indicators = onto.competencies, onto.indicators
    seen = set()
    for result in results:
        if type(result) is not dict:
            return None
        competency, indicator = result.get("competency"), result.get("indicator")
        if competency is not None:
            # a KB id is an Id already (the KB's models check it)
            if indicator is not None or type(competency) is not str:
                return None
            if competency not in competencies:
                return None
            seen.add(competency)
        elif type(indicator) is str and indicator in indicators:
            seen.add(indicator)
        else:
            return None
        score: Any = result.get("score")
        maximum: Any = result.get("max", 100.0)
        kind, max_kind = type(score), type(maximum)
        if kind is float:
            # finite and at least 0: a NaN fails both comparisons (no isfinite call)
            if not 0.0 <= score <= _LARGEST:
                return None
        elif kind is not int or not 0 <= score <= _EXACT_INT:
            return None
        if max_kind is float:
            if not 0.0 < maximum <= _LARGEST:
                return None
        elif max_kind is not int or not 0 < maximum <= _EXACT_INT:
            return None
        if score > maximum:
            return None
        # competency or indicator, score and maybe max: anything more is checked apart
        if len(result) > 2 + ("max" in result) and not _origin_checked(result):
            return None
    return results if len(seen) == len(results) else None


def _origin_checked(result: dict[str, Any]) -> bool:
    """Whether a result's keys are the model's and its optional fields are as the
    model takes them (see :func:`checked_results`)."""
    if not result.keys() <= _RESULT_KEYS:
        return False
    for name in ("instrument", "assessor"):
        text = result.get(name)
        if text is not None and not _short_text(text):
            return False
    date = result.get("date")
    if date is not None and not (type(date) is str and _iso_date(date)):
        return False
    source = result.get("source")
    return source is None or (type(source) is str and source in _SOURCES)


def _short_text(value: Any) -> bool:
    """Whether ``ShortText`` takes ``value`` as it is (pydantic refuses a lone surrogate)."""
    return type(value) is str and 0 < len(value) <= _SHORT_TEXT and _unicode(value)


def _iso_date(value: str) -> bool:
    """Whether ``value`` is a date ``YYYY-MM-DD`` as ProfileResult's check takes it."""
    try:
        return datetime.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def plain_fields(
    profile: Profile, chosen: Sequence[Any], kb: KnowledgeBase
) -> dict[str, Any] | None:
    """The fields of ``normalise``'s ``Normalised``, read in one pass from results that
    are one per id and name no instrument, source or date.

    The same values in the same order as the policy's path: the percents as
    ``profile.percent`` rounds them, the roll-ups as the ontology's (the same IEEE
    operations in the same order), the provenance by (kind, id), that is the
    competencies by id then the indicators.

    Parameters
    ----------
    profile : Profile
        The validated profile, with or without its results.
    chosen : sequence
        Its results: checked dicts (:func:`checked_results`) or ProfileResults.
    kb : KnowledgeBase
        The KB they were validated against.

    Returns
    -------
    dict or None
        Every field of ``Normalised`` in the class's order, then its
        ``origin`` and ``indicator_pct`` (empty: no result names an origin); None
        when a result names its origin, an id has several results, or 100 * a score
        overflows: the policy's path decides those.

    Raises
    ------
    KeyError
        If a result names an indicator ``kb`` does not know (validation checks ids).
    """
    own: dict[str, float] = {}
    indicators: dict[str, float] = {}
    pcts = []
    rounded = _ROUNDED.get  # the kept roundings (see rollups.round_kept)
    for result in chosen:
        # a checked dict as it is, a model by its fields' dict (all eight fields): one
        # reading of both, as fast as the models' attributes
        fields = result if type(result) is dict else result.__dict__
        # a checked dict of the id, score and max alone names no origin (most do)
        if len(fields) > 2 + ("max" in fields) and (
            fields.get("instrument") is not None
            or fields.get("source") is not None
            or fields.get("date") is not None
        ):
            return None
        raw = 100.0 * fields["score"] / fields.get("max", 100.0)
        # round(raw, 2) by arithmetic, as rollups.round_fast works it out (inline: a
        # call each cost more), else kept or rounded
        y = raw * 100.0
        if 0.0 < y < EXACT_BELOW and -0.49 < y - (n := round(y)) < 0.49:
            pct = n / 100.0
        else:
            kept = rounded(raw)
            if kept is None:
                if raw in _INFINITE:
                    return None  # percent's other way round: the policy's path has it
                kept = round_kept(raw)
            pct = kept
        pcts.append(pct)
        competency = fields.get("competency")
        if competency is not None:
            own[competency] = pct
        else:
            indicator = fields.get("indicator")
            if indicator is not None:
                indicators[indicator] = pct
    if len(own) + len(indicators) != len(chosen):
        # an id with several results, for the policy to choose (or a result naming
        # neither, which only an unvalidated profile has)
        return None
    ids = sorted(own)
    # kept as runs, made into Provenances when read (resolve and route never read them)
    runs = [("competency", ids, own)]
    onto = kb.ontology
    # the ontology's roll-ups, called here on its tables (compiled, without a call of
    # its pure methods between)
    if indicators:
        runs.append(("indicator", sorted(indicators), indicators))
        rolled = {**rollup_indicators(onto.weighted_parent, indicators), **own}
        comp_pct = {c: rolled[c] for c in sorted(rolled)}
    else:
        comp_pct = {c: own[c] for c in ids}
    group_pct = rollup_groups(onto.competency_group, comp_pct)
    levels_of = kb.scale.levels_of
    return {
        "competency_pct": comp_pct,
        "group_pct": group_pct,
        "competency_level": levels_of(comp_pct),
        "group_level": levels_of(group_pct),
        "profile": profile,
        "chosen": tuple(chosen),
        "provenance": PlainProvenance(runs),
        "chosen_pct": tuple(pcts),
        "origin": {},  # no result names its instrument, source or date
        "indicator_pct": indicators,
    }


# --- the rest of a row: its id, person, preferences and requests ----------------------

#: The models' fields, in their order, as :func:`checked_profile` makes them: checked
#: against the models when this module is imported (:data:`_PLAIN_MODELS`), so that a
#: field added to a model turns the plain path off rather than leaving it out.
_PROFILE_FIELDS = ("id", "person", "preferences", "results", "requests")
_PERSON_FIELDS = (
    "role",
    "experience_years",
    "category",
    "subjects",
    "levels",
    "organization",
    "municipality",
    "name",
    "education",
    "last_course",
    "self_education_topic",
)
#: The person's optional texts (``ShortText | None``), ``last_course`` a date besides.
_PERSON_TEXTS = _PERSON_FIELDS[5:]
_PREFERENCES_FIELDS = ("delivery", "hours_per_month", "period")
_PERIOD_FIELDS = ("start", "end")
#: Whether the models still have the fields above, in that order (else every row goes
#: pydantic's way).
_PLAIN_MODELS = (
    tuple(Profile.model_fields) == _PROFILE_FIELDS
    and tuple(Person.model_fields) == _PERSON_FIELDS
    and tuple(Preferences.model_fields) == _PREFERENCES_FIELDS
    and tuple(Period.model_fields) == _PERIOD_FIELDS
)
_PROFILE_KEYS = frozenset(_PROFILE_FIELDS)
_PERSON_KEYS = frozenset(_PERSON_FIELDS)
_PREFERENCES_KEYS = frozenset(_PREFERENCES_FIELDS)
_ROLES = frozenset(ROLES)
_CATEGORIES = frozenset(QUALIFICATION_CATEGORIES)
_LEVELS = frozenset(EDUCATION_LEVELS)
_DELIVERIES = frozenset(DELIVERIES)
#: ``Profile.id``'s length bound (its characters: schema.py's ``_PRINTABLE``).
_ID_LENGTH = 200


def checked_profile(
    data: dict[str, Any],
    kb: KnowledgeBase,
    fold: Callable[[str], str],
    *,
    preferences_set: bool = True,
) -> Profile | None:
    """The profile of a row, its results left out, as pydantic validates the rest
    ``parsed_apart_or_whole(..., fields_set_kept=False)`` makes of it (the results
    emptied when given, ``preferences`` ``{}`` when left out) and
    ``profile._references_known`` accepts it (its person's municipality and organisation
    given to ``fold``), made without pydantic when the row is of the common shape; None
    when in doubt: the caller then validates it by pydantic, which reports any problem.

    The common shape: every key and value of a type the models take as they are
    (strict: a ``str`` for a text or a choice, an ``int`` or ``float`` for a number,
    never a ``bool``; lists of those), within the models' bounds, the texts valid
    UTF-8, the period's months ``YYYY-MM`` in ASCII digits, the subjects the KB's (when
    it names any) and the requests its competencies. Each model is made as pydantic
    makes it: its fields' dict in the model's order (a number as a ``float``, a list as
    a new list, a default where the row has none), the fields given as its fields set.

    Parameters
    ----------
    data : dict
        A row: a profile as read (its ``results``, when given, a list whose items the
        caller checks: :func:`checked_results`).
    kb : KnowledgeBase
        The KB the profile must name ids of.
    fold : callable
        The person's text folding (``profile._folded``).
    preferences_set : bool
        False: the profile's fields set names ``preferences`` only when the row gives
        them, as pydantic validating the rest without them sets it (the default
        ``Preferences()`` it deep-copies has the values and fields set ``{}`` gives);
        ``parsed_apart_or_whole(..., fields_set_kept=True)``, a batch's diagnosis.

    Returns
    -------
    Profile or None
        The profile with ``results`` empty; None when the row is not of the common
        shape, or is invalid.
    """
    if not _PLAIN_MODELS or not data.keys() <= _PROFILE_KEYS:
        return None
    if type(data.get("results", [])) is not list:  # its items are the caller's to check
        return None
    ident = data.get("id")
    if not (
        type(ident) is str
        and 0 < len(ident) <= _ID_LENGTH
        and _unicode(ident)
        and _PRINTABLE.fullmatch(ident) is not None
        and ident.strip() == ident
    ):
        return None
    person = _checked_person(data.get("person"), kb, fold)
    if person is None:
        return None
    raw = data.get("preferences")
    preferences = _checked_preferences({} if raw is None and "preferences" not in data else raw)
    if preferences is None:
        return None
    requests = data.get("requests", [])
    if type(requests) is not list:
        return None
    competencies = kb.ontology.competencies
    for request in requests:
        # a KB id is an Id already (the KB's models check it)
        if type(request) is not str or request not in competencies:
            return None
    given = set(data)  # and "results" when given (emptied), as the caller's rest names it
    if preferences_set:
        given.add("preferences")
    return _model(
        Profile,
        {
            "id": ident,
            "person": person,
            "preferences": preferences,
            "results": [],
            "requests": list(requests),
        },
        given,
    )


def _checked_person(person: Any, kb: KnowledgeBase, fold: Callable[[str], str]) -> Person | None:
    """:func:`checked_profile`'s person (its texts folded), or None."""
    if type(person) is not dict or not person.keys() <= _PERSON_KEYS:
        return None
    role = person.get("role")
    years: Any = person.get("experience_years")
    if type(role) is not str or role not in _ROLES:
        return None
    kind = type(years)
    if kind is int:
        if not 0 <= years <= 70:
            return None
        years = float(years)
    elif kind is not float or not 0.0 <= years <= 70.0:  # NaN compares false
        return None
    category = person.get("category")
    if category is not None and (type(category) is not str or category not in _CATEGORIES):
        return None
    subjects = person.get("subjects", [])
    levels = person.get("levels", [])
    if type(subjects) is not list or type(levels) is not list:
        return None
    known = kb.subjects
    for subject in subjects:
        if not _short_text(subject) or (known and subject not in known):
            return None
    for level in levels:
        if type(level) is not str or level not in _LEVELS:
            return None
    fields: dict[str, Any] = {
        "role": role,
        "experience_years": years,
        "category": category,
        "subjects": list(subjects),
        "levels": list(levels),
    }
    for name in _PERSON_TEXTS:
        text = person.get(name)
        if text is not None:
            if not _short_text(text):
                return None
            if name == "last_course" and not _iso_day(text):
                return None
            if name == "organization" or name == "municipality":
                folded = fold(text)
                # the row's own text when folding leaves it (pydantic's way keeps it): a
                # batch's spill then pickles it once with the row's person record
                if folded != text:
                    text = folded
        fields[name] = text
    return _model(Person, fields, set(person))


def _checked_preferences(preferences: Any) -> Preferences | None:
    """:func:`checked_profile`'s preferences, or None."""
    if type(preferences) is not dict or not preferences.keys() <= _PREFERENCES_KEYS:
        return None
    delivery = preferences.get("delivery", [])
    if type(delivery) is not list:
        return None
    for way in delivery:
        if type(way) is not str or way not in _DELIVERIES:
            return None
    hours: Any = preferences.get("hours_per_month")
    kind = type(hours)
    if kind is int:
        if not 1 <= hours <= 300:
            return None
        hours = float(hours)
    elif hours is not None and (kind is not float or not 1.0 <= hours <= 300.0):
        return None
    period = preferences.get("period")
    if period is not None:
        period = _checked_period(period)
        if period is None:
            return None
    return _model(
        Preferences,
        {"delivery": list(delivery), "hours_per_month": hours, "period": period},
        set(preferences),
    )


def _checked_period(period: Any) -> Period | None:
    """A period ``{start, end}`` of months ``YYYY-MM`` (ASCII digits) that
    ``Period._ordered`` accepts, made; None otherwise."""
    if type(period) is not dict or len(period) != 2:
        return None
    start, end = period.get("start"), period.get("end")
    first, last = _month(start), _month(end)
    if first is None or last is None:
        return None
    length = last - first + 1
    if not 1 <= length <= MAX_PERIOD_MONTHS:
        return None
    return _model(Period, {"start": start, "end": end}, {"start", "end"})


def _month(month: Any) -> int | None:
    """The index (``months.month_index``) of a month ``YYYY-MM`` in ASCII digits within
    the years a period may lie in; None for anything else."""
    if not (type(month) is str and len(month) == 7 and month.isascii() and month[4] == "-"):
        return None
    year, mon = month[:4], month[5:]
    if not (year.isdigit() and mon.isdigit()):
        return None
    number = int(mon)
    if not 1 <= number <= 12 or not FIRST_PERIOD_YEAR <= int(year) <= LAST_PERIOD_YEAR:
        return None
    return int(year) * 12 + number - 1


def _iso_day(value: str) -> bool:
    """Whether ``datetime.date.fromisoformat`` reads ``value`` (``Person.last_course``)."""
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _unicode(value: str) -> bool:
    """Whether ``value`` is valid UTF-8 text (pydantic refuses a lone surrogate)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_Model = TypeVar("_Model", Profile, Person, Preferences, Period)


def _model(cls: type[_Model], fields: dict[str, Any], given: set[str]) -> _Model:
    """An instance of a pydantic model with these fields (every one, in the model's
    order) and fields set, as pydantic's validation leaves one (and as a pickled model
    is loaded): its own dict, no extra or private values."""
    made: _Model = _new(cls)
    _set_attr(made, "__dict__", fields)
    _set_attr(made, "__pydantic_fields_set__", given)
    _set_attr(made, "__pydantic_extra__", None)
    _set_attr(made, "__pydantic_private__", None)
    return made
