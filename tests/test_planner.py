"""The cohort planner: mentor allocation (optimal, within capacity, one mentor per form),
programme places, subjects, менторство across organisations, mentor teams for schools."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from typing import Any

import networkx as nx
import pytest

from deficit_engine import Engine
from deficit_engine.kb import KnowledgeBase
from deficit_engine.loader import load_kb
from deficit_engine.planner import plan_cohort
from deficit_engine.resolve.allocate import Arc, allocate, weights_for
from deficit_engine.schema import (
    Mentor,
    Planning,
    PlanningFile,
    Program,
    ProgramGroup,
    SchoolRule,
)
from deficit_engine.synthetic import synthetic_profiles

# --- the allocation itself ---------------------------------------------------------------


def _objective(
    owners: list[int], arcs: list[Arc], chosen: tuple[int, ...], secondary: set[int]
) -> tuple[int, int, int, int, int, int]:
    """The lexicographic objective of a choice (greater is better)."""
    picked = [arcs[a] for a in chosen if a >= 0]
    placed = {owners[a.unit] for a in picked}
    return (
        len(placed - secondary),
        len(placed & secondary),
        sum(a.prio for a in picked),
        -sum(a.loc for a in picked),
        -sum(a.nosubj for a in picked),
        -sum(_tie(owners, a) for a in picked),
    )


def _tie(owners: list[int], a: Arc) -> int:
    """The tie-break of an arc: its mentor's rank, weighted down the owner's units."""
    position = owners[: a.unit].count(owners[a.unit])
    return a.mentor * (max(Counter(owners).values()) - position)


def _feasible(n_units: int, arcs: list[Arc], capacity: list[int], chosen: tuple[int, ...]) -> bool:
    load = Counter(arcs[a].mentor for a in chosen if a >= 0)
    return all(load[m] <= capacity[m] for m in load) and all(
        a < 0 or arcs[a].unit == u for u, a in enumerate(chosen)
    )


def _random_problem(rnd: random.Random) -> tuple[list[int], list[Arc], list[int]]:
    n_units, n_mentors = rnd.randint(1, 6), rnd.randint(1, 3)
    owners = [rnd.randint(0, max(0, n_units - 2)) for _ in range(n_units)]
    arcs = []
    for u in range(n_units):
        for m in rnd.sample(range(n_mentors), rnd.randint(0, n_mentors)):
            arcs.append(
                Arc(
                    u,
                    m,
                    (0,),
                    rnd.choice([1, 2, 4, 8, 9, 12]),
                    rnd.randint(0, 2),
                    rnd.randint(0, 1),
                )
            )
    capacity = [rnd.randint(0, 2) for _ in range(n_mentors)]
    return owners, arcs, capacity


@pytest.mark.parametrize("seed", range(60))
def test_allocation_is_the_lexicographic_optimum(seed: int) -> None:
    """Against every possible choice of a small problem: none is better."""
    rnd = random.Random(seed)
    owners, arcs, capacity = _random_problem(rnd)
    secondary = {o for o in set(owners) if rnd.random() < 0.3}
    got = allocate(owners, arcs, capacity, secondary=secondary)
    assert got.exact
    assert _feasible(len(owners), arcs, capacity, got.chosen)
    options = [[-1] + [k for k, a in enumerate(arcs) if a.unit == u] for u in range(len(owners))]
    best = max(
        _objective(owners, arcs, choice, secondary)
        for choice in itertools.product(*options)
        if _feasible(len(owners), arcs, capacity, choice)
    )
    assert _objective(owners, arcs, got.chosen, secondary) == best


def _networkx_cost(owners: list[int], arcs: list[Arc], capacity: list[int]) -> int:
    """The same network as allocate's, solved by networkx: its optimal cost."""
    w = weights_for(
        len(owners),
        len(set(owners)),
        sum(capacity),
        len(capacity),
        max(a.prio for a in arcs),
        2 + len(set(owners)) + len(owners) + len(capacity),
        max_units=max(Counter(owners).values()),
    )
    g = nx.DiGraph()
    n = len(owners)
    g.add_node("s", demand=-n)
    g.add_node("t", demand=n)
    g.add_edge("s", "t", capacity=n, weight=0)
    units_of = Counter(owners)
    for o, k in units_of.items():
        g.add_edge("s", ("o", o), capacity=1, weight=-w.owner)
        if k > 1:  # a parallel arc: through a helper node
            g.add_edge("s", ("o+", o), capacity=k - 1, weight=0)
            g.add_edge(("o+", o), ("o", o), capacity=k - 1, weight=0)
    for u, o in enumerate(owners):
        g.add_edge(("o", o), ("u", u), capacity=1, weight=0)
    for a in arcs:
        cost = -a.prio * w.prio + a.loc * w.loc + a.nosubj * w.subj + _tie(owners, a) * w.tie
        g.add_edge(("u", a.unit), ("m", a.mentor), capacity=1, weight=cost)
    for m, cap in enumerate(capacity):
        g.add_edge(("m", m), "t", capacity=cap, weight=0)
    cost: int = nx.min_cost_flow_cost(g)
    return cost


