"""``Engine.evaluate``'s front stages made cheaper, held to the ways they replace.

* ``profile_plain.checked_profile``: the rest of a row (id, person, preferences,
  requests) checked and made without pydantic, as ``parsed_apart_or_whole(...,
  fields_set_kept=False)`` does for a row of the common shape, is what pydantic and
  ``profile._references_known`` make of it (every model's fields, their types and
  order, its fields set), or None where they refuse it; on generated rows changed one
  field at a time to values at and past the models' bounds, and on hypothesis's.
* The trace kept as the inference's rows (``TraceRows``) until a Result's ``trace`` is
  read: the same TraceEntries as ``inference.run`` gives, and the same JSON and pickles
  before and after it is read.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import pickle
import random
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deficit_engine import Engine, FiringLimitError, synthetic_profiles
from deficit_engine import profile as profile_module
from deficit_engine import profile_plain as plain_module
from deficit_engine.engine import base_facts
from deficit_engine.inference import PythonMatcher, run
from deficit_engine.models import Result, TraceEntry
from deficit_engine.models.diagnosis import TraceRows
from deficit_engine.models.provenance import PlainProvenance
from deficit_engine.profile import normalise_apart, parsed_apart_or_whole

#: One engine for the module: the shipped KB, the fast backend (hypothesis's test
#: takes no fixture).
_shipped = functools.cache(lambda: Engine.from_path(backend="fast"))
engine = pytest.fixture(scope="module")(_shipped)


def _state(value: Any) -> Any:
    """A model's whole state (its type, its fields in order with their types, its
    fields set, extra and private values), and any other value with its type."""
    if hasattr(value, "__pydantic_fields_set__"):
        return (
            type(value).__name__,
            [(name, _state(field)) for name, field in value.__dict__.items()],
            sorted(value.__pydantic_fields_set__),
            value.__pydantic_extra__,
            value.__pydantic_private__,
        )
    if type(value) is list:
        return ("list", [_state(item) for item in value])
    return (type(value).__name__, repr(value))


def _by_pydantic(data: dict[str, Any], engine: Engine, preferences_set: bool = True) -> Any:
    """What ``parsed_apart_or_whole(..., fields_set_kept=not preferences_set)`` made of
    the rest of a row before: pydantic's model of it, or None where it (or the KB's ids)
    refuse it. ``preferences_set`` False: left out, the model's default is copied (a
    batch's diagnosis, ``fields_set_kept=True``)."""
    rest = dict(data) if data.get("results") is None else {**data, "results": []}
    if "preferences" not in rest and preferences_set:
        rest["preferences"] = {}
    return profile_module._validated_apart(rest, engine.kb)


def _same(data: dict[str, Any], engine: Engine) -> bool:
    """Whether ``checked_profile`` gives pydantic's profile of ``data`` or None, and
    None wherever pydantic refuses it, with ``preferences`` in the fields set and as
    pydantic sets it; whether it made one."""
    made = []
    for preferences_set in (True, False):
        kept = copy.deepcopy(data)
        got = plain_module.checked_profile(
            data, engine.kb, profile_module._folded, preferences_set=preferences_set
        )
        assert data == kept  # the row is not changed
        want = _by_pydantic(data, engine, preferences_set)
        if got is not None:
            assert want is not None, data
            assert _state(got) == _state(want), data
            assert got == want
        made.append(got is not None)
    assert made[0] == made[1]
    return made[0]


def test_a_batchs_rows_are_validated_apart_as_by_pydantic(engine: Engine) -> None:
    # parse_profile_apart (a batch's diagnosis, its spill pickling the fields set):
    # the rest's models as pydantic made them, preferences given or left out
    given = []
    for data in synthetic_profiles(engine.kb, 200, 35):
        given.append("preferences" in data)
        profile, results = profile_module.parse_profile_apart(data, engine.kb)
        assert results == data["results"]
        want = _by_pydantic(data, engine, preferences_set=False)
        assert _state(profile) == _state(want)
        assert ("preferences" in profile.model_fields_set) == ("preferences" in data)
    assert any(given) and not all(given)  # both kinds of row


