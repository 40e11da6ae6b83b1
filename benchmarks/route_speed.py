"""Route benchmark: CPU µs per profile of the route stage, and its ratio to diagnosis.

A seeded synthetic cohort of the shipped KB is diagnosed (``Engine.diagnose``,
fast backend) and resolved (``resolve``) once; then the route stage is timed
over the whole cohort: ``build_route`` alone, and ``with_plan`` (the unmet
deficits the route leaves, and the Result's copy). Diagnosis is timed in the
same run, so the ratio route / diagnose does not depend on how busy the machine
is. Times are CPU time (``time.process_time``); each route figure is the best
of ``--repeat`` passes over the cohort.

``--against DIR`` also loads another tree's ``route`` package (e.g. the
route as it was before a change: ``git worktree add /tmp/before main``, then
``--against /tmp/before/src/deficit_engine/route``) beside this one, under
another module name, over this tree's lower layers; the passes of the two
alternate, and the ratio of their times is printed: a ratio from one run, which
the load of a shared machine moves much less than the times themselves. The
other route's output is checked to be the same as this one's first.

``--slices N`` (with ``--against``) also times the engine's route stage of the two
trees taking turns over slices of ``N`` profiles, the cyclic GC off, the first of
each pair alternating, ``--repeat`` rounds: the ratio over all slices and the
median of the slices' ratios. A pair of slices takes a fraction of a second, so a
load that comes and goes during a run falls on both of its halves alike, where
one whole-cohort pass may get it and the other not; one slow slice moves the
median little. One tree against an unchanged copy of its route, four runs of
2,000 profiles on a shared 2-core machine at a load average of 6-8: the slices
×0.989-1.009 (40 of 200 each run), their medians ×0.994-1.004, where the
whole-cohort passes gave ×0.95-1.00 for ``build_route`` and ×0.99-1.01 for the stage.

``--cold`` (with ``--against``) also times the two trees' route stages as
``Engine.evaluate`` runs them: per profile, diagnosed and resolved afresh, then
routed by both trees, the first of the pair alternating from profile to profile and
from round to round (``--repeat`` rounds; an even number routes each profile first
once by each tree); only the first of the pair counts, since the second finds the
person's data, its recommendations' rules and the route's code warm. The ratio
over all rounds and the median of the rounds'. The other figures route the same
people again and again, with their data in the cache, and show gains that
``evaluate`` does not (docs/performance.md, the route sections of issue 16).

mypyc is not shipped (the install must work without a compiler); to measure
what it would give, compile a copy and time it against the pure-Python tree::

    cp -r src pyproject.toml ontology rules /tmp/mypyc/ && cd /tmp/mypyc/src
    mypyc --config-file ../pyproject.toml deficit_engine/route/{layout,order,schedule,drafts}.py
    PYTHONPATH=/tmp/mypyc/src python <repo>/benchmarks/route_speed.py --quick \
        --against <repo>/src/deficit_engine/route

Prints figures and, last, one JSON line of them. No timed assertions.

    python benchmarks/route_speed.py            # 3 000 profiles
    python benchmarks/route_speed.py --quick    # 1 000 profiles
    python benchmarks/route_speed.py --against /tmp/before/src/deficit_engine/route
    python benchmarks/route_speed.py --against /work/main/src
    python benchmarks/route_speed.py --against /work/main/src --slices 200
    python benchmarks/route_speed.py --against /work/main/src --cold --repeat 4
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.gcpause import paused_gc
from deficit_engine.resolve import resolve
from deficit_engine.route import build_route, planned, with_plan


def _best(passes: int, *runs: Callable[[], None]) -> list[float]:
    """The least CPU seconds of ``passes`` calls of each of ``runs``, called in turn."""
    best = [float("inf")] * len(runs)
    for _ in range(passes):
        for i, run in enumerate(runs):
            t0 = time.process_time()
            run()
            best[i] = min(best[i], time.process_time() - t0)
    return best


def _other_route(folder: Path) -> Any:
    """Another tree's ``route`` package, imported as ``deficit_engine._route_against``
    (its relative imports of the lower layers resolve to this tree's); ``folder``
    is the package, or the tree's ``src``."""
    if (folder / "deficit_engine" / "route").is_dir():
        folder = folder / "deficit_engine" / "route"
    name = "deficit_engine._route_against"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no route package in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _slices(
    size: int, rounds: int, theirs: Callable[[Any], None], ours: Callable[[Any], None], work: Any
) -> dict[str, Any]:
    """``theirs`` and ``ours`` (each routing a list of people) taking turns over
    slices of ``size`` of ``work``, the first of each pair alternating, the cyclic GC
    off: the CPU ratio theirs / ours over all slices, and the median of the slices'
    (a slice that ``ours`` routed in no measurable time gives no ratio).

    Raises
    ------
    SystemExit
        When no slice gave a ratio.
    """
    ratios = []
    spent = {"theirs": 0.0, "ours": 0.0}
    runs = {"theirs": theirs, "ours": ours}
    gc.collect()
    with paused_gc():
        for turn in range(rounds):
            for k, at in enumerate(range(0, len(work), size)):
                part = work[at : at + size]
                pair = {}
                for who in ("theirs", "ours") if (k + turn) % 2 == 0 else ("ours", "theirs"):
                    t0 = time.process_time()
                    runs[who](part)
                    pair[who] = time.process_time() - t0
                    spent[who] += pair[who]
                if pair["ours"] > 0:
                    ratios.append(pair["theirs"] / pair["ours"])
    if not ratios:  # every slice too quick for the clock
        raise SystemExit(f"--slices {size}: no slice took measurable CPU time; take larger ones")
    return {
        "slices": len(ratios),
        "slice_size": size,
        "against_to_stage_slices": round(spent["theirs"] / spent["ours"], 3),
        "against_to_stage_slices_median": round(statistics.median(ratios), 3),
    }


def _cold(
    rounds: int,
    fresh: Callable[[], Iterable[Any]],
    theirs: Callable[[Any], None],
    ours: Callable[[Any], None],
) -> dict[str, Any]:
    """``theirs`` and ``ours`` (each routing one person) both on each person that
    ``fresh()`` gives (made as it is asked for: diagnosed and resolved), the first of
    each pair alternating, the cyclic GC off, ``rounds`` times: the CPU ratio theirs /
    ours of the first calls only, over all rounds, and the median of the rounds'.

    Raises
    ------
    SystemExit
        When no round gave a ratio.
    """
    ratios = []
    spent = {"theirs": 0.0, "ours": 0.0}
    runs = {"theirs": theirs, "ours": ours}
    gc.collect()
    with paused_gc():
        for turn in range(rounds):
            first = {"theirs": 0.0, "ours": 0.0}
            for k, person in enumerate(fresh()):
                pair = ("theirs", "ours") if (k + turn) % 2 == 0 else ("ours", "theirs")
                t0 = time.process_time()
                runs[pair[0]](person)
                first[pair[0]] += time.process_time() - t0
                runs[pair[1]](person)  # warm: not counted
            if first["ours"] > 0:
                ratios.append(first["theirs"] / first["ours"])
            for who, value in first.items():
                spent[who] += value
    if not ratios:  # every round too quick for the clock
        raise SystemExit("--cold: no round took measurable CPU time; take more profiles")
    return {
        "cold_rounds": len(ratios),
        "against_to_stage_cold": round(spent["theirs"] / spent["ours"], 3),
        "against_to_stage_cold_median": round(statistics.median(ratios), 3),
    }


def measure(
    count: int,
    seed: int,
    repeat: int,
    against: Path | None = None,
    slices: int = 0,
    cold: bool = False,
) -> dict[str, Any]:
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

    def stage_all() -> None:
        for (p, r), res in work:
            planned(kb, p, r, res)

    extra: dict[str, Any] = {}
    if against is None:
        route_s, plan_s, stage_s = _best(repeat, route_all, plan_all, stage_all)
    else:
        package = _other_route(against)
        other, other_plan = package.build_route, package.with_plan
        for ((p, r), res), route in zip(work, routes, strict=True):
            theirs = other(kb, p, r, res)
            if theirs.to_dict() != route.to_dict():
                raise SystemExit(f"{against}: another route for {r.profile}")
            if other_plan(r, res, theirs).to_dict() != with_plan(r, res, route).to_dict():
                raise SystemExit(f"{against}: another planned Result for {r.profile}")

        def other_all() -> None:
            for (p, r), res in work:
                other(kb, p, r, res)

        def other_plan_all() -> None:
            for ((_p, r), res), route in zip(work, routes, strict=True):
                other_plan(r, res, route)

        # the engine's route stage as the other tree has it: planned(), or
        # build_route() then with_plan() where it has no planned()
        other_planned = getattr(package, "planned", None)

        def other_stage(part: Any) -> None:
            if other_planned is not None:
                for (p, r), res in part:
                    other_planned(kb, p, r, res)
            else:
                for (p, r), res in part:
                    other_plan(r, res, other(kb, p, r, res))

        def other_stage_all() -> None:
            other_stage(work)

        def stage(part: Any) -> None:
            for (p, r), res in part:
                planned(kb, p, r, res)

        route_s, plan_s, stage_s, other_s, other_plan_s, other_stage_s = _best(
            repeat, route_all, plan_all, stage_all, other_all, other_plan_all, other_stage_all
        )
        extra = {
            "against": str(against),
            "against_us": round(other_s * 1e6 / len(people), 1),
            "against_to_route": round(other_s / route_s, 2),
            "against_with_plan_us": round(other_plan_s * 1e6 / len(people), 1),
            "against_to_both": round((other_s + other_plan_s) / (route_s + plan_s), 2),
            "against_stage_us": round(other_stage_s * 1e6 / len(people), 1),
            "against_to_stage": round(other_stage_s / stage_s, 2),
        }
        if slices > 0:
            extra.update(_slices(slices, repeat, other_stage, stage, work))
        if cold:

            def fresh() -> Iterable[Any]:  # as evaluate makes them, one after another
                for p in profiles:
                    prof, r = engine.diagnose(p)
                    if r.ok:
                        yield (prof, r), resolve(kb, prof, r.needs, severities=r.severities)

            extra.update(
                _cold(repeat, fresh, lambda one: other_stage([one]), lambda one: stage([one]))
            )
    per = 1e6 / len(people)
    return {
        "profiles": len(people),
        "seed": seed,
        "steps_per_route": round(sum(len(r.steps) for r in routes) / len(routes), 1),
        "diagnose_us": round(diagnose_s * 1e6 / len(profiles), 1),
        "resolve_us": round(resolve_s * per, 1),
        "route_us": round(route_s * per, 1),
        "with_plan_us": round(plan_s * per, 1),
        "stage_us": round(stage_s * per, 1),
        "route_to_diagnose": round(route_s * per / (diagnose_s * 1e6 / len(profiles)), 4),
        **extra,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 000 profiles")
    parser.add_argument(
        "--against",
        type=Path,
        help="another tree's src (or its src/deficit_engine/route), timed beside this one",
    )
    parser.add_argument(
        "--slices",
        type=int,
        default=0,
        metavar="N",
        help="with --against: also the stages taking turns over slices of N profiles",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="with --against: also the stages as evaluate runs them (the first of a pair counts)",
    )
    args = parser.parse_args()
    if args.slices and args.against is None:
        parser.error("--slices needs --against")
    if args.cold and args.against is None:
        parser.error("--cold needs --against")
    count = 1000 if args.quick else args.profiles
    fig = measure(count, args.seed, args.repeat, args.against, args.slices, args.cold)
    steps = fig["steps_per_route"]
    print(f"profiles            {fig['profiles']} (seed {fig['seed']}), {steps} steps a route")
    print(f"diagnose            {fig['diagnose_us']:8.1f} µs/profile (fast backend)")
    print(f"resolve             {fig['resolve_us']:8.1f} µs/profile")
    print(f"route (build_route) {fig['route_us']:8.1f} µs/profile")
    print(f"with_plan           {fig['with_plan_us']:8.1f} µs/profile")
    print(f"route stage         {fig['stage_us']:8.1f} µs/profile (planned: both in one)")
    print(f"route / diagnose    {fig['route_to_diagnose']:8.4f}")
    if "against" in fig:
        print(f"route of --against  {fig['against_us']:8.1f} µs/profile (same output)")
        print(f"against / route     {fig['against_to_route']:8.2f} (passes alternating)")
        print(f"with_plan of --against {fig['against_with_plan_us']:5.1f} µs/profile")
        print(f"against / both      {fig['against_to_both']:8.2f} (build_route + with_plan)")
        print(f"stage of --against  {fig['against_stage_us']:8.1f} µs/profile")
        print(f"against / stage     {fig['against_to_stage']:8.2f} (the engine's route stage)")
    if "slices" in fig:
        print(
            f"against / stage in slices {fig['against_to_stage_slices']:.3f} over "
            f"{fig['slices']} slices of {fig['slice_size']}, median "
            f"{fig['against_to_stage_slices_median']:.3f} (taking turns, GC off)"
        )
    if "cold_rounds" in fig:
        print(
            f"against / stage cold {fig['against_to_stage_cold']:.3f} over "
            f"{fig['cold_rounds']} rounds, median {fig['against_to_stage_cold_median']:.3f} "
            "(each person diagnosed and resolved afresh, then routed by both: the first counts)"
        )
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
