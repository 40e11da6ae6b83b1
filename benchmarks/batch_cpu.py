"""The batch's CPU per person, stage by stage, against another tree in the same run.

Prints figures; asserts no time. On a seeded synthetic cohort it measures, in µs of
CPU (``time.process_time``) per profile, what a planned ``batch --format`` run does
for each person, with the cohort held in memory as the batch holds it (so the cyclic
garbage collector walks what it walks in a batch; each stage starts after a full
collection):

- reading the cohort's JSONL file (``tables.read_rows``: a row's JSON to a dict),
  validation (``Engine.parse``), normalise + base facts, ``Engine.diagnose_many``
  (the columnar path, end to end), the cohort plan (``plan_cohort``);
- the worker's task on each chunk of ``cohort.PART_CHUNK`` people, as the batch
  runs it (``cohort._route_part``: routes, ``Result.to_dict``, the part, digests),
  once for JSONL and once for Parquet;
- its pieces alone, with the cyclic GC off (the code's own cost): the routes
  (``route_planned``), ``Result.to_dict``, writing a JSONL part and a Parquet part
  from the dicts;
- the planned batch's two worker tasks when the input is cut into shares, run as
  the batch runs them (``cohort._Runner.submit``, one worker: in this process):
  diagnosing each share into its spill file (``_diagnose_spilled``: read, diagnose,
  plan rows, spill) and, after the plan, routing each part from the spill files
  (``_route_spilled``: unspill, the Resolutions made from the parts' shares of the
  plan when the tree's workers make them, routes, the JSONL part, digests; a tree
  whose parent makes them is given them made, so its figure leaves them out);
- the whole command, ``deficit-engine batch FILE -o OUT --format parquet
  --workers 1 --columnar``, and ``--format jsonl --workers 2`` (CPU of the command
  and its workers: user + system), with profiles per CPU second.

``--against SRC`` runs the same measurement on another tree's ``src`` folder (e.g. a
copy of main before a change: ``git archive 27eff4b src | tar -x -C /tmp/before``,
then ``--against /tmp/before/src``), in subprocesses that alternate with this
tree's, ``--rounds`` times, which tree goes first flipping each round (give an even
number); each stage's best time of each tree, and their ratio,
are printed. The two trees' outputs (the JSONL and Parquet parts' bytes, the
Results' JSON) must be the same, or the run stops (exit 2) before any figure.

    python benchmarks/batch_cpu.py [--profiles 2000] [--seed 16] [--rounds 3]
                                   [--against /tmp/before/src] [--no-cli]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
THIS_SRC = HERE.parent.parent / "src"

#: The stages, in the order they are printed: (key, label).
STAGES = (
    ("read", "reading the JSONL rows (tables.read_rows)"),
    ("validation", "validation (Engine.parse)"),
    ("prepare", "normalise + base facts"),
    ("diagnose_many", "diagnose_many (columnar, end to end)"),
    ("plan", "cohort plan (plan_cohort)"),
    ("task_jsonl", "worker task, JSONL (_route_part)"),
    ("task_parquet", "worker task, Parquet (_route_part)"),
    ("route", "  its routes alone, GC off (route_planned)"),
    ("to_dict", "  its Result.to_dict alone, GC off"),
    ("jsonl", "  its JSONL part from the dicts, GC off"),
    ("parquet", "  its Parquet part from the dicts, GC off"),
    ("spill_diagnose", "task: a share diagnosed, spilled (_diagnose_spilled)"),
    ("spill_route", "task: a part routed from the spill (_route_spilled)"),
    ("cli", "batch --format parquet --workers 1 (CPU)"),
    ("cli2", "batch --format jsonl --workers 2 (CPU, all processes)"),
)


# --- the child: one tree's figures ------------------------------------------------------


def _timed(
    figures: dict[str, float], key: str, n: int, work: Callable[[], Any], paused: bool = False
) -> Any:
    """``work()``'s CPU µs per profile. Every stage starts from a full collection, so
    that one stage does not pay for the garbage of the one before; ``paused``: the
    cyclic GC off meanwhile (the code's own cost, without the collections its
    objects trigger while the cohort is held)."""
    gc.collect()
    if paused:
        gc.disable()
    try:
        start = time.process_time()
        value = work()
        figures[key] = (time.process_time() - start) / n * 1e6
    finally:
        gc.enable()
    return value


def _digest_folder(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("part-*")):
        sha.update(path.name.encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _cli_cpu(source: Path, out: Path, fmt: str = "parquet", workers: int = 1) -> float:
    """The batch command's CPU seconds, its workers' included (they are its children,
    waited for before it ends)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "deficit_engine", "batch", str(source), "-o", str(out)]
    command += ["--format", fmt, "--workers", str(workers), "--columnar", "--quiet"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure(n: int, seed: int, cli: bool) -> dict[str, Any]:
    """This interpreter's ``deficit_engine`` (whichever tree it imports) on the cohort."""
    import orjson
    import pyarrow.parquet  # noqa: F401 - imported before any clock starts, as a worker has

    from deficit_engine import Engine, synthetic_profiles
    from deficit_engine import cohort as cohort_module
    from deficit_engine.engine import base_facts, route_planned
    from deficit_engine.outputs import person_record
    from deficit_engine.parts import PartRow, write_part
    from deficit_engine.planner import plan_cohort
    from deficit_engine.profile import normalise
    from deficit_engine.tables import read_rows

    _arrow_as_a_worker()
    engine = Engine.from_path(None, backend="fast")
    engine.columnar  # noqa: B018 - compiled once, before any clock starts
    kb = engine.kb
    sample = list(synthetic_profiles(kb, n, seed=seed))
    figures: dict[str, float] = {}
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="batchcpu-") as tmp:
        source = Path(tmp) / "cohort.jsonl"
        source.write_bytes(
            b"".join(orjson.dumps(p, option=orjson.OPT_APPEND_NEWLINE) for p in sample)
        )
        with read_rows(source, kb) as reading:
            rows_read = _timed(figures, "read", n, lambda: list(reading))
        if [row.profile for row in rows_read] != sample:
            raise SystemExit("batch_cpu: the JSONL rows read back differ from the cohort")
        del rows_read
        digests["spilled"] = _spilled_tasks(engine, source, Path(tmp), figures, n)
    parsed = _timed(figures, "validation", n, lambda: [engine.parse(p) for p in sample])
    _timed(figures, "prepare", n, lambda: [base_facts(normalise(p, kb), kb) for p in parsed])
    people = _timed(figures, "diagnose_many", n, lambda: list(engine.diagnose_many(sample)))
    plan = _timed(figures, "plan", n, lambda: plan_cohort(kb, people))
    persons = [person_record(p) for p in sample]
    items = [
        (profile, result, resolution, person)
        for (profile, result), resolution, person in zip(
            people, plan.resolutions, persons, strict=True
        )
    ]
    chunk = cohort_module.PART_CHUNK
    with tempfile.TemporaryDirectory(prefix="batchcpu-") as tmp:
        work = Path(tmp)
        for fmt in ("jsonl", "parquet"):
            options = cohort_module._PartOptions(fmt, False, ())
            folder = work / f"task-{fmt}"

            def task(folder: Path = folder, options: Any = options) -> None:
                for index, at in enumerate(range(0, n, chunk)):
                    cohort_module._route_part(
                        engine, str(folder), index, items[at : at + chunk], options
                    )

            _timed(figures, f"task_{fmt}", n, task)
            digests[f"parts_{fmt}"] = _digest_folder(folder)
        results = _timed(
            figures,
            "route",
            n,
            lambda: [route_planned(kb, p, r, res) for p, r, res, _ in items],
            paused=True,
        )
        dicts = _timed(
            figures, "to_dict", n, lambda: [r.to_dict(trace=False) for r in results], paused=True
        )
        sha = hashlib.sha256()
        for data in dicts:
            sha.update(orjson.dumps(data))
        digests["results"] = sha.hexdigest()
        rows = [PartRow(r.profile, p, d) for r, p, d in zip(results, persons, dicts, strict=True)]
        for fmt in ("jsonl", "parquet"):
            folder = work / f"parts-{fmt}"

            def write(folder: Path = folder, fmt: str = fmt) -> None:
                for index, at in enumerate(range(0, n, chunk)):
                    write_part(folder / f"part-{index:05d}.{fmt}", rows[at : at + chunk], fmt)

            _timed(figures, fmt, n, write, paused=True)
        if cli:
            source = work / "cohort.jsonl"
            source.write_bytes(
                b"".join(orjson.dumps(p, option=orjson.OPT_APPEND_NEWLINE) for p in sample)
            )
            figures["cli"] = _cli_cpu(source, work / "out") / n * 1e6
            digests["cli"] = _digest_folder(work / "out" / "results")
            figures["cli2"] = _cli_cpu(source, work / "out2", "jsonl", 2) / n * 1e6
            digests["cli2"] = _digest_folder(work / "out2" / "results")
    return {"figures": figures, "digests": digests}


