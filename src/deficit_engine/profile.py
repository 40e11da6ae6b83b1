"""Diagnostic profiles: reading, validation against a KB, score normalisation.

Every problem is named by its field path (``results[2].score``) and all of a
profile's problems are reported together in one :class:`ProfileError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import re
import sys
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import TypeAdapter, ValidationError

from ._yaml import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INT_DIGITS,
    Loaded,
    PathKey,
    Positions,
    load_yaml_bytes,
    load_yaml_file,
)
from .errors import Issue, ProfileError, format_field_path
from .folding import person_text
from .loader import KnowledgeBase, name_key, pydantic_issues, subject_names, suggest_subject
from .models import Provenance, Scores
from .models.diagnosis import _made, made_once, made_when_read
from .models.provenance import PlainProvenance
from .ontology import Scale, suggest
from .profile_plain import checked_profile, checked_results, plain_fields
from .schema import Instrument, Profile, ProfileResult

__all__ = [
    "STDIN",
    "Normalised",
    "NormalisedChunk",
    "ScoreRows",
    "choose_results",
    "instrument_of",
    "normalise",
    "normalise_apart",
    "normalise_many",
    "parse_profile",
    "parse_profile_apart",
    "parsed_apart_or_whole",
    "percent",
    "read_profile_file",
    "read_profile_stream",
    "subject_id",
    "whole_profile",
    "without_results",
]

#: How issues name a profile read from standard input.
STDIN = "<stdin>"
_new_object = object.__new__
_set_object_attr = object.__setattr__


@dataclass(frozen=True)
class Normalised(Scores):
    """A profile's scores in percent, rolled up, with their levels, and the profile.

    What :func:`normalise` returns: the fields of :class:`~deficit_engine.models.Scores`;
    ``profile``, the validated profile they were read from; ``chosen``, the results
    the policy used (one per competency or indicator, in profile order);
    ``provenance``, where each chosen result came from; and ``chosen_pct``, each
    chosen result's score in percent. What :func:`normalise_apart` returns may hold
    the profile without its results and, in ``chosen``, the row's checked dicts.
    """

    profile: Profile
    chosen: tuple[ProfileResult | dict[str, Any], ...] = ()
    provenance: tuple[Provenance, ...] = ()
    #: Each chosen result's score in percent, in ``chosen``'s order: computed once here,
    #: read again by the base facts (an ``indicator_result`` carries its own).
    chosen_pct: tuple[float, ...] = ()

    @made_once
    def scores(self) -> Scores:
        """The scores alone, as a Result keeps them (without the profile): made on
        first use, then the same value (a Result and the evaluation each read it); made
        without the frozen dataclass's ``__init__`` (four ``object.__setattr__``)."""
        return _made(
            Scores,
            {
                "competency_pct": self.competency_pct,
                "group_pct": self.group_pct,
                "competency_level": self.competency_level,
                "group_level": self.group_level,
            },
        )

    @made_once
    def indicator_pct(self) -> dict[str, float]:
        """Each chosen indicator result's score in percent, by indicator, in profile
        order (the ``indicator_result`` facts); the one-pass normalising sets it."""
        return {
            indicator: pct
            for result, pct in zip(self.chosen, self.chosen_pct, strict=True)
            if (indicator := _indicator(result)) is not None
        }

    @made_once
    def origin(self) -> dict[tuple[str, str], dict[str, str]]:
        """Where each score came from, by (kind, id), for the chosen results that name
        any of it (``Provenance.fact_fields``; most name none): the base facts carry it."""
        return {
            (p.kind, p.target): p.fact_fields()
            for p in self.provenance
            if p.instrument is not None or p.source is not None or p.date is not None
        }


# the one-pass normalising's provenance kept as runs until read (see made_when_read)
setattr(Normalised, "provenance", made_when_read("provenance", PlainProvenance))  # noqa: B010


def _indicator(result: ProfileResult | dict[str, Any]) -> str | None:
    """A chosen result's indicator (None for a competency's), a model's or a dict's."""
    if isinstance(result, dict):
        return result.get("indicator")
    return result.indicator


def percent(score: float, maximum: float) -> float:
    """A score as a percent of its maximum, to 2 places, finite for any finite input.

    Parameters
    ----------
    score : float
        The score, finite and at most ``maximum``.
    maximum : float
        The greatest possible score, finite and above 0.

    Returns
    -------
    float
        ``100 * score / maximum`` rounded to 2 places.
    """
    pct = 100.0 * score / maximum
    if math.isinf(pct):
        # 100 * score overflowed (score near 1.8e308): the ratio first stays finite.
        # Only then, so that every ordinary score keeps its exact rounding.
        pct = score / maximum * 100.0
    return float(round(pct, 2))


def _path_issue(
    source: str, path: PathKey, code: str, message: str, suggestion: str | None = None
) -> Issue:
    return Issue(source, 0, 0, code, message, format_field_path(path), suggestion)


def parse_profile(data: Any, kb: KnowledgeBase, source: str = "") -> Profile:
    """Validate a profile against the model and the KB.

    Parameters
    ----------
    data : Any
        A mapping as read from YAML/JSON, or a Profile (whose ids are still
        checked against ``kb``).
    kb : KnowledgeBase
        The KB whose competencies and indicators the profile may name.
    source : str
        How issues name the input (a file name); empty by default.

    Returns
    -------
    Profile
        The validated profile.

    Raises
    ------
    ProfileError
        If ``data`` is not a mapping, does not fit the model, or names unknown
        or repeated ids: every problem found, each by its field path.
    """
    # a dict first (what a reader gives): never a Profile, always a Mapping, and each
    # isinstance against the ABC is a Python-level call
    if type(data) is not dict and isinstance(data, Profile):
        profile = data
    else:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ProfileError(
                [_path_issue(source, (), "wrong-type", "a profile must be a mapping")]
            )
        try:
            # a plain dict as it is (validation never changes its input); any other
            # mapping as a dict, the one input the strict model takes
            profile = Profile.model_validate(data if type(data) is dict else dict(data))
        except ValidationError as exc:
            pid = data.get("id") if isinstance(data.get("id"), str) else None
            unplaced = Loaded(source, None, Positions(), [], placed=False)
            issues = pydantic_issues(unplaced, (), exc)
            # the ids are checked too, as far as the shape allows: every problem at once
            placed = {i.path for i in issues}
            person = data.get("person")
            issues += [
                i
                for i in [
                    *_subject_issues(_field(person, "subjects"), kb, source),
                    *_reference_issues(data.get("results"), data.get("requests"), kb, source),
                ]
                if i.path not in placed
            ]
            raise ProfileError(issues, pid) from None
    if not _references_known(profile, kb):
        issues = [
            *_subject_issues(profile.person.subjects, kb, source),
            *_reference_issues(profile.results, profile.requests, kb, source),
        ]
        if issues:
            raise ProfileError(issues, profile.id)
    return _nfc_person(profile)


