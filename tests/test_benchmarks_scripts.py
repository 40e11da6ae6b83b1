"""The benchmark scripts still run against the package as it is.

The scripts reach into the package's private functions to time its stages; when
those are renamed the script breaks only when someone runs it (``run.py --quick``
and ``allocation.py --quick`` both did, found by a new user's walk through the
README). These tests load every script and call the parts that reach inside.
"""

from __future__ import annotations

import math

import pytest

import deficit_engine
from benchmark_scripts import BENCHMARKS, load_benchmark
from deficit_engine import Engine, synthetic_profiles

SCRIPTS = sorted(path.stem for path in BENCHMARKS.glob("*.py"))


@pytest.fixture(scope="module")
def kb() -> deficit_engine.KnowledgeBase:
    return deficit_engine.load_kb()


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_loads(name: str) -> None:
    """Its imports, from the package and beside it, resolve."""
    load_benchmark(name)


def test_allocation_times_parts_that_exist() -> None:
    """allocation.py wraps the planner's functions by name: each must be there, or
    its part timers raise AttributeError before any figure."""
    allocation = load_benchmark("allocation")
    missing = [name for module, name in allocation.PARTS if not hasattr(module, name)]
    assert missing == []


def test_allocation_quick_plan_is_timed_by_part(kb: deficit_engine.KnowledgeBase) -> None:
    """The wrapped plan gives the same plan and times every part it calls."""
    allocation = load_benchmark("allocation")
    people = allocation.diagnose(kb, 40, seed=3, workers=1)
    plain = deficit_engine.plan_cohort(kb, people)
    timers = allocation.Timers()
    with allocation.instrumented(timers):
        timed = deficit_engine.plan_cohort(kb, people)
    assert timed.resolutions == plain.resolutions and timed.stats.mentees == plain.stats.mentees
    assert timers.calls["plan_programme_outcomes"] == 1
    assert timers.calls["_read"] == 1


def test_run_measures_every_stage_of_evaluate(kb: deficit_engine.KnowledgeBase) -> None:
    """run.py's stages (``--latency-only`` and the full run) on a few profiles: each
    a finite, non-negative time."""
    run = load_benchmark("run")
    engine = Engine(kb, backend="fast")
    profiles = list(synthetic_profiles(kb, 5, seed=11))
    stages = run.measure_stages(engine, profiles)
    assert set(stages) == {
        "validate+normalise",
        "diagnose",
        "result",
        "resolve+route",
        "pickle",
        "unpickle",
        "to_json",
    }
    assert all(math.isfinite(ms) and ms >= 0 for ms in stages.values())
