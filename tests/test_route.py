"""The route: its order, its schedule, its defaults and overflow; properties on generated profiles."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deficit_engine import Engine, KnowledgeBase, load_kb, parse_profile
from deficit_engine.models import Result
from deficit_engine.resolve import PHASE_ORDER, resolve
from deficit_engine.route import (
    DEFAULT_HOURS_PER_MONTH,
    DEFAULT_PERIOD,
    build_route,
    month_range,
    plan,
    route_graph,
    school_year,
)
from deficit_engine.synthetic import synthetic_profiles
from test_resolve import ROUTE_PROFILE, write_route_kb


@cache
def shipped() -> Engine:
    return Engine(load_kb(), backend="python")


def _stage(step: dict[str, Any]) -> int:
    return 4 if step["kind"] == "rediagnosis" else PHASE_ORDER[step["phase"]]


def check_route(kb: KnowledgeBase, result: Result) -> None:
    """Every property the contract promises of a route (docs/route.md), on its JSON."""
    assert result.route is not None
    route = result.route.to_dict()
    steps = route["steps"]
    by_id = {s["id"]: s for s in steps}
    graph = route_graph(route)
    assert nx.is_directed_acyclic_graph(graph)
    assert [s["id"] for s in steps] == [f"s{i}" for i in range(1, len(steps) + 1)]
    ancestors = {s["id"]: nx.ancestors(graph, s["id"]) for s in steps}
    conflicts = {(c["before"], c["after"]) for c in route["conflicts"]}

    def precedes(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a["id"] in ancestors[b["id"]] and a["end"] <= b["start"]

    # a step starts no earlier than the month its predecessors end
    for s in steps:
        for p in s["after"]:
            assert by_id[p]["end"] <= s["start"], (p, s["id"])
        assert s["start"] <= s["end"]
        assert abs(sum(s["allocation"].values()) - s["hours"]) < 1e-6
        if s["allocation"]:
            assert min(s["allocation"]) == s["start"] and max(s["allocation"]) == s["end"]
    # every deficit is addressed by a step (besides the closing re-diagnosis) or unmet
    addressed = {c for s in steps if s["kind"] != "rediagnosis" for c in s["competencies"]}
    unmet = {u.competency for u in result.unmet}
    for d in result.deficits:
        assert d.competency in addressed or d.competency in unmet, d.competency
    work = [s for s in steps if s["kind"] != "rediagnosis"]
    for a in work:
        for b in work:
            if a is b:
                continue
            shared = set(a["competencies"]) & set(b["competencies"])
            # learn -> practice -> share -> reflect, for each competency
            if shared and _stage(a) < _stage(b):
                assert precedes(a, b), (a["id"], b["id"], shared)
            # prerequisite competencies first
            wanted = any(
                y in kb.ontology.prerequisites(x)
                for y in a["competencies"]
                for x in b["competencies"]
                if x in kb.ontology.competencies
            )
            if wanted and _stage(a) <= _stage(b) and (a["id"], b["id"]) not in conflicts:
                assert precedes(a, b), (a["id"], b["id"])
    # the re-diagnosis closes the route
    closing = [s for s in steps if s["kind"] == "rediagnosis"]
    assert len(closing) == (1 if steps else 0)
    for c in closing:
        assert c is steps[-1] or all(s["start"] <= c["start"] for s in steps)
        for s in work:
            assert precedes(s, c)
    # within the monthly budget
    budget = route["hours_per_month"]
    load: dict[str, float] = {}
    for s in steps:
        for m, h in s["allocation"].items():
            load[m] = load.get(m, 0) + h
    assert all(v <= budget + 1e-6 for v in load.values())
    assert load == pytest.approx(route["load"])
    # inside the period unless the overflow says otherwise
    start, end = route["period"]["start"], route["period"]["end"]
    late = [s["id"] for s in steps if s["end"] > end]
    assert all(s["start"] >= start for s in steps)
    if route["overflow"] is None:
        assert late == []
    else:
        over = route["overflow"]
        assert over["steps"] == late and late
        assert over["months"] == len(month_range(end, over["end"])) - 1 > 0
        assert over["end"] == max(s["end"] for s in steps)
        assert over["hours"] == pytest.approx(sum(v for m, v in load.items() if m > end))
    # a mentor is never over capacity: capacity counts this person once
    mentors = [s["ref"] for s in steps if s["kind"] == "mentoring"]
    assert len(mentors) == len(set(mentors))
    assert all(kb.mentors[m].capacity >= 1 for m in mentors)
    # every recommendation is on the route
    refs = {s["ref"] for s in steps}
    for rec in result.recommendations:
        assert rec.id in refs, rec.id


# --- properties on generated profiles ---------------------------------------------------


@pytest.mark.slow  # the hypothesis test below checks the same properties in a plain run
def test_properties_on_500_synthetic_profiles() -> None:
    engine = shipped()
    overflowing = 0
    for profile in synthetic_profiles(engine.kb, 500, seed=4):
        result = engine.evaluate(profile)
        check_route(engine.kb, result)
        overflowing += result.route is not None and result.route.overflow is not None
    assert 0 < overflowing < 500  # both cases occur


_COMPS = sorted(load_kb().ontology.competencies)


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    comps = draw(st.lists(st.sampled_from(_COMPS), unique=True, max_size=14))
    results = [{"competency": c, "score": draw(st.integers(0, 20)), "max": 20} for c in comps]
    profile: dict[str, Any] = {
        "id": "H-1",
        "person": {
            "role": draw(st.sampled_from(["teacher", "manager", "methodist", "psychologist"])),
            "experience_years": draw(st.sampled_from([0, 2, 4, 16, 30])),
            "municipality": draw(st.sampled_from(["Анучинский МО", "Спасский МО", "Где-то"])),
        },
        "results": results,
        "requests": draw(st.lists(st.sampled_from(_COMPS), unique=True, max_size=3)),
    }
    if draw(st.booleans()):
        first = draw(st.integers(2026 * 12, 2027 * 12 + 11))
        length = draw(st.integers(0, 11))
        month = lambda i: f"{i // 12:04d}-{i % 12 + 1:02d}"  # noqa: E731
        profile["preferences"] = {
            "delivery": draw(st.lists(st.sampled_from(["in_person", "distance", "blended"]))),
            "hours_per_month": draw(st.sampled_from([1, 2.5, 8, 16, 40, 300])),
            "period": {"start": month(first), "end": month(first + length)},
        }
    return profile


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_properties_on_hypothesis_profiles(profile: dict[str, Any]) -> None:
    engine = shipped()
    first = engine.evaluate(profile)
    check_route(engine.kb, first)
    assert engine.evaluate(profile).to_json() == first.to_json()  # deterministic


# --- the authored KB: order and schedule -----------------------------------------------


def _route(kb_dir: Path, profile: dict[str, Any]) -> dict[str, Any]:
    result = Engine.from_path(kb_dir, backend="python").evaluate(profile)
    assert result.route is not None
    return result.route.to_dict()


def _step(route: dict[str, Any], ref: str, comp: str | None = None) -> dict[str, Any]:
    found = [
        s for s in route["steps"] if s["ref"] == ref and (comp is None or comp in s["competencies"])
    ]
    assert len(found) == 1, (ref, comp, found)
    return found[0]


def test_authored_kb_order(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    route = _route(kb_dir, ROUTE_PROFILE)
    graph = route_graph(route)

    def before(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return nx.has_path(graph, a["id"], b["id"]) and a["end"] <= b["start"]

    p_ab, p_c2 = _step(route, "P-AB"), _step(route, "P-C2")
    p_d1, p_e2 = _step(route, "P-D1"), _step(route, "P-E2")
    # one mentor per form: M-2 serves b, c and d (docs/route.md, "Cohort plans")
    m1 = m2 = _step(route, "M-2")
    assert (m1["kind"], m1["phase"], m1["competencies"]) == (
        "mentoring",
        "practice",
        ["digital.d", "method.b", "method.c"],
    )
    # prerequisites first: a, b (P-AB) before c (P-C2); d (P-D1) before e (P-E2)
    assert before(p_ab, p_c2) and before(p_d1, p_e2)
    # learn -> practice -> share, each deficit
    assert before(p_ab, _step(route, "internship", "base.a"))
    assert before(p_c2, m1) and before(p_ab, m1) and before(p_d1, m2)
    assert before(_step(route, "internship", "digital.f"), _step(route, "club", "digital.f"))
    # internship(b) before the mentor who also teaches c (b is a prerequisite of c)
    assert before(_step(route, "internship", "method.b"), m1)
    # the seminar has no competency and only the closing step after it
    seminar = _step(route, "seminar")
    assert seminar["competencies"] == [] and seminar["after"] == []
    # the closing re-diagnosis comes after everything, with every deficit in it
    last = route["steps"][-1]
    assert last["kind"] == "rediagnosis" and last["ref"] == "rediagnosis"
    assert set(last["competencies"]) == {
        "base.a",
        "method.b",
        "method.c",
        "digital.d",
        "digital.e",
        "digital.f",
        "digital.x",
    }
    assert set(nx.ancestors(graph, last["id"])) == {s["id"] for s in route["steps"][:-1]}
    # kinds and education types of the steps
    assert {s["kind"] for s in route["steps"]} == {"program", "mentoring", "format", "rediagnosis"}
    assert p_ab["education"] == "formal" and m1["education"] == "informal"
    assert m1["hours"] == 10  # the KB's mentoring format


def test_exact_schedule_and_overflow(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    profile = {
        "id": "S-1",
        "person": {"role": "teacher", "experience_years": 5},
        "preferences": {"hours_per_month": 20, "period": {"start": "2026-09", "end": "2026-12"}},
        "results": [{"competency": "method.b", "score": 40}],
    }
    route = _route(kb_dir, profile)
    assert [
        (s["id"], s["ref"], s["start"], s["end"], s["allocation"], s["after"])
        for s in route["steps"]
    ] == [
        ("s1", "P-B", "2026-09", "2026-09", {"2026-09": 16}, []),
        ("s2", "internship", "2026-09", "2026-10", {"2026-09": 4, "2026-10": 12}, ["s1"]),
        ("s3", "rediagnosis", "2026-10", "2026-10", {"2026-10": 2}, ["s2"]),
    ]
    assert route["overflow"] is None and route["total_hours"] == 34
    assert route["load"] == {"2026-09": 20, "2026-10": 14}

    profile["preferences"] = {
        "hours_per_month": 8,
        "period": {"start": "2026-09", "end": "2026-10"},
    }
    route = _route(kb_dir, profile)
    assert [(s["start"], s["end"]) for s in route["steps"]] == [
        ("2026-09", "2026-10"),
        ("2026-11", "2026-12"),
        ("2027-01", "2027-01"),
    ]
    assert route["overflow"] == {
        "months": 3,
        "end": "2027-01",
        "hours": 18,
        "steps": ["s2", "s3"],
        "message": "Маршрут не умещается в период 2026-09 – 2026-10 при 8 ч в месяц: нужно ещё "
        "3 мес. (до 2027-01), 18 ч после окончания периода; выходят за период шаги s2, s3.",
    }


def test_defaults_and_the_date_the_caller_passes(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    profile = {
        "id": "S-2",
        "person": {"role": "teacher", "experience_years": 5},
        "results": [{"competency": "method.b", "score": 40}],
    }
    route = _route(kb_dir, profile)
    assert route["period"] == {"start": DEFAULT_PERIOD[0], "end": DEFAULT_PERIOD[1]}
    assert route["period"] == {"start": "2026-09", "end": "2027-05"}
    assert route["hours_per_month"] == DEFAULT_HOURS_PER_MONTH == 16
    assert route["defaults"] == ["period", "hours_per_month"]
    kb = load_kb(kb_dir)
    result = Engine(kb, backend="python").evaluate(profile)
    parsed = parse_profile(profile, kb)
    later = build_route(
        kb, parsed, result, resolve(kb, parsed, result.needs), today=date(2027, 10, 3)
    )
    assert later.period == ("2028-09", "2029-05")
    assert later.steps[0].start == "2028-09"
    assert plan(kb, parsed, result, today=date(2027, 3, 1)).route.to_dict()["period"] == {  # type: ignore[union-attr]
        "start": "2027-09",
        "end": "2028-05",
    }
    assert school_year(date(2026, 9, 30)) == ("2026-09", "2027-05")
    assert school_year(date(2026, 1, 1)) == ("2026-09", "2027-05")
    with pytest.raises(TypeError, match=r"datetime\.date"):
        school_year("2026-09")  # type: ignore[arg-type]


def test_bundled_programmes_against_the_prerequisites_are_reported(tmp_path: Path) -> None:
    """P-AE holds a (before b) and e; P-DB holds d (before e) and b: each must precede
    the other. The route keeps one order, stays acyclic and reports the other."""
    programs = """\
