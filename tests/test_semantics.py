"""The exact condition semantics (``inference.holds``), operator by operator.

Every backend is held to these answers by the differential tests; the cases here pin
the corners those tests reach only by chance: a missing field, a reference to a
missing field, booleans that are not numbers, and values of different kinds."""

from __future__ import annotations

from typing import Any

import pytest

from deficit_engine.inference import holds
from deficit_engine.rules import OPERATORS, Cond, Ref

BOUND = ({"type": "earlier", "n": 2.0, "s": "b"},)  # the fact bound to alias "e"
ALIASES = {"e": 0}
N, S, ABSENT = Ref("e", "n"), Ref("e", "s"), Ref("e", "absent")

CASES: list[tuple[str, Any, Any, bool]] = [
    # (operator, operand, the fact's field value (ABSENT: no such field), holds)
    ("exists", True, 1.0, True),
    ("exists", False, 1.0, False),
    ("exists", True, ABSENT, False),
    ("exists", False, ABSENT, True),
    ("eq", 1.0, ABSENT, False),  # no condition but `exists: false` holds on a missing field
    ("ne", 1.0, ABSENT, False),
    ("not_in", [1.0], ABSENT, False),
    ("eq", 2.0, 2, True),
    ("eq", N, 2.0, True),
    ("eq", ABSENT, 2.0, False),  # a reference to a missing field equals nothing
    ("ne", ABSENT, 2.0, False),  # ... and differs from nothing
    ("ne", "1", 1.0, True),
    ("lt", 2.0, 1.0, True),
    ("lt", "b", "a", True),
    ("lt", S, "a", True),
    ("lt", "b", 1.0, False),  # a number and a string do not compare
    ("lt", 2.0, True, False),  # a boolean is not a number here
    ("le", 2.0, 2.0, True),
    ("gt", N, 3.0, True),
    ("gt", ABSENT, 3.0, False),
    ("ge", 2.0, 2.0, True),
    ("ge", 2.0, False, False),
    ("in", ["a", "b"], "b", True),
    ("in", [S], "b", True),
    ("in", [ABSENT], "b", False),  # the missing reference is skipped
    ("in", [], "b", False),
    ("not_in", ["a"], "b", True),
    ("not_in", [ABSENT], "b", True),
    ("not_in", [S], "b", False),
    ("between", [1.0, 3.0], 2.0, True),
    ("between", [1.0, N], 2.0, True),
    ("between", [1.0, 3.0], 3.5, False),
    ("between", ["a", "c"], "b", True),
    ("between", [1.0, ABSENT], 2.0, False),
    ("between", [0.0, 3.0], True, False),
    ("between", [1.0, 3.0], "b", False),
    ("contains", "a", ["a", "b"], True),
    ("contains", "c", ["a", "b"], False),
    ("contains", "a", "abc", False),  # only a list contains
]


@pytest.mark.parametrize(("op", "operand", "value", "expected"), CASES)
def test_holds(op: str, operand: Any, value: Any, expected: bool) -> None:
    fact = {"type": "t"} if value is ABSENT else {"type": "t", "x": value}
    assert holds(Cond("x", op, operand), fact, BOUND, ALIASES) is expected


def test_every_operator_the_parser_accepts_is_covered() -> None:
    assert {op for op, *_ in CASES} == set(OPERATORS)
