"""Benchmark of issue 14's parts: the instrument policy, progress and revise.

Prints figures, asserts nothing. Ratios are taken within one run, so they hold
on a noisy shared machine where absolute times do not:

* ``normalise`` of a profile whose results come from three instruments (each
  competency measured three times, dated) against the same profile with one
  result per competency: what choosing between results costs;
* ``progress`` and ``revise`` of one person against one ``evaluate``: what the
  tracking adds to a re-diagnosis.

    python benchmarks/tracking.py [--people N] [--backend python|fast|durable]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from deficit_engine import Engine, progress, revise, synthetic_profiles
from deficit_engine.profile import normalise

_INSTRUMENTS = (("ЦНППМ-2026", "2026-09-10"), ("Самооценка", "2026-09-20"), ("ЕФОМ", "2026-10-01"))


def per_call(func: Callable[[Any], Any], items: list[Any], rounds: int = 3) -> float:
    """The best of ``rounds`` runs over ``items``, in microseconds per item."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            func(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def three_instruments(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile with each result given three times, by three instruments and dates."""
    results = [
        {**r, "instrument": name, "date": date}
        for r in profile["results"]
        for name, date in _INSTRUMENTS
    ]
    return {**profile, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--backend", default="python")
    args = parser.parse_args()
    engine = Engine.from_path(backend=args.backend)
    kb = engine.kb
    plain = [engine.parse(p) for p in synthetic_profiles(kb, args.people, seed=14, max_results=15)]
    tripled = [engine.parse(three_instruments(p.model_dump(exclude_none=True))) for p in plain]
    one = per_call(lambda p: normalise(p, kb), plain)
    three = per_call(lambda p: normalise(p, kb), tripled)
    print(f"normalise, one result per id:          {one:9.1f} µs")
    print(f"normalise, three instruments per id:   {three:9.1f} µs  ({three / one:.2f}x)")

    earlier = [engine.evaluate(p) for p in plain]
    later = [engine.evaluate(p) for p in tripled]  # the same people, re-diagnosed
    pairs = list(zip(earlier, later, strict=True))
    evaluate = per_call(engine.evaluate, tripled, rounds=1)
    compare = per_call(lambda pair: progress(*pair), pairs)
    replan = per_call(lambda pair: revise(pair[0], (), pair[1], today="2026-12-01"), pairs)
    print(f"evaluate (the re-diagnosis):           {evaluate:9.1f} µs")
    for name, value in (("progress", compare), ("revise", replan)):
        print(f"{name + ':':39}{value:9.1f} µs  ({value / evaluate:.3f}x evaluate)")


if __name__ == "__main__":
    main()
