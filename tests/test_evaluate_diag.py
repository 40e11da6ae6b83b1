"""The twelfth round's shortcuts in normalising and building the Result, each held to
the plain computation it replaces (docs/performance.md, "evaldiag"): rounding by
arithmetic, the plain Provenances, the deficits sorted by one int, and the kept needs
by their rule and values where the rule's actions fix the field names."""

from __future__ import annotations

import json
import math
import pickle
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_kb
from deficit_engine import Engine, inference
from deficit_engine import engine as engine_module
from deficit_engine import profile as profile_module
from deficit_engine import rollups as rollups_module
from deficit_engine.compiler import FIELD, LITERAL
from deficit_engine.engine import _need_names, base_facts
from deficit_engine.models import Deficit, Provenance
from deficit_engine.models import provenance as provenance_module
from deficit_engine.models.diagnosis import TraceRows
from deficit_engine.models.provenance import plain_provenance
from deficit_engine.profile import normalise, parse_profile
from deficit_engine.rollups import round_fast
from deficit_engine.synthetic import synthetic_profiles


def _same(a: Any, b: Any) -> bool:
    """Equal value for value, type for type and sign for sign."""
    return pickle.dumps(a) == pickle.dumps(b)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


# --- rounding by arithmetic --------------------------------------------------------