#: Values each field of a row is set to, at and past the models' bounds and types.
_TEXTS = [
    None,
    "",
    "Школа № 1",
    "x" * 300,
    "x" * 301,
    "\ud800",
    "Арсеньевскии\u0306 ГО",  # decomposed: folded
    "Apceньевский",  # Latin look-alikes: folded
    5,
    True,
    ["x"],
]
_FIELDS: dict[tuple[str, ...], list[Any]] = {
    ("id",): ["", " a", "a ", "a\tb", "a\x7fb", "x" * 200, "x" * 201, "\ud800", 5, None],
    ("person", "role"): ["teacher", "manager", "Teacher", "", None, 1, True],
    ("person", "experience_years"): [
        0,
        70,
        70.0,
        70.5,
        -0.0,
        -1,
        0.1,
        1e308,
        float("nan"),
        float("inf"),
        True,
        False,
        "5",
        2**60,
        None,
    ],
    ("person", "category"): [None, "first", "highest", "bogus", 1],
    ("person", "subjects"): [
        [],
        ["mathematics"],
        ["mathematics", "physics"],
        ["unknown_subject"],
        "mathematics",
        [1],
        [""],
        None,
        ("mathematics",),
    ],
    ("person", "levels"): [[], ["primary"], ["primary", "basic"], ["bogus"], [None], None],
    ("person", "organization"): _TEXTS,
    ("person", "municipality"): _TEXTS,
    ("person", "name"): _TEXTS,
    ("person", "education"): _TEXTS,
    ("person", "self_education_topic"): _TEXTS,
    ("person", "last_course"): [
        None,
        "2024-01-31",
        "2024-02-30",
        "20240131",
        "2024-W01-1",
        "",
        "x",
        5,
    ],
    ("person", "extra"): [1],
    ("preferences",): [
        None,
        {},
        [],
        {"delivery": ["in_person", "blended"]},
        {"delivery": ["bogus"]},
        {"delivery": "in_person"},
        {"hours_per_month": 1},
        {"hours_per_month": 0.5},
        {"hours_per_month": 300},
        {"hours_per_month": 300.5},
        {"hours_per_month": True},
        {"hours_per_month": float("nan")},
        {"hours_per_month": None},
        {"period": None},
        {"extra": 1},
    ],
    ("preferences", "period"): [
        {"start": "2026-09", "end": "2027-05"},
        {"start": "2026-09", "end": "2026-09"},
        {"start": "2026-09", "end": "2026-08"},
        {"start": "2026-13", "end": "2027-05"},
        {"start": "2026-00", "end": "2027-05"},
        {"start": "1999-12", "end": "2000-05"},
        {"start": "2100-01", "end": "2101-01"},
        {"start": "2000-01", "end": "2009-12"},
        {"start": "2000-01", "end": "2010-01"},
        {"start": "२०२६-09", "end": "2027-05"},
        {"start": "2026-09\n", "end": "2027-05"},
        {"start": "2026-9", "end": "2027-05"},
        {"start": "2026-09"},
        {"start": "2026-09", "end": "2027-05", "extra": 1},
        {"start": 2026, "end": "2027-05"},
        "2026-09",
    ],
    ("requests",): [[], ["normative.fgos"], ["normative.fgos", "unknown.comp"], "x", [1], None],
    ("extra",): [1],
    ("results",): [None, {}, "x"],
}


