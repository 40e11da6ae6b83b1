"""Benchmark of ``batch --format``: what writing the results costs per profile.

Prints figures, asserts nothing. On a seeded synthetic cohort, planned and routed as
the batch does it (``plan_cohort``, ``route_planned``) and held in memory as a worker
that ran it holds it (so the cyclic garbage collector walks what it walks in a batch),
it measures in µs of CPU (``time.process_time``) per profile, best of ``--rounds``:

* ``to_dict``: ``Result.to_dict``, alone;
* ``jsonl task``, ``parquet task``: a worker writing its people, chunk by chunk
  (``cohort.PART_CHUNK``), with ``cohort._write_rows`` as the batch calls it (the
  Results to a part, and the digests sent back to the parent), the collector on as
  in the batch;
* ``json``, ``jsonl``, ``parquet``: the default ``results.jsonl`` (``json.dumps``, the
  person spliced in), a JSONL part and a Parquet part, each written from the dicts
  with the collector off (the writers' own cost);

the output's bytes per profile, and how many collections each part task ran (the
held cohort here is small: a full one, which walks it all, is rare; a batch's worker
holds much more, and py-spy found the collections the digests triggered there).

``--against SRC`` runs the same measurement on another tree's ``src`` folder (a copy
of main before a change: ``git archive main src | tar -x -C /tmp/before``, then
``--against /tmp/before/src``), in subprocesses alternating with this tree's (which
goes first flips each round, as in batch_cpu.py); each
figure's best of each tree and their ratio are printed. The two trees' parts must be
the same bytes and their digests equal, or the run stops (exit 2) before any figure.

``--summary`` measures instead, in this one process, a part's summary counted as the
routing task counts it (``BatchSummary.add_results`` on the part's Results) against
each person's ``digest`` counted by ``BatchSummary.add``, taking turns ``--rounds``
times on the same people; the summaries must be equal, or the run stops (exit 2).

``--pieces`` measures instead, in this one process, the part task as the batch runs it
(``cohort._write_rows``: each shared need's, recommendation's and unmet entry's dict
made once per part, ``parts.Pieces``) against the same task making every dict
(``Result.to_dict()`` alone), taking turns ``--rounds`` times on the same cohort, and
prints the best and the median of each (one process: the machine's load moves both
alike, which it does not do to two trees' child processes). Both must write the same
bytes and send the same digests, or the run stops (exit 2).

    python benchmarks/output_formats.py [--people 2000] [--rounds 3] [--trace]
                                        [--against /tmp/before/src | --pieces
                                         | --summary]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from batch_cpu import _best, compared_runs, outputs_differ, print_compared

HERE = Path(__file__).resolve()
THIS_SRC = HERE.parent.parent / "src"
#: The knowledge base both trees read: this tree's (a ``src`` copied alone has none).
KB = HERE.parent.parent

#: The figures, in the order they are printed: (key, label).
FIGURES = (
    ("to_dict", "Result.to_dict"),
    ("task_jsonl", "jsonl task (_write_rows, GC on)"),
    ("task_parquet", "parquet task (_write_rows, GC on)"),
    ("json", "json results.jsonl from dicts, GC off"),
    ("jsonl", "jsonl part from dicts, GC off"),
    ("parquet", "parquet part from dicts, GC off"),
)


def _cpu(run: Callable[[], object], paused: bool) -> tuple[float, int]:
    """``run()``'s CPU seconds, after a full collection, and how many collections ran
    meanwhile (any generation; in a batch whose worker holds a large share, the
    full ones walk all of it); ``paused``: the collector off."""
    full = [0]

    def count(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            full[0] += 1

    gc.collect()
    if paused:
        gc.disable()
    gc.callbacks.append(count)
    try:
        start = time.process_time()
        run()
        return time.process_time() - start, full[0]
    finally:
        gc.callbacks.remove(count)
        gc.enable()


def _folder_digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("part-*")):
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def measure(people: int, rounds: int, trace: bool) -> dict[str, Any]:
    """This interpreter's ``deficit_engine`` (whichever tree it imports) on the cohort."""
    from deficit_engine import cohort as cohort_module
    from deficit_engine.parts import PartRow, write_part

    held = _held(people)
    chunk = cohort_module.PART_CHUNK
    best: dict[str, float] = {}
    sizes: dict[str, float] = {}
    digests: dict[str, str] = {}
    full: dict[str, int] = {}  # collections during each figure's last round

    def keep(key: str, measured: tuple[float, int]) -> None:
        seconds, full[key] = measured
        best[key] = min(best.get(key, float("inf")), seconds / people * 1e6)

    with tempfile.TemporaryDirectory(prefix="outputs-") as tmp:
        work = Path(tmp)
        for round_ in range(rounds):
            keep("to_dict", _cpu(lambda: [r.to_dict(trace=trace) for r, _p in held], False))
            for fmt in ("jsonl", "parquet"):
                folder = work / f"task-{fmt}-{round_}"
                options = cohort_module._PartOptions(fmt, trace, ())
                sent: list[Any] = []

                def task(folder: Path = folder, options: Any = options, sent: Any = sent) -> None:
                    for index, at in enumerate(range(0, people, chunk)):
                        sent.extend(
                            cohort_module._write_rows(
                                str(folder), index, held[at : at + chunk], options
                            )
                        )

                keep(f"task_{fmt}", _cpu(task, False))
                digests[f"task_{fmt}"] = _folder_digest(folder)
                digests[f"sent_{fmt}"] = hashlib.sha256(repr(sent).encode()).hexdigest()
            dicts = [(r.to_dict(trace=trace), p) for r, p in held]
            for fmt in ("json", "jsonl", "parquet"):
                path = work / f"out-{round_}.{fmt}"
                write = _default_writer if fmt == "json" else _part_writer(fmt, PartRow, write_part)
                keep(fmt, _cpu(lambda p=path, w=write, d=dicts: w(p, d), True))
                sizes[fmt] = path.stat().st_size / people
    return {"figures": best, "bytes": sizes, "digests": digests, "full": full}


