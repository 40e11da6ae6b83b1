"""Resolve: CPU µs per profile, and its ratio to diagnosis, in the same run.

A seeded synthetic cohort from the shipped KB is diagnosed (fast backend, one
profile at a time), then each person's needs are resolved
(``resolve.resolve``, as ``Engine.evaluate`` calls it: with the diagnosis'
severities). Both stages are timed as CPU seconds of this one process, with the
cyclic GC paused; the best of ``--repeat`` passes is kept for each, so a pass
slowed by the other users of a shared machine counts less. Absolute times on a
shared machine are noisy: compare the ratio, which is measured in the same run.

The first resolve pass on a fresh KB also pays for the per-KB tables the
resolver builds once (``CatalogueIndex``); it is printed on its own.

    python benchmarks/resolve_speed.py [--profiles 3000] [--seed 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from deficit_engine import Engine, load_kb, synthetic_profiles
from deficit_engine.resolve import resolve


def cpu(step: Callable[[], Any]) -> float:
    """CPU seconds of ``step()`` in this process, the cyclic GC paused."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        step()
        return time.process_time() - start
    finally:
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    kb = load_kb()
    engine = Engine(kb, backend="fast")
    raw = list(synthetic_profiles(kb, args.profiles, args.seed))
    engine.diagnose(raw[0])  # compile the rules outside the timed passes
    people: list[Any] = []

    def diagnose() -> None:
        people[:] = [engine.diagnose(p) for p in raw]

    def resolve_all() -> None:
        for profile, result in people:
            resolve(kb, profile, result.needs, severities=result.severities)

    diagnose_s = min(cpu(diagnose) for _ in range(args.repeat))
    first = cpu(resolve_all)  # the first pass on this KB: builds the per-KB tables
    resolve_s = min(cpu(resolve_all) for _ in range(args.repeat))
    n = len(people)
    needs = sum(len(r.needs) for _p, r in people) / n
    print(f"python {platform.python_version()} on {platform.machine()}, {n} profiles")
    print(f"(seed {args.seed}), {needs:.1f} needs a profile; best of {args.repeat} passes")
    print(f"diagnose (fast backend): {diagnose_s / n * 1e6:8.1f} µs/profile")
    print(f"resolve, first pass:     {first / n * 1e6:8.1f} µs/profile")
    print(f"resolve:                 {resolve_s / n * 1e6:8.1f} µs/profile")
    print(f"resolve / diagnose:      {resolve_s / diagnose_s:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
