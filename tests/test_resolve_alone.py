"""One person's resolve, by the paths that split it and share its pieces across people,
gives what the whole computation gives.

``resolve_programmes`` for one person (``admits`` given, as ``resolve`` calls it)
splits the set cover into its independent groups of needs and remembers each lone
need's pick per KB (resolve/programmes.py, ``_alone``); here it is compared with the
whole cover (``programme_cover`` then ``programme_recommendations``), on a fresh KB
of its own, for generated people with random deliveries asked and periods.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.labels import DELIVERY_RU
from deficit_engine.models import Recommendation
from deficit_engine.resolve import seeker_of
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
