"""The compiler (``compiler.compile_rules`` and the durable_rules JSON) on its own: strata in
order, one sub-rule per combination of ``any:`` alternatives, precompiled actions, and the
one layout of a durable definition that durable_rules 2.0.28 evaluates right (see the
comment above ``compiler.CONSTANT``)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_rules
from deficit_engine.compiler import (
    CONSTANT,
    FIELD,
    LITERAL,
    MIXED,
    SENTINEL,
    compile_rules,
    durable_definition,
    durable_message,
)
from deficit_engine.rules import Ref, field_kinds

# --- strata -----------------------------------------------------------------------------

STRATA = """\
  - id: QUIET
    title: no echo at all (negates what ECHO derives, so after it)
    when: {not: {echo: {}}}
    then: {fact: {type: quiet, v: true}}
  - id: FLAG
    title: flags critical results
    when: {result: {level: critical}}
    then: {fact: {type: flag, c: $result.competency}}
  - id: ECHO
    title: echoes lonely results (reads what LONELY derives, so with it)
    when: {lonely: {}}
    then: {fact: {type: echo, c: $lonely.c}}
  - id: LONELY
    title: a result with no flag (negates what FLAG derives, so after it)
    when:
      - result: {}
      - not: {flag: {c: $result.competency}}
    then: {fact: {type: lonely, c: $result.competency}}
"""


def test_strata_run_negations_after_what_they_negate(tmp_path: Path) -> None:
    strata = compile_rules(load_rules(tmp_path, STRATA))
    assert [[sub.rule.id for sub in stratum] for stratum in strata] == [
        ["FLAG"],
        ["ECHO", "LONELY"],  # in rule order within a stratum
        ["QUIET"],
    ]
    assert [[sub.key for sub in stratum] for stratum in strata] == [["r1"], ["r2", "r3"], ["r0"]]


def test_a_rule_set_without_negation_is_one_stratum_in_rule_order(tmp_path: Path) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: B
    title: second by id, first in the file
    priority: -5
    when: {result: {}}
    then: {fact: {type: seen, c: $result.competency}}
  - id: A
    title: reads what B derives
    priority: 7
    when: {seen: {}}
    then: {fact: {type: echo, c: $seen.c}}
""",
    )
    (stratum,) = compile_rules(rules)
    assert [(sub.rule.id, sub.rank) for sub in stratum] == [("B", (5, 0, ())), ("A", (-7, 1, ()))]


# --- any: -------------------------------------------------------------------------------

ANY = """\
  - id: MIX
    title: a person, one of two result kinds, one of two requests, no need yet
    when:
      - person: {}
      - any:
          - result: {level: critical}
          - [{as: g, group_result: {}}, {as: i, indicator_result: {group: $g.group}}]
      - not: {need: {}}
      - any:
          - request: {group: digital}
          - request: {group: methodical}
    then: {fact: {type: mixed, role: $person.role}}
"""


def test_any_becomes_one_sub_rule_per_combination_of_alternatives(tmp_path: Path) -> None:
    ((*subs,),) = compile_rules(load_rules(tmp_path, ANY))
    assert [(sub.key, sub.alt) for sub in subs] == [
        ("r0.0.0", (0, 0)),
        ("r0.0.1", (0, 1)),
        ("r0.1.0", (1, 0)),
        ("r0.1.1", (1, 1)),
    ]
    one, _, two, _ = subs
    # the outer pattern first (activations are keyed by it), then the alternatives'
    assert [p.type for p in one.positives] == ["person", "result", "request"]
    assert [p.type for p in two.positives] == [
        "person",
        "group_result",
        "indicator_result",
        "request",
    ]
    assert {sub.n_outer for sub in subs} == {1}
    assert two.aliases == {"person": 0, "g": 1, "i": 2, "request": 3}
    assert two.types == frozenset({"person", "group_result", "indicator_result", "request"})
    assert [p.type for sub in subs for p in sub.negatives] == ["need"] * 4
    assert {sub.rank for sub in subs} == {(0, 0, sub.alt) for sub in subs}
    # the alternative's reference points at the alternative's own earlier pattern
    (cond,) = two.positives[2].conds
    assert cond.value == Ref("g", "group")


