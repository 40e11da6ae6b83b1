"""School profiles and school rules (issue 11, part 3): hand-made cohorts on the shipped KB.

Every person here is synthetic. Results come from ``Engine.evaluate`` on the shipped
KB (a methodical score of 40 % is a «выраженный» deficit, 60 % a «умеренный» one,
20 % a «критический» one, 90 % none), or are built by hand where a case needs it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from deficit_engine import Engine
from deficit_engine.kb import KnowledgeBase
from deficit_engine.models import Result
from deficit_engine.models.diagnosis import Deficit, Scores
from deficit_engine.planner.schools import (
    SchoolFlag,
    SchoolProfile,
    flag_schools,
    school_profiles,
)
from deficit_engine.schema import PlanningFile, Profile, SchoolRule

LESSON = "methodical.lesson_design"
ASSESSMENT = "methodical.assessment"
EIOS = "digital.eios"

Person = tuple[Profile, Result]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


def _profile(
    pid: str,
    org: str | None,
    scores: Mapping[str, float],
    municipality: str | None = "Анучинский МО",
    name: str | None = None,
) -> Profile:
    person: dict[str, Any] = {"role": "teacher", "experience_years": 10}
    if org is not None:
        person["organization"] = org
    if municipality is not None:
        person["municipality"] = municipality
    if name is not None:
        person["name"] = name
    results = [{"competency": c, "score": s} for c, s in scores.items()]
    return Profile.model_validate({"id": pid, "person": person, "results": results})


def _person(
    engine: Engine, pid: str, org: str | None, scores: Mapping[str, float], **kw: Any
) -> Person:
    profile = _profile(pid, org, scores, **kw)
    return profile, engine.evaluate(profile)


def _school(engine: Engine, org: str, methodical: Sequence[float], **kw: Any) -> list[Person]:
    """A school whose staff have these methodical scores (lesson design only)."""
    return [
        _person(engine, f"{org}-{i}", org, {LESSON: score}, **kw)
        for i, score in enumerate(methodical)
    ]


def _kb(engine: Engine, *rules: dict[str, Any]) -> KnowledgeBase:
    school_rules = [
        SchoolRule.model_validate({"title": "t", "source": "s", **rule}) for rule in rules
    ]
    return dataclasses.replace(engine.kb, planning=PlanningFile(school_rules=school_rules))


def _flags(kb: KnowledgeBase, people: Iterable[Person]) -> tuple[SchoolFlag, ...]:
    return flag_schools(kb, school_profiles(kb, people))


def _only(schools: Sequence[SchoolProfile], org: str) -> SchoolProfile:
    (school,) = [s for s in schools if s.organization == org]
    return school


# --- the diagnoses the cohorts rest on -------------------------------------------------


def test_the_scores_give_the_deficits_the_cohorts_assume(engine: Engine) -> None:
    expected = {20: "critical", 40: "high", 60: "moderate", 90: None}
    for score, severity in expected.items():
        _, result = _person(engine, "x", "A", {LESSON: score})
        found = result.deficit(LESSON)
        assert (found.severity if found else None) == severity, score


# --- school profiles -------------------------------------------------------------------


def test_a_school_profile_counts_its_staff_per_group(engine: Engine) -> None:
    people = _school(engine, "Школа А", [40, 40, 20, 90, 90])
    (school,) = school_profiles(engine.kb, people)
    assert (school.organization, school.municipality, school.staff) == (
        "Школа А",
        "Анучинский МО",
        5,
    )
    group = school.group("methodical")
    assert group is not None
    assert (group.assessed, group.with_deficit, group.share_pct) == (5, 3, 60.0)
    assert group.mean_pct == pytest.approx((40 + 40 + 20 + 90 + 90) / 5)
    assert dict(group.by_severity) == {"critical": 1, "high": 2, "moderate": 0, "low": 0}
    assert dict(group.prevalence) == {LESSON: 3}
    # nobody had a digital score: the group is not in the profile
    assert school.group("digital") is None


def test_groups_come_in_ontology_order(engine: Engine) -> None:
    people = [_person(engine, "a", "A", {EIOS: 40, LESSON: 40, "normative.fgos": 40})]
    (school,) = school_profiles(engine.kb, people)
    ontology_order = [g for g in engine.kb.ontology.groups]
    ids = [g.group for g in school.groups]
    assert ids == sorted(ids, key=ontology_order.index) and set(ids) == {
        "normative",
        "methodical",
        "digital",
    }


def test_prevalence_counts_people_per_competency(engine: Engine) -> None:
    people = [
        _person(engine, "a", "A", {LESSON: 40, ASSESSMENT: 40}),
        _person(engine, "b", "A", {LESSON: 90, ASSESSMENT: 40}),
        _person(engine, "c", "A", {LESSON: 90, ASSESSMENT: 90}),
    ]
    (school,) = school_profiles(engine.kb, people)
    group = school.group("methodical")
    assert group is not None
    assert dict(group.prevalence) == {LESSON: 1, ASSESSMENT: 2}
    assert group.with_deficit == 2  # a person with two deficits in the group counts once


def test_a_person_counts_under_their_most_severe_deficit_in_the_group(engine: Engine) -> None:
    people = [_person(engine, "a", "A", {LESSON: 20, ASSESSMENT: 60})]
    (school,) = school_profiles(engine.kb, people)
    group = school.group("methodical")
    assert group is not None
    assert dict(group.by_severity)["critical"] == 1 and group.with_deficit == 1


def test_people_without_an_organisation_and_failed_results_are_left_out(engine: Engine) -> None:
    people = [
        *_school(engine, "A", [40, 90]),
        _person(engine, "loner", None, {LESSON: 40}),
        (_profile("broken", "A", {LESSON: 40}), Result.failed("broken", ["bad row"])),
    ]
    (school,) = school_profiles(engine.kb, people)
    assert school.staff == 2
    group = school.group("methodical")
    assert group is not None and (group.assessed, group.with_deficit) == (2, 1)


def test_schools_come_by_name_and_the_municipality_is_the_most_common(engine: Engine) -> None:
    people = [
        _person(engine, "b1", "Школа Б", {LESSON: 90}, municipality="Спасский МО"),
        _person(engine, "a1", "Школа А", {LESSON: 90}, municipality="Спасский МО"),
        _person(engine, "a2", "Школа А", {LESSON: 90}, municipality="Анучинский МО"),
        _person(engine, "a3", "Школа А", {LESSON: 90}, municipality="Спасский МО"),
        _person(engine, "a4", "Школа А", {LESSON: 90}, municipality=None),
    ]
    schools = school_profiles(engine.kb, people)
    assert [s.organization for s in schools] == ["Школа А", "Школа Б"]
    assert schools[0].municipality == "Спасский МО" and schools[0].staff == 4
    # a tie goes to the first by name, whatever the input order
    tie = [
        _person(engine, "c1", "Школа В", {LESSON: 90}, municipality="Спасский МО"),
        _person(engine, "c2", "Школа В", {LESSON: 90}, municipality="Анучинский МО"),
    ]
    for order in (tie, tie[::-1]):
        assert school_profiles(engine.kb, order)[0].municipality == "Анучинский МО"
    no_municipality = _person(engine, "d1", "Школа Г", {LESSON: 90}, municipality=None)
    assert school_profiles(engine.kb, [no_municipality])[0].municipality is None


def test_a_deficit_where_the_person_was_not_assessed_is_not_counted(engine: Engine) -> None:
    # a Result put together by hand: a digital deficit but only a methodical score
    scores = Scores({LESSON: 40.0}, {"methodical": 40.0}, {}, {})
    deficits = (
        Deficit(LESSON, "methodical", "high", 40.0, "R1"),
        Deficit(EIOS, "digital", "high", None, "R2"),
        Deficit("unknown.comp", None, "high", None, "R3"),
    )
    result = Result("p", deficits, (), (), (), scores=scores)
    (school,) = school_profiles(engine.kb, [(_profile("p", "A", {LESSON: 40}), result)])
    assert [g.group for g in school.groups] == ["methodical"]
    unscored = Result("q", deficits, (), (), ())  # no scores at all: assessed nowhere
    (school,) = school_profiles(engine.kb, [(_profile("q", "B", {}), unscored)])
    assert school.staff == 1 and school.groups == ()


# --- school rules ----------------------------------------------------------------------

SHARE_40 = {"id": "SCH-SHARE", "groups": ["methodical"], "share_above": 40}


def test_three_of_five_with_a_methodical_deficit_flags_the_school(engine: Engine) -> None:
    kb = _kb(engine, SHARE_40)
    people = [
        *_school(engine, "Школа А", [40, 40, 60, 90, 90]),
        *_school(engine, "Школа Б", [40, 40, 90, 90, 90]),
    ]
    (flag,) = _flags(kb, people)
    assert (flag.organization, flag.group, flag.rule, flag.form) == (
        "Школа А",
        "methodical",
        "SCH-SHARE",
        "team",
    )
    assert (flag.counted, flag.assessed, flag.share_pct) == (3, 5, 60.0)
    assert flag.competencies == (LESSON,)
    assert flag.also == ()


def test_two_of_five_is_not_above_forty_percent(engine: Engine) -> None:
    kb = _kb(engine, SHARE_40)
    assert _flags(kb, _school(engine, "Школа Б", [40, 40, 90, 90, 90])) == ()


def test_min_staff_is_respected(engine: Engine) -> None:
    people = _school(engine, "Школа А", [40, 40, 60, 90, 90])
    assert _flags(_kb(engine, {**SHARE_40, "min_staff": 6}), people) == ()
    assert len(_flags(_kb(engine, {**SHARE_40, "min_staff": 5}), people)) == 1
    # the count is of staff assessed in the group, not of all staff
    unassessed = [_person(engine, f"d{i}", "Школа А", {EIOS: 90}) for i in range(3)]
    assert _flags(_kb(engine, {**SHARE_40, "min_staff": 6}), people + unassessed) == ()


def test_the_severities_filter_counts_only_those_deficits(engine: Engine) -> None:
    # three moderate deficits and one high of five
    people = _school(engine, "Школа А", [60, 60, 60, 40, 90])
    severe = {**SHARE_40, "severities": ["critical", "high"]}
    assert _flags(_kb(engine, severe), people) == ()
    (flag,) = _flags(_kb(engine, {**SHARE_40, "severities": ["moderate"]}), people)
    assert (flag.counted, flag.share_pct) == (3, 60.0)
    (flag,) = _flags(_kb(engine, SHARE_40), people)
    assert flag.counted == 4


def test_mean_below_is_strict(engine: Engine) -> None:
    people = _school(engine, "Школа А", [40, 50, 60, 70, 80])  # mean 60
    (flag,) = _flags(_kb(engine, {"id": "SCH-MEAN", "mean_below": 60.5}), people)
    assert flag.mean_pct == 60.0 and flag.group == "methodical"
    assert _flags(_kb(engine, {"id": "SCH-MEAN", "mean_below": 60}), people) == ()


def test_every_condition_given_must_hold(engine: Engine) -> None:
    people = _school(engine, "Школа А", [40, 40, 60, 90, 90])  # share 60, mean 64
    both = {**SHARE_40, "mean_below": 64.5}
    assert len(_flags(_kb(engine, both), people)) == 1
    assert _flags(_kb(engine, {**both, "mean_below": 50}), people) == ()
    assert _flags(_kb(engine, {**both, "share_above": 60}), people) == ()


def test_rule_groups_limit_where_it_looks(engine: Engine) -> None:
    people = [
        _person(engine, f"p{i}", "Школа А", {LESSON: 40, EIOS: 40, "normative.fgos": 90})
        for i in range(5)
    ]
    only_digital = {"id": "SCH-D", "groups": ["digital"], "share_above": 40}
    assert [f.group for f in _flags(_kb(engine, only_digital), people)] == ["digital"]
    every_group = {"id": "SCH-ALL", "share_above": 40}
    assert [f.group for f in _flags(_kb(engine, every_group), people)] == ["methodical", "digital"]


def test_one_flag_per_school_and_group_by_the_first_rule(engine: Engine) -> None:
    people = _school(engine, "Школа А", [40, 40, 60, 90, 90])
    first = {"id": "SCH-1", "groups": ["methodical"], "share_above": 50, "form": "group"}
    second = {"id": "SCH-2", "share_above": 40}
    never = {"id": "SCH-3", "share_above": 90}
    third = {"id": "SCH-4", "mean_below": 70}
    (flag,) = _flags(_kb(engine, first, second, never, third), people)
    assert (flag.rule, flag.form, flag.also) == ("SCH-1", "group", ("SCH-2", "SCH-4"))


def test_competencies_by_prevalence_then_ontology_order(engine: Engine) -> None:
    extra, differentiation = "methodical.extracurricular", "methodical.differentiation"
    people = [
        _person(engine, "a", "A", {LESSON: 40, extra: 40}),
        _person(engine, "b", "A", {differentiation: 40, extra: 40}),
        _person(engine, "c", "A", {extra: 40}),
    ]
    kb = _kb(engine, {"id": "SCH", "groups": ["methodical"], "share_above": 10, "min_staff": 1})
    (flag,) = _flags(kb, people)
    # the most prevalent is last in the ontology; of the tied two, the ontology puts lesson
    # design first and the alphabet differentiation
    order = engine.kb.ontology.order_key
    assert order(LESSON) < order(differentiation) < order(extra) and differentiation < LESSON
    assert flag.competencies == (extra, LESSON, differentiation)


def test_the_reason_names_the_numbers_and_thresholds(engine: Engine) -> None:
    people = _school(engine, "Школа А", [40, 40, 20, 90, 90])
    rule = {**SHARE_40, "severities": ["high", "critical"], "share_above": 40.5, "mean_below": 70}
    (flag,) = _flags(_kb(engine, rule), people)
    title = engine.kb.ontology.groups["methodical"].title
    assert flag.reason == (
        f"60,0 % педагогов (3 из 5) с дефицитом (критический, выраженный) по группе «{title}», "
        f"порог 40,5 %; средний результат по группе «{title}» 56,0 % ниже порога 70 % "
        "(правило SCH-SHARE)"
    )


# --- determinism and privacy ------------------------------------------------------------


def _cohort(engine: Engine) -> list[Person]:
    rng = random.Random(11)
    people: list[Person] = []
    for s, org in enumerate(["Школа В", "Школа А", "Лицей № 2", "Гимназия 7"]):
        for i in range(7):
            # fractional scores: a sum in input order would differ in its last bits
            scores = {
                LESSON: rng.uniform(10, 95),
                ASSESSMENT: rng.uniform(10, 95),
                EIOS: rng.uniform(10, 95),
            }
            municipality = ["Спасский МО", "Анучинский МО"][(i + s) % 2]
            people.append(_person(engine, f"T-{s}{i}", org, scores, municipality=municipality))
    return people


def _output(kb: KnowledgeBase, people: Iterable[Person]) -> str:
    schools = school_profiles(kb, people)
    flags = flag_schools(kb, schools)
    return json.dumps(
        {"schools": [s.to_dict() for s in schools], "flags": [f.to_dict() for f in flags]},
        ensure_ascii=False,
    )


def test_the_output_does_not_depend_on_the_input_order(engine: Engine) -> None:
    kb = _kb(engine, {"id": "SCH-A", "share_above": 30}, {"id": "SCH-B", "mean_below": 55})
    people = _cohort(engine)
    expected = _output(kb, people)
    assert '"flags": []' not in expected  # the rules flag something, so the order is tested
    rng = random.Random(3)
    for _ in range(5):
        shuffled = people[:]
        rng.shuffle(shuffled)
        assert _output(kb, shuffled) == expected
    # the schools given to flag_schools in another order, too
    schools = school_profiles(kb, people)
    assert flag_schools(kb, schools[::-1]) == flag_schools(kb, schools)


def test_the_mean_does_not_depend_on_the_order_of_addition(engine: Engine) -> None:
    # 0.1 + 0.2 + 0.3 and 0.3 + 0.2 + 0.1 differ in the last bit: the exact mean must not
    people = []
    for i, pct in enumerate([0.1, 0.2, 0.3, 1e-17, 0.7]):
        scores = Scores({LESSON: pct}, {"methodical": pct}, {}, {})
        people.append((_profile(f"p{i}", "A", {}), Result(f"p{i}", (), (), (), (), scores=scores)))
    (expected,) = school_profiles(engine.kb, people)
    rng = random.Random(5)
    for _ in range(20):
        rng.shuffle(people)
        assert school_profiles(engine.kb, people) == (expected,)


def test_to_dict_holds_no_person_ids_or_names(engine: Engine) -> None:
    names = ["Синтетикова Анна", "Примеров Пётр", "Тестовая Ольга"]
    people = [
        _person(engine, f"PERSON-{i:04d}", "Школа А", {LESSON: 40}, name=name)
        for i, name in enumerate(names)
    ]
    kb = _kb(engine, {**SHARE_40, "min_staff": 1})
    text = _output(kb, people)
    assert '"organization": "Школа А"' in text and "SCH-SHARE" in text
    for i, name in enumerate(names):
        assert name not in text and f"PERSON-{i:04d}" not in text
    assert "PERSON" not in text
