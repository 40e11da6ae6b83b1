"""The resolver's reference output on seeded synthetic profiles, as a digest.

``tests/test_resolve_reference.py`` compares the resolver's output today with
the digests in ``tests/data/resolve_reference.json``, recorded before the
resolver was made faster (issue 16, deliverable 2): any change to a
recommendation, a reason, an unmet need or their order changes a digest.

Regenerate the file (only after a deliberate change of the resolver's output,
or of the shipped KB) from the repository root::

    .venv/bin/python tests/resolve_reference.py

The cases cover what ``resolve`` takes: the diagnosis' severities, none, a
mentor load (some mentors full, some partly taken) and a ``today``; and the
cohort path (``planner.plan_cohort``), which calls the same code.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.kb import KnowledgeBase
from deficit_engine.models import Resolution
from deficit_engine.planner import plan_cohort
from deficit_engine.resolve import resolve
from deficit_engine.schema import Profile

REFERENCE = Path(__file__).parent / "data" / "resolve_reference.json"
#: Profiles resolved one by one, and the seed of their generator.
COUNT, SEED = 3000, 16
#: Profiles planned as one cohort (the planner's path), and their seed.
COHORT, COHORT_SEED = 600, 17


def resolution_dict(res: Resolution | None) -> Any:
    """Everything a Resolution holds, as JSON: each recommendation's dict and needs."""
    if res is None:
        return None
    return {
        "recommendations": [
            {**r.to_dict(), "needs": [n.to_dict() for n in r.needs]} for r in res.recommendations
        ],
        "unmet": [u.to_dict() for u in res.unmet],
    }


def diagnosed(kb: KnowledgeBase, count: int, seed: int) -> list[tuple[Profile, Any]]:
    """(profile, diagnosed Result) of ``count`` seeded synthetic profiles, fast backend."""
    engine = Engine(kb, backend="fast")
    return [engine.diagnose(p) for p in synthetic_profiles(kb, count, seed)]


def mentor_load(kb: KnowledgeBase, rnd: random.Random) -> dict[str, int]:
    """A load that fills about a third of the mentors and partly takes another third."""
    load = {}
    for mid, m in sorted(kb.mentors.items()):
        draw = rnd.random()
        if draw < 0.33:
            load[mid] = m.capacity
        elif draw < 0.66:
            load[mid] = rnd.randrange(m.capacity + 1)
    return load


def cases(kb: KnowledgeBase) -> Iterator[tuple[str, Any]]:
    """(case name, its output as JSON) for every case of the reference."""
    rnd = random.Random(SEED)
    people = diagnosed(kb, COUNT, SEED)
    plain, loaded = [], []
    for n, (profile, result) in enumerate(people):
        plain.append(resolution_dict(resolve(kb, profile, result.needs)))
        kwargs: dict[str, Any] = {"mentor_load": mentor_load(kb, rnd)}
        if n % 2:
            kwargs["severities"] = result.severities
        if n % 3 == 0:
            kwargs["today"] = date(2026, 1 + n % 12, 15)
        loaded.append(resolution_dict(resolve(kb, profile, result.needs, **kwargs)))
    yield (
        "severities",
        [resolution_dict(resolve(kb, p, r.needs, severities=r.severities)) for p, r in people],
    )
    yield "plain", plain
    yield "loaded", loaded
    plan = plan_cohort(kb, diagnosed(kb, COHORT, COHORT_SEED))
    yield "cohort", [resolution_dict(r) for r in plan.resolutions]


def digest(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def reference(kb: KnowledgeBase) -> dict[str, Any]:
    """The digests of every case, with what they were made from."""
    return {
        "content_hash": kb.content_hash,
        "count": COUNT,
        "seed": SEED,
        "cohort": COHORT,
        "cohort_seed": COHORT_SEED,
        "digests": {name: digest(value) for name, value in cases(kb)},
    }


def main() -> int:
    """Write the reference file from the shipped KB."""
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps(reference(load_kb()), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
