"""Issue 17, part B: a batch survives its rows; whole-run output failures; shutdown.

Each test reproduces one hostile input or fault of the issue and fails without its fix:
a lone-surrogate id, any exception of one row, a killed worker, ``--workers 500``, a
full disk, an unwritable output parent, ``-o`` a symbolic link, SIGTERM of the parent
and a killed run's leftover staging folder.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deficit_engine import Engine
from deficit_engine import cohort as cohort_module
from deficit_engine import engine as engine_module
from deficit_engine.cli import EXIT_TERMINATED, main
from deficit_engine.engine import evaluate_many
from deficit_engine.workers import max_workers

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "young_teacher.yaml"
needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="the test patches forked workers"
)


def profiles(count: int) -> list[dict[str, Any]]:
    """``count`` copies of a shipped example, ids P-0 … P-<count-1>."""
    base = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return [{**base, "id": f"P-{i}"} for i in range(count)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def leftovers(folder: Path, name: str) -> list[str]:
    """Hidden staging folders of OUT ``name`` in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


# --- a batch survives its rows ----------------------------------------------------------


@pytest.mark.parametrize("allocate", [True, False])
def test_a_lone_surrogate_id_is_set_aside_not_fatal(
    tmp_path: Path, allocate: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = profiles(2)
    rows[1]["id"] = "\udc80"  # json.dumps writes it as the escape JSON allows
    source = write_jsonl(tmp_path / "cohort.jsonl", rows)
    out = tmp_path / "out"
    args = ["batch", str(source), "-o", str(out), "--workers", "1", "--quiet"]
    assert main(args if allocate else [*args, "--no-allocate"]) == 1
    assert "internal error" not in capsys.readouterr().err
    errors = read_jsonl(out / "errors.jsonl")
    assert [e["profile"] for e in errors] == ["\udc80"]  # the escape reads back as written
    assert errors[0]["line"] == 2
    assert [r["profile"] for r in read_jsonl(out / "results.jsonl")] == ["P-0"]


@pytest.mark.parametrize(
    "exc",
    [
        RecursionError("maximum recursion depth exceeded"),
        MemoryError(),
        ValueError("Exceeds the limit (4300 digits)"),
        OSError(errno.EIO, "Input/output error"),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("stage", ["evaluate", "diagnose"])
def test_any_exception_of_one_row_sets_that_row_aside(
    monkeypatch: pytest.MonkeyPatch, exc: BaseException, stage: str
) -> None:
    real = getattr(Engine, stage)

    def explode(self: Engine, profile: Any) -> Any:
        if profile["id"] == "P-1":
            raise exc
        return real(self, profile)

    monkeypatch.setattr(Engine, stage, explode)
    out = list(evaluate_many(Engine.from_path(), profiles(3), 1, stage=stage))
    results = out if stage == "evaluate" else [result for _profile, result in out]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].profile == "P-1"
    assert results[1].errors == (
        f"evaluation failed: {type(exc).__name__}: {str(exc) or 'no message'}",
    )


def test_a_row_whose_transform_fails_is_set_aside(tmp_path: Path) -> None:
    def picky(result: Any) -> str:
        if result.ok and result.profile == "P-0":
            raise ValueError("cannot serialise")
        return f"{result.profile}:{result.ok}"

    got = list(evaluate_many(Engine.from_path(), profiles(2), 1, transform=picky))
    assert got == ["P-0:False", "P-1:True"]


def test_a_batch_sets_aside_a_row_that_raises_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = Engine.evaluate

    def explode(self: Engine, profile: Any) -> Any:
        if profile["id"] == "P-2":
            raise RecursionError("maximum recursion depth exceeded while calling a Python object")
        return real(self, profile)

    monkeypatch.setattr(Engine, "evaluate", explode)
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(4))
    out = tmp_path / "out"
    args = ["batch", str(source), "-o", str(out), "--workers", "1", "--no-allocate", "--quiet"]
    assert main(args) == 1
    assert "4 profile(s): 3 evaluated, 1 set aside" in capsys.readouterr().out
    (error,) = read_jsonl(out / "errors.jsonl")
    assert error["line"] == 3
    assert error["errors"][0].endswith(
        "evaluation failed: RecursionError: maximum recursion "
        "depth exceeded while calling a Python object"
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_deep_and_huge_integer_rows_are_set_aside(
    tmp_path: Path, workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, deep, deeper, huge = (json.dumps(p) for p in profiles(4))
    lines = [
        ok,
        deep[:-1] + ', "x": ' + "[" * 900 + "]" * 900 + "}",  # decodes; too deep to pickle
        deeper[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",  # the decoder recurses out
        huge[:-1] + ', "x": ' + "9" * 5000 + "}",  # over Python's 4300-digit conversion limit
    ]
    source = tmp_path / "cohort.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--workers", workers, "--quiet"]) == 1
    assert "internal error" not in capsys.readouterr().err
    errors = {e["line"]: e["errors"] for e in read_jsonl(out / "errors.jsonl")}
    assert sorted(errors) == [2, 3, 4]
    # the reader refuses them before json recurses or converts (profile.load_json_text)
    assert errors[3][0].startswith(f"{source}:3: character ")
    assert errors[3][0].endswith("values nest more than 100 levels deep")
    assert errors[4][0].startswith(f"{source}:4: character ") and "integer of 5000" in errors[4][0]
    assert [r["profile"] for r in read_jsonl(out / "results.jsonl")] == ["P-0"]


# --- a killed worker ---------------------------------------------------------------------


def _killing_stage(should_die: Callable[[dict[str, Any]], bool]) -> Any:
    real = engine_module._STAGES["evaluate"]

    def stage(engine: Engine, profile: Any, index: int) -> Any:
        if should_die(profile):
            os._exit(9)  # as the OOM killer or kill -9 would end the worker
        return real(engine, profile, index)

    return stage


@needs_fork
def test_a_chunk_that_kills_its_worker_twice_is_set_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    stage = _killing_stage(lambda p: p["id"] == "P-3")
    monkeypatch.setitem(engine_module._STAGES, "evaluate", stage)
    got = list(evaluate_many(Engine.from_path(), profiles(8), 2, chunk_size=2))
    assert [r.profile for r in got] == [f"P-{i}" for i in range(8)]
    # the chunk of P-3 (P-2 and P-3) is set aside; every other chunk, in flight or not, is not
    assert [r.ok for r in got] == [True, True, False, False, True, True, True, True]
    assert "died twice" in got[3].errors[0] and "1 other(s)" in got[3].errors[0]


@needs_fork
def test_a_worker_killed_once_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "killed-once"

    def once(profile: dict[str, Any]) -> bool:
        if profile["id"] != "P-5" or marker.exists():
            return False
        marker.touch()
        return True

    monkeypatch.setitem(engine_module._STAGES, "evaluate", _killing_stage(once))
    got = list(evaluate_many(Engine.from_path(), profiles(8), 2, chunk_size=2))
    assert marker.exists()
    assert [r.profile for r in got] == [f"P-{i}" for i in range(8)]
    assert all(r.ok for r in got)


@needs_fork
def test_a_batch_survives_a_killed_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(
        engine_module._STAGES, "diagnose", _diagnose_killer(lambda p: p["id"] == "P-70")
    )
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(130))
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--workers", "2", "--quiet"]) == 1
    # the 64-profile chunk of P-70 (P-64 … P-127) is set aside, the rest planned
    assert "130 profile(s): 66 evaluated, 64 set aside" in capsys.readouterr().out
    errors = read_jsonl(out / "errors.jsonl")
    assert [e["profile"] for e in errors] == [f"P-{i}" for i in range(64, 128)]
    assert "died twice" in errors[0]["errors"][0]


def _diagnose_killer(should_die: Callable[[dict[str, Any]], bool]) -> Any:
    real = engine_module._STAGES["diagnose"]

    def stage(engine: Engine, profile: Any, index: int) -> Any:
        if should_die(profile):
            os._exit(9)
        return real(engine, profile, index)

    return stage


def test_workers_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert max_workers() == 4
    started: list[int] = []
    real = engine_module._Pool._start

    def spy(self: Any, workers: int) -> Any:
        started.append(workers)
        return real(self, workers)

    monkeypatch.setattr(engine_module._Pool, "_start", spy)
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(3))
    out = tmp_path / "out"
    args = ["batch", str(source), "-o", str(out), "--workers", "500", "--no-allocate", "--quiet"]
    assert main(args) == 0
    assert started == [4]
    assert "--workers 500: using 4 (at most 4 per core)" in capsys.readouterr().err