def test_allocation_matches_networkx_on_a_mid_size_problem() -> None:
    rnd = random.Random(7)
    owners = [u // 2 for u in range(120)]
    arcs = [
        Arc(u, m, (0,), rnd.choice([1, 2, 4, 8]), rnd.randint(0, 2), rnd.randint(0, 1))
        for u in range(120)
        for m in rnd.sample(range(15), 4)
    ]
    capacity = [rnd.randint(0, 5) for _ in range(15)]
    got = allocate(owners, arcs, capacity)
    w = got.weights
    picked = [arcs[a] for a in got.chosen if a >= 0]
    cost = -w.owner * len({owners[a.unit] for a in picked}) + sum(
        -a.prio * w.prio + a.loc * w.loc + a.nosubj * w.subj + _tie(owners, a) * w.tie
        for a in picked
    )
    assert cost == _networkx_cost(owners, arcs, capacity)


def test_weights_degrade_honestly_when_they_cannot_be_exact() -> None:
    small = weights_for(10, 5, 20, 4, 16, 30)
    assert small.exact and small.tie == 1
    huge = weights_for(10**6, 10**6, 10**6, 10**4, 10**4, 3 * 10**6)
    assert not huge.exact and huge.tie == 0
    assert huge.owner >= huge.second > huge.prio > huge.loc > huge.subj > 0


# --- cohorts on the shipped KB with a larger pool -----------------------------------------


_MUNICIPALITIES = ("Анучинский МО", "Спасский МО", "Артёмовский ГО", "Находкинский ГО")


def _big_pool(kb: KnowledgeBase, count: int, seed: int = 0) -> dict[str, Mentor]:
    """A generated mentor pool over the KB's competencies (fictional)."""
    rnd = random.Random(seed)
    comps = sorted(kb.ontology.competencies)
    forms = [
        "teacher_teacher",
        "young_specialist",
        "competency_pair",
        "group",
        "team",
        "management",
    ]
    pool = {}
    for n in range(count):
        mid = f"G-{n:04d}"
        pool[mid] = Mentor(
            id=mid,
            name=f"Наставник {n}",
            municipality=rnd.choice(_MUNICIPALITIES),
            organization=f"МБОУ СОШ № {rnd.randint(1, 40)}",
            strengths=rnd.sample(comps, 3),
            forms=rnd.sample(forms, 2),
            capacity=rnd.randint(0, 4),
        )
    return pool


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _mentor_forms(result: Any) -> list[tuple[str, tuple[str, ...]]]:
    return [(r.id, r.get("forms")) for r in result.recommendations if r.kind == "mentor"]


def test_cohort_plan_keeps_capacity_one_mentor_per_form_and_places_near_the_bound(
    engine: Engine,
) -> None:
    kb = dataclasses.replace(engine.kb, mentors=_big_pool(engine.kb, 120))
    planned = Engine(kb, backend="fast").plan_cohort(synthetic_profiles(kb, 600, seed=5), workers=1)
    mentees: dict[str, set[str]] = {}
    for result in planned.results:
        forms: Counter[str] = Counter()
        for mid, fs in _mentor_forms(result):
            mentees.setdefault(mid, set()).add(result.profile)
            forms.update(fs)
        assert all(n == 1 for n in forms.values()), (result.profile, forms)
    for mid, people in mentees.items():
        assert len(people) <= kb.mentors[mid].capacity, mid
    stats = planned.plan.stats
    assert stats.mentees_placed >= 0.95 * stats.mentee_bound > 0
    # the bound is a max flow people -> mentors who could serve one of their needs:
    # the same computed with networkx from the plan's own candidate lists
    from deficit_engine.planner.arcs import cohort_arcs
    from deficit_engine.resolve import seeker_of
    from deficit_engine.resolve.mentors import mentor_units

    people = [Engine(kb, backend="fast").diagnose(p) for p in synthetic_profiles(kb, 600, seed=5)]
    units = [
        (k, u)
        for k, (_p, r) in enumerate(people)
        for u in mentor_units(r.needs, [i for i, n in enumerate(r.needs) if n.kind == "mentor"])
    ]
    capacity = [m.capacity for m in kb.index.mentors]
    arcs = cohort_arcs(
        kb.index,
        [seeker_of(kb, p.person) for p, _r in people],
        [r.needs for _p, r in people],
        [r.severities for _p, r in people],
        units,
        capacity,
    )
    g = nx.DiGraph()
    for u, m in zip(arcs.unit.tolist(), arcs.mentor.tolist(), strict=True):
        g.add_edge("s", ("p", units[u][0]), capacity=1)
        g.add_edge(("p", units[u][0]), ("m", m), capacity=1)
        g.add_edge(("m", m), "t", capacity=capacity[m])
    assert nx.maximum_flow_value(g, "s", "t") == stats.mentee_bound
    assert sum(planned.plan.mentor_load.values()) <= sum(m.capacity for m in kb.mentors.values())
    # every mentor need is served or unmet, with capacity shortfalls named as such
    causes = Counter(u.cause for r in planned.results for u in r.unmet if u.kind == "mentor")
    assert causes["capacity"] > 0
    for r in planned.results:
        for u in r.unmet:
            if u.cause == "capacity":
                assert u.exhausted
                assert "нехватка мест" in u.reason or "нет свободных мест" in u.reason


def test_plan_is_the_same_for_any_worker_count(engine: Engine) -> None:
    profiles = list(synthetic_profiles(engine.kb, 150, seed=9))
    one = engine.plan_cohort(profiles, workers=1)
    two = engine.plan_cohort(profiles, workers=2, chunk_size=16)
    assert [r.to_json() for r in one.results] == [r.to_json() for r in two.results]
    assert one.plan.mentor_load == two.plan.mentor_load


def _person(pid: str, **person: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"role": "teacher", "experience_years": 1}
    base.update(person)
    return {"id": pid, "person": base}


def test_management_mentor_never_from_the_same_organisation(engine: Engine) -> None:
    kb = engine.kb
    same = Mentor(
        id="X-SAME",
        name="Наставник",
        municipality="Анучинский МО",
        organization="Школа А",
        strengths=["management.strategy"],
        forms=["management"],
        capacity=5,
    )
    other = same.model_copy(update={"id": "X-OTHER", "organization": "Школа Б"})
    director = _person(
        "D1",
        role="manager",
        experience_years=10,
        organization="Школа А",
        municipality="Анучинский МО",
    )
    director["results"] = [{"competency": "management.strategy", "score": 10, "max": 100}]
    only_same = Engine(dataclasses.replace(kb, mentors={"X-SAME": same}), backend="fast")
    result = only_same.evaluate(director)
    assert "X-SAME" not in [r.id for r in result.recommendations]
    unmet = [
        u for u in result.unmet if u.kind == "mentor" and u.competency == "management.strategy"
    ]
    assert unmet and "из той же организации" in unmet[0].reason
    both = Engine(
        dataclasses.replace(kb, mentors={"X-SAME": same, "X-OTHER": other}), backend="fast"
    )
    assert "X-OTHER" in [r.id for r in both.evaluate(director).recommendations]


def test_subject_items_serve_only_their_subject(engine: Engine) -> None:
    kb = engine.kb
    maths = Mentor(
        id="X-MATH",
        name="Наставник",
        municipality="Анучинский МО",
        organization="Школа А",
        strengths=["methodical.lesson_design"],
        forms=["young_specialist"],
        capacity=5,
        subjects=["mathematics"],
    )
    general = maths.model_copy(
        update={
            "id": "X-ANY",
            "subjects": [],
            "organization": "Школа Б",
            "municipality": "Спасский МО",
        }
    )
    eng = Engine(
        dataclasses.replace(kb, mentors={"X-MATH": maths, "X-ANY": general}), backend="fast"
    )
    young = _person("Y1", subjects=["russian"], municipality="Анучинский МО")
    young["results"] = [{"competency": "methodical.lesson_design", "score": 10, "max": 100}]
    assert "X-MATH" not in [r.id for r in eng.evaluate(young).recommendations]
    young["person"]["subjects"] = ["mathematics"]
    assert "X-MATH" in [r.id for r in eng.evaluate(young).recommendations]
    young["person"]["subjects"] = []
    ids = [r.id for r in eng.evaluate(young).recommendations]
    assert "X-MATH" not in ids and "X-ANY" in ids


def _programme_kb(kb: KnowledgeBase, **program: Any) -> KnowledgeBase:
    """The KB with one programme for methodical.lesson_design (and none other for it)."""
    base = {
        "id": "P-ONLY",
        "title": "Проектирование урока",
        "kind": "advanced_training",
        "hours": 36,
        "delivery": "distance",
        "provider": "ЦНППМ",
        "federal_registry": True,
        "audience": ["teacher"],
        "covers": ["methodical.lesson_design"],
    }
    base.update(program)
    others = {
        pid: p for pid, p in kb.programs.items() if "methodical.lesson_design" not in p.covers
    }
    return dataclasses.replace(kb, programs={**others, "P-ONLY": Program(**base)})


def _cohort(n: int, score: float = 10, municipality: str = "Анучинский МО") -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        p = _person(f"T{k:02d}", experience_years=5, municipality=municipality)
        p["results"] = [{"competency": "methodical.lesson_design", "score": score + k, "max": 100}]
        out.append(p)
    return out


def _placed(planned: Any, pid: str = "P-ONLY") -> list[str]:
    return [r.profile for r in planned.results if any(x.id == pid for x in r.recommendations)]


def test_programme_seats_go_to_the_most_severe_first(engine: Engine) -> None:
    kb = _programme_kb(engine.kb, seats=2)
    eng = Engine(kb, backend="fast")
    cohort = _cohort(5)
    cohort[4]["results"][0]["score"] = 60  # moderate, not critical: served last
    planned = eng.plan_cohort(cohort, workers=1)
    assert len(_placed(planned)) == 2 and "T04" not in _placed(planned)
    short = [
        u for r in planned.results for u in r.unmet if u.cause == "capacity" and u.kind == "program"
    ]
    assert short and all(u.exhausted == ("P-ONLY",) for u in short)
    assert "места на период исчерпаны" in short[0].reason
    assert planned.plan.programme_load == {"P-ONLY": 2} | {
        k: v for k, v in planned.plan.programme_load.items() if k != "P-ONLY"
    }


def test_cohort_groups_within_the_period(engine: Engine) -> None:
    kb = _programme_kb(
        engine.kb,
        groups=[ProgramGroup(start="2026-10", seats=1), ProgramGroup(start="2027-02", seats=1)],
    )
    planned = Engine(kb, backend="fast").plan_cohort(_cohort(3), workers=1)
    starts = sorted(
        x.get("group_start") for r in planned.results for x in r.recommendations if x.id == "P-ONLY"
    )
    assert starts == ["2026-10", "2027-02"]
    assert len(_placed(planned)) == 2


def test_in_person_group_needs_its_minimum(engine: Engine) -> None:
    kb = _programme_kb(engine.kb, delivery="in_person", min_group=3)
    eng = Engine(kb, backend="fast")
    two = eng.plan_cohort(_cohort(2), workers=1)
    assert _placed(two) == []
    reasons = [u.reason for r in two.results for u in r.unmet if u.kind == "program"]
    assert any("не набрана" in reason for reason in reasons)
    three = eng.plan_cohort(_cohort(3), workers=1)
    assert len(_placed(three)) == 3


def test_flagged_school_gets_a_team_mentor_from_another_organisation(engine: Engine) -> None:
    team_here = Mentor(
        id="T-HERE",
        name="Наставник",
        municipality="Анучинский МО",
        organization="Школа А",
        strengths=["methodical.lesson_design", "methodical.assessment"],
        forms=["team"],
        capacity=3,
    )
    team_leader = team_here.model_copy(update={"id": "T-LEADER", "organization": "Лицей Б"})
    rule = SchoolRule(
        id="SCH-TEST",
        title="Более 40 % педагогов с дефицитом",
        source="выбор авторов",
        groups=["methodical"],
        share_above=40,
        min_staff=3,
    )
    kb = dataclasses.replace(
        engine.kb,
        mentors={"T-HERE": team_here, "T-LEADER": team_leader},
        planning=PlanningFile(planning=Planning(), school_rules=[rule]),
    )
    cohort = []
    for k in range(5):
        p = _person(
            f"S{k}", experience_years=8, organization="Школа А", municipality="Анучинский МО"
        )
        score = 20 if k < 3 else 90
        p["results"] = [{"competency": "methodical.lesson_design", "score": score, "max": 100}]
        cohort.append(p)
    planned = Engine(kb, backend="fast").plan_cohort(cohort, workers=1)
    (team,) = planned.plan.teams
    assert team.flag.organization == "Школа А" and team.mentor == "T-LEADER"
    assert planned.plan.stats.schools_placed == 1
    assert planned.plan.mentor_load["T-LEADER"] == 1


def test_single_person_plan_equals_evaluate(engine: Engine) -> None:
    """A cohort of one gets the mentors and formats evaluate gives one person; its
    programmes differ only by the cohort's places (a minimum in-person group of
    8 never opens for one person), so without places they are the same too."""
    kb = load_kb()
    unlimited = {
        pid: p.model_copy(update={"seats": None, "groups": [], "min_group": None})
        for pid, p in kb.programs.items()
    }
    free = dataclasses.replace(kb, programs=unlimited, planning=PlanningFile())
    for base in (kb, free):
        eng = Engine(base, backend="fast")
        for profile in synthetic_profiles(base, 25, seed=2):
            alone = eng.evaluate(profile)
            planned = eng.plan_cohort([profile], workers=1).results[0]
            kinds = ("mentor", "format") if base is kb else ("program", "mentor", "format")
            assert [
                (r.kind, r.id, r.competencies) for r in planned.recommendations if r.kind in kinds
            ] == [(r.kind, r.id, r.competencies) for r in alone.recommendations if r.kind in kinds]
            assert [(u.need, u.cause) for u in planned.unmet if u.kind in kinds] == [
                (u.need, u.cause) for u in alone.unmet if u.kind in kinds
            ]


def test_plan_cohort_people_must_be_pairs(engine: Engine) -> None:
    plan = plan_cohort(engine.kb, [None, None])
    assert plan.resolutions == (None, None) and plan.stats.people == 0


def test_colleagues_of_the_cohort_mentor_when_the_kb_allows(engine: Engine) -> None:
    """Seed 002's «учитель, владеющий компетенцией – учитель, которому её нужно
    сформировать»: with planning.colleague_mentors on, a proficient colleague takes
    at most colleague_load mentees; off (the default), nobody from the cohort does."""
    cohort = []
    for k in range(4):
        p = _person(f"W{k}", experience_years=10, municipality="Анучинский МО")
        p["results"] = [{"competency": "digital.safety", "score": 10, "max": 100}]
        cohort.append(p)
    expert = _person("E1", experience_years=20, municipality="Анучинский МО")
    expert["results"] = [{"competency": "digital.safety", "score": 95, "max": 100}]
    cohort.append(expert)
    bare = dataclasses.replace(engine.kb, mentors={})
    off = Engine(bare, backend="fast").plan_cohort(cohort, workers=1)
    assert not any(r.kind == "mentor" for res in off.results for r in res.recommendations)
    on_kb = dataclasses.replace(
        bare, planning=PlanningFile(planning=Planning(colleague_mentors=True, colleague_load=2))
    )
    on = Engine(on_kb, backend="fast").plan_cohort(cohort, workers=1)
    paired = {
        res.profile: r.id for res in on.results for r in res.recommendations if r.kind == "mentor"
    }
    assert len(paired) == 2 and set(paired.values()) == {"colleague.4"}
    assert "E1" not in paired
    assert on.plan.mentor_load == {"colleague.4": 2}
    names = [r.title for res in on.results for r in res.recommendations if r.kind == "mentor"]
    assert names == ["Коллега из когорты"] * 2


def test_each_flag_of_a_school_gets_a_mentor_of_its_own_form(engine: Engine) -> None:
    """A school flagged by a team rule and a management rule gets a team from a
    leader school for the first and a management mentor for the second; a flag
    whose competencies the school's team does not cover names no mentor."""
    team = Mentor(
        id="T-LEADER",
        name="Наставник",
        municipality="Анучинский МО",
        organization="Лицей Б",
        strengths=["methodical.lesson_design"],
        forms=["team"],
        capacity=3,
    )
    boss = team.model_copy(
        update={"id": "B-MENTOR", "strengths": ["management.strategy"], "forms": ["management"]}
    )
    rules = [
        SchoolRule(
            id="SCH-M",
            title="Методическая",
            source="выбор авторов",
            groups=["methodical"],
            share_above=40,
            min_staff=3,
        ),
        SchoolRule(
            id="SCH-D",
            title="Цифровая",
            source="выбор авторов",
            groups=["digital"],
            share_above=40,
            min_staff=3,
        ),
        SchoolRule(
            id="SCH-U",
            title="Управление",
            source="выбор авторов",
            groups=["management"],
            share_above=40,
            min_staff=1,
            form="management",
        ),
    ]
    kb = dataclasses.replace(
        engine.kb,
        mentors={"T-LEADER": team, "B-MENTOR": boss},
        planning=PlanningFile(planning=Planning(), school_rules=rules),
    )
    cohort = []
    for k in range(4):
        p = _person(
            f"S{k}", experience_years=8, organization="Школа А", municipality="Анучинский МО"
        )
        p["results"] = [
            {"competency": "methodical.lesson_design", "score": 20, "max": 100},
            {"competency": "digital.safety", "score": 20, "max": 100},
        ]
        cohort.append(p)
    head = _person(
        "H",
        role="manager",
        experience_years=12,
        organization="Школа А",
        municipality="Анучинский МО",
    )
    head["results"] = [{"competency": "management.strategy", "score": 20, "max": 100}]
    cohort.append(head)
    planned = Engine(kb, backend="fast").plan_cohort(cohort, workers=1)
    got = {t.flag.rule: t for t in planned.plan.teams}
    assert got["SCH-M"].mentor == "T-LEADER"
    assert got["SCH-U"].mentor == "B-MENTOR"
    assert got["SCH-D"].mentor is None and got["SCH-D"].reason
    assert "команда наставников из другой организации" in got["SCH-M"].reason


def test_cohort_arcs_find_what_unit_arcs_find(engine: Engine) -> None:
    """The array path (a region's size) and the per-unit path (one person) agree arc
    for arc: mentor, priority, locality and subject match."""
    from deficit_engine.planner.arcs import cohort_arcs
    from deficit_engine.resolve import seeker_of
    from deficit_engine.resolve.mentors import mentor_units, unit_arcs
    from deficit_engine.synthetic import synthetic_mentors

    kb = dataclasses.replace(engine.kb, mentors=synthetic_mentors(engine.kb, 150, seed=4))
    eng = Engine(kb, backend="fast")
    people = [eng.diagnose(p) for p in synthetic_profiles(kb, 120, seed=8)]
    seekers = [seeker_of(kb, p.person) for p, _r in people]
    needs = [r.needs for _p, r in people]
    severities = [r.severities for _p, r in people]
    units = [
        (k, u)
        for k, (_p, r) in enumerate(people)
        for u in mentor_units(r.needs, [i for i, n in enumerate(r.needs) if n.kind == "mentor"])
    ]
    index = kb.index
    capacity = [m.capacity for m in index.mentors]
    arcs = cohort_arcs(index, seekers, needs, severities, units, capacity)
    got = sorted(
        zip(
            arcs.unit.tolist(),
            arcs.mentor.tolist(),
            arcs.prio.tolist(),
            arcs.loc.tolist(),
            arcs.nosubj.tolist(),
            strict=True,
        )
    )
    want = sorted(
        (u, index.mentor_rank[c.mentor.id], c.prio, c.loc, c.nosubj)
        for u, (k, unit) in enumerate(units)
        for c in unit_arcs(index, seekers[k], needs[k], unit, index.capacity, severities[k])
    )
    assert got == want and len(want) > 200


def test_a_need_of_an_unknown_kind_is_unmet_in_a_cohort_as_alone(engine: Engine) -> None:
    """Nothing is dropped: a need of a kind the resolver does not know is unmet, with
    the same reason in a cohort plan as for one person."""
    from deficit_engine.models import Need
    from deficit_engine.resolve import resolve

    profile, result = engine.diagnose(_cohort(1)[0])
    odd = Need("visit", None, (), "R-ODD")
    result = dataclasses.replace(result, needs=(*result.needs, odd))
    (planned,) = plan_cohort(engine.kb, [(profile, result)]).resolutions
    assert planned is not None
    alone = resolve(engine.kb, profile, result.needs, severities=result.severities)
    got = [(u.need, u.reason) for u in planned.unmet if u.need == odd]
    assert got == [(odd, "неизвестный вид потребности «visit»")]
    assert got == [(u.need, u.reason) for u in alone.unmet if u.need == odd]


def test_made_values_are_shared_only_when_they_print_the_same() -> None:
    """SharedValues.made keys by the value: an equal recommendation or unmet need
    whose needs are other objects, or whose attributes' values are of other types
    (36 == 36.0), must stay its own, or the plan's output would change."""
    from deficit_engine.models import Need, Recommendation, Unmet
    from deficit_engine.planner import SharedValues

    def rec(need: Need, hours: Any) -> Recommendation:
        return Recommendation(
            "program", "DPP-1", "T", ("a.b",), (need,), "why", (("hours", hours),)
        )

    shared = SharedValues()
    need = Need("program", "a.b", (("education", "formal"),), "R-1")
    first = shared.made(rec(need, 36))
    assert shared.made(rec(need, 36)) is first  # equal and printed the same: one object
    as_float = rec(need, 36.0)
    assert as_float == first and shared.made(as_float) is as_float
    assert shared.made(rec(need, 36.0)) is as_float  # the second lookup shares those too
    other_need = Need("program", "a.b", (("education", "formal"),), "R-1")  # equal, not same
    mine = rec(other_need, 36)
    assert shared.made(mine) is mine
    unmet = shared.made(Unmet(need, "нет программ"))
    assert shared.made(Unmet(need, "нет программ")) is unmet
    assert shared.made(Unmet(other_need, "нет программ")) is not unmet
    listed = Recommendation("format", "F-1", "T", (), (need,), "why", (("phases", ["x"]),))
    assert shared.made(listed) is listed  # not hashable: never shared


def test_unmet_needs_are_shared_as_made_shares_them() -> None:
    """SharedValues.unmet finds an unmet need by its need's identity and the reason's
    parts: it must share exactly where made(unmet_of(...)) shares (the same need
    object, an equal reason, cause and exhausted ids), and give the same value."""
    from deficit_engine.models import Need
    from deficit_engine.planner import SharedValues
    from deficit_engine.resolve import unmet_of
    from deficit_engine.resolve.mentors import Why

    need = Need("mentor", "a.b", (("form", "x"),), "R-1")
    other_need = Need("mentor", "a.b", (("form", "x"),), "R-1")  # equal, not the same
    whys: list[str | Why] = [
        "нет наставника",
        Why("нет наставника"),  # the same unmet need as the plain reason
        Why("нет наставника", "capacity", ("M-1",)),
        Why("нет наставника", "capacity", ("M-2",)),
    ]
    calls = [(n, w) for n in (need, other_need, need) for w in whys]
    by_made, by_unmet = SharedValues(), SharedValues()
    made = [by_made.made(unmet_of(n, w)) for n, w in calls]
    found = [by_unmet.unmet(n, w) for n, w in calls]
    assert found == made
    # the same objects where made's are the same, and apart where they are apart
    assert [[a is b for b in found] for a in found] == [[a is b for b in made] for a in made]
    assert found[0] is found[1] and found[0] is not found[4] and found[2] is not found[3]
