"""``Engine.evaluate`` validates a row as the batch does, its results apart.

``evaluate`` never gives the profile back, so it takes ``profile.parsed_apart_or_whole``:
a row whose results ``profile_plain.checked_results`` vouches for keeps them as the row's dicts, never
made into models, and ``normalise_apart`` reads them as they are. Held here to the whole
path (``parse_profile``, ``normalise``, ``Engine.diagnose``): the same Normalised values
bit for bit, the same base facts, the same Results (JSON with traces) and the same
errors, on generated rows with results named, dated, sourced, given as ints, at the
scores' edges and repeated.
"""

from __future__ import annotations

import copy
import pickle
import random
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine, ProfileError, synthetic_profiles
from deficit_engine import profile as profile_module
from deficit_engine.engine import base_facts
from deficit_engine.models import Scores
from deficit_engine.resolve import resolve
from deficit_engine.route import planned
from test_profile_apart import _named

#: One engine for the module: the shipped KB, the fast backend.
engine = pytest.fixture(scope="module")(lambda: Engine.from_path(backend="fast"))

#: The Normalised values the two ways must give alike (``profile`` and ``chosen`` hold
#: the profile without its results and the dicts on the apart way).
_VALUES = (
    "competency_pct",
    "group_pct",
    "competency_level",
    "group_level",
    "chosen_pct",
    "provenance",
    "origin",
    "indicator_pct",
    "scores",
)
#: Scores at the rounding's and the checker's edges (each under its max of 7 or 7.0).
_SCORES = [0, 0.0, -0.0, 1, 3, 3.5, 7, 7.0, 0.005, 0.015, 2.345, 6.999999999999999, 5e-324]


def _changed(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """A generated row with some results named, dated, sourced, given as ints
    (``_named``), others at the scores' edges."""
    data = _named(data, rnd)
    for result in data["results"]:
        if len(result) == 3 and rnd.random() < 0.2:
            result["score"] = rnd.choice(_SCORES)
            result["max"] = rnd.choice([7, 7.0])
    return data


def _rows(engine: Engine, count: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows = []
    for data in synthetic_profiles(engine.kb, count, seed):
        rows += [data, _changed(data, rnd)]
    return rows


def _same_normalised(data: dict[str, Any], engine: Engine) -> None:
    kb = engine.kb
    whole = profile_module.parse_profile(copy.deepcopy(data), kb)
    want = profile_module.normalise(whole, kb)
    prof, results = profile_module.parsed_apart_or_whole(data, kb)
    if results is None:
        assert prof == whole
        return
    assert not prof.results
    got = profile_module.normalise_apart(prof, results, kb)
    for name in _VALUES:
        # pickled: the same types and signs (-0.0), not only equal values
        assert pickle.dumps(getattr(got, name)) == pickle.dumps(getattr(want, name)), name
    assert base_facts(got, kb) == base_facts(want, kb)
    # the kept Scores, made without __init__, as the dataclass makes them
    made = Scores(want.competency_pct, want.group_pct, want.competency_level, want.group_level)
    assert got.scores == made and pickle.dumps(got.scores) == pickle.dumps(made)
    assert pickle.dumps(base_facts(got, kb)) == pickle.dumps(base_facts(want, kb))


def test_normalise_apart_gives_what_normalise_gives(engine: Engine) -> None:
    rows = _rows(engine, 300, 41)
    apart = [profile_module.parsed_apart_or_whole(d, engine.kb)[1] for d in rows]
    assert sum(r is not None for r in apart) > len(rows) // 2  # most rows go apart
    assert any(r is None for r in apart)  # a repeated id, validated whole
    for data in rows:
        _same_normalised(data, engine)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 30),
    score=st.one_of(
        st.floats(0, 1e6, allow_nan=False, allow_infinity=False), st.integers(0, 2**53)
    ),
    maximum=st.one_of(
        st.floats(1e-300, 1e300, allow_nan=False, allow_infinity=False),
        st.integers(1, 2**53),
    ),
    origin=st.sampled_from([None, "instrument", "source", "date", "assessor"]),
    no_max=st.booleans(),
)
def test_a_result_at_any_score_normalises_alike(
    engine: Engine, seed: int, score: float, maximum: float, origin: str | None, no_max: bool
) -> None:
    data = next(iter(synthetic_profiles(engine.kb, 1, seed)))
    if not data["results"]:
        return
    result = data["results"][seed % len(data["results"])]
    result["score"], result["max"] = min(score, maximum), maximum
    if no_max:  # the model's max of 100.0; with an origin, three keys
        del result["max"]
        result["score"] = min(score, 100)
    if origin is not None:
        result[origin] = {"date": "2025-03-04", "source": "efom"}.get(origin, "efom")
    _same_normalised(data, engine)


