"""The route's fast paths give what the plain ones give.

``route.drafts.format_groups`` takes a shortcut when each of a format's needs has
its own competency (the common case); ``route.layout`` makes a format's drafts one
per need and groups them only when two share a priority, and finds a step's
``after`` from its direct predecessors' positions. ``tests/test_route_reference.py``
compares whole routes with digests recorded before; this pins the grouping,
shortcut or not, against a plain one on inputs the shipped KB rarely produces
(needs without a competency, several needs of one competency, repeated rules).
"""

from __future__ import annotations

import dataclasses
import random
from functools import cache
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.errors import WrongTypeError
from deficit_engine.models import (
    Need,
    Recommendation,
    Resolution,
    Result,
    UnaddressedDeficit,
    Unmet,
)
from deficit_engine.resolve import resolve
from deficit_engine.route import build_route, layout, planned, with_plan
from deficit_engine.route.drafts import closing_draft, format_groups
from deficit_engine.schema import Profile

COMPS = ("c.1", "c.2", "c.3", "c.4", "c.5", "c.6")
ORDER = {c: (len(COMPS) - i, c) for i, c in enumerate(COMPS)}  # not in id order


def plain_groups(needs: list[Need]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The needs without a competency first, then one step per competency in the
    ontology's order; each step's rules once each, in need order."""
    out: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    general = [n.rule for n in needs if n.competency is None]
    if general:
        out.append(((), tuple(dict.fromkeys(general))))
    comps = {n.competency for n in needs if n.competency is not None}
    for c in sorted(comps, key=ORDER.__getitem__):
        out.append(((c,), tuple(dict.fromkeys(n.rule for n in needs if n.competency == c))))
    return out


@pytest.mark.parametrize("seed", range(300))
def test_format_groups_are_the_plain_grouping(seed: int) -> None:
    rnd = random.Random(seed)
    distinct = rnd.random() < 0.5  # half the cases: each need its own competency
    count = rnd.randint(1, len(COMPS))
    comps: list[str | None] = (
        list(rnd.sample(COMPS, count))
        if distinct
        else [rnd.choice((None, *COMPS[:3])) for _ in range(count)]
    )
    needs = [Need("format", c, (("format", "seminar"),), f"r{rnd.randint(1, 3)}") for c in comps]
    assert format_groups(needs, ORDER.__getitem__) == plain_groups(needs)


@cache
def _cohort() -> tuple[Engine, list[tuple[Profile, Result, Resolution]]]:
    engine = Engine.from_path(backend="fast")
    out = []
    for profile, result in map(engine.diagnose, synthetic_profiles(engine.kb, 60, 27)):
        if result.ok:
            resolution = resolve(engine.kb, profile, result.needs, severities=result.severities)
            out.append((profile, result, resolution))
    return engine, out


def _shared(resolution: Resolution) -> Resolution:
    """The resolution with each format's needs sharing competencies: a second rule
    for its first need's competency, and a need without one (the route makes one
    step per competency, the rules merged, and one for the needs without)."""
    recs = []
    for rec in resolution.recommendations:
        if rec.kind == "format" and rec.id not in ("rediagnosis", "self_education"):
            first = rec.needs[0]
            extra = (
                Need("format", first.competency, first.filters, "EXTRA-RULE"),
                Need("format", None, first.filters, "GENERAL-RULE"),
                Need("format", None, first.filters, "GENERAL-RULE-2"),
            )
            rec = dataclasses.replace(rec, needs=rec.needs + extra)
        recs.append(rec)
    return dataclasses.replace(resolution, recommendations=tuple(recs))


def _grouped_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drafts grouped by format_groups from the start (the tuples' path)."""
    real = layout._drafts

    def grouped(tab: Any, profile: Any, result: Any, resolution: Any, _grouped: bool) -> Any:
        return real(tab, profile, result, resolution, True)

    monkeypatch.setattr(layout, "_drafts", grouped)


