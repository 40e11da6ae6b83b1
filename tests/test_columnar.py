"""The columnar cohort path: the same deficits, needs and custom facts as the per-profile
backends, on generated cohorts and on random rule sets; fallbacks exactly where stated."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import write_kb
from deficit_engine import Engine, load_kb
from deficit_engine.analysis import analyse
from deficit_engine.cli import main
from deficit_engine.cohort import run_batch
from deficit_engine.engine import COLUMNAR_RUN, base_facts
from deficit_engine.errors import SourceError
from deficit_engine.inference.columnar import DerivedColumns, by_profile, ranks
from deficit_engine.models import Result
from deficit_engine.profile import normalise
from deficit_engine.synthetic import synthetic_profiles
from test_differential_random import random_profile, random_rules_kb


def diagnosis(result: Result) -> tuple[Any, ...]:
    """What the columnar path promises to equal: everything a diagnosis says but the trace."""
    return (result.profile, result.deficits, result.needs, result.facts, result.errors)


def assert_same_as_per_profile(engine: Engine, profiles: list[Any]) -> None:
    """diagnose_many's Results are the per-profile engine's, byte for byte as JSON (with
    provenance; the trace apart, which diagnose_many does not make), and the fact-dict
    path's (``DerivedColumns.facts`` then ``Engine._result_of``) on what it decides."""
    got = engine.diagnose_many(profiles)
    assert len(got) == len(profiles)
    by_dicts = fact_dict_results(engine, profiles)
    for profile, (prof, result), dicts in zip(profiles, got, by_dicts, strict=True):
        ref_prof, ref = engine.diagnose(profile)
        assert diagnosis(result) == diagnosis(ref), profile
        assert result.to_json(trace=False) == ref.to_json(trace=False), profile
        assert prof == ref_prof
        if dicts is not None:
            assert result.to_json() == dicts.to_json(), profile


def fact_dict_results(engine: Engine, profiles: list[Any]) -> list[Result | None]:
    """The Results the fact-dict path makes of the columnar outcome (None: a profile it
    does not decide, or one that is not valid), in one run."""
    ready: list[tuple[int, Any, Any]] = []
    for i, profile in enumerate(profiles):
        try:
            prof = engine.parse(profile)
            ready.append((i, prof, normalise(prof, engine.kb)))
        except SourceError:  # an invalid profile: diagnose_many's error Result
            continue
    cohort = [base_facts(norm, engine.kb) for _i, _prof, norm in ready]
    rules = engine.columnar
    facts = rules.derive_columns(rules.base_columns(cohort), engine.firing_limit).facts()
    out: list[Result | None] = [None] * len(profiles)
    for (i, prof, norm), derived_facts in zip(ready, facts, strict=True):
        if derived_facts is not None:
            out[i] = engine._result_of(prof, derived_facts, norm)
    return out


def derived(engine: Engine, profiles: list[Any]) -> list[Any]:
    """The columnar path's own answer per profile (None: left to the per-profile engine)."""
    facts = []
    for profile in profiles:
        norm = normalise(engine.parse(profile), engine.kb)
        facts.append(base_facts(norm, engine.kb))
    return engine.columnar.derive(facts, engine.firing_limit)


@pytest.mark.slow
def test_columnar_equals_fast_backend_on_3000_generated_profiles() -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 3000, seed=16))
    assert_same_as_per_profile(engine, profiles)


def test_results_from_distinct_facts_equal_the_fact_dict_path_on_5000_profiles() -> None:
    """Building Results from each run's distinct facts (``_Parts``) gives the fact-dict
    path's JSON, byte for byte, on thousands of generated profiles in two runs."""
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 5000, seed=21))
    got = [r.to_json() for _p, r in engine.diagnose_many(profiles)]
    for at in range(0, len(profiles), COLUMNAR_RUN):
        chunk = profiles[at : at + COLUMNAR_RUN]
        for k, ref in enumerate(fact_dict_results(engine, chunk)):
            assert ref is not None  # the shipped rules decide every generated profile
            assert got[at + k] == ref.to_json(), chunk[k]["id"]


