"""A chunk normalised at once gives what each profile normalised alone gives.

``profile.normalise_many`` does the percents, roll-ups, levels and the provenance's order
over numpy arrays; ``Engine._chunk_columns`` makes the rules' tables from its rows without
a dict per fact. Both are held here, bit for bit
(``-0.0`` apart from ``0.0``), to ``normalise`` and ``base_facts`` per profile, on
generated profiles and on mutated ones: several results for an id, instruments, dates
and sources, zero and negative-zero scores, exact and near ties of the rounding, scores
so large that their percent overflows.
"""

from __future__ import annotations

import copy
import pickle
import random
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine
from deficit_engine import profile as profile_module
from deficit_engine.engine import base_facts
from deficit_engine.models.provenance import PlainProvenance
from deficit_engine.profile import normalise, normalise_many, parse_profile
from deficit_engine.schema import Profile
from deficit_engine.synthetic import synthetic_profiles

_INSTRUMENTS = ["efom", "cnppm_2026", "self_assessment", "an instrument the KB lacks"]
_SOURCES = ["cnppm_test", "self_assessment", "lesson_observation", "efom"]
#: (score, max) pairs at the edges of the rounding: exact ties (0.125), near ties,
#: zeros of both signs, a percent that overflows (100 * 1e308).
_EDGES = [
    (0.125, 100.0),
    (1.005, 100.0),
    (2.675, 100.0),
    (0.0, 7.0),
    (-0.0, 3.0),
    (1e308, 1.5e308),
    (1.7e308, 1.7e308),
    (5e-324, 1.0),
    (1.0, 3.0),
    (2.0, 3.0),
    (7.0, 8.0),
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="fast")


