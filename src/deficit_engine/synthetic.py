"""Seeded synthetic profiles drawn from a KB's ontology (for tests and benchmarks).

No real people: ids are ``SYN-<seed>-<n>`` and names are never set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from .loader import KnowledgeBase
from .schema import EDUCATION_LEVELS

__all__ = ["synthetic_profiles"]

_ROLES = (
    ("teacher",) * 12
    + ("manager",) * 3
    + ("methodist",) * 2
    + ("psychologist", "tutor", "counselor")
)
#: The subjects drawn from when the KB has no ``subjects`` vocabulary.
_SUBJECTS = ("mathematics", "russian", "physics", "history", "biology", "informatics", "primary")


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
    municipalities = sorted({m.municipality for m in kb.mentors.values()}) or ["Муниципалитет"]
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
                "organization": f"МБОУ СОШ № {rnd.randint(1, 40)}",
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
