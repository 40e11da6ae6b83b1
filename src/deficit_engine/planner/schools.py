"""School profiles and the school rules: which schools need командное наставничество.

A cohort's diagnosed profiles are aggregated per organisation into a
:class:`SchoolProfile`: per competency group, how many of its staff were
assessed, how many have a deficit (by severity), the share of them and the mean
group score, and per competency how many have a deficit on it. The KB's school
rules (``kb.planning.school_rules``) then flag a school for team support in a
group (:class:`SchoolFlag`), which the planner pairs with a mentor team
(docs/route.md, "School profiles and team support").

A school profile holds aggregates only: no person's id or name.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from ..kb import KnowledgeBase
from ..labels import SEVERITY_RU
from ..models import Result
from ..schema import Profile, SchoolRule, Severity
from .rows import PlanRow

__all__ = [
    "GroupProfile",
    "SchoolFlag",
    "SchoolProfile",
    "flag_schools",
    "school_profiles",
    "school_profiles_of",
]

#: Severities, most severe first (the rule language's ranking).
SEVERITY_ORDER: tuple[str, ...] = get_args(Severity)
_RANK = {s: i for i, s in enumerate(SEVERITY_ORDER)}


@dataclass(frozen=True)
class GroupProfile:
    """One competency group at one school.

    Every count is over the staff assessed in the group (people with a score for
    it), so a share never exceeds 100 %. A person's severity in the group is
    that of their most severe deficit in it, as a Result keeps the most severe
    deficit per competency.

    Attributes
    ----------
    group : str
        The competency group's id.
    assessed : int
        Staff with a score for the group.
    by_severity : tuple of (str, int)
        Severity -> assessed staff whose most severe deficit in the group has it,
        every severity, most severe first (zeros included).
    mean_score : float or None
        The exact mean group score of the assessed staff, in percent (None when
        nobody was assessed).
    prevalence : tuple of (str, int)
        Competency id -> assessed staff with a deficit on it, for the
        competencies with at least one, in ontology order.
    """

    group: str
    assessed: int
    by_severity: tuple[tuple[str, int], ...]
    mean_score: float | None
    prevalence: tuple[tuple[str, int], ...]

    @property
    def with_deficit(self) -> int:
        """Assessed staff with a deficit in the group, of any severity."""
        return sum(n for _, n in self.by_severity)

    @property
    def share_pct(self) -> float | None:
        """``with_deficit`` as a percent of ``assessed``, to 1 decimal (None when 0 assessed)."""
        return _pct(self.with_deficit, self.assessed)

    @property
    def mean_pct(self) -> float | None:
        """The mean group score to 1 decimal (None when nobody was assessed)."""
        return None if self.mean_score is None else round(self.mean_score, 1)

    def counted(self, severities: Iterable[str]) -> int:
        """Assessed staff whose deficit in the group is of one of ``severities``.

        Parameters
        ----------
        severities : iterable of str
            The severities that count; empty: every severity.

        Returns
        -------
        int
            How many of the assessed staff that is.
        """
        wanted = set(severities)
        return sum(n for s, n in self.by_severity if not wanted or s in wanted)

    def to_dict(self) -> dict[str, Any]:
        """The group's aggregates as a JSON-ready dict.

        Returns
        -------
        dict
            ``group``, ``assessed``, ``with_deficit``, ``by_severity`` (severity ->
            count), ``share_pct``, ``mean_pct``, ``prevalence`` (competency -> count).
        """
        return {
            "group": self.group,
            "assessed": self.assessed,
            "with_deficit": self.with_deficit,
            "by_severity": dict(self.by_severity),
            "share_pct": self.share_pct,
            "mean_pct": self.mean_pct,
            "prevalence": dict(self.prevalence),
        }


@dataclass(frozen=True)
class SchoolProfile:
    """The aggregated diagnosis of one organisation's staff in a cohort.

    Attributes
    ----------
    organization : str
        The organisation's name, as the profiles give it.
    municipality : str or None
        The most common municipality among its staff (ties: the first by name);
        None when no profile names one.
    staff : int
        Its people in the cohort (evaluated profiles).
    groups : tuple of GroupProfile
        The groups in which someone was assessed, in ontology order.
    """

    organization: str
    municipality: str | None
    staff: int
    groups: tuple[GroupProfile, ...]

    def group(self, group_id: str) -> GroupProfile | None:
        """The aggregates of one competency group.

        Parameters
        ----------
        group_id : str
            The group's id.

        Returns
        -------
        GroupProfile or None
            Its aggregates, or None when nobody at the school was assessed in it.
        """
        for g in self.groups:
            if g.group == group_id:
                return g
        return None

    def to_dict(self) -> dict[str, Any]:
        """The school profile as a JSON-ready dict (aggregates only).

        Returns
        -------
        dict
            ``organization``, ``municipality``, ``staff`` and ``groups`` (a list of
            :meth:`GroupProfile.to_dict`).
        """
        return {
            "organization": self.organization,
            "municipality": self.municipality,
            "staff": self.staff,
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class SchoolFlag:
    """A school flagged for team support in one competency group by a school rule.

    Attributes
    ----------
    organization : str
        The school.
    municipality : str or None
        Its municipality (as in its :class:`SchoolProfile`).
    rule : str
        The id of the rule that flagged it (the first in file order).
    group : str
        The competency group.
    form : str
        The mentoring form the rule asks for (``team`` unless it says otherwise).
    competencies : tuple of str
        The group's competencies with deficits at the school, the most
        prevalent first, then in ontology order.
    assessed : int
        Staff assessed in the group.
    counted : int
        Of them, those with a deficit of the rule's severities.
    share_pct : float or None
        ``counted`` as a percent of ``assessed``, to 1 decimal.
    mean_pct : float or None
        The mean group score, to 1 decimal.
    reason : str
        Why, in Russian, with the numbers and the thresholds.
    also : tuple of str
        The ids of the later rules that flag the same school and group.
    """

    organization: str
    municipality: str | None
    rule: str
    group: str
    form: str
    competencies: tuple[str, ...]
    assessed: int
    counted: int
    share_pct: float | None
    mean_pct: float | None
    reason: str
    also: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The flag as a JSON-ready dict.

        Returns
        -------
        dict
            Every attribute, the tuples as lists.
        """
        return {
            "organization": self.organization,
            "municipality": self.municipality,
            "rule": self.rule,
            "group": self.group,
            "form": self.form,
            "competencies": list(self.competencies),
            "assessed": self.assessed,
            "counted": self.counted,
            "share_pct": self.share_pct,
            "mean_pct": self.mean_pct,
            "reason": self.reason,
            "also": list(self.also),
        }


