"""Profiles: every problem named by field path; scores normalised and rolled up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import ProfileError, load_kb, normalise, parse_profile, read_profile_file


def base_profile(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "T-0001",
        "person": {"role": "teacher", "experience_years": 2, "municipality": "Анучинский МО"},
        "results": [
            {"competency": "methodical.assessment", "score": 12, "max": 25},
            {"indicator": "methodical.lesson_design.goals", "score": 3, "max": 5},
            {"indicator": "methodical.lesson_design.tasks", "score": 1, "max": 5},
            {"competency": "digital.distance", "score": 80},
        ],
        "requests": ["digital.ai"],
    }
    data.update(extra)
    return data


def paths(err: ProfileError) -> dict[str, str]:
    return {i.path: i.code for i in err.issues}


def test_normalise_and_roll_up(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    norm = normalise(parse_profile(base_profile(), kb), kb)
    # 12/25 = 48 %; indicators 60 % (weight 1) and 20 % (weight 3) -> 30 %
    assert norm.competency_pct == {
        "digital.distance": 80.0,
        "methodical.assessment": 48.0,
        "methodical.lesson_design": 30.0,
    }
    assert norm.group_pct == {"digital": 80.0, "methodical": 39.0}
    assert norm.competency_level["methodical.lesson_design"] == "low"
    assert norm.competency_level["methodical.assessment"] == "low"
    assert norm.group_level == {"digital": "proficient", "methodical": "low"}


def test_own_result_overrides_indicators(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    data = base_profile()
    data["results"].append({"competency": "methodical.lesson_design", "score": 90})
    norm = normalise(parse_profile(data, kb), kb)
    assert norm.competency_pct["methodical.lesson_design"] == 90.0


def test_every_problem_by_field_path(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    data = base_profile()
    data["results"] = [
        {"competency": "methodical.assesment", "score": 1},
        {"competency": "methodical.assessment", "score": 30, "max": 25},
        {"competency": "digital.distance", "score": -1},
        {"indicator": "methodical.lesson_design.nope", "score": 1},
        {"competency": "digital.ai", "score": "high"},
    ]
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    found = paths(err.value)
    assert found["results[1]"] == "invalid-value"
    assert found["results[2].score"] == "out-of-range"
    assert found["results[4].score"] == "wrong-type"
    assert "score 30 is above its max 25" in str(err.value.issues)
    # unknown ids are named in the same pass as the shape problems
    assert found["results[0].competency"] == "unknown-ref"
    assert found["results[3].indicator"] == "unknown-ref"
    # references are checked once the shape is right
    data["results"] = [data["results"][0], data["results"][3]]
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    lines = err.value.lines()
    assert (
        "results[0].competency: unknown-ref: unknown competency 'methodical.assesment'" in lines[0]
    )
    assert "did you mean 'methodical.assessment'?" in lines[0]
    assert "results[1].indicator: unknown-ref" in lines[1]


def test_missing_id_wrong_types_unknown_fields(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    data = base_profile()
    del data["id"]
    data["person"]["experience_years"] = "два"
    data["person"]["role"] = "director"
    data["hobby"] = "chess"
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    found = paths(err.value)
    assert found == {
        "id": "missing-field",
        "person.experience_years": "wrong-type",
        "person.role": "invalid-value",
        "hobby": "unknown-field",
    }


def test_unknown_request_and_duplicate_result(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    data = base_profile(requests=["digital.distanse"])
    data["results"].append({"competency": "digital.distance", "score": 10})
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    assert paths(err.value) == {"requests[0]": "unknown-ref", "results[4].competency": "duplicate"}


def test_period_must_be_ordered(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    data = base_profile(preferences={"period": {"start": "2027-05", "end": "2026-09"}})
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    assert "preferences.period" in paths(err.value)


@pytest.mark.parametrize("hours", [0.004, 0.5, 0, -3, 301])
def test_hours_per_month_from_1_to_300(mini_kb: Path, hours: float) -> None:
    """Under 1 h a month the schedule would run for centuries (under 0.005 h it
    rounded to nothing and never ended): the profile is rejected instead."""
    kb = load_kb(mini_kb, with_rules=False)
    data = base_profile(preferences={"hours_per_month": hours})
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    assert paths(err.value) == {"preferences.hours_per_month": "out-of-range"}


def test_read_yaml_and_json(tmp_path: Path, mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps(base_profile(), ensure_ascii=False), encoding="utf-8")
    as_yaml = tmp_path / "p.yaml"
    as_yaml.write_text(
        "id: T-0001\nperson: {role: teacher, experience_years: 2, municipality: Анучинский МО}\n"
        "results:\n"
        "  - {competency: methodical.assessment, score: 12, max: 25}\n"
        "  - {indicator: methodical.lesson_design.goals, score: 3, max: 5}\n"
        "  - {indicator: methodical.lesson_design.tasks, score: 1, max: 5}\n"
        "  - {competency: digital.distance, score: 80}\n"
        "requests: [digital.ai]\n",
        encoding="utf-8",
    )
    one = parse_profile(read_profile_file(as_json), kb)
    two = parse_profile(read_profile_file(as_yaml), kb)
    assert one == two


def test_unreadable_profile_files(tmp_path: Path) -> None:
    bad_json = tmp_path / "p.json"
    bad_json.write_text('{"id": "x",\n "person": }', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        read_profile_file(bad_json)
    assert err.value.issues[0].line == 2 and err.value.issues[0].code == "json-syntax"
    dup = tmp_path / "p.yaml"
    dup.write_text("id: a\nid: b\n", encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        read_profile_file(dup)
    assert "p.yaml:2:1: duplicate-key" in str(err.value.issues[0])
    with pytest.raises(ProfileError):
        read_profile_file(tmp_path / "missing.yaml")


def test_the_qualification_category_is_a_person_attribute_rules_can_read() -> None:
    from deficit_engine import Engine

    profile = {
        "id": "C-1",
        "person": {"role": "teacher", "experience_years": 12, "category": "pedagogue_methodist"},
        "results": [{"competency": "methodical.assessment", "score": 90}],
    }
    engine = Engine.from_path()
    assert [n.rule for n in engine.evaluate(profile).needs] == ["ROLE-CATEGORY-METHODIST-EVENT"]
    without = {**profile, "person": {"role": "teacher", "experience_years": 12}}
    assert not engine.evaluate(without).needs
    # a post is not a category: «педагог-методист» is not a role
    wrong_role = {**profile, "person": {"role": "pedagogue_methodist", "experience_years": 1}}
    with pytest.raises(ProfileError, match="role"):
        parse_profile(wrong_role, engine.kb)
    wrong_category = {**profile, "person": {**profile["person"], "category": "методист"}}
    with pytest.raises(ProfileError, match="category"):
        parse_profile(wrong_category, engine.kb)
