"""Result.to_json through orjson is byte for byte what json.dumps wrote (models/jsontext.py)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from typing import Any

import pytest

from deficit_engine import Engine, synthetic_profiles
from deficit_engine.models import Provenance, Result, jsontext
from deficit_engine.models.jsontext import dumps_indented


def _reference(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


@pytest.fixture(scope="module")
def results() -> list[Result]:
    engine = Engine.from_path(backend="fast")
    return [engine.evaluate(p) for p in synthetic_profiles(engine.kb, 2_000, seed=1616)]


def test_results_are_written_as_json_dumps_writes_them(results: list[Result]) -> None:
    """Evaluated Results, with and without their trace: the same text, and orjson wrote it."""
    assert all(r.ok and r.route is not None for r in results)
    for r in results:
        for trace in (True, False):
            data = r.to_dict(trace)
            assert jsontext._plain(data), r.profile  # the fast path was the one taken
            assert r.to_json(trace) == _reference(data), r.profile


def test_one_line_json_is_still_json_dumps(results: list[Result]) -> None:
    r = results[0]
    assert r.to_json(indent=None) == json.dumps(r.to_dict(), ensure_ascii=False)
    assert r.to_json(indent=4) == json.dumps(r.to_dict(), ensure_ascii=False, indent=4)


class _Colour(enum.Enum):
    RED = "red"


class _Level(str, enum.Enum):
    LOW = "low"


@dataclasses.dataclass
class _Point:
    x: int


# What orjson writes differently from json.dumps, or refuses: each must come out as
# json.dumps writes it (or fail as json.dumps fails).
ODD_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    1e-5,
    -3.3e-7,
    1e-9,
    9.99e-5,
    5e-324,
    2**64,
    -(2**70),
    "lone \ud800 surrogate",
    "control \x00\x1b\x1f\x7f and \u2028 ё",
    _Level.LOW,
    {1: "int key"},
    {None: "none key", True: "bool key", 1.5: "float key"},
    ("a", "tuple"),
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_odd_values_are_written_as_json_dumps_writes_them(value: Any) -> None:
    data = {"facts": [{"type": "odd", "value": value}], "empty": [], "none": {}}
    assert dumps_indented(data) == _reference(data)


@pytest.mark.parametrize("value", [_Colour.RED, _Point(1), datetime.date(2026, 1, 1)], ids=repr)
def test_values_json_refuses_are_refused(value: Any) -> None:
    """orjson writes these; json.dumps does not, and neither may the Result's writer."""
    with pytest.raises(TypeError):
        dumps_indented({"value": [value]})


def test_deep_and_cyclic_data_behave_as_json_dumps() -> None:
    deep: Any = "leaf"
    for _ in range(300):  # past orjson's 255 levels
        deep = [deep]
    assert dumps_indented(deep) == _reference(deep)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular"):
        dumps_indented(cyclic)


def test_small_floats_in_a_result_fall_back(results: list[Result]) -> None:
    """A Result built with a float orjson writes differently is still written as before."""
    odd = dataclasses.replace(results[0], facts=({"type": "tiny", "v": 1e-6},))
    assert not jsontext._plain(odd.to_dict())
    assert odd.to_json() == _reference(odd.to_dict())


def test_provenance_to_dict_is_asdict() -> None:
    """Written out by hand for speed; still every field, in the class's order."""
    p = Provenance("c", "competency", 50.0, "ЦНППМ", "cnppm", "cnppm_test", "2026-01-01", 2)
    assert p.to_dict() == dataclasses.asdict(p)
    assert list(p.to_dict()) == [f.name for f in dataclasses.fields(p)]
