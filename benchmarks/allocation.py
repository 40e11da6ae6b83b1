"""Cohort plan benchmark: the planner at a region's size (about 60 000 teachers, 1 000 mentors).

The shipped KB with a seeded synthetic mentor pool (``synthetic_mentors``) and
a seeded synthetic cohort (``synthetic_profiles``). The cohort is diagnosed
(``evaluate_many``, stage "diagnose", 2 workers: diagnosis does not read the
mentor pool), then ``plan_cohort`` is timed as a whole, and a second time with
its parts timed: the planner's own module-level functions and the OR-Tools
solvers' ``solve`` are wrapped with timers for that run (no planner code is
copied here, so the parts are those of the real run). The plan is checked: no
mentor over capacity, no person with two mentors of one form, placed mentees
against the max-flow bound.

"Why OR-Tools": on a smaller cohort (``--nx-people``, ``--nx-mentors``) the
very network ``allocate`` builds is also solved by networkx's network simplex
(pure Python); both optimal costs must be equal, and the ratio of times is
measured in the same run.

Prints figures and, last, one JSON line of them. No timed assertions.

    python benchmarks/allocation.py            # 60 000 people, 1 000 mentors (minutes)
    python benchmarks/allocation.py --quick    # 5 000 people, 100 mentors
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import networkx as nx
import numpy as np
from ortools.graph.python import max_flow, min_cost_flow

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.engine import evaluate_many
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.planner import CohortPlan, plan, plan_cohort, programmes
from deficit_engine.resolve.allocate import Allocation, Arc, allocate
from deficit_engine.resolve.allocate import arc_costs as flow_costs
from deficit_engine.synthetic import synthetic_mentors

Person = Any  # (Profile, Result) or None, as plan_cohort takes them

#: The planner functions whose time is reported: module globals of planner/plan.py
#: and planner/programmes.py, looked up at call time, and one method of plan's
#: _Candidates (looked up on its class), so wrapping them times the real calls.
PARTS = (
    (plan, "_rows"),
    (plan, "school_profiles_of"),
    (plan, "flag_schools"),
    (plan, "_read"),
    (plan, "_allocate_mentors"),
    (plan, "flow_arcs"),
    (plan, "allocate_arrays"),
    (plan._Candidates, "serving"),
    (plan, "_unplaced"),
    (plan, "_mentee_bound"),
    (plan, "_demand"),
    (plan, "plan_programme_outcomes"),
    (plan, "mentor_recommendations"),
    (plan, "resolve_formats"),
    (programmes, "_one_pass"),
    (programmes, "candidates"),
    (programmes, "programme_cover"),
    (programmes, "_undersized"),
)


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def region_kb(mentors: int, seed: int) -> KnowledgeBase:
    """The shipped KB with a synthetic pool of ``mentors`` mentors."""
    shipped = load_kb()
    return dataclasses.replace(shipped, mentors=synthetic_mentors(shipped, mentors, seed=seed))


def diagnose(kb: KnowledgeBase, people: int, seed: int, workers: int) -> list[Person]:
    """The cohort diagnosed, as plan_cohort takes it (None for an error Result)."""
    profiles = synthetic_profiles(kb, people, seed=seed)
    engine = Engine(kb, backend="fast")
    out: list[Person] = []
    for profile, result in evaluate_many(engine, profiles, workers, stage="diagnose"):
        out.append((profile, result) if profile is not None and result.ok else None)
    return out


# --- timing the planner's parts ------------------------------------------------------------


class Timers:
    """Seconds and calls per part."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.captured: list[tuple[Any, ...]] = []
        self.cuts: list[tuple[int, int]] = []  # per flow: (arcs kept, arcs in all)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed


