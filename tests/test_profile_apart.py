"""A profile validated apart from its results is the profile validated whole.

``profile.parse_profile_apart`` checks a row's results in Python and, when each is of
the shape ``ProfileResult`` takes as it is, validates only the rest by pydantic and
keeps the results as the row's dicts; any other row is validated whole. Held here to
``parse_profile``: the same errors, line for line, for rows with every kind of bad
result (wrong types, booleans, unknown ids and keys, out-of-range, non-finite and
huge scores, bad dates and sources, lone surrogates, repeated ids), and for good rows
the same profile and results. ``normalise_many`` over the dicts, and
``Engine.diagnose_many(slim=True)``, give what the models give.
"""

from __future__ import annotations

import copy
import pickle
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine, ProfileError, synthetic_profiles
from deficit_engine import profile as profile_module
from deficit_engine.schema import Profile, ProfileResult

#: One engine for the module: the shipped KB, the fast backend.
engine = pytest.fixture(scope="module")(lambda: Engine.from_path(backend="fast"))


#: Values a result's field may be given: of every type, at and past every bound.
_VALUES = [
    None,
    True,
    False,
    0,
    -0.0,
    0.0,
    -1,
    1,
    3,
    7.5,
    100,
    100.0,
    101,
    1e-300,
    5e-324,
    1.7e308,
    float("inf"),
    float("nan"),
    2**53,
    2**53 + 1,
    10**20,
    10**400,
    "",
    "12",
    "x" * 300,
    "x" * 301,
    "ЦНППМ тест",
    "a\ud800b",
    "2024-03-05",
    "2024-13-01",
    "20240305",
    "2024-3-5",
    "cnppm_test",
    "gossip",
    "methodical.lesson_design",
    "no.such_thing",
    [],
    {},
]
_KEYS = ["competency", "indicator", "score", "max", "instrument", "date", "assessor", "source"]


def _same_outcome(data: Any, engine: Engine) -> None:
    """``profile_module.parse_profile_apart(data)`` is ``profile_module.parse_profile(data)``: the same error lines, or
    the same profile (without its results) and the same results."""
    kb = engine.kb
    try:
        whole = profile_module.parse_profile(copy.deepcopy(data), kb, "cohort.jsonl")
    except ProfileError as exc:
        with pytest.raises(ProfileError) as apart_error:
            profile_module.parse_profile_apart(copy.deepcopy(data), kb, "cohort.jsonl")
        assert apart_error.value.lines(None) == exc.lines(None)
        assert apart_error.value.profile_id == exc.profile_id
        return
    apart, results = profile_module.parse_profile_apart(data, kb, "cohort.jsonl")
    assert not apart.results
    _same_profile(apart, profile_module.without_results(whole))
    _same_profile(profile_module.whole_profile(apart, results), whole)
    made = [r if type(r) is ProfileResult else ProfileResult.model_validate(r) for r in results]
    assert made == whole.results
    for got, want in zip(made, whole.results, strict=True):
        assert pickle.dumps(got.__dict__) == pickle.dumps(want.__dict__)  # -0.0 kept
        assert got.model_fields_set == want.model_fields_set


def _same_profile(a: Profile, b: Profile) -> None:
    assert type(a) is type(b) and a == b
    assert pickle.dumps(a.model_dump()) == pickle.dumps(b.model_dump())
    assert a.model_fields_set == b.model_fields_set
    assert list(a.__dict__) == list(b.__dict__)
    for name in ("person", "preferences"):
        assert getattr(a, name).model_fields_set == getattr(b, name).model_fields_set


def _row(engine: Engine, seed: int) -> dict[str, Any]:
    return next(iter(synthetic_profiles(engine.kb, 1, seed)))


@pytest.mark.parametrize("key", [*_KEYS, "extra"])
def test_each_field_at_each_value_gives_what_the_whole_validation_gives(
    engine: Engine, key: str
) -> None:
    for seed in range(2):
        data = _row(engine, seed)
        # a competency's result and an indicator's, each field at every value or gone
        results = data["results"]
        places = [
            next(at for at, result in enumerate(results) if kind in result)
            for kind in ("competency", "indicator")
            if any(kind in result for result in results)
        ]
        assert places
        for value in [*_VALUES, "<del>"]:
            for at in places:
                changed = copy.deepcopy(data)
                if value == "<del>":
                    changed["results"][at].pop(key, None)
                else:
                    changed["results"][at][key] = value
                _same_outcome(changed, engine)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 50),
    at=st.integers(0, 40),
    changes=st.lists(
        st.tuples(st.sampled_from([*_KEYS, "extra"]), st.sampled_from([*_VALUES, "<del>"])),
        max_size=3,
    ),
)
def test_a_changed_result_gives_what_the_whole_validation_gives(
    engine: Engine, seed: int, at: int, changes: list[tuple[str, Any]]
) -> None:
    data = _row(engine, seed)
    results = data["results"]
    if results:
        result = results[at % len(results)]
        for key, value in changes:
            if value == "<del>":
                result.pop(key, None)
            else:
                result[key] = value
    _same_outcome(data, engine)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["results"].append(dict(d["results"][0])),  # the same id twice
        lambda d: d["results"].append({**d["results"][0], "date": "2024-01-01"}),
        lambda d: d.update(results=tuple(d["results"])),
        lambda d: d.update(results=None),
        lambda d: d.update(results={"a": 1}),
        lambda d: d["results"].__setitem__(0, [1, 2]),
        lambda d: d.pop("results"),
        lambda d: d.update(results=[]),
        lambda d: d["person"].pop("role"),
        lambda d: d["person"].update(experience_years="3"),
        lambda d: d["person"].update(subjects=["no_such_subject"]),
        lambda d: d["person"].update(municipality="Анучинский MO"),  # folded to Cyrillic
        lambda d: d.update(requests=["nope.x"]),
        lambda d: d.update(requests=["methodical.lesson_design"]),
        lambda d: d.update(id=" P "),
        lambda d: d.update(extra=1),
        lambda d: d.update(preferences={"period": {"start": "2027-05", "end": "2026-09"}}),
        lambda d: d["results"][0].update(competency=None),
        lambda d: d["results"][0].update(competency=None, indicator="no.such"),
    ],
)
def test_a_changed_profile_gives_what_the_whole_validation_gives(
    engine: Engine, change: Any
) -> None:
    for seed in range(3):
        data = _row(engine, seed)
        change(data)
        _same_outcome(data, engine)


