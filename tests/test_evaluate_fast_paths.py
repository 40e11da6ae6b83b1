"""The one-profile path's shortcuts give what the plain computation gives.

Building a Result keeps the needs it has made (``engine._NEEDS``) and serves them again;
``normalise`` computes each chosen score once, and a Scale keeps each score's level. Each
is held here to the value made afresh, on thousands of generated profiles and on the cases
the shortcut must tell apart.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from deficit_engine import Engine
from deficit_engine import engine as engine_module
from deficit_engine.engine import base_facts
from deficit_engine.models import Need, Scores
from deficit_engine.models.diagnosis import fact_sort_key
from deficit_engine.profile import normalise, percent
from deficit_engine.rules import NEED_KINDS
from deficit_engine.synthetic import synthetic_profiles


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _plain_needs(trace: Any) -> tuple[Need, ...]:
    """The Result's needs made afresh from the trace: each new ``need`` fact with the rule
    that asserted it, sorted by competency, kind and the filters' canonical JSON."""
    own = ("type", "kind", "competency")
    needs = [
        Need(
            str(fact["kind"]),
            fact.get("competency"),
            tuple((k, v) for k, v in fact.items() if k not in own),
            entry.rule,
        )
        for entry in trace
        for fact in entry.asserted
        if fact["type"] == "need"
    ]
    kinds = {k: i for i, k in enumerate(NEED_KINDS)}
    needs.sort(
        key=lambda n: (n.competency or "", kinds.get(n.kind, 9), fact_sort_key(dict(n.filters)))
    )
    return tuple(needs)


def test_kept_needs_equal_needs_made_afresh(engine: Engine) -> None:
    engine_module._NEEDS.clear()
    for profile in synthetic_profiles(engine.kb, 2000, 1616):
        _prof, result = engine.diagnose(profile)
        assert result.needs == _plain_needs(result.trace)
    assert engine_module._NEEDS  # the needs were kept: the later profiles were served them


def test_kept_needs_stay_bounded_and_right(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_NEEDS_KEPT", 10)
    engine_module._NEEDS.clear()
    for profile in synthetic_profiles(engine.kb, 200, 1617):
        _prof, result = engine.diagnose(profile)
        assert result.needs == _plain_needs(result.trace)
        # emptied when past the bound, before a need is kept: at most one beyond it (the
        # engine's kept needs by their values serve most, and keep them apart)
        assert len(engine_module._NEEDS) <= 10 + 1
    engine_module._NEEDS.clear()


def _result_needs(engine: Engine, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prof = engine.parse(next(iter(synthetic_profiles(engine.kb, 1, 3))))
    norm = normalise(prof, engine.kb)
    result = engine._result_of(prof, [("R", fact) for fact in facts], norm)
    return [need.to_dict() for need in result.needs]


def test_needs_with_values_equal_in_python_stay_apart(engine: Engine) -> None:
    """``True``, ``1`` and ``1.0`` are one dict key but three filter values in JSON; a
    need of each is its own, whichever came first."""
    first = {"type": "need", "kind": "format", "competency": "c", "flag": "1"}
    facts = [first, {**first, "flag": True}, {**first, "flag": 1}, {**first, "flag": 1.0}]
    for order in (facts, facts[::-1], facts[1:] + facts[:1]):
        got = _result_needs(engine, order)
        assert sorted(json.dumps(n["flag"]) for n in got) == ['"1"', "1", "1.0", "true"]
        again = _result_needs(engine, order)
        assert json.dumps(again) == json.dumps(got)


def test_needs_with_other_field_orders_keep_their_order(engine: Engine) -> None:
    """A need written with its filters first keeps them in its own order."""
    odd = {"format": "x", "type": "need", "education": "formal", "kind": "format"}
    plain = {"type": "need", "kind": "format", "format": "x", "education": "formal"}
    got = _result_needs(engine, [odd, plain])
    assert [list(n) for n in got] == [
        ["kind", "format", "education", "rule"],
        ["kind", "format", "education", "rule"],
    ]
    assert len(got) == 2  # two facts, two needs: the set semantics are the store's


def test_chosen_scores_are_each_results_percent(engine: Engine) -> None:
    for profile in synthetic_profiles(engine.kb, 500, 1618):
        norm = normalise(engine.parse(profile), engine.kb)
        assert norm.chosen_pct == tuple(percent(r.score, r.max) for r in norm.chosen)
        facts = base_facts(norm, engine.kb)
        indicators = [f for f in facts if f["type"] == "indicator_result"]
        chosen = [(r, p) for r, p in zip(norm.chosen, norm.chosen_pct, strict=True) if r.indicator]
        assert [(f["indicator"], f["score_pct"]) for f in indicators] == [
            (r.indicator, p) for r, p in chosen
        ]


def test_needs_with_a_list_among_their_values_are_made_afresh(engine: Engine) -> None:
    """A list makes the kept needs' key unhashable: the need is made as it is, each time."""
    fact = {"type": "need", "kind": "program", "competency": "c", "levels": ["basic"]}
    first = _result_needs(engine, [fact])
    assert first == [{"kind": "program", "competency": "c", "levels": ["basic"], "rule": "R"}]
    assert _result_needs(engine, [fact]) == first


def test_kept_levels_equal_levels_found_afresh(engine: Engine) -> None:
    scale = engine.kb.scale

    def plain(score: float) -> str:
        for level in scale.levels:
            if level.below is None or score < level.below:
                return level.id
        return scale.levels[-1].id

    scores = [i / 100 for i in range(0, 10001, 7)] + [-0.0, 1e9, 5e-324]
    bounds = [level.below for level in scale.levels if level.below is not None]
    scores += [b + d for b in bounds for d in (-0.01, 0.0, 0.01)]
    for score in scores + scores:  # the second time from the kept levels
        assert scale.level_of(score) == plain(score)


def test_normalised_scores_are_made_once_and_equal_the_fields(engine: Engine) -> None:
    norm = normalise(engine.parse(next(iter(synthetic_profiles(engine.kb, 1, 1620)))), engine.kb)
    scores = norm.scores
    assert scores is norm.scores
    assert scores == Scores(
        norm.competency_pct, norm.group_pct, norm.competency_level, norm.group_level
    )