@contextmanager
def instrumented(timers: Timers, capture: bool = False) -> Iterator[None]:
    """Wrap the planner's parts and the solvers' ``solve`` with timers; restore after."""
    saved = {(module, name): getattr(module, name) for module, name in PARTS}
    solvers = (min_cost_flow.SimpleMinCostFlow, max_flow.SimpleMaxFlow)

    def solver_class(base: type, name: str) -> type:
        def solve(self: Any, *args: Any) -> Any:
            start = time.perf_counter()
            try:
                return base.solve(self, *args)  # type: ignore[attr-defined]
            finally:
                timers.seconds[name] += time.perf_counter() - start
                timers.calls[name] += 1

        return type(base.__name__, (base,), {"solve": solve})

    for (module, name), fn in saved.items():
        setattr(module, name, timers.wrap(name, fn))
    timed_arcs = getattr(plan, "flow_arcs")  # noqa: B009 - a private import

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = timed_arcs(*args, **kwargs)
        timers.cuts.append((len(found.full), found.arcs))
        return found

    setattr(plan, "flow_arcs", counting)  # noqa: B010
    if capture:
        timed_allocate = getattr(plan, "allocate_arrays")  # noqa: B009 - a private import

        def capturing(owners: Any, *arrays: Any, **kwargs: Any) -> Any:
            unit, mentor, prio, loc, nosubj, capacity = arrays[:6]
            arcs = [
                Arc(u, m, (), p, lo, ns)
                for u, m, p, lo, ns in zip(
                    unit.tolist(),
                    mentor.tolist(),
                    prio.tolist(),
                    loc.tolist(),
                    nosubj.tolist(),
                    strict=True,
                )
            ]
            secondary = set(arrays[6]) if len(arrays) > 6 else set(kwargs.get("secondary", ()))
            timers.captured.append((owners.tolist(), arcs, capacity.tolist(), secondary))
            return timed_allocate(owners, *arrays, **kwargs)

        setattr(plan, "allocate_arrays", capturing)  # noqa: B010
    min_cost_flow.SimpleMinCostFlow = solver_class(solvers[0], "min_cost_flow.solve")
    max_flow.SimpleMaxFlow = solver_class(solvers[1], "max_flow.solve")
    try:
        yield
    finally:
        for (module, name), fn in saved.items():
            setattr(module, name, fn)
        min_cost_flow.SimpleMinCostFlow, max_flow.SimpleMaxFlow = solvers


# --- checks -------------------------------------------------------------------------------


def check_plan(kb: KnowledgeBase, people: Sequence[Person], cohort: CohortPlan) -> dict[str, Any]:
    """Capacity and one mentor per form, read back from the plan's recommendations."""
    mentees: dict[str, set[str]] = {}
    two_of_a_form = 0
    for person, resolution in zip(people, cohort.resolutions, strict=True):
        if person is None or resolution is None:
            continue
        forms: Counter[str] = Counter()
        for rec in resolution.recommendations:
            if rec.kind == "mentor":
                mentees.setdefault(rec.id, set()).add(person[0].id)
                forms.update(rec.get("forms") or ())
        two_of_a_form += any(n > 1 for n in forms.values())
    for team in cohort.teams:
        if team.mentor is not None:
            mentees.setdefault(team.mentor, set()).add("school:" + team.flag.organization)

    def capacity(mid: str) -> int:
        # a colleague of the cohort (planning.colleague_mentors) is no KB mentor
        known = kb.mentors.get(mid)
        return known.capacity if known is not None else kb.planning.planning.colleague_load

    over_people = sum(1 for m, who in mentees.items() if len(who) > capacity(m))
    over_load = sum(1 for m, n in cohort.mentor_load.items() if n > capacity(m))
    return {
        "mentors_over_capacity": over_people,
        "mentors_over_capacity_pairings": over_load,
        "people_with_two_mentors_of_one_form": two_of_a_form,
        "capacity_respected": over_people == 0 and over_load == 0 and two_of_a_form == 0,
        "mentors_used": len(mentees),
        "capacity_used": sum(cohort.mentor_load.values()),
        "capacity_total": sum(m.capacity for m in kb.mentors.values()),
    }


# --- networkx on the same network ---------------------------------------------------------


