"""The fast backend's generated loops (inference.generated) against its generic path.

The fast matcher runs each stratum in a loop generated for the rule set, with every
sub-rule's firing written in: an ordered loop (place by place, no agenda) where the
stratum's rules allow it, else the agenda's loop (also what a matcher with
``in_order`` false runs); ``FastMatcher(..., generate=False)`` keeps the driver's
generic loop. All must give the same facts, in the same order and keyed alike, the
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
from deficit_engine.engine import _ENRICHED, _completion, base_facts
from deficit_engine.errors import FiringLimitError, MatchBudgetError, UsageError
from deficit_engine.inference import Completion, FactStore, FastMatcher, PythonMatcher
from deficit_engine.inference.compiled import PatternPlan, _compile_cond, conditions_source
from deficit_engine.inference.generated import _admitted, _passed, closed
from deficit_engine.profile import normalise
from deficit_engine.rules import Cond, Ref
from test_differential_random import random_profile, random_rules_kb


def _runs(engine: Engine, profile: Any, **limits: Any) -> list[Any]:
    """One profile's inference by the generated paths (the ordered loops where the
    strata allow them, with the deficits completed inline as the engine does and
    without; the agenda's generated loops only) and the generic path: per path, the
    store's facts, keys and types and the trace, or the error raised."""
    norm = normalise(engine.parse(profile), engine.kb)
    facts = base_facts(norm, engine.kb)
    out = []
    completion = _completion(engine.kb)
    for generate, in_order, completed in (
        (True, True, True),
        (True, True, False),
        (True, False, False),
        (False, True, False),
    ):
        matcher = FastMatcher(
            engine.strata,
            enriched=_ENRICHED,
            generate=generate,
            completion=completion if completed else None,
        ).fresh(norm.competency_pct if completed else None)
        matcher.in_order = in_order
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


def _same(runs: list[Any]) -> bool:
    return all(run == runs[-1] for run in runs)


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.from_path(backend="fast")


def test_shipped_rules_use_the_generated_loops(shipped: Engine) -> None:
    """Every stratum of the shipped rules has a generated loop, and the engine's fast
    matcher runs them (else the tests below would compare the generic path to itself)."""
    assert shipped._fast is not None and shipped._fast.generated is not None
    assert all(loop is not None for loop in shipped._fast.generated.loops)
    assert all(shipped._fast.ordered(k) for k in range(len(shipped.strata)))


def test_generated_loops_equal_the_generic_path_on_the_shipped_rules(shipped: Engine) -> None:
    for profile in synthetic_profiles(shipped.kb, 150, 28):
        assert _same(_runs(shipped, profile))


@pytest.mark.parametrize("limit", [1, 3, 10, 25])
def test_the_firing_limit_is_passed_at_the_same_firing(shipped: Engine, limit: int) -> None:
    for profile in synthetic_profiles(shipped.kb, 20, 5):
        assert _same(_runs(shipped, profile, limit=limit))


@pytest.mark.parametrize("budget", [5, 20, 40, 80])
def test_the_budget_runs_out_at_the_same_work(shipped: Engine, budget: int) -> None:
    for profile in synthetic_profiles(shipped.kb, 20, 6):
        assert _same(_runs(shipped, profile, budget=budget))


def test_some_runs_pass_the_limits(shipped: Engine) -> None:
    """The two tests above do reach the errors (they would pass vacuously otherwise)."""
    profile = next(iter(synthetic_profiles(shipped.kb, 1, 5)))
    assert all(run[0] is FiringLimitError for run in _runs(shipped, profile, limit=1))
    assert all(run[0] is MatchBudgetError for run in _runs(shipped, profile, budget=5))


