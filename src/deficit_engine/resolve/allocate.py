"""Mentor allocation as a min-cost flow, with a lexicographic objective.

The problem (docs/route.md, "Cohort plans"): *owners* (people, or schools
asking for a mentor team) have *units*, one per mentoring form they need; a
unit may be paired with at most one mentor (an *arc*), and a mentor takes at
most ``capacity`` units. Among all pairings the allocation maximises, in
order:

1. the owners placed (an owner with at least one unit paired): first the
   primary owners (people), then the secondary ones (schools asking for a
   mentor team, which take what capacity people leave);
2. the priority served (each arc's ``prio``: the severity weights of the
   needs the mentor serves);
3. locality (each arc's ``loc``: 0 same organisation, 1 same municipality,
   2 elsewhere; minimised);
4. subject match (``nosubj``: 1 when the mentor's subjects do not match;
   minimised);
5. then, where it fits, the mentor's rank (id order) times a weight that
   falls with the unit's position among its owner's units (minimised): ties
   go to the lower id, and when two of one owner's units could swap their
   mentors, the earlier unit gets the lower id -- the same way whatever else
   the problem holds, so one person planned alone or in a cohort gets the same.

The flow network: source -> owner (one arc of capacity 1 whose cost carries
the "owner placed" bonus, one of the remaining capacity at cost 0) -> unit
(capacity 1) -> mentor (capacity 1, cost from 2.-5.) -> sink (capacity), and
a bypass source -> sink for what stays unplaced. Weighting the criteria so
that one step of a criterion outweighs every possible total of those below
it makes the min-cost flow the lexicographic optimum. The solver is OR-Tools'
``SimpleMinCostFlow`` (compiled; networkx's network simplex took minutes at
regional size: benchmarks/allocation.py), which needs every arc cost times
the node count to fit in 64 bits. When the exact weights do not fit, the
tie-break by id is dropped first, then the bounds are tightened below the
worst case, and :attr:`Allocation.exact` says so.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection, Sequence
from typing import NamedTuple

import numpy as np

from ..errors import EvaluationError

__all__ = [
    "Allocation",
    "Arc",
    "Weights",
    "allocate",
    "allocate_arrays",
    "arc_costs",
    "most_units",
    "solve",
    "weights_for",
]

_INT64_HEADROOM = 2**60  # OR-Tools refuses costs whose magnitude times the node count nears 2**62


class Arc(NamedTuple):
    """A possible pairing of a unit with a mentor.

    ``mentor`` is the mentor's index (their rank in id order); ``served`` the
    needs (caller's indexes) the mentor would serve in this unit.
    """

    unit: int
    mentor: int
    served: tuple[int, ...]
    prio: int
    loc: int
    nosubj: int


class Weights(NamedTuple):
    """The integer weights of the criteria (see the module docstring)."""

    owner: int
    second: int
    prio: int
    loc: int
    subj: int
    tie: int
    exact: bool


class Allocation(NamedTuple):
    """The chosen arc (an index into the arcs given) of each unit, or -1."""

    chosen: tuple[int, ...]
    weights: Weights

    @property
    def exact(self) -> bool:
        """Whether the weights make the optimum exactly lexicographic."""
        return self.weights.exact


def _chain(levels: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """Weights from the least criterion up: each weight is one more than the most
    all lower criteria can add up to. ``levels`` are (range per pairing, count)."""
    weights: list[int] = []
    bound = 0
    for span, count in levels:
        weight = bound + 1
        weights.append(weight)
        bound += weight * span * count
    return weights, bound


def weights_for(
    n_units: int,
    n_owners: int,
    capacity: int,
    n_mentors: int,
    max_prio: int,
    n_nodes: int,
    n_secondary: int = 0,
    max_units: int = 1,
) -> Weights:
    """The criteria's weights for a problem of this size.

    Parameters
    ----------
    n_units, n_owners : int
        How many units and owners the problem has.
    capacity : int
        The mentors' capacities summed.
    n_mentors : int
        How many mentors (the tie-break's range).
    max_prio : int
        The largest ``prio`` of an arc.
    n_nodes : int
        The flow network's node count (the solver's cost range depends on it).
    n_secondary : int
        How many of the owners are secondary.
    max_units : int
        The most units one owner has (the tie-break's multiplier).

    Returns
    -------
    Weights
        Exact lexicographic weights when they fit the solver's cost range;
        else without the tie-break; else bounded below the worst case
        (``exact`` False).
    """
    limit = _INT64_HEADROOM // (n_nodes + 2)
    flow = max(1, min(n_units, capacity))
    owners = max(1, min(n_owners, flow))
    prio = max(1, max_prio)

    seconds = min(n_secondary, owners)

    def build(pairings: int, placed: int, tie: bool) -> tuple[Weights, int]:
        levels = [(1, pairings), (2, pairings), (prio, pairings), (1, min(seconds, placed))]
        levels.append((1, placed))
        if tie:
            levels.insert(0, (max(0, n_mentors - 1) * max(1, max_units), pairings))
        w, _ = _chain(levels)
        if not tie:
            w = [0, *w]
        tie_w, subj_w, loc_w, prio_w, second_w, owner_w = w
        top = max(owner_w, prio_w * prio)
        return Weights(owner_w, second_w, prio_w, loc_w, subj_w, tie_w, True), top

    for tie in (True, False):
        found, top = build(flow, owners, tie)
        if top <= limit:
            return found
    # Not exact: shrink the bounds (the number of pairings assumed to trade off
    # at once) until the weights fit. Ties then go the solver's way.
    low, high = 1, flow
    while low < high:
        mid = (low + high + 1) // 2
        if build(mid, min(owners, mid), False)[1] <= limit:
            low = mid
        else:
            high = mid - 1
    found, top = build(low, min(owners, low), False)
    if top > limit:
        raise EvaluationError("mentor allocation: priorities too large for the solver's cost range")
    return found._replace(tie=0, exact=False)


def _positions(owners: Sequence[int]) -> list[int]:
    """Each unit's position among its owner's units (0 for the first)."""
    seen: Counter[int] = Counter()
    out = []
    for o in owners:
        out.append(seen[o])
        seen[o] += 1
    return out


def most_units(owners: np.ndarray) -> int:
    """The most units one owner has (1 for none): the tie-break's multiplier.

    Parameters
    ----------
    owners : numpy.ndarray
        The owner of each unit.

    Returns
    -------
    int
        The largest count of units of one owner.
    """
    if not len(owners):
        return 1
    if _is_sorted(owners):  # a cohort's: each owner's units a run, no copy sorted
        ends = np.flatnonzero(owners[1:] != owners[:-1])
        return int(np.diff(ends, prepend=-1, append=len(owners) - 1).max())
    return int(np.unique(owners, return_counts=True)[1].max())


def _is_sorted(values: np.ndarray) -> bool:
    """Whether ``values`` never decrease."""
    return not np.any(values[1:] < values[:-1])


def _positions_of(owners: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """``_positions(owners)[unit]``: each of ``unit``'s position among its owner's
    units, found by a search among the owners where they are sorted (a cohort's
    are: flow_arcs checks it), so that only the arcs' units are looked at.

    Found for every unit as Python ints (the owners as a list, a Counter of them),
    they were about 90 bytes a unit of the flows' peak in a large cohort."""
    if not _is_sorted(owners):
        every: np.ndarray = np.asarray(_positions(owners.tolist()), np.int64)[unit]
        return every
    found: np.ndarray = np.asarray(unit, np.int64) - np.searchsorted(
        owners, owners[unit], side="left"
    )
    return found


def arc_costs(
    owners: np.ndarray,
    unit: np.ndarray,
    mentor: np.ndarray,
    prio: np.ndarray,
    loc: np.ndarray,
    nosubj: np.ndarray,
    weights: Weights,
) -> np.ndarray:
    """Each pairing arc's cost in the flow (the owner bonus aside).

    The tie-break's positions count every unit of an owner, placeable or not,
    so that a person planned alone or in a cohort is numbered the same.

    Parameters
    ----------
    owners : numpy.ndarray
        The owner of each unit.
    unit, mentor, prio, loc, nosubj : numpy.ndarray
        The arcs, as the fields of :class:`Arc`.
    weights : Weights
        The criteria's weights (:func:`weights_for`).

    Returns
    -------
    numpy.ndarray
        The cost of each arc (int64).
    """
    tie = mentor * (most_units(owners) - _positions_of(owners, unit))
    w = weights
    costs: np.ndarray = -prio * w.prio + loc * w.loc + nosubj * w.subj + tie * w.tie
    return costs


def allocate(
    owners: Sequence[int],
    arcs: Sequence[Arc],
    capacity: Sequence[int],
    secondary: Collection[int] = (),
) -> Allocation:
    """Pair units with mentors: the lexicographic optimum of the module docstring.

    Parameters
    ----------
    owners : sequence of int
        The owner of each unit (any integers; equal means the same owner).
    arcs : sequence of Arc
        The possible pairings; ``Arc.unit`` indexes ``owners``, ``Arc.mentor``
        indexes ``capacity``.
    capacity : sequence of int
        Each mentor's free places.
    secondary : collection of int
        Owners placed only after the others (their bonus is the lower one).

    Returns
    -------
    Allocation
        Each unit's chosen arc index (-1: unplaced) and the weights used.

    Raises
    ------
    EvaluationError
        If the solver fails (it should not: the problem is always feasible).
    """
    if not arcs:  # nothing to place: the weights allocate_arrays would report
        return Allocation(tuple([-1] * len(owners)), _no_arcs_weights(owners, capacity))
    if not secondary and len(set(owners)) == 1:
        alone = _one_owner(len(owners), arcs, capacity)
        if alone is not None:
            return alone
    return solve(owners, arcs, capacity, secondary)


def solve(
    owners: Sequence[int],
    arcs: Sequence[Arc],
    capacity: Sequence[int],
    secondary: Collection[int] = (),
) -> Allocation:
    """:func:`allocate` by the flow solver always (no shortcut for one owner).

    Parameters
    ----------
    owners, arcs, capacity, secondary
        As for :func:`allocate`.

    Returns
    -------
    Allocation
        As :func:`allocate`.

    Raises
    ------
    EvaluationError
        If the solver fails.
    """
    table = np.array([(x.unit, x.mentor, x.prio, x.loc, x.nosubj) for x in arcs], np.int64).reshape(
        -1, 5
    )
    return allocate_arrays(
        np.asarray(owners, np.int64),
        table[:, 0],
        table[:, 1],
        table[:, 2],
        table[:, 3],
        table[:, 4],
        np.asarray(capacity, np.int64),
        secondary,
    )


#: weights_for, memoised: a person's problems repeat a few sizes over and over.
_cached_weights = functools.lru_cache(maxsize=4096)(weights_for)


def _no_arcs_weights(owners: Sequence[int], capacity: Sequence[int]) -> Weights:
    """The weights :func:`allocate_arrays` computes for a problem without arcs."""
    counts = Counter(owners)
    most = max(counts.values()) if counts else 1
    return _cached_weights(0, 0, sum(capacity), len(capacity), 1, 2 + len(capacity), 0, most)


def _one_owner(n_all: int, arcs: Sequence[Arc], capacity: Sequence[int]) -> Allocation | None:
    """The optimum for one owner, without the flow solver, when it is plain to see.

    One owner (a person resolved alone) has a few units. With exact weights an
    arc's cost orders arcs as (-prio, loc, nosubj, mentor) within a unit (the
    tie-break's multiplier is the same for all of a unit's arcs), every arc's
    cost is negative and the owner's bonus is earned by any placement; so when
    each unit's least arc is unique and no mentor is then given more units than
    their free places, those arcs are the one optimum: the solver would return
    them too. A mentor asked for beyond their places: :func:`_one_owner_search`;
    a tie: None, and the caller runs the solver.
    """
    n_units = len({a.unit for a in arcs})
    weights = _cached_weights(
        n_units,
        1,
        sum(capacity),
        len(capacity),
        max(a.prio for a in arcs),
        2 + 1 + n_units + len(capacity),
        0,
        n_all,
    )
    if not weights.exact or not weights.tie:
        return None
    best: dict[int, tuple[tuple[int, int, int, int], int]] = {}
    tied = set()
    for k, (unit, mentor, _served, prio, loc, nosubj) in enumerate(arcs):
        key = (-prio, loc, nosubj, mentor)
        held = best.get(unit)
        if held is None or key < held[0]:
            best[unit] = (key, k)
            tied.discard(unit)
        elif key == held[0]:
            tied.add(unit)
    if tied:
        return None
    taken: dict[int, int] = {}
    for key, _k in best.values():
        taken[key[3]] = taken.get(key[3], 0) + 1
    if any(count > capacity[m] for m, count in taken.items()):
        return _one_owner_search(n_all, arcs, capacity, weights)
    chosen = [-1] * n_all
    for unit, (_key, k) in best.items():
        chosen[unit] = k
    return Allocation(tuple(chosen), weights)


#: The most pairings :func:`_one_owner_search` tries before leaving it to the solver.
_SEARCH_LIMIT = 4096


def _one_owner_search(
    n_all: int, arcs: Sequence[Arc], capacity: Sequence[int], weights: Weights
) -> Allocation | None:
    """One owner's optimum by trying the pairings (each unit one of its arcs or none,
    no mentor past their places), when the units' best arcs ask a mentor for more
    than their free places: a person has a unit or two, and the flow solver's set-up
    costs a millisecond. With exact weights the least total cost (arcs' costs as
    :func:`arc_costs` makes them, plus the owner bonus) is the solver's optimum when
    only one pairing reaches it; on a tie (the solver's pick), or with too many
    pairings to try, None: the caller runs the solver."""
    options: dict[int, list[tuple[int, int, int]]] = {}  # unit -> (cost, arc, mentor)
    for k, (unit, mentor, _served, prio, loc, nosubj) in enumerate(arcs):
        tie = mentor * (n_all - unit)  # one owner: a unit's position is its index
        cost = -prio * weights.prio + loc * weights.loc + nosubj * weights.subj
        options.setdefault(unit, []).append((cost + tie * weights.tie, k, mentor))
    count = 1
    for listed in options.values():
        listed.sort()  # the cheapest first: the first complete pairing is a good bound
        listed.append((0, -1, -1))  # the unit left unplaced (every arc costs less)
        count *= len(listed)
    if count > _SEARCH_LIMIT:
        return None
    search = _Search(list(options.values()), list(capacity), weights.owner)
    search.extend(0, 0, False)
    if search.best is None or search.ties:
        return None
    chosen = [-1] * n_all
    for unit, k in zip(options, search.best, strict=True):
        chosen[unit] = k
    return Allocation(tuple(chosen), weights)


class _Search:
    """The depth-first search of :func:`_one_owner_search`: unit by unit, a branch
    left as soon as even its units' cheapest arcs cannot bring it down to the least
    total found (kept when they could only equal it, so that a tie is seen)."""

    def __init__(self, options: list[list[tuple[int, int, int]]], free: list[int], bonus: int):
        self.options, self.free, self.bonus = options, free, bonus
        # units j.. at their cheapest: a bound on what they can add
        self.floor = [0] * (len(options) + 1)
        for j in range(len(options) - 1, -1, -1):
            self.floor[j] = self.floor[j + 1] + options[j][0][0]
        self.picks: list[int] = []
        self.best: tuple[int, ...] | None = None
        self.least = 0
        self.ties = 0

    def extend(self, j: int, total: int, placed: bool) -> None:
        """Try every option of unit ``j`` after the picks so far (costing ``total``)."""
        if j == len(self.options):
            if placed:
                total -= self.bonus
            if self.best is None or total < self.least:
                self.best, self.least, self.ties = tuple(self.picks), total, 0
            elif total == self.least:
                self.ties += 1
            return
        if self.best is not None and total + self.floor[j] - self.bonus > self.least:
            return
        free = self.free
        for cost, k, mentor in self.options[j]:
            if k >= 0 and not free[mentor]:
                continue
            if k >= 0:
                free[mentor] -= 1
            self.picks.append(k)
            self.extend(j + 1, total + cost, placed or k >= 0)
            self.picks.pop()
            if k >= 0:
                free[mentor] += 1


def allocate_arrays(
    owners: np.ndarray,
    unit: np.ndarray,
    mentor: np.ndarray,
    prio: np.ndarray,
    loc: np.ndarray,
    nosubj: np.ndarray,
    capacity: np.ndarray,
    secondary: Collection[int] = (),
) -> Allocation:
    """:func:`allocate` on arrays: one entry per unit (``owners``) and per arc.

    Units without an arc and their owners are left out of the network (they
    cannot be placed), which keeps the cost range, and so the exactness, of a
    large cohort where most units compete for few places.

    Parameters
    ----------
    owners : numpy.ndarray
        The owner of each unit (int64).
    unit, mentor, prio, loc, nosubj : numpy.ndarray
        The arcs, as the fields of :class:`Arc` (int64 each, equal lengths).
    capacity : numpy.ndarray
        Each mentor's free places (int64).
    secondary : collection of int
        Owners placed only after the others.

    Returns
    -------
    Allocation
        Each unit's chosen arc index (-1: unplaced) and the weights used.

    Raises
    ------
    EvaluationError
        If the solver fails.
    """
    n_all = len(owners)
    n_mentors = len(capacity)
    used_units = np.unique(unit)
    # each arc's unit's position among the units with arcs (sorted, each once)
    compact = np.searchsorted(used_units, unit)
    owner_codes, owner_of = np.unique(owners[used_units], return_inverse=True)
    n_units, n_owners = len(used_units), len(owner_codes)
    # nodes: 0 source, 1 sink, owners, units, mentors
    first_unit = 2 + n_owners
    first_mentor = first_unit + n_units
    n_nodes = first_mentor + n_mentors
    second = np.isin(owner_codes, np.fromiter(secondary, np.int64)) if secondary else None
    w = weights_for(
        n_units,
        n_owners,
        int(capacity.sum()),
        n_mentors,
        int(prio.max()) if len(prio) else 1,
        n_nodes,
        int(second.sum()) if second is not None else 0,
        most_units(owners),
    )
    if not len(unit):
        return Allocation(tuple([-1] * n_all), w)
    from ortools.graph.python import min_cost_flow  # a compiled solver: imported when needed

    solver = min_cost_flow.SimpleMinCostFlow()
    units_of = np.bincount(owner_of, minlength=n_owners)
    owner_nodes = np.arange(2, 2 + n_owners, dtype=np.int64)
    # source -> owner: the first unit placed earns the owner bonus
    bonus = np.full(n_owners, -w.owner, np.int64)
    if second is not None:
        bonus[second] = -w.second
    solver.add_arcs_with_capacity_and_unit_cost(
        np.zeros(n_owners, np.int64), owner_nodes, np.ones(n_owners, np.int64), bonus
    )
    more = units_of > 1
    solver.add_arcs_with_capacity_and_unit_cost(
        np.zeros(int(more.sum()), np.int64),
        owner_nodes[more],
        (units_of[more] - 1).astype(np.int64),
        np.zeros(int(more.sum()), np.int64),
    )
    solver.add_arcs_with_capacity_and_unit_cost(
        2 + owner_of.astype(np.int64),
        np.arange(first_unit, first_mentor, dtype=np.int64),
        np.ones(n_units, np.int64),
        np.zeros(n_units, np.int64),
    )
    first_pair = solver.num_arcs()
    costs = arc_costs(owners, unit, mentor, prio, loc, nosubj, w)
    solver.add_arcs_with_capacity_and_unit_cost(
        first_unit + compact, first_mentor + mentor, np.ones(len(unit), np.int64), costs
    )
    solver.add_arcs_with_capacity_and_unit_cost(
        np.arange(first_mentor, n_nodes, dtype=np.int64),
        np.ones(n_mentors, np.int64),
        capacity.astype(np.int64),
        np.zeros(n_mentors, np.int64),
    )
    solver.add_arc_with_capacity_and_unit_cost(0, 1, n_units, 0)  # the unplaced
    solver.set_node_supply(0, n_units)
    solver.set_node_supply(1, -n_units)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise EvaluationError(f"mentor allocation: the flow solver returned {status.name}")
    flows = solver.flows(np.arange(first_pair, first_pair + len(unit), dtype=np.int64))
    chosen = [-1] * n_all
    for k in np.flatnonzero(flows):
        chosen[int(unit[k])] = int(k)
    return Allocation(tuple(chosen), w)