def parse_profile_apart(
    data: Any, kb: KnowledgeBase, source: str = ""
) -> tuple[Profile, Sequence[Any]]:
    """:func:`parse_profile`, the profile given back without its results and they
    beside it: a batch's diagnosis normalises them and keeps the profile without them.

    A row whose results are all of the shape the model takes as it is (checked here
    in Python, :func:`.checked_results`) has the rest of it validated (checked and made
    without pydantic when of the common shape, :func:`.checked_profile`, else by
    pydantic) and its results kept as they are, dicts, never made into models:
    validation's larger half. Any other row, or one whose rest does not validate, is
    validated whole by :func:`parse_profile`, which accepts it or raises its errors,
    the same as ever.

    Parameters
    ----------
    data : Any
        As for :func:`parse_profile`.
    kb : KnowledgeBase
        As for :func:`parse_profile`.
    source : str
        As for :func:`parse_profile`.

    Returns
    -------
    tuple of (Profile, sequence)
        The validated profile with ``results`` empty, and its results: the row's
        own checked dicts (one per id, each naming the KB's) or ProfileResults, in
        the order the row gives them. :func:`whole_profile` puts them back.

    Raises
    ------
    ProfileError
        As :func:`parse_profile` raises it.
    """
    profile, checked = parsed_apart_or_whole(data, kb, source)
    if checked is not None:
        return profile, checked
    return without_results(profile), profile.results


def parsed_apart_or_whole(
    data: Any, kb: KnowledgeBase, source: str = "", *, fields_set_kept: bool = True
) -> tuple[Profile, list[dict[str, Any]] | None]:
    """:func:`parse_profile_apart` where it can vouch for the results, else the whole
    profile as :func:`parse_profile` gives it: ``Engine.evaluate``, which normalises
    the checked dicts and never gives the profile back, and needs no copy of a profile
    without its results when it has the whole one.

    Parameters
    ----------
    data, kb, source
        As for :func:`parse_profile`.
    fields_set_kept : bool
        False: a row without ``preferences`` has them validated from ``{}`` (the same
        values) rather than copied from the model's default, which pydantic deep-copies
        (a list within: not hashable) at several times the cost; the profile's
        ``model_fields_set`` then names ``preferences``, which only a caller that never
        gives the profile back may allow (a batch's spill pickles it). Either way a row
        of the common shape has the rest checked and its models made without pydantic
        (:func:`.checked_profile`: the same values, the same fields set as the
        validation it stands for).

    Returns
    -------
    tuple of (Profile, list of dict or None)
        The validated profile with ``results`` empty and the row's own checked result
        dicts (:func:`.checked_results`); or the whole validated profile and None.

    Raises
    ------
    ProfileError
        As :func:`parse_profile` raises it.
    """
    if type(data) is dict:
        results = data.get("results")
        checked = [] if results is None else checked_results(results, kb)
        if checked is not None:
            # the rest of a row of the common shape checked and made without pydantic
            # (validation's larger half once the results were checked apart)
            plain = checked_profile(data, kb, _folded, preferences_set=not fields_set_kept)
            if plain is not None:
                return plain, checked
            rest = data if results is None else {**data, "results": []}
            if not fields_set_kept and "preferences" not in rest:
                rest = {**rest, "preferences": {}}
            apart = _validated_apart(rest, kb)
            if apart is not None:
                return apart, checked
    return parse_profile(data, kb, source), None


def _validated_apart(data: dict[str, Any], kb: KnowledgeBase) -> Profile | None:
    """The profile of ``data`` (its results emptied) as :func:`parse_profile` gives it,
    or None when it has a problem (the whole row is validated again to place it)."""
    try:
        profile = Profile.model_validate(data)
    except Exception:  # whatever it is, parse_profile meets it again and reports it
        return None
    return _nfc_person(profile) if _references_known(profile, kb) else None


def without_results(profile: Profile) -> Profile:
    """The profile with ``results`` empty (itself when they are).

    Parameters
    ----------
    profile : Profile
        A validated profile.

    Returns
    -------
    Profile
        Its copy without its results: its fields set as the profile's.
    """
    if not profile.results:
        return profile
    return profile.model_copy(update={"results": []})


def whole_profile(profile: Profile, results: Sequence[Any]) -> Profile:
    """A profile of :func:`parse_profile_apart` with its results back, as
    :func:`parse_profile` gives it.

    Parameters
    ----------
    profile : Profile
        The profile without its results.
    results : sequence
        Its results as :func:`parse_profile_apart` gave them.

    Returns
    -------
    Profile
        The profile with its results as ProfileResults.
    """
    if profile.results or not results:
        return profile
    # the checked dicts validate as they did in the whole row (a ProfileResult as itself)
    return profile.model_copy(update={"results": _RESULTS.validate_python(list(results))})


_RESULTS = TypeAdapter(list[ProfileResult])


def _references_known(profile: Profile, kb: KnowledgeBase) -> bool:
    """Whether a validated profile names only the KB's subjects, competencies and
    indicators, none twice of one instrument and date: the common case, checked in
    one pass over the models. When not, :func:`_subject_issues` and
    :func:`_reference_issues` find every problem, placed."""
    if kb.subjects and any(subject not in kb.subjects for subject in profile.person.subjects):
        return False
    onto = kb.ontology
    competencies, indicators = onto.competencies, onto.indicators
    keys = []
    for result in profile.results:
        competency = result.competency
        if competency is not None:
            if competency not in competencies:
                return False
            keys.append(competency)
        else:
            key = result.indicator or ""
            if key not in indicators:
                return False
            keys.append(key)
    if len(set(keys)) != len(keys):
        # an id with several results (most profiles have none): none twice of one
        # instrument and date, the key as _reference_issues makes it
        seen: set[tuple[str, str, str]] = set()
        for result, key in zip(profile.results, keys, strict=True):
            instrument = result.instrument
            same = (
                key,
                "" if instrument is None else _instrument_key(kb, instrument),
                str(result.date),
            )
            if same in seen:
                return False
            seen.add(same)
    return all(request in competencies for request in profile.requests)


#: The person's free-text fields matched against the KB's (mentors' municipality and
#: organisation): compared after NFC, as a Mac or a web form may send them decomposed,
#: and with Latin look-alike letters in Cyrillic text read as the Cyrillic ones.
_PERSON_TEXT = ("municipality", "organization")