def _arrow_as_a_worker() -> None:
    """pyarrow's one look for pandas made before any clock starts, without pandas, as
    a batch's pool worker makes it (``parts.arrow_without_pandas``, called there
    before its first Parquet part). Left to the first part, it imported pandas
    inside the Parquet task's clock (0.18-0.32 s of CPU once per child, 90-160 µs a
    person at 2,000 profiles), which no worker of a ``--workers 2`` batch pays."""
    from deficit_engine import parts

    without_pandas = getattr(parts, "arrow_without_pandas", None)
    if without_pandas is not None:  # a tree before it imports pandas in its workers too
        without_pandas()


def _spilled_tasks(engine: Any, source: Path, work: Path, figures: dict[str, float], n: int) -> str:
    """The planned batch's worker tasks on ``source`` cut into shares, each run as the
    batch's one-worker runner runs it; the digest of the parts they write."""
    from types import SimpleNamespace

    from deficit_engine import cohort as cohort_module
    from deficit_engine.planner import StreamedPlan, plan_rows
    from deficit_engine.tables import read_rows

    # the runner reads only these two of the batch's options
    options_read: Any = SimpleNamespace(client=None, workers=1)
    runner = cohort_module._Runner(engine, options_read)
    spilled = work / "spilled"
    (spilled / "spill").mkdir(parents=True)
    with read_rows(source, engine.kb) as reading:
        shares = list(reading.shares(cohort_module.COLUMNAR_CHUNK) or ())
    gathered = cohort_module._Gathered()
    gathered.files = [str(spilled / "spill" / f"share-{k:06d}.pickle") for k in range(len(shares))]

    def diagnose() -> None:
        for share, path in zip(shares, gathered.files, strict=True):
            sent = runner.submit(
                cohort_module._diagnose_spilled, share, path, "columnar", (), False, True
            ).result()
            if isinstance(sent, tuple):  # lines, ids and the share's RowTable
                gathered.starts.append(gathered.starts[-1] + len(sent[1]))
                gathered.rows.merge(sent[2])
            else:  # a tree that sends (line, id, PlanRow) a row
                gathered.starts.append(gathered.starts[-1] + len(sent))
                gathered.rows.extend(row for _line, _ident, row in sent)

    _timed(figures, "spill_diagnose", n, diagnose)
    stream = StreamedPlan(engine.kb, gathered.rows)
    if hasattr(stream, "take_shares"):  # the task makes the Resolutions from the shares
        from deficit_engine.workers import spill

        tables = spilled / "spill" / "plan.pickle"
        spill(tables, [stream.tables()])
        shares = stream.take_shares(n)

        def plan_of(start: int, stop: int) -> tuple[Any, ...]:
            return ((str(tables), "batch_cpu"), shares[start:stop])
    else:  # a tree whose parent sends the Resolutions
        resolutions = list(plan_rows(engine.kb, gathered.rows).resolutions)

        def plan_of(start: int, stop: int) -> tuple[Any, ...]:
            return (resolutions[start:stop],)

    options = cohort_module._PartOptions("jsonl", False, ())
    chunk = cohort_module.PART_CHUNK

    def route() -> None:
        for index, start in enumerate(range(0, n, chunk)):
            stop = min(start + chunk, n)
            args: tuple[Any, ...] = (str(spilled), index, start, gathered.pieces(start, stop))
            args += (*plan_of(start, stop), {}, options)
            runner.submit(cohort_module._route_spilled, *args).result()

    _timed(figures, "spill_route", n, route)
    return _digest_folder(spilled)


