"""One profile's ``Engine.evaluate``: CPU µs per stage and wall p50/p90, and other trees.

On a seeded synthetic cohort (``deficit_engine.synthetic_profiles``) and the fast
backend, each profile alone, as ``evaluate`` runs it:

* CPU µs per profile (``time.process_time``, the cyclic GC paused; per slice of
  100 profiles the best of ``--repeat`` passes) of each stage: validation
  (``Engine.parse``, or ``parsed_apart_or_whole`` in a tree whose ``evaluate``
  validates a row's results apart), normalise and base facts, inference (``Engine._infer``),
  building the Result, resolve, route;
  and of the same rules hand-coded in plain Python (``benchmarks/handcoded.py``) on
  the same base facts, with the inference's ratio to it;
* ``Engine.evaluate`` wall ms per profile, p50 and p90 (one call per profile, the
  GC on, as a caller sees it), against issue 16's target of p50 <= 0.5 ms.

``--against DIR`` times another source tree (``DIR/src``, e.g. ``/work/main``) in
the same run: each tree runs in its own process, and the processes take turns
slice by slice, so a neighbour's burst on a shared machine falls on both alike.
Compare the ratios; absolute times are noisy. Before timing, every tree's
Results for the cohort must be byte-identical in JSON (trace included) to this
tree's, or the run stops (exit 2).

    python benchmarks/evaluate_speed.py [--profiles 2000] [--seed 16] [--repeat 3]
                                        [--against /work/main ...]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: The stages, in pipeline order, with their labels.
STAGES = (
    ("validate", "validation (parse)"),
    ("normalise", "normalise + base facts"),
    ("infer", "inference (fast backend)"),
    ("result", "building the Result"),
    ("resolve", "resolve"),
    ("route", "route"),
)
TARGET_P50_MS = 0.5
#: Profiles per turn: the trees alternate after each slice of the cohort.
SLICE = 100


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class Tree:
    """One source tree's engine on the cohort, in this process (a worker's side)."""

    def __init__(self, profiles: int, seed: int) -> None:
        sys.path.insert(0, str(HERE))  # handcoded.py, beside this file
        from handcoded import HandCoded

        from deficit_engine import Engine, synthetic_profiles

        self.engine = Engine.from_path(backend="fast")
        kb = self.engine.kb
        self.raw = list(synthetic_profiles(kb, profiles, seed))
        onto = kb.ontology
        self.hand = HandCoded({c: onto.group_of(c) for c in onto.competencies})
        for p in self.raw[:50]:  # warm: the KB's indexes, the compiled rules
            self.engine.evaluate(p)

    def digest(self) -> str:
        """SHA-256 of every Result's JSON, trace included, in cohort order."""
        h = hashlib.sha256()
        for p in self.raw:
            h.update(self.engine.evaluate(p).to_json().encode())
        return h.hexdigest()

    def stages(self, start: int, stop: int) -> dict[str, float]:
        """CPU seconds per stage over profiles ``start:stop``, and the hand-coded rules'."""
        from deficit_engine import profile as read
        from deficit_engine import route as stage
        from deficit_engine.engine import base_facts
        from deficit_engine.profile import normalise
        from deficit_engine.resolve import resolve
        from deficit_engine.route import build_route, with_plan

        # the route stage as the tree's evaluate runs it (planned(), where it has one)
        planned = getattr(stage, "planned", None)
        # validation and normalising as the tree's evaluate runs them: a row's results
        # checked and normalised as dicts, where the tree does so
        apart = getattr(read, "parsed_apart_or_whole", None)

        engine, kb = self.engine, self.engine.kb
        spent = dict.fromkeys([k for k, _ in STAGES] + ["hand"], 0.0)
        clock = time.process_time
        gc.collect()
        gc.disable()
        try:
            for p in self.raw[start:stop]:
                t0 = clock()
                if apart is not None:
                    prof, results = apart(p, kb, fields_set_kept=False)
                else:
                    prof, results = engine.parse(p), None
                t1 = clock()
                if results is None:
                    norm = normalise(prof, kb)
                else:
                    norm = read.normalise_apart(prof, results, kb)
                facts = base_facts(norm, kb)
                t2 = clock()
                trace = engine._infer(norm, facts)
                t3 = clock()
                diagnosis = engine._result(prof, trace, norm)
                t4 = clock()
                resolution = resolve(kb, prof, diagnosis.needs, severities=diagnosis.severities)
                t5 = clock()
                if planned is not None:
                    planned(kb, prof, diagnosis, resolution)
                else:
                    with_plan(diagnosis, resolution, build_route(kb, prof, diagnosis, resolution))
                t6 = clock()
                self.hand.run(facts)
                t7 = clock()
                for key, a, b in zip(
                    spent, (t0, t1, t2, t3, t4, t5, t6), (t1, t2, t3, t4, t5, t6, t7), strict=True
                ):
                    spent[key] += b - a
        finally:
            gc.enable()
        return spent

    def latency(self, start: int, stop: int) -> list[float]:
        """Wall seconds of ``evaluate`` for each of profiles ``start:stop``, the GC on."""
        evaluate, clock = self.engine.evaluate, time.perf_counter
        out = []
        for p in self.raw[start:stop]:
            start = clock()
            evaluate(p)
            out.append(clock() - start)
        return out