def _held(people: int) -> list[Any]:
    """The seeded cohort planned and routed, as a worker holds it: every person's
    Result and record (needs and recommendations shared as in a batch)."""
    import pyarrow.parquet  # noqa: F401 - imported before any clock starts, as a worker has

    from deficit_engine import Engine, synthetic_profiles
    from deficit_engine.engine import route_planned
    from deficit_engine.outputs import person_record
    from deficit_engine.planner import plan_cohort

    engine = Engine.from_path(KB, backend="fast")
    kb = engine.kb
    sample = list(synthetic_profiles(kb, people, seed=16))
    diagnosed = list(engine.diagnose_many(sample))
    plan = plan_cohort(kb, diagnosed)
    return [
        (route_planned(kb, profile, result, resolution), person_record(raw))
        for (profile, result), resolution, raw in zip(
            diagnosed, plan.resolutions, sample, strict=True
        )
    ]


def _every_dict_made(folder: str, index: int, results: Any, options: Any) -> Any:
    """The part task as it was before ``parts.Pieces``: every piece's dict made."""
    from deficit_engine.cohort import digest
    from deficit_engine.gcpause import paused_gc
    from deficit_engine.parts import PartRow, part_path, write_part

    with paused_gc():
        rows = [
            PartRow(result.profile, person, result.to_dict(trace=options.trace))
            for result, person in results
            if result.ok
        ]
        write_part(part_path(Path(folder), index, options.fmt), rows, options.fmt, options.keep)
        del rows
        return [digest(result, options.trace, line=options.lines) for result, _person in results]


def _parts(write_rows: Any, folder: str, held: Any, options: Any, sent: list[Any]) -> None:
    """The cohort's parts, chunk by chunk, by ``write_rows``; their digests to ``sent``."""
    from deficit_engine.cohort import PART_CHUNK

    for index, at in enumerate(range(0, len(held), PART_CHUNK)):
        sent.extend(write_rows(folder, index, held[at : at + PART_CHUNK], options))


def pieces_in_turn(people: int, rounds: int, trace: bool) -> int:
    """``--pieces``: the part task with and without ``parts.Pieces``, taking turns."""
    from deficit_engine import cohort as cohort_module

    held = _held(people)
    tasks = {"pieces": cohort_module._write_rows, "every dict": _every_dict_made}
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="pieces-") as tmp:
        for round_ in range(rounds):
            for fmt in ("jsonl", "parquet"):
                options = cohort_module._PartOptions(fmt, trace, ())
                sent: dict[str, list[Any]] = {}
                for name, write_rows in tasks.items():
                    folder = str(Path(tmp) / f"{name}-{fmt}-{round_}")
                    sent[name] = []
                    task = partial(_parts, write_rows, folder, held, options, sent[name])
                    seconds, _collections = _cpu(task, False)
                    times.setdefault((fmt, name), []).append(seconds / people * 1e6)
                folders = [Path(tmp) / f"{name}-{fmt}-{round_}" for name in tasks]
                if (
                    len({_folder_digest(f) for f in folders}) != 1
                    or len({repr(v) for v in sent.values()}) != 1
                ):
                    print("output_formats: the two tasks' parts or digests differ")
                    return 2
    print(f"the part task, CPU µs per profile, {people:,} synthetic profiles planned,")
    print(f"{rounds} rounds taking turns in one process; same bytes and digests")
    print(f"  {'format':8}{'pieces: best':>14}{'median':>9}{'every dict: best':>19}{'median':>9}")
    for fmt in ("jsonl", "parquet"):
        mine, plain = times[(fmt, "pieces")], times[(fmt, "every dict")]
        print(
            f"  {fmt:8}{min(mine):14.1f}{statistics.median(mine):9.1f}"
            f"{min(plain):19.1f}{statistics.median(plain):9.1f}"
            f"   x{min(mine) / min(plain):.2f} (medians x"
            f"{statistics.median(mine) / statistics.median(plain):.2f})"
        )
    return 0


