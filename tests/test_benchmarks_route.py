"""benchmarks/route_speed.py: the route stages of two trees taking turns over slices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmark_scripts import load_benchmark

SRC = Path(__file__).resolve().parents[1] / "src"


def _busy() -> None:
    """Some CPU time, so that the process clock sees each call."""
    total = 0
    for i in range(200_000):
        total += i
    assert total > 0


def test_slices_take_turns_with_the_first_of_each_pair_alternating() -> None:
    """Each slice is routed by both stages, the one that goes first changing from
    slice to slice and from round to round, so neither always runs cold."""
    route_speed = load_benchmark("route_speed")
    calls: list[tuple[str, list[int]]] = []

    def theirs(part: Any) -> None:
        calls.append(("theirs", list(part)))
        _busy()

    def ours(part: Any) -> None:
        calls.append(("ours", list(part)))
        _busy()

    figures = route_speed._slices(2, 2, theirs, ours, list(range(5)))
    assert [who for who, _part in calls] == [
        *("theirs", "ours", "ours", "theirs", "theirs", "ours"),  # round 1: slices 0, 1, 2
        *("ours", "theirs", "theirs", "ours", "ours", "theirs"),  # round 2
    ]
    slices = [[0, 1], [2, 3], [4]]
    assert [part for _who, part in calls] == [s for s in slices * 2 for _ in range(2)]
    assert figures["slice_size"] == 2 and figures["slices"] == 6
    assert set(figures) == {
        "slices",
        "slice_size",
        "against_to_stage_slices",
        "against_to_stage_slices_median",
    }


def test_a_small_run_against_this_tree_reports_the_slices() -> None:
    """--slices against the tree itself: the same routes, and the slices' figures."""
    route_speed = load_benchmark("route_speed")
    fig = route_speed.measure(30, 16, 1, SRC, slices=10)
    assert fig["slice_size"] == 10 and fig["slices"] >= 1
    assert fig["against_to_stage_slices"] > 0 and fig["against_to_stage_slices_median"] > 0


def test_slices_too_quick_for_the_clock_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ratio at all (every slice took no measurable time) stops the run with a
    message, rather than a figure divided by zero."""
    route_speed = load_benchmark("route_speed")
    monkeypatch.setattr(route_speed.time, "process_time", lambda: 1.0)  # a clock that stands

    def nothing(part: Any) -> None:
        pass

    with pytest.raises(SystemExit, match="no slice took measurable CPU time"):
        route_speed._slices(1, 1, nothing, nothing, [0])


def test_cold_pairs_alternate_and_only_the_first_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """--cold: each person made afresh is routed by both stages, the first of the
    pair alternating from person to person and from round to round; only the first
    call's time is counted (the second finds the person's data warm)."""
    route_speed = load_benchmark("route_speed")
    calls: list[tuple[str, int]] = []
    clock = iter(range(1000))
    monkeypatch.setattr(route_speed.time, "process_time", lambda: float(next(clock)))
    made: list[int] = []

    def fresh() -> Any:
        for person in range(3):
            made.append(person)
            yield person

    def theirs(person: Any) -> None:
        calls.append(("theirs", person))

    def ours(person: Any) -> None:
        calls.append(("ours", person))

    figures = route_speed._cold(2, fresh, theirs, ours)
    assert calls == [
        *(("theirs", 0), ("ours", 0), ("ours", 1), ("theirs", 1), ("theirs", 2), ("ours", 2)),
        *(("ours", 0), ("theirs", 0), ("theirs", 1), ("ours", 1), ("ours", 2), ("theirs", 2)),
    ]
    assert made == [0, 1, 2] * 2  # made afresh each round
    # the stub clock ticks once a read: every first call takes 1 s, the second none
    assert figures == {
        "cold_rounds": 2,
        "against_to_stage_cold": 1.0,  # 3 first calls each
        "against_to_stage_cold_median": 1.25,  # rounds of 2 / 1 and 1 / 2
    }


def test_a_small_cold_run_against_this_tree() -> None:
    """--cold against the tree itself gives its figures."""
    route_speed = load_benchmark("route_speed")
    fig = route_speed.measure(30, 16, 2, SRC, cold=True)
    assert fig["cold_rounds"] >= 1 and fig["against_to_stage_cold"] > 0