def _nfc_person(profile: Profile) -> Profile:
    """The profile with its person's text fields as :func:`person_text` reads them
    (itself if they are already)."""
    person = profile.person
    update = {
        name: folded
        for name in _PERSON_TEXT
        if isinstance(value := getattr(person, name), str) and (folded := _folded(value)) != value
    }
    if not update:
        return profile
    return profile.model_copy(update={"person": person.model_copy(update=update)})


def _folded(value: str) -> str:
    """``person_text(value)``, kept in :data:`_FOLDED` (a cohort names few towns and
    schools, and folding one costs about as much as a dozen dict reads)."""
    folded = _FOLDED.get(value)
    if folded is None:
        folded = person_text(value)
        if len(_FOLDED) < _FOLDED_KEPT:
            _FOLDED[value] = folded
    return folded


#: The person's text fields folded so far (at most :data:`_FOLDED_KEPT`).
_FOLDED: dict[str, str] = {}
_FOLDED_KEPT = 1 << 14


def _field(item: Any, name: str) -> Any:
    if type(item) is ProfileResult:  # a validated profile's: no abstract-class check
        return getattr(item, name)
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _subject_issues(subjects: Any, kb: KnowledgeBase, source: str) -> list[Issue]:
    """Subjects that are not subject ids of the KB (none when the KB has no subjects).

    A title or alias (``Математика``) is not accepted here: a profile names ids, and
    the suggestion tells which; readers of tables map names with :func:`subject_id`.
    """
    if not kb.subjects:
        return []
    return [
        _path_issue(
            source,
            ("person", "subjects", i),
            "unknown-ref",
            f"unknown subject '{subject}'",
            suggest_subject(subject, kb.subjects),
        )
        for i, subject in enumerate(subjects if isinstance(subjects, (list, tuple)) else ())
        if isinstance(subject, str) and subject not in kb.subjects
    ]


def subject_id(kb: KnowledgeBase, text: str) -> str | None:
    """The subject a table cell names: by its id, title or an alias.

    Compared stripped, case-insensitively and with ё as е (``" математика"``,
    ``"Алгебра"`` and ``"mathematics"`` all give ``"mathematics"``).

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose ``subjects`` (``ontology/subjects.yaml``) give the names.
    text : str
        The name as written.

    Returns
    -------
    str or None
        The subject id; None when no subject has that name (or the KB has no
        subjects).
    """
    names = _NAMES.get(kb)
    if names is None:
        # a table reader asks once per cell: the names are built once per KB
        names = _NAMES[kb] = subject_names(kb.subjects)
    return names.get(name_key(text))


#: Each live KB's subject names (a KB never changes, so they stay valid).
_NAMES: weakref.WeakKeyDictionary[KnowledgeBase, dict[str, str]] = weakref.WeakKeyDictionary()


def _reference_issues(results: Any, requests: Any, kb: KnowledgeBase, source: str) -> list[Issue]:
    """Unknown or repeated competency/indicator ids (on models or on raw data)."""
    onto = kb.ontology
    issues: list[Issue] = []
    seen: dict[tuple[str, str, object], int] = {}
    for i, result in enumerate(results if isinstance(results, (list, tuple)) else ()):
        table: Mapping[str, object]
        competency, indicator = _field(result, "competency"), _field(result, "indicator")
        if isinstance(competency, str):
            key, table, kind = competency, onto.competencies, "competency"
        elif isinstance(indicator, str):
            key, table, kind = indicator, onto.indicators, "indicator"
        else:
            continue
        date = _field(result, "date")
        # raw data may hold anything here (its model errors are reported beside)
        same = (key, _instrument_key(kb, _field(result, "instrument")), str(date))
        if key not in table:
            issues.append(
                _path_issue(
                    source,
                    ("results", i, kind),
                    "unknown-ref",
                    f"unknown {kind} '{key}'",
                    suggest(key, table),
                )
            )
        elif same in seen:
            # several results for one id are chosen between (docs/provenance.md), but
            # two of one instrument on one date leave nothing to choose by
            issues.append(
                _path_issue(
                    source,
                    ("results", i, kind),
                    "duplicate",
                    f"a second result for {kind} '{key}' of the same instrument and date "
                    f"(first at results[{seen[same]}])",
                )
            )
        else:
            seen[same] = i
    for i, req in enumerate(requests if isinstance(requests, (list, tuple)) else ()):
        if isinstance(req, str) and req not in onto.competencies:
            issues.append(
                _path_issue(
                    source,
                    ("requests", i),
                    "unknown-ref",
                    f"unknown competency '{req}'",
                    suggest(req, onto.competencies),
                )
            )
    return issues


def normalise(profile: Profile, kb: KnowledgeBase) -> Normalised:
    """Scores to percent; indicators roll up by weighted mean; groups by plain mean.

    A competency's own result overrides the roll-up of its indicators.

    Parameters
    ----------
    profile : Profile
        A profile validated against ``kb`` (:func:`parse_profile`).
    kb : KnowledgeBase
        The KB whose ontology and scale it is read with.

    Returns
    -------
    Normalised
        The scores in percent (to 2 places) by competency and by group, their
        levels on the KB's scale, the profile, and the results they were read from
        (one per competency or indicator, :func:`choose_results`).
    """
    plain = _normalised_plain(profile, kb)
    if plain is not None:
        return plain
    return _normalised_chosen(profile, kb)


def _normalised_chosen(profile: Profile, kb: KnowledgeBase) -> Normalised:
    """:func:`normalise` of any profile: the results chosen by the policy first
    (:func:`_normalised_plain` gives the same, in one pass, for most profiles)."""
    chosen, chosen_pct, provenance = _choose(profile, kb)
    own: dict[str, float] = {}
    indicators: dict[str, float] = {}
    # in profile order: the roll-up adds weighted scores in this order
    for result, pct in zip(chosen, chosen_pct, strict=True):
        if result.competency is not None:
            own[result.competency] = pct
        elif result.indicator is not None:
            indicators[result.indicator] = pct
    rolled = kb.ontology.rollup_indicators(indicators)
    comp_pct = {**rolled, **own}  # a competency's own result overrides its indicators
    comp_pct = {c: comp_pct[c] for c in sorted(comp_pct)}
    group_pct = kb.ontology.rollup_groups(comp_pct)
    scale = kb.scale
    return Normalised(
        profile=profile,
        chosen=chosen,
        provenance=provenance,
        chosen_pct=chosen_pct,
        competency_pct=comp_pct,
        group_pct=group_pct,
        competency_level={c: scale.level_of(v) for c, v in comp_pct.items()},
        group_level={g: scale.level_of(v) for g, v in group_pct.items()},
    )