programs:
  - {id: P-AE, title: А и Е, kind: advanced_training, hours: 16, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [base.a, digital.e]}
  - {id: P-DB, title: Д и Б, kind: advanced_training, hours: 16, delivery: distance, provider: ЦНППМ, federal_registry: true, audience: [teacher], covers: [digital.d, method.b]}
"""
    kb_dir = write_route_kb(tmp_path / "kb", {"ontology/programs.yaml": programs})
    profile = {
        "id": "C-1",
        "person": {"role": "teacher", "experience_years": 5},
        "results": [
            {"competency": c, "score": 20} for c in ("base.a", "method.b", "digital.d", "digital.e")
        ],
    }
    engine = Engine.from_path(kb_dir, backend="python")
    result = engine.evaluate(profile)
    assert result.route is not None
    route = result.route.to_dict()
    assert [r.id for r in result.recommendations if r.kind == "program"] == ["P-AE", "P-DB"]
    assert len(route["conflicts"]) == 1
    conflict = route["conflicts"][0]
    assert {conflict["before"], conflict["after"]} == {
        _step(route, "P-AE")["id"],
        _step(route, "P-DB")["id"],
    }
    check_route(engine.kb, result)


def test_no_deficits_no_steps() -> None:
    engine = shipped()
    profile = {
        "id": "N-1",
        "person": {"role": "teacher", "experience_years": 10},
        "results": [{"competency": "methodical.assessment", "score": 90}],
    }
    result = engine.evaluate(profile)
    assert result.deficits == () and result.needs == ()
    assert result.route is not None and result.route.steps == ()
    assert result.route.overflow is None and result.recommendations == ()
    check_route(engine.kb, result)


def test_a_deficit_no_rule_addresses_is_reported(tmp_path: Path) -> None:
    """A rule set that derives a deficit but no need for it: the deficit is unmet."""
    rules = """\
