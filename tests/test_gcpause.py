"""The cyclic GC paused where a stage makes millions of containers (gcpause)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.gcpause import paused_gc


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