def normalise_apart(profile: Profile, results: Sequence[Any], kb: KnowledgeBase) -> Normalised:
    """:func:`normalise` of a profile validated apart from its results.

    Parameters
    ----------
    profile : Profile
        The profile without its results (:func:`parse_profile_apart`).
    results : sequence
        Its results as :func:`parse_profile_apart` gave them: the row's checked
        dicts, or ProfileResults.
    kb : KnowledgeBase
        The KB it was validated against.

    Returns
    -------
    Normalised
        The values :func:`normalise` gives the whole profile, bit for bit. Read from
        the dicts as they are when none names its instrument, source or date (most),
        ``chosen`` then holding them and ``profile`` the profile without its results;
        any other from the whole profile (:func:`whole_profile`).

    Raises
    ------
    pydantic.ValidationError
        If ``results`` are dicts that :func:`parse_profile_apart` did not give (one
        the model refuses): the function trusts its caller to have validated them.
    KeyError
        If a result names an indicator ``kb`` does not know (as above: the ids are
        checked by validation, not here).
    """
    if results and type(results[0]) is dict:
        plain = _normalised_plain(profile, kb, results)
        if plain is not None:
            return plain
    return normalise(whole_profile(profile, results), kb)


def _normalised_plain(
    profile: Profile, kb: KnowledgeBase, results: Sequence[Any] | None = None
) -> Normalised | None:
    """:func:`normalise` of a profile with one result per id, none naming its
    instrument, source or date (most profiles), in one pass; None for any other.
    ``results``, when given, are the profile's (:func:`normalise_apart`).

    The same values in the same order: the percents as :func:`percent` rounds them,
    the roll-ups as the ontology's (the same IEEE operations in the same order), the
    provenance by (kind, id), that is the competencies by id then the indicators."""
    chosen = profile.results if results is None else results
    fields = plain_fields(profile, chosen, kb)
    if fields is None:
        return None
    # the fields' dict (made for it, in the class's order) set as the instance's own:
    # _made would copy it into another
    made = _new_object(Normalised)
    _set_object_attr(made, "__dict__", fields)
    return made


# --- a chunk of profiles at once (a batch's columnar path) ----------------------------


@dataclass(frozen=True)
class ScoreRows:
    """Scores of a chunk's profiles, one row each, as the base facts give them.

    Attributes
    ----------
    pid : list of int
        The profile (its place in the chunk) of each row, in order.
    target : list of str
        The competency, indicator or group id.
    pct : list of float
        The score in percent.
    level : list of str
        Its level on the KB's scale.
    origin : list of dict, optional
        Where each row's score came from (``Provenance.fact_fields``, an empty dict
        when nothing is known); None when no row of the chunk knows any.
    """

    pid: list[int]
    target: list[str]
    pct: list[float]
    level: list[str]
    origin: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class NormalisedChunk:
    """What :func:`normalise_many` gives: per profile the parts of :func:`normalise`'s
    answer a diagnosis keeps (its scores and provenance), and the chunk's scores as
    rows, in the order of the profiles' base facts.

    Attributes
    ----------
    scores : list of Scores
        Each profile's, equal to ``normalise(profile, kb).scores``.
    provenance : list of tuple of Provenance or PlainProvenance
        Each profile's, equal to ``normalise(profile, kb).provenance``; as its runs
        (:class:`~.models.provenance.PlainProvenance`, whose ``entries()`` are those)
        when no result of the chunk names its instrument, source or date.
    competencies : ScoreRows
        Per profile each competency with a score, by id (its ``result`` facts).
    indicators : ScoreRows
        Per profile each chosen indicator result, in profile order (its
        ``indicator_result`` facts).
    groups : ScoreRows
        Per profile each group with a score, by id (its ``group_result`` facts).
    """

    scores: list[Scores]
    provenance: list[tuple[Provenance, ...] | PlainProvenance]
    competencies: ScoreRows
    indicators: ScoreRows
    groups: ScoreRows


@dataclass(frozen=True)
class _Codes:
    """A KB's ids as numbers for :func:`normalise_many`: competencies and groups by
    their sorted order (a score dict's order), each competency's group, each
    indicator's parent and weight."""

    competencies: list[str]
    competency: dict[str, int]
    indicator: dict[str, int]
    groups: list[str]
    group_of: npt.NDArray[np.int64]
    parent: dict[str, int]
    weight: dict[str, float]


#: Each live KB's codes (a KB never changes).
_CODES: weakref.WeakKeyDictionary[KnowledgeBase, _Codes] = weakref.WeakKeyDictionary()


def _codes_of(kb: KnowledgeBase) -> _Codes:
    codes = _CODES.get(kb)
    if codes is None:
        onto = kb.ontology
        competencies = sorted(onto.competencies)
        groups = sorted({onto.group_of(c) for c in competencies})
        competency = {c: i for i, c in enumerate(competencies)}
        group = {g: i for i, g in enumerate(groups)}
        codes = _CODES[kb] = _Codes(
            competencies,
            competency,
            {i: n for n, i in enumerate(sorted(onto.indicators))},
            groups,
            np.array([group[onto.group_of(c)] for c in competencies], dtype=np.int64),
            {i: competency[c] for i, c in onto.indicator_parent.items()},
            {i: float(ind.weight) for i, ind in onto.indicators.items()},
        )
    return codes


_COMPETENCY = operator.attrgetter("competency")
_INDICATOR = operator.attrgetter("indicator")
_SCORE = operator.attrgetter("score")
_MAX = operator.attrgetter("max")