def test_diagnose_many_builds_results_without_fact_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The columnar path makes no dict per derived fact: the fact-dict path is not asked."""

    def refused(self: DerivedColumns) -> None:
        raise AssertionError("diagnose_many asked for fact dicts")

    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 40, seed=8))
    expected = fact_dict_results(engine, profiles)
    monkeypatch.setattr(DerivedColumns, "facts", refused)
    got = engine.diagnose_many(profiles)
    assert [r.to_json() for _p, r in got] == [r.to_json() for r in expected if r is not None]


SEVERITY_STRATA_RULES = """\
  - id: STRONG
    when:
      - result: {score_pct: {ge: 80}}
    then:
      - fact: {type: strong, competency: $result.competency}
  - id: HIGH
    when:
      - result: {score_pct: {lt: 50}}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: CRITICAL-LATER
    when:
      - result: {score_pct: {lt: 30}}
      - not: {strong: {competency: $result.competency}}
    then:
      - deficit: {competency: $result.competency, severity: critical}
  - id: LOW-LATER
    when:
      - result: {score_pct: {lt: 40}}
      - not: {strong: {competency: $result.competency}}
    then:
      - deficit: {competency: $result.competency, severity: low}
  - id: TAG
    when:
      - result: {score_pct: {lt: 60}}
    then:
      - fact: {type: tag, weak: true, competency: $result.competency}
  - id: MARK
    when:
      - result: {score_pct: {lt: 20}}
    then:
      - fact: {type: marker}
"""


def test_most_severe_deficit_across_strata_as_per_profile(tmp_path: Path) -> None:
    """A competency's deficits from two strata, the more severe one first or later: the
    Result keeps the most severe, as the per-profile engine does. Custom facts with a
    boolean field (an object column) and competencies varying are told apart too, and
    a fact with no field but its type is made (``facts()`` once failed on it)."""
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    body = "ruleset: t\nrules:\n" + SEVERITY_STRATA_RULES
    (root / "rules" / "r.yaml").write_text(body, encoding="utf-8")
    engine = Engine(load_kb(root), backend="python")
    assert engine.columnar.dense is not None and len(engine.strata) > 1
    rnd = random.Random(4)
    profiles = [random_profile(rnd, n) for n in range(200)]
    assert_same_as_per_profile(engine, profiles)
    severities = {d.severity for _p, r in engine.diagnose_many(profiles) for d in r.deficits}
    assert severities == {"critical", "high"}  # the later, less severe low never wins
    custom = [f for _p, r in engine.diagnose_many(profiles) for f in r.facts]
    assert len({f["competency"] for f in custom if f["type"] == "tag"}) > 1
    assert {"type": "marker"} in custom


def test_by_profile_sorts_each_profile_stably() -> None:
    """Rows of equal keys keep their order (the fact-dict path's sort is stable)."""
    pid = np.array([1, 0, 1, 1, 0], dtype=np.int64)
    key = ranks(["b", "a", "a", "b", "a"])
    values = np.array(["r0", "r1", "r2", "r3", "r4"], dtype=object)
    assert by_profile(3, pid, key, values) == [["r1", "r4"], ["r2", "r0", "r3"], []]
    assert ranks([(1, "x"), (0, "y"), (1, "x")]).tolist() == [1, 0, 1]


def test_columnar_equals_fast_backend_on_generated_profiles() -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 300, seed=3))
    assert_same_as_per_profile(engine, profiles)
    decided = [d for d in derived(engine, profiles) if d is not None]
    # the shipped rules all compile: most profiles never reach the per-profile engine
    assert engine.columnar.uncompiled == {}
    assert len(decided) > 0.7 * len(profiles)


