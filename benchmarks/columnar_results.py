"""Results from the columnar outcome: distinct facts against a dict per fact, same run.

``Engine.diagnose_many`` turns each columnar run's outcome (``DerivedColumns``: the
derived facts as FactBlocks) into Results. It used to make a dict per derived fact
(``DerivedColumns.facts``) and read them back per profile (``Engine._result_of``:
a Need looked up by its fact's items, each competency's most severe deficit kept,
the needs sorted); it now makes each distinct fact's Need, Deficit and sort key once
per run and per profile only gathers rows sorted by integer keys
(``engine._Parts``, ``DerivedColumns.gather``, ``inference.columnar.by_profile``).

This prints, in µs of CPU per profile (``time.process_time``, cyclic GC paused as
``diagnose_many`` pauses it), on a seeded synthetic cohort cut into runs of
``COLUMNAR_RUN`` profiles, for the same outcomes: the columnar stage that makes them
(``base_columns`` + ``derive_columns``), the fact-dict path and the distinct-fact
path, repeats interleaved, the best of each, and their ratio. Both paths' Results must
be the same JSON, byte for byte, or it stops (exit 2) before any figure.

    python benchmarks/columnar_results.py [--profiles 8192] [--seed 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import sys

from resolve_speed import cpu  # CPU seconds with the cyclic GC paused, as diagnose_many runs

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.engine import COLUMNAR_RUN, _Parts
from deficit_engine.inference.columnar import DerivedColumns
from deficit_engine.models import Fact, Result
from deficit_engine.profile import Normalised
from deficit_engine.schema import Profile

Ready = list[tuple[Profile, Normalised, list[Fact]]]


def outcomes(engine: Engine, runs: list[Ready]) -> list[DerivedColumns]:
    """Each run's columnar outcome, as diagnose_many makes it."""
    rules = engine.columnar
    return [
        rules.derive_columns(rules.base_columns([f for *_r, f in run]), engine.firing_limit)
        for run in runs
    ]


def by_fact_dicts(engine: Engine, runs: list[Ready], made: list[DerivedColumns]) -> list[Result]:
    """The Results the fact-dict path makes: a dict per derived fact, then _result_of."""
    out = []
    for run, outcome in zip(runs, made, strict=True):
        for (prof, norm, _f), derived in zip(run, outcome.facts(), strict=True):
            assert derived is not None, "every generated profile is decided"
            out.append(engine._result_of(prof, derived, norm))
    return out


def by_distinct_facts(
    engine: Engine, runs: list[Ready], made: list[DerivedColumns]
) -> list[Result]:
    """The Results diagnose_many makes: each distinct fact's parts once per run."""
    out: list[Result] = []
    for run, outcome in zip(runs, made, strict=True):
        parts = _Parts.of(engine.kb, outcome)
        out.extend(
            engine._result_of_parts(prof, norm, parts, k) for k, (prof, norm, _f) in enumerate(run)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    engine = Engine.from_path(None, backend="fast")
    ready = [engine._prepare(p) for p in synthetic_profiles(engine.kb, args.profiles, args.seed)]
    runs = [ready[at : at + COLUMNAR_RUN] for at in range(0, len(ready), COLUMNAR_RUN)]
    made = outcomes(engine, runs)
    dicts = [r.to_json() for r in by_fact_dicts(engine, runs, made)]
    if dicts != [r.to_json() for r in by_distinct_facts(engine, runs, made)]:
        print("the two paths' Results differ", file=sys.stderr)
        return 2
    steps = {
        "columnar stage (base_columns + derive_columns)": lambda: outcomes(engine, runs),
        "Results by a dict per fact (facts + _result_of)": lambda: by_fact_dicts(
            engine, runs, made
        ),
        "Results by distinct facts (_Parts, diagnose_many)": lambda: by_distinct_facts(
            engine, runs, made
        ),
    }
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(args.repeats):
        for name, step in steps.items():
            best[name] = min(best[name], cpu(step))
    n = len(ready)
    print(f"{n:,} profiles, seed {args.seed}, runs of {COLUMNAR_RUN}, best of {args.repeats}")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    for name, seconds in best.items():
        print(f"  {name:52s} {seconds / n * 1e6:8.1f} µs/profile")
    old, new = (best[k] for k in list(steps)[1:])
    print(f"  distinct facts / dict per fact: {new / old:.3f} (identical JSON on {n:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
