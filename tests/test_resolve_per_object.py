"""One person's resolve reading each need through its own info gives what it gave
through a shared one.

A need object's ``NeedInfo`` is its own (``needinfo.infos_of``): equal needs made
apart share their token and ``lazy`` values, and each keeps its unmet values
(``resolve._unmet``, by the reason). A mentor recommendation's competencies are found
from its needs' bits (``mentor_recommendations(infos=...)``) instead of sorting their
ids. Each is held here to the plain computation: Resolutions of needs made afresh
(new objects, equal values) against those of the objects met before, and mentor
recommendations with the infos against those without.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.models import Need
from deficit_engine.resolve import mentors as mentors_module
from deficit_engine.resolve import resolve, seeker_of
from deficit_engine.resolve.mentors import mentor_recommendations, resolve_mentors
from deficit_engine.resolve.needinfo import infos_of, split_by_kind


def _afresh(needs: tuple[Need, ...]) -> list[Need]:
    """Equal needs, new objects."""
    return [dataclasses.replace(n) for n in needs]


@pytest.mark.parametrize("seed", range(3))
def test_needs_made_afresh_resolve_alike(seed: int) -> None:
    """Needs made afresh (equal values, new objects) get infos of their own, sharing
    the token and lazy values of the equal needs met before, and resolve to equal
    Resolutions (in the same order) whose recommendations and unmet entries hold the new objects; the
    unmet values are one object per need object and reason."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    people = [engine.diagnose(p) for p in synthetic_profiles(kb, 50, seed)]
    for prof, result in people:
        first = resolve(kb, prof, result.needs, severities=result.severities)
        needs = _afresh(result.needs)
        again = resolve(kb, prof, needs, severities=result.severities)
        twice = resolve(kb, prof, needs, severities=result.severities)
        old, new = infos_of(kb.index, result.needs), infos_of(kb.index, needs)
        by_need = {id(n): info for n, info in zip(result.needs, old, strict=True)}
        position = {n: i for i, n in enumerate(result.needs)}
        for n, info in zip(needs, new, strict=True):
            assert info.need is n
            before = by_need[id(result.needs[position[n]])]
            assert info is not before
            assert info.token == before.token and info.lazy is before.lazy
        assert again == first
        assert all(any(u.need is n for n in needs) for u in again.unmet)
        assert all(u is v for u, v in zip(again.unmet, twice.unmet, strict=True))
        placed = {id(n) for r in again.recommendations for n in r.needs}
        assert placed <= {id(n) for n in needs}
        assert again == resolve(load_kb(), prof, needs, severities=result.severities)


@pytest.mark.parametrize("seed", range(3))
def test_mentor_competencies_by_bits_as_sorted(seed: int) -> None:
    """Mentor recommendations made with the needs' infos (competencies from their
    bits) are those made without (their ids sorted), and those of a KB whose needs
    carry no bits; with random free places, so that some units go to the allocation."""
    kb = load_kb()
    plain = load_kb()
    plain.index.comp_bits.clear()
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    captured: list[Any] = []

    def plain_recs(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("infos", None)  # the competencies by sorting
        out = mentor_recommendations(*args, **kwargs)
        captured.append(out)
        return out

    bits_path = 0
    for profile in synthetic_profiles(kb, 100, seed):
        prof, result = engine.diagnose(profile)
        needs = list(result.needs)
        seeker = seeker_of(kb, prof.person)
        load = {m.id: rng.randint(0, m.capacity) for m in kb.index.mentors if rng.random() < 0.3}
        for index in (kb.index, plain.index):
            infos = infos_of(index, needs)
            idx = split_by_kind(infos)[0]["mentor"]
            got = resolve_mentors(index, seeker, needs, idx, load, result.severities, infos)
            captured.clear()
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(mentors_module, "mentor_recommendations", plain_recs)
                want = resolve_mentors(index, seeker, needs, idx, load, result.severities, infos)
            assert captured
            assert got == want
            if index is kb.index:
                bits_path += sum(all(infos[needs.index(n)].bit for n in r.needs) for r in got[0])
    assert bits_path
