"""Months as ``YYYY-MM`` strings: the one home of month arithmetic.

Profiles name their period in months, the route schedules in months and the
ИОМ document prints them. The scheduler counts in month *indexes* (months
since year 0, so stepping is ``+ 1``) and turns them back into text only for
output; every module that steps, spans or names months uses the functions here
rather than parsing the string itself.
"""

from __future__ import annotations

__all__ = [
    "FIRST_PERIOD_YEAR",
    "LAST_PERIOD_YEAR",
    "MAX_PERIOD_MONTHS",
    "MONTHS_RU",
    "month_index",
    "month_label",
    "month_range",
    "month_text",
    "months_label",
]

#: The month names, January first, as they stand in a date range of the ИОМ.
MONTHS_RU = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)

#: The longest period a profile may name, in months (ten years): a route is
#: planned for a school year or a few, and every month of the period becomes a
#: column of the ИОМ's calendar, so an end in year 9999 must not be accepted.
MAX_PERIOD_MONTHS = 120
#: The years a profile's period may lie in: a sane window, so that a route
#: running past its period (by at most its hours at 1 h a month) stays within
#: four-digit years, which every output prints.
FIRST_PERIOD_YEAR = 2000
LAST_PERIOD_YEAR = 2100

#: month index -> its text: the months routes are scheduled in recur from
#: profile to profile. A pure function's memo, so shared by every caller;
#: bounded by _TEXT_LIMIT entries (about 80 years of months).
_TEXT: dict[int, str] = {}
_TEXT_LIMIT = 1000


def month_index(month: str) -> int:
    """The index of a month: months since January of year 0.

    Parameters
    ----------
    month : str
        A month as ``YYYY-MM``.

    Returns
    -------
    int
        ``year * 12 + month - 1``; consecutive months have consecutive indexes.
    """
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_text(index: int) -> str:
    """The month of an index as ``YYYY-MM`` (the inverse of :func:`month_index`).

    Parameters
    ----------
    index : int
        A month index, as :func:`month_index` returns.

    Returns
    -------
    str
        The month as ``YYYY-MM``.
    """
    text = _TEXT.get(index)
    if text is None:
        text = f"{index // 12:04d}-{index % 12 + 1:02d}"
        if len(_TEXT) < _TEXT_LIMIT:
            _TEXT[index] = text
    return text


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` inclusive.

    Parameters
    ----------
    start, end : str
        The first and the last month, as ``YYYY-MM``.

    Returns
    -------
    list of str
        The months as ``YYYY-MM``, in order; empty when ``end`` is before ``start``.
    """
    return [month_text(i) for i in range(month_index(start), month_index(end) + 1)]


def month_label(month: str) -> str:
    """A month in words: ``2026-09`` -> ``сентябрь 2026``.

    Parameters
    ----------
    month : str
        A month as ``YYYY-MM``.

    Returns
    -------
    str
        The Russian month name and the year.
    """
    year, mon = month.split("-")
    return f"{MONTHS_RU[int(mon) - 1]} {year}"


def months_label(start: str, end: str) -> str:
    """A month range in words: ``сентябрь – ноябрь 2026``, ``декабрь 2026 – январь 2027``.

    Parameters
    ----------
    start, end : str
        The first and the last month, as ``YYYY-MM``.

    Returns
    -------
    str
        One month's label when they are equal; the year once when both are in it.
    """
    if start == end:
        return month_label(start)
    # the year is what precedes the dash: past 9999 (a route running over its
    # period can) it has five digits, so no fixed slice
    (start_year, start_mon), end_year = start.split("-"), end.split("-")[0]
    if start_year == end_year:
        return f"{MONTHS_RU[int(start_mon) - 1]} – {month_label(end)}"
    return f"{month_label(start)} – {month_label(end)}"