@pytest.mark.parametrize("shared", [False, True])
def test_one_draft_per_need_gives_the_grouped_routes(
    shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``route.layout`` makes a format's drafts one per need, and groups them
    (format_groups) only when two have one priority: the routes are those of the
    drafts grouped from the start, whether the needs have their own competencies
    (the shipped KB's) or share them."""
    engine, cohort = _cohort()
    cases = [(p, r, _shared(res) if shared else res) for p, r, res in cohort]
    fast = [build_route(engine.kb, p, r, res).to_dict() for p, r, res in cases]
    _grouped_always(monkeypatch)
    assert fast == [build_route(engine.kb, p, r, res).to_dict() for p, r, res in cases]
    if shared:  # the shared needs were grouped: one step per format and competency
        for route in fast:
            seen = [
                (s["ref"], tuple(s["competencies"]))
                for s in route["steps"]
                if s["kind"] == "format"
            ]
            assert len(seen) == len(set(seen))
        rules = [s["rules"] for route in fast for s in route["steps"] if s["kind"] == "format"]
        assert any("EXTRA-RULE" in r and len(r) > 1 for r in rules)
        assert ["GENERAL-RULE", "GENERAL-RULE-2"] in rules


def _without(resolution: Resolution, competency: str, unmet: bool) -> Resolution:
    """The resolution with no recommendation for ``competency``, and then (with
    ``unmet``) one unmet need of it, else none: its deficit is addressed by an
    unmet need only, or left unaddressed."""
    kept = tuple(u for u in resolution.unmet if u.competency != competency)
    if unmet:
        kept += (Unmet.of(Need("format", competency, (), "TEST-RULE"), "нет в каталоге"),)
    return dataclasses.replace(
        resolution,
        recommendations=tuple(
            r for r in resolution.recommendations if competency not in r.competencies
        ),
        unmet=kept,
    )


@pytest.mark.parametrize("case", ["as_is", "unmet_only", "unaddressed", "no_route"])
def test_planned_is_with_plan_of_build_route(case: str) -> None:
    """``route.planned`` (the engine's route stage, its unaddressed deficits found
    from the competencies the route builder saw) gives what ``with_plan`` of
    ``build_route`` gives: as resolved, with a deficit's recommendations taken out
    (its unmet needs kept, or taken out too: then it is unaddressed), and with
    every recommendation taken out (no steps)."""
    engine, cohort = _cohort()
    kb = engine.kb
    seen_left = 0
    for p, r, res in cohort:
        if case != "as_is" and not r.deficits:
            continue
        if case == "no_route":
            res = dataclasses.replace(res, recommendations=())
        elif case != "as_is":
            res = _without(res, r.deficits[0].competency, case == "unmet_only")
        want = with_plan(r, res, build_route(kb, p, r, res))
        got = planned(kb, p, r, res)
        assert got.to_json() == want.to_json()
        assert got.unmet == want.unmet
        assert got.unmet[len(res.unmet) :] == _plain_unaddressed(r, got.route, res.unmet)
        left = {u.competency for u in got.unmet if type(u) is UnaddressedDeficit}
        if case == "as_is":  # the synthetic cohort's routes address every deficit
            assert not left
        elif case != "no_route":  # the deficit taken out: unaddressed unless an unmet need names it
            assert (r.deficits[0].competency in left) == (case == "unaddressed")
        seen_left += len(left)
    assert seen_left or case in ("as_is", "unmet_only")


def _plain_unaddressed(
    result: Result, route: Any, unmet: tuple[Any, ...]
) -> tuple[UnaddressedDeficit, ...]:
    """The deficits no step but the closing one works on and no unmet need names,
    in the deficits' order (docs/route.md), written plainly."""
    held = {c for s in route.steps if s.kind != "rediagnosis" for c in s.competencies}
    named = {u.competency for u in unmet}
    return tuple(
        UnaddressedDeficit(d)
        for d in result.deficits
        if d.competency not in held and d.competency not in named
    )


@pytest.mark.parametrize("needs", [0, 1, 2, 5])
def test_rules_are_the_needs_rules_each_once(needs: int) -> None:
    """A recommendation's rules (one need: its rule, without the dedup) and the
    closing step's (one re-diagnosis recommendation: its rules as they are; more:
    theirs each once) are the plain ones."""
    rng = random.Random(needs)
    rules = [rng.choice(["R1", "R2", "R3"]) for _ in range(needs)]
    made = tuple(Need.of("format", "c.1", (), r) for r in rules)
    rec = Recommendation.of("format", "rediagnosis", "t", ("c.1",), made, "why", ())
    assert rec.rules == tuple(dict.fromkeys(rules))
    other = Recommendation.of("format", "rediagnosis", "t", ("c.1",), made[::-1], "why", ())
    fields = (None, "t", "non_formal", "regional", 200)
    for asked in ([], [rec], [rec, other]):
        want = tuple(dict.fromkeys(r for a in asked for n in a.needs for r in [n.rule]))
        assert closing_draft(fields, ("c.1",), asked)[10] == want


def test_planned_checks_its_arguments() -> None:
    engine, cohort = _cohort()
    p, r, _res = cohort[0]
    with pytest.raises(WrongTypeError, match="needs a Resolution"):
        planned(engine.kb, p, r, None)  # type: ignore[arg-type]
