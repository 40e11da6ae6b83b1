"""One person's resolve, by the paths that split it and share its pieces across people,
gives what the whole computation gives.

``resolve_programmes`` for one person (``admits`` given, as ``resolve`` calls it)
splits the set cover into its independent groups of needs and remembers each lone
need's pick per KB (resolve/programmes.py, ``_alone``); here it is compared with the
whole cover (``programme_cover`` then ``programme_recommendations``), on a fresh KB
of its own, for generated people with random deliveries asked and periods. A
person's mentors, when each unit's best candidate is plainly the answer, are chosen
without the allocation (resolve/mentors.py, ``_best_alone``): compared with the
allocation. A plan's format recommendations are kept per KB and shared
(``resolve_formats(shared=True)``): compared with those made afresh.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

import deficit_engine.resolve as resolve_module
from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.labels import DELIVERY_RU
from deficit_engine.models import Need, Recommendation
from deficit_engine.resolve import mentors as mentors_module
from deficit_engine.resolve import resolve, seeker_of, unmet_of
from deficit_engine.resolve.formats import resolve_formats
from deficit_engine.resolve.needinfo import infos_of, split_by_kind
from deficit_engine.resolve.programmes import (
    programme_cover,
    programme_recommendations,
    resolve_programmes,
)


def _printed(recs: list[Recommendation]) -> list[Any]:
    """The recommendations as they print, with their needs by identity."""
    return [(r.to_dict(), [id(n) for n in r.needs]) for r in recs]


@pytest.mark.parametrize("seed", range(6))
def test_split_cover_is_the_whole_cover(seed: int) -> None:
    kb = load_kb()
    whole = load_kb()  # its own memos: nothing the split path remembered is read back
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    deliveries = sorted(DELIVERY_RU)
    groups = 0
    for profile in synthetic_profiles(kb, 150, seed):
        prof, result = engine.diagnose(profile)
        needs = list(result.needs)
        infos = infos_of(kb.index, needs)
        idx = split_by_kind(infos)[0]["program"]
        seeker = seeker_of(kb, prof.person)
        prefs = rng.sample(deliveries, rng.randint(0, 2))
        # periods short enough to leave some programmes too long, None for no limit
        hours = rng.choice([None, 16.0, 24.0, 36.0, 72.0, 144.0, 0.0, -0.0])
        admits = (seeker.subjects, seeker.levels)
        for _ in range(2):  # the second time from the memos
            recs, unmet = resolve_programmes(
                kb.index, prof.person.role, prefs, needs, idx, period_hours=hours, admits=admits
            )
            picks, want_unmet = programme_cover(
                whole.index, prof.person.role, prefs, needs, idx, None, hours, admits
            )
            want = programme_recommendations(whole.index, prefs, needs, picks, hours)
            assert _printed(recs) == _printed(want)
            assert unmet == want_unmet
        groups += sum(len(served) > 1 for _pid, served, _alt in picks)
    assert groups  # some needs shared a programme: the cover part ran too


def _resolution(kb: Any, prof: Any, result: Any, load: dict[str, int]) -> Any:
    resolution = resolve(kb, prof, result.needs, mentor_load=load, severities=result.severities)
    return (
        [(r.to_dict(), [id(n) for n in r.needs]) for r in resolution.recommendations],
        [(u.to_dict(), id(u.need)) for u in resolution.unmet],
    )


@pytest.mark.parametrize("seed", range(4))
def test_plain_best_mentors_are_the_allocations(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mentors._best_alone`` (each unit's best candidate, when no mentor is asked
    beyond their places) chooses as the allocation does: with the mentors' places
    partly taken at random, so that some are full and some wanted twice."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    mentors = sorted(kb.index.capacity)
    people = [engine.diagnose(p) for p in synthetic_profiles(kb, 150, seed)]
    loads = []
    for _ in people:
        load: dict[str, int] = {}
        for mid in rng.sample(mentors, rng.randint(0, len(mentors))):
            load[mid] = rng.randint(0, kb.index.capacity[mid])
        loads.append(load)
    fast = [
        _resolution(kb, prof, result, load)
        for (prof, result), load in zip(people, loads, strict=True)
    ]
    calls = []

    def allocated(*args: Any) -> None:
        calls.append(args)

    monkeypatch.setattr(mentors_module, "_best_alone", allocated)
    plain = [
        _resolution(kb, prof, result, load)
        for (prof, result), load in zip(people, loads, strict=True)
    ]
    assert calls  # the plain path ran
    assert fast == plain


def test_shared_unmet_needs_are_made_as_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unmet needs ``resolve`` shares across people (one object per need object
    and reason) are those it would make for each person alone."""
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    people = [engine.diagnose(p) for p in synthetic_profiles(kb, 200, 7)]
    shared = [_resolution(kb, prof, result, {}) for prof, result in people]
    again = [resolve(kb, p, r.needs, severities=r.severities).unmet for p, r in people[:50]]
    assert any(u is v for one, two in itertools.pairwise(again) for u in one for v in two)
    monkeypatch.setattr(resolve_module, "_unmet", lambda info, why: unmet_of(info.need, why))
    fresh = load_kb()
    alone = [_resolution(fresh, prof, result, {}) for prof, result in people]
    assert shared == alone


@pytest.mark.parametrize("seed", range(3))
def test_shared_format_recommendations_are_made_alike(seed: int) -> None:
    """``resolve_formats(shared=True)`` (a plan's Resolver: one object per format,
    way chosen and needs, kept per KB) gives the recommendations made afresh; with
    filter-only needs joining the formats chosen, and needs naming no competency."""
    kb = load_kb()
    fresh = load_kb()
    engine = Engine(kb, backend="fast")
    rng = random.Random(seed)
    phases = sorted({f.phase for f in kb.formats.values()})
    people = [engine.diagnose(p) for p in synthetic_profiles(kb, 120, seed)]
    extra = [
        Need("format", comp, (("phase", phase),), "R-EXTRA")
        for comp in [None, *sorted(kb.ontology.competencies)[:3]]
        for phase in phases
    ]
    met = 0
    for _prof, result in people * 2:  # the second time from the memo
        needs = [*result.needs, *rng.sample(extra, rng.randint(0, 3))]
        idx = [i for i, n in enumerate(needs) if n.kind == "format"]
        got, unmet = resolve_formats(kb.index, needs, idx, shared=True)
        want, want_unmet = resolve_formats(fresh.index, needs, idx)
        assert _printed(got) == _printed(want)
        assert unmet == want_unmet
        met += sum(
            r is s for r in got for s in resolve_formats(kb.index, needs, idx, shared=True)[0]
        )
    assert met  # the memo answered