def normalise_many(
    profiles: Sequence[Profile],
    kb: KnowledgeBase,
    results: Sequence[Sequence[Any]] | None = None,
) -> NormalisedChunk:
    """:func:`normalise` of several profiles at once, its arithmetic over the chunk.

    Every value equals what :func:`normalise` gives each profile alone, bit for bit:
    the percents and roll-ups are the same IEEE operations in the same order (sums
    in profile order, then competency order), and each is rounded to 2 places as
    ``round`` rounds it wherever the nearest hundredth is certain, by ``round``
    itself elsewhere (:func:`_round2`).

    Parameters
    ----------
    profiles : sequence of Profile
        Profiles validated against ``kb`` (:func:`parse_profile`).
    kb : KnowledgeBase
        The KB whose ontology and scale they are read with.
    results : sequence of sequences, optional
        Each profile's results when it was validated without them
        (:func:`parse_profile_apart`: ProfileResults, or dicts it checked); by
        default each profile's own.

    Returns
    -------
    NormalisedChunk
        Each profile's scores and provenance, and the chunk's scores as rows.

    Raises
    ------
    KeyError
        A profile names an id the KB does not have (it was not validated against it).
    """
    codes = _codes_of(kb)
    n, nc, ng = len(profiles), len(codes.competencies), len(codes.groups)
    scale = kb.scale
    # the chosen results of every profile, one row each, in profile order
    pid: list[int] = []
    is_indicator: list[bool] = []
    target: list[str] = []
    scores: list[float] = []
    maxima: list[float] = []
    origins: list[tuple[Any, Any, Any]] = []  # each chosen result's instrument, source, date
    provenance: list[tuple[Provenance, ...] | PlainProvenance | None] = [None] * n
    given: dict[int, float] = {}  # rows whose percent the policy worked out
    for k, profile in enumerate(profiles):
        own: Sequence[Any] = profile.results if results is None else results[k]
        start = len(pid)
        if own and type(own[0]) is dict:  # checked by parse_profile_apart: one per id
            comps = [result.get("competency") for result in own]
            targets = [
                c if c is not None else r["indicator"] for c, r in zip(comps, own, strict=True)
            ]
            scores += map(_SCORE_KEY, own)
            maxima += [result.get("max", 100.0) for result in own]
            # most name none: their keys are the id, score and max alone
            origins += [_NO_ORIGIN if len(r) == 3 and "max" in r else _origin_of(r) for r in own]
        else:
            comps = list(map(_COMPETENCY, own))
            targets = [
                c if c is not None else i or ""
                for c, i in zip(comps, map(_INDICATOR, own), strict=True)
            ]
            if len(set(zip(targets, comps, strict=True))) != len(targets):  # several for an id
                picked, pcts, provenance[k] = _choose(
                    profile if results is None else whole_profile(profile, own), kb
                )
                given.update(zip(range(start, start + len(picked)), pcts, strict=True))
                own = list(picked)
                comps = list(map(_COMPETENCY, own))
                targets = [
                    c if c is not None else i or ""
                    for c, i in zip(comps, map(_INDICATOR, own), strict=True)
                ]
            scores += map(_SCORE, own)
            maxima += map(_MAX, own)
            origins += map(_ORIGIN, own)
        pid += [k] * len(targets)
        is_indicator += [c is None for c in comps]
        target += targets
    pct = _percents(np.array(scores, dtype=np.float64), np.array(maxima, dtype=np.float64))
    if given:
        pct[list(given)] = list(given.values())
    pcts = pct.tolist()
    known = origins.count(_NO_ORIGIN) != len(origins)  # any result names its origin
    # the provenance of each profile with one result per id (most): by (kind, id),
    # as _choose gives it, each profile's rows in one sort
    competency, indicator, parent = codes.competency, codes.indicator, codes.parent
    rank = [
        nc + indicator[t] if i else competency[t] for t, i in zip(target, is_indicator, strict=True)
    ]
    rows = np.array(pid, dtype=np.int64)
    alone = ~np.isin(rows, [k for k, p in enumerate(provenance) if p is not None])
    order = np.flatnonzero(alone)
    order = order[np.lexsort((np.array(rank, dtype=np.int64)[order], rows[order]))]
    order_rows = order.tolist()
    # made for the chunk at once when some result names its origin; else, none does:
    # each profile's as runs, made when read
    made_provenance = (
        _provenance_rows(kb, order_rows, target, is_indicator, pcts, origins) if known else None
    )
    at = 0
    for k, size in enumerate(np.bincount(rows[order], minlength=n).tolist()):
        if provenance[k] is None:
            if made_provenance is not None:
                provenance[k] = made_provenance[at : at + size]
            else:
                provenance[k] = _plain_runs(order_rows[at : at + size], target, is_indicator, pcts)
            at += size
    code = [parent[t] if i else competency[t] for t, i in zip(target, is_indicator, strict=True)]
    ind = np.array(is_indicator, dtype=bool)
    key = rows * nc + np.array(code, dtype=np.int64)
    # indicators roll up by weighted mean, added in profile order from 0.0
    ind_key = key[ind]
    weights = np.array([codes.weight[t] for t, i in zip(target, is_indicator, strict=True) if i])
    sums = np.bincount(ind_key, weights * pct[ind], minlength=n * nc)
    total = np.bincount(ind_key, weights, minlength=n * nc)
    has = np.bincount(ind_key, minlength=n * nc) > 0
    value = np.zeros(n * nc)
    with np.errstate(all="ignore"):
        value[has] = _round2(sums[has] / total[has])
    # a competency's own result overrides its indicators'
    own = key[~ind]
    value[own] = pct[~ind]
    has[own] = True
    comp_keys = np.flatnonzero(has)
    comp_pct = value[comp_keys]
    # groups by plain mean, their competencies added in id order
    comp_pid = comp_keys // nc
    group_key = comp_pid * ng + codes.group_of[comp_keys % nc]
    group_sums = _sums(group_key, comp_pct, n * ng)
    count = np.bincount(group_key, minlength=n * ng)
    group_keys = np.flatnonzero(count)
    with np.errstate(all="ignore"):
        group_pct = _round2(group_sums[group_keys] / count[group_keys])
    competencies = _score_rows(comp_pid, comp_keys % nc, codes.competencies, comp_pct, scale)
    groups = _score_rows(group_keys // ng, group_keys % ng, codes.groups, group_pct, scale)
    cut = np.arange(n + 1)
    comp_at = np.searchsorted(comp_pid, cut).tolist()
    group_at = np.searchsorted(group_keys // ng, cut).tolist()
    made: list[Scores] = []
    for k in range(n):
        a, b, c, d = comp_at[k], comp_at[k + 1], group_at[k], group_at[k + 1]
        names, group_names = competencies.target[a:b], groups.target[c:d]
        made.append(
            Scores(
                dict(zip(names, competencies.pct[a:b], strict=True)),
                dict(zip(group_names, groups.pct[c:d], strict=True)),
                dict(zip(names, competencies.level[a:b], strict=True)),
                dict(zip(group_names, groups.level[c:d], strict=True)),
            )
        )
    indicators = _score_rows(rows[ind], np.flatnonzero(ind), target, pct[ind], scale)
    kept = [p for p in provenance if p is not None]
    if known:  # then no profile's is kept as runs
        entries = [prov for prov in kept if not isinstance(prov, PlainProvenance)]
        if any(_known(p) for prov in entries for p in prov):
            competencies, indicators = _with_origin(entries, competencies, indicators)
    return NormalisedChunk(made, kept, competencies, indicators, groups)


_ORIGIN = operator.attrgetter("instrument", "source", "date")
_NO_ORIGIN = (None, None, None)
_SCORE_KEY = operator.itemgetter("score")


def _origin_of(result: dict[str, Any]) -> tuple[Any, Any, Any]:
    """A checked result dict's instrument, source and date (:data:`_ORIGIN` of its model)."""
    return result.get("instrument"), result.get("source"), result.get("date")


def _provenance_rows(
    kb: KnowledgeBase,
    order: list[int],
    target: list[str],
    is_indicator: list[bool],
    pcts: list[float],
    origins: list[tuple[Any, Any, Any]],
) -> tuple[Provenance, ...]:
    """The Provenance of the rows ``order`` names, each the one result for its id, of
    its origin (a chunk where no row names its instrument, source or date keeps each
    profile's as runs instead: :func:`_plain_runs`)."""
    return tuple(
        [
            _origin_provenance(kb, _KINDS[is_indicator[r]], target[r], origins[r], pcts[r])
            for r in order
        ]
    )


def _plain_runs(
    rows: list[int], target: list[str], is_indicator: list[bool], pcts: list[float]
) -> PlainProvenance:
    """The provenance of one profile's rows ``rows`` (its competencies, then its
    indicators, each the one result for its id and naming no origin) as its runs,
    made into their Provenances (``plain_provenance``'s) when first read: a batch's
    diagnosis never reads them (its spill codes the runs, ``cohort._SpillCodes``)."""
    ids = [target[r] for r in rows]
    scores = [pcts[r] for r in rows]
    split = len(rows) - sum([is_indicator[r] for r in rows])
    runs = []
    if split:
        competencies = ids[:split]
        runs.append(("competency", competencies, dict(zip(competencies, scores, strict=False))))
    if split < len(rows):
        indicators = ids[split:]
        runs.append(("indicator", indicators, dict(zip(indicators, scores[split:], strict=True))))
    return PlainProvenance(runs)


def _origin_provenance(
    kb: KnowledgeBase,
    kind: str,
    target: str,
    origin: tuple[Any, Any, Any],
    pct: float,
    set_aside: int = 0,
) -> Provenance:
    """The Provenance of a chosen result, of its (instrument, source, date): its
    instrument as the KB knows it, its source else its instrument's."""
    instrument, source, date = origin
    known = None if instrument is None else instrument_of(kb, instrument)
    return Provenance.of(
        target,
        kind,
        pct,
        instrument,
        None if known is None else known.id,
        source or (None if known is None else known.source),
        date,
        set_aside,
    )


_KINDS = ("competency", "indicator")


def _known(p: Provenance) -> bool:
    return p.instrument is not None or p.source is not None or p.date is not None


def _with_origin(
    provenance: list[tuple[Provenance, ...]], competencies: ScoreRows, indicators: ScoreRows
) -> tuple[ScoreRows, ScoreRows]:
    """The rows with where each score came from, as ``engine.base_facts`` adds it."""
    origin = [
        {(p.kind, p.target): p.fact_fields() for p in prov if _known(p)} for prov in provenance
    ]
    empty: dict[str, str] = {}
    return (
        dataclasses.replace(
            competencies,
            origin=[
                origin[k].get(("competency", t), empty)
                for k, t in zip(competencies.pid, competencies.target, strict=True)
            ],
        ),
        dataclasses.replace(
            indicators,
            origin=[
                origin[k].get(("indicator", t), empty)
                for k, t in zip(indicators.pid, indicators.target, strict=True)
            ],
        ),
    )


def _score_rows(
    pid: npt.NDArray[np.int64],
    code: npt.NDArray[np.int64],
    names: list[str],
    pct: npt.NDArray[np.float64],
    scale: Scale,
) -> ScoreRows:
    """Rows of scores: each row's profile, its name (``names[code]``), score and level."""
    return ScoreRows(
        pid.tolist(),
        list(map(names.__getitem__, code.tolist())),
        pct.tolist(),
        _levels(scale, pct),
    )


def _levels(scale: Scale, pct: npt.NDArray[np.float64]) -> list[str]:
    """``scale.level_of`` of each score: the first level whose bound is above it, the
    same comparisons over the whole array."""
    levels = scale.levels
    found = np.full(len(pct), len(levels) - 1, dtype=np.int64)
    open_ = np.ones(len(pct), dtype=bool)
    for i, level in enumerate(levels):
        below = level.below
        hit = open_ if below is None else open_ & (pct < below)
        found[hit] = i
        open_ &= ~hit
    ids = [level.id for level in levels]
    return list(map(ids.__getitem__, found.tolist()))


#: Python's ``sum`` of floats adds in order from 0 up to 3.11; from 3.12 it compensates.
_PLAIN_SUM = sys.version_info < (3, 12)


def _sums(
    key: npt.NDArray[np.int64], values: npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.float64]:
    """Per key the sum of its values (keys in ascending order) as ``sum`` of their list
    in order gives it."""
    if _PLAIN_SUM:
        return np.bincount(key, values, minlength=size).astype(np.float64, copy=False)
    out = np.zeros(size)
    cut = np.flatnonzero(np.diff(key)) + 1
    for part_key, part in zip(np.split(key, cut), np.split(values, cut), strict=True):
        if len(part_key):
            out[part_key[0]] = sum(part.tolist())
    return out


def _percents(
    score: npt.NDArray[np.float64], maximum: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """:func:`percent` of each (score, maximum) pair."""
    with np.errstate(all="ignore"):
        raw = 100.0 * score / maximum
    out = _round2(raw)
    odd = np.flatnonzero(np.isinf(raw))
    if len(odd):
        out[odd] = [
            percent(s, m) for s, m in zip(score[odd].tolist(), maximum[odd].tolist(), strict=True)
        ]
    return out


#: Past this a float's hundredths are not all integers below 2**53.
_HUNDREDTHS = float(2**52)


def _round2(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``round(v, 2)`` of each value, bit for bit.

    ``round`` gives the double nearest to ``k / 100``, ``k`` the integer nearest
    to ``100 * v`` computed exactly, which is what ``k / 100.0`` gives (IEEE
    division is correctly rounded). ``100.0 * v`` in floating point is within half
    a unit of the exact product, so wherever its fraction is further than that from
    one half, the integer nearest to it is ``k``; elsewhere (a tie, or nearly), and
    for values negative, huge or not finite, ``round`` itself decides.
    """
    with np.errstate(all="ignore"):
        y = x * 100.0
        whole = np.floor(y)
        fraction = y - whole  # exact for 0 <= y < 2**52
        k = whole + (fraction > 0.5)
        out = np.copysign(k / 100.0, x)  # round(-0.0, 2) is -0.0
        sure = (y >= 0) & (y < _HUNDREDTHS) & (np.abs(fraction - 0.5) > 4 * np.spacing(y))
    odd = np.flatnonzero(~sure)
    if len(odd):
        out[odd] = [round(v, 2) for v in x[odd].tolist()]
    return out


# --- several results for one id: the instrument policy (docs/provenance.md) -----------


def instrument_of(kb: KnowledgeBase, name: str | None) -> Instrument | None:
    """The KB's instrument a result names, by its id, title or an alias.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose ``instruments`` (``ontology/instruments.yaml``) give the names.
    name : str or None
        The result's ``instrument`` as written; compared as subject names are
        (case, ``ё`` and spaces do not matter).

    Returns
    -------
    Instrument or None
        The instrument; None when ``name`` is None or names none of the KB's.
    """
    if name is None or not kb.instruments:
        return None
    names = _INSTRUMENT_NAMES.get(kb)
    if names is None:
        names = _INSTRUMENT_NAMES[kb] = subject_names(kb.instruments)
    found = names.get(name_key(name))
    return None if found is None else kb.instruments[found]


#: Each live KB's instrument names, built once (as ``_NAMES`` for subjects).
_INSTRUMENT_NAMES: weakref.WeakKeyDictionary[KnowledgeBase, dict[str, str]] = (
    weakref.WeakKeyDictionary()
)


def _instrument_key(kb: KnowledgeBase, name: object) -> str:
    """What makes two results' instruments the same: the KB's id, else the name."""
    if not isinstance(name, str):
        return ""
    known = instrument_of(kb, name)
    return known.id if known is not None else name_key(name)


def _rank(kb: KnowledgeBase, indexed: tuple[int, ProfileResult]) -> tuple[int, str, int]:
    """The policy's order of results for one id: the instrument's priority, then
    the later date (an undated result is the earliest), then the later in the file."""
    index, result = indexed
    known = instrument_of(kb, result.instrument)
    priority = known.priority if known is not None else 0
    return (priority, result.date or "", index)


def choose_results(
    profile: Profile, kb: KnowledgeBase
) -> tuple[tuple[ProfileResult, ...], tuple[Provenance, ...]]:
    """One result per competency or indicator, chosen by the KB's instrument policy.

    The result of the instrument with the highest ``priority`` in
    ``ontology/instruments.yaml`` wins (an instrument the file does not list has
    0); among equals the latest ``date`` wins, an undated result counting as the
    earliest; then the one later in the profile (docs/provenance.md).

    Parameters
    ----------
    profile : Profile
        A profile validated against ``kb``.
    kb : KnowledgeBase
        The KB whose instruments decide.

    Returns
    -------
    chosen : tuple of ProfileResult
        The results used, in profile order.
    provenance : tuple of Provenance
        Where each came from, competencies then indicators, by id.
    """
    chosen, _pct, provenance = _choose(profile, kb)
    return chosen, provenance


def _choose(
    profile: Profile, kb: KnowledgeBase
) -> tuple[tuple[ProfileResult, ...], tuple[float, ...], tuple[Provenance, ...]]:
    """:func:`choose_results`, with each chosen result's score in percent (computed
    once: the scores, the provenance and the base facts all read it)."""
    results = profile.results
    targets = [
        ("competency", competency)
        if (competency := result.competency) is not None
        else ("indicator", result.indicator or "")
        for result in results
    ]
    if len(set(targets)) == len(targets):
        # most profiles: one result per id, all chosen, in profile order; their
        # provenance by (kind, id), as the sort of the winners below gives it
        pcts = [percent(result.score, result.max) for result in results]
        by_id = sorted(range(len(targets)), key=targets.__getitem__)
        provenance = tuple(
            [_origin_provenance(kb, *targets[i], _ORIGIN(results[i]), pcts[i]) for i in by_id]
        )
        return tuple(results), tuple(pcts), provenance
    by_target: dict[tuple[str, str], list[int]] = {}
    for index, key in enumerate(targets):
        found = by_target.get(key)
        if found is None:
            by_target[key] = [index]
        else:
            found.append(index)
    winners = {
        key: indexes[0]
        if len(indexes) == 1
        else max(indexes, key=lambda i: _rank(kb, (i, results[i])))
        for key, indexes in by_target.items()
    }
    order = sorted(winners.values())
    pct = {i: percent(results[i].score, results[i].max) for i in order}
    # a list, not a generator (resuming one per result cost more)
    provenance = tuple(
        [
            _origin_provenance(
                kb, kind, target, _ORIGIN(results[i]), pct[i], len(by_target[(kind, target)]) - 1
            )
            for (kind, target), i in sorted(winners.items())
        ]
    )
    return tuple([results[i] for i in order]), tuple(pct.values()), provenance


def read_profile_file(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read a profile document from YAML or JSON (by the file's suffix).

    Parameters
    ----------
    path : Path or str
        The file; ``.json`` is read as JSON, anything else as YAML.
    max_bytes : int
        Files larger than this are refused.

    Returns
    -------
    Any
        The document, to be validated by :func:`parse_profile`.

    Raises
    ------
    ProfileError
        If the file cannot be read, is too large, is not UTF-8, or is not
        valid JSON or YAML.
    """
    file = Path(path)
    name = str(path)
    if file.suffix.lower() == ".json":
        try:
            size = file.stat().st_size
            if size > max_bytes:
                raise ProfileError(
                    [
                        Issue(
                            name,
                            1,
                            1,
                            "too-large",
                            f"file is {size} bytes; the limit is {max_bytes}",
                        )
                    ]
                )
            text = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ProfileError(
                [Issue(name, 0, 0, "unreadable", exc.strerror or str(exc))]
            ) from None
        except UnicodeDecodeError:
            raise ProfileError([Issue(name, 1, 1, "encoding", "file is not valid UTF-8")]) from None
        return load_json_text(text, name)
    doc = load_yaml_file(file, name, max_bytes)
    if doc.issues:
        raise ProfileError(doc.issues)
    return doc.data


def read_profile_stream(
    stream: BinaryIO, name: str = STDIN, max_bytes: int = MAX_FILE_BYTES
) -> Any:
    """Read a profile document, YAML or JSON, from a byte stream (the command line's ``-``).

    A stream has no file name to tell the two apart: text that parses as JSON is read
    as JSON, as a ``.json`` file would be (YAML 1.1 would read ``1e5`` as a string);
    anything else is read as YAML, whose errors are then reported.

    Parameters
    ----------
    stream : BinaryIO
        The input, read to its end (``sys.stdin.buffer``).
    name : str
        How issues name the input.
    max_bytes : int
        The most the input may hold, as for a file.

    Returns
    -------
    Any
        The document, to be validated by :func:`parse_profile`.

    Raises
    ------
    ProfileError
        The input is too large, not UTF-8, or neither JSON nor valid YAML.
    """
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ProfileError(
            [Issue(name, 1, 1, "too-large", f"input is over the limit of {max_bytes} bytes")]
        )
    try:
        return load_json_text(raw.decode("utf-8-sig"), name, yaml_fallback=True)
    except (UnicodeDecodeError, _NotJson):
        pass
    doc = load_yaml_bytes(raw, name)
    if doc.issues:
        raise ProfileError(doc.issues)
    return doc.data


class _NotJson(Exception):
    """The text is not JSON: a stream is then read as YAML."""


class _BigInt(Exception):
    def __init__(self, digits: str) -> None:
        self.digits = digits


#: JSON tokens that matter for nesting and keys: strings (whole, escapes included),
#: brackets and colons. Everything else is skipped by ``finditer``.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:]')


def load_json_text(text: str, name: str, *, yaml_fallback: bool = False) -> Any:
    """Parse a JSON profile document, refusing what the json module would crash on.

    Nesting deeper than :data:`~deficit_engine._yaml.MAX_DEPTH` (RecursionError in
    the json module) and integers longer than ``MAX_INT_DIGITS`` (its ValueError)
    are refused with their place; a key repeated in one object is refused, naming
    it, as YAML's duplicate keys are (json would keep the last silently).

    Parameters
    ----------
    text : str
        The document.
    name : str
        How issues name the input.
    yaml_fallback : bool
        Raise ``_NotJson`` rather than report a syntax error when ``text`` is not
        JSON at all (a stream that may be YAML).

    Returns
    -------
    Any
        The document, to be validated by :func:`parse_profile`.

    Raises
    ------
    ProfileError
        The text is not valid JSON, nests too deep, holds a huge integer or
        repeats a key.
    """
    looks_json = text.lstrip()[:1] in ("{", "[")
    if yaml_fallback and not looks_json:
        raise _NotJson
    quick = _quick_load(text)
    if quick is not _NOT_VOUCHED:
        return quick
    problems = _scan_json(text, name)
    if problems and problems[0].code == "too-deep":
        raise ProfileError(problems[:1])
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        if yaml_fallback:
            raise _NotJson from None
        raise ProfileError([Issue(name, exc.lineno, exc.colno, "json-syntax", exc.msg)]) from None
    except _BigInt as big:
        line, col = _line_col(text, max(text.find(big.digits), 0))
        message = f"integer of {len(big.digits)} characters; the limit is {MAX_INT_DIGITS}"
        raise ProfileError([Issue(name, line, col, "too-large", message)]) from None
    if problems:
        raise ProfileError(problems)
    return data


#: What :func:`_quick_load` gives when it cannot vouch for the text.
_NOT_VOUCHED: Any = object()


class _RepeatedKey(Exception):
    """A key repeated in one object: the full scan names it with its place."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _RepeatedKey
    return found


def _quick_load(text: str) -> Any:
    """The document by the json module's C parser alone, when that is safe to trust.

    The token scan of :func:`_scan_json` runs in Python over every character and
    cost more than the parse itself (about 0.2 ms a cohort row). It is only needed
    to place a problem, so a text is first parsed here: with at most ``MAX_DEPTH``
    opening brackets in all (counted in strings too: an over-count only sends a
    text to the full path) it cannot nest too deep, repeated keys are caught by
    the pairs hook, and huge integers by ``_parse_int``. Anything odd returns
    :data:`_NOT_VOUCHED` and the full path reports it with its place.
    """
    if text.count("{") + text.count("[") > MAX_DEPTH:
        return _NOT_VOUCHED
    fast = _orjson_load(text)
    if fast is not _NOT_VOUCHED:
        return fast
    try:
        return json.loads(text, parse_int=_parse_int, object_pairs_hook=_unique_pairs)
    except (ValueError, _BigInt, _RepeatedKey, RecursionError):
        return _NOT_VOUCHED


#: orjson reads an integer beyond 64 bits as a float (the json module keeps an int):
#: a float this large may have been one, and is vouched for by the json module only.
_HUGE = float(2**63)


def _orjson_load(text: str) -> Any:
    """The document by orjson, when it equals the json module's, value for value.

    orjson parses a cohort row in a sixth of the json module's time with its pairs
    hook (the hook is a Python call per object). What it does otherwise: it keeps
    the last of a repeated key silently, reads an integer beyond 64 bits as a float,
    and refuses ``NaN``, ``Infinity``, lone surrogates and ``1e400`` (which the json
    module reads). So a text is vouched for only when no float in it reaches 2**63
    in size (none was an integer past 64 bits) and its objects hold as many keys as
    the text has colons (none repeated: a colon inside a string only sends a text to
    the json module). What orjson refuses goes to the json module too, which reads
    or places it.

    A text that is orjson's own writing of what it parsed to (byte for byte) is
    vouched for at once: the writing of a dict repeats no key, and writes every
    float with a point or an exponent, never as the digits of an integer.
    """
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_VOUCHED
    if orjson.dumps(data) == text.encode():
        # the text is orjson's own writing of the data (a compact row, as orjson or
        # json.dumps without spaces writes one): it holds no repeated key and no
        # integer past 64 bits, or the writing would differ. Found in C, at a third
        # of the walk below.
        return data
    keys = 0
    stack = [data]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        if type(value) is dict:
            keys += len(value)
            value = value.values()
        elif type(value) is not list:
            value = (value,)  # the document itself a number (a stream's)
        for item in value:
            kind = type(item)
            if kind is dict or kind is list:
                push(item)
            elif kind is float and not -_HUGE < item < _HUGE:
                return _NOT_VOUCHED
    return data if keys == text.count(":") else _NOT_VOUCHED


def _parse_int(digits: str) -> int:
    # checked before int() converts: Python refuses over 4,300 digits with a ValueError
    if len(digits) > MAX_INT_DIGITS:
        raise _BigInt(digits)
    return int(digits)


def _scan_json(text: str, name: str) -> list[Issue]:
    """Nesting over the limit (then alone) and keys repeated within one object.

    A flat scan, no recursion: a stack with, per open object, the keys seen.
    """
    stack: list[set[str] | None] = []  # a set per object, None per array
    issues: list[Issue] = []
    previous: re.Match[str] | None = None
    for token in _JSON_TOKEN.finditer(text):
        kind = token.group()
        if kind in ("{", "["):
            stack.append(set() if kind == "{" else None)
            if len(stack) > MAX_DEPTH:
                line, col = _line_col(text, token.start())
                message = f"values nest more than {MAX_DEPTH} levels deep"
                return [Issue(name, line, col, "too-deep", message)]
        elif kind in ("}", "]"):
            if stack:
                stack.pop()
        elif kind == ":" and previous is not None and previous.group().startswith('"'):
            _note_key(stack, previous, text, name, issues)
        previous = token
    return issues


def _note_key(
    stack: list[set[str] | None], token: re.Match[str], text: str, name: str, issues: list[Issue]
) -> None:
    keys = stack[-1] if stack else None
    if keys is None:
        return  # not JSON where a key stands: json.loads reports it
    try:
        key = json.loads(token.group())
    except json.JSONDecodeError:
        return
    if key in keys:
        line, col = _line_col(text, token.start())
        issues.append(Issue(name, line, col, "duplicate-key", f"duplicate key {key!r}"))
    keys.add(key)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