def test_a_row_not_a_dict_is_validated_whole(engine: Engine) -> None:
    for data in (None, [], "x", 3):
        _same_outcome(data, engine)
    profile = profile_module.parse_profile(_row(engine, 1), engine.kb)
    apart, results = profile_module.parse_profile_apart(profile, engine.kb)
    assert not apart.results and results == profile.results


def test_common_rows_keep_their_results_as_dicts(engine: Engine) -> None:
    rows = list(synthetic_profiles(engine.kb, 200, 11))
    for data in rows:
        _apart, results = profile_module.parse_profile_apart(data, engine.kb)
        assert results is data["results"]  # the row's own, never made into models
        _same_outcome(data, engine)


def _named(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """A generated row with some results named, dated, sourced, given as ints."""
    data = copy.deepcopy(data)
    for result in data["results"]:
        draw = rnd.random()
        if draw < 0.2:
            result["instrument"] = rnd.choice(["efom", "cnppm_2026", "an instrument the KB lacks"])
        elif draw < 0.3:
            result["date"] = f"2025-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}"
        elif draw < 0.4:
            result["source"] = rnd.choice(["cnppm_test", "self_assessment", "efom"])
        elif draw < 0.5:
            result["score"], result["max"] = 3, 7
        elif draw < 0.55:
            result.pop("max", None)
            result["score"] = min(result["score"], 100)
            if rnd.random() < 0.5:  # three keys, one of them its origin
                result[rnd.choice(["instrument", "source"])] = "efom"
        elif draw < 0.6:
            result["assessor"] = "методический совет"
    if data["results"] and rnd.random() < 0.2:  # a second result for an id, to choose
        data["results"].append({**data["results"][0], "date": "2026-01-15"})
    return data


def _cohort(engine: Engine, count: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = []
    for data in synthetic_profiles(engine.kb, count, seed):
        rows += [data, _named(data, rnd)]
    return rows


def test_normalise_many_over_the_dicts_equals_over_the_models(engine: Engine) -> None:
    kb = engine.kb
    rows = _cohort(engine, 300, 23)
    whole = [profile_module.parse_profile(d, kb) for d in rows]
    apart = [profile_module.parse_profile_apart(d, kb) for d in rows]
    assert any(type(r) is dict for _p, results in apart for r in results)
    assert any(type(r) is ProfileResult for _p, results in apart for r in results)
    want = profile_module.normalise_many(whole, kb)
    got = profile_module.normalise_many([p for p, _r in apart], kb, [r for _p, r in apart])
    assert pickle.dumps(got) == pickle.dumps(want)
    assert pickle.dumps(engine._chunk_columns([p for p, _r in apart], got)) == pickle.dumps(
        engine._chunk_columns(whole, want)
    )


def test_diagnose_many_slim_gives_the_profiles_without_their_results(engine: Engine) -> None:
    rows = _cohort(engine, 200, 31)
    rnd = random.Random(5)
    for data in rnd.sample([d for d in rows if d["results"]], 40):  # set aside, with errors
        data["results"][0]["score"] = rnd.choice(["1", -1, True, 10**20])
    rows.insert(3, {"id": "bare"})
    want = engine.diagnose_many(copy.deepcopy(rows), start=7)
    got = engine.diagnose_many(copy.deepcopy(rows), start=7, slim=True)
    assert len(got) == len(want)
    for (prof, result), (prof_w, result_w) in zip(got, want, strict=True):
        assert repr(result) == repr(result_w)
        if prof_w is None:
            assert prof is None
        else:
            assert prof is not None and not prof.results
            _same_profile(prof, profile_module.without_results(prof_w))


def test_a_chunk_left_whole_is_diagnosed_with_its_results(engine: Engine) -> None:
    # the columnar run's fallbacks (a profile its backend decides, a chunk that failed)
    # are given the profile whole again
    kb = engine.kb
    rows = _cohort(engine, 60, 37)
    part = [(i, *profile_module.parse_profile_apart(d, kb)) for i, d in enumerate(rows)]
    whole = [(i, profile_module.parse_profile(d, kb), None) for i, d in enumerate(rows)]
    alone = engine._prepared_diagnosed(part, 0)
    want = engine._prepared_diagnosed(whole, 0)
    for (i, (prof, result)), (j, (prof_w, result_w)) in zip(alone, want, strict=True):
        assert i == j and repr(result) == repr(result_w)
        assert prof is not None and prof_w is not None
        _same_profile(prof, prof_w)
    for i, apart, results in part[:10]:
        left = engine._left_diagnosed(apart, results, i)
        assert repr(left) == repr(engine._left_diagnosed(whole[i][1], None, i))