def _mutated(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """A generated profile with some of its results at the edges, named, dated or repeated."""
    data = copy.deepcopy(data)
    results = data["results"]
    for result in results:
        draw = rnd.random()
        if draw < 0.15:
            result["score"], result["max"] = rnd.choice(_EDGES)
        elif draw < 0.25:
            result["instrument"] = rnd.choice(_INSTRUMENTS)
        elif draw < 0.3:
            result["date"] = f"2025-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}"
        elif draw < 0.35:
            result["source"] = rnd.choice(_SOURCES)
        elif draw < 0.45:
            result["score"] = rnd.uniform(0, result.get("max", 100.0))
    if results and rnd.random() < 0.3:
        # a second result for an id: the instrument policy chooses
        again = dict(rnd.choice(results))
        again["instrument"] = rnd.choice(_INSTRUMENTS)
        again["date"] = "2026-01-15"
        again["score"] = rnd.uniform(0, again.get("max", 100.0))
        results.insert(rnd.randrange(len(results) + 1), again)
    return data


def _profiles(engine: Engine, count: int, seed: int) -> list[Profile]:
    rnd = random.Random(seed)
    out = []
    for data in synthetic_profiles(engine.kb, count, seed):
        out.append(parse_profile(data, engine.kb))
        out.append(parse_profile(_mutated(data, rnd), engine.kb))
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal value for value, type for type and sign for sign."""
    return pickle.dumps(a) == pickle.dumps(b)


def _entries(provenance: Any) -> Any:
    """A chunk's provenance of a profile as its Provenances (its runs made, if kept so)."""
    return provenance.entries() if type(provenance) is PlainProvenance else provenance


def _check_chunk(engine: Engine, profiles: list[Profile]) -> None:
    kb = engine.kb
    alone = [normalise(p, kb) for p in profiles]
    chunk = normalise_many(profiles, kb)
    assert len(chunk.scores) == len(chunk.provenance) == len(profiles)
    for norm, scores, kept in zip(alone, chunk.scores, chunk.provenance, strict=True):
        provenance = _entries(kept)
        assert _same(norm.scores, scores)
        assert all(_same(a, b) for a, b in zip(norm.provenance, provenance, strict=True))
        assert len(norm.provenance) == len(provenance)
    old = engine.columnar.base_columns([base_facts(norm, kb) for norm in alone])
    new = engine._chunk_columns(profiles, chunk)
    assert new.n == old.n
    assert new.strings.names == old.strings.names
    assert list(new.tables) == list(old.tables)
    for name, table in old.tables.items():
        made = new.tables[name]
        assert np.array_equal(made.pid, table.pid) and np.array_equal(made.born, table.born)
        assert list(made.columns) == list(table.columns)
        for field, column in table.columns.items():
            got = made.columns[field]
            assert got.values.dtype == column.values.dtype, (name, field)
            assert np.array_equal(got.present, column.present), (name, field)
            assert _same(got.values.tolist(), column.values.tolist()), (name, field)


def test_chunk_equals_each_profile_alone(engine: Engine) -> None:
    profiles = _profiles(engine, 600, 29)
    # the mutations reached every path: repeated ids, named origins, the edges
    assert any(
        len({(r.competency, r.indicator) for r in p.results}) < len(p.results) for p in profiles
    )
    assert any(r.instrument is not None for p in profiles for r in p.results)
    _check_chunk(engine, profiles)
    # again, in other chunks
    _check_chunk(engine, profiles[::-1])
    _check_chunk(engine, profiles[:1])
    _check_chunk(engine, [])


def test_chunk_of_unnamed_results_only(engine: Engine) -> None:
    # no result names its origin: the rows carry none
    profiles = [parse_profile(p, engine.kb) for p in synthetic_profiles(engine.kb, 300, 7)]
    assert not any(r.instrument or r.date or r.source for p in profiles for r in p.results)
    chunk = normalise_many(profiles, engine.kb)
    assert chunk.competencies.origin is None and chunk.indicators.origin is None
    # kept as their runs, made into Provenances only when read
    assert all(type(p) is PlainProvenance for p in chunk.provenance)
    _check_chunk(engine, profiles)


def test_zero_scores_keep_their_sign(engine: Engine) -> None:
    # 0.0 and -0.0 are equal: the chunk's arrays must keep the sign round() gives
    base = next(iter(synthetic_profiles(engine.kb, 1, 3, max_results=3)))
    base["results"] = [{"competency": "methodical.lesson_design", "score": 0.0, "max": 10}]
    negative = copy.deepcopy(base)
    negative["results"][0]["score"] = -0.0
    profiles = [parse_profile(d, engine.kb) for d in (base, negative, base, negative)]
    chunk = normalise_many(profiles, engine.kb)
    signs = [np.signbit(_entries(p)[0].score_pct) for p in chunk.provenance]
    assert signs == [False, True, False, True]
    _check_chunk(engine, profiles)


def test_diagnose_many_equals_the_per_profile_preparation(engine: Engine) -> None:
    profiles = _profiles(engine, 150, 41)
    part = [(i, prof, None) for i, prof in enumerate(profiles)]
    chunked = engine._chunk_diagnosed(part, 0, False)
    alone = engine._prepared_diagnosed(part, 0)
    assert [i for i, _d in chunked] == [i for i, _d in alone]
    for (_i, (prof_a, result_a)), (_j, (prof_b, result_b)) in zip(chunked, alone, strict=True):
        assert prof_a is prof_b
        assert repr(result_a) == repr(result_b)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from([0.125, 0.005, 1.005, 2.675, 1e16 + 0.5, 0.0, -0.0, 4503599627370496.5]),
        max_size=40,
    )
)
def test_round2_is_round(values: list[float]) -> None:
    got = profile_module._round2(np.array(values, dtype=np.float64)).tolist()
    assert _same(got, [round(v, 2) for v in values])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, allow_nan=False, allow_infinity=False),
            st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False),
        ),
        max_size=30,
    )
)
def test_percents_are_percent(pairs: list[tuple[float, float]]) -> None:
    score = np.array([s for s, _m in pairs], dtype=np.float64)
    maximum = np.array([m for _s, m in pairs], dtype=np.float64)
    got = profile_module._percents(score, maximum).tolist()
    assert _same(got, [profile_module.percent(s, m) for s, m in pairs])


@pytest.mark.parametrize("plain", [True, False])
def test_group_sums_are_sum(monkeypatch: pytest.MonkeyPatch, plain: bool) -> None:
    # from Python 3.12 ``sum`` compensates: the groups' sums are then taken by ``sum``
    # itself; both ways give ``sum`` of each key's values in order on this Python
    if plain and sys.version_info >= (3, 12):
        pytest.skip("sum() compensates here: the plain sums are not its answer")
    monkeypatch.setattr(profile_module, "_PLAIN_SUM", plain)
    rnd = random.Random(12)
    key = np.array(sorted(rnd.randrange(40) for _ in range(300)), dtype=np.int64)
    values = np.array([rnd.uniform(0, 100) for _ in range(300)])
    got = profile_module._sums(key, values, 45)
    expected = [sum(values[key == k].tolist()) if (key == k).any() else 0.0 for k in range(45)]
    assert _same(got.tolist(), expected)