@pytest.mark.parametrize("seed", range(15))
def test_generated_loops_equal_the_generic_path_on_random_rules(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(1000 + seed)
    engine = Engine(random_rules_kb(tmp_path / "kb", rnd), backend="fast")
    for n in range(20):
        profile = random_profile(rnd, n)
        assert _same(_runs(engine, profile)), (seed, profile)
        assert _same(_runs(engine, profile, budget=30)), (seed, profile)


def test_every_type_enriched_gives_the_same_run(shipped: Engine) -> None:
    """``enriched`` None (the default: the enricher may change any fact) takes the
    looked-up path for every fact; it gives what the generic path gives too."""
    for profile in synthetic_profiles(shipped.kb, 40, 7):
        norm = normalise(shipped.parse(profile), shipped.kb)
        facts = base_facts(norm, shipped.kb)
        runs = []
        for generate, in_order in ((True, True), (True, False), (False, True)):
            matcher = FastMatcher(shipped.strata, generate=generate)
            matcher.in_order = in_order
            store, trace = inference.run(
                shipped.strata, facts, matcher, shipped._enricher(norm), distinct=True
            )
            runs.append((store.facts, store.keys, [(e.rule, e.matched, e.asserted) for e in trace]))
        assert _same(runs)


def test_random_rules_take_both_generated_loops(tmp_path: Path) -> None:
    """The random rule sets above have ordered strata and strata the agenda's loop
    fires (both paths are compared, not one of them twice)."""
    seen = set()
    for seed in range(15):
        engine = Engine(
            random_rules_kb(tmp_path / f"kb{seed}", random.Random(1000 + seed)), backend="fast"
        )
        assert engine._fast is not None
        seen.update(engine._fast.ordered(k) for k in range(len(engine.strata)))
    assert seen == {True, False}


def test_an_enricher_that_changes_a_type_makes_the_run_again(shipped: Engine) -> None:
    """An ordered loop assumes the enricher keeps a fact's type; one that does not
    (here a deficit made a ``flagged`` fact, which no rule reads, and a need made a
    deficit, which rules of earlier places read) stops it, and the run is made again
    by the agenda: the same run as the generic path's, and the ordered loops used
    again afterwards."""
    changed = 0

    def enrich(fact: dict[str, Any]) -> dict[str, Any]:
        nonlocal changed
        if fact["type"] == "need" and fact.get("kind") == "program":
            changed += 1
            return {**fact, "type": "deficit", "severity": "critical"}
        if fact["type"] == "deficit" and fact.get("severity") == "low":
            changed += 1
            return {**fact, "type": "flagged"}
        return fact

    enriched = frozenset(("deficit", "need"))
    for profile in synthetic_profiles(shipped.kb, 30, 9):
        norm = normalise(shipped.parse(profile), shipped.kb)
        facts = base_facts(norm, shipped.kb)
        runs = []
        for generate in (True, False):
            matcher = FastMatcher(shipped.strata, enriched=enriched, generate=generate)
            store, trace = inference.run(shipped.strata, iter(facts), matcher, enrich)
            runs.append((store.facts, store.keys, [(e.rule, e.matched, e.asserted) for e in trace]))
            assert matcher.in_order
        assert runs[0] == runs[1]
    assert changed  # the enricher did change types


def test_later_strata_take_the_facts_their_actions_decide(shipped: Engine) -> None:
    """With every stratum in order, an earlier stratum's loop gives a later stratum's
    one-pattern lists a new fact whose admission its action's constants decide
    (``generated._admitted``), and the later seed skips it; a fact a value read from
    a bound fact could send elsewhere, or one a pattern of several would take, is
    left to the seed (None)."""
    fast = shipped._fast
    assert fast is not None and fast.generated is not None and fast.generated.forward
    subs = shipped.strata[1]
    index = fast.compiled.index[1]
    program = [i for i, sub in enumerate(subs) if sub.rule.id == "FU-REDIAGNOSIS-PROGRAM"]
    env = {"c1": "need", "c2": "program", "c3": "formal", "c4": "format", "c5": "result"}
    need = ("type", "kind", "competency", "education")

    def known(kind: str) -> dict[str, str]:
        return {"type": "c1", "kind": kind, "competency": "x0", "education": "c3"}

    assert _admitted("need", need, known("c2"), env, index, subs) == program
    assert _admitted("need", need, known("c4"), env, index, subs) == []
    assert _admitted("need", need, known("x1"), env, index, subs) is None  # kind read
    assert _admitted("unused", ("type",), {"type": "c1"}, env, index, subs) == []
    # a proficient result is taken by patterns of two (ROLE-METHODIST-COMMUNITY, ...)
    result = ("type", "level", "competency")
    levels = {"type": "c5", "level": "c6", "competency": "x0"}
    assert _admitted("result", result, levels, {**env, "c6": "proficient"}, index, subs) is None
    assert _admitted("result", result, levels, {**env, "c6": "low"}, index, subs) == []


# a rule both rule sets below hold: a deficit per low result
LOW = """\
  - id: LOW
    title: a low result
    when:
      - result: {score_pct: {lt: 75}}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
"""

LISTED = """\
  - id: LISTED
    title: a low result and a request for it, with a list-valued action
    when:
      - result: {level: {in: [critical, low]}, score_pct: {lt: 50}}
      - request: {competency: $result.competency}
    then:
      - deficit: {competency: $result.competency, severity: high}
      - fact: {type: asked, c: $request.competency, tags: [x, $result.group], n: 2}
"""
LISTED += LOW
LISTED += """\
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
        runs = _runs(engine, profile)
        assert _same(runs), profile
        fired.update(rule for rule, _matched, _asserted in runs[0][-1])
    assert fired == {"LISTED", "LOW", "UNASKED"}  # every rule fired on some profile


TWO_FIELDS = LOW
TWO_FIELDS += """\
  - id: BYCOMP
    title: a result with no deficit of its competency
    when:
      - result: {}
      - not: {deficit: {competency: $result.competency}}
    then:
      - need: {kind: program, competency: $result.competency, education: formal}
  - id: BYGROUP
    title: a result with no deficit in its group
    when:
      - result: {}
      - not: {deficit: {group: $result.group}}
    then:
      - fact: {type: nogroup, c: $result.competency}
"""


def test_two_not_patterns_of_one_type_on_different_fields(tmp_path: Path) -> None:
    """The fast matcher's index of a type's facts for a `not:` pattern's equality is
    one per type and field: two `not:` patterns on deficits, one by competency and
    one by group, each block as the reference (python) backend says. (One index per
    type alone, built by the first field's values, answered the second wrongly.)"""
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text("ruleset: t\nrules:\n" + TWO_FIELDS, encoding="utf-8")
    engine = Engine(load_kb(root), backend="fast")
    rnd = random.Random(3)
    fired: set[str] = set()
    for n in range(40):
        norm = normalise(engine.parse(random_profile(rnd, n)), engine.kb)
        facts = base_facts(norm, engine.kb)
        runs = []
        for matcher in (
            FastMatcher(engine.strata),
            FastMatcher(engine.strata, generate=False),
            PythonMatcher(engine.strata),
        ):
            _store, trace = inference.run(engine.strata, facts, matcher, engine._enricher(norm))
            runs.append([(e.rule, e.matched, e.asserted) for e in trace])
        assert _same(runs), n
        fired.update(rule for rule, _matched, _asserted in runs[0])
    assert fired == {"LOW", "BYCOMP", "BYGROUP"}


# --- the conditions, joins and memories written into the generated code ----------------

_VALUES = [1, 1.0, True, False, 0, "a", "b", None, [1], ["a"], float("nan"), 2.5, "ab"]


def _random_cond(rnd: random.Random) -> Cond:
    """A condition of one of the shapes `conditions_source` writes out, or another."""
    field = rnd.choice("xyz")
    op = rnd.choice(
        ["eq", "ne", "in", "not_in", "eq_ref", "ne_ref", "lt", "gt", "exists", "order_ref"]
    )
    if op in ("eq_ref", "ne_ref"):
        return Cond(field, op[:2], Ref(rnd.choice(["a", "b", "c"]), rnd.choice("xyz")))
    if op == "order_ref":
        ref = Ref(rnd.choice(["a", "b", "c"]), rnd.choice("xyz"))
        return Cond(field, rnd.choice(["lt", "le", "gt", "ge"]), ref)
    if op in ("in", "not_in"):
        return Cond(field, op, rnd.sample([v for v in _VALUES if v == v], rnd.randint(0, 3)))
    if op in ("lt", "gt"):
        return Cond(field, op, rnd.choice([0.5, 1.0, 2.0]))
    if op == "exists":
        return Cond(field, op, rnd.choice([True, False]))
    return Cond(field, op, rnd.choice(_VALUES))


def _random_fact(rnd: random.Random) -> dict[str, Any]:
    return {name: rnd.choice(_VALUES) for name in rnd.sample("xyz", rnd.randint(0, 3))}


def test_conditions_written_out_answer_as_the_compiled_closures() -> None:
    """`compiled.conditions_source` (the joins' and `not:` tests in the generated code)
    answers what the conjunction of `_compile_cond`'s closures answers, on random
    conditions (literals, lists, references to bound facts, shapes it leaves to the
    closures) and random facts with values `==` confuses (1, 1.0, True; NaN; lists)."""
    rnd = random.Random(3116)
    aliases = {"a": 0, "b": 1, "c": 2}
    for _ in range(400):
        conds = [_random_cond(rnd) for _ in range(rnd.randint(0, 3))]
        bound = rnd.randint(0, 3)
        env: dict[str, Any] = {"M": object()}
        const = _binder(env)
        source = conditions_source(conds, "g", [f"b[{i}]" for i in range(bound)], aliases, const)
        test = eval(compile(f"lambda g, b: bool({source})", "<test>", "eval"), env)
        closures = tuple(_compile_cond(c, aliases) for c in conds)
        for _ in range(10):
            fact = _random_fact(rnd)
            binding = tuple(_random_fact(rnd) for _ in range(bound))
            # a reference to a fact not bound fails alike (IndexError), where it is read
            assert _outcome(test, fact, binding) == _outcome(_every(closures), fact, binding), (
                conds,
                fact,
                binding,
            )


def _binder(env: dict[str, Any]) -> Any:
    def const(value: Any) -> str:
        name = f"c{len(env)}"
        env[name] = value
        return name

    return const


def _every(closures: tuple[Any, ...]) -> Any:
    return lambda f, b: all(p(f, b) for p in closures)


def _outcome(test: Any, fact: Any, binding: Any) -> Any:
    try:
        return test(fact, binding)
    except IndexError:
        return IndexError


def test_closed_patterns_on_the_shipped_rules(shipped: Engine) -> None:
    """`generated.closed`: a deficit's patterns joined with the profile's person are not
    remembered by the ordered loops (no rule asserts a person); a join of two deficits,
    or of a deficit and a result in the stratum that makes deficits, is."""
    first = shipped.strata[0]
    shut = closed(first)
    by_rule = {sub.rule.id: i for i, sub in enumerate(first)}
    young = by_rule["ROLE-YOUNG-MENTOR"]  # person, then deficit
    assert (young, 1) in shut and (young, 0) not in shut
    conflict = by_rule["WB-CLIMATE-CONFLICT"]  # deficit, then deficit
    assert (conflict, 0) not in shut and (conflict, 1) not in shut
    assert all(len(first[i].positives) == 2 for i, _pos in shut)


def test_add_distinct_all_is_add_distinct_in_turn() -> None:
    """`FactStore.add_distinct_all` (one look-up per run of one type) leaves the store as
    `add_distinct` fact by fact does, and stops at the same fact with the same error
    when a type is keyed already."""
    rnd = random.Random(1631)
    for _ in range(300):
        facts = [
            {"type": rnd.choice("abc"), "n": n} for n in range(rnd.randint(0, 12))
        ]  # runs of a type, and types that come back after others
        keyed = rnd.choice([None, "a", "b"])
        stores = []
        for all_at_once in (False, True):
            store = FactStore()
            if keyed is not None:
                store.add({"type": keyed, "n": -1})
            try:
                if all_at_once:
                    store.add_distinct_all(iter(facts))
                else:
                    for fact in facts:
                        store.add_distinct(fact)
            except UsageError as exc:
                stores.append(str(exc))
            stores.append((store.facts, store.by_type, store.unkeyed, store.keys))
        assert stores[: len(stores) // 2] == stores[len(stores) // 2 :]


def _deficits(rnd: random.Random, comps: list[Any]) -> list[dict[str, Any]]:
    """Deficit facts as rules may make them: a known or unknown competency (or not a
    str), with or without a severity, with fields the enricher drops."""
    out = []
    for _ in range(400):
        fact: dict[str, Any] = {"type": "deficit", "competency": rnd.choice(comps)}
        if rnd.random() < 0.8:
            fact["severity"] = rnd.choice(["critical", "high", "low", 1, True, None, [1]])
        if rnd.random() < 0.3:
            fact["note"] = rnd.choice(["x", 2.5])
        if rnd.random() < 0.3:
            fact = {k: fact[k] for k in reversed(list(fact))}  # another field order
        out.append(fact)
    return out


def test_the_deficits_completion_is_what_the_enricher_does(shipped: Engine) -> None:
    """``engine._completion`` declares what ``Engine._enricher`` does to a deficit of a
    known competency with a score: wherever it promises a fact (``Completion.complete``),
    the enricher gives that fact, with its fields in the same order; and the shipped
    cohort takes the promise for most deficits (else the fast path would be untested)."""
    completion = _completion(shipped.kb)
    rnd = random.Random(41)
    comps: list[Any] = [*shipped.kb.ontology.competencies, "no.such", 3, None, ["x"]]
    promised = 0
    for profile in synthetic_profiles(shipped.kb, 30, 12):
        norm = normalise(shipped.parse(profile), shipped.kb)
        enrich = shipped._enricher(norm)
        for fact in _deficits(rnd, comps):
            made = completion.complete(fact, norm.competency_pct)
            if made is None:
                continue
            promised += 1
            out = enrich(dict(fact))
            assert out == made and list(out) == list(made), fact
    assert promised > 1000


def test_a_completion_is_declared_whole() -> None:
    """A completion must name each field once and give every known field per value."""
    fields = ("type", "competency", "group", "severity", "score_pct")
    ok = Completion(
        "deficit", "competency", fields, ("severity",), "score_pct", {"a": {"group": "g"}}
    )
    assert ok.templates() == {
        "a": ({"type": "deficit", "competency": None, "group": "g", "severity": None,
               "score_pct": None}, ("g",))
    }  # fmt: skip
    with pytest.raises(UsageError):
        Completion("deficit", "competency", fields, ("severity",), "score_pct", {"a": {}})
    with pytest.raises(UsageError):
        Completion("deficit", "competency", fields, ("competency",), "score_pct", {})
    with pytest.raises(UsageError):
        Completion("deficit", "competency", fields[:-1], ("severity",), "score_pct", {})


def test_completed_deficits_with_other_tables_give_the_enrichers_run(shipped: Engine) -> None:
    """The ordered loops complete a deficit inline only when the run's table has its
    score; a table with fewer (some competencies without a score, so the enricher
    leaves ``score_pct`` out) takes the enricher's path for the rest: the same run as
    the generic path's, with an enricher that reads the same table."""
    rnd = random.Random(8)
    completion = _completion(shipped.kb)
    for profile in synthetic_profiles(shipped.kb, 40, 9):
        norm = normalise(shipped.parse(profile), shipped.kb)
        scores = {c: v for c, v in norm.competency_pct.items() if rnd.random() < 0.6}
        norm.competency_pct.clear()
        norm.competency_pct.update(scores)
        facts = base_facts(norm, shipped.kb)
        runs = []
        for generate, completed in ((True, True), (False, False)):
            matcher = FastMatcher(
                shipped.strata,
                enriched=_ENRICHED,
                generate=generate,
                completion=completion if completed else None,
            ).fresh(scores if completed else None)
            store, trace = inference.run(
                shipped.strata, facts, matcher, shipped._enricher(norm), distinct=True
            )
            runs.append(
                (
                    store.facts,
                    store.keys,
                    store.by_type,
                    [(e.rule, e.matched, e.asserted) for e in trace],
                )
            )
        assert _same(runs)


def test_the_patterns_a_completed_deficit_passes(shipped: Engine) -> None:
    """`generated._passed` (the patterns an ordered loop's completed deficit is given
    to, decided when the loop is made) lists, in order, the plans the type's alpha
    function passes the completed fact on, whatever its score; and leaves it undecided
    (None) when a condition reads the score, known only as the loop runs."""
    compiled = shipped._fast.compiled if shipped._fast is not None else None
    assert compiled is not None
    completion = _completion(shipped.kb)
    for k, index in enumerate(compiled.index):
        if "deficit" not in index:
            continue
        hits = compiled.hitters[k]["deficit"]
        for comp, (template, _given) in completion.templates().items():
            for severity in ("critical", "high", "moderate", "low", None):
                fact = {**template, "competency": comp, "severity": severity}
                passed = _passed(index["deficit"], (fact, {"score_pct"}))
                assert passed is not None
                for score in (0.0, 42.5, 100.0):
                    assert hits({**fact, "score_pct": score}) == passed
    reads = Cond("score_pct", "lt", 50.0)
    plan = PatternPlan(0, 0, None, None, (reads,))
    assert _passed((None, {}, (plan,)), ({"score_pct": None}, {"score_pct"})) is None
    assert _passed((None, {}, (plan,)), ({"score_pct": 10.0}, set())) == [plan]