# --- school profiles ----------------------------------------------------------------


class _GroupTally:
    """A group's running counts at one school while the cohort is read: the
    scores, and how many people had each worst severity and a deficit in each
    competency (a Counter updated per person and group was about a third of the
    profiles' time: plain dicts, counted inline)."""

    __slots__ = ("competencies", "scores", "severities")

    def __init__(self) -> None:
        # floats in an array, not a list of float objects: a list kept about 220
        # bytes a person of them until the profiles were made (seven groups), and
        # the plan's peak that follows reused little of that memory
        self.scores: array[float] = array("d")
        # counts, not a list of each person's: the lists grew about 100 bytes a
        # person (a reference per deficit's competency and per worst severity),
        # freed after the profiles into a heap the mentors' flows then grew past
        self.severities: dict[str, int] = {}
        self.competencies: dict[str, int] = {}


class _SchoolTally:
    """A school's running counts while the cohort is read."""

    __slots__ = ("groups", "municipalities", "staff")

    def __init__(self) -> None:
        self.staff = 0
        self.municipalities: Counter[str] = Counter()
        self.groups: dict[str, _GroupTally] = {}

    def add(
        self,
        group_pct: Mapping[str, float],
        deficits: Iterable[tuple[str | None, str, str]],
        group_ids: Iterable[str],
    ) -> None:
        """Count one person: their group scores and their deficits in those groups
        (each deficit as (group, competency, severity))."""
        worst: dict[str, str] = {}  # group -> the person's most severe deficit in it
        competencies: dict[str, list[str]] = {}
        # _rank, inlined: this runs per deficit of every person
        rank, unranked = _RANK.get, len(_RANK)
        for group, competency, severity in deficits:
            if group is None:  # a competency the ontology does not know
                continue
            listed = competencies.get(group)
            if listed is None:  # the group's first deficit: the worst so far
                competencies[group] = [competency]
                worst[group] = severity
                continue
            listed.append(competency)
            if rank(severity, unranked) < rank(worst[group], unranked):
                worst[group] = severity
        for g in group_ids:
            # a person counts only where assessed, deficits too: a share stays within 100 %
            if g not in group_pct:
                continue
            # made only for a group met first: setdefault made one (two Counters)
            # for every assessed group of every person
            tally = self.groups.get(g)
            if tally is None:
                tally = self.groups[g] = _GroupTally()
            tally.scores.append(group_pct[g])
            if g in worst:
                severities = tally.severities
                severity = worst[g]
                severities[severity] = severities.get(severity, 0) + 1
                counts = tally.competencies
                for competency in set(competencies[g]):
                    counts[competency] = counts.get(competency, 0) + 1


