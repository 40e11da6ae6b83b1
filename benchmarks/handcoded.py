"""The shipped rule set (``rules/*.yaml``) written by hand as plain Python.

The baseline the cohort benchmark (``benchmarks/cohort.py``) compares the engine
with: the same 52 rules, no engine, one function over one profile's base facts
(the input the engine's inference and the columnar path start from too). It gives
what the engine's Result gives: per competency the most severe deficit with the
rule that derived it, the needs with the rule that first asserted each, and the
custom facts (``burnout_risk``, ``mentor_candidate``).

Which rule asserted a fact first follows the engine's agenda (docs/rules.md,
"Evaluation"): stratum 0 runs before stratum 1 (the rules with ``not: deficit``),
and in a stratum the rules fire by priority, then file order. In the shipped rules
every deficit rule (priority 65-100) and every ``burnout_risk`` rule (56-59) only
reads base facts or deficits, and every need rule has a lower priority, so by the
time the first need is asserted all deficits and risks are known: the first
asserter of a need is the first rule, in that order, whose conditions hold. This
module relies on that; if the rule files change, the benchmark's check (identical
deficits, needs and facts on the whole cohort) fails loudly.

Only ``benchmarks/`` uses it; it is not part of the package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["HandCoded", "Outcome", "as_outcome"]

# --- the vocabulary the rules name --------------------------------------------------

CRITICAL, HIGH, MODERATE, LOW = "critical", "high", "moderate", "low"
#: Severity -> rank, most severe first (deficit_engine.rules.SEVERITIES).
RANK = {CRITICAL: 0, HIGH: 1, MODERATE: 2, LOW: 3}
SEVERE = frozenset((CRITICAL, HIGH))
NOT_LOW = frozenset((CRITICAL, HIGH, MODERATE))

CLASSROOM = ("teacher", "educator", "additional_education_teacher")
MANAGERS = ("manager", "deputy_head")
MENTOR_CANDIDATE_ROLES = (*CLASSROOM, "methodist")
YOUNG_GROUPS = ("methodical", "psycho_pedagogical", "communicative")
PAIR_GROUPS = ("normative", "subject", "digital", "functional_literacy")

SAFETY, RIGHTS = "normative.safety", "normative.rights"
FIRST_AID = "normative.safety.first_aid"
MENTORING = "communicative.mentoring_skills"
SELF_REGULATION = "psycho_pedagogical.self_regulation"
CLIMATE, CONFLICT = "psycho_pedagogical.classroom_climate", "communicative.conflict"
TEAM_COMPETENCIES = ("management.team", "management.mentoring_system")
FORESIGHT_COMPETENCIES = ("management.strategy", "management.change")
PARTNERSHIP = "management.partnership"

#: A need's filters as the rule gives them, after ``kind`` and ``competency``.
Filters = tuple[tuple[str, Any], ...]
PROGRAM: Filters = (("education", "formal"),)


def fmt(name: str, education: str, phase: str) -> Filters:
    """A format need's filters, in the order the rule files write them."""
    return (("format", name), ("education", education), ("phase", phase))


def mentor(form: str) -> Filters:
    return (("form", form),)


SELF_EDUCATION = fmt("self_education", "informal", "learn")
REDIAGNOSIS = fmt("rediagnosis", "non_formal", "reflect")
SUPERVISION = fmt("supervision", "non_formal", "reflect")
EDUCATIONAL_EVENT = fmt("educational_event", "non_formal", "share")
NETWORK_COMMUNITY = fmt("network_community", "informal", "share")

# --- what it gives --------------------------------------------------------------------

#: (competency, group, severity, score_pct, rule), as a Deficit's fields.
DeficitRow = tuple[str, str | None, str, float | None, str]
#: (kind, competency, filters, rule), as a Need's fields.
NeedRow = tuple[str, str | None, Filters, str]


@dataclass(frozen=True)
class Outcome:
    """One person's deficits, needs and custom facts, each sorted (a canonical form
    in which the hand-coded rules and an engine Result compare)."""

    deficits: tuple[DeficitRow, ...]
    needs: tuple[NeedRow, ...]
    facts: tuple[tuple[tuple[str, Any], ...], ...]


def _key(row: tuple[Any, ...]) -> str:
    return repr(row)  # None and str side by side: repr orders them without a TypeError


def as_outcome(result: Any) -> Outcome:
    """An engine Result (deficits, needs, facts) in the canonical form of :class:`Outcome`."""
    deficits = tuple(
        (d.competency, d.group, d.severity, d.score_pct, d.rule) for d in result.deficits
    )
    needs = tuple((n.kind, n.competency, n.filters, n.rule) for n in result.needs)
    facts = tuple(tuple(f.items()) for f in result.facts)
    return Outcome(
        tuple(sorted(deficits, key=_key)),
        tuple(sorted(needs, key=_key)),
        tuple(sorted(facts, key=_key)),
    )