def summary_in_turn(people: int, rounds: int) -> int:
    """``--summary``: a part's summary counted person by person (each Result's
    ``digest``, then ``BatchSummary.add``) against ``BatchSummary.add_results`` on the
    part's Results at once, taking turns on the same people, parts of
    ``cohort.PART_CHUNK``, the collector off (as in a worker's task)."""
    import gc

    from deficit_engine import Engine, synthetic_profiles
    from deficit_engine.cohort import PART_CHUNK, BatchSummary, digest, person_keys

    held = _held(people)
    kb = Engine.from_path(KB, backend="fast").kb
    keys = [person_keys(profile) for profile in synthetic_profiles(kb, people, seed=16)]
    parts = [
        ([result for result, _person in held[at : at + PART_CHUNK]], keys[at : at + PART_CHUNK])
        for at in range(0, people, PART_CHUNK)
    ]

    def each() -> list[BatchSummary]:
        made = []
        for results, part_keys in parts:
            summary = BatchSummary()
            for result, person in zip(results, part_keys, strict=True):
                summary.add(digest(result, line=False), person)
            made.append(summary)
        return made

    def at_once() -> list[BatchSummary]:
        made = []
        for results, part_keys in parts:
            summary = BatchSummary()
            summary.add_results(results, part_keys)
            made.append(summary)
        return made

    if each() != at_once():
        print("output_formats: the two summaries differ")
        return 2
    times: dict[str, list[float]] = {"each": [], "at once": []}
    was = gc.isenabled()
    gc.disable()
    try:
        for _round in range(rounds):
            for name, count in (("each", each), ("at once", at_once)):
                start = time.process_time()
                count()
                times[name].append((time.process_time() - start) / people * 1e6)
    finally:
        if was:
            gc.enable()
    mine, plain = times["at once"], times["each"]
    print(f"a part's summary, CPU µs per profile, {people:,} synthetic profiles planned,")
    print(f"{rounds} rounds taking turns in one process; the same summaries")
    print(f"  digest + add each: best {min(plain):.1f}, median {statistics.median(plain):.1f}")
    print(f"  add_results:       best {min(mine):.1f}, median {statistics.median(mine):.1f}")
    print(
        f"  x{min(mine) / min(plain):.2f} (medians x"
        f"{statistics.median(mine) / statistics.median(plain):.2f})"
    )
    return 0


def _default_writer(path: Path, cohort: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """results.jsonl as the default batch writes it."""
    from deficit_engine.cohort import _with_person

    with path.open("w", encoding="utf-8", errors="backslashreplace") as out:
        for data, person in cohort:
            line = json.dumps(data, ensure_ascii=False)
            out.write(_with_person(line, data["profile"], person) + "\n")


def _part_writer(fmt: str, row: Any, write_part: Any) -> Callable[[Path, Any], None]:
    """A part of ``fmt`` from the dicts, as the batch wrote it before the Results went
    to the part writer themselves."""

    def write(path: Path, cohort: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        write_part(path, [row(data["profile"], p, data) for data, p in cohort], fmt)

    return write


# --- the parent: rounds, alternating the trees ----------------------------------------------


def _run_child(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, str(HERE), "--child", "--people", str(args.people)]
    command += ["--rounds", "1"] + (["--trace"] if args.trace else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"output_formats: the run on {src} failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trace", action="store_true", help="keep each Result's trace")
    parser.add_argument("--against", type=Path, help="another tree's src folder")
    parser.add_argument(
        "--pieces", action="store_true", help="the part task with and without parts.Pieces"
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="a part's summary: digest and add per person against add_results",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.summary:
        return summary_in_turn(args.people, args.rounds)
    if args.pieces:
        return pieces_in_turn(args.people, args.rounds, args.trace)
    if args.child:
        print(json.dumps(measure(args.people, args.rounds, args.trace)))
        return 0
    trees, runs = compared_runs(args.against, args.rounds, lambda src: _run_child(src, args))
    if outputs_differ(runs, "output_formats"):
        return 2
    best = {name: _best(runs[name]) for name in trees}
    print(f"writing the results, CPU µs per profile (best of {args.rounds}),")
    print(f"{args.people:,} synthetic profiles, trace: {args.trace}; the trees' parts and")
    print(f"digests are the same bytes: {sorted(runs['this'][0]['digests'])}")
    for name, src in trees.items():
        print(f"  {name}: {src}")
    print_compared(best, FIGURES, "figure", 40)
    for fmt in ("jsonl", "parquet"):
        counts = ", ".join(f"{name} {runs[name][0]['full'][f'task_{fmt}']}" for name in trees)
        print(f"  collections during the {fmt} task: {counts}")
    sizes = runs["this"][0]["bytes"]
    print("  bytes per profile: " + ", ".join(f"{k} {v:,.0f}" for k, v in sizes.items()))
    print(json.dumps({name: best[name] for name in trees}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
