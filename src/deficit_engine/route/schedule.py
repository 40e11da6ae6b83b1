"""Scheduling a route into months: its period and monthly hours, and list scheduling within them.

The period and the hours a month are the profile's, else defaults that never
depend on the clock unless the caller passes ``today``. Steps take the hours
the monthly budget leaves, in topological order, in hundredths of an hour and
month indexes (see :mod:`deficit_engine.months`), so sums are exact and
stepping a month is ``+ 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..errors import UsageError
from ..labels import format_hours
from ..months import month_index, month_text
from ..period import DEFAULT_HOURS_PER_MONTH, DEFAULT_PERIOD, school_year, settings
from .model import Overflow

__all__ = [
    "DEFAULT_HOURS_PER_MONTH",
    "DEFAULT_PERIOD",
    "Schedule",
    "overflow",
    "overflow_of",
    "schedule",
    "school_year",
    "settings",
]


class Schedule(NamedTuple):
    """Where each draft falls, in month offsets from the period's first month."""

    parts: list[list[tuple[int, int]]]  # draft -> (offset, hundredths) per month it takes
    direct: list[int]  # draft -> the bit set of its direct predecessors (transitive reduction)


def schedule(
    centis: Sequence[int],
    preds: Sequence[int],
    topo: Sequence[int],
    closing: int,
    budget: int,
    holiday: Sequence[bool],
) -> Schedule:
    """List scheduling into months, in hundredths of an hour, with the transitive reduction.

    In topological order (ties by priority), each step starts in the month its
    last predecessor ends (or the first month; later when that month is full
    or a holiday) and takes what the monthly budget leaves, month after month,
    until done; holiday months take nothing, so a step never starts or runs in
    one. A step of no hours gets one entry of 0 in its start month (the first
    month from there that is not a holiday).

    Parameters
    ----------
    centis : sequence of int
        Draft -> the hundredths of an hour it needs.
    preds : sequence of int
        Draft -> the bit set of its predecessors (:func:`~.order.predecessors`).
    topo : sequence of int
        The drafts in the order to schedule them (:func:`~.order.acyclic`), the
        closing step left out.
    closing : int
        The closing step's draft (after all the others; its direct predecessors
        are the steps without a successor), or -1 when there is none.
    budget : int
        Hundredths of an hour a month.
    holiday : sequence of bool
        Month offset modulo 12 -> whether it is a holiday (the KB's calendar,
        turned to the period's first month).

    Returns
    -------
    Schedule
        Draft -> its (month offset, hundredths) parts, and its direct predecessors.

    Raises
    ------
    UsageError
        When ``budget`` is not positive or every month is a holiday (a
        validated profile and KB never give either).
    """
    if budget <= 0:  # the profile schema asks for at least 1 h a month; never loop forever
        raise UsageError(f"monthly budget of {budget / 100} h: nothing could ever be scheduled")
    if all(holiday):  # the schema forbids it; never loop forever
        raise UsageError("every month of the year is a holiday: nothing could ever be scheduled")
    n = len(centis)
    year = [0 if h else budget for h in holiday]
    # month offset -> hundredths still free (a holiday: none), whole years of
    # them, about as many as the steps can take (grown when they take more)
    free = year * (2 + (sum(centis) // budget + n) // 10)
    size = len(free)
    lo = 0  # every month before it is full
    parts: list[list[tuple[int, int]]] = [[]] * n
    direct = [0] * n
    ends = [0] * n
    reach = [0] * n  # draft -> the bit set of its ancestors
    has_succ = 0
    for t in [*topo, closing] if closing >= 0 else topo:
        start = 0
        if t == closing:  # after every step: its predecessors are those without a successor
            mask = direct[t] = ((1 << n) - 1) & ~has_succ & ~(1 << closing)
            for p in topo:
                if (mask >> p) & 1 and ends[p] > start:
                    start = ends[p]
        elif mask := preds[t]:
            has_succ |= mask
            covered = 0
            m = mask
            while m:
                low = m & -m
                p = low.bit_length() - 1
                covered |= reach[p]
                if ends[p] > start:
                    start = ends[p]
                m ^= low
            reach[t] = covered | mask
            direct[t] = mask & ~covered
        need = centis[t]
        if need <= 0:  # no hours: one entry of 0, in the first month that is not a holiday
            while holiday[start % 12]:
                start += 1
            ends[t], parts[t] = start, [(start, 0)]
            continue
        off = start if start > lo else lo
        here = parts[t] = []
        while True:
            if off >= size:
                free.extend(year)
                size += 12
            room = free[off]
            if room:
                if room > need:
                    free[off] = room - need
                    here.append((off, need))
                    break
                free[off] = 0
                here.append((off, room))
                need -= room
                if not need:
                    break
            off += 1
        ends[t] = off
        if lo < size and not free[lo]:
            lo += 1
            while lo < size and not free[lo]:
                lo += 1
    return Schedule(parts, direct)


def _cause(named: Sequence[str]) -> str:
    """Why the route overflows, when a programme alone is longer than the period."""
    if not named:
        return ""
    return (
        f" Программа {', '.join(named)} длиннее всего периода, но других программ, "
        "покрывающих эти потребности и умещающихся в период, в каталоге нет."
    )


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
    last = month_index(period[1])
    late = [n for n in ordered if alloc[n][-1][0] > last]
    if not late:
        return None
    route_end = max([alloc[n][-1][0] for n in ordered])
    over_hours = sum([c for n in ordered for m, c in alloc[n] if m > last]) / 100
    late_ids = tuple(ids[n] for n in late)
    named = [too_long[s] for s in late_ids if s in too_long] if too_long else []
    return overflow_of(
        period, per_month, route_end - last, month_text(route_end), over_hours, late_ids, named
    )


def overflow_of(
    period: tuple[str, str],
    per_month: float,
    months_over: int,
    route_end: str,
    over_hours: float,
    late_ids: tuple[str, ...],
    too_long: Sequence[str] = (),
) -> Overflow:
    """The :class:`Overflow` of a route, with its message.

    Parameters
    ----------
    period : (str, str)
        The first and the last month of the period, as ``YYYY-MM``.
    per_month : float
        The hours a month the schedule was made with.
    months_over : int
        Months used after the period's last month.
    route_end : str
        The route's last month, ``YYYY-MM``.
    over_hours : float
        Hours scheduled after the period.
    late_ids : tuple of str
        The ids of the steps that end after the period, in step order.
    too_long : sequence of str, optional
        Among them, the programmes longer than the whole period, as
        ``ID (N ч)``: the message then says that they are why.

    Returns
    -------
    Overflow
        The overflow and its Russian message.
    """
    start, end = period
    return Overflow(
        months=months_over,
        end=route_end,
        hours=over_hours,
        steps=late_ids,
        message=(
            f"Маршрут не умещается в период {start} – {end} при {format_hours(per_month)} ч "
            f"в месяц: нужно ещё {months_over} мес. (до {route_end}), "
            f"{format_hours(over_hours)} ч после окончания периода; "
            f"выходят за период шаги {', '.join(late_ids)}." + _cause(too_long)
        ),
    )
