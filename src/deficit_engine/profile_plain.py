"""The common profile's results read as the row's plain dicts: checked and normalised
in one pass each, without models.

What :func:`~deficit_engine.profile.parsed_apart_or_whole` and
:func:`~deficit_engine.profile.normalise` do for most profiles (results of the shape
the model takes as it is, one per id, none naming its instrument, source or date),
kept apart from ``profile.py`` so that the compiled build compiles them with mypyc
(docs/performance.md, «Compiled build»): ``profile.py`` defines ``Normalised``, a
subclass of a model's frozen dataclass, which a compiled module cannot hold. Nothing
here makes a class of its own: it gives ``profile.py`` the values, and builds the
models' frozen dataclasses (pure Python in either build) without their ``__init__``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import Any

from .loader import KnowledgeBase
from .models import Provenance
from .rollups import _ROUNDED, EXACT_BELOW, rollup_groups, rollup_indicators, round_kept
from .schema import RESULT_SOURCES, Profile, ProfileResult

__all__ = ["checked_results", "plain_fields"]

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
    isfinite = math.isfinite
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
            if not (isfinite(score) and score >= 0):
                return None
        elif kind is not int or not 0 <= score <= _EXACT_INT:
            return None
        if max_kind is float:
            if not (isfinite(maximum) and maximum > 0):
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
    if type(value) is not str or not 0 < len(value) <= _SHORT_TEXT:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    provenance = _plain_provenance("competency", ids, own)
    onto = kb.ontology
    # the ontology's roll-ups, called here on its tables (compiled, without a call of
    # its pure methods between)
    if indicators:
        provenance += _plain_provenance("indicator", sorted(indicators), indicators)
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
        "provenance": tuple(provenance),
        "chosen_pct": tuple(pcts),
        "origin": {},  # no result names its instrument, source or date
        "indicator_pct": indicators,
    }


def _plain_provenance(kind: str, ids: list[str], scores: dict[str, float]) -> list[Provenance]:
    """The Provenance of each score, in the order of ``ids`` (its keys, sorted):
    ``Provenance.of(target, kind, pct, None, None, None, None, 0)`` of results that name
    no instrument, source or date, each the one result for its id (made here, a call
    for them all rather than one each).

    Each instance's own dict is filled from the kind's fields (:data:`_PLAIN_PROVENANCE`,
    the class's order) and then given its target and score: no dict of eight made and
    set as the instance's, which cost about twice as much, and the instance's dict shares
    its keys with the class's other instances (a smaller object)."""
    fields = _PLAIN_PROVENANCE[kind]
    made = []
    for target in ids:
        one = _new(Provenance)
        own = one.__dict__
        own.update(fields)
        own["target"] = target
        own["score_pct"] = scores[target]
        made.append(one)
    return made


#: A plain result's Provenance fields by its kind, in the class's order, the target and
#: the score to be set (see :func:`_plain_provenance`).
_PLAIN_PROVENANCE = {
    kind: {
        "target": "",
        "kind": kind,
        "score_pct": 0.0,
        "instrument": None,
        "instrument_id": None,
        "source": None,
        "date": None,
        "set_aside": 0,
    }
    for kind in ("competency", "indicator")
}