def arc_costs(owners: Sequence[int], arcs: Sequence[Arc], got: Allocation) -> list[int]:
    """Each pairing arc's cost, computed by allocate's own function."""
    table = np.array([(a.unit, a.mentor, a.prio, a.loc, a.nosubj) for a in arcs], np.int64).reshape(
        -1, 5
    )
    unit, mentor, prio, loc, nosubj = (table[:, i] for i in range(5))
    costs = flow_costs(np.asarray(owners, np.int64), unit, mentor, prio, loc, nosubj, got.weights)
    return [int(c) for c in costs.tolist()]


def allocation_cost(
    owners: Sequence[int], arcs: Sequence[Arc], secondary: set[int], got: Allocation
) -> int:
    """The optimal cost of allocate's network, read from its chosen arcs."""
    costs = arc_costs(owners, arcs, got)
    picked = [k for k in got.chosen if k >= 0]
    placed = {owners[arcs[k].unit] for k in picked}
    bonus = sum(got.weights.second if o in secondary else got.weights.owner for o in placed)
    return sum(costs[k] for k in picked) - bonus


def networkx_graph(
    owners: Sequence[int],
    arcs: Sequence[Arc],
    capacity: Sequence[int],
    secondary: set[int],
    got: Allocation,
) -> nx.DiGraph:
    """allocate's flow network (same nodes, arcs, capacities and costs) as a networkx graph;
    the parallel source -> owner arc goes through a helper node, as DiGraph has no multi-arcs."""
    w = got.weights
    n = len(owners)
    g = nx.DiGraph()
    g.add_node("s", demand=-n)
    g.add_node("t", demand=n)
    g.add_edge("s", "t", capacity=n, weight=0)
    for o, k in Counter(owners).items():
        g.add_edge("s", ("o", o), capacity=1, weight=-(w.second if o in secondary else w.owner))
        if k > 1:
            g.add_edge("s", ("o+", o), capacity=k - 1, weight=0)
            g.add_edge(("o+", o), ("o", o), capacity=k - 1, weight=0)
    for u, o in enumerate(owners):
        g.add_edge(("o", o), ("u", u), capacity=1, weight=0)
    for a, cost in zip(arcs, arc_costs(owners, arcs, got), strict=True):
        g.add_edge(("u", a.unit), ("m", a.mentor), capacity=1, weight=cost)
    for m, cap in enumerate(capacity):
        g.add_edge(("m", m), "t", capacity=cap, weight=0)
    return g


def compare_networkx(problem: tuple[Any, ...], repeats: int) -> dict[str, Any]:
    """OR-Tools (allocate, building included) against networkx on the same network."""
    owners, arcs, capacity, secondary = problem
    ortools_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        got = allocate(owners, arcs, capacity, secondary=secondary)
        ortools_s.append(time.perf_counter() - start)
    start = time.perf_counter()
    g = networkx_graph(owners, arcs, capacity, secondary, got)
    build = time.perf_counter() - start
    start = time.perf_counter()
    flow = nx.min_cost_flow(g)
    solve = time.perf_counter() - start
    nx_cost = nx.cost_of_flow(g, flow)
    ours = allocation_cost(owners, arcs, secondary, got)
    ortools = statistics.median(ortools_s)
    return {
        "units": len(owners),
        "arcs": len(arcs),
        "mentors": len(capacity),
        "ortools_allocate_s": round(ortools, 4),
        "networkx_build_s": round(build, 3),
        "networkx_solve_s": round(solve, 3),
        "networkx_over_ortools": round((build + solve) / ortools, 1),
        "same_optimal_cost": nx_cost == ours,
    }


# --- the run -------------------------------------------------------------------------------


def timed_plan(kb: KnowledgeBase, people: Sequence[Person]) -> tuple[CohortPlan, float]:
    start = time.perf_counter()
    cohort = plan_cohort(kb, people)
    return cohort, time.perf_counter() - start


