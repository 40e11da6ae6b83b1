"""Seeded synthetic profiles and mentor pools drawn from a KB (for tests and benchmarks).

No real people: profile ids are ``SYN-<seed>-<n>`` and their names are never
set; mentors are ``SYN-<seed>-M<n>``, «Наставник N», at made-up schools.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from .loader import KnowledgeBase
from .schema import EDUCATION_LEVELS, Mentor

__all__ = ["synthetic_mentors", "synthetic_profiles"]

_ROLES = (
    ("teacher",) * 12
    + ("manager",) * 3
    + ("methodist",) * 2
    + ("psychologist", "tutor", "counselor")
)
#: The subjects drawn from when the KB has no ``subjects`` vocabulary.
_SUBJECTS = ("mathematics", "russian", "physics", "history", "biology", "informatics", "primary")
#: People and mentors work at ``МБОУ СОШ № 1`` to ``№ 40`` (the same names in
#: every municipality, as the planner compares organisations by name).
_SCHOOLS = 40


def _municipalities(kb: KnowledgeBase) -> list[str]:
    """The municipalities of the KB's mentor pool: where synthetic people and mentors live."""
    return sorted({m.municipality for m in kb.mentors.values()}) or ["Муниципалитет"]


def _school(rnd: random.Random) -> str:
    return f"МБОУ СОШ № {rnd.randint(1, _SCHOOLS)}"


def _levels_of(kb: KnowledgeBase, subjects: list[str]) -> list[str]:
    """The levels a teacher of ``subjects`` works at: every level their subjects are
    taught at, in the order of :data:`EDUCATION_LEVELS` (none without a vocabulary)."""
    found = {level for s in subjects if s in kb.subjects for level in kb.subjects[s].levels}
    return [level for level in EDUCATION_LEVELS if level in found]


