"""The cyclic GC paused where a stage makes millions of containers (gcpause)."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine import cohort as cohort_module
from deficit_engine.cohort import run_batch
from deficit_engine.gcpause import call_without_gc, paused_gc


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that start while the test runs, with a
    threshold low enough that any stretch of allocations with the GC on triggers one."""
    started: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(int(info["generation"]))

    threshold = gc.get_threshold()
    gc.set_threshold(50)
    gc.callbacks.append(count)
    try:
        yield started
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)


def test_paused_gc_restores_the_state_it_found() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves the outer one paused
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_diagnose_many_runs_without_a_collection_and_restores_the_gc(
    collections: list[int],
) -> None:
    engine = Engine.from_path(backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 40, seed=2))
    gc.collect()  # the allocation counts start from zero: only the call's own count
    collections.clear()
    diagnosed = engine.diagnose_many(profiles)
    assert len(diagnosed) == 40
    # validating, deriving and building 40 Results allocate tens of thousands of
    # containers: with the GC on in any stage of the call, collections start by the
    # hundred at this threshold. One may start as the pause ends (its count is due).
    assert len(collections) <= 1, len(collections)
    assert gc.isenabled()
    [{}.copy() for _ in range(200)]  # and it is back on: allocations collect again
    assert collections


def _made_and_dropped(size: int) -> int:
    """Tens of thousands of containers alive at once, all dropped on return."""
    held = [{"n": n} for n in range(size)]
    return len(held)


@contextlib.contextmanager
def _collections_started() -> Iterator[list[int]]:
    """The generation of every collection started in the block, from a fresh count.

    At the default threshold (700): freelists keep a few hundred of the freed
    containers without taking back their count, which a lower one would notice.
    """
    started: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(int(info["generation"]))

    threshold = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    gc.callbacks.append(count)
    try:
        gc.collect()
        started.clear()
        yield started
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)


def test_a_call_without_gc_collects_nothing_during_it_nor_as_it_ends() -> None:
    seen: list[bool] = []

    def task(size: int) -> int:
        seen.append(gc.isenabled())
        return _made_and_dropped(size)

    with _collections_started() as started:
        assert call_without_gc(task, 20_000) == 20_000
        assert seen == [False] and gc.isenabled()
        # the call's containers were freed before the pause ended, which took back
        # their count: the next allocations start no collection
        [{}.copy() for _ in range(50)]
        assert started == []
        # a pause that ends inside the call ends while its containers live: it is due
        # a collection, which walks them
        _paused_inside(20_000)
        assert started


def _paused_inside(size: int) -> int:
    with paused_gc():
        held = [{"n": n} for n in range(size)]
    [{}.copy() for _ in range(50)]
    return len(held)


def test_a_batch_runs_its_worker_tasks_without_gc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine.from_path(backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 30, seed=3))
    source = tmp_path / "cohort.jsonl"
    source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in profiles))
    enabled: list[tuple[str, bool]] = []

    def watched(task: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            enabled.append((task.__name__, gc.isenabled()))
            return task(*args)

        return run

    for name in ("_diagnose_spilled", "_route_spilled"):
        monkeypatch.setattr(cohort_module, name, watched(getattr(cohort_module, name)))
    summary = run_batch(engine, source, tmp_path / "out", workers=1, output_format="jsonl")
    assert summary.evaluated == 30
    assert sorted(set(enabled)) == [("_diagnose_spilled", False), ("_route_spilled", False)]
    assert gc.isenabled()


def _kept_inside(size: int) -> list[list[int]]:
    with paused_gc(keep=True):
        held = [[n] for n in range(size)]  # lists: tracked whatever they hold
    [{}.copy() for _ in range(50)]
    return held


def test_a_kept_pause_moves_what_it_made_to_the_oldest_generation_without_a_walk() -> None:
    with _collections_started() as started:
        held = _kept_inside(20_000)
        # the pause ended with its 20 000 lists alive and due a collection: kept, they
        # went to the oldest generation as they were, and the count started again
        assert started == []
        assert gc.isenabled()
        assert gc.get_freeze_count() == 0
        assert any(x is held[-1] for x in gc.get_objects(generation=2))
        # the collector still runs: the next stretch of allocations collects
        [{}.copy() for _ in range(1_000)]
        assert started
        # objects frozen already stay frozen: the due collection runs as usual
        gc.freeze()
        try:
            frozen = gc.get_freeze_count()
            started.clear()
            _kept_inside(20_000)
            assert started
            assert gc.get_freeze_count() >= frozen
        finally:
            gc.unfreeze()
