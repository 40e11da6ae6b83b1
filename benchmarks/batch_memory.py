"""Benchmark of a planned batch's memory: peak RSS for cohorts of different sizes.

Prints figures, asserts nothing. For each size a synthetic cohort is written to
a JSONL file (in a process of its own, so that making it costs the run nothing),
then ``deficit-engine batch FILE -o OUT --format F [--columnar] --workers W`` runs
in a fresh process that reports, when it ends, its own peak RSS (the parent:
reading, the plan, merging) and the largest of its workers' peaks
(``resource.getrusage``: ``RUSAGE_SELF`` and ``RUSAGE_CHILDREN``; Linux gives
``ru_maxrss`` in KiB). Their sum bounds the run's total peak from above. The
wall time and the CPU time of the parent are printed too (noisy on a shared
machine: compare sizes within one run), and the parent's CPU for reading the
input: every row read and pickled to the workers (the batch without shares)
against the file cut into shares that the workers read themselves.

    python benchmarks/batch_memory.py [--people 20000 100000] [--format parquet] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Run in a fresh interpreter: the batch, then its RSS figures as one JSON line.
_RUN = """
import json, resource, sys, time
from pathlib import Path
from deficit_engine import Engine
from deficit_engine.cohort import run_batch
source, out, fmt, workers, columnar = sys.argv[1:6]
engine = Engine.from_path()
cpu = time.process_time()
summary = run_batch(engine, Path(source), Path(out), workers=int(workers),
                    output_format=fmt, columnar=columnar == "1")
print(json.dumps({
    "parent_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "parent_cpu_s": time.process_time() - cpu,
    "evaluated": summary.evaluated,
}))
"""

_MAKE = """
import json, sys
from deficit_engine import Engine, synthetic_profiles
kb = Engine.from_path().kb
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for profile in synthetic_profiles(kb, int(sys.argv[2]), seed=16):
        out.write(json.dumps(profile, ensure_ascii=False) + "\\n")
"""


def measure(folder: Path, people: int, fmt: str, workers: int, columnar: bool) -> dict[str, float]:
    """One size's figures."""
    source = folder / f"cohort-{people}.jsonl"
    if not source.exists():
        subprocess.run([sys.executable, "-c", _MAKE, str(source), str(people)], check=True)
    out = folder / f"out-{people}-{fmt}-{workers}-{int(columnar)}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(source), str(out), fmt, str(workers), str(int(columnar))],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["wall_s"] = time.perf_counter() - started
    figures["input_mb"] = source.stat().st_size / 1e6
    return figures


#: The parent's reading, both ways, in a fresh interpreter: CPU µs a person.
_READING = """
import json, pickle, sys, time
from pathlib import Path
from deficit_engine import Engine
from deficit_engine.cohort import _inputs
from deficit_engine.tables import read_rows
engine, source = Engine.from_path(), Path(sys.argv[1])
cpu = time.process_time()
with read_rows(source, engine.kb) as table:
    chunk, people = [], 0
    for row in _inputs(table, ()):
        chunk.append(row.profile)
        people += 1
        if len(chunk) == 64:
            pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
            chunk = []
sent = time.process_time() - cpu
cpu = time.process_time()
with read_rows(source, engine.kb) as table:
    shares = sum(1 for _share in table.shares(64))
cut = time.process_time() - cpu
print(json.dumps({"sent_us": sent / people * 1e6, "cut_us": cut / people * 1e6}))
"""


def reading(source: Path) -> dict[str, float]:
    """The parent's CPU per person: reading every row and pickling them to the
    workers (the batch without shares), against cutting the file into shares."""
    done = subprocess.run(
        [sys.executable, "-c", _READING, str(source)], check=True, capture_output=True, text=True
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--format", default="parquet", choices=["jsonl", "parquet"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-profile", action="store_true", help="not --columnar")
    parser.add_argument("--keep", help="keep the cohort files and outputs in this folder")
    args = parser.parse_args()
    columnar = not args.per_profile
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"batch --format {args.format} --workers {args.workers}" + " --columnar" * columnar)
        print("people   input MB  parent MB  worker MB  sum MB  parent CPU s  wall s")
        for people in args.people:
            f = measure(folder, people, args.format, args.workers, columnar)
            r = reading(folder / f"cohort-{people}.jsonl")
            parent, worker = f["parent_kib"] / 1024, f["worker_kib"] / 1024
            print(
                f"{people:>7,}  {f['input_mb']:>8.1f}  {parent:>9.0f}  {worker:>9.0f}  "
                f"{parent + worker:>6.0f}  {f['parent_cpu_s']:>12.1f}  {f['wall_s']:>6.1f}"
            )
            print(
                f"  parent's reading: rows read and sent {r['sent_us']:.0f} µs a person, "
                f"shares cut {r['cut_us']:.1f} µs (x{r['cut_us'] / r['sent_us']:.3f})"
            )


if __name__ == "__main__":
    main()
