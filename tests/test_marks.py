"""StepMark: a tutor's mark is checked field by field."""

from __future__ import annotations

import pytest

from deficit_engine.errors import UsageError
from deficit_engine.models import MARK_STATUSES, StepMark


def test_a_valid_mark_keeps_its_fields() -> None:
    mark = StepMark.make("S01", "done", "2027-03-15", " удостоверение № 123 ")
    assert mark.to_dict() == {
        "step": "S01",
        "status": "done",
        "date": "2027-03-15",
        "evidence": "удостоверение № 123",
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "done"), "step"),
        (("S01", "finished"), "status"),
        (("S01", "done", "15.03.2027"), "date"),
        (("S01", "done", None, "x" * 501), "evidence"),
        (("S01", "done", None, "a\nb"), "evidence"),
    ],
)
def test_a_bad_field_is_named(args: tuple[str, ...], field: str) -> None:
    with pytest.raises(UsageError, match=f"mark: {field}:"):
        StepMark.make(*args)


def test_statuses_are_in_the_order_a_step_goes_through_them() -> None:
    assert MARK_STATUSES == ("planned", "in_progress", "done", "skipped")
