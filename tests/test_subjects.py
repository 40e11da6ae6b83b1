"""Subjects and planning: the optional ontology files, their checks, and profiles' subjects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import MINI, write_kb
from deficit_engine import ProfileError, check_kb, load_kb, parse_profile
from deficit_engine.profile import subject_id
from deficit_engine.synthetic import synthetic_profiles

SUBJECTS = """\
subjects:
  - id: mathematics
    title: Математика
    aliases: [Алгебра, Геометрия, Математика (углублённый уровень)]
    levels: [basic, secondary]
  - id: russian
    title: Русский язык
    levels: [basic, secondary]
  - id: foreign_language
    title: Иностранный язык
    aliases: [Английский язык, English]
    levels: [primary, basic, secondary]
  - id: primary
    title: Начальные классы
    levels: [primary]
"""

PLANNING = """\
planning:
  min_group: 8
  colleague_level: proficient
school_rules:
  - id: SR-1
    title: Более 40 % педагогов с дефицитом
    source: выбор авторов
    groups: [methodical]
    share_above: 40
  - id: SR-2
    title: Средний результат ниже 50 %
    source: выбор авторов
    mean_below: 50
"""


def errors(root: Path) -> list[str]:
    kb, issues = check_kb(root, with_rules=False)
    assert kb is None
    return [str(i) for i in issues if i.severity == "error"]


def only(lines: list[str], code: str) -> list[str]:
    return [line for line in lines if f": {code}: " in line]


def kb_with(tmp_path: Path, **files: str) -> Path:
    return write_kb(tmp_path / "kb", {f"{name}.yaml": text for name, text in files.items()})


# --- the loader ---------------------------------------------------------------------


def test_subjects_and_planning_load(tmp_path: Path) -> None:
    kb = load_kb(kb_with(tmp_path, subjects=SUBJECTS, planning=PLANNING), with_rules=False)
    assert list(kb.subjects) == ["mathematics", "russian", "foreign_language", "primary"]
    assert kb.subjects["mathematics"].levels == ["basic", "secondary"]
    assert kb.planning.planning.min_group == 8
    assert [r.id for r in kb.planning.school_rules] == ["SR-1", "SR-2"]
    assert "4 subjects, 2 school rules" in kb.summary()
    assert kb.positions[("subject", "russian")] == (kb.files["subjects"], 6, 5)
    assert kb.positions[("school_rule", "SR-2")] == (kb.files["planning"], 10, 5)


def test_without_the_optional_files_the_defaults(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    assert dict(kb.subjects) == {}
    assert kb.planning.planning.min_group == 1
    assert kb.planning.school_rules == []
    assert "subjects" not in kb.files and "planning" not in kb.files
    assert "0 subjects, 0 school rules" in kb.summary()


def test_without_subjects_any_subject_id_is_taken(tmp_path: Path) -> None:
    text = MINI["programs.yaml"].replace(
        "covers: [digital.distance]", "covers: [digital.distance]\n    subjects: [astronomy]"
    )
    kb = load_kb(kb_with(tmp_path, programs=text), with_rules=False)
    assert kb.programs["DPP-0002"].subjects == ["astronomy"]


def test_unknown_subject_of_a_programme_is_placed_and_suggested(tmp_path: Path) -> None:
    text = MINI["programs.yaml"].replace(
        "covers: [digital.distance]",
        "covers: [digital.distance]\n    subjects: [mathematic, English]",
    )
    lines = errors(kb_with(tmp_path, subjects=SUBJECTS, programs=text))
    typo, alias = only(lines, "unknown-ref")
    assert typo.endswith(
        "ontology/programs.yaml:20:16: unknown-ref: unknown subject 'mathematic' "
        "(did you mean 'mathematics'?)"
    )
    # an alias written for the id suggests the id
    assert alias.endswith(
        "ontology/programs.yaml:20:28: unknown-ref: unknown subject 'English' "
        "(did you mean 'foreign_language'?)"
    )


def test_unknown_subject_of_a_mentor(tmp_path: Path) -> None:
    text = MINI["mentors.yaml"].replace("capacity: 1", "capacity: 1\n    subjects: [rusian]")
    (bad,) = errors(kb_with(tmp_path, subjects=SUBJECTS, mentors=text))
    assert bad.endswith(
        "ontology/mentors.yaml:16:16: unknown-ref: unknown subject 'rusian' "
        "(did you mean 'russian'?)"
    )


def test_a_name_of_two_subjects_is_an_error(tmp_path: Path) -> None:
    # case and ё do not make two names
    text = SUBJECTS.replace("title: Русский язык", "title: Русский язык\n    aliases: [АЛГЕБРА]")
    text = text.replace(
        "aliases: [Английский язык, English]", "aliases: [Математика (углубленный уровень)]"
    )
    lines = errors(kb_with(tmp_path, subjects=text))
    assert [line.split("ontology/")[1] for line in only(lines, "duplicate-alias")] == [
        "subjects.yaml:8:15: duplicate-alias: 'АЛГЕБРА' already names subject 'mathematics' "
        "(line 4)",
        "subjects.yaml:12:15: duplicate-alias: 'Математика (углубленный уровень)' already "
        "names subject 'mathematics' (line 4)",
    ]


def test_duplicate_subject_id_and_empty_list(tmp_path: Path) -> None:
    text = SUBJECTS.replace("id: russian", "id: mathematics")
    (dup,) = only(errors(kb_with(tmp_path / "a", subjects=text)), "duplicate-id")
    assert "subjects.yaml:6:9: duplicate-id: duplicate subject id 'mathematics'" in dup
    (empty,) = errors(kb_with(tmp_path / "b", subjects="subjects: []\n"))
    assert "subjects.yaml:1:11: invalid-value: 'subjects' lists none" in empty


def test_planning_file_errors_are_placed(tmp_path: Path) -> None:
    text = (
        PLANNING.replace("colleague_level: proficient", "colleague_level: proficent")
        .replace("groups: [methodical]", "groups: [methodicall]")
        .replace("id: SR-2", "id: SR-1")
        .replace("mean_below: 50", "mean_below: 50\n  - id: SR-3\n    title: t\n    source: s")
    )
    text += "plannig: {}\n"
    lines = [line.split("ontology/")[1] for line in errors(kb_with(tmp_path, planning=text))]
    assert lines == [
        "planning.yaml:3:20: unknown-ref: unknown scale level 'proficent' "
        "(did you mean 'proficient'?)",
        "planning.yaml:8:14: unknown-ref: unknown group 'methodicall' (did you mean 'methodical'?)",
        "planning.yaml:10:9: duplicate-id: duplicate school rule id 'SR-1' (first at line 5)",
        "planning.yaml:14:5: invalid-value: a school rule needs 'share_above' or 'mean_below'",
        "planning.yaml:17:1: unknown-field: unknown field 'plannig' (did you mean 'planning'?)",
    ]


def test_planning_settings_are_validated(tmp_path: Path) -> None:
    (bad,) = errors(kb_with(tmp_path, planning="planning:\n  min_group: 0\n"))
    assert "planning.yaml:2:14: out-of-range: min_group:" in bad


def test_a_school_rule_without_mentors_of_its_form_warns(tmp_path: Path) -> None:
    kb, issues = check_kb(kb_with(tmp_path, planning=PLANNING), with_rules=False)
    assert kb is not None
    first, second = [i for i in issues if i.code == "no-mentor"]
    assert first.severity == "warning" and (first.line, first.col) == (5, 5)
    assert "school rule 'SR-1' asks for 'team' mentors" in first.message
    assert (second.line, second.col) == (10, 5)
    mentors = MINI["mentors.yaml"].replace("forms: [young_specialist]", "forms: [team]")
    _kb, issues = check_kb(
        kb_with(tmp_path / "b", planning=PLANNING, mentors=mentors), with_rules=False
    )
    assert not [i for i in issues if i.code == "no-mentor"]


def test_a_programmes_groups_start_in_months_of_their_own(tmp_path: Path) -> None:
    groups = (
        "\n    groups:\n      - {start: 2026-09, seats: 25}\n      - {start: 2026-09, seats: 20}"
    )
    text = MINI["programs.yaml"].replace(
        "covers: [digital.distance]", "covers: [digital.distance]" + groups
    )
    (bad,) = errors(kb_with(tmp_path / "a", programs=text))
    assert bad.endswith(
        "ontology/programs.yaml:22:17: duplicate: programme 'DPP-0002' has a second group "
        "starting 2026-09 (first at line 21): give one group with the seats of both"
    )
    both = text.replace("seats: 20}", "seats: 20, delivery: distance}").replace(
        "2026-09, seats: 20", "2027-02, seats: 20"
    )
    kb = load_kb(kb_with(tmp_path / "b", programs=both), with_rules=False)
    assert [g.start for g in kb.programs["DPP-0002"].groups] == ["2026-09", "2027-02"]
    seats = both.replace("    groups:", "    seats: 30\n    groups:")
    (either,) = errors(kb_with(tmp_path / "c", programs=seats))
    assert "invalid-value: give either 'seats' or 'groups', not both" in either


# --- profiles -----------------------------------------------------------------------


def profile(subjects: list[str], **extra: Any) -> dict[str, Any]:
    person = {"role": "teacher", "experience_years": 2, "subjects": subjects, **extra}
    return {"id": "T-1", "person": person, "results": []}


def test_unknown_profile_subject_names_its_path_and_suggests_the_id(tmp_path: Path) -> None:
    kb = load_kb(kb_with(tmp_path, subjects=SUBJECTS), with_rules=False)
    assert parse_profile(profile(["mathematics", "primary"]), kb).person.subjects == [
        "mathematics",
        "primary",
    ]
    with pytest.raises(ProfileError) as err:
        parse_profile(profile(["russian", "Математика", "astronomy"]), kb, "p.yaml")
    assert [str(i) for i in err.value.issues] == [
        "p.yaml:person.subjects[1]: unknown-ref: unknown subject 'Математика' "
        "(did you mean 'mathematics'?)",
        "p.yaml:person.subjects[2]: unknown-ref: unknown subject 'astronomy'",
    ]


def test_profile_subject_is_checked_with_the_other_problems(tmp_path: Path) -> None:
    kb = load_kb(kb_with(tmp_path, subjects=SUBJECTS), with_rules=False)
    data = profile(["английский язык"], levels=["high_school"])
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb)
    found = {i.path: (i.code, i.suggestion) for i in err.value.issues}
    assert found["person.subjects[0]"] == ("unknown-ref", "foreign_language")
    assert found["person.levels[0]"][0] == "invalid-value"


def test_without_subjects_a_profile_names_any_subject(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    assert parse_profile(profile(["Математика"]), kb).person.subjects == ["Математика"]


def test_subject_id_maps_ids_titles_and_aliases(tmp_path: Path) -> None:
    kb = load_kb(kb_with(tmp_path, subjects=SUBJECTS), with_rules=False)
    assert subject_id(kb, "mathematics") == "mathematics"
    assert subject_id(kb, " МАТЕМАТИКА ") == "mathematics"
    assert subject_id(kb, "алгебра") == "mathematics"
    assert subject_id(kb, "Математика (углубленный уровень)") == "mathematics"  # ё = е
    assert subject_id(kb, "Английский  язык") == "foreign_language"
    assert subject_id(kb, "Астрономия") is None
    assert (
        subject_id(load_kb(tmp_path / "kb", with_rules=False), "алгебра") == "mathematics"
    )  # a new KB


def test_shipped_subjects_map_table_spellings() -> None:
    kb = load_kb()
    cases = {
        "Математика": "mathematics",
        "Геометрия": "mathematics",
        "Английский язык": "foreign_language",
        "Китайский язык": "foreign_language",
        "начальные классы": "primary",
        "ОБЖ": "obzr",
        "Физкультура": "physical_education",
        "Обществознание": "social_studies",
    }
    assert {text: subject_id(kb, text) for text in cases} == cases


# --- synthetic profiles ---------------------------------------------------------------


def test_synthetic_profiles_use_the_kbs_subjects_and_their_levels() -> None:
    kb = load_kb()
    profiles = list(synthetic_profiles(kb, 200, seed=5))
    assert profiles == list(synthetic_profiles(kb, 200, seed=5))
    used = set()
    for data in profiles:
        person = data["person"]
        used.update(person["subjects"])
        taught = {lvl for s in person["subjects"] for lvl in kb.subjects[s].levels}
        assert set(person["levels"]) == taught
        parse_profile(data, kb)
    assert {"foreign_language", "obzr"} <= used  # beyond the old fixed list


def test_synthetic_profiles_without_a_subject_vocabulary(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    people = [p["person"] for p in synthetic_profiles(kb, 50, seed=1)]
    assert {s for p in people for s in p["subjects"]} <= {
        "mathematics",
        "russian",
        "physics",
        "history",
        "biology",
        "informatics",
        "primary",
    }
    assert all(p["levels"] == [] for p in people)