def _changed(data: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    """The row with one to three fields set to one of their values above, or left out."""
    data = copy.deepcopy(data)
    for path in rnd.sample(sorted(_FIELDS), rnd.randint(1, 3)):
        at = data
        for key in path[:-1]:
            found = at.get(key)
            if type(found) is not dict:
                found = at[key] = {}
            at = found
        if rnd.random() < 0.1:
            at.pop(path[-1], None)
        else:
            at[path[-1]] = copy.deepcopy(rnd.choice(_FIELDS[path]))
    return data


def test_the_models_fields_are_the_plain_paths() -> None:
    # else every row goes pydantic's way, and evaluate loses the plain path unseen
    assert plain_module._PLAIN_MODELS


def test_checked_profile_is_pydantics_on_generated_rows(engine: Engine) -> None:
    rnd = random.Random(34)
    made = refused = 0
    for data in synthetic_profiles(engine.kb, 400, 34):
        assert _same(data, engine)  # every generated row is of the common shape
        for _ in range(5):
            if _same(_changed(data, rnd), engine):
                made += 1
            else:
                refused += 1
    assert made > 300 and refused > 300  # both ways taken


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["teacher", "first", "primary", "in_person", "2026-09", "2024-01-31"]),
    st.lists(st.sampled_from(["primary", "mathematics", "in_person", "x", ""]), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(
    person=st.dictionaries(st.sampled_from(plain_module._PERSON_FIELDS), _VALUES, max_size=11),
    preferences=st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["delivery", "hours_per_month", "period"]),
            st.one_of(
                _VALUES,
                st.fixed_dictionaries(
                    {"start": st.sampled_from(["2026-09", "2027-13", "2099-12"]), "end": _VALUES}
                ),
            ),
        ),
    ),
    ident=_VALUES,
)
def test_checked_profile_is_pydantics_on_any_values(
    person: dict[str, Any], preferences: dict[str, Any] | None, ident: Any
) -> None:
    engine = _shipped()
    data: dict[str, Any] = {"id": ident, "person": {"role": "teacher", "experience_years": 3}}
    data["person"].update(person)
    if preferences is not None:
        data["preferences"] = preferences
    _same(data, engine)


def test_evaluate_takes_the_plain_profile(engine: Engine) -> None:
    data = next(iter(synthetic_profiles(engine.kb, 1, 5)))
    prof, results = parsed_apart_or_whole(data, engine.kb, fields_set_kept=False)
    assert results is not None and not prof.results
    assert _state(prof) == _state(_by_pydantic(data, engine))
    # the batch's way keeps pydantic's fields set (preferences left out stay unset)
    kept, _ = parsed_apart_or_whole(data, engine.kb)
    assert kept == prof


# --- the trace as rows -------------------------------------------------------------


def _entries(engine: Engine, data: dict[str, Any]) -> list[TraceEntry]:
    """The profile's trace as ``inference.run`` gives it (TraceEntries)."""
    prof, results = parsed_apart_or_whole(data, engine.kb, fields_set_kept=False)
    assert results is not None
    norm = normalise_apart(prof, results, engine.kb)
    matcher = engine._fast.fresh(norm.competency_pct)
    _store, trace = run(
        engine.strata,
        base_facts(norm, engine.kb),
        matcher,
        engine._enricher(norm),
        engine.firing_limit,
        distinct=True,
    )
    return trace


def test_a_results_trace_is_made_of_its_rows_when_read(engine: Engine) -> None:
    for data in synthetic_profiles(engine.kb, 60, 8):
        result = engine.evaluate(data)
        assert type(result.__dict__["trace"]) is TraceRows
        json_before = result.to_json()
        pickled = pickle.dumps(result)
        loaded = pickle.loads(pickled)
        assert type(loaded.__dict__["trace"]) is TraceRows  # loaded as rows too
        trace = result.trace
        assert type(trace) is tuple and all(type(e) is TraceEntry for e in trace)
        assert trace is result.trace  # made once
        assert list(trace) == _entries(engine, data)
        assert result.to_json() == json_before
        assert pickle.dumps(result) == pickled
        assert loaded == result and result == loaded
        assert pickle.dumps(loaded) == pickled
        assert result.json_data() == loaded.json_data()
        replaced = dataclasses.replace(result, trace=())
        assert replaced.trace == () and replaced.deficits == result.deficits


def test_results_sharing_their_rows_pickle_as_apart(engine: Engine) -> None:
    # two Results holding one TraceRows pickle as two made with TraceEntries: each
    # Result's rows are tuples of its own (pickle's memo would join shared ones)
    data = next(iter(synthetic_profiles(engine.kb, 1, 9)))
    _prof, first = engine.diagnose(data)
    second = engine._made(
        _prof, first.scores, first.provenance, list(first.deficits), list(first.needs), []
    )
    object.__setattr__(second, "trace", first.__dict__["trace"])
    lazy = pickle.dumps([first, second])
    read = first.trace
    object.__setattr__(second, "trace", read)
    assert pickle.dumps([first, second]) == lazy


