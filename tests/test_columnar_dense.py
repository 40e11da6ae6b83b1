"""The dense columnar path (inference/dense.py): which rule sets it runs, and that it
derives exactly what the generic fact tables and the per-profile engine derive, on the
shipped rules and on random rule sets drawn from what it compiles."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from benchmark_scripts import load_benchmark
from conftest import write_kb
from deficit_engine import Engine, load_kb
from deficit_engine.engine import base_facts
from deficit_engine.inference.columnar import Derived
from deficit_engine.inference.dense import DenseFacts, DenseRules
from deficit_engine.profile import normalise
from deficit_engine.synthetic import synthetic_profiles
from test_columnar import assert_same_as_per_profile
from test_differential_random import COMPS, GROUPS, SEVERITIES, random_profile


def both_paths(engine: Engine, profiles: list[Any]) -> tuple[list[Derived], list[Derived]]:
    """The dense path's and the generic path's derived facts, per profile."""
    cohort = [base_facts(normalise(engine.parse(p), engine.kb), engine.kb) for p in profiles]
    rules = engine.columnar
    base = rules.base_columns(cohort)
    dense = rules.derive_columns(base, engine.firing_limit).facts()
    generic = rules.derive_columns(base, engine.firing_limit, dense=False).facts()
    return dense, generic


def as_set(derived: Derived) -> list[str] | None:
    """One profile's derived facts in a fixed order (blocks come in another order on each
    path), each with its rule and its fields in their order."""
    if derived is None:
        return None
    return sorted(json.dumps([rule, list(fact.items())]) for rule, fact in derived)


def assert_paths_agree(engine: Engine, profiles: list[Any]) -> None:
    dense, generic = both_paths(engine, profiles)
    for profile, d, g in zip(profiles, dense, generic, strict=True):
        assert as_set(d) == as_set(g), profile


def test_every_shipped_rule_runs_dense() -> None:
    engine = Engine.from_path(None, backend="fast")
    rules = engine.columnar
    assert rules.dense_unfit is None and isinstance(rules.dense, DenseRules)
    dense_rules = {sub.rule for subs in rules.dense.strata for sub in subs}
    assert dense_rules == {rule.id for rule in engine.kb.rules}


def test_dense_equals_generic_on_generated_profiles() -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 1500, seed=11))
    assert_paths_agree(engine, profiles)
    dense, _generic = both_paths(engine, profiles)
    assert sum(d is not None for d in dense) > 0.9 * len(profiles)


@pytest.mark.parametrize("n", [512, 511])
def test_dense_equals_generic_for_chunks_of_a_power_of_two_and_not(n: int) -> None:
    """A fact's cell index is split into competency and profile by a shift when the
    chunk is a power of two (the batch's 4,096), by division otherwise: both must
    locate every fact where the generic path does."""
    engine = Engine.from_path(None, backend="fast")
    assert_paths_agree(engine, list(synthetic_profiles(engine.kb, n, seed=n)))


@pytest.mark.slow
def test_dense_equals_generic_and_per_profile_on_3000_generated_profiles() -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 3000, seed=21))
    assert_paths_agree(engine, profiles)
    assert_same_as_per_profile(engine, profiles)


# --- random rule sets the dense path compiles -------------------------------------------


def _pattern(rnd: random.Random, ftype: str) -> dict[str, Any]:
    """Conditions on the fact alone."""
    conds: dict[str, Any] = {}
    for _ in range(rnd.randint(0, 2)):
        if ftype == "result":
            conds.update(
                rnd.choice(
                    [
                        {"score_pct": {rnd.choice(["lt", "ge"]): rnd.choice([30, 50, 75, 85])}},
                        {"level": rnd.choice(["critical", "low", "partial", "proficient"])},
                        {"group": rnd.choice(GROUPS)},
                        {"competency": {"in": rnd.sample(COMPS, 2)}},
                    ]
                )
            )
        elif ftype == "deficit":
            conds.update(
                rnd.choice(
                    [
                        {"severity": rnd.choice(SEVERITIES)},
                        {"severity": {"in": rnd.sample(SEVERITIES, 2)}},
                        {"severity": {"ne": "low"}},
                        {"group": {"ne": rnd.choice(GROUPS)}},
                        {"score_pct": {rnd.choice(["lt", "ge"]): rnd.choice([30, 50, 75])}},
                        {"score_pct": {"exists": rnd.choice([True, False])}},
                        {"competency": rnd.choice(COMPS)},
                    ]
                )
            )
        elif ftype == "person":
            conds.update(
                rnd.choice(
                    [
                        {"experience_years": {"lt": rnd.choice([3, 10])}},
                        {"role": {"in": ["teacher", "manager"]}},
                        {"subjects": {"contains": "mathematics"}},
                    ]
                )
            )
        elif ftype == "need":
            conds.update({"kind": rnd.choice(["program", "format"])})
        elif ftype == "mark":
            conds.update({"tag": rnd.choice(["a", "b"])})
        elif ftype == "group_result":
            conds.update({"level": {"in": rnd.sample(["critical", "low", "partial"], 2)}})
    return conds


def _action(rnd: random.Random, alias: str | None, stratified: bool) -> dict[str, Any]:
    """An action copying ``alias``'s competency, or only literals."""
    comp = f"${alias}.competency" if alias else rnd.choice([None, rnd.choice(COMPS)])
    located = {"competency": comp} if comp else {}
    choices: list[dict[str, Any]] = [
        {
            "need": {
                "kind": "format",
                "format": rnd.choice(["self_education", "internship"]),
                **located,
            }
        },
        {"fact": {"type": "mark", "tag": rnd.choice(["a", "b"]), **located}},
    ]
    if comp:  # a programme need names its competency
        choices.append({"need": {"kind": "program", "competency": comp, "education": "formal"}})
    if comp and not stratified:  # deficits read negatively stay out of negated rules' reach
        choices.append({"deficit": {"competency": comp, "severity": rnd.choice(SEVERITIES)}})
    return rnd.choice(choices)


def dense_rules(rnd: random.Random) -> str:
    """A random rule set inside the dense path's fragment: competency and group joins, a
    ``gt`` pair, ``not:`` at a competency or over the profile, chains through deficits,
    needs and a custom fact, rival rules asserting the same facts at random priorities."""
    rules: list[dict[str, Any]] = [
        {
            "id": "BASE",
            "priority": 50,
            "when": [{"result": {"score_pct": {"lt": 75}}}],
            "then": [{"deficit": {"competency": "$result.competency", "severity": "moderate"}}],
        },
        {
            "id": "MARK-SEED",  # keeps the custom type's fields known
            "when": [{"request": {}}],
            "then": [{"fact": {"type": "mark", "tag": "a", "competency": "$request.competency"}}],
        },
    ]
    for n in range(rnd.randint(3, 8)):
        when: list[dict[str, Any]] = []
        shape = rnd.choice(["single", "join", "group", "pair", "chain", "scalar"])
        negated = rnd.random() < 0.35
        first = rnd.choice(["result", "deficit", "request"] + ([] if negated else ["mark"]))
        when.append({"as": "a", first: _pattern(rnd, first)})
        copy: str | None = "a"
        if shape == "join":
            # two patterns of one type at one competency could bind one fact: not dense
            other = rnd.choice([t for t in ("result", "deficit", "request") if t != first])
            conds = _pattern(rnd, other)
            conds.pop("competency", None)
            when.append({"as": "b", other: {**conds, "competency": "$a.competency"}})
        elif shape == "group" and first in ("result", "deficit"):
            when.insert(0, {"as": "g", "group_result": _pattern(rnd, "group_result")})
            when[1][first] = {**when[1][first], "group": "$g.group"}
        elif shape == "pair" and first != "mark":
            conds = _pattern(rnd, first)
            conds.pop("competency", None)
            when.append({"as": "b", first: {**conds, "competency": {"gt": "$a.competency"}}})
            copy = None
        elif shape == "chain":
            when = [{"as": "a", "need": _pattern(rnd, "need")}]
            first, negated = "need", False
        elif shape == "scalar":
            when = [{"as": "p", "person": _pattern(rnd, "person")}]
            copy = None
        if rnd.random() < 0.4 and shape != "scalar":
            when.insert(0, {"as": "p", "person": _pattern(rnd, "person")})
        if negated:
            target = rnd.choice(["deficit", "result"])
            conds = _pattern(rnd, target)
            conds.pop("competency", None)
            if copy and rnd.random() < 0.7:
                conds["competency"] = f"${copy}.competency"
            when.append({"not": {target: conds}})
        then = [_action(rnd, copy, negated or first in ("need", "mark"))]
        rules.append(
            {"id": f"R{n}", "priority": rnd.choice([0, 5, 5, 60]), "when": when, "then": then}
        )
    return yaml.safe_dump({"ruleset": "dense", "rules": rules}, allow_unicode=True, sort_keys=False)


def _dense_engine(tmp_path: Path, seed: int) -> tuple[Engine, random.Random]:
    rnd = random.Random(seed)
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text(dense_rules(rnd), encoding="utf-8")
    return Engine(load_kb(root), backend="python"), rnd


@pytest.mark.parametrize("seed", range(40))
def test_dense_equals_generic_and_per_profile_on_random_rule_sets(
    tmp_path: Path, seed: int
) -> None:
    engine, rnd = _dense_engine(tmp_path, seed)
    profiles = [random_profile(rnd, n) for n in range(80)]
    if engine.columnar.dense is None:  # the fragment's edges: the generic path runs
        pytest.skip(f"dense path not compiled: {engine.columnar.dense_unfit}")
    assert_paths_agree(engine, profiles)
    assert_same_as_per_profile(engine, profiles)


def test_random_dense_rule_sets_mostly_compile_and_decide(tmp_path: Path) -> None:
    """The random test above tests the dense path: its rule sets compile, and most
    profiles are decided by it (not handed to the per-profile engine)."""
    compiled = decided = total = 0
    for seed in range(40):
        engine, rnd = _dense_engine(tmp_path / str(seed), seed)
        if engine.columnar.dense is None:
            continue
        compiled += 1
        dense, _generic = both_paths(engine, [random_profile(rnd, n) for n in range(80)])
        decided += sum(d is not None for d in dense)
        total += len(dense)
    assert compiled >= 30
    assert decided > 0.6 * total


UNFIT = """\
ruleset: t
rules:
  - id: LOW
    when:
      - result: {score_pct: {lt: 50}}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: WHERE
    when:
      - person: {role: manager}
    then:
      - fact: {type: place, town: $person.municipality}
"""


def test_a_rule_outside_the_fragment_keeps_the_generic_path(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text(UNFIT, encoding="utf-8")
    engine = Engine(load_kb(root), backend="python")
    assert engine.columnar.dense is None
    assert engine.columnar.dense_unfit == "WHERE: it copies 'town', not a competency"
    assert engine.columnar.uncompiled == {}  # the generic path runs it
    rnd = random.Random(4)
    assert_same_as_per_profile(engine, [random_profile(rnd, n) for n in range(40)])


# --- the layout's shortcuts: each must give what the general way gives ------------------


def _base(engine: Engine, profiles: list[Any]) -> Any:
    cohort = [base_facts(normalise(engine.parse(p), engine.kb), engine.kb) for p in profiles]
    return engine.columnar.base_columns(cohort)


def _dense_facts(engine: Engine, base: Any, limit: int) -> list[list[str] | None]:
    return [as_set(d) for d in engine.columnar.derive_columns(base, limit).facts()]


def _generic_facts(engine: Engine, base: Any, limit: int) -> list[list[str] | None]:
    derived = engine.columnar.derive_columns(base, limit, dense=False).facts()
    return [as_set(d) for d in derived]


@pytest.mark.parametrize("limit", [3, 12, 10_000])
def test_dense_firing_limit_sends_the_same_profiles_away(limit: int) -> None:
    """Under a limit some profiles reach, the dense path counts each profile's facts;
    above every profile's possible count it skips counting: the same outcome."""
    engine = Engine.from_path(None, backend="fast")
    base = _base(engine, list(synthetic_profiles(engine.kb, 400, seed=5)))
    dense = _dense_facts(engine, base, limit)
    assert dense == _generic_facts(engine, base, limit)
    away = sum(d is None for d in dense)
    assert (away > 0) == (limit < 100), away  # the small limits do send profiles away


def _reordered(table: Any, order: Any) -> Any:
    columns = {
        name: type(col)(col.values[order], col.present[order])
        for name, col in table.columns.items()
    }
    return type(table)(table.pid[order], table.born[order], columns)


def test_dense_layout_does_not_depend_on_row_order_or_shared_cells() -> None:
    """The base rows are laid out in cell order, sorted once per chunk assuming rows in
    profile order. Rows shuffled (the sort's fallback), and two rows in one cell that
    disagree (a request twice, once without its group: "any of them" must hold, not
    the last written), must give what the generic path gives on the same tables."""
    engine = Engine.from_path(None, backend="fast")
    base = _base(engine, list(synthetic_profiles(engine.kb, 300, seed=9)))
    limit = engine.firing_limit
    tables = dict(base.tables)
    request = tables["request"]
    twice = _reordered(request, np.tile(np.arange(len(request)), 2))
    group = twice.columns["group"]
    second = np.arange(len(twice)) >= len(request)
    twice.columns["group"] = type(group)(group.values, group.present & ~second)
    shuffled = _reordered(twice, np.random.default_rng(3).permutation(len(twice)))
    tables["request"] = shuffled
    odd = type(base)(base.n, tables, base.strings)
    dense = _dense_facts(engine, odd, limit)
    assert dense == _generic_facts(engine, odd, limit)
    # the ungrouped copies change nothing where "any of them" holds
    assert dense == _dense_facts(engine, base, limit)
    result = tables["result"]  # the first score of profiles 0-9 twice, rows shuffled
    again = np.searchsorted(result.pid, np.arange(10))
    rows = np.concatenate([np.arange(len(result)), again])
    tables["result"] = _reordered(result, np.random.default_rng(5).permutation(rows))
    scored_twice = type(base)(base.n, tables, base.strings)
    dense_twice = _dense_facts(engine, scored_twice, limit)
    generic_twice = _generic_facts(engine, scored_twice, limit)
    sent = [p for p, d in enumerate(dense_twice) if d is None]
    assert sent == list(range(10))  # which score? the per-profile engine decides
    assert dense_twice[10:] == generic_twice[10:] == _dense_facts(engine, base, limit)[10:]
    rules = engine.columnar.dense
    assert isinstance(rules, DenseRules)
    cells = DenseFacts(rules, odd)._cells("request", "C", len(rules.comps))
    assert np.all(np.diff(cells.flat) >= 0) and not cells.unique  # sorted; shared found
    on = cells.flat < len(rules.comps) * odd.n  # each cell on the axis is its row's
    assert np.array_equal(cells.flat[on] % odd.n, shuffled.pid[cells.order][on])


# --- the hand-coded numpy baseline at the stage's boundary (benchmarks/columnar.py) ------


def test_hand_coded_numpy_at_the_stages_boundary_ends_with_the_stages_facts() -> None:
    """The benchmark's same-boundary baseline starts from the stage's own tables and
    ends with its facts located: its matrices from the tables equal those from the
    fact dicts, its outcome equals the engine's, and it locates as many facts per
    profile as the dense stage's FactBlocks hold. Without this the ratio it prints
    would compare unequal work."""
    hand = load_benchmark("handcoded_numpy")
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 300, seed=4))
    cohort = [base_facts(normalise(engine.parse(p), engine.kb), engine.kb) for p in profiles]
    base = engine.columnar.base_columns(cohort)
    inputs = hand.Inputs.from_tables(engine.kb, base)
    assert inputs.same_as(hand.Inputs(engine.kb, cohort))
    results = [engine.diagnose(p)[1] for p in profiles]
    assert hand.outcomes(inputs, hand.derive(inputs)) == [hand.outcome_of(r) for r in results]
    located = np.zeros(base.n, dtype=np.int64)
    for _name, pid, _place, _score in hand.from_tables(engine.kb, base):
        located += np.bincount(pid, minlength=base.n)
    held = np.zeros(base.n, dtype=np.int64)
    for block in engine.columnar.derive_columns(base, engine.firing_limit).blocks:
        held += np.bincount(block.pid, minlength=base.n)
    assert located.sum() > base.n and np.array_equal(located, held)
