"""synthetic_mentors: a fictional, seeded mentor pool consistent with synthetic_profiles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.schema import Mentor
from deficit_engine.synthetic import synthetic_mentors, synthetic_profiles

TEACHER_FORMS = {"teacher_teacher", "young_specialist", "competency_pair", "group"}
SCHOOL = re.compile(r"^МБОУ СОШ № (\d+)$")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb()


@pytest.fixture(scope="module")
def pool(kb: KnowledgeBase) -> dict[str, Mentor]:
    return synthetic_mentors(kb, 1000, seed=3)


def _dump(pool: dict[str, Mentor]) -> list[dict[str, object]]:
    return [m.model_dump() for m in pool.values()]


def test_same_seed_same_pool_other_seed_other_pool(kb: KnowledgeBase) -> None:
    assert _dump(synthetic_mentors(kb, 200, seed=3)) == _dump(synthetic_mentors(kb, 200, seed=3))
    assert _dump(synthetic_mentors(kb, 200, seed=3)) != _dump(synthetic_mentors(kb, 200, seed=4))
    # a smaller pool is the start of a larger one with the same seed, but for the ids' padding
    small = synthetic_mentors(kb, 50, seed=3)
    assert [m.strengths for m in small.values()] == [
        m.strengths for m in list(synthetic_mentors(kb, 60, seed=3).values())[:50]
    ]


def test_ids_unique_in_creation_order_and_sizes(kb: KnowledgeBase, pool: dict[str, Mentor]) -> None:
    assert len(pool) == 1000
    assert list(pool) == sorted(pool)
    assert all(mid == m.id for mid, m in pool.items())
    assert list(pool)[:2] == ["SYN-3-M000", "SYN-3-M001"]
    assert synthetic_mentors(kb, 0) == {}
    assert len(synthetic_mentors(kb, 1)) == 1


def test_every_mentor_is_a_valid_mentor(pool: dict[str, Mentor]) -> None:
    for m in pool.values():
        assert Mentor.model_validate(m.model_dump()) == m


def test_the_pool_loads_as_a_kb_mentors_file(
    kb: KnowledgeBase, pool: dict[str, Mentor], tmp_path: Path
) -> None:
    """Written as mentors.yaml, the loader accepts it: every reference resolves."""
    root = tmp_path / "kb"
    for folder in ("ontology", "rules"):
        shutil.copytree(kb.root / folder, root / folder)
    with open(root / "ontology" / "mentors.yaml", "w", encoding="utf-8") as out:
        yaml.safe_dump({"mentors": _dump(pool)}, out, allow_unicode=True)
    loaded = load_kb(root)
    assert list(loaded.mentors) == list(pool)


def test_capacity_is_one_to_five(pool: dict[str, Mentor]) -> None:
    capacities = {m.capacity for m in pool.values()}
    assert capacities == {1, 2, 3, 4, 5}


def test_places_are_those_of_synthetic_profiles(kb: KnowledgeBase, pool: dict[str, Mentor]) -> None:
    people = list(synthetic_profiles(kb, 500, seed=3))
    towns = {p["person"]["municipality"] for p in people if "municipality" in p["person"]}
    assert {m.municipality for m in pool.values()} == towns
    schools = {p["person"]["organization"] for p in people}
    numbers = set()
    for m in pool.values():
        found = SCHOOL.match(m.organization)
        assert found, m.organization
        numbers.add(int(found.group(1)))
    assert numbers == set(range(1, 41))
    assert {m.organization for m in pool.values()} == schools


def test_forms_fit_the_group(kb: KnowledgeBase, pool: dict[str, Mentor]) -> None:
    groups = {c: kb.ontology.competencies[c].group for c in kb.ontology.competencies}
    for m in pool.values():
        mine = {groups[c] for c in m.strengths}
        if mine == {"management"}:
            assert set(m.forms) <= {"management", "team"}, m
        else:
            assert "management" not in mine and "management" not in m.forms, m
            assert set(m.forms) & TEACHER_FORMS, m
            assert set(m.forms) <= TEACHER_FORMS | {"team"}, m
    every = {f for m in pool.values() for f in m.forms}
    assert every == TEACHER_FORMS | {"team", "management"}


def test_subject_mentors_carry_the_subjects_their_strengths_name(
    kb: KnowledgeBase, pool: dict[str, Mentor]
) -> None:
    groups = {c: kb.ontology.competencies[c].group for c in kb.ontology.competencies}
    subject_mentors = [m for m in pool.values() if "subject" in {groups[c] for c in m.strengths}]
    assert len(subject_mentors) > 50
    for m in pool.values():
        if m not in subject_mentors:
            assert m.subjects == [] and m.levels == [], m
            continue
        assert m.subjects and set(m.subjects) <= set(kb.subjects), m
        taught = {level for s in m.subjects for level in kb.subjects[s].levels}
        assert set(m.levels) <= taught and len(m.levels) <= 1, m
        if "subject.math_teaching" in m.strengths:
            assert m.subjects == ["mathematics"], m
        if "subject.preschool" in m.strengths:
            assert m.subjects == ["preschool"], m
    assert any(m.levels for m in subject_mentors)


def test_a_regional_pool_covers_every_competency(
    kb: KnowledgeBase, pool: dict[str, Mentor]
) -> None:
    covered = {c for m in pool.values() for c in m.strengths}
    assert covered == set(kb.ontology.competencies)
