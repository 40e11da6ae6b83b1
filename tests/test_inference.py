"""The inference driver (``inference.run``) on its own: the agenda's order, facts as a set,
the firing limit, stratified ``not:`` and the trace, the same with every matcher.

The rules are parsed from YAML by the loader (as a KB's rules are) and compiled by
``compiler.compile_rules``; the base facts are written by hand, so nothing here goes
through a profile or the engine."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from conftest import load_rules
from deficit_engine import FiringLimitError, UsageError
from deficit_engine.compiler import SubRule, compile_rules
from deficit_engine.inference import (
    DurableMatcher,
    FactStore,
    FastMatcher,
    PythonMatcher,
    durable_available,
    fact_key,
    run,
)
from deficit_engine.models import TraceEntry
from deficit_engine.rules import Rule

Fact = dict[str, Any]
Matcher = PythonMatcher | FastMatcher | DurableMatcher


def python(strata: Sequence[Sequence[SubRule]], rules: Sequence[Rule]) -> Matcher:
    return PythonMatcher(strata)


def fast(strata: Sequence[Sequence[SubRule]], rules: Sequence[Rule]) -> Matcher:
    return FastMatcher(strata)


def durable(strata: Sequence[Sequence[SubRule]], rules: Sequence[Rule]) -> Matcher:
    return DurableMatcher(strata, rules)


MATCHERS = [
    pytest.param(python, id="python"),
    pytest.param(fast, id="fast"),
    pytest.param(
        durable,
        id="durable",
        marks=pytest.mark.skipif(not durable_available(), reason="durable_rules not importable"),
    ),
]
MakeMatcher = Callable[[Sequence[Sequence[SubRule]], Sequence[Rule]], Matcher]


def infer(
    rules: Sequence[Rule], base: Sequence[Fact], make: MakeMatcher, limit: int = 10_000
) -> tuple[FactStore, list[TraceEntry]]:
    strata = compile_rules(rules)
    return run(strata, base, make(strata, rules), lambda fact: fact, limit)


def result(competency: str, level: str = "critical", pct: float = 10.0) -> Fact:
    group = competency.split(".")[0]
    return {
        "type": "result",
        "competency": competency,
        "group": group,
        "score_pct": pct,
        "level": level,
    }


def fired(trace: Sequence[TraceEntry]) -> list[tuple[str, str]]:
    """(rule, the competency of its first matched fact) per firing, in firing order."""
    return [(t.rule, str(t.matched[0].get("competency", t.matched[0].get("c")))) for t in trace]


# --- the agenda -----------------------------------------------------------------------

ORDER_RULES = """\
  - id: LOW
    title: priority 1, first in the file
    priority: 1
    when: {result: {}}
    then: {fact: {type: seen, by: low, c: $result.competency}}
  - id: SAME-A
    title: priority 3, before SAME-B in the file
    priority: 3
    when: {result: {}}
    then: {fact: {type: seen, by: a, c: $result.competency}}
  - id: SAME-B
    title: priority 3, after SAME-A in the file
    priority: 3
    when: {result: {}}
    then: {fact: {type: seen, by: b, c: $result.competency}}
  - id: HIGH
    title: priority 5, last in the file
    priority: 5
    when: {result: {}}
    then: {fact: {type: seen, by: high, c: $result.competency}}
  - id: CHAIN
    title: priority 9, on facts that HIGH derives
    priority: 9
    when: {seen: {by: high}}
    then: {fact: {type: echo, c: $seen.c}}
