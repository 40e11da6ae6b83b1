"""Scheduling a route into months: its period and monthly hours, and list scheduling within them.

The period and the hours a month are the profile's, else defaults that never
depend on the clock unless the caller passes ``today``. Steps take the hours
the monthly budget leaves, in topological order, in hundredths of an hour and
month indexes (see :mod:`deficit_engine.months`), so sums are exact and
stepping a month is ``+ 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from ..errors import UsageError
from ..labels import format_hours
from ..months import month_index, month_text
from ..period import DEFAULT_HOURS_PER_MONTH, DEFAULT_PERIOD, school_year, settings
from .model import Overflow
from .order import bits

__all__ = [
    "DEFAULT_HOURS_PER_MONTH",
    "DEFAULT_PERIOD",
    "Schedule",
    "overflow",
    "overflow_of",
    "past_full",
    "schedule",
    "school_year",
    "settings",
]


class Schedule(NamedTuple):
    """Where each draft falls, in month offsets from the period's first month."""

    parts: list[list[tuple[int, int]]]  # draft -> (offset, hundredths) per month it takes
    direct: list[list[int]]  # draft -> its direct predecessors (the transitive reduction)


def schedule(
    centis: Sequence[int],
    preds: Sequence[int],
    topo: Sequence[int],
    closing: int,
    budget: int,
    first: int,
    holiday: Sequence[bool],
) -> Schedule:
    """List scheduling into months, with the transitive reduction on the way.

    In topological order (ties by priority), each step starts in the month its
    last predecessor ends (or the first month; later when that month is full
    or a holiday) and takes what the monthly budget leaves, month after month,
    until done; a step of no hours takes one entry of 0 in its start month,
    the first month from there that is not a holiday (as
    :func:`.schedule.schedule`, which this is, on a list of free hundredths).
    The closing step (``closing`` >= 0) comes after all the others; its direct
    predecessors are the steps without a successor.
    """
    if budget <= 0:  # the profile schema asks for at least 1 h a month; never loop forever
        raise UsageError(f"monthly budget of {budget / 100} h: nothing could ever be scheduled")
    if all(holiday):  # the schema forbids it; never loop forever
        raise UsageError("every month of the year is a holiday: nothing could ever be scheduled")
    n = len(centis)
    free: list[int] = []  # month offset -> hundredths still free (a holiday: none)

    def grow(upto: int) -> None:
        for off in range(len(free), upto + 24):
            free.append(0 if holiday[(first + off) % 12] else budget)

    grow(0)
    # full month -> a later month such that every month in between is full:
    # a step jumps over a run of full months at once (paths are shortened)
    skip: dict[int, int] = {}
    parts: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    direct: list[list[int]] = [[] for _ in range(n)]
    ends = [0] * n
    reach = [0] * n  # draft -> the bit set of its ancestors
    has_succ = 0
    for t in topo:
        mask = preds[t]
        start = 0
        if mask:
            has_succ |= mask
            plist = bits(mask)
            covered = 0
            for p in plist:
                covered |= reach[p]
                if ends[p] > start:
                    start = ends[p]
            reach[t] = covered | mask
            direct[t] = [p for p in plist if not (covered >> p) & 1] if covered else plist
        ends[t], parts[t] = _place(centis[t], start, free, skip, grow, holiday, first)
    if closing >= 0:
        sinks = [t for t in topo if not (has_succ >> t) & 1]
        direct[closing] = sinks
        start = max([ends[t] for t in sinks], default=0)
        ends[closing], parts[closing] = _place(
            centis[closing], start, free, skip, grow, holiday, first
        )
    return Schedule(parts, direct)


def _place(
    need: int,
    start: int,
    free: list[int],
    skip: dict[int, int],
    grow: Callable[[int], None],
    holiday: Sequence[bool],
    first: int,
) -> tuple[int, list[tuple[int, int]]]:
    """One step's months from ``start`` on: its last month and (offset, hundredths) per month."""
    off = start
    if need <= 0:
        while holiday[(first + off) % 12]:
            off += 1
        return off, [(off, 0)]
    parts = []
    while True:
        if off in skip:
            off = past_full(skip, off)
        if off >= len(free):
            grow(off)
        room = free[off]
        if room:
            if room > need:
                free[off] = room - need
                parts.append((off, need))
                return off, parts
            free[off] = 0
            parts.append((off, room))
            skip[off] = off + 1
            need -= room
            if not need:
                return off, parts
        else:  # a holiday
            skip[off] = off + 1
        off += 1


def _cause(named: Sequence[str]) -> str:
    """Why the route overflows, when a programme alone is longer than the period."""
    if not named:
        return ""
    return (
        f" Программа {', '.join(named)} длиннее всего периода, но других программ, "
        "покрывающих эти потребности и умещающихся в период, в каталоге нет."
    )


def past_full(skip: dict[int, int], month: int) -> int:
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
