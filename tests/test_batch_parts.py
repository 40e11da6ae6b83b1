"""`batch --format jsonl|parquet` (the workers write their parts of the results) and
`batch --scheduler` (the same on a Dask cluster): the same people, the same
summary, errors and schools as the default output, byte for byte where the files
are the same files, and Parquet read back with pyarrow alone.

The cohort is synthetic (deficit_engine.synthetic): no real person's data.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import cohort as cohort_module
from deficit_engine.cli import main
from deficit_engine.cohort import run_batch
from deficit_engine.engine import Engine
from deficit_engine.errors import SourceError, UsageError
from deficit_engine.parts import PartRow, write_part
from deficit_engine.store import BatchRecorder, Store
from deficit_engine.synthetic import synthetic_profiles
from deficit_engine.tables import TableReading
from test_hardening_batch import (
    EXIT_TERMINATED,
    SLOW_BATCH,
    _children,
    _running,
    _wait_for,
    leftovers,
    needs_fork,
    profiles,
    write_jsonl,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

#: Files a --format batch writes exactly as the default batch does.
SHARED_FILES = ("summary.json", "errors.jsonl", "schools.json")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.fixture(scope="module")
def source(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 synthetic profiles and one row that is set aside."""
    path = tmp_path_factory.mktemp("cohort") / "cohort.jsonl"
    lines = [json.dumps(p, ensure_ascii=False) for p in synthetic_profiles(engine.kb, 60, seed=7)]
    lines.insert(5, json.dumps({"id": "BROKEN-1", "person": {"role": "teacher"}}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def default_run(engine: Engine, source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default") / "out"
    run_batch(engine, source, out, workers=1)
    return out


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _jsonl_parts(out: Path) -> list[dict[str, Any]]:
    return [r for part in sorted((out / "results").glob("part-*.jsonl")) for r in _records(part)]


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("workers", [1, 2])
def test_jsonl_parts_hold_the_default_results_and_the_same_summary(
    engine: Engine, source: Path, default_run: Path, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "out"
    run_batch(engine, source, out, workers=workers, output_format="jsonl")
    assert _jsonl_parts(out) == _records(default_run / "results.jsonl")
    for name in SHARED_FILES:
        assert (out / name).read_bytes() == (default_run / name).read_bytes(), name
    assert not (out / "results.jsonl").exists()
    assert not (out / "results.csv").exists()


def test_parquet_parts_read_with_pyarrow_alone(
    engine: Engine, source: Path, default_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 25)  # 60 people: three parts
    out = tmp_path / "out"
    run_batch(engine, source, out, workers=1, output_format="parquet")
    parts = sorted((out / "results").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-0000{i}.parquet" for i in range(3)]
    assert [pq.ParquetFile(p).metadata.num_row_groups for p in parts] == [1, 1, 1]
    table = pq.read_table(out / "results")  # the folder as one dataset
    want = _records(default_run / "results.jsonl")
    assert table.column("profile").to_pylist() == [r["profile"] for r in want]
    assert [json.loads(t) for t in table.column("result").to_pylist()] == [
        {k: v for k, v in r.items() if k != "person"} for r in want
    ]
    assert table.column("role").to_pylist() == [r["person"]["role"] for r in want]
    assert table.column("deficits").to_pylist() == [
        [d["competency"] for d in r["deficits"]] for r in want
    ]
    for name in SHARED_FILES:
        assert (out / name).read_bytes() == (default_run / name).read_bytes(), name


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_one_and_two_workers_write_the_same_bytes(
    engine: Engine, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 16)
    run_batch(engine, source, tmp_path / "one", workers=1, output_format=fmt)
    run_batch(engine, source, tmp_path / "two", workers=2, output_format=fmt)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert len([n for n in one if n.startswith("results/")]) == 4
    assert one == two


def test_unplanned_parts_hold_the_default_unplanned_results(
    engine: Engine, source: Path, tmp_path: Path
) -> None:
    run_batch(engine, source, tmp_path / "default", workers=1, allocate=False)
    run_batch(engine, source, tmp_path / "parts", workers=2, allocate=False, output_format="jsonl")
    assert _jsonl_parts(tmp_path / "parts") == _records(tmp_path / "default" / "results.jsonl")
    for name in ("summary.json", "errors.jsonl"):
        want = (tmp_path / "default" / name).read_bytes()
        assert (tmp_path / "parts" / name).read_bytes() == want, name


def test_a_full_disk_while_a_part_is_written_publishes_nothing(
    engine: Engine, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(cohort_module, "write_part", full)
    with pytest.raises(SourceError, match="No space left"):
        run_batch(engine, source, tmp_path / "out", workers=1, output_format="parquet")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its staging folder


def test_part_options_that_cannot_go_together_are_refused(
    engine: Engine, source: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="--documents"):
        run_batch(engine, source, tmp_path / "a", output_format="jsonl", documents="md")
    with pytest.raises(UsageError, match="--scheduler needs --format"):
        run_batch(engine, source, tmp_path / "b", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(UsageError, match="format"):
        run_batch(engine, source, tmp_path / "c", output_format="csv")
    assert list(tmp_path.iterdir()) == []


def _stored(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored person's diagnoses, as the store gives them back (without row ids)."""
    store = Store.open(str(db))
    try:
        return {
            person: [
                (
                    d.run,
                    d.diagnosed_on,
                    d.profile,
                    d.provenance,
                    d.result,
                    d.kb_hash,
                    d.route_version,
                )
                for d in store.history(person)
            ]
            for person in store.person_ids()
        }
    finally:
        store.engine.dispose()


def _recorded_run(engine: Engine, source: Path, out: Path, db: Path, **options: Any) -> int:
    store = Store.open(str(db))
    store.upgrade()
    try:
        recorder = BatchRecorder(store, "r1", engine.kb, source=source.name)
        summary = run_batch(engine, source, out, record=recorder, **options)
        recorder.finish(summary)
        return recorder.added
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("allocate", [True, False])
def test_a_store_records_the_people_of_a_batch_writing_parts(
    engine: Engine, source: Path, tmp_path: Path, allocate: bool
) -> None:
    """--db with --format: the store holds what the default batch records, one
    person per transaction, and the parts are written as without --db."""
    default = _recorded_run(
        engine, source, tmp_path / "d", tmp_path / "d.db", workers=1, allocate=allocate
    )
    parts = _recorded_run(
        engine,
        source,
        tmp_path / "p",
        tmp_path / "p.db",
        workers=2,
        allocate=allocate,
        output_format="jsonl",
    )
    assert parts == default == 60
    assert _stored(tmp_path / "p.db") == _stored(tmp_path / "d.db")
    run_batch(
        engine, source, tmp_path / "plain", workers=2, allocate=allocate, output_format="jsonl"
    )
    assert _files(tmp_path / "p") == _files(tmp_path / "plain")


def test_a_lone_surrogate_is_written_as_its_escape(tmp_path: Path) -> None:
    row = PartRow("T-\udc80", {"role": "teacher"}, {"profile": "T-\udc80", "deficits": []})
    write_part(tmp_path / "p.jsonl", [row], "jsonl")
    write_part(tmp_path / "p.parquet", [row], "parquet")
    assert "\\udc80" in (tmp_path / "p.jsonl").read_text(encoding="utf-8")
    assert "udc80" in pq.read_table(tmp_path / "p.parquet").column("result")[0].as_py()


def test_the_cli_writes_parquet_parts(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["batch", str(source), "-o", str(out), "--format", "parquet", "--workers", "1"])
    assert code == 1  # the broken row was set aside: errors.jsonl says why
    assert pq.read_table(out / "results").num_rows == 60


def test_a_dask_cluster_writes_the_same_bytes_as_the_local_run(
    engine: Engine, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(cohort_module, "PART_CHUNK", 16)
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 16)
    local = tmp_path / "local"
    run_batch(engine, source, local, workers=1, output_format="parquet", columnar=True)
    from test_dask_engine import local_cluster

    with local_cluster() as cluster, distributed.Client(cluster) as client:
        on_dask = tmp_path / "dask"
        run_batch(engine, source, on_dask, output_format="parquet", columnar=True, scheduler=client)
        by_address = tmp_path / "address"
        run_batch(
            engine, source, by_address, output_format="jsonl", scheduler=cluster.scheduler_address
        )
        sent = tmp_path / "sent"  # a file that cannot be cut (an XLSX): the rows are sent
        with monkeypatch.context() as patch:
            patch.setattr(TableReading, "shares", lambda self, records: None)
            run_batch(
                engine, source, sent, output_format="parquet", columnar=True, scheduler=client
            )
    assert _files(on_dask) == _files(local)
    assert _files(sent) == _files(local)
    run_batch(engine, source, tmp_path / "jsonl", workers=1, output_format="jsonl")
    assert _files(by_address) == _files(tmp_path / "jsonl")


@needs_fork
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_sigterm_stops_the_part_writers_and_leaves_nothing(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(200))
    out = tmp_path / "out"
    command = [sys.executable, "-c", SLOW_BATCH, "batch", str(source), "-o", str(out)]
    batch = subprocess.Popen(
        [*command, "--workers", "2", "--no-allocate", "--quiet", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: len(_children(batch.pid)) == 2, 60), "no workers started"
        workers = _children(batch.pid)
        assert _wait_for(lambda: bool(leftovers(tmp_path, "out")), 30)
        time.sleep(1.0)  # the workers are evaluating their chunks
        batch.send_signal(signal.SIGTERM)
        _stdout, stderr = batch.communicate(timeout=30)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == EXIT_TERMINATED
    assert "Traceback" not in stderr
    assert _wait_for(lambda: not any(_running(w) for w in workers), 10), "orphaned workers"
    assert not out.exists()
    assert leftovers(tmp_path, "out") == []


def test_a_kept_column_named_as_a_parquet_column_is_refused(engine: Engine, tmp_path: Path) -> None:
    table = tmp_path / "named.csv"
    table.write_text("id,result,role,experience_years,normative.fgos\nA-1,x,teacher,3,40\n")
    with pytest.raises(UsageError, match="--keep-columns result"):
        run_batch(engine, table, tmp_path / "out", output_format="parquet", keep_columns=["result"])
    assert [p.name for p in tmp_path.iterdir()] == ["named.csv"]  # no staging folder left


#: A fresh interpreter (pandas not loaded) runs a two-worker Parquet batch whose
#: workers note, after each part, whether pandas is loaded in them.
_WORKERS_NOTE_PANDAS = """
import sys
from pathlib import Path
from deficit_engine import cohort
from deficit_engine.engine import Engine

source, out, notes = sys.argv[1:4]
write_part = cohort.write_part

def noting(*args, **kwargs):  # inherited by the forked workers
    write_part(*args, **kwargs)
    with open(notes, "a", encoding="utf-8") as f:
        f.write(f"{'pandas' in sys.modules}\\n")

cohort.write_part = noting
cohort.run_batch(Engine.from_path(), Path(source), Path(out), workers=2, output_format="parquet")
print("pandas" in sys.modules)
"""


@needs_fork
def test_the_pool_workers_write_parquet_without_loading_pandas(
    source: Path, tmp_path: Path
) -> None:
    """pyarrow loads pandas on its first array made from Python values: 49 MB in
    each worker, for nothing a part reads (arrow_without_pandas)."""
    notes = tmp_path / "notes.txt"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _WORKERS_NOTE_PANDAS,
            str(source),
            str(tmp_path / "out"),
            str(notes),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False"]  # the command wrote no part
    assert notes.read_text(encoding="utf-8").split() == ["False"]  # one part: 61 people


#: Writes a Parquet part of synthetic rows, pyarrow kept from pandas or not
#: (argv[2]), and says whether pandas was loaded.
_PART_WITH_OR_WITHOUT_PANDAS = """
import sys
from pathlib import Path
from deficit_engine.parts import PartRow, arrow_without_pandas, write_part

if sys.argv[2] == "without":
    arrow_without_pandas()
rows = [
    PartRow(f"P-{n}", {"role": "teacher" if n % 3 else None, "municipality": "Город",
                       "experience_years": None if n % 4 == 0 else n / 2,
                       "subjects": None if n % 5 == 0 else ["math", "\\udc80"][: n % 3]},
            {"profile": f"P-{n}", "ok": True,
             "deficits": [{"competency": f"C{n % 7}", "severity": "high"}] * (n % 3)})
    for n in range(40)
]
write_part(Path(sys.argv[1]), rows, "parquet", ("extra",))
print("pandas" in sys.modules)
"""


def test_a_part_written_without_pandas_has_the_same_bytes(tmp_path: Path) -> None:
    """What pyarrow does with pandas at hand, a part does not need: the file is the
    same byte for byte, nulls, lists and a lone surrogate included."""
    loaded = {}
    for how in ("with", "without"):
        done = subprocess.run(
            [sys.executable, "-c", _PART_WITH_OR_WITHOUT_PANDAS, str(tmp_path / how), how],
            capture_output=True,
            text=True,
            check=True,
        )
        loaded[how] = done.stdout.split()
    assert loaded == {"with": ["True"], "without": ["False"]}
    assert (tmp_path / "with").read_bytes() == (tmp_path / "without").read_bytes()
    table = pq.read_table(tmp_path / "without")
    assert table.num_rows == 40
    assert table.column("subjects").to_pylist()[:3] == [None, ["math"], ["math", "\\udc80"]]