"""


@pytest.mark.parametrize("make", MATCHERS)
def test_agenda_order_is_priority_then_rule_order_then_fact_order(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(tmp_path, ORDER_RULES)
    # the base facts are not in alphabetical order: fact order is insertion order
    base = [result("methodical.assessment"), result("digital.ai")]
    _store, trace = infer(rules, base, make)
    assert fired(trace) == [
        ("HIGH", "methodical.assessment"),
        # a new activation of a higher priority fires before those already waiting
        ("CHAIN", "methodical.assessment"),
        ("HIGH", "digital.ai"),
        ("CHAIN", "digital.ai"),
        ("SAME-A", "methodical.assessment"),
        ("SAME-A", "digital.ai"),
        ("SAME-B", "methodical.assessment"),
        ("SAME-B", "digital.ai"),
        ("LOW", "methodical.assessment"),
        ("LOW", "digital.ai"),
    ]


@pytest.mark.parametrize("make", MATCHERS)
def test_a_join_fires_once_per_pair_in_fact_order(tmp_path: Path, make: MakeMatcher) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: PAIR
    title: two different results
    when:
      - {as: x, result: {}}
      - {as: y, result: {competency: {ne: $x.competency}}}
    then: {fact: {type: pair, x: $x.competency, y: $y.competency}}
""",
    )
    a, b, c = result("normative.fgos"), result("digital.ai"), result("digital.distance")
    store, trace = infer(rules, [a, b, c], make)
    pairs = [(t.matched[0]["competency"], t.matched[1]["competency"]) for t in trace]
    # ordered by the facts' numbers: (0,1), (0,2), (1,0), (1,2), (2,0), (2,1)
    assert pairs == [
        ("normative.fgos", "digital.ai"),
        ("normative.fgos", "digital.distance"),
        ("digital.ai", "normative.fgos"),
        ("digital.ai", "digital.distance"),
        ("digital.distance", "normative.fgos"),
        ("digital.distance", "digital.ai"),
    ]
    assert len(store.of_type("pair")) == 6


@pytest.mark.parametrize("make", MATCHERS)
def test_any_fires_once_per_alternative_that_matches(tmp_path: Path, make: MakeMatcher) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: YOUNG-ANY
    title: a young teacher with a critical result or a request
    when:
      - person: {experience_years: {lt: 3}}
      - any:
          - result: {level: critical}
          - request: {}
    then: {fact: {type: young, role: $person.role}}
""",
    )
    person = {"type": "person", "role": "teacher", "experience_years": 2.0, "subjects": []}
    request = {"type": "request", "competency": "digital.ai", "group": "digital"}
    base = [person, result("digital.ai"), result("normative.fgos"), request]
    store, trace = infer(rules, base, make)
    # two critical results match the first alternative: still one firing for it
    assert [(t.rule, t.matched[1]["type"]) for t in trace] == [
        ("YOUNG-ANY", "result"),
        ("YOUNG-ANY", "request"),
    ]
    assert trace[0].matched[1]["competency"] == "digital.ai"  # the first fact in order
    assert len(store.of_type("young")) == 1


# --- facts are a set ------------------------------------------------------------------


@pytest.mark.parametrize("make", MATCHERS)
def test_an_identical_fact_is_asserted_once(tmp_path: Path, make: MakeMatcher) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: FIRST
    title: flags a competency
    priority: 2
    when: {result: {}}
    then: {fact: {type: flag, c: $result.competency}}
  - id: AGAIN
    title: flags it again
    priority: 1
    when: {result: {}}
    then: {fact: {type: flag, c: $result.competency}}
  - id: ON-FLAG
    title: one firing per distinct flag
    when: {flag: {}}
    then: {fact: {type: seen, c: $flag.c}}
""",
    )
    base = [result("digital.ai"), result("digital.ai")]  # a repeated base fact is one fact
    store, trace = infer(rules, base, make)
    assert len(store.of_type("result")) == 1
    assert [(t.rule, len(t.asserted)) for t in trace] == [
        ("FIRST", 1),
        ("AGAIN", 0),  # it fired (the trace says so) but asserted nothing new
        ("ON-FLAG", 1),  # once: one flag
    ]
    assert store.facts[store.of_type("flag")[0]] == {"type": "flag", "c": "digital.ai"}


def test_the_store_tells_true_from_one() -> None:
    store = FactStore()
    assert store.add({"type": "t", "v": 1.0}) == 0
    assert store.add({"type": "t", "v": True}) == 1  # equal in Python, not one fact here
    assert store.add({"type": "t", "v": 1.0}) is None
    assert store.add({"type": "t", "v": [1.0, "x"]}) == 2
    assert store.add({"type": "t", "v": [1.0, "x"]}) is None


def test_the_store_keys_facts_whose_field_names_do_not_sort() -> None:
    store = FactStore()
    odd: dict[Any, Any] = {"type": "t", 1: "a"}  # not a rule's fact: names that do not sort
    assert store.add(odd) == 0
    assert store.add(dict(reversed(list(odd.items())))) is None
    assert store.add({"type": "t", 1: True}) == 1