# --- output: the whole run fails, exit 2, nothing left -------------------------------------


def test_a_full_disk_exits_2_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = cohort_module._Writer.add
    written: list[int] = []

    def full(self: Any, *args: Any, **kwargs: Any) -> None:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(cohort_module._Writer, "add", full)
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(3))
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{out}: cannot-write: No space left on device"]
    assert not out.exists()
    assert leftovers(tmp_path, "out") == []


def test_a_full_disk_while_writing_a_file_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(self: Any, name: str, data: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path / name))

    monkeypatch.setattr(cohort_module._Staging, "write_json", full)
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(2))
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--no-allocate", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'summary.json'}: cannot-write: No space left on device" in err
    assert not out.exists() and leftovers(tmp_path, "out") == []


def test_an_unwritable_output_parent_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(1))
    out = parent / "out"
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse as a read-only one does

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(parent))

        monkeypatch.setattr(cohort_module.tempfile, "mkdtemp", refuse)
    parent.chmod(0o555)
    try:
        assert main(["batch", str(source), "-o", str(out), "--workers", "1"]) == 2
    finally:
        parent.chmod(0o755)
    assert capsys.readouterr().err.strip() == f"{out}: cannot-write: Permission denied"
    assert list(parent.iterdir()) == []


def test_output_a_symlink_to_an_empty_folder_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    monkeypatch.setattr(Engine, "evaluate", lambda *a: pytest.fail("evaluated"))
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(1))
    args = ["batch", str(source), "-o", str(link), "--workers", "1", "--no-allocate"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{link}: symlink: the output folder is a symbolic link; name the folder itself"]
    assert link.is_symlink() and list(target.iterdir()) == []
    assert leftovers(tmp_path, "link") == [] and leftovers(tmp_path, "real") == []


# --- shutdown --------------------------------------------------------------------------------

SLOW_BATCH = """\
import sys, time
from deficit_engine import engine
real = engine._STAGES["evaluate"]
def slow(e, p, i):
    time.sleep(0.2)
    return real(e, p, i)
engine._STAGES["evaluate"] = slow
from deficit_engine.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@needs_fork
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_sigterm_stops_the_workers_and_leaves_nothing(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(200))
    out = tmp_path / "out"
    command = [sys.executable, "-c", SLOW_BATCH, "batch", str(source), "-o", str(out)]
    batch = subprocess.Popen(
        [*command, "--workers", "2", "--no-allocate", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: len(_children(batch.pid)) == 2, 60), "no workers started"
        workers = _children(batch.pid)
        # the workers are evaluating (results are being written) when the signal comes
        assert _wait_for(lambda: bool(leftovers(tmp_path, "out")), 30)
        time.sleep(1.0)
        batch.send_signal(signal.SIGTERM)
        _stdout, stderr = batch.communicate(timeout=30)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == EXIT_TERMINATED
    assert stderr.strip().splitlines()[-1] == "deficit-engine: terminated"
    assert "Traceback" not in stderr
    assert _wait_for(lambda: not any(_running(w) for w in workers), 10), "orphaned workers"
    assert not out.exists()
    assert leftovers(tmp_path, "out") == []


def _slow_wind_down(real: Callable[[Any], None]) -> Callable[[Any], None]:
    def wind_down(thread: Any) -> None:
        time.sleep(0.5)  # a loaded machine: the manager thread closes its pipes late
        real(thread)

    return wind_down


@needs_fork
def test_a_stopped_pool_has_closed_its_pipes_before_the_command_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Python 3.11's exit hook writes to the pool's wake-up pipe without a lock: if
    # the manager thread were still closing it, the command would end with
    # "OSError: [Errno 9] Bad file descriptor" after "terminated" (seen in CI)
    from concurrent.futures import process as pool_module

    from deficit_engine.workers import start_pool, start_worker, stop_pool

    manager_class = pool_module._ExecutorManagerThread
    real = manager_class.join_executor_internals
    monkeypatch.setattr(manager_class, "join_executor_internals", _slow_wind_down(real))
    pool = start_pool(2, start_worker, (os.getpid(),))
    running = pool.submit(time.sleep, 30)
    _wait_for(running.running, 30)
    manager = pool._executor_manager_thread
    assert manager is not None
    stop_pool(pool)
    assert not manager.is_alive()


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(gone.stdout)
    stale = tmp_path / f".out.{dead}.abcd_123"
    (stale / "documents").mkdir(parents=True)
    (stale / "results.jsonl").write_text("{}\n", encoding="utf-8")
    alive = tmp_path / f".out.{os.getppid()}.zzzzzzzz"  # a run still going: kept
    alive.mkdir()
    others = [tmp_path / ".out.notours", tmp_path / f".outer.{dead}.abcdefgh"]
    for folder in others:
        folder.mkdir()
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(1))
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    assert not stale.exists()
    assert alive.exists() and all(folder.exists() for folder in others)
    assert (out / "results.jsonl").exists()


@needs_fork
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"
)
def test_kill_9_of_the_parent_ends_its_workers_and_a_rerun_cleans_up(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "cohort.jsonl", profiles(200))
    out = tmp_path / "out"
    command = [sys.executable, "-c", SLOW_BATCH, "batch", str(source), "-o", str(out)]
    batch = subprocess.Popen(
        [*command, "--workers", "2", "--no-allocate", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: len(_children(batch.pid)) == 2, 60), "no workers started"
        workers = _children(batch.pid)
        assert _wait_for(lambda: bool(leftovers(tmp_path, "out")), 30)
        batch.kill()
        batch.wait(timeout=30)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert _wait_for(lambda: not any(_running(w) for w in workers), 10), "orphaned workers"
    assert len(leftovers(tmp_path, "out")) == 1  # what kill -9 leaves
    small = write_jsonl(tmp_path / "small.jsonl", profiles(1))
    assert main(["batch", str(small), "-o", str(out), "--workers", "1", "--quiet"]) == 0
    assert leftovers(tmp_path, "out") == []