def _rank(severity: str) -> int:
    return _RANK.get(severity, len(_RANK))


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part * 100 / whole, 1)


def school_profiles(
    kb: KnowledgeBase, people: Iterable[tuple[Profile, Result]]
) -> tuple[SchoolProfile, ...]:
    """Aggregate a cohort's diagnoses per organisation.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB the Results were diagnosed with (its ontology gives the groups
        and their order).
    people : iterable of (Profile, Result)
        Each person's profile and diagnosed Result. A person without an
        organisation is in no school profile; a Result that is not ``ok`` is
        skipped. The input order does not matter.

    Returns
    -------
    tuple of SchoolProfile
        One per organisation, by organisation name.
    """
    return _profiles(
        kb,
        (
            (
                profile.person.organization,
                profile.person.municipality,
                result.scores.group_pct if result.scores is not None else {},
                [(d.group, d.competency, d.severity) for d in result.deficits],
            )
            for profile, result in people
            if result.ok
        ),
    )


def school_profiles_of(kb: KnowledgeBase, rows: Iterable[PlanRow]) -> tuple[SchoolProfile, ...]:
    """:func:`school_profiles` from the cohort plan's rows (:func:`~.rows.plan_row`).

    Parameters
    ----------
    kb : KnowledgeBase
        As for :func:`school_profiles`.
    rows : iterable of PlanRow
        The diagnosed people.

    Returns
    -------
    tuple of SchoolProfile
        As :func:`school_profiles` gives them for the same people.
    """
    return _profiles(kb, ((r.organization, r.municipality, r.group_pct, r.deficits) for r in rows))


#: What a school profile reads of one person: organisation, municipality, group
#: scores, and (group, competency, severity) of each deficit.
_Entry = tuple[str | None, str | None, Mapping[str, float], Iterable[tuple[str | None, str, str]]]


def _profiles(kb: KnowledgeBase, people: Iterable[_Entry]) -> tuple[SchoolProfile, ...]:
    group_ids = tuple(kb.ontology.groups)
    tallies: dict[str, _SchoolTally] = {}
    for org, municipality, group_pct, deficits in people:
        if org is None:
            continue
        tally = tallies.get(org)
        if tally is None:  # a school met first (setdefault made one a person)
            tally = tallies[org] = _SchoolTally()
        tally.staff += 1
        if municipality is not None:
            tally.municipalities[municipality] += 1
        tally.add(group_pct, deficits, group_ids)
    return tuple(_school(kb, org, tallies[org]) for org in sorted(tallies))


def _school(kb: KnowledgeBase, org: str, tally: _SchoolTally) -> SchoolProfile:
    groups = tuple(_group(kb, g, tally.groups[g]) for g in kb.ontology.groups if g in tally.groups)
    return SchoolProfile(org, _most_common(tally.municipalities), tally.staff, groups)


def _most_common(counts: Counter[str]) -> str | None:
    """The most frequent name; ties go to the first by name (not by input order)."""
    if not counts:
        return None
    return min(counts, key=lambda name: (-counts[name], name))


def _group(kb: KnowledgeBase, group_id: str, tally: _GroupTally) -> GroupProfile:
    order = kb.ontology.order_key
    known = kb.ontology.competencies
    # fsum is exactly rounded, so the mean does not depend on the order people came in
    mean = math.fsum(tally.scores) / len(tally.scores)
    prevalence = sorted(
        tally.competencies.items(),
        key=lambda item: (order(item[0]) if item[0] in known else 10**9, item[0]),
    )
    counted = tally.severities
    severity = tuple((s, counted.get(s, 0)) for s in SEVERITY_ORDER)
    return GroupProfile(group_id, len(tally.scores), severity, mean, tuple(prevalence))


