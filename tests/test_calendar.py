"""Routes a person can live with: the KB calendar's holidays and programmes that fit the period.

Issue 13, part 5: no step starts or runs in a holiday month (July and August by
default, configurable in ``planning.calendar``), and the set cover passes over a
programme that cannot finish within the person's period when another choice can.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from deficit_engine import Engine, KnowledgeBase, load_kb
from deficit_engine.errors import KnowledgeBaseError
from deficit_engine.models import Result
from deficit_engine.period import period_hours, working_months
from deficit_engine.schema import Calendar, Planning

MANAGEMENT = ("management.strategy", "management.quality", "management.team", "management.finance")


@cache
def shipped() -> Engine:
    return Engine(load_kb(), backend="python")


def director(start: str, end: str, hours: int = 20, score: int = 13) -> dict[str, Any]:
    """A synthetic school head with four management deficits (65 %: the moderate band)."""
    return {
        "id": "D-0001",
        "person": {
            "role": "manager",
            "experience_years": 6,
            "organization": "МБОУ СОШ № 1",
            "municipality": "Анучинский МО",
        },
        "preferences": {"hours_per_month": hours, "period": {"start": start, "end": end}},
        "results": [{"competency": c, "score": score, "max": 20} for c in MANAGEMENT],
    }


def programmes(result: Result) -> list[str]:
    return [r.id for r in result.recommendations if r.kind == "program"]


def months_used(result: Result) -> set[int]:
    assert result.route is not None
    return {int(m[5:7]) for s in result.route.steps for m, _h in s.allocation}


def with_holidays(kb: KnowledgeBase, holidays: list[int]) -> KnowledgeBase:
    planning = kb.planning.planning.model_copy(update={"calendar": Calendar(holidays=holidays)})
    return dataclasses.replace(kb, planning=kb.planning.model_copy(update={"planning": planning}))


def test_shipped_calendar_has_summer_holidays() -> None:
    assert shipped().kb.planning.planning.calendar.holidays == [7, 8]
    assert Planning().calendar.holidays == [7, 8]  # the default without planning.yaml


def test_working_months_leave_out_holidays() -> None:
    summer = Calendar()
    assert working_months("2026-09", "2027-08", summer) == 10
    assert working_months("2026-06", "2026-09", summer) == 2
    assert working_months("2026-06", "2026-09", Calendar(holidays=[])) == 4


def test_director_route_fits_two_school_years() -> None:
    # Issue 13: four moderate management deficits, 20 h a month. The 504-hour
    # переподготовка DPP-0071 covers three of them but cannot finish in
    # 19 working months x 20 h = 380 h; shorter programmes serve each need.
    result = shipped().evaluate(director("2026-09", "2028-05"))
    assert {d.competency for d in result.deficits} == set(MANAGEMENT)
    assert "DPP-0071" not in programmes(result)
    assert len(programmes(result)) == 4
    assert result.route is not None and result.route.overflow is None
    assert max(s.end for s in result.route.steps) <= "2028-05"
    assert not months_used(result) & {7, 8}


def test_reason_says_the_long_programme_would_not_finish() -> None:
    result = shipped().evaluate(director("2026-09", "2028-05"))
    reasons = [r.reason for r in result.recommendations if r.kind == "program"]
    assert any("DPP-0071 (504 ч) не завершить за период маршрута (380 ч)" in r for r in reasons)


def test_school_year_director_overflows_by_months_not_years() -> None:
    # One school year holds 180 h: even the shortest programmes (160 h) and the
    # mentoring do not fit, but the route no longer runs two years late.
    result = shipped().evaluate(director("2026-09", "2027-05"))
    assert "DPP-0071" not in programmes(result)
    assert result.route is not None and result.route.overflow is not None
    assert result.route.overflow.months <= 4
    assert not months_used(result) & {7, 8}


def test_overflow_says_why_when_no_programme_fits() -> None:
    # Two months of 20 h: no programme for management.finance fits (72 h, 504 h).
    result = shipped().evaluate(director("2026-09", "2026-10"))
    assert result.route is not None and result.route.overflow is not None
    message = result.route.overflow.message
    assert "длиннее всего периода" in message
    assert "DPP-0080 (72 ч)" in message or "DPP-0071 (504 ч)" in message


def test_no_step_starts_or_runs_in_holidays_across_a_summer() -> None:
    result = shipped().evaluate(director("2027-03", "2028-05", hours=8))
    used = months_used(result)
    assert not used & {7, 8}
    assert result.route is not None
    assert not {int(s.start[5:7]) for s in result.route.steps} & {7, 8}


def test_calendar_is_configurable() -> None:
    kb = with_holidays(shipped().kb, [])
    result = Engine(kb, backend="python").evaluate(director("2027-03", "2028-05", hours=8))
    assert months_used(result) & {7, 8}  # with no holidays the summer is used
    kb = with_holidays(shipped().kb, [1, 7, 8])
    result = Engine(kb, backend="python").evaluate(director("2027-03", "2028-05", hours=8))
    assert not months_used(result) & {1, 7, 8}


def test_period_hours_count_working_months_only() -> None:
    profile = shipped().parse(director("2026-09", "2027-08"))
    assert period_hours(profile, Calendar()) == 200.0
    assert period_hours(profile, Calendar(holidays=[])) == 240.0


def test_cohort_plan_follows_the_same_rule() -> None:
    cohort = shipped().plan_cohort([director("2026-09", "2028-05")])
    assert cohort.plan is not None
    resolution = cohort.plan.resolutions[0]
    assert resolution is not None
    chosen = [r.id for r in resolution.recommendations if r.kind == "program"]
    assert "DPP-0071" not in chosen and len(chosen) == 4


def write_kb(tmp_path: Path, holidays: Any) -> Path:
    kb = tmp_path / "kb"
    source = shipped().kb.root
    assert source is not None
    (kb / "ontology").mkdir(parents=True)
    for path in (source / "ontology").glob("*.yaml"):
        (kb / "ontology" / path.name).write_text(path.read_text(encoding="utf-8"), "utf-8")
    (kb / "rules").symlink_to(source / "rules")
    planning = kb / "ontology" / "planning.yaml"
    data = yaml.safe_load(planning.read_text(encoding="utf-8"))
    data["planning"]["calendar"] = {"holidays": holidays}
    planning.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return kb


@pytest.mark.parametrize("holidays", [[13], [7, 7], list(range(1, 13))])
def test_a_bad_calendar_is_named_in_planning_yaml(tmp_path: Path, holidays: list[int]) -> None:
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(write_kb(tmp_path, holidays))
    assert "planning.yaml" in str(err.value) and "calendar" in str(err.value)


def test_a_kb_calendar_is_read_from_planning_yaml(tmp_path: Path) -> None:
    kb = load_kb(write_kb(tmp_path, [6, 7, 8]))
    assert kb.planning.planning.calendar.holidays == [6, 7, 8]
