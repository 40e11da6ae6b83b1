"""Byte-identical output on a cohort generated outside the project (issue 16).

    python benchmarks/outside_identity.py [--profiles 2000] [--seed 16] [--workdir DIR]
                                          [--no-dask]

Generates a JSONL cohort with ``tests/outside_cohort.py`` (written from the profile
schema, not from ``synthetic_profiles``: 5-40 results, indicators, several
instruments by alias, unicode, duplicate ids, broken rows) and runs it through
every mode issue 16 requires to agree:

- ``deficit-engine batch IN -o OUT --format jsonl|parquet --workers 1|2`` with and
  without ``--columnar`` (the command line, in a subprocess);
- the same command with ``--scheduler`` on a Dask ``LocalCluster`` on 127.0.0.1
  (when ``distributed`` is installed and ``--no-dask`` is not given);
- the per-profile public API: ``Engine.plan_cohort`` (1 and 2 workers) on the rows
  the batch evaluates (docs/parts.md: what ``Engine.evaluate_dask`` and the batch
  give), and ``Engine.evaluate_dask`` on the cluster, with and without ``columnar``;
- without the cohort plan, compared among themselves: ``batch --no-allocate``
  (locally with 2 workers, and on the cluster) and ``Engine.evaluate`` on each
  profile alone (the API for one person).

It prints, per mode, the SHA-256 of the Results (each person's ``Result.to_dict``,
parsed from the part files or the ``result`` column and written in one canonical
form), of the person records, and of ``errors.jsonl``, ``summary.json`` and
``schools.json``, and of the folder's bytes; then "identical: yes/no" for each and
exits 1 on any difference. Modes of one format must write the same bytes
(docs/parts.md); across formats, the Results and person records must be equal.
Wall seconds per mode are printed too (noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deficit_engine import Engine
from deficit_engine.errors import DeficitEngineError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the outside generator lives beside the tests

from outside_cohort import outside_lines  # noqa: E402

#: The name that starts a mode without the cohort plan (compared among themselves).
UNPLANNED = "no-plan"

#: A mode's output, canonical: the Results, the person records, the other files.
Output = dict[str, Any]

#: The folder's files besides the parts, compared whole.
_FILES = ("errors.jsonl", "summary.json", "schools.json")

#: The columns of a Parquet part that are not the person record (docs/parts.md).
_NOT_PERSON = ("profile", "deficits", "severities", "result")


def canonical(value: Any) -> str:
    """One JSON text per value, whoever wrote it (orjson or json, any spacing)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _jsonl_people(out: Path) -> Iterator[dict[str, Any]]:
    for part in sorted((out / "results").glob("part-*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            yield json.loads(line)


def _parquet_people(out: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for part in sorted((out / "results").glob("part-*.parquet")):
        for row in pq.read_table(part).to_pylist():
            result = json.loads(row["result"])
            # the list columns must say what the Result says (docs/parts.md)
            deficits = [d["competency"] for d in result["deficits"]]
            severities = [d["severity"] for d in result["deficits"]]
            if row["deficits"] != deficits or row["severities"] != severities:
                raise AssertionError(f"{row['profile']}: deficit columns differ from the result")
            # the person's columns, and each --keep-columns column after them
            person = {name: value for name, value in row.items() if name not in _NOT_PERSON}
            if row["profile"] != result["profile"]:
                raise AssertionError(
                    f"{row['profile']}: the profile column differs from the result"
                )
            yield {"person": person, **result}


def read_folder(out: Path) -> Output:
    """A batch folder as the modes are compared: Results, person records, files."""
    people = list(
        _parquet_people(out) if any(out.glob("results/*.parquet")) else _jsonl_people(out)
    )
    records = [canonical([p["profile"], _person(p["person"])]) for p in people]
    results = [canonical({k: v for k, v in p.items() if k != "person"}) for p in people]
    return {
        "results": results,
        "records": records,
        # schools.json only when the cohort was planned
        **{name: (out / name).read_bytes() for name in _FILES if (out / name).is_file()},
        "files": {
            str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
        },
    }


def _person(person: dict[str, Any]) -> dict[str, Any]:
    """The person record's fields as floats where numbers (Parquet's double)."""
    years = person.get("experience_years")
    return {**person, "experience_years": None if years is None else float(years)}


def batch(source: Path, out: Path, *options: str) -> Output:
    """``deficit-engine batch`` in a subprocess, as a user runs it."""
    command = [sys.executable, "-m", "deficit_engine", "batch", str(source), "-o", str(out)]
    done = subprocess.run(
        [*command, "--quiet", *options], capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):  # 1: some rows set aside
        raise SystemExit(f"batch {' '.join(options)} exited {done.returncode}: {done.stderr}")
    output = digests(read_folder(out))
    shutil.rmtree(out)  # the digests are what is compared: the disk is not held
    return output


def evaluated_profiles(lines: list[str]) -> list[Any]:
    """The rows a batch evaluates, as an outside caller of the API would pick them:
    JSON objects, each id's first occurrence only (a later one is set aside)."""
    seen: set[str] = set()
    picked: list[Any] = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            if value["id"] in seen:
                continue
            seen.add(value["id"])
        picked.append(value)
    return picked


def api_results(results: Any) -> Output:
    """The API's Results in the batch's form: the valid people's, without traces."""
    return {"results": [canonical(r.to_dict(trace=False)) for r in results if r.ok]}


def evaluate_each(engine: Engine, profiles: list[Any]) -> Output:
    """``Engine.evaluate`` on each profile alone (the API for one person): the
    Results of ``batch --no-allocate``; a profile it refuses is set aside there."""
    results = []
    for profile in profiles:
        try:
            results.append(engine.evaluate(profile))
        except DeficitEngineError:
            continue
    return api_results(results)


@contextmanager
def local_cluster(processes: bool = True) -> Iterator[Any]:
    """A Dask cluster on 127.0.0.1, its scheduler on TCP (as in tests/test_dask_engine.py):
    two worker processes, or with ``processes=False`` one worker of two threads in
    this process (quicker to start, for a test)."""
    import distributed

    with distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2 if processes else 1,
        threads_per_worker=1 if processes else 2,
        processes=processes,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster


def batch_modes(source: Path, work: Path, scheduler: str | None) -> dict[str, Callable[[], Output]]:
    """Every command-line mode, by name, each run when called."""
    modes: dict[str, Callable[[], Output]] = {}
    for fmt in ("jsonl", "parquet"):
        for workers in ("1", "2"):
            for columnar in (False, True):
                name = f"batch {fmt} w{workers}{' columnar' if columnar else ''}"
                options = ["--format", fmt, "--workers", workers]
                options += ["--columnar"] if columnar else []
                modes[name] = _runner(source, work / name.replace(" ", "-"), options)
        if scheduler is not None:
            for columnar in (False, True):
                name = f"batch {fmt} dask{' columnar' if columnar else ''}"
                options = ["--format", fmt, "--scheduler", scheduler]
                options += ["--columnar"] if columnar else []
                modes[name] = _runner(source, work / name.replace(" ", "-"), options)
    return modes


def _runner(source: Path, out: Path, options: list[str]) -> Callable[[], Output]:
    return lambda: batch(source, out, *options)


def run_matrix(
    lines: list[str], work: Path, scheduler: str | None = None
) -> dict[str, tuple[Output, float]]:
    """Every mode's output on the cohort ``lines``, with its wall seconds."""
    source = work / "cohort.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = Engine.from_path(backend="fast")
    modes = batch_modes(source, work, scheduler)
    profiles = evaluated_profiles(lines)
    modes["api plan_cohort"] = lambda: api_results(engine.plan_cohort(profiles, workers=1).results)
    modes["api plan_cohort w2"] = lambda: api_results(
        engine.plan_cohort(profiles, workers=2).results
    )
    # without the cohort plan: each person resolved alone, as Engine.evaluate does
    modes[f"{UNPLANNED} batch parquet w2"] = _runner(
        source, work / "no-allocate", ["--format", "parquet", "--workers", "2", "--no-allocate"]
    )
    modes[f"{UNPLANNED} api evaluate"] = lambda: evaluate_each(engine, profiles)
    if scheduler is not None:
        modes[f"{UNPLANNED} batch parquet dask"] = _runner(
            source,
            work / "no-allocate-dask",
            ["--format", "parquet", "--no-allocate", "--scheduler", scheduler],
        )
    if scheduler is not None:
        modes["api evaluate_dask"] = lambda: api_results(
            engine.evaluate_dask(profiles, scheduler, chunk_size=97).results
        )
        modes["api evaluate_dask columnar"] = lambda: api_results(
            engine.evaluate_dask(profiles, scheduler, columnar=True).results
        )
    outputs = {}
    for name, run in modes.items():
        started = time.perf_counter()
        outputs[name] = (digests(run()), time.perf_counter() - started)
    return outputs


def digest(value: Any) -> str:
    """SHA-256 of an output piece: bytes, a list of texts, or files by name (a text
    is a digest already: :func:`digests`)."""
    if isinstance(value, str):
        return value
    sha = hashlib.sha256()
    if isinstance(value, bytes):
        sha.update(value)
    elif isinstance(value, dict):
        for name, data in value.items():
            sha.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    else:
        sha.update("\n".join(value).encode("utf-8", "surrogatepass"))
    return sha.hexdigest()


def digests(output: Output) -> Output:
    """An output as its pieces' digests: what is compared, without holding every
    mode's Results (tens of MB a mode) until the last has run."""
    return {piece: digest(value) for piece, value in output.items()}


def compare(outputs: dict[str, Output]) -> dict[str, bool]:
    """Which pieces agree across the modes that have them (files: within a format;
    the modes without a cohort plan, named ``UNPLANNED ...``, among themselves)."""
    unplanned = {n: o for n, o in outputs.items() if n.startswith(UNPLANNED)}
    planned = {n: o for n, o in outputs.items() if n not in unplanned}
    return {**_agreement(planned, ""), **_agreement(unplanned, f" ({UNPLANNED})")}


def _agreement(outputs: dict[str, Output], label: str) -> dict[str, bool]:
    """Whether each piece is the same in every mode of ``outputs`` that has it."""
    verdicts: dict[str, bool] = {}
    pieces = {piece: piece for piece in ("results", "records", *_FILES)}
    for fmt in ("jsonl", "parquet"):  # a folder's bytes: within one format
        pieces[f"files ({fmt})"] = "files"
    for verdict, piece in pieces.items():
        fmt = verdict[len("files (") : -1] if piece == "files" else ""
        found = {
            digest(o[piece])
            for name, o in outputs.items()
            if piece in o and (piece != "files" or f"batch {fmt}" in name)
        }
        if found:  # schools.json is a planned batch's; a format no mode wrote
            verdicts[verdict + label] = len(found) == 1
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--workdir", type=Path, help="keep the cohort and outputs here")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask modes")
    args = parser.parse_args()
    kb = Engine.from_path().kb
    lines = outside_lines(kb, args.profiles, args.seed)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        dask = not args.no_dask
        if dask:
            try:
                import distributed  # noqa: F401
            except ImportError:
                print("# distributed is not installed: the Dask modes are skipped")
                dask = False
        if dask:
            with local_cluster() as cluster:
                outputs = run_matrix(lines, work, cluster.scheduler_address)
        else:
            outputs = run_matrix(lines, work)
    print(f"cohort: {len(lines)} lines, {args.profiles} generated profiles, seed {args.seed}")
    print(f"{'mode':32} {'s':>6}  results   records   errors    summary   schools   files")
    for name, (output, seconds) in outputs.items():
        cells = [
            digest(output[piece])[:8] if piece in output else "-" * 8
            for piece in (
                "results",
                "records",
                "errors.jsonl",
                "summary.json",
                "schools.json",
                "files",
            )
        ]
        print(f"{name:32} {seconds:6.1f}  {'  '.join(cells)}")
    print(f"results sha256: {digest(next(iter(outputs.values()))[0]['results'])}")
    verdicts = compare({name: output for name, (output, _s) in outputs.items()})
    for piece, same in verdicts.items():
        print(f"{piece}: identical: {'yes' if same else 'no'}")
    every = all(verdicts.values())
    print(f"identical: {'yes' if every else 'no'}")
    return 0 if every else 1


if __name__ == "__main__":
    raise SystemExit(main())
