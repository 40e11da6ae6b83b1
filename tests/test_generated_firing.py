"""The fast backend's generated loops (inference.generated) against its generic path.

The fast matcher runs each stratum in a loop generated for the rule set, with every
sub-rule's firing written in; ``FastMatcher(..., generate=False)`` keeps the driver's
generic loop. Both must give the same facts, in the same order and keyed alike, the
same trace, and the same errors at the same point, on the shipped rules and on
seeded random rule sets (the shapes the shipped rules do not use).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from conftest import write_kb
from deficit_engine import Engine, inference, load_kb, synthetic_profiles
from deficit_engine.engine import _ENRICHED, base_facts
from deficit_engine.errors import FiringLimitError, MatchBudgetError
from deficit_engine.inference import FastMatcher
from deficit_engine.profile import normalise
from test_differential_random import random_profile, random_rules_kb


def _runs(engine: Engine, profile: Any, **limits: Any) -> list[Any]:
    """One profile's inference by the generated and the generic path: per path, the
    store's facts, keys and types and the trace, or the error raised."""
    norm = normalise(engine.parse(profile), engine.kb)
    facts = base_facts(norm, engine.kb)
    out = []
    for generate in (True, False):
        matcher = FastMatcher(engine.strata, enriched=_ENRICHED, generate=generate)
        try:
            store, trace = inference.run(
                engine.strata, facts, matcher, engine._enricher(norm), distinct=True, **limits
            )
        except (FiringLimitError, MatchBudgetError) as exc:
            out.append((type(exc), str(exc), exc.__dict__))
            continue
        out.append(
            (
                store.facts,
                store.keys,
                store.exact,
                store.by_type,
                [(e.rule, e.matched, e.asserted) for e in trace],
            )
        )
    return out


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.from_path(backend="fast")


def test_shipped_rules_use_the_generated_loops(shipped: Engine) -> None:
    """Every stratum of the shipped rules has a generated loop, and the engine's fast
    matcher runs them (else the tests below would compare the generic path to itself)."""
    assert shipped._fast is not None and shipped._fast.generated is not None
    assert all(loop is not None for loop in shipped._fast.generated.loops)


def test_generated_loops_equal_the_generic_path_on_the_shipped_rules(shipped: Engine) -> None:
    for profile in synthetic_profiles(shipped.kb, 150, 28):
        generated, generic = _runs(shipped, profile)
        assert generated == generic


@pytest.mark.parametrize("limit", [1, 3, 10, 25])
def test_the_firing_limit_is_passed_at_the_same_firing(shipped: Engine, limit: int) -> None:
    for profile in synthetic_profiles(shipped.kb, 20, 5):
        generated, generic = _runs(shipped, profile, limit=limit)
        assert generated == generic


@pytest.mark.parametrize("budget", [5, 20, 40, 80])
def test_the_budget_runs_out_at_the_same_work(shipped: Engine, budget: int) -> None:
    for profile in synthetic_profiles(shipped.kb, 20, 6):
        generated, generic = _runs(shipped, profile, budget=budget)
        assert generated == generic


def test_some_runs_pass_the_limits(shipped: Engine) -> None:
    """The two tests above do reach the errors (they would pass vacuously otherwise)."""
    profile = next(iter(synthetic_profiles(shipped.kb, 1, 5)))
    assert _runs(shipped, profile, limit=1)[0][0] is FiringLimitError
    assert _runs(shipped, profile, budget=5)[0][0] is MatchBudgetError


@pytest.mark.parametrize("seed", range(15))
def test_generated_loops_equal_the_generic_path_on_random_rules(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(1000 + seed)
    engine = Engine(random_rules_kb(tmp_path / "kb", rnd), backend="fast")
    for n in range(20):
        profile = random_profile(rnd, n)
        generated, generic = _runs(engine, profile)
        assert generated == generic, (seed, profile)
        generated, generic = _runs(engine, profile, budget=30)
        assert generated == generic, (seed, profile)


def test_every_type_enriched_gives_the_same_run(shipped: Engine) -> None:
    """``enriched`` None (the default: the enricher may change any fact) takes the
    looked-up path for every fact; it gives what the generic path gives too."""
    for profile in synthetic_profiles(shipped.kb, 40, 7):
        norm = normalise(shipped.parse(profile), shipped.kb)
        facts = base_facts(norm, shipped.kb)
        runs = []
        for generate in (True, False):
            matcher = FastMatcher(shipped.strata, generate=generate)
            store, trace = inference.run(
                shipped.strata, facts, matcher, shipped._enricher(norm), distinct=True
            )
            runs.append((store.facts, store.keys, [(e.rule, e.matched, e.asserted) for e in trace]))
        assert runs[0] == runs[1]


LISTED = """\
  - id: LISTED
    title: a low result and a request for it, with a list-valued action
    when:
      - result: {level: {in: [critical, low]}, score_pct: {lt: 50}}
      - request: {competency: $result.competency}
    then:
      - deficit: {competency: $result.competency, severity: high}
      - fact: {type: asked, c: $request.competency, tags: [x, $result.group], n: 2}
  - id: LOW
    title: a low result
    when:
      - result: {score_pct: {lt: 75}}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
  - id: UNASKED
    title: a deficit nobody asked about
    when:
      - deficit: {}
      - not: {asked: {c: $deficit.competency}}
    then:
      - need: {kind: program, competency: $deficit.competency, education: formal}
"""


def test_a_stratum_with_a_list_valued_action_keeps_the_generic_loop(tmp_path: Path) -> None:
    """The generated loop is made only for the strata whose actions it can write; the
    others run the driver's generic loop, and a run mixing both gives what the
    generic path gives throughout."""
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text("ruleset: t\nrules:\n" + LISTED, encoding="utf-8")
    engine = Engine(load_kb(root), backend="fast")
    assert engine._fast is not None and engine._fast.generated is not None
    loops = engine._fast.generated.loops
    assert len(loops) == 2 and loops[0] is None and loops[1] is not None
    rnd = random.Random(16)
    fired = set()
    for n in range(40):
        profile = random_profile(rnd, n)
        generated, generic = _runs(engine, profile)
        assert generated == generic, profile
        fired.update(rule for rule, _matched, _asserted in generated[-1])
    assert fired == {"LISTED", "LOW", "UNASKED"}  # every rule fired on some profile
