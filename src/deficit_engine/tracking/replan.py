"""Replanning a route after a re-diagnosis: :func:`revise`.

After marks and a re-diagnosis, a route is revised rather than made anew: what
the teacher has done stays, what is still needed keeps its months where it can,
what the re-diagnosis no longer asks for is dropped with its reason, and what it
newly finds is scheduled from the current month (docs/tracking.md, "Revising a
route"). The result depends only on its arguments: ``today`` included.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..models import Overflow, Result, Route, Step, StepMark
from ..models.route import centi
from ..months import month_index, month_text
from ..route.schedule import overflow
from .compare import Evaluator, FieldsAsJson, as_result
from .marks import latest_marks

__all__ = ["DROP_REASONS", "Dropped", "Revision", "revise"]

#: Why a step leaves the route: code -> the reason in Russian.
DROP_REASONS: dict[str, str] = {
    "closed": "по результатам повторной диагностики дефицит по компетенциям шага не выявлен",
    "skipped": "шаг отмечен тьютором как пропущенный",
    "rediagnosed": "повторная диагностика проведена, других шагов в маршруте не осталось",
}

#: The kind of step that closes a route by diagnosing again.
_REDIAGNOSIS = "rediagnosis"


@dataclass(frozen=True)
class Dropped(FieldsAsJson):
    """A step of the earlier route the revision leaves out, and why.

    Attributes
    ----------
    step : str
        The step's id.
    competencies : tuple of str
        What it worked on.
    code : str
        ``closed``, ``skipped`` or ``rediagnosed`` (:data:`DROP_REASONS`).
    reason : str
        The reason, in Russian.
    """

    step: str
    competencies: tuple[str, ...]
    code: str
    reason: str


@dataclass(frozen=True)
class Revision:
    """A revised route and what happened to each step (:func:`revise`).

    Attributes
    ----------
    route : Route
        The revised route: kept steps with their ids, then the new ones.
    today : str
        The day it was revised on, ``YYYY-MM-DD``.
    done : tuple of str
        Steps marked done: kept as they were.
    kept : tuple of str
        Steps not done that keep their months.
    moved : tuple of str
        Steps not done that had to move (their months passed, or a step before
        them moved).
    dropped : tuple of Dropped
        Steps left out, with the reason.
    added : tuple of str
        New steps for new needs, scheduled from the current month.
    """

    route: Route
    today: str
    done: tuple[str, ...]
    kept: tuple[str, ...]
    moved: tuple[str, ...]
    dropped: tuple[Dropped, ...]
    added: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The revision as a JSON-ready dict.

        Returns
        -------
        dict
            ``today``, ``done``, ``kept``, ``moved``, ``dropped``, ``added``, ``route``.
        """
        return {
            "today": self.today,
            "done": list(self.done),
            "kept": list(self.kept),
            "moved": list(self.moved),
            "dropped": [d.to_dict() for d in self.dropped],
            "added": list(self.added),
            "route": self.route.to_dict(),
        }


def revise(
    route_or_result: Route | Result,
    marks: Sequence[StepMark],
    new_profile: Any,
    today: datetime.date | str | None = None,
    *,
    engine: Evaluator | None = None,
) -> Revision:
    """Replan a route after a re-diagnosis, keeping what was done.

    Parameters
    ----------
    route_or_result : Route or Result
        The route being followed, or the planned Result that holds it.
    marks : sequence of StepMark
        The tutor's marks on its steps (the latest per step counts).
    new_profile : Result or profile
        The re-diagnosis: its planned Result, or a profile ``engine`` evaluates.
    today : date or str, optional
        The day of the revision (``YYYY-MM-DD``); its month is the current month.
        Today's date when omitted: pass it for a reproducible result.
    engine : Evaluator, optional
        What evaluates ``new_profile`` when it is a profile.

    Returns
    -------
    Revision
        The revised route and, per step, whether it was done, kept, moved,
        dropped (with the reason) or added.

    Raises
    ------
    UsageError
        If there is no route to revise, the re-diagnosis has no route (it was
        not planned), a profile comes without an engine, the two are of
        different persons, or ``today`` is not a date.
    """
    old = _route_of(route_or_result)
    new = as_result(new_profile, engine, "new_profile")
    if isinstance(route_or_result, Result) and route_or_result.profile != new.profile:
        raise UsageError(
            f"revise: the route is of '{route_or_result.profile}', "
            f"the re-diagnosis of '{new.profile}'"
        )
    if new.route is None:
        raise UsageError("revise: the re-diagnosis has no route (evaluate it, not diagnose)")
    day = _day(today).isoformat()
    # a mark dated after today has not happened yet, as of today
    known = [m for m in marks if m.date is None or m.date <= day]
    plan = _Plan(old, latest_marks(known), _needed(new), month_index(day[:7]))
    plan.carry()
    plan.add(new.route)
    plan.close()
    return plan.revision(day)


def _route_of(item: Route | Result) -> Route:
    route = item.route if isinstance(item, Result) else item
    if not isinstance(route, Route):
        raise UsageError("revise: a Route, or a Result with a route, is required")
    return route


def _day(today: datetime.date | str | None) -> datetime.date:
    if today is None:
        return datetime.date.today()
    if isinstance(today, datetime.datetime):
        return today.date()  # a moment: its day (a datetime is a date, with a time)
    if isinstance(today, datetime.date):
        return today
    try:
        return datetime.date.fromisoformat(today)
    except (TypeError, ValueError):
        raise UsageError(f"revise: today: {today!r} is not a date YYYY-MM-DD") from None


