"""The columnar path's output as columns (``derive_columns``): read column by column, it
holds exactly the facts the per-profile engine's trace derives, with their rules."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deficit_engine import Engine
from deficit_engine.engine import base_facts
from deficit_engine.inference.columnar import DerivedColumns
from deficit_engine.profile import normalise
from deficit_engine.rules import BASE_TYPES, SEVERITIES
from deficit_engine.rules.model import STR
from deficit_engine.synthetic import synthetic_profiles
from test_differential_random import random_profile, random_rules_kb

Row = tuple[str, str]  # the asserting rule, the fact as JSON (its field order kept)


def derive_columns(engine: Engine, profiles: list[Any]) -> DerivedColumns:
    cohort = [base_facts(normalise(engine.parse(p), engine.kb), engine.kb) for p in profiles]
    rules = engine.columnar
    return rules.derive_columns(rules.base_columns(cohort), engine.firing_limit)


def read_columns(columns: DerivedColumns) -> list[Counter[Row]]:
    """Each profile's facts, read row by row from the columns (not through ``facts()``)."""
    out: list[Counter[Row]] = [Counter() for _ in range(columns.n)]
    for block in columns.blocks:
        kinds = columns.kinds[block.type]
        for row, pid in enumerate(block.pid):
            fact: dict[str, Any] = {"type": block.type}
            for name in block.order:
                column = block.columns[name]
                if not column.present[row]:
                    continue
                value = column.values[row]
                if kinds[name] == STR:
                    value = columns.strings[int(value)]
                fact[name] = value.item() if isinstance(value, np.generic) else value
            out[int(pid)][(block.rule, json.dumps(fact, ensure_ascii=False))] += 1
    return out


def from_trace(engine: Engine, profile: Any) -> Counter[Row]:
    """What the per-profile engine derives: every fact its trace asserts, of the deficits
    only the first asserted of each competency's most severe (all a Result keeps)."""
    trace = engine.diagnose(profile)[1].trace
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    best: dict[Any, tuple[int, Row]] = {}
    out: Counter[Row] = Counter()
    for entry in trace:
        for fact in entry.asserted:
            row = (entry.rule, json.dumps(fact, ensure_ascii=False))
            if fact["type"] == "deficit":
                r = rank.get(str(fact.get("severity")), len(rank))
                if fact["competency"] not in best or r < best[fact["competency"]][0]:
                    best[fact["competency"]] = (r, row)
            elif fact["type"] not in BASE_TYPES:
                out[row] += 1
    out.update(row for _r, row in best.values())
    return out


def assert_columns_match_traces(engine: Engine, profiles: list[Any]) -> int:
    """The columns equal the traces on every decided profile; how many were decided."""
    columns = derive_columns(engine, profiles)
    assert columns.n == len(profiles)
    read = read_columns(columns)
    as_dicts = columns.facts()
    for i, profile in enumerate(profiles):
        if not columns.decided[i]:
            assert as_dicts[i] is None
            continue
        assert read[i] == from_trace(engine, profile), profile
        dicts = as_dicts[i]
        assert dicts is not None
        assert Counter((r, json.dumps(f, ensure_ascii=False)) for r, f in dicts) == read[i]
    return int(columns.decided.sum())


def test_columns_equal_the_fast_backend_trace_on_generated_profiles() -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 400, seed=11))
    assert assert_columns_match_traces(engine, profiles) > 0.7 * len(profiles)


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_columns_equal_the_python_backend_trace_on_random_rule_sets(
    tmp_path: Path, seed: int
) -> None:
    rnd = random.Random(seed)
    engine = Engine(random_rules_kb(tmp_path / "kb", rnd), backend="python")
    assert_columns_match_traces(engine, [random_profile(rnd, n) for n in range(60)])


def test_base_columns_are_left_as_given() -> None:
    """A run interns strings and adds rows of its own: the tables given stay reusable."""
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 50, seed=4))
    cohort = [base_facts(normalise(engine.parse(p), engine.kb), engine.kb) for p in profiles]
    rules = engine.columnar
    base = rules.base_columns(cohort)
    sizes = {t: len(table) for t, table in base.tables.items()}
    strings = len(base.strings.names)
    first = rules.derive_columns(base, engine.firing_limit).facts()
    assert {t: len(table) for t, table in base.tables.items()} == sizes
    assert len(base.strings.names) == strings
    assert rules.derive_columns(base, engine.firing_limit).facts() == first
    assert rules.derive(cohort, engine.firing_limit) == first


def test_facts_sharing_a_hash_are_still_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a hash that gives every fact of a profile the same value, each lookup takes
    the exact path: the answer must not change."""
    from deficit_engine.inference import columnar

    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 120, seed=12))
    expected = derive_columns(engine, profiles).facts()
    monkeypatch.setattr(columnar, "_hash_rows", lambda keys: keys[:, 0].astype(np.uint64))
    assert assert_columns_match_traces(engine, profiles) > 0.7 * len(profiles)
    got = derive_columns(engine, profiles).facts()
    assert [None if f is None else sorted(map(repr, f)) for f in got] == [
        None if f is None else sorted(map(repr, f)) for f in expected
    ]


def test_diagnose_many_in_runs_of_a_few_profiles_gives_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """diagnose_many runs the columnar path chunk by chunk: the cut changes nothing."""
    from deficit_engine import engine as engine_module

    engine = Engine.from_path(None, backend="fast")
    profiles: list[Any] = list(synthetic_profiles(engine.kb, 60, seed=13))
    profiles.insert(5, {"id": "broken", "person": {"role": "astronaut"}})
    whole = [r.to_json() for _p, r in engine.diagnose_many(profiles)]
    monkeypatch.setattr(engine_module, "COLUMNAR_RUN", 7)
    assert [r.to_json() for _p, r in engine.diagnose_many(profiles)] == whole
    assert whole == [engine.diagnose_many([p])[0][1].to_json() for p in profiles]