# --- school rules -------------------------------------------------------------------


def flag_schools(kb: KnowledgeBase, schools: Iterable[SchoolProfile]) -> tuple[SchoolFlag, ...]:
    """Apply the KB's school rules: which schools need team support, in which groups.

    A rule flags a school for a group when at least ``min_staff`` of its staff
    were assessed in the group and every condition the rule gives holds: the
    share of them with a deficit of the rule's ``severities`` (any when empty)
    is strictly above ``share_above``; the mean group score is strictly below
    ``mean_below``. The comparisons use the exact values; flags show them
    rounded to 1 decimal. A rule without ``groups`` applies to every group.

    Parameters
    ----------
    kb : KnowledgeBase
        Its ``planning.school_rules`` are applied in file order; its ontology
        gives the groups' titles and order.
    schools : iterable of SchoolProfile
        The school profiles (:func:`school_profiles`).

    Returns
    -------
    tuple of SchoolFlag
        At most one flag per school and group, by the first rule that flags it
        (later ones in ``also``); schools by organisation name, then groups in
        ontology order.
    """
    rules = kb.planning.school_rules
    flags: list[SchoolFlag] = []
    for school in sorted(schools, key=lambda s: s.organization):
        for group in school.groups:
            matching = [rule for rule in rules if _flags(rule, group)]
            if matching:
                flags.append(_flag(kb, school, group, matching[0], matching[1:]))
    return tuple(flags)


def _flags(rule: SchoolRule, group: GroupProfile) -> bool:
    """Whether ``rule`` flags a school's ``group``: in scope, enough staff, every condition."""
    if rule.groups and group.group not in rule.groups:
        return False
    if group.assessed < rule.min_staff:
        return False
    # counted / assessed > share_above / 100, compared without rounding the share first
    share_fails = (
        rule.share_above is not None
        and group.counted(rule.severities) * 100 <= rule.share_above * group.assessed
    )
    mean_fails = rule.mean_below is not None and (
        group.mean_score is None or group.mean_score >= rule.mean_below
    )
    return not (share_fails or mean_fails)


def _flag(
    kb: KnowledgeBase,
    school: SchoolProfile,
    group: GroupProfile,
    rule: SchoolRule,
    others: Sequence[SchoolRule],
) -> SchoolFlag:
    counted = group.counted(rule.severities)
    # prevalence is in ontology order already; a stable sort keeps it for equal counts
    competencies = tuple(c for c, _ in sorted(group.prevalence, key=lambda item: -item[1]))
    return SchoolFlag(
        organization=school.organization,
        municipality=school.municipality,
        rule=rule.id,
        group=group.group,
        form=rule.form,
        competencies=competencies,
        assessed=group.assessed,
        counted=counted,
        share_pct=_pct(counted, group.assessed),
        mean_pct=group.mean_pct,
        reason=_reason(kb, group, rule, counted),
        also=tuple(r.id for r in others),
    )


def _reason(kb: KnowledgeBase, group: GroupProfile, rule: SchoolRule, counted: int) -> str:
    """Why a rule flagged a group, in Russian: each condition with its number and threshold."""
    known = kb.ontology.groups.get(group.group)
    title = known.title if known is not None else group.group
    parts: list[str] = []
    if rule.share_above is not None:
        share = _pct(counted, group.assessed) or 0.0
        kinds = ", ".join(SEVERITY_RU.get(s, s) for s in _ordered(rule.severities))
        which = f" ({kinds})" if kinds else ""
        parts.append(
            f"{_number(share, 1)} % педагогов ({counted} из {group.assessed}) "
            f"с дефицитом{which} по группе «{title}», порог {_number(rule.share_above)} %"
        )
    if rule.mean_below is not None and group.mean_pct is not None:
        parts.append(
            f"средний результат по группе «{title}» {_number(group.mean_pct, 1)} % "
            f"ниже порога {_number(rule.mean_below)} %"
        )
    return f"{'; '.join(parts)} (правило {rule.id})"


def _ordered(severities: Iterable[str]) -> list[str]:
    return sorted(set(severities), key=_rank)


def _number(value: float, decimals: int | None = None) -> str:
    """A number as Russian text writes it: ``42,0`` with ``decimals``, else ``40`` / ``40,5``."""
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:g}"
    return text.replace(".", ",")