ruleset: bare
rules:
  - id: ONLY-DEFICIT
    title: Ниже 30 % — дефицит без назначений
    when:
      - result: {level: critical}
    then:
      - deficit: {competency: $result.competency, severity: critical}
"""
    kb_dir = write_route_kb(tmp_path / "kb", {"rules/10_route.yaml": rules})
    result = Engine.from_path(kb_dir, backend="python").evaluate(
        {
            "id": "U-1",
            "person": {"role": "teacher", "experience_years": 5},
            "results": [{"competency": "digital.x", "score": 5}],
        }
    )
    assert [u.to_dict() for u in result.unmet] == [
        {
            "kind": "deficit",
            "competency": "digital.x",
            "severity": "critical",
            "rule": "ONLY-DEFICIT",
            "reason": "правила не назначили по дефициту ни обучения, ни практики: "
            "в маршруте есть только повторная диагностика",
        },
    ]
    assert result.route is not None and result.route.steps == ()


def test_route_graph_and_the_route_object(tmp_path: Path) -> None:
    kb_dir = write_route_kb(tmp_path / "kb")
    kb = load_kb(kb_dir)
    profile = parse_profile(ROUTE_PROFILE, kb)
    result = Engine(kb, backend="python").evaluate(profile)
    route = build_route(kb, profile, result, resolve(kb, profile, result.needs))
    assert route == result.route
    assert result.route is not None
    rebuilt = route_graph(json.loads(json.dumps(result.route.to_dict())))
    assert sorted(rebuilt.edges()) == sorted(route.graph.edges())
    assert sorted(route_graph(route).edges()) == sorted(rebuilt.edges())
    assert route_graph(route).nodes["s1"] == rebuilt.nodes["s1"]
    assert route.graph.nodes["s1"]["step"] == route.step("s1")
    with pytest.raises(KeyError):
        route.step("s999")
    with pytest.raises(TypeError, match="'steps' list"):
        route_graph({"steps": "no"})
    with pytest.raises(ValueError, match="not 'X'"):
        plan(kb, parse_profile({**ROUTE_PROFILE, "id": "X"}, kb), result)
    with pytest.raises(TypeError, match="needs a Result"):
        plan(kb, profile, result.to_dict())  # type: ignore[arg-type]


def test_month_range() -> None:
    assert month_range("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert month_range("2026-11", "2026-11") == ["2026-11"]