# --- the parent: rounds, alternating the trees ----------------------------------------------


def _run_child(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, str(HERE), "--child", "--profiles", str(args.profiles)]
    command += ["--seed", str(args.seed)] + (["--no-cli"] if args.no_cli else [])
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _best(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = runs[0]["figures"]
    return {key: min(run["figures"][key] for run in runs) for key in keys}


def compared_runs(
    against: Path | None, rounds: int, run_child: Callable[[Path], dict[str, Any]]
) -> tuple[dict[str, Path], dict[str, list[dict[str, Any]]]]:
    """This tree's src (and ``against``'s, when given) and each one's child runs,
    the trees taking turns so that the machine's load moves both alike (also used by
    output_formats.py). The order of the turns flips each round (this, against;
    against, this; ...): in a fixed order the tree that went first read slower by
    up to a fifth on stages neither tree changed (session 26), and with an even
    number of rounds each tree goes first as often as the other."""
    trees = {"this": THIS_SRC}
    if against is not None:
        trees["against"] = against.resolve()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for round_ in range(rounds):
        turns = list(trees.items())
        for name, src in turns[::-1] if round_ % 2 else turns:
            runs[name].append(run_child(src))
    return trees, runs


def outputs_differ(runs: dict[str, list[dict[str, Any]]], tool: str) -> bool:
    """Whether the trees' first runs wrote different outputs (said on stderr)."""
    digests = {name: tree_runs[0]["digests"] for name, tree_runs in runs.items()}
    if len({json.dumps(d, sort_keys=True) for d in digests.values()}) == 1:
        return False
    print(f"{tool}: the trees' outputs differ: {digests}", file=sys.stderr)
    return True


def print_compared(
    best: dict[str, dict[str, float]], rows: Sequence[tuple[str, str]], heading: str, width: int
) -> None:
    """One line a figure this tree measured: its value, and the other tree's with the
    ratio when there is one."""
    head = f"  {heading:{width}} {'this':>9}"
    if "against" in best:
        head += f" {'against':>9} {'this/against':>13}"
    print(head)
    for key, label in rows:
        if key not in best["this"]:
            continue
        line = f"  {label:{width}} {best['this'][key]:>9.1f}"
        if "against" in best:
            mine, theirs = best["this"][key], best["against"][key]
            line += f" {theirs:>9.1f} {mine / theirs:>13.2f}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profiles", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another tree's src folder")
    parser.add_argument("--no-cli", action="store_true", help="leave out the batch command")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.profiles, args.seed, not args.no_cli)))
        return 0
    trees, runs = compared_runs(args.against, args.rounds, lambda src: _run_child(src, args))
    if outputs_differ(runs, "batch_cpu"):
        return 2
    best = {name: _best(runs[name]) for name in trees}
    outputs = sorted(runs["this"][0]["digests"])
    print(f"batch CPU per person, µs (best of {args.rounds}), {args.profiles:,} profiles,")
    print(f"seed {args.seed}; outputs identical across trees: {outputs}")
    for name, src in trees.items():
        print(f"  {name}: {src}")
    print_compared(best, STAGES, "stage", 54)
    for key in ("cli", "cli2"):
        if key in best["this"]:
            rates = "  ".join(f"{name} {1e6 / best[name][key]:,.0f}" for name in trees)
            print(f"  profiles per CPU second, {key}: {rates}")
    print(json.dumps({name: best[name] for name in trees}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
