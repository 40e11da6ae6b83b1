"""The fast backend's generated code against the readings it replaces.

* ``SubRule.build`` (``compiler.builder``): a sub-rule's actions as one generated
  function, held to the driver's reading of the templates (``driver._build``): the
  same facts with their fields in the same order, a fact left out when a required
  field is missing, a missing optional field left out.
* ``Compiled.admitters``: the alpha tests with what the fast matcher does with each
  pattern passed written in, held to ``Compiled.hits`` (the closures).

On hand-made templates, on the shipped rules over synthetic profiles (every firing),
and on the engine's random rule sets (tests/test_differential_random.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.compiler import FIELD, LITERAL, MIXED, SubRule, Template, builder
from deficit_engine.engine import base_facts
from deficit_engine.inference import Compiled, PythonMatcher, run
from deficit_engine.inference.driver import _build
from deficit_engine.profile import normalise
from deficit_engine.rules import Ref
from test_differential_random import random_profile, random_rules_kb

Fact = dict[str, Any]


def _same(a: Sequence[Fact], b: Sequence[Fact]) -> bool:
    """Equal facts with their fields in the same order (the order reaches the JSON)."""
    return [list(f.items()) for f in a] == [list(f.items()) for f in b]


def _tag(fact: Fact) -> Fact:
    """An enricher that shows it was called on each fact, and on which."""
    return {**fact, "enriched": len(fact)}


class _Sub:
    """What ``_build`` reads of a sub-rule: its actions and aliases."""

    def __init__(self, actions: tuple[Template, ...]) -> None:
        self.actions = actions
        self.aliases = {"a": 0, "b": 1}


TEMPLATES: tuple[Template, ...] = (
    (
        "deficit",
        (("competency", FIELD, (0, "competency"), True), ("severity", LITERAL, "low", True)),
    ),
    # an optional field between others: missing, it is left out and the order kept
    (
        "link",
        (
            ("x", LITERAL, 1.0, False),
            ("y", FIELD, (1, "y"), False),
            ("z", FIELD, (0, "competency"), False),
            ("w", LITERAL, None, False),
        ),
    ),
    # a required field read from the second fact, after an optional one
    ("need", (("note", FIELD, (0, "note"), False), ("kind", FIELD, (1, "kind"), True))),
    ("flag", ()),
)

BINDINGS: tuple[tuple[Fact, ...], ...] = (
    ({"type": "result", "competency": "c1", "note": "n"}, {"type": "r", "y": [1], "kind": "k"}),
    ({"type": "result"}, {"type": "r"}),  # every FIELD missing
    ({"type": "result", "competency": None}, {"type": "r", "kind": False}),  # present, falsy
    ({"type": "result", "note": "n"}, {"type": "r", "y": "v"}),
)


@pytest.mark.parametrize("binding", BINDINGS)
@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_builder_gives_what_the_templates_give(binding: tuple[Fact, ...], count: int) -> None:
    for start in range(len(TEMPLATES) - count + 1):
        actions = TEMPLATES[start : start + count]
        build = builder(actions)
        assert build is not None
        expected = _build(_Sub(actions), binding, _tag)  # type: ignore[arg-type]
        assert _same(build(binding, _tag), expected), (actions, binding)


def test_builder_leaves_list_values_to_the_driver() -> None:
    mixed: Template = ("need", (("items", MIXED, ["x", Ref("a", "competency")], False),))
    assert builder((TEMPLATES[0], mixed)) is None


def _subs(engine: Engine) -> dict[str, list[SubRule]]:
    out: dict[str, list[SubRule]] = {}
    for subs in engine.strata:
        for sub in subs:
            out.setdefault(sub.rule.id, []).append(sub)
    return out


def _check_run(engine: Engine, profile: Any) -> None:
    """On one evaluation (the reference matcher's): every firing's facts as each of its
    rule's sub-rules with a builder builds them, and every fact admitted in every
    stratum as ``Compiled.hits`` says."""
    norm = normalise(engine.parse(profile), engine.kb)
    enrich = engine._enricher(norm)
    store, trace = run(
        engine.strata, base_facts(norm, engine.kb), PythonMatcher(engine.strata), enrich
    )
    subs = _subs(engine)
    for entry in trace:
        for sub in subs[entry.rule]:
            if sub.build is not None and len(sub.positives) == len(entry.matched):
                expected = _build(sub, entry.matched, enrich)
                assert _same(sub.build(entry.matched, enrich), expected), entry
    _check_admitters(engine.strata, store.facts)


def _check_admitters(strata: Sequence[Sequence[SubRule]], facts: Sequence[Fact]) -> None:
    compiled = Compiled(strata)
    for k, subs in enumerate(strata):
        every = {(i, pos) for i, sub in enumerate(subs) for pos in range(len(sub.positives))}
        for seq, fact in enumerate(facts):
            admit = compiled.admitters[k].get(fact["type"])
            if admit is None:
                assert fact["type"] not in compiled.index[k]
                continue
            hits = compiled.hits(compiled.index[k], fact)
            for filled in (set(), every, {(i, 0) for i, _pos in every}):
                _check_admit(admit, fact, seq, hits, subs, filled)


def _check_admit(
    admit: Any,
    fact: Fact,
    seq: int,
    hits: Sequence[Any],
    subs: Sequence[SubRule],
    filled: set[tuple[int, int]],
) -> None:
    """``admit`` of fact ``seq`` against the patterns it passes (``hits``), with the alpha
    memories in ``filled`` holding an earlier fact: one-pattern rules are activations;
    the fact goes into the memory of each pattern of a longer rule, and the pattern
    among the joins to do, except a two-pattern rule's whose other memory is empty."""

    def memories() -> list[list[list[int]]]:
        return [
            [[-1] if (i, pos) in filled else [] for pos in range(len(sub.positives))]
            for i, sub in enumerate(subs)
        ]

    memory, out, joins = memories(), list[Any](), list[Any]()
    admit(fact, seq, out, memory, joins)
    expected_memory, expected_joins = memories(), list[Any]()
    for p in hits:
        n = len(subs[p.sub].positives)
        if n > 1:
            expected_memory[p.sub][p.pos].append(seq)
            if n > 2 or expected_memory[p.sub][1 - p.pos]:
                expected_joins.append(p)
    single = [p for p in hits if len(subs[p.sub].positives) == 1]
    assert out == [(subs[p.sub], (seq,)) for p in single], fact
    assert joins == expected_joins, fact
    assert memory == expected_memory, fact


def test_shipped_rules_generated_code_agrees() -> None:
    engine = Engine.from_path(backend="python")
    for profile in synthetic_profiles(engine.kb, 150, seed=7, max_results=40):
        _check_run(engine, profile)


@pytest.mark.parametrize("seed", range(12))
def test_random_rule_sets_generated_code_agrees(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    engine = Engine(random_rules_kb(tmp_path / "kb", rnd), backend="python")
    for n in range(15):
        _check_run(engine, random_profile(rnd, n))
