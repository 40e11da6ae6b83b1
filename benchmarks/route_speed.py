"""Route benchmark: CPU µs per profile of the route stage, and its ratio to diagnosis.

A seeded synthetic cohort of the shipped KB is diagnosed (``Engine.diagnose``,
fast backend) and resolved (``resolve``) once; then the route stage is timed
over the whole cohort: ``build_route`` alone, and ``with_plan`` (the unmet
deficits the route leaves, and the Result's copy). Diagnosis is timed in the
same run, so the ratio route / diagnose does not depend on how busy the machine
is. Times are CPU time (``time.process_time``); each route figure is the best
of ``--repeat`` passes over the cohort.

Prints figures and, last, one JSON line of them. No timed assertions.

    python benchmarks/route_speed.py            # 3 000 profiles
    python benchmarks/route_speed.py --quick    # 1 000 profiles
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from typing import Any

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.resolve import resolve
from deficit_engine.route import build_route, with_plan


def _best(passes: int, run: Callable[[], None]) -> float:
    """The least CPU seconds of ``passes`` calls of ``run``."""
    best = float("inf")
    for _ in range(passes):
        t0 = time.process_time()
        run()
        best = min(best, time.process_time() - t0)
    return best


def measure(count: int, seed: int, repeat: int) -> dict[str, Any]:
    """Diagnose, resolve and route ``count`` synthetic profiles; the figures in µs per profile."""
    engine = Engine.from_path(backend="fast")
    kb = engine.kb
    profiles = list(synthetic_profiles(kb, count, seed))

    t0 = time.process_time()
    diagnosed = [engine.diagnose(p) for p in profiles]
    diagnose_s = time.process_time() - t0
    people = [(p, r) for p, r in diagnosed if r.ok]

    t0 = time.process_time()
    resolutions = [resolve(kb, p, r.needs, severities=r.severities) for p, r in people]
    resolve_s = time.process_time() - t0
    work = list(zip(people, resolutions, strict=True))
    routes = [build_route(kb, p, r, res) for (p, r), res in work]

    def route_all() -> None:
        for (p, r), res in work:
            build_route(kb, p, r, res)

    def plan_all() -> None:
        for ((_p, r), res), route in zip(work, routes, strict=True):
            with_plan(r, res, route)

    route_s = _best(repeat, route_all)
    plan_s = _best(repeat, plan_all)
    per = 1e6 / len(people)
    return {
        "profiles": len(people),
        "seed": seed,
        "steps_per_route": round(sum(len(r.steps) for r in routes) / len(routes), 1),
        "diagnose_us": round(diagnose_s * 1e6 / len(profiles), 1),
        "resolve_us": round(resolve_s * per, 1),
        "route_us": round(route_s * per, 1),
        "with_plan_us": round(plan_s * per, 1),
        "route_to_diagnose": round(route_s * per / (diagnose_s * 1e6 / len(profiles)), 4),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 000 profiles")
    args = parser.parse_args()
    count = 1000 if args.quick else args.profiles
    fig = measure(count, args.seed, args.repeat)
    steps = fig["steps_per_route"]
    print(f"profiles            {fig['profiles']} (seed {fig['seed']}), {steps} steps a route")
    print(f"diagnose            {fig['diagnose_us']:8.1f} µs/profile (fast backend)")
    print(f"resolve             {fig['resolve_us']:8.1f} µs/profile")
    print(f"route (build_route) {fig['route_us']:8.1f} µs/profile")
    print(f"with_plan           {fig['with_plan_us']:8.1f} µs/profile")
    print(f"route / diagnose    {fig['route_to_diagnose']:8.4f}")
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