def test_the_store_keeps_one_fact_per_fact_key() -> None:
    """The store's two-level key (the set of field names and the values first,
    ``fact_key`` when those collide or cannot be hashed) keeps exactly the facts
    ``fact_key`` tells apart, in any order."""
    rnd = random.Random(16)
    values = [1, 1.0, True, False, 0, 0.0, "1", None, [1], [True], [1.0, "x"]]
    for _ in range(300):
        store, reference = FactStore(), dict[Any, int]()
        for _ in range(30):
            fact: dict[str, Any] = {"type": rnd.choice("ab")}
            for name in rnd.sample("xyz", rnd.randint(0, 3)):
                fact[name] = rnd.choice(values)
            key, count = fact_key(fact), len(reference)
            new = key not in reference
            reference.setdefault(key, count)
            # the same fact with its fields in another order
            added = store.add(dict(reversed(list(fact.items()))))
            assert added == (count if new else None), (fact, store.facts)
        assert len(store.facts) == len(reference)
        assert [fact_key(f) for f in store.facts] == list(reference)


@pytest.mark.parametrize("make", MATCHERS)
def test_distinct_base_facts_are_still_a_set_when_a_rule_asserts_their_type(
    tmp_path: Path, make: MakeMatcher
) -> None:
    """Base facts added unkeyed (``run(..., distinct=True)``, as the engine adds a
    profile's) are keyed once a rule asserts a fact of their type: a rule's copy of one
    is no new fact, and the run is the one the keyed base facts give."""
    rules = load_rules(
        tmp_path,
        """\
  - id: COPY
    title: flags each result, as a base fact does already for one
    when: {result: {}}
    then:
      - {fact: {type: flag, c: $result.competency}}
      - {fact: {type: flag, c: $result.competency, v: 1}}
  - id: ON-FLAG
    title: one firing per distinct flag
    when: {flag: {}}
    then: {fact: {type: seen, c: $flag.c}}
""",
    )
    base = [
        result("digital.ai"),
        result("normative.rights"),
        {"type": "flag", "c": "digital.ai"},  # what COPY asserts first for digital.ai
        {"type": "flag", "c": "normative.rights", "v": True},  # not its `v: 1`
    ]
    strata = compile_rules(rules)
    runs = [
        run(strata, base, make(strata, rules), lambda fact: fact, distinct=distinct)
        for distinct in (False, True)
    ]
    (keyed, keyed_trace), (unkeyed, unkeyed_trace) = runs
    assert unkeyed.facts == keyed.facts and unkeyed_trace == keyed_trace
    assert [len(t.asserted) for t in unkeyed_trace if t.rule == "COPY"] == [1, 2]
    assert len(unkeyed.of_type("flag")) == 5


def test_the_store_keys_distinct_facts_as_add_would() -> None:
    """Facts added by ``add_distinct`` and then facts given to ``add``: the store keeps
    exactly the facts ``fact_key`` tells apart, as if every fact had been given to
    ``add``; a type keyed already takes no more facts by ``add_distinct``."""
    rnd = random.Random(1616)
    values = [1, 1.0, True, False, 0, 0.0, "1", None, [1], [True], [1.0, "x"]]

    def random_fact() -> Fact:
        fact: Fact = {"type": rnd.choice("ab")}
        for name in rnd.sample("xyz", rnd.randint(0, 3)):
            fact[name] = rnd.choice(values)
        return fact

    for _ in range(300):
        distinct = list({fact_key(f): f for f in (random_fact() for _ in range(10))}.values())
        later = [random_fact() for _ in range(20)]
        store, reference = FactStore(), FactStore()
        for fact in distinct:
            assert store.add_distinct(fact) == reference.add(fact)
        for fact in later:
            assert store.add(fact) == reference.add(fact), (fact, store.facts)
        assert store.facts == reference.facts
        assert [fact_key(f) for f in store.facts] == [fact_key(f) for f in reference.facts]
        for ftype in {f["type"] for f in later}:
            with pytest.raises(UsageError):
                store.add_distinct({"type": ftype, "new": "fact"})


# --- the firing limit -----------------------------------------------------------------

