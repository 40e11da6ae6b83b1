"""Scheduling a route into months: its period and monthly hours, and list scheduling within them.

The period and the hours a month are the profile's, else defaults that never
depend on the clock unless the caller passes ``today``. Steps take the hours
the monthly budget leaves, in topological order, in hundredths of an hour and
month indexes (see :mod:`deficit_engine.months`), so sums are exact and
stepping a month is ``+ 1``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from ..errors import UsageError
from ..labels import format_hours
from ..months import month_index, month_text
from ..period import DEFAULT_HOURS_PER_MONTH, DEFAULT_PERIOD, is_holiday, school_year, settings
from .drafts import Draft
from .model import Overflow

__all__ = [
    "DEFAULT_HOURS_PER_MONTH",
    "DEFAULT_PERIOD",
    "overflow",
    "schedule",
    "school_year",
    "settings",
]


def schedule(
    drafts: Sequence[Draft],
    topo: Sequence[int],
    direct: Sequence[Sequence[int]],
    first: int,
    budget: int,
    holidays: Collection[int] = (),
) -> dict[int, list[tuple[int, int]]]:
    """List scheduling into months, in hundredths of an hour.

    In topological order (ties by priority), each step starts in the month its
    last predecessor ends (or the first month; later when that month is full
    or a holiday) and takes what the monthly budget leaves, month after month,
    until done; holiday months take nothing, so a step never starts or runs in one.

    Parameters
    ----------
    drafts : sequence of Draft
        The steps; each needs :attr:`Draft.centi` hundredths of an hour.
    topo : sequence of int
        The draft indexes in the order to schedule them (:func:`~.order.order_edges`).
    direct : sequence of sequence of int
        Draft index -> its direct predecessors (:func:`~.order.reduction`).
    first : int
        The month index of the period's first month.
    budget : int
        Hundredths of an hour a month.
    holidays : collection of int, optional
        The months of the year (1-12) without steps (the KB's calendar).

    Returns
    -------
    dict of int to list of (int, int)
        Draft index -> (month index, hundredths of an hour) for each month it
        takes, in order; a step of no hours gets one entry of 0 in its start month.

    Raises
    ------
    UsageError
        When ``budget`` is not positive (a validated profile never gives one).
    """
    if budget <= 0:  # the profile schema asks for at least 1 h a month; never loop forever
        raise UsageError(f"monthly budget of {budget / 100} h: nothing could ever be scheduled")
    if len(set(holidays) & set(range(1, 13))) == 12:  # the schema forbids it; never loop forever
        raise UsageError("every month of the year is a holiday: nothing could ever be scheduled")
    # A holiday is a month with nothing free: marked full for the months a route
    # can reach, the loop below passes over it as over any full month.
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
        month = _working(month, holidays)
        while left > 0:
            if month in skip:
                month = _past_full(skip, month)
            if is_holiday(month, holidays):
                skip[month] = month + 1
                month += 1
                continue
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


def _cause(too_long: Mapping[str, str], late_ids: Sequence[str]) -> str:
    """Why the route overflows, when a programme alone is longer than the period."""
    named = [too_long[s] for s in late_ids if s in too_long]
    if not named:
        return ""
    return (
        f" Программа {', '.join(named)} длиннее всего периода, но других программ, "
        "покрывающих эти потребности и умещающихся в период, в каталоге нет."
    )


def _working(month: int, holidays: Collection[int]) -> int:
    """The first month from ``month`` on that is not a holiday (a step of no hours starts there)."""
    while is_holiday(month, holidays):
        month += 1
    return month


def _past_full(skip: dict[int, int], month: int) -> int:
    """The first month from the full ``month`` on that is not full.

    ``skip`` maps a full month to a later month such that every month in
    between is full; the months walked through are pointed straight at the
    answer, so the next step that lands on one of them jumps there at once.
    """
    passed = []
    while month in skip:
        passed.append(month)
        month = skip[month]
    for m in passed:
        skip[m] = month
    return month


def overflow(
    alloc: Mapping[int, Sequence[tuple[int, int]]],
    ordered: Sequence[int],
    ids: Mapping[int, str],
    period: tuple[str, str],
    per_month: float,
    too_long: Mapping[str, str] | None = None,
) -> Overflow | None:
    """How far a schedule runs past its period, if it does.

    Parameters
    ----------
    alloc : mapping of int to sequence of (int, int)
        Draft index -> (month index, hundredths of an hour), as :func:`schedule` gives it.
    ordered : sequence of int
        The draft indexes in step order.
    ids : mapping of int to str
        Draft index -> step id.
    period : (str, str)
        The first and the last month of the period, as ``YYYY-MM``.
    per_month : float
        The hours a month the schedule was made with (for the message).
    too_long : mapping of str to str, optional
        Step id -> its programme, for the programme steps longer than the
        whole period (the message then says that they are why).

    Returns
    -------
    Overflow or None
        None when every step ends within the period.
    """
    start, end = period
    last = month_index(end)
    late = [n for n in ordered if alloc[n][-1][0] > last]
    if not late:
        return None
    route_end = max([alloc[n][-1][0] for n in ordered])
    over_hours = sum([c for n in ordered for m, c in alloc[n] if m > last]) / 100
    months_over = route_end - last
    late_ids = tuple(ids[n] for n in late)
    return Overflow(
        months=months_over,
        end=month_text(route_end),
        hours=over_hours,
        steps=late_ids,
        message=(
            f"Маршрут не умещается в период {start} – {end} при {format_hours(per_month)} ч "
            f"в месяц: нужно ещё {months_over} мес. (до {month_text(route_end)}), "
            f"{format_hours(over_hours)} ч после окончания периода; "
            f"выходят за период шаги {', '.join(late_ids)}." + _cause(too_long or {}, late_ids)
        ),
    )