def _serve(profiles: int, seed: int) -> None:
    """A worker: one JSON request per line on stdin, one JSON answer per line out."""
    tree = Tree(profiles, seed)
    calls: dict[str, Callable[..., Any]] = {
        "digest": tree.digest,
        "stages": tree.stages,
        "latency": tree.latency,
    }
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        call, *args = json.loads(line)
        print(json.dumps(calls[call](*args)), flush=True)


class Worker:
    """A tree's worker process, from the parent's side."""

    def __init__(self, name: str, src: Path, profiles: int, seed: int) -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=str(src))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", f"--profiles={profiles}", f"--seed={seed}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.ask_ready()

    def ask_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if json.loads(line or "null") != "ready":
            raise SystemExit(f"{self.name}: its worker did not start")

    def ask(self, call: str, *args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([call, *args]) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _report(name: str, best: dict[str, float], wall: list[float], n: int) -> dict[str, float]:
    us = {k: v / n * 1e6 for k, v in best.items()}
    us["total"] = sum(us[k] for k, _ in STAGES)
    p50, p90 = _percentile(wall, 50) * 1000, _percentile(wall, 90) * 1000
    print(f"\n== {name}")
    for key, label in STAGES:
        print(f"  {label:<28}{us[key]:>9.1f} µs CPU  {us[key] / us['total']:>6.1%}")
    print(f"  {'sum of the stages':<28}{us['total']:>9.1f} µs CPU")
    print(f"  {'hand-coded Python rules':<28}{us['hand']:>9.1f} µs CPU")
    print(f"  inference / hand-coded      ×{us['infer'] / us['hand']:.2f}")
    met = "met" if p50 <= TARGET_P50_MS else "not met"
    print(
        f"  evaluate wall: p50 {p50:.3f} ms, p90 {p90:.3f} ms "
        f"(target p50 <= {TARGET_P50_MS} ms: {met})"
    )
    return {**us, "p50_ms": p50, "p90_ms": p90}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures (or serve as one tree's worker, with ``--serve``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="passes per tree; the best counts")
    parser.add_argument(
        "--against", action="append", default=[], metavar="DIR", help="another tree to time"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.profiles, args.seed)
        return 0
    trees = [("this tree", HERE.parent / "src")]
    trees += [(str(Path(d).resolve()), Path(d).resolve() / "src") for d in args.against]
    print(
        f"{args.profiles} profiles (seed {args.seed}), fast backend, best of {args.repeat} "
        f"passes; Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores"
    )
    workers = [Worker(name, src, args.profiles, args.seed) for name, src in trees]
    try:
        digests = {w.name: w.ask("digest") for w in workers}
        if len(set(digests.values())) != 1:
            print(f"the trees' Results differ (SHA-256 of their JSON): {digests}")
            return 2
        print("Results byte-identical across the trees (JSON with traces)")
        # per slice of the cohort, the best of the passes; the trees take turns slice by
        # slice, so that a burst of other work on the machine falls on all of them alike
        best: dict[tuple[str, int], dict[str, float]] = {}
        wall: dict[str, list[float]] = {w.name: [] for w in workers}
        slices = range(0, args.profiles, SLICE)
        for n in range(args.repeat):
            for start in slices:
                # the order of the turns alternates: the first to run after a pause is
                # seen to run slower
                turn = workers if (n + start // SLICE) % 2 == 0 else workers[::-1]
                for w in turn:
                    spent = w.ask("stages", start, start + SLICE)
                    mine = best.setdefault((w.name, start), spent)
                    for key, value in spent.items():
                        mine[key] = min(mine[key], value)
        for start in slices:
            for w in workers:
                wall[w.name] += w.ask("latency", start, start + SLICE)
    finally:
        for w in workers:
            w.close()
    figures = {}
    for w in workers:
        total = {k: sum(best[w.name, s][k] for s in slices) for k in best[w.name, 0]}
        figures[w.name] = _report(w.name, total, wall[w.name], args.profiles)
    if len(workers) > 1:
        mine = figures["this tree"]
        for name, theirs in list(figures.items())[1:]:
            print(f"\n== this tree / {name} (same run)")
            for key, label in (*STAGES, ("total", "sum of the stages")):
                print(f"  {label:<28}×{mine[key] / theirs[key]:.2f}")
            print(f"  {'evaluate wall p50':<28}×{mine['p50_ms'] / theirs['p50_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
