"""Number bands: the sets of values a numeric condition admits, as unions of intervals.

The analysis asks questions such as "can ``score_pct`` be both below 40 and at least
50?" or "which scores does no rule decide?". Each answer is a set of numbers, and the
conditions rules write (``lt``, ``between``, ``in``, a level of the scale) are all
intervals or finite unions of them. So a set of numbers is kept as a *band*: sorted,
disjoint, non-empty intervals with open or closed ends. Intersection, union and
complement of bands are exact, which makes "no value satisfies ..." a proof rather than
a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..rules import Cond, Ref

__all__ = [
    "EMPTY",
    "FULL",
    "INF",
    "Band",
    "Interval",
    "band_and",
    "band_not",
    "band_of",
    "band_or",
    "band_text",
    "cond_band",
    "cond_text",
    "number_text",
    "point",
]

Interval = tuple[float, bool, float, bool]  # (low, low included, high, high included)
Band = tuple[Interval, ...]  # sorted, disjoint, non-empty intervals
INF = math.inf
FULL: Band = ((-INF, False, INF, False),)
EMPTY: Band = ()


def _is_empty(i: Interval) -> bool:
    lo, li, hi, hinc = i
    return lo > hi or (lo == hi and not (li and hinc))


def band_of(intervals: Iterable[Interval]) -> Band:
    """The band that is the union of ``intervals``, in normal form.

    Parameters
    ----------
    intervals : Iterable[Interval]
        Any intervals, empty, overlapping or unordered.

    Returns
    -------
    Band
        Sorted, disjoint, non-empty intervals; touching intervals are merged.
    """
    items = sorted((i for i in intervals if not _is_empty(i)), key=lambda i: (i[0], not i[1]))
    out: list[Interval] = []
    for lo, li, hi, hinc in items:
        if out:
            plo, pli, phi, phinc = out[-1]
            if lo < phi or (lo == phi and (phinc or li)):
                if hi > phi:
                    out[-1] = (plo, pli, hi, hinc)
                elif hi == phi:
                    out[-1] = (plo, pli, phi, phinc or hinc)
                continue
        out.append((lo, li, hi, hinc))
    return tuple(out)


def _meet(x: Interval, y: Interval) -> Interval:
    """The intersection of two intervals (possibly empty)."""
    if x[0] > y[0]:
        lo, li = x[0], x[1]
    elif y[0] > x[0]:
        lo, li = y[0], y[1]
    else:
        lo, li = x[0], x[1] and y[1]
    if x[2] < y[2]:
        hi, hinc = x[2], x[3]
    elif y[2] < x[2]:
        hi, hinc = y[2], y[3]
    else:
        hi, hinc = x[2], x[3] and y[3]
    return (lo, li, hi, hinc)


def band_and(a: Band, b: Band) -> Band:
    """The values in both ``a`` and ``b``."""
    return band_of(_meet(x, y) for x in a for y in b)


def band_not(a: Band) -> Band:
    """The values not in ``a``."""
    out: list[Interval] = []
    cur, cur_inc = -INF, False
    for lo, li, hi, hinc in a:
        out.append((cur, cur_inc, lo, not li))
        cur, cur_inc = hi, not hinc
    out.append((cur, cur_inc, INF, False))
    return band_of(out)


def band_or(a: Band, b: Band) -> Band:
    """The values in ``a`` or ``b``."""
    return band_of((*a, *b))


def point(v: float) -> Band:
    """The band holding the one value ``v``."""
    return ((v, True, v, True),)


def number_text(v: float) -> str:
    """A number as a message shows it: ``50``, not ``50.0``."""
    return f"{v:g}"


def band_text(band: Band) -> str:
    """``[50, 75)``, ``= 30``, ``[0, 30) ∪ [50, 100]``; ``∅`` when empty."""
    if not band:
        return "∅"
    parts = []
    for lo, li, hi, hinc in band:
        if lo == hi:
            parts.append(f"= {number_text(lo)}")
            continue
        left = "[" if li else "("
        right = "]" if hinc else ")"
        low = number_text(lo) if lo > -INF else "-∞"
        high = number_text(hi) if hi < INF else "∞"
        parts.append(f"{left}{low}, {high}{right}")
    return " ∪ ".join(parts)


def _points(values: list[object]) -> Band:
    """The literal numbers of an ``in`` list as a band (references are left out)."""
    return band_of(p for v in values if isinstance(v, float) for p in point(float(v)))


def _list_band(op: str, value: object) -> Band | None:
    """The band of ``in`` / ``not_in``.

    A reference in the list may be any number: ``in`` then cannot be told, while
    ``not_in`` still excludes at least its literal numbers.
    """
    if not isinstance(value, list):
        return None
    has_ref = any(isinstance(v, Ref) for v in value)
    if op == "in":
        return None if has_ref else _points(value)
    return band_not(_points(value))


def _comparison_band(op: str, v: float) -> Band | None:
    table: dict[str, Band] = {
        "eq": point(v),
        "ne": band_not(point(v)),
        "lt": ((-INF, False, v, False),),
        "le": ((-INF, False, v, True),),
        "gt": ((v, False, INF, False),),
        "ge": ((v, True, INF, False),),
    }
    return table.get(op)


def cond_band(op: str, value: object) -> Band | None:
    """The band a numeric condition admits.

    Parameters
    ----------
    op : str
        The condition's operator (``lt``, ``between``, ``in``, ...).
    value : object
        Its operand as parsed: a number, a list, or a :class:`~deficit_engine.rules.Ref`.

    Returns
    -------
    Band or None
        None when the band cannot be told (a reference), or the operator does not
        restrict numbers (``exists``).
    """
    if isinstance(value, Ref):
        return None
    if op == "between":
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
            return band_of([(float(value[0]), True, float(value[1]), True)])
        return None
    if op in ("in", "not_in"):
        return _list_band(op, value)
    if not isinstance(value, float):
        return None
    return _comparison_band(op, value)


def cond_text(cond: Cond) -> str:
    """A condition as a message quotes it: ``score_pct lt 40``, ``level in [low, partial]``."""
    value = cond.value
    if isinstance(value, list):
        shown = (
            "[" + ", ".join(number_text(v) if isinstance(v, float) else str(v) for v in value) + "]"
        )
    elif isinstance(value, float):
        shown = number_text(value)
    else:
        shown = str(value)
    return f"{cond.field} {cond.op} {shown}"
