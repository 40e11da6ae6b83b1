"""Cohort plan CPU benchmark: µs of CPU per person of ``plan_cohort`` and ``plan_rows``.

A seeded synthetic cohort of the shipped KB (optionally with a synthetic mentor
pool of ``--mentors``, scarce enough that capacity binds) is diagnosed once
(``Engine.diagnose``, fast backend); then the plan is timed over the whole
cohort, in CPU time (``time.process_time``), the best of ``--repeat`` passes:

* ``plan_cohort`` from (Profile, Result) pairs, as ``Engine.plan_cohort`` and
  ``benchmarks/cohort.py`` call it;
* ``plan_rows`` from :class:`~deficit_engine.planner.PlanRow`\\ s made through one
  ``SharedValues`` (equal parts one object), as the planned batch keeps them;
* ``plan_programmes`` alone (programme places), on the same demands;
* the streamed batch parent's side (``batch_parent``): the rows kept as the
  parent keeps them (a ``RowTable``, written to a file where it takes one,
  ``spill``; with a planner that has none, shared again through a
  ``SharedValues``), then planned with ``StreamedPlan``, 256 Resolutions taken
  at a time.

``--against DIR`` also loads another tree's ``planner`` package (e.g. the
planner before a change: ``--against /work/main/src/deficit_engine/planner``)
beside this one, under another module name, over this tree's lower layers; the
passes of the two alternate, so their ratio is from one run, which the load of a
shared machine moves much less than the times themselves. The other planner's
plan is first checked to be the same as this one's (every Resolution, load,
school and team, as JSON); with ``--other-pick``, against a planner whose flow
may pick another of the equally good mentor plans (the network cut, flowcut),
only the plans' figures (people placed, bound, exactness) must be equal, and the
Resolutions that differ are counted.

Prints figures and, last, one JSON line of them. No timed assertions.

    python benchmarks/plan_speed.py                 # 3 000 people, the shipped pool
    python benchmarks/plan_speed.py --mentors 300   # a scarce synthetic pool
    python benchmarks/plan_speed.py --against /work/main/src/deficit_engine/planner
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import json
import platform
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from route_speed import _best  # the best-of-passes timer, alternating the runs

from deficit_engine import Engine, synthetic_profiles
from deficit_engine import planner as this_planner
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.synthetic import synthetic_mentors


def other_planner(folder: Path) -> ModuleType:
    """Another tree's ``planner`` package, imported as ``deficit_engine._planner_against``
    (its relative imports of the lower layers resolve to this tree's)."""
    name = "deficit_engine._planner_against"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no planner package in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cohort_kb(mentors: int, seed: int) -> KnowledgeBase:
    """The shipped KB, with a synthetic pool of ``mentors`` mentors when not 0."""
    kb = load_kb()
    if mentors:
        kb = dataclasses.replace(kb, mentors=synthetic_mentors(kb, mentors, seed=seed))
    return kb


def plan_json(plan: Any) -> str:
    """A plan as canonical JSON: what must be the same whichever planner made it."""
    stats = plan.stats.to_dict()
    del stats["seconds"]
    return json.dumps(
        {
            "stats": stats,
            "mentor_load": plan.mentor_load,
            "programme_load": plan.programme_load,
            "schools": [s.to_dict() for s in plan.schools],
            "teams": [t.to_dict() for t in plan.teams],
            "resolutions": [
                None
                if r is None
                else [[x.to_dict() for x in r.recommendations], [u.to_dict() for u in r.unmet]]
                for r in plan.resolutions
            ],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def batch_parent(module: ModuleType, kb: KnowledgeBase, rows: list[Any]) -> Any:
    """The streamed batch parent's side of the plan, with ``module``'s planner: the
    rows kept as it keeps them, planned, every Resolution taken a part at a time."""
    with tempfile.TemporaryDirectory() as folder:
        if hasattr(module, "RowTable"):
            spills = "spill" in inspect.signature(module.RowTable).parameters
            # written to a file as the batch's parent writes them, where it does
            options = {"spill": Path(folder) / "rows.pickle"} if spills else {}
            kept: Any = module.RowTable(rows, **options)
        else:
            shared = module.SharedValues()
            kept = [None if row is None else shared.row(row) for row in rows]
        stream = module.StreamedPlan(kb, kept)
        for _start in range(0, len(rows), 256):
            stream.take(256)
        return stream.finished()


def _other_pick(theirs: Any, ours: Any) -> int:
    """How many Resolutions two plans differ in, once their figures (people placed,
    the bound, exactness) are checked equal: another of equally good plans."""
    figures = ("mentees", "mentees_placed", "mentee_bound", "exact", "schools_placed")
    for name in figures:
        if getattr(theirs.stats, name) != getattr(ours.stats, name):
            raise SystemExit(f"another plan, not as good: {name}")
    return sum(1 for a, b in zip(theirs.resolutions, ours.resolutions, strict=True) if a != b)


def measure(
    count: int, mentors: int, seed: int, repeat: int, against: Path | None, other_pick: bool = False
) -> dict[str, Any]:
    """Diagnose ``count`` synthetic people once, then time the plans (see the docstring)."""
    kb = cohort_kb(mentors, seed)
    engine = Engine(kb, backend="fast")
    people: list[Any] = []
    for profile in synthetic_profiles(kb, count, seed=seed):
        validated, result = engine.diagnose(profile)
        people.append((validated, result) if result.ok else None)
    shared = this_planner.SharedValues()
    rows = [None if p is None else shared.row(this_planner.plan_row(kb, *p)) for p in people]
    _ = kb.index  # built once per KB: not part of a plan's time
    planners = {"this": this_planner}
    differ = 0
    if against is not None:
        planners["against"] = other_planner(against)
        theirs = planners["against"].plan_cohort(kb, people)
        ours = this_planner.plan_cohort(kb, people)
        if plan_json(theirs) != plan_json(ours):
            differ = _other_pick(theirs, ours)
            if not other_pick:
                raise SystemExit(f"{against}: another plan for the same cohort")
    runs: list[Callable[[], Any]] = []
    names: list[str] = []
    for who, module in planners.items():
        runs.append(partial(module.plan_cohort, kb, people))
        runs.append(partial(module.plan_rows, kb, rows))
        runs.append(partial(batch_parent, module, kb, rows))
        names += [f"{who}_plan_cohort", f"{who}_plan_rows", f"{who}_batch_parent"]
    seconds = _best(repeat, *runs)
    per = 1e6 / len(people)
    out: dict[str, Any] = {
        "people": len(people),
        "mentors": len(kb.mentors),
        "seed": seed,
        "stats": this_planner.plan_rows(kb, rows).stats.to_dict(),
    }
    for name, s in zip(names, seconds, strict=True):
        out[f"{name}_us"] = round(s * per, 1)
    if against is not None:
        out["against"] = str(against)
        for what in ("plan_cohort", "plan_rows", "batch_parent"):
            out[f"{what}_against_over_this"] = round(
                out[f"against_{what}_us"] / out[f"this_{what}_us"], 2
            )
        out["resolutions_differing"] = differ
    out["python"] = platform.python_version()
    out["machine"] = platform.machine()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--mentors", type=int, default=0, help="synthetic pool (0: shipped)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--other-pick",
        action="store_true",
        help="--against may pick another of the equally good mentor plans",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another tree's src/deficit_engine/planner, timed beside this one",
    )
    args = parser.parse_args()
    fig = measure(
        args.profiles, args.mentors, args.seed, args.repeat, args.against, args.other_pick
    )
    print(f"people              {fig['people']} (seed {fig['seed']}), {fig['mentors']} mentors")
    print(f"plan_cohort         {fig['this_plan_cohort_us']:8.1f} µs CPU/person")
    print(f"plan_rows (shared)  {fig['this_plan_rows_us']:8.1f} µs CPU/person")
    print(f"batch_parent        {fig['this_batch_parent_us']:8.1f} µs CPU/person")
    if args.against is not None:
        for what in ("plan_cohort", "plan_rows", "batch_parent"):
            print(
                f"{what + ' of --against':<20}{fig[f'against_{what}_us']:8.1f} µs CPU/person "
                f"(x{fig[f'{what}_against_over_this']} this; "
                f"{fig['resolutions_differing'] or 'no'} Resolutions differing)"
            )
    print(json.dumps(fig, ensure_ascii=False))


if __name__ == "__main__":
    main()
