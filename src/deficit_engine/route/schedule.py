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
    "hours_text",
    "keep_texts",
    "longer",
    "month_texts",
    "overflow",
    "overflow_of",
    "schedule",
    "school_year",
    "settings",
]


class Schedule(NamedTuple):
    """Where each draft falls: its months, as offsets from the period's first month,
    and its allocation as the route's JSON shows it."""

    starts: list[int]  # draft -> the offset of its first month
    ends: list[int]  # draft -> the offset of its last month
    allocations: list[tuple[tuple[str, float], ...]]  # draft -> (YYYY-MM, hours) per month
    direct: list[int]  # draft -> the bit set of its direct predecessors (transitive reduction)
    over: int  # hundredths of an hour scheduled after the period's last month
    texts: list[str]  # month offset -> YYYY-MM, as far as the route goes (``texts`` or longer)
    topo: list[int]  # the drafts in the order they were scheduled, the closing step last


def schedule(
    centis: Sequence[int],
    preds: Sequence[int],
    budget: int,
    holiday: Sequence[bool],
    texts: list[str],
    first: int,
    last: int,
) -> Schedule | None:
    """List scheduling into months, in hundredths of an hour, with the transitive reduction.

    In topological order (ties by priority), each step starts in the month its
    last predecessor ends (or the first month; later when that month is full
    or a holiday) and takes what the monthly budget leaves, month after month,
    until done; holiday months take nothing, so a step never starts or runs in
    one. A step of no hours starts in the first month from there that is not a
    holiday and has no allocation. The last draft is the closing step: after
    all the others, its direct predecessors the steps without a successor.

    The drafts are numbered in priority order; the topological order is found
    as the steps are placed (Kahn's algorithm: each turn the ready draft of the
    lowest number). A cycle gives None (:func:`~.order.drop_cycles` breaks it).

    Parameters
    ----------
    centis : sequence of int
        Draft -> the hundredths of an hour it needs.
    preds : sequence of int
        Draft -> the bit set of its predecessors (:func:`~.order.predecessors`).
    budget : int
        Hundredths of an hour a month.
    holiday : sequence of bool
        Month offset modulo 12 -> whether it is a holiday (the KB's calendar,
        turned to the period's first month).
    texts : list of str
        Month offset -> ``YYYY-MM`` (:func:`month_texts`); when the steps run
        past its end, a longer copy is made (the list is shared, never changed).
    first : int
        The month index of offset 0 (to extend ``texts``).
    last : int
        The offset of the period's last month (hours after it are ``over``).

    Returns
    -------
    Schedule or None
        Draft -> its first and last month offsets, its allocation and its direct
        predecessors; the hundredths after the period; the month texts; the
        order. None when the drafts have a cycle.

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
    if len(texts) < size:
        texts = longer(texts, first, size)
    lo = 0  # every month before it is full
    over = 0
    allocations: list[tuple[tuple[str, float], ...]] = [()] * n
    starts = [0] * n
    direct = [0] * n
    ends = [0] * n
    reach = [0] * n  # draft -> the bit set of its ancestors
    has_succ = 0
    closing = n - 1
    order: list[int] = []
    i = 0  # the next draft by number: those before it are placed or wait
    done = 0  # the placed drafts
    pending = 0  # the drafts that wait for a predecessor
    while True:
        # the first ready draft: of those that wait, the lowest that became ready
        # (after a placement); else the next by number that is ready (those on
        # the way that are not wait). A waiting draft is never ready when the
        # next number comes up, so this is the ready draft of the lowest number
        # (most drafts never wait).
        t = -1
        if pending:
            m = pending
            while m:
                low = m & -m
                j = low.bit_length() - 1
                if not preds[j] & ~done:
                    t = j
                    pending ^= low
                    break
                m ^= low
        if t < 0:
            while i < closing:
                if preds[i] & ~done:
                    pending |= 1 << i
                    i += 1
                else:
                    t = i
                    i += 1
                    break
            if t < 0:
                if pending:
                    return None  # a cycle: what is left waits for itself
                if i > closing:
                    break
                t = closing
                i += 1
        done |= 1 << t
        order.append(t)
        start = 0
        if t == closing:  # after every step: its predecessors are those without a successor
            direct[t] = ((1 << n) - 1) & ~has_succ & ~(1 << closing)
            # where the last of them ends: where the last step ends (a step with a
            # successor ends before that one starts)
            start = max(ends)
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
        if need <= 0:  # no hours: no allocation, in the first month that is not a holiday
            while holiday[start % 12]:
                start += 1
            if start >= len(texts):
                texts = longer(texts, first, start + 12)
            starts[t] = ends[t] = start
            continue
        off = start if start > lo else lo
        # the first month with room: the step's start (most steps fit in it)
        while True:
            if off >= size:
                free.extend(year)
                size += 12
                texts = longer(texts, first, size)
            room = free[off]
            if room:
                break
            off += 1
        starts[t] = off
        if room > need:
            free[off] = room - need
            allocations[t] = ((texts[off], need / 100),)
            if off > last:
                over += need
        else:  # it takes the month's room, then what the next months have
            free[off] = 0
            here = [(texts[off], room / 100)]
            if off > last:
                over += room
            need -= room
            while need:
                off += 1
                if off >= size:
                    free.extend(year)
                    size += 12
                    texts = longer(texts, first, size)
                room = free[off]
                if not room:  # full, or a holiday
                    continue
                if room > need:
                    free[off] = room - need
                    here.append((texts[off], need / 100))
                    if off > last:
                        over += need
                    break
                free[off] = 0
                here.append((texts[off], room / 100))
                if off > last:
                    over += room
                need -= room
            allocations[t] = tuple(here)
        ends[t] = off
        if lo < size and not free[lo]:
            lo += 1
            while lo < size and not free[lo]:
                lo += 1
    # Schedule(...) without the NamedTuple's keyword-taking __new__
    return _new(Schedule, (starts, ends, allocations, direct, over, texts, order))


def longer(texts: list[str], first: int, count: int) -> list[str]:
    """``texts`` (the months from ``first`` on) and the months after it, to
    ``count`` months in all: a new list, which :func:`keep_texts` may remember.

    Parameters
    ----------
    texts : list of str
        ``YYYY-MM`` of the months ``first``, ``first + 1``, ...
    first : int
        The month index of ``texts[0]``.
    count : int
        How many months the list should hold at least.

    Returns
    -------
    list of str
        ``texts`` itself when it is long enough, else a longer copy.
    """
    if len(texts) >= count:
        return texts
    return texts + [month_text(first + i) for i in range(len(texts), count)]


def month_texts(first: int) -> list[str]:
    """``YYYY-MM`` of the months ``first``, ``first + 1``, ..., as far as made yet
    (shared by the routes that start in that month: a cohort's routes share a
    few periods; never changed, :func:`schedule` makes a longer copy when a
    route runs further).

    Parameters
    ----------
    first : int
        A month index.

    Returns
    -------
    list of str
        The months from ``first`` on (maybe none yet).
    """
    return _MONTHS.get(first, _NONE)


def keep_texts(first: int, texts: list[str]) -> None:
    """Remember ``texts`` (the months from ``first`` on) for :func:`month_texts`
    when it is longer than what is remembered (and the memo is not full).

    Parameters
    ----------
    first : int
        The month index of ``texts[0]``.
    texts : list of str
        ``YYYY-MM`` of the months from ``first`` on.
    """
    known = _MONTHS.get(first)
    if known is None:
        if len(_MONTHS) < _MONTHS_LIMIT:
            _MONTHS[first] = texts
    elif len(known) < len(texts):
        _MONTHS[first] = texts


_NONE: list[str] = []  # never changed: what month_texts gives for a month not seen yet
#: first month index -> the texts of the months from it on (replaced by longer lists).
_MONTHS: dict[int, list[str]] = {}
_MONTHS_LIMIT = 1000  # distinct first months kept (a pure function's memo)


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
    # Overflow(...) without the frozen dataclass's __init__ (five frozen setattrs):
    # most routes of a cohort overflow a school year
    made: Overflow = _new_object(Overflow)
    made.__dict__.update(
        {
            "months": months_over,
            "end": route_end,
            "hours": over_hours,
            "steps": late_ids,
            "message": (
                f"Маршрут не умещается в период {start} – {end} при {hours_text(per_month)} ч "
                f"в месяц: нужно ещё {months_over} мес. (до {route_end}), "
                f"{hours_text(over_hours)} ч после окончания периода; "
                f"выходят за период шаги {', '.join(late_ids)}." + _cause(too_long)
            ),
        }
    )
    return made


def hours_text(hours: float) -> str:
    """:func:`~deficit_engine.labels.format_hours`, remembered by value (a cohort's
    overflows name a few dozen hour counts).

    Parameters
    ----------
    hours : float
        A number of hours.

    Returns
    -------
    str
        As ``format_hours(hours)``.
    """
    text = _HOURS_TEXT.get(hours)
    if text is None:
        text = format_hours(hours)
        if len(_HOURS_TEXT) < _HOURS_KEPT:
            _HOURS_TEXT[hours] = text
    return text


#: hours -> format_hours(hours). Keyed by value: 8 and 8.0 (equal keys) read alike, "8".
_HOURS_TEXT: dict[float, str] = {}
_HOURS_KEPT = 4096
_new_object = object.__new__
_new = tuple.__new__