@pytest.mark.parametrize("seed", range(40))
def test_columnar_equals_python_backend_on_random_rule_sets(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    engine = Engine(random_rules_kb(tmp_path / "kb", rnd), backend="python")
    profiles = [random_profile(rnd, n) for n in range(60)]
    assert_same_as_per_profile(engine, profiles)


def test_random_rule_sets_are_mostly_decided_by_the_columnar_path(tmp_path: Path) -> None:
    """Not everything falls back: the differential test above tests the columnar path."""
    decided = total = 0
    for seed in range(10):
        rnd = random.Random(seed)
        engine = Engine(random_rules_kb(tmp_path / f"kb{seed}", rnd), backend="python")
        answers = derived(engine, [random_profile(rnd, n) for n in range(60)])
        decided += sum(a is not None for a in answers)
        total += len(answers)
    assert decided > 0.5 * total


def test_trace_on_request_equals_the_per_profile_result() -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles = list(synthetic_profiles(engine.kb, 20, seed=5))
    with_trace = engine.diagnose_many(profiles, trace=True)
    for profile, (_prof, result) in zip(profiles, with_trace, strict=True):
        assert result.to_json() == engine.diagnose(profile)[1].to_json()
        assert result.trace
    without = engine.diagnose_many(profiles)
    assert any(not result.trace for _prof, result in without)


FLAG_RULES = """\
  - id: FLAG
    when:
      - person: {role: manager}
    then:
      - fact: {type: flag, active: true, kind_of: boss}
  - id: USE-FLAG
    when:
      - flag: {active: true}
      - result: {score_pct: {lt: 50}}
    then:
      - need: {kind: program, competency: $result.competency}
  - id: LOW
    when:
      - result: {score_pct: {lt: 50}}
    then:
      - deficit: {competency: $result.competency, severity: high}
"""


def test_uncompilable_rule_falls_back_exactly_where_it_could_fire(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text("ruleset: t\nrules:\n" + FLAG_RULES, encoding="utf-8")
    engine = Engine(load_kb(root), backend="python")
    assert list(engine.columnar.uncompiled) == ["USE-FLAG"]
    rnd = random.Random(1)
    profiles = [random_profile(rnd, n) for n in range(80)]
    answers = derived(engine, profiles)
    for profile, answer in zip(profiles, answers, strict=True):
        # USE-FLAG could fire: a manager (the flag) with a result below 50 %
        could = profile["person"]["role"] == "manager" and any(  # type: ignore[index]
            r["score"] < 50
            for r in profile["results"]  # type: ignore[attr-defined]
        )
        assert (answer is None) == could, profile
    assert_same_as_per_profile(engine, profiles)
    issues = [i for i in analyse(engine.kb) if i.code == "columnar-fallback"]
    assert len(issues) == 1 and "USE-FLAG" in issues[0].message and issues[0].line > 0


def test_firing_limit_and_invalid_profiles_as_per_profile(tmp_path: Path) -> None:
    engine = Engine.from_path(None, backend="fast", firing_limit=3)
    profiles: list[Any] = list(synthetic_profiles(engine.kb, 30, seed=2))
    profiles.insert(3, {"id": "broken", "person": {"role": "astronaut"}})
    got = engine.diagnose_many(profiles)
    for profile, (_prof, result) in zip(profiles, got, strict=True):
        assert diagnosis(result) == diagnosis(engine.diagnose_many([profile], trace=True)[0][1])
    assert any("firing limit" in " ".join(r.errors) for _p, r in got)
    assert got[3][0] is None and got[3][1].errors


def test_shipped_kb_has_no_columnar_fallback() -> None:
    engine = Engine.from_path(None, backend="fast")
    assert not [i for i in analyse(engine.kb) if i.code == "columnar-fallback"]


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_columnar_writes_the_same_files(tmp_path: Path, workers: int) -> None:
    engine = Engine.from_path(None, backend="fast")
    profiles: list[Any] = list(synthetic_profiles(engine.kb, 150, seed=7))
    profiles.insert(10, {"id": "broken", "person": {"role": "astronaut"}})
    source = tmp_path / "cohort.jsonl"
    source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in profiles))
    outs = {}
    for columnar in (False, True):
        out = tmp_path / f"out-{columnar}"
        run_batch(engine, source, out, workers=workers, columnar=columnar)
        outs[columnar] = out
    for name in ("results.jsonl", "errors.jsonl", "schools.json"):
        assert (outs[True] / name).read_bytes() == (outs[False] / name).read_bytes(), name
    assert (outs[True] / "results.jsonl").read_text().count("\n") == 150


def test_cli_batch_columnar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = Engine.from_path(None, backend="fast")
    source = tmp_path / "cohort.jsonl"
    profiles = synthetic_profiles(engine.kb, 40, seed=9)
    source.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in profiles))
    assert main(["batch", str(source), "-o", str(tmp_path / "col"), "--columnar"]) == 0
    assert main(["batch", str(source), "-o", str(tmp_path / "ref"), "--workers", "1"]) == 0
    got = (tmp_path / "col" / "results.jsonl").read_bytes()
    assert got == (tmp_path / "ref" / "results.jsonl").read_bytes()
    assert "40 profile(s): 40 evaluated" in capsys.readouterr().out