_EDGES = [0.0, -0.0, 0.005, 0.015, 0.125, 1.005, 2.675, 5e-324, 1e-300, 33.335, 99.995]
_EDGES += [2.0**40 / 100, 2.0**40 / 100 + 0.5, 1e12, 1e308, math.inf, -math.inf, -1.5, -0.004]


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False),
        st.floats(min_value=0, max_value=1000),
        st.integers(min_value=0, max_value=10**6).map(lambda n: n / 1000),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.sampled_from(_EDGES),
    ),
    st.integers(min_value=0, max_value=15),
)
def test_round_fast_is_round(value: float, places: int) -> None:
    """float(round(value, places)), value, type and sign of zero alike."""
    assert _same(round_fast(value, places), float(round(value, places)))


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False),
        st.integers(min_value=0, max_value=10**7).map(lambda n: n / 1000),
        st.sampled_from(_EDGES),
    )
)
def test_mean_rounded_is_round(mean: float) -> None:
    assert _same(rollups_module._mean_rounded(mean), round(mean, 2))


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.floats(min_value=0, max_value=100),
                st.integers(min_value=0, max_value=100),
                st.integers(min_value=0, max_value=10**6).map(lambda n: n / 10**4),
            ),
            st.sampled_from([None, 1, 3, 7, 20, 25, 100, 0.3, 1e-3]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_plain_percents_are_the_chosen_paths(scores: list[tuple[float, Any]]) -> None:
    """The one pass's percents, rounded inline by arithmetic, are those of
    _normalised_chosen (profile.percent, round itself): every value pickled."""
    kb = _ENGINE.kb
    comps = sorted(kb.ontology.competencies)
    results = []
    for comp, (score, maximum) in zip(comps, scores, strict=False):
        if maximum is not None and score > maximum:
            score = maximum
        result: dict[str, Any] = {"competency": comp, "score": score}
        if maximum is not None:
            result["max"] = maximum
        results.append(result)
    person = {"role": "teacher", "experience_years": 3}
    prof = parse_profile({"id": "P", "person": person, "results": results}, kb)
    got = normalise(prof, kb)
    want = profile_module._normalised_chosen(prof, kb)
    for name in ("chosen_pct", "competency_pct", "group_pct", "competency_level"):
        assert _same(getattr(got, name), getattr(want, name)), name


_ENGINE = Engine.from_path(backend="fast")


def test_person_experience_rounded_as_before(engine: Engine) -> None:
    """The person fact's experience is float(round(years, 4)), ints and floats alike."""
    data = next(iter(synthetic_profiles(engine.kb, 1, 5)))
    for years in (0, 2, 2.5, 0.00005, 0.00015, 1.23456789, 12.34565, 40):
        data["person"]["experience_years"] = years
        prof = parse_profile(data, engine.kb)
        fact = base_facts(normalise(prof, engine.kb), engine.kb)[0]
        assert _same(fact["experience_years"], float(round(years, 4))), years


# --- the plain Provenances -----------------------------------------------------------


def test_plain_provenance_is_provenance_of() -> None:
    """Filled in their own dicts from the kind's template: equal, with the same fields in
    the class's order (its to_dict copies them), pickled alike, to Provenance.of's."""
    scores = {"a.x": 12.5, "b.y": 0.0, "c": -0.0}
    for kind in ("competency", "indicator"):
        made = plain_provenance(kind, list(scores), scores)
        want = [Provenance.of(t, kind, p, None, None, None, None, 0) for t, p in scores.items()]
        assert made == want
        assert [list(p.__dict__.items()) for p in made] == [list(p.__dict__.items()) for p in want]
        assert [p.to_dict() for p in made] == [p.to_dict() for p in want]
        assert _same(made, want)
    # the templates are not changed by what is made of them
    assert provenance_module._PLAIN_PROVENANCE["indicator"]["target"] == ""


# --- the deficits sorted by one int -------------------------------------------------


def test_deficits_sorted_by_one_int_as_by_the_tuples(engine: Engine) -> None:
    """(rank, place) as one int orders the Deficits as the (rank, place, competency)
    tuples do, and makes them as Deficit.of does; a competency without a place (not in
    the ontology) has the tuples' way taken for the whole Result."""
    rnd = random.Random(12)
    comps = list(engine.kb.ontology.competencies)
    ranks = [*range(len(engine_module._SEVERITY_RANK) + 1)]
    for case in range(300):
        chosen = rnd.sample(comps, rnd.randint(0, 15))
        if case % 5 == 0:
            chosen.append(rnd.choice(["zz.unknown", "aa.unknown", "m"]))
        best = {
            comp: (
                rnd.choice(ranks),
                {"group": rnd.choice(["g", None]), "severity": "high", "score_pct": rnd.random()},
                rnd.choice(["R1", "R2"]),
            )
            for comp in chosen
        }
        got = engine._sorted_deficits(best)
        want = engine._sorted_deficits_unplaced(best)
        assert got == want
        assert [list(d.__dict__.items()) for d in got] == [list(d.__dict__.items()) for d in want]
        assert [d.to_dict() for d in got] == [d.to_dict() for d in want]
        assert all(type(d) is Deficit for d in got)


# --- the kept needs by rule and values ----------------------------------------------


def _sub(rule: str, *actions: tuple[str, tuple[tuple[str, int, Any, bool], ...]]) -> Any:
    return SimpleNamespace(rule=SimpleNamespace(id=rule), actions=actions)


def test_need_names_only_where_a_rule_and_length_allow_one() -> None:
    kind = ("kind", LITERAL, "program", True)
    comp = ("competency", FIELD, (0, "competency"), True)
    strata = [
        [
            _sub("ONE", ("need", (kind, comp))),
            # an optional field read: a fact with it, and one without it
            _sub("OPT", ("need", (kind, comp, ("delivery", FIELD, (1, "category"), False)))),
            # two actions of the same length, other names: neither kept
            _sub(
                "TWO",
                ("need", (kind, comp, ("format", FIELD, (0, "group"), False))),
                ("need", (kind, comp, ("education", FIELD, (0, "group"), False))),
            ),
            # the same names in another order: not kept
            _sub(
                "ORDER",
                ("need", (kind, comp, ("a", LITERAL, "x", False), ("b", LITERAL, "y", False))),
                ("need", (kind, comp, ("b", LITERAL, "y", False), ("a", LITERAL, "x", False))),
            ),
            # the same names twice, and a custom fact beside them: kept
            _sub("SAME", ("need", (kind, comp)), ("need", (kind, comp)), ("pair", (comp,))),
            _sub(
                "MANY",
                ("need", (kind, *[(f"o{i}", FIELD, (0, f"o{i}"), False) for i in range(9)])),
            ),
        ],
        [_sub("ONE", ("need", (kind, comp)))],  # another alternative of ONE
    ]
    names = _need_names(strata)
    assert names == {
        ("ONE", 3): ("type", "kind", "competency"),
        ("OPT", 3): ("type", "kind", "competency"),
        ("OPT", 4): ("type", "kind", "competency", "delivery"),
        ("TWO", 3): ("type", "kind", "competency"),
        ("SAME", 3): ("type", "kind", "competency"),
    }


#: Need rules whose facts a rule's values alone do not tell apart: two actions of one
#: length with other names, the same names in another order, an optional field.
_RULES = """ruleset: t
rules:
  - id: LOW
    title: low
    when:
      - result: {level: {in: [critical, low]}}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: TWO-NAMES
    title: two names
    when:
      - deficit: {}
    then:
      - need: {kind: format, competency: $deficit.competency, format: $deficit.group}
      - need: {kind: format, competency: $deficit.competency, delivery: $deficit.group}
  - id: ORDER
    title: order
    when:
      - deficit: {}
    then:
      - need: {kind: program, competency: $deficit.competency, delivery: distance, format: internship}
      - need: {kind: program, competency: $deficit.competency, format: internship, delivery: distance}
  - id: OPTIONAL
    title: optional
    when:
      - deficit: {}
      - person: {}
    then:
      - need: {kind: mentor, competency: $deficit.competency, form: $person.category}
  - id: PLAIN
    title: plain
    when:
      - deficit: {}
    then:
      - need: {kind: program, competency: $deficit.competency, education: formal}
"""


def _results_both_ways(engine: Engine, profiles: list[dict[str, Any]]) -> None:
    """Each profile's Result with the needs kept by rule and values (twice: made, then
    found) is the one made with them looked up by their names (by_values None)."""
    for data in profiles:
        prof, results = profile_module.parsed_apart_or_whole(data, engine.kb)
        norm = (
            normalise(prof, engine.kb)
            if results is None
            else profile_module.normalise_apart(prof, results, engine.kb)
        )
        trace = TraceRows(engine._infer(norm, base_facts(norm, engine.kb)))
        plain = engine._result_of_entries(prof, trace, norm, trace, None)
        for _ in range(2):
            got = engine._result(prof, list(trace), norm)
            assert got.to_json() == plain.to_json()
            assert got.needs == plain.needs
            assert [n.filters for n in got.needs] == [n.filters for n in plain.needs]


@pytest.mark.parametrize("backend", ["fast", "python"])
def test_kept_needs_by_values_on_the_shipped_rules(backend: str) -> None:
    engine = Engine.from_path(backend=backend)
    assert engine._needs_by_values is not None
    _results_both_ways(engine, list(synthetic_profiles(engine.kb, 150, 1216)))
    assert engine._needs_by_values  # found by their values


@pytest.mark.parametrize("backend", ["fast", "python"])
def test_kept_needs_by_values_where_names_differ(tmp_path: Path, backend: str) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "rules.yaml").write_text(_RULES, encoding="utf-8")
    engine = Engine.from_path(root, backend=backend)
    names = engine._need_names
    # the facts of one length with other names (or order) are not among them; a fact
    # whose read field is left out has one list of names of its length
    assert ("TWO-NAMES", 4) not in names and ("ORDER", 5) not in names
    assert names[("TWO-NAMES", 3)] == ("type", "kind", "competency")
    assert ("OPTIONAL", 3) in names and ("OPTIONAL", 4) in names and ("PLAIN", 4) in names
    rnd = random.Random(7)
    comps = sorted(engine.kb.ontology.competencies)
    profiles = []
    for i in range(60):
        person: dict[str, Any] = {"role": "teacher", "experience_years": rnd.randint(0, 30)}
        if i % 2:
            person["category"] = rnd.choice(["first", "highest"])
        results = [{"competency": c, "score": rnd.randint(0, 100)} for c in rnd.sample(comps, 3)]
        profiles.append({"id": f"P{i}", "person": person, "results": results})
    _results_both_ways(engine, profiles)
    kept = engine._needs_by_values
    assert kept and {key[0] for key in kept} <= {"OPTIONAL", "PLAIN", "TWO-NAMES"}
    assert not any(key[0] == "ORDER" or (len(key) == 4 and key[0] == "TWO-NAMES") for key in kept)
    # each need of the two ambiguous rules is its own, name for name
    result = engine.evaluate(profiles[0])
    filters = {(n.rule, n.filters) for n in result.needs if n.rule in ("TWO-NAMES", "ORDER")}
    # (ORDER's second fact equals its first, field for field: the store keeps one)
    assert {tuple(name for name, _v in f) for _r, f in filters} == {
        ("format",),
        ("delivery",),
        ("delivery", "format"),
    }
    assert json.loads(result.to_json())["needs"]


def test_kept_needs_by_values_stay_bounded(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_NEEDS_KEPT", 3)
    fresh = Engine(engine.kb, backend="fast")
    _results_both_ways(fresh, list(synthetic_profiles(engine.kb, 20, 4)))
    assert fresh._needs_by_values is not None and len(fresh._needs_by_values) <= 4


@pytest.mark.skipif(not inference.durable_available(), reason="durable_rules not importable")
def test_durable_engine_keeps_no_needs_by_values(engine: Engine) -> None:
    """Its facts are made outside this process: each need is looked up by its names."""
    durable = Engine(engine.kb, backend="durable")
    assert durable._needs_by_values is None
    data = next(iter(synthetic_profiles(engine.kb, 1, 9)))
    assert durable.evaluate(data).to_json() == engine.evaluate(data).to_json()