def synthetic_profiles(
    kb: KnowledgeBase, count: int, seed: int = 0, *, max_results: int = 30
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` valid profile dicts; the same seed gives the same profiles.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose competencies, indicators, subjects (with their levels) and
        mentors' municipalities the profiles use.
    count : int
        How many profiles to make.
    seed : int
        The seed of the random draws; ids are ``SYN-<seed>-<n>``.
    max_results : int
        The most competency results a profile has (a real diagnostic instrument
        covers 10-15 competencies; the default 30 makes heavier profiles).

    Yields
    ------
    dict
        A profile as read from YAML/JSON, valid for ``kb``.
    """
    rnd = random.Random(seed)
    onto = kb.ontology
    competencies = sorted(onto.competencies)
    indicators = sorted(onto.indicators)
    municipalities = _municipalities(kb)
    subject_pool = sorted(kb.subjects) or list(_SUBJECTS)
    for n in range(count):
        role = rnd.choice(_ROLES)
        experience = rnd.choice([0, 1, 2, 2.5, 3, 5, 8, 12, 15, 20, 27, 35])
        chosen = rnd.sample(competencies, rnd.randint(0, min(max_results, len(competencies))))
        results: list[dict[str, Any]] = []
        for comp in chosen:
            maximum = rnd.choice([5, 10, 20, 25, 100])
            # mostly a spread, sometimes exact band edges
            if rnd.random() < 0.15:
                score = maximum * rnd.choice([0, 0.3, 0.5, 0.75, 0.85, 1])
            else:
                score = round(rnd.uniform(0, maximum), rnd.choice([0, 1, 2]))
            results.append({"competency": comp, "score": score, "max": maximum})
        own = set(chosen)
        for ind in rnd.sample(indicators, rnd.randint(0, min(8, len(indicators)))):
            if onto.indicator_parent[ind] in own and rnd.random() < 0.7:
                continue
            results.append({"indicator": ind, "score": rnd.randint(0, 5), "max": 5})
        rnd.shuffle(results)
        subjects = rnd.sample(subject_pool, rnd.randint(0, 2))
        profile: dict[str, Any] = {
            "id": f"SYN-{seed}-{n}",
            "person": {
                "role": role,
                "experience_years": experience,
                "subjects": subjects,
                "levels": _levels_of(kb, subjects),
                "municipality": rnd.choice(municipalities),
                "organization": _school(rnd),
            },
            "results": results,
            "requests": rnd.sample(competencies, rnd.choice([0, 0, 1, 2, 3])),
        }
        if rnd.random() < 0.6:
            profile["preferences"] = {
                "delivery": rnd.sample(["in_person", "distance", "blended"], rnd.randint(0, 2)),
                "hours_per_month": rnd.choice([8, 12, 16, 24, 36]),
                "period": rnd.choice(
                    [
                        {"start": "2026-09", "end": "2027-05"},
                        {"start": "2027-01", "end": "2027-06"},
                        {"start": "2026-10", "end": "2026-12"},
                    ]
                ),
            }
        if rnd.random() < 0.1:
            del profile["person"]["municipality"]
        yield profile


# --- mentors ---------------------------------------------------------------------

#: The competency group of school leaders: its mentors work in менторство and
#: mentor teams; every other group's in the forms between teachers.
_MANAGEMENT_GROUP = "management"
#: The group whose competencies are a subject's: its mentors carry subjects.
_SUBJECT_GROUP = "subject"
_MANAGEMENT_FORMS = (("management",), ("management", "team"), ("management", "team"), ("team",))
_TEACHER_FORMS = ("teacher_teacher", "young_specialist", "competency_pair", "group")
#: How often a teachers' mentor also leads a leader school's mentor team (the KB's
#: school rules ask for teams in every group, not only in management).
_TEAM_SHARE = 0.1
#: How often a second strength comes from another group (a mentor's strengths
#: mostly stay within one group, as in the shipped pool).
_OTHER_GROUP_SHARE = 0.3
#: How often a subject mentor works at one level of education only.
_ONE_LEVEL_SHARE = 0.3


def _named_subjects(kb: KnowledgeBase, title: str) -> list[str]:
    """The subjects a competency's title names: a word of the title starts with the
    stem (first 5 letters) of the subject title's first word, as «Методика преподавания
    математики» names «Математика». Ids in KB order."""
    words = title.lower().split()
    found = []
    for sid, subject in kb.subjects.items():
        stem = subject.title.split()[0].lower()[:5]
        if any(word.startswith(stem) for word in words):
            found.append(sid)
    return found


def _school_subjects(kb: KnowledgeBase) -> list[str]:
    """Subjects taught at school (not only in preschool), for subject-generic competencies."""
    return sorted(sid for sid, s in kb.subjects.items() if set(s.levels) - {"preschool"})


def _subjects_and_levels(
    kb: KnowledgeBase, rnd: random.Random, strengths: list[str]
) -> tuple[list[str], list[str]]:
    """A subject mentor's subjects (those their strengths name, else one or two drawn)
    and levels (usually none; sometimes the one level they work at)."""
    onto = kb.ontology
    named = sorted({s for c in strengths for s in _named_subjects(kb, onto.competencies[c].title)})
    pool = _school_subjects(kb)
    subjects = named or (sorted(rnd.sample(pool, min(len(pool), rnd.randint(1, 2)))))
    taught = _levels_of(kb, subjects)
    if taught and rnd.random() < _ONE_LEVEL_SHARE:
        return subjects, [rnd.choice(taught)]
    return subjects, []


def _one_specialism(kb: KnowledgeBase, rnd: random.Random, competencies: list[str]) -> list[str]:
    """The subject competencies one mentor may hold: those naming no subject, and one
    of those that do (a mathematics methodologist does not also teach preschool)."""
    onto = kb.ontology
    named = [c for c in competencies if _named_subjects(kb, onto.competencies[c].title)]
    generic = [c for c in competencies if c not in named]
    return [*generic, rnd.choice(named)] if named else generic


def _strengths(
    kb: KnowledgeBase, rnd: random.Random, by_group: dict[str, list[str]]
) -> tuple[str, list[str]]:
    """The mentor's group (drawn in proportion to the groups' sizes) and strengths: one
    to three of its competencies, sometimes one more of another teachers' group; the
    strengths in ontology order."""
    onto = kb.ontology
    group = onto.competencies[rnd.choice(sorted(onto.competencies))].group
    own = by_group[group]
    if group == _SUBJECT_GROUP:
        own = _one_specialism(kb, rnd, own)
    chosen = set(rnd.sample(own, min(len(own), rnd.randint(1, 3))))
    if group != _MANAGEMENT_GROUP and rnd.random() < _OTHER_GROUP_SHARE:
        others = [
            c
            for g, comps in by_group.items()
            if g not in (group, _MANAGEMENT_GROUP, _SUBJECT_GROUP)
            for c in comps
        ]
        if others:
            chosen.add(rnd.choice(others))
    return group, sorted(chosen, key=onto.order_key)


def _forms(rnd: random.Random, management: bool) -> list[str]:
    if management:
        return list(rnd.choice(_MANAGEMENT_FORMS))
    forms = rnd.sample(_TEACHER_FORMS, rnd.randint(1, 2))
    if rnd.random() < _TEAM_SHARE:
        forms.append("team")
    return forms


def synthetic_mentors(kb: KnowledgeBase, count: int, seed: int = 0) -> dict[str, Mentor]:
    """A fictional mentor pool over a KB's competencies; the same seed gives the same pool.

    Each mentor has one to three strengths in one competency group (sometimes one
    more from another group) and forms that fit it: менторство and mentor teams
    for management, the forms between teachers otherwise (sometimes a mentor
    team too). Mentors of the subject group carry the subjects their strengths
    name (else one or two drawn), sometimes one level. They live in the
    municipalities and work at the ``МБОУ СОШ № N`` schools that
    :func:`synthetic_profiles` draws people from; capacity is 1 to 5.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose competencies, subjects (with their levels) and mentors'
        municipalities the pool uses.
    count : int
        How many mentors to make (none when 0 or less).
    seed : int
        The seed of the random draws; ids are ``SYN-<seed>-M<n>``, zero-padded
        so that id order is creation order.

    Returns
    -------
    dict of str to Mentor
        The pool by id, in id order: valid mentors, ready for
        ``dataclasses.replace(kb, mentors=...)``.
    """
    rnd = random.Random(seed)
    onto = kb.ontology
    by_group: dict[str, list[str]] = {}
    for comp in sorted(onto.competencies):
        by_group.setdefault(onto.competencies[comp].group, []).append(comp)
    municipalities = _municipalities(kb)
    width = len(str(max(count - 1, 0)))
    pool: dict[str, Mentor] = {}
    for n in range(count):
        group, strengths = _strengths(kb, rnd, by_group)
        subjects, levels = (
            _subjects_and_levels(kb, rnd, strengths) if group == _SUBJECT_GROUP else ([], [])
        )
        mid = f"SYN-{seed}-M{n:0{width}d}"
        # validated as a mentors.yaml entry is: a pool that breaks the model fails here
        pool[mid] = Mentor.model_validate(
            {
                "id": mid,
                "name": f"Наставник {n + 1}",
                "municipality": rnd.choice(municipalities),
                "organization": _school(rnd),
                "strengths": strengths,
                "forms": _forms(rnd, group == _MANAGEMENT_GROUP),
                "capacity": rnd.randint(1, 5),
                "subjects": subjects,
                "levels": levels,
            }
        )
    return pool
