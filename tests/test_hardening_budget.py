"""Issue 17: a per-evaluation budget on matching work, on every backend.

A join of three patterns over derived facts that asserts nothing new escapes the
firing limit (it counts only firings that assert); the budget counts partial
matches, activations and facts, and stops such a run with MatchBudgetError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import load_rules
from deficit_engine import Engine, MatchBudgetError
from deficit_engine.analysis import analyse
from deficit_engine.compiler import SubRule, compile_rules
from deficit_engine.inference import (
    BUDGET_PER_FIRING,
    DurableMatcher,
    FastMatcher,
    PythonMatcher,
    durable_available,
    run,
)
from deficit_engine.loader import load_kb
from deficit_engine.rules import Rule

Fact = dict[str, Any]
Matcher = PythonMatcher | FastMatcher | DurableMatcher
MakeMatcher = Callable[[Sequence[Sequence[SubRule]], Sequence[Rule]], Matcher]

needs_durable = pytest.mark.skipif(not durable_available(), reason="durable_rules not importable")

MATCHERS = [
    pytest.param(lambda strata, rules: PythonMatcher(strata), id="python"),
    pytest.param(lambda strata, rules: FastMatcher(strata), id="fast"),
    pytest.param(
        lambda strata, rules: DurableMatcher(strata, rules),
        id="durable",
        marks=pytest.mark.skipif(not durable_available(), reason="durable_rules not importable"),
    ),
]

# FLAG derives one fact per result; JOIN joins three of them and asserts one fact,
# the same every time: after its first firing it asserts nothing new, so the firing
# limit never sees the n^3 activations it makes.
JOIN = """\
  - id: FLAG
    title: one derived fact per result
    when: {result: {}}
    then: {fact: {type: flag, c: $result.competency}}
  - id: JOIN
    title: a three-way join over the derived facts that asserts nothing new
    when:
      - {as: a, flag: {}}
      - {as: b, flag: {}}
      - {as: c, flag: {}}
    then: {fact: {type: seen, x: 1}}
