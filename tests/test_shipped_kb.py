"""The shipped knowledge base is valid, realistic in size, and installed as package data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import deficit_engine
from deficit_engine import default_kb_path, load_kb

UNCOVERED_ON_PURPOSE = {"digital.ai", "functional_literacy.global", "subject.olympiad"}
FORMS_OF_WORK = {
    "internship",
    "master_class",
    "seminar",
    "educational_event",
    "intensive",
    "focus_group",
    "communication_platform",
    "project_session",
    "foresight_session",
    "supervision",
    "club",
    "network_community",
    "horizontal_learning",
    "lesson_visits",
    "self_education",
    "mentoring",
}


@pytest.fixture(scope="module")
def kb() -> deficit_engine.KnowledgeBase:
    return load_kb()


def test_competencies(kb: deficit_engine.KnowledgeBase) -> None:
    onto = kb.ontology
    assert {
        "normative",
        "subject",
        "methodical",
        "psycho_pedagogical",
        "communicative",
        "digital",
        "functional_literacy",
        "management",
    } <= set(onto.groups)
    assert len(onto.competencies) >= 45
    assert all(c.standard for c in onto.competencies.values())
    assert onto.graph.number_of_edges() >= 20 and not onto.cycles()
    with_indicators = [c for c in onto.competencies.values() if c.indicators]
    assert len(with_indicators) * 3 >= len(onto.competencies)
    assert [lvl.id for lvl in kb.scale.levels] == ["critical", "low", "partial", "proficient"]


def test_formats_name_every_form_of_work(kb: deficit_engine.KnowledgeBase) -> None:
    assert set(kb.formats) >= FORMS_OF_WORK
    assert {f.phase for f in kb.formats.values()} >= {"learn", "practice", "share", "reflect"}


def test_programmes(kb: deficit_engine.KnowledgeBase) -> None:
    programs = list(kb.programs.values())
    assert len(programs) >= 80
    kinds = Counter(p.kind for p in programs)
    assert kinds["advanced_training"] > kinds["retraining"] > 0
    assert all(16 <= p.hours <= 144 for p in programs if p.kind == "advanced_training")
    assert all(p.hours >= 250 for p in programs if p.kind == "retraining")
    assert len({p.delivery for p in programs}) == 3 and len({p.provider for p in programs}) >= 4
    assert {p.federal_registry for p in programs} == {True, False}
    covered = {c for p in programs for c in p.covers}
    assert set(kb.ontology.competencies) - covered == UNCOVERED_ON_PURPOSE


def test_readme_lists_uncovered_competencies() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for comp in UNCOVERED_ON_PURPOSE:
        assert f"`{comp}`" in readme


def test_mentors(kb: deficit_engine.KnowledgeBase) -> None:
    mentors = list(kb.mentors.values())
    assert len(mentors) >= 40
    assert len({m.municipality for m in mentors}) >= 5
    assert all(m.name.startswith("Наставник ") for m in mentors)  # sample data, no real people


def test_check_from_any_folder_finds_the_kb(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("deficit-engine")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "deficit_engine"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [*cmd, "check"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ") and "programmes" in done.stdout


def test_installed_package_carries_its_kb() -> None:
    package_dir = Path(deficit_engine.__file__).resolve().parent
    if "site-packages" not in package_dir.parts:
        pytest.skip("running from a source checkout (editable install)")
    assert default_kb_path() == package_dir / "kb"
    assert (package_dir / "kb" / "ontology" / "competencies.yaml").is_file()
