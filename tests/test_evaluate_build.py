"""The one-profile shortcuts of normalising and building the Result give what the plain
computation gives.

``normalise`` reads a profile with one result per id and no instrument, source or date
in one pass (``profile._normalised_plain``), keeps ``round(x, 2)`` of the floats it
rounds, and reads the levels in one call (``Scale.levels_of``); a Result's kept needs are
found by one flat key and sort by one string. Each is held here to the value
made the plain way, on generated profiles and on the cases the shortcut must tell apart.
"""

from __future__ import annotations

import copy
import math
import pickle
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine
from deficit_engine import engine as engine_module
from deficit_engine import profile as profile_module
from deficit_engine import rollups as rollups_module
from deficit_engine.engine import _need_order, base_facts
from deficit_engine.models import Need
from deficit_engine.models.diagnosis import fact_sort_key
from deficit_engine.ontology import Scale
from deficit_engine.profile import normalise, parse_profile
from deficit_engine.rules import NEED_KINDS
from deficit_engine.schema import Level
from deficit_engine.synthetic import synthetic_profiles

#: (score, max) pairs at the edges: ties of the rounding, zeros of both signs, a percent
#: that overflows (100 * 1e308), the smallest float.
_EDGES = [(0.125, 100.0), (1.005, 100.0), (2.675, 100.0), (0.0, 7.0), (-0.0, 3.0)]
_EDGES += [(1e308, 1.5e308), (1.7e308, 1.7e308), (5e-324, 1.0), (0.004, 1.0), (2, 3)]
_FIELDS = ("competency_pct", "group_pct", "competency_level", "group_level", "chosen_pct")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _same(a: Any, b: Any) -> bool:
    """Equal value for value, type for type and sign for sign."""
    return pickle.dumps(a) == pickle.dumps(b)


def _mutated(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """A generated profile with results at the edges, an origin named or an id repeated."""
    data = copy.deepcopy(data)
    results = data["results"]
    for result in results:
        draw = rnd.random()
        if draw < 0.3:
            result["score"], result["max"] = rnd.choice(_EDGES)
        elif draw < 0.33:
            result["instrument"] = "efom"
        elif draw < 0.36:
            result["source"] = "self_assessment"
        elif draw < 0.39:
            result["date"] = "2025-03-14"
    if results and rnd.random() < 0.2:
        again = dict(rnd.choice(results))
        again["date"] = "2026-01-15"
        results.append(again)
    return data


def _check(engine: Engine, data: dict[str, Any]) -> None:
    """normalise gives, value for value and type for type, what the chosen results' path
    gives; so do the base facts made of each."""
    kb = engine.kb
    prof = parse_profile(data, kb)
    got = normalise(prof, kb)
    plain = profile_module._normalised_chosen(prof, kb)
    for name in _FIELDS:
        assert _same(getattr(got, name), getattr(plain, name)), name
    assert got.chosen == plain.chosen
    assert _same(list(got.provenance), list(plain.provenance))
    assert [p.to_dict() for p in got.provenance] == [p.to_dict() for p in plain.provenance]
    assert got.origin == plain.origin
    assert _same(base_facts(got, kb), base_facts(plain, kb))


def test_one_pass_normalise_equals_the_chosen_results_path(engine: Engine) -> None:
    rnd = random.Random(31)
    plain = 0
    for data in synthetic_profiles(engine.kb, 400, 3101):
        _check(engine, data)
        mutated = _mutated(data, rnd)
        _check(engine, mutated)
        plain += (
            profile_module._normalised_plain(parse_profile(mutated, engine.kb), engine.kb)
            is not None
        )
    assert 0 < plain < 400  # both ways were taken


def test_rounded_floats_kept_are_round(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollups_module, "_ROUNDED", {})
    values = [0.0, -0.0, 0.004, 0.005, 0.125, 1.005, 2.675, 5e-324, 1e308, math.inf, 33.333333]
    for value in values + values:  # the second time from the kept ones
        kept = rollups_module._ROUNDED.get(value)
        got = rollups_module.round_kept(value) if kept is None else kept
        assert _same(got, round(value, 2)), value
    assert 0.0 not in rollups_module._ROUNDED and math.inf not in rollups_module._ROUNDED


def test_kept_rounding_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollups_module, "_ROUNDED", {})
    monkeypatch.setattr(rollups_module, "_ROUNDED_KEPT", 5)
    for i in range(1, 50):
        assert rollups_module.round_kept(i / 7) == round(i / 7, 2)
    assert len(rollups_module._ROUNDED) == 5


def test_levels_of_equals_level_of(engine: Engine) -> None:
    """By bisection over the bounds (a loaded KB's scale), or score by score when they
    do not ascend: each level as level_of finds it, at the bounds and past them."""
    shipped = engine.kb.scale
    odd = Scale([Level(id="b", title="B", below=50.0), Level(id="a", title="A", below=20.0)])
    odd_last = Scale([Level(id="x", title="X"), Level(id="y", title="Y", below=10.0)])
    one = Scale([Level(id="only", title="Only")])
    bounds = [level.below for level in shipped.levels if level.below is not None]
    scores = {f"s{i}": i / 10 for i in range(0, 1001, 3)} | {"neg": -0.0, "big": 1e9}
    scores |= {f"b{b}{d}": b + d for b in [*bounds, 10.0, 20.0, 50.0] for d in (-0.01, 0, 0.01)}
    scores["nan"] = math.nan
    for scale in (shipped, odd, odd_last, one):
        for _ in range(2):  # the second time from the kept levels
            assert scale.levels_of(scores) == {k: scale.level_of(v) for k, v in scores.items()}
    assert shipped._bounds is not None and odd._bounds is None and odd_last._bounds is None