"""


def results(count: int) -> list[Fact]:
    return [
        {"type": "result", "competency": f"digital.c{i}", "group": "digital", "level": "low"}
        for i in range(count)
    ]


@pytest.mark.parametrize("make", MATCHERS)
def test_a_join_that_asserts_nothing_new_stops_at_the_budget(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(tmp_path, JOIN)
    strata = compile_rules(rules)
    matcher = make(strata, rules)
    # 30 flags: 30*29*28 = 24 360 activations of JOIN, each firing asserts nothing new
    with pytest.raises(MatchBudgetError) as err:
        run(strata, results(30), matcher, dict, limit=10_000, budget=5_000)
    assert err.value.budget == 5_000 and err.value.rule == "JOIN"
    assert "match budget of 5000 exceeded" in str(err.value) and "JOIN" in str(err.value)
    # the matcher is left ready: the same one runs a small evaluation to its end
    store, trace = run(strata, results(4), matcher, dict, limit=10_000, budget=5_000)
    assert {f["type"] for f in store.facts} == {"result", "flag", "seen"}
    assert sum(t.rule == "JOIN" for t in trace) == 4 * 3 * 2


@pytest.mark.parametrize("make", MATCHERS)
def test_within_the_budget_every_backend_gives_the_same_facts(
    tmp_path: Path, make: MakeMatcher
) -> None:
    rules = load_rules(tmp_path, JOIN)
    strata = compile_rules(rules)
    store, _trace = run(strata, results(6), make(strata, rules), dict, budget=5_000)
    assert len(store.facts) == 6 + 6 + 1


def test_facts_are_counted_too(tmp_path: Path) -> None:
    rules = load_rules(tmp_path, JOIN.split("  - id: JOIN")[0])  # FLAG alone: no join at all
    strata = compile_rules(rules)
    run(strata, results(10), PythonMatcher(strata), dict, budget=20)  # 10 matches, 10 facts
    with pytest.raises(MatchBudgetError) as err:
        run(strata, results(10), PythonMatcher(strata), dict, budget=19)
    assert err.value.rule == "FLAG"


def test_the_default_budget_follows_the_firing_limit(tmp_path: Path) -> None:
    rules = load_rules(tmp_path, JOIN)
    strata = compile_rules(rules)
    # 16*15*14 = 3 360 activations: within 1 000 firings' budget, past 100 firings'
    assert 100 * BUDGET_PER_FIRING < 16 * 15 * 14 < 1_000 * BUDGET_PER_FIRING
    run(strata, results(16), FastMatcher(strata), dict, limit=1_000)
    with pytest.raises(MatchBudgetError):
        run(strata, results(16), FastMatcher(strata), dict, limit=100)


def test_the_shipped_kb_stays_far_below_the_default_budget(repo_root: Path) -> None:
    """The largest shipped profile (every competency critical) spends about 1 300 units
    on the python backend, the most counting one: under 1 % of the default. Here it
    runs within 8 000 (its ~320 firings are within the limit of 400)."""
    engine = Engine.from_path(repo_root, backend="python", firing_limit=400)
    profile = yaml.safe_load((repo_root / "examples" / "methodist.yaml").read_text("utf-8"))
    ids = list(engine.kb.ontology.competencies)
    profile["results"] = [{"competency": c, "score": 1, "max": 25} for c in ids]
    _profile, diagnosis = engine.diagnose(profile)
    assert len(diagnosis.deficits) == len(ids)


@pytest.mark.parametrize("backend", ["python", "fast"])
def test_a_batch_sets_aside_the_row_that_passes_the_budget(
    shipped_copy: Path, repo_root: Path, backend: str
) -> None:
    body = JOIN.replace("result: {}", "result: {level: low}")
    (shipped_copy / "rules" / "99_join.yaml").write_text(
        "ruleset: join\nrules:\n" + body.replace("title:", "source: a test\n    title:"),
        encoding="utf-8",
    )
    engine = Engine(load_kb(shipped_copy), backend=backend, firing_limit=200)  # budget 4 000
    comps = list(engine.kb.ontology.competencies)
    base = yaml.safe_load((repo_root / "examples" / "methodist.yaml").read_text("utf-8"))

    def profile(pid: str, low: int) -> dict[str, Any]:
        marks = [
            {"competency": c, "score": 9 if i < low else 20, "max": 20} for i, c in enumerate(comps)
        ]
        return {**base, "id": pid, "results": marks}

    got = list(engine.evaluate_many([profile("A", 3), profile("B", 30), profile("C", 4)], 1))
    assert [r.ok for r in got] == [True, False, True]
    assert "match budget of 4000 exceeded" in got[1].errors[0] and "JOIN" in got[1].errors[0]


# --- check: joins past the budget; durable's size limit ---------------------------------


def test_check_warns_of_a_join_past_the_budget(shipped_copy: Path) -> None:
    (shipped_copy / "rules" / "99_join.yaml").write_text(
        "ruleset: join\nrules:\n"
        + JOIN.replace("title:", "source: a test\n    title:").replace("flag: {}", "deficit: {}"),
        encoding="utf-8",
    )
    found = [i for i in analyse(load_kb(shipped_copy)) if i.code == "budget-join"]
    assert [(Path(i.file).name, i.message.split(" joins")[0]) for i in found] == [
        ("99_join.yaml", "rule 'JOIN'")
    ]
    assert "past the match budget of 200,000" in found[0].message


def test_the_shipped_kb_has_no_join_past_the_budget(repo_root: Path) -> None:
    codes = {i.code for i in analyse(load_kb(repo_root))}
    assert not codes & {"budget-join", "backend-limit"}


def _refuse_to_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """durable_rules refusing the rule set, as it does past about 6 000 rules."""
    import durable_rules_engine

    def refuse(self: object, definitions: object) -> None:
        raise durable_rules_engine.error("Could not create ruleset, error code: 106")

    monkeypatch.setattr(DurableMatcher, "_register", _wrap(refuse))


def _wrap(refuse: Callable[[object, object], None]) -> Callable[[DurableMatcher, Any], None]:
    real = DurableMatcher._register

    def register(self: DurableMatcher, definitions: Any) -> None:
        self.host.register_rulesets = lambda defs: refuse(self, defs)
        real(self, definitions)

    return register


@needs_durable
def test_durables_size_limit_is_a_check_finding(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_to_build(monkeypatch)
    (issue,) = [i for i in analyse(load_kb(repo_root)) if i.code == "backend-limit"]
    assert issue.severity == "warning" and issue.line > 0
    assert "error code: 106" in issue.message and "fast backend" in issue.message


@needs_durable
def test_the_engine_falls_back_to_fast_when_durable_cannot_build(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_to_build(monkeypatch)
    kb = load_kb(repo_root)
    with pytest.warns(RuntimeWarning, match="error code: 106.*using the fast backend"):
        engine = Engine(kb, backend="durable")
    assert engine.backend == "fast"
    profile = yaml.safe_load((repo_root / "examples" / "methodist.yaml").read_text("utf-8"))
    assert (
        engine.evaluate(profile).to_dict() == Engine(kb, backend="fast").evaluate(profile).to_dict()
    )
