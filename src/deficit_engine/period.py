"""A route's period, its hours a month and the working months of the KB's calendar.

The resolver and the route builder both need them: the resolver to pass over
a programme that cannot finish within the period when another can, the
scheduler to spread hours over the working months only. They sit here, below
both stages, so that the two read one definition (docs/route.md, "The calendar").
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from .errors import WrongTypeError
from .months import month_index
from .schema import Calendar, Profile

__all__ = [
    "DEFAULT_HOURS_PER_MONTH",
    "DEFAULT_PERIOD",
    "is_holiday",
    "period_hours",
    "school_year",
    "settings",
    "working_months",
]

#: The period when the profile names none and the caller passes no date: the
#: school year September 2026 - May 2027 (fixed, so results never depend on the clock).
DEFAULT_PERIOD: tuple[str, str] = ("2026-09", "2027-05")
#: Hours a month when the profile names none: about four hours a week.
DEFAULT_HOURS_PER_MONTH: float = 16.0


def is_holiday(index: int, holidays: Collection[int]) -> bool:
    """Whether the month of a month index (:func:`~deficit_engine.months.month_index`)
    is one of the calendar's holiday months (1-12)."""
    return index % 12 + 1 in holidays


def working_months(start: str, end: str, calendar: Calendar) -> int:
    """How many months from ``start`` to ``end`` (``YYYY-MM``, both included) are not holidays.

    Parameters
    ----------
    start, end : str
        The period's first and last month.
    calendar : Calendar
        The KB's calendar (``planning.calendar`` of ``ontology/planning.yaml``).

    Returns
    -------
    int
        The working months of the period (0 when ``end`` is before ``start``).
    """
    first, last = month_index(start), month_index(end)
    holidays = frozenset(calendar.holidays)
    return sum(1 for m in range(first, last + 1) if not is_holiday(m, holidays))


def school_year(today: date) -> tuple[str, str]:
    """The next school year September-May: its September is the first not before ``today``.

    Parameters
    ----------
    today : datetime.date
        The date to count from.

    Returns
    -------
    (str, str)
        Its first and last month as ``YYYY-MM``.

    Raises
    ------
    WrongTypeError
        When ``today`` is not a date.
    """
    if not isinstance(today, date):
        raise WrongTypeError(f"today must be a datetime.date, not {type(today).__name__}")
    year = today.year if today.month <= 9 else today.year + 1
    return (f"{year:04d}-09", f"{year + 1:04d}-05")


def settings(profile: Profile, today: date | None) -> tuple[str, str, float, tuple[str, ...]]:
    """The period and the hours a month of a route: the profile's, else the defaults.

    Parameters
    ----------
    profile : Profile
        The validated profile, whose preferences may name them.
    today : datetime.date or None
        With no period in the profile: the school year after it
        (:func:`school_year`), or :data:`DEFAULT_PERIOD` when None.

    Returns
    -------
    start, end : str
        The period's first and last month, as ``YYYY-MM``.
    hours : float
        The hours a month.
    defaults : tuple of str
        Which of ``"period"``, ``"hours_per_month"`` were defaulted.

    Raises
    ------
    WrongTypeError
        When ``today`` is given and is not a date.
    """
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


def period_hours(profile: Profile, calendar: Calendar, today: date | None = None) -> float:
    """The hours a person's period holds: hours a month times its working months.

    Parameters
    ----------
    profile : Profile
        The validated profile (its period and hours a month, else the defaults).
    calendar : Calendar
        The KB's calendar.
    today : datetime.date, optional
        As in :func:`settings`.

    Returns
    -------
    float
        The most hours of steps the period can take; a programme longer than
        this cannot finish within it, whatever else the route holds.

    Raises
    ------
    WrongTypeError
        When ``today`` is given and is not a date.
    """
    start, end, hours, _defaults = settings(profile, today)
    return hours * working_months(start, end, calendar)