_PCT = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from([f"i{k}" for k in range(12)]), _PCT, max_size=12),
    st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]), min_size=12, max_size=12),
)
def test_rollups_are_the_plain_means(scores: dict[str, float], weights: list[float]) -> None:
    """The roll-ups (rollups.py, compiled in the compiled build) are the weighted and
    plain means as written out here, in the same order, rounded to 2 places, bit for
    bit; and the bisected levels are the first level whose bound is above the score."""
    parents = {f"i{k}": (f"c{k % 4}", weights[k]) for k in range(12)}
    sums: dict[str, float] = {}
    total: dict[str, float] = {}
    for ind, score in scores.items():
        comp, weight = parents[ind]
        sums[comp] = sums.get(comp, 0.0) + weight * score
        total[comp] = total.get(comp, 0.0) + weight
    want = {c: float(round(sums[c] / total[c], 2)) for c in sorted(sums)}
    got = rollups_module.rollup_indicators(parents, scores)
    assert list(got) == list(want) and all(_same(got[c], want[c]) for c in want)
    groups = {f"c{k}": f"g{k % 2}" for k in range(4)}
    members: dict[str, list[float]] = {}
    for comp, pct in got.items():
        members.setdefault(groups[comp], []).append(pct)
    plain = {g: float(round(sum(v) / len(v), 2)) for g, v in sorted(members.items())}
    rolled = rollups_module.rollup_groups(groups, got)
    assert list(rolled) == list(plain) and all(_same(rolled[g], plain[g]) for g in plain)
    bounds, ids = [20.0, 50.0, 80.0], ["d", "c", "b", "a"]
    levels = rollups_module.levels_bisected(scores, bounds, ids)
    assert levels == {
        k: next((i for i, b in zip(ids, bounds, strict=False) if v < b), ids[-1])
        for k, v in scores.items()
    }


_TEXT = st.text(alphabet=st.sampled_from(["a", "b", ".", "\0", "\1", "é"]), max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), _TEXT),
            st.sampled_from([*NEED_KINDS, "unknown"]),
            st.lists(st.tuples(st.sampled_from(["delivery", "education"]), _TEXT), max_size=2),
        ),
        max_size=12,
    )
)
def test_need_order_string_sorts_as_the_tuple(needs: list[Any]) -> None:
    """The needs' one-string key orders them as (competency, kind's rank, filters' JSON)
    does, ties included."""
    made = [Need(kind, comp, tuple(dict(filters).items()), "R") for comp, kind, filters in needs]
    rank = {k: i for i, k in enumerate(NEED_KINDS)}

    def plain(need: Need) -> tuple[str, int, str]:
        return (need.competency or "", rank.get(need.kind, 9), fact_sort_key(dict(need.filters)))

    assert sorted(made, key=_need_order) == sorted(made, key=plain)
    for a in made:
        for b in made:
            assert (_need_order(a) == _need_order(b)) == (plain(a) == plain(b))


def _needs_of(engine: Engine, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prof = engine.parse(next(iter(synthetic_profiles(engine.kb, 1, 3))))
    result = engine._result_of(prof, [("R", fact) for fact in facts], normalise(prof, engine.kb))
    return [need.to_dict() for need in result.needs]


def test_kept_needs_of_one_rule_and_competency_stay_apart(engine: Engine) -> None:
    """Needs of one rule and competency are kept apart, each served to the fact it was
    made of alone: other filters, other values, the same fields in another order, a
    field's name where another fact has a value (the kept needs' key is flat)."""
    base = {"type": "need", "kind": "program", "competency": "c"}
    facts = [
        base,
        {**base, "education": "formal"},
        {**base, "education": "non_formal"},
        {**base, "education": "formal", "delivery": "distance"},
        {"delivery": "distance", **base, "education": "formal"},
        {**base, "education": 1},
        {**base, "education": True},
        {**base, "formal": "education"},
    ]
    engine_module._NEEDS.clear()
    first = _needs_of(engine, facts)
    for order in (facts, facts[::-1]):
        engine_module._NEEDS.clear()
        fresh = _needs_of(engine, order)
        again = _needs_of(engine, order)  # served from the kept needs
        assert fresh == again
        assert sorted(map(repr, fresh)) == sorted(map(repr, first))
    assert len(first) == len(facts)


def test_kept_folded_person_text_is_person_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from deficit_engine.folding import person_text

    monkeypatch.setattr(profile_module, "_FOLDED", {})
    monkeypatch.setattr(profile_module, "_FOLDED_KEPT", 3)
    texts = ["МБОУ COШ № 38", "Арсеньевский ГO", "Школа", "& Co", "е\u0308лка", "MO", "x"]
    for text in texts + texts:  # the second time from the kept ones, as far as kept
        assert profile_module._folded(text) == person_text(text)
    assert len(profile_module._FOLDED) == 3