LOOP = """\
  - id: STEP
    title: each result links to every other
    when:
      - {as: a, result: {}}
      - {as: b, result: {competency: {ne: $a.competency}}}
    then: {fact: {type: link, x: $a.competency, y: $b.competency}}
  - id: ECHO
    title: each link is echoed back
    when: {link: {}}
    then: {fact: {type: echo, x: $link.y}}
"""


@pytest.mark.parametrize("make", MATCHERS)
def test_the_firing_limit_counts_firings_that_asserted_something(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(tmp_path, LOOP)
    base = [result("digital.ai"), result("digital.distance")]
    # 2 links, 2 echoes: 4 productive firings; then nothing new
    store, trace = infer(rules, base, make, limit=4)
    assert len(store.facts) == 6 and len(trace) == 4
    with pytest.raises(FiringLimitError) as err:
        infer(rules, base, make, limit=3)
    assert err.value.limit == 3
    assert set(err.value.rules) == {"STEP", "ECHO"}
    assert "firing limit of 3 exceeded" in str(err.value)


def test_the_matcher_is_ended_when_the_limit_stops_a_run(tmp_path: Path) -> None:
    rules = load_rules(tmp_path, LOOP)
    ended: list[int] = []

    class Counting(PythonMatcher):
        def end(self) -> None:
            ended.append(1)
            super().end()

    strata = compile_rules(rules)
    with pytest.raises(FiringLimitError):
        run(strata, [result("digital.ai"), result("digital.distance")], Counting(strata), dict, 1)
    assert ended == [1]


# --- stratified not: ------------------------------------------------------------------


@pytest.mark.parametrize("make", MATCHERS)
def test_not_sees_the_complete_facts_of_the_strata_before(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: LONELY
    title: a result with no flag (high priority, yet it waits for the flags)
    priority: 100
    when:
      - result: {}
      - not: {flag: {c: $result.competency}}
    then: {fact: {type: lonely, c: $result.competency}}
  - id: FLAG
    title: flags critical results
    when: {result: {level: critical}}
    then: {fact: {type: flag, c: $result.competency}}
""",
    )
    base = [result("digital.ai"), result("normative.fgos", level="partial", pct=60.0)]
    store, trace = infer(rules, base, make)
    assert [t.rule for t in trace] == ["FLAG", "LONELY"]
    assert [store.facts[i]["c"] for i in store.of_type("lonely")] == ["normative.fgos"]


@pytest.mark.parametrize("make", MATCHERS)
def test_a_rule_of_only_not_fires_once_with_nothing_bound(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: NO-REQUEST
    title: the profile requests nothing
    when: {not: {request: {}}}
    then: {fact: {type: quiet, v: true}}
""",
    )
    _store, trace = infer(rules, [result("digital.ai")], make)
    assert trace == [TraceEntry("NO-REQUEST", (), ({"type": "quiet", "v": True},))]
    request = {"type": "request", "competency": "digital.ai", "group": "digital"}
    assert infer(rules, [request], make)[1] == []


# --- the trace ------------------------------------------------------------------------


@pytest.mark.parametrize("make", MATCHERS)
def test_the_trace_holds_the_bound_facts_and_only_new_facts(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: YOUNG-LOW
    title: a young teacher's critical result
    when:
      - person: {experience_years: {lt: 3}}
      - result: {level: critical}
    then:
      - deficit: {competency: $result.competency, severity: critical}
      - need: {kind: mentor, competency: $result.competency, form: young_specialist}
""",
    )
    person = {"type": "person", "role": "teacher", "experience_years": 2.0, "subjects": []}
    crit = result("methodical.assessment")
    enrich_calls: list[Fact] = []

    def enrich(fact: Fact) -> Fact:  # the engine adds group and score_pct here
        enrich_calls.append(fact)
        return {**fact, "enriched": True}

    strata = compile_rules(rules)
    _store, trace = run(strata, [person, crit], make(strata, rules), enrich)
    assert len(trace) == 1
    entry = trace[0]
    assert entry.rule == "YOUNG-LOW"
    assert entry.matched == (person, crit)  # in pattern order, the facts themselves
    assert entry.asserted == (
        {
            "type": "deficit",
            "competency": "methodical.assessment",
            "severity": "critical",
            "enriched": True,
        },
        {
            "type": "need",
            "kind": "mentor",
            "competency": "methodical.assessment",
            "form": "young_specialist",
            "enriched": True,
        },
    )
    assert len(enrich_calls) == 2
