"""Benchmark of a planned batch's memory: peak RSS for cohorts of different sizes.

Prints figures, asserts nothing. For each size a synthetic cohort is written to
a JSONL file (in a process of its own, so that making it costs the run nothing),
then ``deficit-engine batch FILE -o OUT --format F [--columnar] --workers W`` runs
in a fresh process that reports, when it ends, its own peak RSS (the parent:
reading, the plan, merging) and the largest of its workers' peaks
(``resource.getrusage``: ``RUSAGE_SELF`` and ``RUSAGE_CHILDREN``; Linux gives
``ru_maxrss`` in KiB). While it runs, this process samples the whole tree (the
batch and its workers, from ``/proc``) every 0.2 s: the peak of their summed RSS
and of their summed PSS (pages shared since the fork counted once). Between two
sizes, the growth of the tree's peak PSS per added person says what memory a
person still costs. The wall time, profiles a second and the CPU time of the
parent are printed too (noisy on a shared machine: compare sizes within one
run), and the parent's CPU for reading the input: every row read and pickled to
the workers (the batch without shares) against the file cut into shares that
the workers read themselves.

``--held`` runs the batch as it is when the file cannot be cut into shares (an
XLSX): the parent reads the rows, holds every diagnosis and plans from them, the
reference that the streamed batch (the default) is compared with.

``--planner-only`` measures the batch parent's side of the plan alone, in a fresh
interpreter per size: the synthetic people are diagnosed, their PlanRows shared
and pickled 64 to a share (as the workers send them), then under ``tracemalloc``
unpickled and int-coded in a ``planner.RowTable`` (as the parent keeps them: "rows";
with a checkout that has none, shared again as PlanRows), and planned as
the streamed batch does, each part's 256 Resolutions (or, with a checkout whose
workers make them, its 256 shares of the plan: ``StreamedPlan.take_shares``) taken
and let go in turn (``planner.StreamedPlan``; with a checkout that has none, ``plan_rows`` and its
Resolutions held until sent, as the batch did): "peak" is the whole of it, rows
included, "after" what is still held once the last part is sent (the KB index's
memos, bounded by ``catalogue.MEMO_LIMIT``, among it), in bytes a person. To
compare with another checkout in the same run, pass its ``src`` folder with
``--src`` (it is put first on ``sys.path``; its KB is the ``ontology`` and
``rules`` beside it).

    python benchmarks/batch_memory.py [--people 5000 20000 50000] [--format parquet]
        [--workers 2] [--held]
    python benchmarks/batch_memory.py --planner-only [--people 5000 20000] [--src DIR ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Run in a fresh interpreter: the batch, then its RSS figures as one JSON line.
_RUN = """
import json, resource, sys, time
from pathlib import Path
from deficit_engine import Engine
from deficit_engine.cohort import run_batch
source, out, fmt, workers, columnar, held = sys.argv[1:7]
if held == "1":  # the reference: rows read here and sent, every diagnosis held here
    from deficit_engine.tables import TableReading
    TableReading.shares = lambda self, records: None
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


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc (gone ones left out)."""
    out, todo = [], [pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def _memory_kib(pid: int) -> tuple[int, int]:
    """A process's (RSS, PSS) in KiB, or zeros when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


class TreeSampler(threading.Thread):
    """The peak summed RSS and PSS of a process tree, sampled every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.rss_kib = self.pss_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            sizes = [_memory_kib(pid) for pid in _tree(self.pid)]
            self.rss_kib = max(self.rss_kib, sum(r for r, _p in sizes))
            self.pss_kib = max(self.pss_kib, sum(p for _r, p in sizes))


def measure(
    folder: Path, people: int, fmt: str, workers: int, columnar: bool, held: bool
) -> dict[str, float]:
    """One size's figures."""
    source = folder / f"cohort-{people}.jsonl"
    if not source.exists():
        subprocess.run([sys.executable, "-c", _MAKE, str(source), str(people)], check=True)
    out = folder / f"out-{people}-{fmt}-{workers}-{int(columnar)}-{int(held)}"
    args = [source, out, fmt, workers, int(columnar), int(held)]
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", _RUN, *map(str, args)], stdout=subprocess.PIPE, text=True
    ) as run:
        sampler = TreeSampler(run.pid)
        sampler.start()
        stdout, _ = run.communicate()
        sampler.done.set()
        sampler.join()
    if run.returncode:
        raise SystemExit(f"the batch of {people} people failed ({run.returncode})")
    figures: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    figures["wall_s"] = time.perf_counter() - started
    figures["input_mb"] = source.stat().st_size / 1e6
    figures["tree_rss_kib"], figures["tree_pss_kib"] = sampler.rss_kib, sampler.pss_kib
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


