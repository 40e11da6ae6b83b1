"""Scores rolled up and rounded: the arithmetic of ``Ontology``'s roll-ups and of a
``Scale``'s levels, on the tables they hold.

Kept apart from ``ontology.py`` so that the compiled build compiles it with mypyc
(docs/performance.md, «Compiled build»): the classes there stay pure Python (a KB is
pickled to the worker processes, and a native class would not pickle as it does), and
call these functions with their tables. The arithmetic is the same IEEE operations in
the same order in either build.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence

__all__ = [
    "EXACT_BELOW",
    "levels_bisected",
    "rollup_groups",
    "rollup_indicators",
    "round_fast",
    "round_kept",
]

#: ``round(x, 2)`` of the positive finite floats rounded so far (at most
#: :data:`_ROUNDED_KEPT`): a float's ``round`` to places costs seven dict reads, and a
#: cohort's scores and means take few distinct values. Zero is never kept: ``-0.0``
#: and ``0.0`` are one key but round to themselves.
_ROUNDED: dict[float, float] = {}
_ROUNDED_KEPT = 1 << 15


def round_kept(value: float) -> float:
    """``round(value, 2)`` as a float (a numpy float's is numpy's: ``profile.percent``
    makes it a float too), kept in :data:`_ROUNDED` when ``value`` is positive and
    finite. A zero is itself, its sign kept (as ``round`` keeps it), without rounding.

    Parameters
    ----------
    value : float
        A percent or a mean of percents.

    Returns
    -------
    float
        ``float(round(value, 2))``.
    """
    if value == 0.0:
        return float(value)
    out = float(round(value, 2))
    if 0.0 < value < math.inf and len(_ROUNDED) < _ROUNDED_KEPT:
        _ROUNDED[value] = out
    return out


#: Below this, a positive float times a power of ten is within 2**-13 of the exact
#: product (half its ulp at most), which :func:`round_fast` relies on.
EXACT_BELOW = float(2**40)


def round_fast(value: float, places: int) -> float:
    """``float(round(value, places))``, by arithmetic where that is exact (most values).

    ``round`` gives the float nearest to the decimal that the exact value times
    ``10**places`` rounds to, half to even, divided by ``10**places``. Where ``y =
    value * 10**places`` is positive, below :data:`EXACT_BELOW` (so within 2**-13 of
    the exact product) and within 0.49 of an integer ``n`` (so no tie is near), that
    decimal is ``n``, and ``n / 10**places`` (two exact floats, the quotient rounded to
    nearest by IEEE division) is that nearest float. A float's ``round`` to places
    costs as much as a dozen dict reads; this a few operations, reading no memory.
    Anything else (zeros and their signs, ties, negative, huge or not finite values)
    is left to ``round``.

    Parameters
    ----------
    value : float
        A finite or infinite float, or an int.
    places : int
        The decimal places, 0 to 15.

    Returns
    -------
    float
        ``float(round(value, places))``.

    Raises
    ------
    KeyError
        If ``places`` is not 0 to 15.
    """
    scale = _POWERS[places]
    y = value * scale
    if 0.0 < y < EXACT_BELOW:
        n = round(y)
        if -0.49 < y - n < 0.49:
            return n / scale
    return float(round(value, places))


#: 10.0 ** places, exact floats, for :func:`round_fast`.
_POWERS = {places: float(10**places) for places in range(16)}


def _mean_rounded(mean: float) -> float:
    """A roll-up's mean to 2 places, as ``round(mean, 2)`` gives it (a float's by
    :func:`round_fast`'s arithmetic, else from :data:`_ROUNDED` when kept; any other
    number's type is kept)."""
    if type(mean) is not float:
        return round(mean, 2)
    y = mean * 100.0
    if 0.0 < y < EXACT_BELOW:
        n = round(y)
        if -0.49 < y - n < 0.49:
            return n / 100.0
    return _ROUNDED.get(mean) or round_kept(mean)


def rollup_indicators(
    parents: Mapping[str, tuple[str, float]], indicator_scores: Mapping[str, float]
) -> dict[str, float]:
    """Weighted mean of the present indicators of each competency.

    Parameters
    ----------
    parents : Mapping of str to (str, float)
        Indicator id -> (its competency, its weight).
    indicator_scores : Mapping of str to float
        Indicator id -> score in percent, for the indicators with a result.

    Returns
    -------
    dict of str to float
        Competency id -> the weighted mean of its indicators' scores, to 2 places, for
        each competency with at least one; sorted by id.

    Raises
    ------
    KeyError
        If an indicator is not in ``parents``.
    """
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    for ind_id, score in indicator_scores.items():
        comp, weight = parents[ind_id]
        sums[comp] = sums.get(comp, 0.0) + weight * score
        weights[comp] = weights.get(comp, 0.0) + weight
    return {comp: _mean_rounded(sums[comp] / weights[comp]) for comp in sorted(sums)}


def rollup_groups(
    groups: Mapping[str, str], competency_scores: Mapping[str, float]
) -> dict[str, float]:
    """Plain mean of each group's competency scores (groups with results only).

    Parameters
    ----------
    groups : Mapping of str to str
        Competency id -> its group's id.
    competency_scores : Mapping of str to float
        Competency id -> score in percent.

    Returns
    -------
    dict of str to float
        Group id -> the mean of its competencies' scores, to 2 places; sorted by id.

    Raises
    ------
    KeyError
        If a competency is not in ``groups``.
    """
    members: dict[str, list[float]] = {}
    for comp, score in competency_scores.items():
        found = members.get(groups[comp])
        if found is None:
            members[groups[comp]] = [score]
        else:
            found.append(score)
    return {g: _mean_rounded(sum(v) / len(v)) for g, v in sorted(members.items())}


def levels_bisected(
    scores: Mapping[str, float], bounds: Sequence[float], ids: Sequence[str]
) -> dict[str, str]:
    """Each score's level, by its key: the first level whose bound is above the score,
    the one after every bound at or below it.

    Parameters
    ----------
    scores : Mapping of str to float
        Scores in percent, by id.
    bounds : sequence of float
        The levels' upper bounds, ascending, all but the last level's.
    ids : sequence of str
        The level ids, lowest first (one more than ``bounds``).

    Returns
    -------
    dict of str to str
        The level id of each, in ``scores``' order.
    """
    find = bisect.bisect_right
    return {key: ids[find(bounds, score)] for key, score in scores.items()}
