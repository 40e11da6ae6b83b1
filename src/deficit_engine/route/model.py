"""The value types of a route: :class:`Step`, :class:`Overflow`, :class:`Conflict`, :class:`Route`.

They are what :func:`~deficit_engine.route.build_route` returns, frozen so a
Route can be shared and compared. Their JSON form (``to_dict``) is the route of
``Result.route``; :func:`step_dict` and :func:`route_dict` write the same JSON
from plain fields, so :func:`~deficit_engine.route.plan` can export a route
without making the objects (they run once per profile in large batches).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

__all__ = [
    "STEP_KINDS",
    "Conflict",
    "Overflow",
    "Route",
    "Step",
    "centi",
    "route_dict",
    "step_dict",
]

#: The kinds of step, in the order a tie in scheduling priority puts them.
STEP_KINDS = ("program", "mentoring", "format", "self_education", "rediagnosis")


def centi(hours: float) -> int:
    """Hours in hundredths: the route adds and compares hours as exact ints."""
    return round(float(hours) * 100)


def _hours(hundredths: int) -> float | int:
    """Hundredths of an hour as the JSON shows hours: an int when whole."""
    return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100


@dataclass(frozen=True)
class Step:
    """One step of the route, scheduled."""

    id: str
    kind: str  # program | mentoring | format | self_education | rediagnosis
    ref: str | None  # the catalogue id it uses (programme, mentor or format)
    title: str
    competencies: tuple[str, ...]
    education: str
    phase: str
    level: str | None
    start: str
    end: str
    hours: float
    allocation: tuple[tuple[str, float], ...]  # month -> hours in that month
    after: tuple[str, ...]  # step ids that end before this one starts
    responsible: str
    rules: tuple[str, ...]
    extra: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return step_dict(
            self.id,
            self.kind,
            self.ref,
            self.title,
            self.competencies,
            self.education,
            self.phase,
            self.level,
            self.start,
            self.end,
            round(self.hours * 100),
            [(m, round(h * 100)) for m, h in self.allocation],
            self.after,
            self.responsible,
            self.rules,
            self.extra,
        )


def step_dict(
    step_id: str,
    kind: str,
    ref: str | None,
    title: str,
    competencies: Sequence[str],
    education: str,
    phase: str,
    level: str | None,
    start: str,
    end: str,
    centi: int,
    allocation: Sequence[tuple[str, int]],
    after: Sequence[str],
    responsible: str,
    rules: Sequence[str],
    extra: Sequence[tuple[str, Any]],
) -> dict[str, Any]:
    """:meth:`Step.to_dict` of a step with these fields, hours in hundredths
    (so :func:`plan` can export a route without making its Step objects)."""
    out: dict[str, Any] = {
        "id": step_id,
        "kind": kind,
        "ref": ref,
        "title": title,
        "competencies": list(competencies),
        "education": education,
        "phase": phase,
        "level": level,
        "start": start,
        "end": end,
        "hours": _hours(centi),
        "allocation": {m: c // 100 if c % 100 == 0 else c / 100 for m, c in allocation},
        "after": list(after),
        "responsible": responsible,
        "rules": list(rules),
    }
    for key, value in extra:
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass(frozen=True)
class Overflow:
    """The route does not fit its period: by how much and which steps spill over."""

    months: int  # months used after the period's last month
    end: str  # the route's last month
    hours: float  # hours scheduled after the period
    steps: tuple[str, ...]  # ids of the steps that end after the period
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "end": self.end,
            "hours": _hours(round(self.hours * 100)),
            "steps": list(self.steps),
            "message": self.message,
        }


@dataclass(frozen=True)
class Conflict:
    """An order the ontology asks for that bundled steps make impossible."""

    before: str
    after: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"before": self.before, "after": self.after, "reason": self.reason}


@dataclass(frozen=True)
class Route:
    """The scheduled route. ``graph`` has one node per step id (attribute ``step``)."""

    period: tuple[str, str]
    hours_per_month: float
    defaults: tuple[str, ...]  # which of "period", "hours_per_month" were defaulted
    steps: tuple[Step, ...]
    overflow: Overflow | None
    conflicts: tuple[Conflict, ...]
    graph: nx.DiGraph = field(compare=False, repr=False)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        load: dict[str, int] = {}
        for s in self.steps:
            for m, h in s.allocation:
                load[m] = load.get(m, 0) + round(h * 100)
        return route_dict(
            self.period,
            self.hours_per_month,
            self.defaults,
            [s.to_dict() for s in self.steps],
            load,
            sum(round(s.hours * 100) for s in self.steps),
            self.overflow,
            self.conflicts,
        )


def route_dict(
    period: tuple[str, str],
    hours_per_month: float,
    defaults: tuple[str, ...],
    steps: Sequence[dict[str, Any]],
    load: Mapping[str, int],
    total: int,
    overflow: Overflow | None,
    conflicts: Sequence[Conflict],
) -> dict[str, Any]:
    """:meth:`Route.to_dict` of a route with these fields: ``steps`` as dicts,
    ``load`` (month -> hours) and ``total`` in hundredths of an hour."""
    return {
        "period": {"start": period[0], "end": period[1]},
        "hours_per_month": _hours(round(hours_per_month * 100)),
        "defaults": list(defaults),
        "start": min([s["start"] for s in steps], default=None),
        "end": max([s["end"] for s in steps], default=None),
        "total_hours": _hours(total),
        "steps": list(steps),
        "load": {m: _hours(load[m]) for m in sorted(load)},
        "overflow": None if overflow is None else overflow.to_dict(),
        "conflicts": [c.to_dict() for c in conflicts],
    }