def _needed(result: Result) -> frozenset[str]:
    """The competencies the re-diagnosis still asks work on: deficits and needs."""
    needs = {n.competency for n in result.needs if n.competency is not None}
    return frozenset({d.competency for d in result.deficits} | needs)


def _shifted(step: Step, months: int, after: tuple[str, ...], new_id: str | None = None) -> Step:
    """``step`` ``months`` later (its hours in the same months of its span)."""

    def move(month: str) -> str:
        return month_text(month_index(month) + months)

    return step._replace(
        id=new_id or step.id,
        start=move(step.start),
        end=move(step.end),
        allocation=tuple((move(m), h) for m, h in step.allocation),
        after=after,
    )


class _Plan:
    """One revision under way: the steps placed so far and what happened to each."""

    def __init__(
        self, old: Route, marks: dict[str, StepMark], needed: frozenset[str], now: int
    ) -> None:
        self.old, self.marks, self.needed, self.now = old, marks, needed, now
        self.steps: list[Step] = []
        self.outcome: dict[str, list[str]] = {"done": [], "kept": [], "moved": [], "added": []}
        self.dropped: list[Dropped] = []
        self.closing: Step | None = None  # the old re-diagnosis, placed last

    def status(self, step: Step) -> str | None:
        mark = self.marks.get(step.id)
        return None if mark is None else mark.status

    def drop(self, step: Step, code: str) -> None:
        self.dropped.append(Dropped(step.id, step.competencies, code, DROP_REASONS[code]))

    def carry(self) -> None:
        """The earlier route's steps: done ones as they are, needed ones placed, others out."""
        for step in self.old.steps:
            status = self.status(step)
            if status == "done":
                self.steps.append(step)
                self.outcome["done"].append(step.id)
            elif status == "skipped":
                self.drop(step, "skipped")
            elif step.kind == _REDIAGNOSIS and status != "in_progress":
                self.closing = step
            elif status == "in_progress" or self.needed & set(step.competencies):
                # a step under way keeps its months even if no longer needed: it is begun
                self.place(step, fixed=status == "in_progress")
            else:
                self.drop(step, "closed")

    def place(self, step: Step, *, fixed: bool = False) -> None:
        """Put a step not yet done at its months, or later when they passed or its
        predecessors now end later; predecessors that left the route are forgotten."""
        placed = {s.id: s for s in self.steps}
        after = tuple(a for a in step.after if a in placed)
        earliest = max([self.now, *(month_index(placed[a].end) for a in after)])
        start = month_index(step.start)
        shift = 0 if fixed else max(0, earliest - start)
        self.steps.append(_shifted(step, shift, after))
        self.outcome["moved" if shift else "kept"].append(step.id)

    def add(self, new_route: Route) -> None:
        """The re-diagnosis's steps for needs no placed step serves, from the current month.

        A need is a competency and a kind of step (programme, mentoring, format...).
        """
        # a need is a competency and the kind of work on it: a deficit that worsened
        # may now ask for a programme where formats were enough before
        covered = {(c, s.kind) for s in self.steps for c in s.competencies}
        chosen = [
            s
            for s in new_route.steps
            if s.kind != _REDIAGNOSIS
            and any(c in self.needed and (c, s.kind) not in covered for c in s.competencies)
        ]
        if not chosen:
            return
        offset = self.now - min(month_index(s.start) for s in chosen)
        number = 1 + max((_number(s.id) for s in self.old.steps), default=0)
        ids = {s.id: f"s{number + i}" for i, s in enumerate(chosen)}
        for s in chosen:
            after = tuple(ids[a] for a in s.after if a in ids)
            self.steps.append(_shifted(s, offset, after, ids[s.id]))
            self.outcome["added"].append(ids[s.id])

    def close(self) -> None:
        """The old re-diagnosis step goes last, while steps remain to be done."""
        step = self.closing
        if step is None:
            return
        done = set(self.outcome["done"])
        pending = [s for s in self.steps if s.id not in done]
        if not pending:
            self.drop(step, "rediagnosed")
            return
        last = max(month_index(s.end) for s in pending)
        earliest = max(self.now, last)
        shift = earliest - month_index(step.start)
        after = tuple(s.id for s in pending if month_index(s.end) == last)
        self.steps.append(_shifted(step, shift, after))
        self.outcome["moved" if shift else "kept"].append(step.id)

    def revision(self, today: str) -> Revision:
        old = self.old
        ids = {s.id for s in self.steps}
        # an order conflict of the old route still holds while both its steps remain
        conflicts = tuple(c for c in old.conflicts if c.before in ids and c.after in ids)
        route = dataclasses.replace(
            old, steps=tuple(self.steps), overflow=_overflow(self.steps, old), conflicts=conflicts
        )
        return Revision(
            route=route,
            today=today,
            done=tuple(self.outcome["done"]),
            kept=tuple(self.outcome["kept"]),
            moved=tuple(self.outcome["moved"]),
            dropped=tuple(self.dropped),
            added=tuple(self.outcome["added"]),
        )


def _number(step_id: str) -> int:
    """The number of an ``s7``-style id (0 for another form)."""
    return int(step_id[1:]) if step_id[:1] == "s" and step_id[1:].isdigit() else 0


def _overflow(steps: Sequence[Step], route: Route) -> Overflow | None:
    """How far the revised steps run past the route's period (None when they fit)."""
    scheduled = [(i, s) for i, s in enumerate(steps) if s.allocation]
    alloc = {i: [(month_index(m), centi(h)) for m, h in s.allocation] for i, s in scheduled}
    ids = {i: s.id for i, s in scheduled}
    return overflow(alloc, [i for i, _s in scheduled], ids, route.period, route.hours_per_month)
