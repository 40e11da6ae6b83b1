"""The columnar cohort path: the same deficits, needs and custom facts as the per-profile
backends, on generated cohorts and on random rule sets; fallbacks exactly where stated."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from conftest import write_kb
from deficit_engine import Engine, load_kb
from deficit_engine.analysis import analyse
from deficit_engine.cli import main
from deficit_engine.cohort import run_batch
from deficit_engine.engine import base_facts
from deficit_engine.models import Result
from deficit_engine.profile import normalise
from deficit_engine.synthetic import synthetic_profiles
from test_differential_random import random_profile, random_rules_kb


def diagnosis(result: Result) -> tuple[Any, ...]:
    """What the columnar path promises to equal: everything a diagnosis says but the trace."""
    return (result.profile, result.deficits, result.needs, result.facts, result.errors)


def assert_same_as_per_profile(engine: Engine, profiles: list[Any]) -> None:
    got = engine.diagnose_many(profiles)
    assert len(got) == len(profiles)
    for profile, (prof, result) in zip(profiles, got, strict=True):
        ref_prof, ref = engine.diagnose(profile)
        assert diagnosis(result) == diagnosis(ref), profile
        assert result.to_dict()["deficits"] == ref.to_dict()["deficits"]
        assert result.to_dict()["needs"] == ref.to_dict()["needs"]
        assert result.to_dict()["facts"] == ref.to_dict()["facts"]
        assert prof == ref_prof


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
