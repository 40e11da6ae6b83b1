"""The shipped rule set (``rules/*.yaml``, all 52 rules) written by hand as numpy.

The baseline ``benchmarks/columnar.py`` compares the columnar diagnose stage with: no
engine, each rule one or two numpy expressions over dense per-competency matrices
(score, level, requests) and per-person vectors (role, experience, category). It
gives, per person, every deficit severity that holds per competency, every need and
every custom fact, as boolean matrices; :func:`outcomes` turns them into per-person
sets (outside the timed part) so the benchmark can check them against the engine's
Results before it prints a figure. :func:`from_tables` runs it at the columnar
stage's boundary: the stage's base-fact tables in, every derived fact located out
(:func:`located`). It does not say which rule asserted a fact first (the columnar
stage does): that is the one thing it leaves out.

Only ``benchmarks/`` uses it; it is not part of the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from deficit_engine.inference.columnar import BaseColumns
from deficit_engine.kb import KnowledgeBase
from deficit_engine.models import Fact

Matrix = npt.NDArray[Any]
LEVELS = ("critical", "low", "partial", "proficient")
SEVERITIES = ("critical", "high", "moderate", "low")
CLASSROOM = ("teacher", "educator", "additional_education_teacher")
MANAGERS = ("manager", "deputy_head")
YOUNG_GROUPS = ("methodical", "psycho_pedagogical", "communicative")
PAIR_GROUPS = ("normative", "subject", "digital", "functional_literacy")

#: need variant -> (kind, filters): what each need matrix stands for.
NEEDS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "program": ("program", (("education", "formal"),)),
    "self_education": (
        "format",
        (("format", "self_education"), ("education", "informal"), ("phase", "learn")),
    ),
    "young_specialist": ("mentor", (("form", "young_specialist"),)),
    "competency_pair": ("mentor", (("form", "competency_pair"),)),
    "teacher_teacher": ("mentor", (("form", "teacher_teacher"),)),
    "management": ("mentor", (("form", "management"),)),
    "team": ("mentor", (("form", "team"),)),
    "group_mentor": ("mentor", (("form", "group"),)),
    "foresight": (
        "format",
        (("format", "foresight_session"), ("education", "non_formal"), ("phase", "reflect")),
    ),
    "platform": (
        "format",
        (("format", "communication_platform"), ("education", "non_formal"), ("phase", "share")),
    ),
    "seminar": ("format", (("format", "seminar"), ("education", "non_formal"), ("phase", "learn"))),
    "supervision": (
        "format",
        (("format", "supervision"), ("education", "non_formal"), ("phase", "reflect")),
    ),
    "internship": (
        "format",
        (("format", "internship"), ("education", "non_formal"), ("phase", "practice")),
    ),
    "master_class": (
        "format",
        (("format", "master_class"), ("education", "non_formal"), ("phase", "practice")),
    ),
    "horizontal": (
        "format",
        (("format", "horizontal_learning"), ("education", "informal"), ("phase", "share")),
    ),
    "lesson_visits": (
        "format",
        (("format", "lesson_visits"), ("education", "informal"), ("phase", "practice")),
    ),
    "community": (
        "format",
        (("format", "network_community"), ("education", "informal"), ("phase", "share")),
    ),
    "event": (
        "format",
        (("format", "educational_event"), ("education", "non_formal"), ("phase", "share")),
    ),
    "project": (
        "format",
        (("format", "project_session"), ("education", "non_formal"), ("phase", "practice")),
    ),
    "club": ("format", (("format", "club"), ("education", "informal"), ("phase", "share"))),
    "prevention": (
        "format",
        (("format", "burnout_prevention"), ("education", "non_formal"), ("phase", "practice")),
    ),
    "rediagnosis": (
        "format",
        (("format", "rediagnosis"), ("education", "non_formal"), ("phase", "reflect")),
    ),
    # without a competency: one per person
    "intensive": ("format", (("format", "intensive"), ("education", "formal"), ("phase", "learn"))),
    "project_team": (
        "format",
        (("format", "project_session"), ("education", "non_formal"), ("phase", "practice")),
    ),
    "focus_group": (
        "format",
        (("format", "focus_group"), ("education", "informal"), ("phase", "reflect")),
    ),
}
PER_PERSON = ("intensive", "project_team", "focus_group")
FIRST_AID = "normative.safety.first_aid"


class Inputs:
    """A cohort's base facts as dense matrices: what the hand-coded rules start from.

    Made from the fact dicts (``Inputs(kb, cohort)``) or from the columnar path's
    base-fact tables (:meth:`from_tables`, the stage's own input): the same matrices.
    """

    def __init__(self, kb: KnowledgeBase, cohort: Sequence[Sequence[Fact]]) -> None:
        self._empty(kb, len(cohort))
        col, gcol = self.col, {g: i for i, g in enumerate(self.groups)}
        level_code = {name: i for i, name in enumerate(LEVELS)}
        for p, facts in enumerate(cohort):
            for f in facts:
                t = f["type"]
                if t == "result":
                    self.score[p, col[f["competency"]]] = f["score_pct"]
                    self.level[p, col[f["competency"]]] = level_code[f["level"]]
                elif t == "group_result":
                    self.group_level[p, gcol[f["group"]]] = level_code[f["level"]]
                elif t == "indicator_result":
                    if f["level"] == "critical":
                        self.indicator_critical[p, col[f["competency"]]] = True
                    if f["indicator"] == FIRST_AID and f["score_pct"] < 50:
                        self.first_aid_below_50[p] = True
                elif t == "request":
                    self.request[p, col[f["competency"]]] = True
                elif t == "person":
                    self.role[p] = f["role"]
                    self.category[p] = f.get("category")
                    self.years[p] = f["experience_years"]

    def _empty(self, kb: KnowledgeBase, n: int) -> None:
        """The axes, and every matrix as it is for a profile without facts."""
        onto = kb.ontology
        self.comps = list(onto.competencies)
        self.groups = sorted({onto.group_of(c) for c in self.comps})
        self.col = {c: i for i, c in enumerate(self.comps)}
        gcol = {g: i for i, g in enumerate(self.groups)}
        self.comp_group = np.array([gcol[onto.group_of(x)] for x in self.comps])
        self.group_names = np.array([onto.group_of(x) for x in self.comps], dtype=object)
        c = len(self.comps)
        self.score = np.full((n, c), np.nan)
        self.level = np.full((n, c), -1, dtype=np.int8)
        self.group_level = np.full((n, len(self.groups)), -1, dtype=np.int8)
        self.indicator_critical = np.zeros((n, c), dtype=bool)
        self.first_aid_below_50 = np.zeros(n, dtype=bool)
        self.request = np.zeros((n, c), dtype=bool)
        self.role = np.empty(n, dtype=object)
        self.category = np.empty(n, dtype=object)
        self.years = np.zeros(n)

    @classmethod
    def from_tables(cls, kb: KnowledgeBase, base: BaseColumns) -> Inputs:
        """The same matrices from the columnar stage's input, the base-fact tables: one
        scatter per field (string codes mapped to axis places by lookup arrays), as a
        hand-written numpy pipeline reading that input would do."""
        d = cls.__new__(cls)
        d._empty(kb, base.n)
        strings = base.strings
        names = np.array([*strings.names, None], dtype=object)  # code -1: None

        def places(axis: Sequence[str]) -> Matrix:
            """String code -> place on ``axis`` (-1: not on it; the last: code -1)."""
            at = np.full(len(names), -1, dtype=np.int64)
            for i, text in enumerate(axis):
                if text in strings.codes:
                    at[strings.codes[text]] = i
            return at

        comp_at, group_at, level_at = places(d.comps), places(d.groups), places(LEVELS)
        tables = base.tables
        result = tables["result"]
        pid, c = result.pid, comp_at[result.columns["competency"].values]
        d.score[pid, c] = result.columns["score_pct"].values
        d.level[pid, c] = level_at[result.columns["level"].values]
        group = tables["group_result"]
        gl = level_at[group.columns["level"].values]
        d.group_level[group.pid, group_at[group.columns["group"].values]] = gl
        ind = tables["indicator_result"]
        critical = ind.columns["level"].values == strings.codes.get("critical", -2)
        at = comp_at[ind.columns["competency"].values]
        d.indicator_critical[ind.pid[critical], at[critical]] = True
        aid = ind.columns["indicator"].values == strings.codes.get(FIRST_AID, -2)
        d.first_aid_below_50[ind.pid[aid & (ind.columns["score_pct"].values < 50)]] = True
        request = tables["request"]
        d.request[request.pid, comp_at[request.columns["competency"].values]] = True
        person = tables["person"]
        role, category = person.columns["role"], person.columns["category"]
        d.role[person.pid] = names[np.where(role.present, role.values, -1)]
        d.category[person.pid] = names[np.where(category.present, category.values, -1)]
        d.years[person.pid] = person.columns["experience_years"].values
        return d

    def same_as(self, other: Inputs) -> bool:
        """Whether two Inputs hold the same matrices (NaN equal to NaN)."""
        return all(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
            for a, b in (
                (self.score, other.score),
                (self.level, other.level),
                (self.group_level, other.group_level),
                (self.indicator_critical, other.indicator_critical),
                (self.first_aid_below_50, other.first_aid_below_50),
                (self.request, other.request),
                (self.role, other.role),
                (self.category, other.category),
                (self.years, other.years),
            )
        )


def derive(d: Inputs) -> tuple[dict[str, Matrix], dict[str, Matrix], dict[str, Matrix]]:
    """Every rule, by hand: deficits per severity, needs per variant, custom facts.

    Returns
    -------
    tuple
        (severity -> [person x competency], need variant -> [person x competency] or
        [person], custom fact -> matrix), every fact the rules derive.
    """
    s, lv, col = d.score, d.level, d.col
    has = lv >= 0
    crit, low, part, prof = lv == 0, lv == 1, lv == 2, lv == 3
    with np.errstate(invalid="ignore"):
        s30_75, s75_85 = (s >= 30) & (s < 75), (s >= 75) & (s < 85)
        s50_100 = (s >= 50) & (s <= 100)
    glv = d.group_level[:, d.comp_group]
    role = d.role
    manager = np.isin(role, MANAGERS)
    classroom = np.isin(role, CLASSROOM)
    methodist, psychologist = role == "methodist", role == "psychologist"
    young, years3, years5 = d.years < 3, d.years >= 3, d.years >= 5
    group = d.group_names
    mgmt = group == "management"

    def at(name: str) -> Matrix:
        column = np.zeros(len(d.comps), dtype=bool)
        column[col[name]] = True
        return column

    safety, rights = at("normative.safety"), at("normative.rights")
    # deficits: 10_deficits.yaml
    d_crit = crit.copy()
    d_high = low | ((safety | rights) & s30_75) | (part & manager[:, None] & mgmt)
    d_high |= safety & (d.first_aid_below_50[:, None] & has & ~crit)
    d_high |= (glv == 0) & part
    d_mod = part | (d.indicator_critical & s50_100)
    d_low = ((glv == 0) | (glv == 1)) & s75_85 | (d.request & s75_85)
    severe = d_crit | d_high
    d_any = severe | d_mod | d_low
    not_low = severe | d_mod
    no_result = d.request & ~has
    needs: dict[str, Matrix] = {}
    # 20_requests.yaml, 40_education.yaml
    needs["program"] = no_result | (d.request & d_mod) | severe
    needs["self_education"] = no_result | (d_low & ~not_low)
    young_groups = np.isin(group, YOUNG_GROUPS)
    needs["young_specialist"] = (
        ((role == "teacher") & young)[:, None] & no_result & young_groups
    ) | ((classroom & young)[:, None] & d_any & young_groups)
    share = prof & ~d_any
    needs["community"] = (d.request | methodist[:, None]) & share
    needs["event"] = (d.request | (d.category == "pedagogue_methodist")[:, None]) & share
    # 30_roles.yaml
    pair = ((classroom & young)[:, None] & severe & np.isin(group, PAIR_GROUPS)) | (
        years3[:, None] & d_crit & ~mgmt
    )
    needs["competency_pair"] = pair
    needs["teacher_teacher"] = (classroom & years3)[:, None] & d_high & (group == "subject")
    mentoring = at("communicative.mentoring_skills")
    no_mentoring_deficit = ~(d_any & mentoring).any(axis=1)
    candidate_roles = classroom | methodist
    candidate = ((candidate_roles & years5)[:, None] & prof & mentoring) & no_mentoring_deficit[
        :, None
    ]
    candidate |= mentoring & ((d.category == "pedagogue_mentor") & no_mentoring_deficit)[:, None]
    needs["club"] = candidate
    needs["management"] = manager[:, None] & d_any & mgmt
    needs["team"] = (
        manager[:, None] & d_any & (at("management.team") | at("management.mentoring_system"))
    )
    needs["foresight"] = (
        manager[:, None] & d_any & (at("management.strategy") | at("management.change"))
    )
    needs["platform"] = manager[:, None] & d_any & at("management.partnership")
    needs["project"] = methodist[:, None] & share
    needs["seminar"] = methodist[:, None] & d_any
    # 50_wellbeing.yaml
    self_reg = at("psycho_pedagogical.self_regulation")
    sr = s[:, col["psycho_pedagogical.self_regulation"]]
    with np.errstate(invalid="ignore"):
        risk_critical = (d.years >= 15) & (sr < 30)
        risk_elevated = ((d.years >= 15) & (sr >= 30) & (sr < 50)) | ((d.years < 15) & (sr < 30))
    climate = severe[:, col["psycho_pedagogical.classroom_climate"]]
    risk_elevated |= climate & severe[:, col["communicative.conflict"]]
    risk = (risk_critical | risk_elevated)[:, None] & self_reg
    needs["supervision"] = (psychologist[:, None] & d_any & (group == "psycho_pedagogical")) | risk
    needs["prevention"] = risk
    needs["group_mentor"] = risk_critical[:, None] & self_reg
    needs["internship"] = d_crit
    needs["master_class"] = d_mod & ~severe
    needs["horizontal"] = d_mod & ~severe
    needs["lesson_visits"] = d_low & ~mgmt & ~not_low
    # 60_followup.yaml
    needs["rediagnosis"] = not_low | risk | needs["program"]
    needs["intensive"] = (not_low & (group == "digital")).sum(axis=1) >= 2
    needs["project_team"] = manager & ((d_any & mgmt).sum(axis=1) >= 2)
    needs["focus_group"] = (d.group_level == 0).any(axis=1)
    deficits = {"critical": d_crit, "high": d_high, "moderate": d_mod, "low": d_low}
    facts = {"mentor_candidate": candidate, "critical": risk_critical, "elevated": risk_elevated}
    return deficits, needs, facts


Outcome = tuple[frozenset[tuple[str, str]], frozenset[Any], frozenset[Any]]


def outcomes(d: Inputs, derived: tuple[dict[str, Matrix], ...]) -> list[Outcome]:
    """Per person: (competency, most severe deficit), needs, custom facts, as sets."""
    deficits, needs, facts = derived
    n = len(d.years)
    best: list[dict[str, str]] = [{} for _ in range(n)]
    for severity in reversed(SEVERITIES):  # most severe written last, so it stays
        for p, c in zip(*np.nonzero(deficits[severity]), strict=True):
            best[p][d.comps[c]] = severity
    found: list[set[Any]] = [set() for _ in range(n)]
    for name, matrix in needs.items():
        kind, filters = NEEDS[name]
        if name in PER_PERSON:
            for p in np.flatnonzero(matrix):
                found[p].add((kind, None, filters))
        else:
            for p, c in zip(*np.nonzero(matrix), strict=True):
                found[p].add((kind, d.comps[c], filters))
    custom: list[set[Any]] = [set() for _ in range(n)]
    for p, c in zip(*np.nonzero(facts["mentor_candidate"]), strict=True):
        custom[p].add((("type", "mentor_candidate"), ("competency", d.comps[c])))
    for level in ("critical", "elevated"):
        for p in np.flatnonzero(facts[level]):
            custom[p].add((("type", "burnout_risk"), ("level", level)))
    return [
        (frozenset(best[p].items()), frozenset(found[p]), frozenset(custom[p])) for p in range(n)
    ]


def outcome_of(result: Any) -> Outcome:
    """An engine Result in the form of :func:`outcomes` (rules left out)."""
    deficits = frozenset((x.competency, x.severity) for x in result.deficits)
    needs = frozenset((x.kind, x.competency, x.filters) for x in result.needs)
    facts = frozenset(tuple(f.items()) for f in result.facts)
    return deficits, needs, facts


#: One derived fact kind located: its name, each fact's profile, its competency's
#: place (None: a per-person fact) and, for deficits, its score.
Located = tuple[str, Matrix, Matrix | None, Matrix | None]


def located(d: Inputs, derived: tuple[dict[str, Matrix], ...]) -> list[Located]:
    """Every derived fact located, as the columnar stage's FactBlocks locate them:
    per deficit severity (of each competency only the most severe, with its score),
    need variant and custom fact, each fact's profile and competency place.

    This is the hand-coded rules' output at the stage's boundary: the stage's blocks
    hold the same facts, and besides name the rule that asserted each first.
    """
    deficits, needs, facts = derived
    width = len(d.comps)
    out: list[Located] = []
    seen: Matrix | None = None
    for severity in SEVERITIES:  # most severe first: each cell kept once
        held = deficits[severity]
        kept = held if seen is None else held > seen  # held and not seen
        seen = held if seen is None else seen | held
        flat = np.flatnonzero(kept)
        pid, place = np.divmod(flat, width)
        out.append((severity, pid, place, d.score.reshape(-1)[flat]))
    for name, matrix in (*needs.items(), *facts.items()):
        if matrix.ndim == 1:
            out.append((name, np.flatnonzero(matrix), None, None))
        else:
            pid, place = np.divmod(np.flatnonzero(matrix), width)
            out.append((name, pid, place, None))
    return out


def from_tables(kb: KnowledgeBase, base: BaseColumns) -> list[Located]:
    """The hand-coded rules at the stage's boundary: the base-fact tables in, every
    derived fact located out."""
    d = Inputs.from_tables(kb, base)
    return located(d, derive(d))
