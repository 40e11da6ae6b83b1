"""Benchmark of ``batch --format``: what writing the results costs per profile.

Prints figures, asserts nothing. The same evaluated cohort is written three ways,
each timed from the Result's dict to the bytes on disk, best of three rounds
(``Result.to_dict``, which every format pays alike, is timed apart):

* ``json``: the default ``results.jsonl`` line, ``json.dumps`` plus the person
  record spliced in (what ``batch`` writes today, without the flat tables);
* ``jsonl``: a part written by orjson (``batch --format jsonl``);
* ``parquet``: a part written by pyarrow, one row group, zstd (``--format parquet``).

It also prints the output's bytes per profile. Ratios are within one run.

    python benchmarks/output_formats.py [--people N] [--trace]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.cohort import _with_person
from deficit_engine.outputs import person_record
from deficit_engine.parts import PartRow, write_part

#: Each person's Result as a dict (Result.to_dict) and their person record.
Cohort = list[tuple[dict[str, Any], dict[str, Any]]]


def write_default(path: Path, cohort: Cohort) -> None:
    """results.jsonl as the default batch writes it."""
    with path.open("w", encoding="utf-8", errors="backslashreplace") as out:
        for data, person in cohort:
            line = json.dumps(data, ensure_ascii=False)
            out.write(_with_person(line, data["profile"], person) + "\n")


def writer_of(fmt: str) -> Callable[[Path, Cohort], None]:
    """A part of ``fmt`` as a worker writes it."""

    def write(path: Path, cohort: Cohort) -> None:
        write_part(path, [PartRow(data["profile"], p, data) for data, p in cohort], fmt)

    return write


def best_of_three(run: Callable[[], object]) -> float:
    """The fastest of three runs, in seconds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def measure(write: Callable[[Path, Cohort], None], path: Path, cohort: Cohort) -> tuple[float, int]:
    """µs per profile (best of three) and the file's bytes."""

    def run() -> None:
        path.unlink(missing_ok=True)
        write(path, cohort)

    return best_of_three(run) / len(cohort) * 1e6, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--trace", action="store_true", help="keep each Result's trace")
    args = parser.parse_args()
    engine = Engine.from_path()
    profiles = list(synthetic_profiles(engine.kb, args.people, seed=16))
    results = [(engine.evaluate(p), person_record(p)) for p in profiles]
    seconds = best_of_three(lambda: [r.to_dict(trace=args.trace) for r, _p in results])
    cohort: Cohort = [(r.to_dict(trace=args.trace), p) for r, p in results]
    print(f"{args.people} synthetic profiles, evaluated alone (trace: {args.trace})")
    print(f"Result.to_dict, paid by every format: {seconds / args.people * 1e6:.1f} µs/profile")
    print(f"{'format':8} {'µs/profile':>11} {'bytes/profile':>14} {'× json time':>12}")
    with tempfile.TemporaryDirectory() as folder:
        figures = {
            fmt: measure(write, Path(folder) / f"out.{fmt}", cohort)
            for fmt, write in (
                ("json", write_default),
                ("jsonl", writer_of("jsonl")),
                ("parquet", writer_of("parquet")),
            )
        }
    base = figures["json"][0]
    for fmt, (micros, size) in figures.items():
        print(f"{fmt:8} {micros:11.1f} {size / args.people:14.0f} {micros / base:12.2f}")


if __name__ == "__main__":
    main()
