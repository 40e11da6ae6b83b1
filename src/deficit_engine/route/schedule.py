"""Scheduling a route into months: its period and monthly hours, and list scheduling within them.

The period and the hours a month are the profile's, else defaults that never
depend on the clock unless the caller passes ``today``. Steps take the hours
the monthly budget leaves, in topological order, in hundredths of an hour and
month indexes (see :mod:`deficit_engine.months`), so sums are exact and
stepping a month is ``+ 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..schema import Profile
from .drafts import Draft

__all__ = [
    "DEFAULT_HOURS_PER_MONTH",
    "DEFAULT_PERIOD",
    "schedule",
    "school_year",
    "settings",
]

#: The period when the profile names none and the caller passes no date: the
#: school year September 2026 - May 2027 (fixed, so results never depend on the clock).
DEFAULT_PERIOD: tuple[str, str] = ("2026-09", "2027-05")
#: Hours a month when the profile names none: about four hours a week.
DEFAULT_HOURS_PER_MONTH: float = 16.0


def school_year(today: date) -> tuple[str, str]:
    """The next school year September-May: its September is the first not before ``today``."""
    if not isinstance(today, date):
        raise TypeError(f"today must be a datetime.date, not {type(today).__name__}")
    year = today.year if today.month <= 9 else today.year + 1
    return (f"{year:04d}-09", f"{year + 1:04d}-05")


def settings(profile: Profile, today: date | None) -> tuple[str, str, float, tuple[str, ...]]:
    """The route's first and last month, its hours a month, and which of
    ``"period"``, ``"hours_per_month"`` were defaulted (the profile names none)."""
    prefs = profile.preferences
    defaults: list[str] = []
    if prefs.period is not None:
        start, end = prefs.period.start, prefs.period.end
    else:
        start, end = DEFAULT_PERIOD if today is None else school_year(today)
        defaults.append("period")
    if prefs.hours_per_month is not None:
        hours = float(prefs.hours_per_month)
    else:
        hours = DEFAULT_HOURS_PER_MONTH
        defaults.append("hours_per_month")
    return start, end, hours, tuple(defaults)


def schedule(
    drafts: Sequence[Draft],
    topo: Sequence[int],
    direct: Sequence[Sequence[int]],
    first: int,
    budget: int,
) -> dict[int, list[tuple[int, int]]]:
    """List scheduling, in hundredths of an hour: month index -> hours, per draft.

    In topological order (ties by priority), each step starts in the month its
    last predecessor ends (or the first month; later when that month is full)
    and takes what the monthly budget leaves, month after month, until done.
    """
    if budget <= 0:  # the profile schema asks for at least 1 h a month; never loop forever
        raise ValueError(f"monthly budget of {budget / 100} h: nothing could ever be scheduled")
    used: dict[int, int] = {}
    # Full month -> a later month such that every month in between is full:
    # a step jumps over a run of full months at once (paths are shortened).
    skip: dict[int, int] = {}
    alloc: dict[int, list[tuple[int, int]]] = {}
    for n in topo:
        month = first  # no step ends before the first month: max(ends) == max(first, ends)
        for p in direct[n]:
            end = alloc[p][-1][0]
            if end > month:
                month = end
        left = drafts[n].centi
        parts: list[tuple[int, int]] = []
        while left > 0:
            if month in skip:
                passed = []
                while month in skip:
                    passed.append(month)
                    month = skip[month]
                for m in passed:
                    skip[m] = month
            free = budget - used.get(month, 0)
            if free > 0:
                take = free if free < left else left
                used[month] = budget - free + take
                parts.append((month, take))
                if take == free:
                    skip[month] = month + 1
                left -= take
                if not left:
                    break
            month += 1
        alloc[n] = parts or [(month, 0)]
    return alloc
