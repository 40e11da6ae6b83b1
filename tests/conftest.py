"""Shared fixtures: a small, valid knowledge base written to a temp folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deficit_engine import load_kb
from deficit_engine.rules import Rule

MINI = {
    "competencies.yaml": """\
groups:
  - {id: normative, title: Нормативно-правовые, standard: [A/01.6]}
  - {id: methodical, title: Методические, standard: [A/01.6]}
  - {id: digital, title: Цифровые, standard: [A/01.6]}
competencies:
  - id: normative.fgos
    group: normative
    title: Требования ФГОС
    standard: [A/01.6]
  - id: methodical.lesson_design
    group: methodical
    title: Проектирование урока
    standard: [A/01.6]
    requires: [normative.fgos]
    indicators:
      - {id: methodical.lesson_design.goals, title: Цели урока, weight: 1}
      - {id: methodical.lesson_design.tasks, title: Задачи урока, weight: 3}
  - id: methodical.assessment
    group: methodical
    title: Формирующее оценивание
    standard: [A/01.6]
    requires: [methodical.lesson_design]
  - id: digital.distance
    group: digital
    title: Дистанционное обучение
    standard: [A/01.6]
  - id: digital.ai
    group: digital
    title: ИИ в образовании
    standard: [A/01.6]
    requires: [digital.distance]
""",
    "scale.yaml": """\
levels:
  - {id: critical, title: Критический, below: 30}
  - {id: low, title: Низкий, below: 50}
  - {id: partial, title: Недостаточный, below: 75}
  - {id: proficient, title: Достаточный}
""",
    "formats.yaml": """\
formats:
  - {id: internship, title: Стажировка, education: non_formal, level: regional, phase: practice, hours: 16}
  - {id: self_education, title: Самообразование, education: informal, level: institutional, phase: learn, hours: 10}
""",
    "programs.yaml": """\
programs:
  - id: DPP-0001
    title: Формирующее оценивание
    kind: advanced_training
    hours: 36
    delivery: distance
    provider: ЦНППМ
    federal_registry: true
    audience: [teacher]
    covers: [methodical.assessment, methodical.lesson_design]
  - id: DPP-0002
    title: Дистанционное обучение
    kind: advanced_training
    hours: 24
    delivery: blended
    provider: ККИПК
    federal_registry: false
    audience: [teacher, methodist]
    covers: [digital.distance]
""",
    "mentors.yaml": """\
mentors:
  - id: M-001
    name: Наставник 1
    municipality: Анучинский МО
    organization: МБОУ СОШ № 1
    strengths: [methodical.lesson_design]
    forms: [teacher_teacher, young_specialist]
    capacity: 2
  - id: M-002
    name: Наставник 2
    municipality: Спасский МО
    organization: МБОУ СОШ № 2
    strengths: [methodical.assessment]
    forms: [young_specialist]
    capacity: 1
""",
}


def write_kb(root: Path, files: dict[str, str] | None = None) -> Path:
    onto = root / "ontology"
    onto.mkdir(parents=True, exist_ok=True)
    for name, text in {**MINI, **(files or {})}.items():
        (onto / name).write_text(text, encoding="utf-8")
    return root


def load_rules(tmp_path: Path, body: str) -> list[Rule]:
    """The rules of one rule file (``body``: the list under ``rules:``), parsed and checked
    by the loader against the mini KB, as a KB's rules are."""
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "rules.yaml").write_text("ruleset: t\nrules:\n" + body, encoding="utf-8")
    return list(load_kb(root).rules)


@pytest.fixture
def mini_kb(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def shipped_copy(tmp_path: Path, repo_root: Path) -> Path:
    dest = tmp_path / "shipped"
    for part in ("ontology", "rules"):
        if (repo_root / part).is_dir():
            shutil.copytree(repo_root / part, dest / part)
    return dest