def test_normalise_apart_of_models_or_none_is_normalise(engine: Engine) -> None:
    kb = engine.kb
    for data in _rows(engine, 30, 5):
        whole = profile_module.parse_profile(data, kb)
        apart = profile_module.without_results(whole)
        got = profile_module.normalise_apart(apart, whole.results, kb)
        assert got == profile_module.normalise(whole, kb)


def _evaluated_whole(engine: Engine, data: Any) -> Any:
    """What ``evaluate`` gave before: the whole profile diagnosed, resolved, routed."""
    prof, diagnosis = engine.diagnose(data)
    resolution = resolve(engine.kb, prof, diagnosis.needs, severities=diagnosis.severities)
    return planned(engine.kb, prof, diagnosis, resolution)


def test_evaluate_gives_the_results_of_the_whole_profile(engine: Engine) -> None:
    for data in _rows(engine, 150, 17):
        assert (
            engine.evaluate(copy.deepcopy(data)).to_json()
            == _evaluated_whole(engine, data).to_json()
        )


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["results"].append(dict(d["results"][0])),  # the same id twice
        lambda d: d["results"][0].update(score="3"),
        lambda d: d["results"][0].update(score=True),
        lambda d: d["results"][0].update(competency="no.such"),
        lambda d: d["results"][0].update(max=0),
        lambda d: d.update(results=None),
        lambda d: d.pop("results"),
        lambda d: d["person"].pop("role"),
        lambda d: d["person"].update(subjects=["no_such_subject"]),
        lambda d: d.update(requests=["nope.x"]),
        lambda d: d.update(id=" P "),
        lambda d: d.update(preferences={"period": {"start": "2027-05", "end": "2026-09"}}),
    ],
)
def test_evaluate_raises_or_gives_what_the_whole_profile_does(engine: Engine, change: Any) -> None:
    for seed in range(3):
        data = next(iter(synthetic_profiles(engine.kb, 1, seed)))
        if not data["results"]:
            data["results"] = [{"competency": "methodical.lesson_design", "score": 3}]
        change(data)
        try:
            want = _evaluated_whole(engine, copy.deepcopy(data)).to_json()
        except ProfileError as exc:
            with pytest.raises(ProfileError) as got:
                engine.evaluate(data)
            assert got.value.lines(None) == exc.lines(None)
            assert got.value.profile_id == exc.profile_id
            continue
        assert engine.evaluate(data).to_json() == want


def test_a_profile_or_a_mapping_is_evaluated_whole(engine: Engine) -> None:
    data = next(iter(synthetic_profiles(engine.kb, 1, 3)))
    profile = engine.parse(data)
    assert profile_module.parsed_apart_or_whole(profile, engine.kb) == (profile, None)
    want = _evaluated_whole(engine, data).to_json()
    assert engine.evaluate(profile).to_json() == want
    assert engine.evaluate(MappingProxyType(data)).to_json() == want


def test_preferences_left_out_validate_as_the_default(engine: Engine) -> None:
    rows = [d for d in synthetic_profiles(engine.kb, 60, 9) if "preferences" not in d]
    assert rows
    for data in rows:
        kept, _ = profile_module.parsed_apart_or_whole(data, engine.kb)
        free, _ = profile_module.parsed_apart_or_whole(data, engine.kb, fields_set_kept=False)
        assert "preferences" not in kept.model_fields_set
        assert free == kept and free.preferences == kept.preferences
        assert pickle.dumps(free.preferences.model_dump()) == pickle.dumps(
            kept.preferences.model_dump()
        )
        assert free.preferences.model_fields_set == kept.preferences.model_fields_set
        assert free.model_fields_set == kept.model_fields_set | {"preferences"}