def test_a_result_made_by_hand_keeps_its_entries() -> None:
    entry = TraceEntry.of("R", ({"type": "x"},), ())
    result = Result("p", (), (), (), (entry,))
    assert result.trace == (entry,) and result.trace[0] is entry
    assert pickle.loads(pickle.dumps(result)) == result
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.trace = ()  # type: ignore[misc]


@pytest.mark.parametrize("rows", [False, True])
def test_the_firing_limit_names_the_rules_from_the_rows(engine: Engine, rows: bool) -> None:
    data = next(iter(synthetic_profiles(engine.kb, 1, 3)))
    prof, results = parsed_apart_or_whole(data, engine.kb, fields_set_kept=False)
    assert results is not None
    norm = normalise_apart(prof, results, engine.kb)
    errors = []
    for matcher in (engine._fast.fresh(norm.competency_pct), PythonMatcher(engine.strata)):
        with pytest.raises(FiringLimitError) as caught:
            run(
                engine.strata,
                base_facts(norm, engine.kb),
                matcher,
                engine._enricher(norm),
                5,
                budget=10**6,
                distinct=True,
                rows=rows,
            )
        errors.append(caught.value)
    assert errors[0].rules and errors[0].rules == errors[1].rules
    assert str(errors[0]) == str(errors[1])


# --- a result's score and max checked by comparisons alone ---------------------------


def _checked_by_isfinite(score: Any, maximum: Any) -> bool:
    """``checked_results``' test of a score and max as it was written with isfinite."""
    for value, above_zero in ((score, False), (maximum, True)):
        if type(value) is float:
            if not (math.isfinite(value) and (value > 0 if above_zero else value >= 0)):
                return False
        elif (
            type(value) is not int
            or not (value > 0 if above_zero else value >= 0)
            or (value > 2**53)
        ):
            return False
    return bool(score <= maximum)


_EDGES = [0.0, -0.0, 5e-324, 1.0, 7, 0, -1, -5e-324, float("nan"), float("inf"), -float("inf")]
_EDGES += [sys.float_info.max, -sys.float_info.max, 2**53, 2**53 + 1]


@settings(max_examples=300, deadline=None)
@given(
    score=st.one_of(st.floats(), st.integers(-5, 2**54), st.sampled_from(_EDGES)),
    maximum=st.one_of(st.floats(), st.integers(-5, 2**54), st.sampled_from(_EDGES)),
)
def test_a_score_and_max_are_checked_as_by_isfinite(score: Any, maximum: Any) -> None:
    row = [{"competency": "normative.fgos", "score": score, "max": maximum}]
    got = plain_module.checked_results(row, _shipped().kb) is not None
    assert got == _checked_by_isfinite(score, maximum)


# --- the provenance as runs ------------------------------------------------------------


def test_the_provenance_is_made_of_its_runs_when_read(engine: Engine) -> None:
    kb = engine.kb
    for data in synthetic_profiles(kb, 60, 12):
        result = engine.evaluate(data)
        runs = result.__dict__["provenance"]
        assert type(runs) is PlainProvenance
        pickled = pickle.dumps(result)
        # each Provenance's values as the pickle flattens a read one, the same objects
        made = runs.entries()
        assert runs.rows() == tuple(tuple(vars(p).values()) for p in made)
        for row, p in zip(runs.rows(), made, strict=True):
            assert all(a is b for a, b in zip(row, vars(p).values(), strict=True))
        read = result.provenance
        assert type(read) is tuple and read is result.provenance
        # the whole profile's policy path makes the same Provenances
        whole = profile_module.normalise(profile_module.parse_profile(copy.deepcopy(data), kb), kb)
        assert read == whole.provenance
        assert [list(vars(p).items()) for p in read] == [
            list(vars(p).items()) for p in whole.provenance
        ]
        assert pickle.dumps(result) == pickled
        assert pickle.loads(pickled) == result
        prof, results = parsed_apart_or_whole(data, kb, fields_set_kept=False)
        assert results is not None
        norm = normalise_apart(prof, results, kb)
        assert type(norm.__dict__["provenance"]) is PlainProvenance
        assert norm.provenance == whole.provenance
        assert norm == dataclasses.replace(norm)