# --- actions ----------------------------------------------------------------------------

PAIR = """\
  - id: PAIR
    title: a low result and a request for it
    when:
      - result: {level: {in: [critical, low]}, score_pct: {lt: 50}, group: {exists: true}}
      - request: {group: {in: [digital, methodical]}, competency: $result.competency}
    then:
      - deficit: {competency: $result.competency, severity: high}
      - fact: {type: asked, c: $request.competency, tags: [x, $result.group], n: 2}
"""


def test_actions_are_precompiled_to_positions_in_the_binding(tmp_path: Path) -> None:
    ((sub,),) = compile_rules(load_rules(tmp_path, PAIR))
    deficit, asked = sub.actions
    # required: a deficit without its competency or severity is left out
    assert deficit == (
        "deficit",
        (("competency", FIELD, (0, "competency"), True), ("severity", LITERAL, "high", True)),
    )
    assert asked == (
        "asked",
        (
            ("c", FIELD, (1, "competency"), False),
            ("tags", MIXED, ["x", Ref("result", "group")], False),
            ("n", LITERAL, 2.0, False),  # numbers are floats
        ),
    )


# --- durable_rules JSON -----------------------------------------------------------------


def test_durable_definition_of_a_two_pattern_rule(tmp_path: Path) -> None:
    ((sub,),) = compile_rules(load_rules(tmp_path, PAIR))
    definition = durable_definition(sub)
    # per pattern: the constant field, the type, literal leaves, reference leaves and then
    # the sentinel reference (only where there are references), nested groups last;
    # `exists` is left to the driver's verification
    assert definition == {
        "all": [
            {
                "p0": {
                    "$and": [
                        {CONSTANT: 1},
                        {"type": "result"},
                        {"$lt": {"score_pct": 50.0}},
                        {"$or": [{"level": "critical"}, {"level": "low"}]},
                    ]
                }
            },
            {
                "p1": {
                    "$and": [
                        {CONSTANT: 1},
                        {"type": "request"},
                        {"competency": {"p0": "competency"}},
                        {CONSTANT: {"p0": CONSTANT}},
                        {"$or": [{"group": "digital"}, {"group": "methodical"}]},
                    ]
                }
            },
        ]
    }
    # durable reads JSON: the definition survives a round trip unchanged
    assert json.loads(json.dumps(definition)) == definition


def test_durable_definition_is_none_when_nothing_can_or_need_match(tmp_path: Path) -> None:
    rules = load_rules(
        tmp_path,
        """\
  - id: NEVER
    title: a membership in nothing never holds
    when: {result: {level: {in: []}}}
    then: {fact: {type: never, v: true}}
  - id: ONLY-NOT
    title: nothing to match (the driver activates it once by itself)
    when: {not: {request: {}}}
    then: {fact: {type: quiet, v: true}}
""",
    )
    ((never, only_not),) = compile_rules(rules)
    assert durable_definition(never) is None
    assert durable_definition(only_not) is None


def test_a_durable_message_carries_every_field_of_its_type(tmp_path: Path) -> None:
    rules = load_rules(tmp_path, PAIR)
    fact = {"type": "request", "competency": "digital.ai"}
    message = durable_message(fact, field_kinds(rules))
    assert message == {
        "type": "request",
        "competency": "digital.ai",
        CONSTANT: 1,
        "group": SENTINEL["string"],
    }
    assert fact == {"type": "request", "competency": "digital.ai"}  # the fact is not changed
    asked = durable_message({"type": "asked", "c": "x"}, field_kinds(rules))
    assert asked == {"type": "asked", "c": "x", CONSTANT: 1, "tags": [], "n": SENTINEL["number"]}