#: The parent's plan alone under tracemalloc, in a fresh interpreter: bytes a person.
_PLANNER = """
import gc, json, pickle, sys, time, tracemalloc
if sys.argv[2]:
    sys.path.insert(0, sys.argv[2])
import deficit_engine.planner as planner
from deficit_engine import Engine, synthetic_profiles
from deficit_engine.planner import SharedValues, plan_row, plan_rows
people, part = int(sys.argv[1]), 256
engine = Engine.from_path()
kb = engine.kb
# as the workers send them: each share's rows shared and pickled, 64 rows a share
sent, chunk, shared = [], [], SharedValues()
for profile, result in engine.diagnose_many(list(synthetic_profiles(kb, people, seed=16))):
    ok = profile is not None and result.ok
    chunk.append(shared.row(plan_row(kb, profile, result)) if ok else None)
    if len(chunk) == 64:
        sent.append(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
        chunk, shared = [], SharedValues()
sent.append(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
del chunk, shared
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
# as the batch's parent keeps them: unpickled, and int-coded in a RowTable (with a
# checkout that has none, their equal parts made one object)
if hasattr(planner, "RowTable"):
    rows = planner.RowTable()
    for data in sent:
        for r in pickle.loads(data):
            rows.append(r)
else:
    shared, rows = SharedValues(), []
    for data in sent:
        rows.extend(None if r is None else shared.row(r) for r in pickle.loads(data))
    del shared
del sent
gc.collect()
rows_held = tracemalloc.get_traced_memory()[0] - base
tracemalloc.reset_peak()
cpu = time.process_time()
if hasattr(planner, "StreamedPlan"):  # each part's resolutions made as it is sent
    stream = planner.StreamedPlan(kb, rows)
    rows = None
    # a planner whose batch sends shares of the plan (the workers resolve them)
    take = getattr(stream, "take_shares", stream.take)
    for _start in range(0, people, part):
        take(part)
    plan = stream.finished()
else:  # the plan returns every resolution; the batch holds them until sent
    plan = plan_rows(kb, rows)
    rows = None
    resolutions = list(plan.resolutions)
    for start in range(0, people, part):
        resolutions[start:start + part] = [None] * len(resolutions[start:start + part])
cpu = time.process_time() - cpu
held, peak = tracemalloc.get_traced_memory()
print(json.dumps({
    "rows": rows_held / people, "peak": (peak - base) / people, "after": (held - base) / people,
    "cpu_s": cpu, "source": planner.__file__,
}))
"""


def planner_only(sizes: list[int], sources: list[str]) -> None:
    """The batch parent's memory from the rows to the last part sent, per person, for
    each size and each source folder (the installed package: an empty one)."""
    print("people   rows B/person  peak B/person  after B/person  CPU s (tracemalloc on)  package")
    for people in sizes:
        for src in sources:
            done = subprocess.run(
                [sys.executable, "-c", _PLANNER, str(people), src],
                check=True,
                capture_output=True,
                text=True,
            )
            f = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{people:>7,}  {f['rows']:>13,.0f}  {f['peak']:>13,.0f}  {f['after']:>14,.0f}  "
                f"{f['cpu_s']:>22.1f}  {f['source']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    parser.add_argument("--format", default="parquet", choices=["jsonl", "parquet"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-profile", action="store_true", help="not --columnar")
    parser.add_argument("--keep", help="keep the cohort files and outputs in this folder")
    parser.add_argument("--held", action="store_true", help="the rows read and held here")
    parser.add_argument("--reading", action="store_true", help="the parent's reading too")
    parser.add_argument(
        "--planner-only", action="store_true", help="the plan's tracemalloc peak a person"
    )
    parser.add_argument(
        "--src", nargs="+", default=[""], help="with --planner-only: src folders to compare"
    )
    args = parser.parse_args()
    if args.planner_only:
        planner_only(args.people, args.src)
        return
    columnar = not args.per_profile
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        how = " (held: rows sent, every diagnosis in the parent)" if args.held else " (streamed)"
        print(
            f"batch --format {args.format} --workers {args.workers}"
            + " --columnar" * columnar
            + how
        )
        print(
            "people   input MB  parent MB  worker MB  tree RSS MB  tree PSS MB  "
            "parent CPU s  wall s  profiles/s"
        )
        previous: tuple[int, float] | None = None
        for people in args.people:
            f = measure(folder, people, args.format, args.workers, columnar, args.held)
            parent, worker = f["parent_kib"] / 1024, f["worker_kib"] / 1024
            rss, pss = f["tree_rss_kib"] / 1024, f["tree_pss_kib"] / 1024
            print(
                f"{people:>7,}  {f['input_mb']:>8.1f}  {parent:>9.0f}  {worker:>9.0f}  "
                f"{rss:>11.0f}  {pss:>11.0f}  {f['parent_cpu_s']:>12.1f}  {f['wall_s']:>6.1f}  "
                f"{f['evaluated'] / f['wall_s']:>10.0f}"
            )
            if previous is not None:
                grown = (f["tree_pss_kib"] - previous[1]) * 1024 / (people - previous[0])
                largest = max(f["parent_kib"], f["worker_kib"])
                print(
                    f"  tree peak PSS grew {grown:,.0f} bytes a person; "
                    f"largest process {largest / 1024:.0f} MB"
                )
            previous = (people, f["tree_pss_kib"])
            if args.reading:
                r = reading(folder / f"cohort-{people}.jsonl")
                print(
                    f"  parent's reading: rows read and sent {r['sent_us']:.0f} µs a person, "
                    f"shares cut {r['cut_us']:.1f} µs (x{r['cut_us'] / r['sent_us']:.3f})"
                )


if __name__ == "__main__":
    main()