def parts_of(timers: Timers, total: float) -> dict[str, float]:
    """The parts of one instrumented plan, in seconds; "rest" is what no part covers."""
    s = timers.seconds
    mentors = s["_allocate_mentors"]
    programmes = s["plan_programme_outcomes"]
    schools = s["school_profiles_of"] + s["flag_schools"]
    out = {
        "mentor_allocation": mentors,
        "  candidate_arcs (flow_arcs: found and cut, numpy)": s["flow_arcs"],
        "  allocate_arrays (network + solve)": s["allocate_arrays"],
        "    min_cost_flow.solve": s["min_cost_flow.solve"],
        "  max_flow_bound (_mentee_bound)": s["_mentee_bound"],
        "    max_flow.solve": s["max_flow.solve"],
        "  the rest of the mentor part": (
            mentors - s["flow_arcs"] - s["allocate_arrays"] - s["_mentee_bound"]
        ),
        "programme_places": programmes,
        "  plan_programme_outcomes": s["plan_programme_outcomes"],
        "    passes (_one_pass)": s["_one_pass"],
        "      candidates (memoised)": s["candidates"],
        "      programme_cover": s["programme_cover"],
        "    min group check (_undersized)": s["_undersized"],
        "school_profiles_and_flags": schools,
        "rows (plan_row per person)": s["_rows"],
        "rows read: demands and seekers (_read)": s["_read"],
        "  demands (_demand)": s["_demand"],
        "rest (per-person assembly)": (
            total - s["_rows"] - mentors - programmes - schools - s["_read"]
        ),
        "  mentor_recommendations": s["mentor_recommendations"],
        # made per person as their Resolution is (plan._Choices), not in the flows
        "  reasons: who could serve each need (serving)": s["serving"],
        "  unplaced units' reasons (_unplaced)": s["_unplaced"],
        "  resolve_formats": s["resolve_formats"],
    }
    return {k: round(v, 3) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=60_000)
    parser.add_argument("--mentors", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2, help="diagnosing processes")
    parser.add_argument("--nx-people", type=int, default=2_000, help="cohort for networkx")
    parser.add_argument("--nx-mentors", type=int, default=100, help="pool for networkx")
    parser.add_argument(
        "--nx-full",
        action="store_true",
        help="also solve the full-size network with networkx (minutes, GBs)",
    )
    parser.add_argument("--quick", action="store_true", help="5 000 people, 100 mentors")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.mentors = 5_000, 100

    def say(text: str) -> None:
        print(text, flush=True)

    figures: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "seed": args.seed,
        "people": args.people,
        "mentors": args.mentors,
    }
    say(
        f"cohort plan benchmark: {args.people:,} people, {args.mentors:,} mentors, "
        f"seed {args.seed}, Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    kb = region_kb(args.mentors, args.seed)
    start = time.perf_counter()
    people = diagnose(kb, args.people, args.seed, args.workers)
    figures["diagnose_s"] = round(time.perf_counter() - start, 2)
    figures["rss_after_diagnosis_mb"] = round(peak_rss_mb())
    say(
        f"{'diagnose (' + str(args.workers) + ' workers)':<36}{figures['diagnose_s']:.1f} s  "
        f"({sum(p is not None for p in people):,} diagnosed)"
    )

    _ = kb.index  # the catalogue index is built once per KB: not part of a plan's time
    cpu = time.process_time()
    cohort, total = timed_plan(kb, people)
    cpu = time.process_time() - cpu
    figures["plan_cohort_s"] = round(total, 3)
    # CPU time per person: what the national budget (200 us a person for everything) is in
    figures["plan_cohort_cpu_us_per_person"] = round(cpu / max(args.people, 1) * 1e6, 1)
    figures["plan_stats"] = cohort.stats.to_dict()
    say(
        f"{'plan_cohort, whole':<36}{total:.2f} s "
        f"(CPU {figures['plan_cohort_cpu_us_per_person']:.0f} us per person)"
    )
    del cohort

    timers = Timers()
    with instrumented(timers, capture=True):
        cohort, total_timed = timed_plan(kb, people)
    figures["plan_cohort_instrumented_s"] = round(total_timed, 3)
    figures["parts_s"] = parts_of(timers, total_timed)
    figures["calls"] = dict(timers.calls)
    say(f"{'plan_cohort, with part timers':<36}{total_timed:.2f} s")
    for part, seconds in figures["parts_s"].items():
        say(f"  {part:<34}{seconds:8.3f} s")

    full_problem = timers.captured[0]
    owners, arcs, capacity, secondary = full_problem
    stats = cohort.stats
    figures["network"] = {
        "units": len(owners),
        "owners": len(set(owners)),
        "arcs": len(arcs),
        "arcs_whole": timers.cuts[0][1],
        "mentors": len(capacity),
        "schools_seeking": len(secondary),
    }
    figures["placement"] = {
        "mentees": stats.mentees,
        "placed": stats.mentees_placed,
        "bound": stats.mentee_bound,
        "placed_of_bound_pct": round(100 * stats.mentees_placed / stats.mentee_bound, 2)
        if stats.mentee_bound
        else None,
        "units_placed": stats.units_placed,
        "schools_flagged": stats.schools_flagged,
        "schools_placed": stats.schools_placed,
        "exact": stats.exact,
    }
    figures["checks"] = check_plan(kb, people, cohort)
    del cohort, people, timers
    net, place, checks = figures["network"], figures["placement"], figures["checks"]
    say(
        f"{'network':<36}{net['units']:,} units of {net['owners']:,} owners, "
        f"{net['arcs']:,} arcs kept of {net['arcs_whole']:,}, {net['mentors']:,} mentors"
    )
    say(
        f"{'mentees placed / max-flow bound':<36}{place['placed']:,} / {place['bound']:,} "
        f"({place['placed_of_bound_pct']} %) of {place['mentees']:,} mentees; "
        f"exact objective: {place['exact']}"
    )
    say(
        f"{'capacity respected':<36}{checks['capacity_respected']} "
        f"(over capacity {checks['mentors_over_capacity']}, two of a form "
        f"{checks['people_with_two_mentors_of_one_form']}; places used "
        f"{checks['capacity_used']:,} of {checks['capacity_total']:,})"
    )
    figures["peak_rss_mb"] = round(peak_rss_mb())
    say(f"{'peak RSS (this process)':<36}{figures['peak_rss_mb']} MB")

    small_kb = region_kb(args.nx_mentors, args.seed)
    small = diagnose(small_kb, args.nx_people, args.seed, args.workers)
    timers = Timers()
    with instrumented(timers, capture=True):
        plan_cohort(small_kb, small)
    cmp = compare_networkx(timers.captured[0], repeats=3)
    cmp["people"], cmp["pool"] = args.nx_people, args.nx_mentors
    figures["networkx_vs_ortools"] = cmp
    say(
        f"{'networkx vs OR-Tools':<36}{args.nx_people:,} people, {args.nx_mentors} mentors: "
        f"{cmp['units']:,} units, {cmp['arcs']:,} arcs; "
        f"OR-Tools {cmp['ortools_allocate_s']:.3f} s, "
        f"networkx {cmp['networkx_build_s'] + cmp['networkx_solve_s']:.2f} s "
        f"(x{cmp['networkx_over_ortools']}); same optimum: {cmp['same_optimal_cost']}"
    )
    if args.nx_full:
        del small, timers
        cmp = compare_networkx(full_problem, repeats=1)
        figures["networkx_vs_ortools_full"] = cmp
        say(
            f"{'networkx vs OR-Tools, full size':<36}{cmp['units']:,} units, "
            f"{cmp['arcs']:,} arcs; OR-Tools {cmp['ortools_allocate_s']:.3f} s, networkx "
            f"{cmp['networkx_build_s'] + cmp['networkx_solve_s']:.1f} s "
            f"(x{cmp['networkx_over_ortools']}); same optimum: {cmp['same_optimal_cost']}"
        )
        figures["peak_rss_mb_with_networkx"] = round(peak_rss_mb())
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