# --- the rules --------------------------------------------------------------------------


class _Person:
    """One profile's base facts read once into plain dicts and sets."""

    __slots__ = (
        "category",
        "first_aid_below_50",
        "group_level",
        "indicator_critical",
        "level",
        "pct",
        "requests",
        "role",
        "years",
    )

    def __init__(self, facts: Sequence[Mapping[str, Any]]) -> None:
        person = facts[0]
        self.role = person["role"]
        self.years = person["experience_years"]
        self.category = person.get("category")
        self.pct: dict[str, float] = {}
        self.level: dict[str, str] = {}
        self.group_level: dict[str, str] = {}
        self.indicator_critical: set[str] = set()
        self.first_aid_below_50 = False
        self.requests: list[str] = []
        for fact in facts[1:]:
            kind = fact["type"]
            if kind == "result":
                comp = fact["competency"]
                self.pct[comp] = fact["score_pct"]
                self.level[comp] = fact["level"]
            elif kind == "indicator_result":
                if fact["level"] == CRITICAL:
                    self.indicator_critical.add(fact["competency"])
                if fact["indicator"] == FIRST_AID and fact["score_pct"] < 50:
                    self.first_aid_below_50 = True
            elif kind == "group_result":
                self.group_level[fact["group"]] = fact["level"]
            elif kind == "request":
                self.requests.append(fact["competency"])


