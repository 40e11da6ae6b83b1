"""The route's reference output: digests of the routes of seeded synthetic cohorts.

The route stage was rewritten for speed (issue 16) with the promise that its
output stays byte-identical. ``tests/data/route_reference.json`` holds, for each
case below, one short digest per profile of the canonical JSON of its route
and of its whole Result (without the trace), and the sha256 of them all, made
with the route code as it was before the rewrite. ``test_route_reference.py``
recomputes them with the code of today.

Regenerate (only when a change of output is intended, or the shipped KB changed)::

    .venv/bin/python tests/route_reference.py

The cases:

- ``evaluate``: ``Engine.evaluate`` (fast backend) on synthetic profiles;
- ``today``: the same people planned with a date (``plan(..., today=...)``),
  so the default period is the school year after it;
- ``bundled``: each programme recommendation also takes the competencies of
  the next one, so steps bundle competencies on both sides of a prerequisite
  and the route must break cycles and report conflicts (the synthetic cohort
  alone has none);
- ``cohort``: ``Engine.plan_cohort`` (the planner's resolutions, then the route).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.models import Resolution, Result
from deficit_engine.resolve import resolve
from deficit_engine.route import build_route, plan, with_plan
from deficit_engine.schema import Profile

REFERENCE = Path(__file__).parent / "data" / "route_reference.json"
#: case -> (seed, profiles)
CASES = {"evaluate": (16, 3000), "today": (17, 600), "bundled": (18, 600), "cohort": (19, 300)}
TODAY = date(2027, 3, 15)


def canonical(value: Any) -> str:
    """JSON as the outputs write it, on one line: key order kept (it is part of the output)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def digests(result: Result) -> tuple[str, str]:
    """The short digests of a Result's route and of the whole Result without its trace."""
    route = canonical(result.route.to_dict() if result.route is not None else None)
    whole = canonical(result.to_dict(trace=False))
    return _short(route), _short(whole)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def bundled(resolution: Resolution) -> Resolution:
    """``resolution`` with each programme also holding the next programme's competencies."""
    recs = list(resolution.recommendations)
    programmes = [i for i, r in enumerate(recs) if r.kind == "program"]
    for i, j in itertools.pairwise(programmes):
        more = tuple(c for c in recs[j].competencies if c not in recs[i].competencies)
        recs[i] = dataclasses.replace(recs[i], competencies=recs[i].competencies + more)
    return dataclasses.replace(resolution, recommendations=tuple(recs))


def _diagnosed(engine: Engine, seed: int, count: int) -> Iterator[tuple[Profile, Result]]:
    for data in synthetic_profiles(engine.kb, count, seed):
        yield engine.diagnose(data)


def case_results(engine: Engine, case: str, count: int | None = None) -> Iterator[Result]:
    """The Results of one case, in profile order (the first ``count`` profiles if given)."""
    seed, total = CASES[case]
    n = total if count is None else min(count, total)
    kb = engine.kb
    if case == "evaluate":
        for data in synthetic_profiles(kb, n, seed):
            yield engine.evaluate(data)
    elif case == "today":
        for profile, result in _diagnosed(engine, seed, n):
            yield plan(kb, profile, result, today=TODAY) if result.ok else result
    elif case == "bundled":
        for profile, result in _diagnosed(engine, seed, n):
            if not result.ok:
                yield result
                continue
            resolution = bundled(resolve(kb, profile, result.needs, severities=result.severities))
            yield with_plan(result, resolution, build_route(kb, profile, result, resolution))
    elif case == "cohort":
        yield from engine.plan_cohort(synthetic_profiles(kb, n, seed), workers=1).results
    else:
        raise ValueError(case)


def compute(engine: Engine) -> dict[str, Any]:
    """The reference of every case, as the JSON file holds it."""
    out: dict[str, Any] = {"kb_hash": engine.kb.content_hash, "cases": {}}
    for case, (seed, count) in CASES.items():
        routes, wholes = [], []
        for result in case_results(engine, case):
            r, w = digests(result)
            routes.append(r)
            wholes.append(w)
        out["cases"][case] = {
            "seed": seed,
            "profiles": count,
            "sha256": hashlib.sha256("".join(routes + wholes).encode()).hexdigest(),
            "route": routes,
            "result": wholes,
        }
    return out


def main() -> int:
    engine = Engine.from_path(backend="fast")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(json.dumps(compute(engine), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
