"""The shipped knowledge base is valid, realistic in size, and installed as package data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import deficit_engine
from deficit_engine import default_kb_path, load_kb, parse_profile, read_profile_file

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
    # sample data, no real people: numbered mentors and mentor teams
    assert all(m.name.startswith(("Наставник ", "Команда наставников ")) for m in mentors)


REQUIRED_SUBJECTS = {
    "mathematics",
    "russian",
    "literature",
    "physics",
    "chemistry",
    "biology",
    "history",
    "social_studies",
    "geography",
    "informatics",
    "foreign_language",
    "physical_education",
    "technology",
    "art",
    "music",
    "obzr",
    "primary",
}


def test_subjects(kb: deficit_engine.KnowledgeBase) -> None:
    assert set(kb.subjects) >= REQUIRED_SUBJECTS
    for subject in kb.subjects.values():
        assert re.search("[А-Яа-яЁё]", subject.title), subject.id
        assert subject.levels, subject.id
    assert kb.subjects["primary"].levels == ["primary"]
    assert "preschool" in kb.subjects["preschool"].levels


def test_the_catalogue_is_tagged_with_subjects_and_levels(
    kb: deficit_engine.KnowledgeBase,
) -> None:
    programs = kb.programs.values()
    by_subject = [p for p in programs if p.subjects]
    assert len(by_subject) >= 10
    assert kb.programs["DPP-0011"].subjects == ["mathematics"]  # a maths-teaching programme
    assert "primary" in kb.programs["DPP-0092"].levels  # a primary-school programme
    # cross-subject programmes stay open to every subject
    assert not kb.programs["DPP-0001"].subjects and not kb.programs["DPP-0062"].subjects
    subject_mentors = [m for m in kb.mentors.values() if m.subjects]
    assert len(subject_mentors) >= 8
    assert {"mathematics", "russian", "primary"} <= {s for m in subject_mentors for s in m.subjects}
    # a subject-specific competency is never offered to every subject by a mentor
    for mentor in kb.mentors.values():
        if any(
            c in {"subject.math_teaching", "subject.russian_teaching"} for c in mentor.strengths
        ):
            assert mentor.subjects, mentor.id


def test_programme_places(kb: deficit_engine.KnowledgeBase) -> None:
    programs = list(kb.programs.values())
    in_person = [p for p in programs if p.delivery == "in_person"]
    limited = [p for p in in_person if p.groups or p.seats is not None]
    assert len(limited) >= 0.75 * len(in_person)
    distance = [p for p in programs if p.delivery == "distance"]
    assert sum(1 for p in distance if p.groups or p.seats is not None) <= 0.25 * len(distance)
    groups = [g for p in programs for g in p.groups]
    assert len(groups) >= 20
    assert all("2026-09" <= g.start <= "2027-05" and 20 <= g.seats <= 30 for g in groups)


def test_team_and_management_mentors(kb: deficit_engine.KnowledgeBase) -> None:
    team = [m for m in kb.mentors.values() if "team" in m.forms and m.capacity > 0]
    assert len({m.municipality for m in team}) >= 3
    assert len({m.organization for m in team}) >= 5
    management = [m for m in kb.mentors.values() if "management" in m.forms]
    assert len({m.organization for m in management}) >= 5


def test_planning_and_school_rules(kb: deficit_engine.KnowledgeBase) -> None:
    planning = kb.planning
    assert planning.planning.min_group == 8
    rules = planning.school_rules
    assert len(rules) >= 2
    assert any(r.share_above is not None for r in rules)
    assert any(r.mean_below is not None for r in rules)
    for rule in rules:
        # honest sources: a seed document, and the threshold said to be the authors' own
        assert re.search(r"\b00[0-4]_[0-9a-f]{16}\.txt\b", rule.source), rule.id
        assert "выбор авторов" in rule.source, rule.id
    forms = {form for m in kb.mentors.values() for form in m.forms}
    assert {r.form for r in rules} <= forms
    # every group is watched; management teams get менторство, not a teachers' team
    assert {g for r in rules for g in r.groups} == set(kb.ontology.groups)
    assert {r.form for r in rules if "management" in r.groups} == {"management"}


def test_example_profiles_are_valid(kb: deficit_engine.KnowledgeBase, repo_root: Path) -> None:
    examples = sorted((repo_root / "examples").glob("*.yaml"))
    assert len(examples) >= 6
    for path in examples:
        profile = parse_profile(read_profile_file(path), kb, str(path))
        assert set(profile.person.subjects) <= set(kb.subjects)


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


# --- issue 13: one region, sources that check out, forms and roles as the seeds use them


def test_one_region_and_no_assessment_centre_teaches(kb: deficit_engine.KnowledgeBase) -> None:
    providers = {p.provider for p in kb.programs.values()}
    # ЦОПМКП assesses (seed 004, п. 3.2.5); teaching is the institute's and its ЦНППМ's
    assert not any("ЦОПМКП" in p for p in providers)
    assert not any(re.search("Красноярск|Канск|ККИПК", p) for p in providers)
    assert {"ПК ИРО", "ЦНППМ ПК ИРО", "Академия Минпросвещения России"} <= providers
    # a name that is not a real institution's says so
    assert any("условное название" in p for p in providers)


def test_every_shipped_rule_has_a_source_and_no_known_misattribution(
    kb: deficit_engine.KnowledgeBase,
) -> None:
    from deficit_engine.analysis import analyse

    assert not [i for i in analyse(kb) if i.code == "unsourced-rule"]
    for rule in kb.rules:
        source = rule.source or ""
        assert "250н" not in source, rule.id  # no such standard for school heads
        assert "Р-145" not in source, rule.id  # the pupils' mentoring model
        assert "модель единой федеральной" not in source, rule.id  # Р-201 is diagnosis


def test_every_mentoring_form_a_mentor_offers_is_asked_for(
    kb: deficit_engine.KnowledgeBase,
) -> None:
    offered = {form for m in kb.mentors.values() for form in m.forms}
    asked = {str(dict(a.fields).get("form")) for r in kb.rules for a in r.then if a.kind == "need"}
    asked |= {rule.form for rule in kb.planning.school_rules}
    assert offered <= asked, offered - asked


def test_managers_cite_the_eks_and_subject_modules_stay_with_their_subject(
    kb: deficit_engine.KnowledgeBase,
) -> None:
    onto = kb.ontology
    for comp in onto.competencies.values():
        if comp.group == "management":
            assert all("761н" in code for code in comp.standard), comp.id
            assert not any(code.endswith(".7") for code in comp.standard), comp.id
    # the maths (B/04.6) and Russian (B/05.6) modules only on maths and Russian competencies
    assert onto.competencies["subject.content"].standard == ["B/02.6", "B/03.6"]
    for comp in onto.competencies.values():
        if "B/04.6" in comp.standard:
            assert "math" in comp.id, comp.id
        if "B/05.6" in comp.standard:
            assert "russian" in comp.id, comp.id