class HandCoded:
    """The shipped rules by hand, for one ontology's competency groups.

    Parameters
    ----------
    groups : Mapping of str to str
        Competency id -> its group id (``Ontology.group_of``).
    """

    def __init__(self, groups: Mapping[str, str]) -> None:
        self.groups = dict(groups)

    def run(self, facts: Sequence[Mapping[str, Any]]) -> Outcome:
        """Deficits, needs and custom facts of one profile, from its base facts.

        Parameters
        ----------
        facts : sequence of dict
            The profile's base facts (``deficit_engine.engine.base_facts``).

        Returns
        -------
        Outcome
            In the canonical form :func:`as_outcome` gives an engine Result.
        """
        p = _Person(facts)
        found = self._deficit_facts(p)
        risks = self._burnout(p, found)
        candidate = self._mentor_candidate(p, found)
        needs: dict[tuple[str, str | None, Filters], str] = {}
        self._needs_stratum0(p, found, risks, needs)
        self._needs_stratum1(p, found, candidate, needs)
        deficits = []
        for comp, severities in found.items():
            severity, rule = min(severities.items(), key=lambda item: RANK[item[0]])
            deficits.append((comp, self.groups.get(comp), severity, p.pct[comp], rule))
        facts_out = [(("type", "burnout_risk"), ("level", level)) for level in risks]
        if candidate:
            facts_out.append((("type", "mentor_candidate"), ("competency", MENTORING)))
        return Outcome(
            tuple(sorted(deficits, key=_key)),
            tuple(sorted(((*key, rule) for key, rule in needs.items()), key=_key)),
            tuple(sorted(facts_out, key=_key)),
        )

    def _deficit_facts(self, p: _Person) -> dict[str, dict[str, str]]:
        """Per competency, each deficit severity derived and the first rule deriving it
        (rules/10_deficits.yaml, tried in priority order)."""
        found: dict[str, dict[str, str]] = {}
        manager = p.role in MANAGERS
        for comp, pct in p.pct.items():
            level = p.level[comp]
            group = self.groups.get(comp)
            group_level = p.group_level.get(group) if group is not None else None
            derived: dict[str, str] = {}
            if level == CRITICAL:  # 100
                derived[CRITICAL] = "DEF-LEVEL-CRITICAL"
            elif level == LOW:  # 95
                derived[HIGH] = "DEF-LEVEL-LOW"
            elif level == "partial":  # 90
                derived[MODERATE] = "DEF-LEVEL-PARTIAL"
            if 30 <= pct < 75:
                if comp == SAFETY:  # 88
                    derived.setdefault(HIGH, "DEF-SAFETY-BELOW-75")
                elif comp == RIGHTS:  # 87
                    derived.setdefault(HIGH, "DEF-RIGHTS-BELOW-75")
            if comp == SAFETY and p.first_aid_below_50 and level != CRITICAL:  # 85
                derived.setdefault(HIGH, "DEF-INDICATOR-FIRST-AID")
            if level == "partial":
                if manager and group == "management":  # 82
                    derived.setdefault(HIGH, "DEF-MANAGER-MANAGEMENT-PARTIAL")
                if group_level == CRITICAL:  # 80
                    derived.setdefault(HIGH, "DEF-GROUP-CRITICAL-PARTIAL")
            if comp in p.indicator_critical and 50 <= pct <= 100:  # 75
                derived.setdefault(MODERATE, "DEF-INDICATOR-CRITICAL")
            if 75 <= pct < 85:
                if comp in p.requests:  # 70
                    derived.setdefault(LOW, "DEF-REQUEST-BORDERLINE")
                if group_level in (CRITICAL, LOW):  # 65
                    derived.setdefault(LOW, "DEF-GROUP-WEAK-BORDERLINE")
            if derived:
                found[comp] = derived
        return found

    @staticmethod
    def _burnout(p: _Person, found: Mapping[str, Mapping[str, str]]) -> list[str]:
        """The ``burnout_risk`` levels (rules/50_wellbeing.yaml), without repeats."""
        levels: list[str] = []
        pct = p.pct.get(SELF_REGULATION)
        if pct is not None and pct < 50:
            if p.years >= 15:
                levels.append(CRITICAL if pct < 30 else "elevated")
            elif pct < 30:
                levels.append("elevated")
        climate = SEVERE & found.get(CLIMATE, {}).keys()
        if climate and SEVERE & found.get(CONFLICT, {}).keys() and "elevated" not in levels:
            levels.append("elevated")
        return levels

    @staticmethod
    def _mentor_candidate(p: _Person, found: Mapping[str, Mapping[str, str]]) -> bool:
        """ROLE-MENTOR-CANDIDATE and -CATEGORY: a mentor candidate without a deficit there."""
        if MENTORING in found:
            return False
        by_role = (
            p.role in MENTOR_CANDIDATE_ROLES
            and p.years >= 5
            and p.level.get(MENTORING) == "proficient"
        )
        return by_role or p.category == "pedagogue_mentor"

    def _needs_stratum0(
        self,
        p: _Person,
        found: Mapping[str, Mapping[str, str]],
        risks: Sequence[str],
        needs: dict[tuple[str, str | None, Filters], str],
    ) -> None:
        """The needs of the rules without ``not: deficit``, in firing order."""
        groups = self.groups
        young = p.years < 3
        classroom = p.role in CLASSROOM
        manager = p.role in MANAGERS

        def add(kind: str, comp: str | None, filters: Filters, rule: str) -> None:
            needs.setdefault((kind, comp, filters), rule)

        # priority 50 .. 42, per competency with a deficit or a request
        for comp, severities in found.items():
            group = groups.get(comp)
            if classroom and young and group in YOUNG_GROUPS:
                add("mentor", comp, mentor("young_specialist"), "ROLE-YOUNG-MENTOR")
            if manager and group == "management":
                add("mentor", comp, mentor("management"), "ROLE-MANAGER-MENTOR")
            if SEVERE & severities.keys():
                add("program", comp, PROGRAM, "EDU-SEVERE-PROGRAM")
            if manager and comp in TEAM_COMPETENCIES:
                add("mentor", comp, mentor("team"), "ROLE-MANAGER-TEAM")
            if classroom and young and group in PAIR_GROUPS and SEVERE & severities.keys():
                add("mentor", comp, mentor("competency_pair"), "ROLE-YOUNG-SUBJECT-PAIR")
            if p.years >= 3 and group != "management" and CRITICAL in severities:
                add("mentor", comp, mentor("competency_pair"), "ROLE-EXPERIENCED-PAIR")
            if classroom and p.years >= 3 and group == "subject" and HIGH in severities:
                add("mentor", comp, mentor("teacher_teacher"), "ROLE-SUBJECT-PEER-PAIR")
            if CRITICAL in severities:
                add(
                    "format",
                    comp,
                    fmt("internship", "non_formal", "practice"),
                    "EDU-SEVERE-INTERNSHIP",
                )
        for comp in p.requests:
            if comp not in p.pct:
                add("format", comp, SELF_EDUCATION, "REQ-NO-RESULT-SELF-EDUCATION")
                add("program", comp, PROGRAM, "REQ-NO-RESULT-PROGRAM")
                if p.role == "teacher" and young and groups.get(comp) in YOUNG_GROUPS:
                    add("mentor", comp, mentor("young_specialist"), "REQ-YOUNG-NO-RESULT-MENTOR")
            elif MODERATE in found.get(comp, {}):
                add("program", comp, PROGRAM, "REQ-MODERATE-PROGRAM")
        # priority 32 .. 29
        for comp in found:
            group = groups.get(comp)
            if p.role == "methodist":
                add("format", comp, fmt("seminar", "non_formal", "learn"), "ROLE-METHODIST-SEMINAR")
            if p.role == "psychologist" and group == "psycho_pedagogical":
                add("format", comp, SUPERVISION, "ROLE-PSYCHOLOGIST-SUPERVISION")
            if manager and comp in FORESIGHT_COMPETENCIES:
                add(
                    "format",
                    comp,
                    fmt("foresight_session", "non_formal", "reflect"),
                    "ROLE-MANAGER-FORESIGHT",
                )
            if manager and comp == PARTNERSHIP:
                add(
                    "format",
                    comp,
                    fmt("communication_platform", "non_formal", "share"),
                    "ROLE-MANAGER-PARTNERSHIP",
                )
        # priority 27 .. 25: burnout
        if risks:
            add(
                "format",
                SELF_REGULATION,
                fmt("burnout_prevention", "non_formal", "practice"),
                "WB-BURNOUT-PREVENTION",
            )
            add("format", SELF_REGULATION, SUPERVISION, "WB-BURNOUT-SUPERVISION")
            if CRITICAL in risks:
                add("mentor", SELF_REGULATION, mentor("group"), "WB-BURNOUT-CRITICAL-GROUP-MENTOR")
        # priority 0 .. -12: follow-up
        digital = sum(
            1 for c, s in found.items() if groups.get(c) == "digital" and NOT_LOW & s.keys()
        )
        if digital >= 2:
            add("format", None, fmt("intensive", "formal", "learn"), "FU-DIGITAL-INTENSIVE")
        management = sum(1 for c in found if groups.get(c) == "management")
        if manager and management >= 2:
            add(
                "format",
                None,
                fmt("project_session", "non_formal", "practice"),
                "FU-MANAGEMENT-PROJECT-SESSION",
            )
        if CRITICAL in p.group_level.values():
            add(
                "format", None, fmt("focus_group", "informal", "reflect"), "FU-GROUP-CRITICAL-FOCUS"
            )
        for comp, severities in found.items():
            if NOT_LOW & severities.keys():
                add("format", comp, REDIAGNOSIS, "FU-REDIAGNOSIS-DEFICIT")
        if risks:
            add("format", SELF_REGULATION, REDIAGNOSIS, "FU-BURNOUT-REDIAGNOSIS")

    def _needs_stratum1(
        self,
        p: _Person,
        found: Mapping[str, Mapping[str, str]],
        candidate: bool,
        needs: dict[tuple[str, str | None, Filters], str],
    ) -> None:
        """The needs of the rules with ``not: deficit`` (and those chained on them),
        once every deficit is known, in firing order."""

        def add(kind: str, comp: str | None, filters: Filters, rule: str) -> None:
            needs.setdefault((kind, comp, filters), rule)

        # priority 38 .. 28: the mildest deficit decides the format
        for comp, severities in found.items():
            if SEVERE & severities.keys():
                continue
            if MODERATE in severities:
                add(
                    "format",
                    comp,
                    fmt("master_class", "non_formal", "practice"),
                    "EDU-MODERATE-MASTER-CLASS",
                )
                add(
                    "format",
                    comp,
                    fmt("horizontal_learning", "informal", "share"),
                    "EDU-MODERATE-HORIZONTAL",
                )
            elif LOW in severities:
                add("format", comp, SELF_EDUCATION, "EDU-LOW-SELF-EDUCATION")
                if self.groups.get(comp) != "management":
                    add(
                        "format",
                        comp,
                        fmt("lesson_visits", "informal", "practice"),
                        "EDU-LOW-LESSON-VISITS",
                    )
        # priority 23 .. 19: sharing a proficient competency without a deficit
        proficient = [c for c, level in p.level.items() if level == "proficient" and c not in found]
        if p.category == "pedagogue_methodist":
            for comp in proficient:
                add("format", comp, EDUCATIONAL_EVENT, "ROLE-CATEGORY-METHODIST-EVENT")
        if p.role == "methodist":
            for comp in proficient:
                add("format", comp, NETWORK_COMMUNITY, "ROLE-METHODIST-COMMUNITY")
            for comp in proficient:
                add(
                    "format",
                    comp,
                    fmt("project_session", "non_formal", "practice"),
                    "ROLE-METHODIST-PROJECT",
                )
        shared = [c for c in p.requests if p.level.get(c) == "proficient" and c not in found]
        for comp in shared:
            add("format", comp, NETWORK_COMMUNITY, "REQ-SHARE-COMMUNITY")
        for comp in shared:
            add("format", comp, EDUCATIONAL_EVENT, "REQ-SHARE-EVENT")
        if candidate:  # 18
            add("format", MENTORING, fmt("club", "informal", "share"), "ROLE-MENTOR-CANDIDATE-CLUB")
        # -10: every programme asked for is followed by a re-diagnosis
        for kind, asked, _filters in list(needs):
            if kind == "program":
                add("format", asked, REDIAGNOSIS, "FU-REDIAGNOSIS-PROGRAM")
