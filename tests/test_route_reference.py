"""The route's output is byte-identical to its reference (tests/route_reference.py).

The route stage is written for speed; these tests hold it to the output it
gave before: per profile, the canonical JSON of the route and of the whole
Result (without the trace), on seeded synthetic cohorts through
``Engine.evaluate``, ``plan(today=...)``, bundled programmes (conflicts) and
``Engine.plan_cohort``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from deficit_engine import Engine
from route_reference import CASES, REFERENCE, case_results, digests

#: A plain run checks this many profiles of the large case; ``-m slow`` all of them.
HEAD = 600


@cache
def engine() -> Engine:
    return Engine.from_path(backend="fast")


@cache
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _check(case: str, count: int | None = None) -> None:
    ref = reference()
    if ref["kb_hash"] != engine().kb.content_hash:
        pytest.fail(
            f"the shipped KB changed ({ref['kb_hash']} -> {engine().kb.content_hash}): "
            "regenerate the reference with `python tests/route_reference.py` "
            "from the commit before the route change, then rerun"
        )
    want = ref["cases"][case]
    n = 0
    for n, result in enumerate(case_results(engine(), case, count), 1):
        route, whole = digests(result)
        where = f"case {case!r}, profile {n} ({result.profile})"
        assert route == want["route"][n - 1], f"the route differs from the reference: {where}"
        assert whole == want["result"][n - 1], (
            f"the Result JSON differs from the reference outside the route: {where}"
        )
    assert n == (want["profiles"] if count is None else min(count, want["profiles"]))


@pytest.mark.parametrize("case", [c for c in CASES if c != "evaluate"])
def test_route_matches_reference(case: str) -> None:
    _check(case)


def test_evaluate_matches_reference_head() -> None:
    _check("evaluate", HEAD)


@pytest.mark.slow
def test_evaluate_matches_reference_all() -> None:
    _check("evaluate")


def test_the_check_can_fail() -> None:
    """A route one hour different gives another digest: the comparison is not vacuous."""
    import dataclasses

    result = next(iter(case_results(engine(), "evaluate", 1)))
    assert result.route is not None and result.route.steps
    first = result.route.steps[0]
    changed = dataclasses.replace(
        result,
        route=dataclasses.replace(
            result.route, steps=(first._replace(hours=first.hours + 1), *result.route.steps[1:])
        ),
    )
    assert digests(changed)[0] != reference()["cases"]["evaluate"]["route"][0]
    assert digests(result)[0] == reference()["cases"]["evaluate"]["route"][0]


def test_priority_tuples_give_the_same_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The priority as tuples (for a competency or id the KB does not have, or
    a tie of the ints) orders as the ints do: forced, the routes stay the same."""
    from deficit_engine.route import layout

    real = layout._drafts

    def tuples_only(*args: Any) -> Any:
        drafts, closing, _exact = real(*args)
        return drafts, closing, False  # as if a competency or id were not the KB's

    monkeypatch.setattr(layout, "_drafts", tuples_only)
    for case, count in (("evaluate", 200), ("bundled", 200)):
        want = reference()["cases"][case]["route"]
        for n, result in enumerate(case_results(engine(), case, count)):
            assert digests(result)[0] == want[n], (case, n)
