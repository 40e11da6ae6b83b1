"""The order of a route's steps: a DAG over the drafts, its cycles broken, its conflicts.

Each competency's steps go learn -> practice -> share -> reflect, and a
competency's prerequisites come first (same phase or an earlier one). A step
that bundles competencies on both sides of a prerequisite makes a cycle; the
edges that break it are dropped and reported as conflicts. Nodes are draft
indexes and reachability is kept in int bit sets: this runs once per profile.
The topological order and the direct predecessors are found as the steps are
placed (:func:`~.schedule.schedule`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from ..resolve.cover import bits
from .drafts import CLOSING_STAGE
from .model import Conflict

__all__ = ["bits", "break_cycles", "conflicts", "drop_cycles", "predecessors"]


def predecessors(
    drafts: Sequence[tuple[Any, ...]],
    opened: int,
    prerequisites: Mapping[str, tuple[str, ...]],
    holding: dict[str, int] | None = None,
) -> list[int]:
    """Draft -> the bit set of the drafts the ontology puts before it.

    For each competency, its steps go learn -> practice -> share -> reflect;
    the steps of its prerequisites come before it, in the same phase or an
    earlier one. Edges never go to an earlier stage, so cycles lie within one.

    Parameters
    ----------
    drafts : sequence of tuple
        The drafts (laid out as :class:`~.drafts.Draft`: competencies at 4,
        stage at 13).
    opened : int
        How many drafts come before the closing step (which gets no edges).
    prerequisites : mapping of str to tuple of str
        Competency -> its transitive prerequisites.
    holding : dict, optional
        An empty dict, filled with competency -> the bit set of the drafts that
        hold it (so the caller knows which competencies the steps work on).

    Returns
    -------
    list of int
        Draft -> the bit set of its predecessors (itself left out).
    """
    if holding is None:
        holding = {}
    in_stage = [0] * (CLOSING_STAGE + 1)
    bit = 1
    for i in range(opened):
        d = drafts[i]
        in_stage[d[13]] |= bit
        for c in d[4]:
            holding[c] = holding.get(c, 0) | bit
        bit <<= 1
    below = [0] * (CLOSING_STAGE + 2)  # stage -> the drafts of earlier stages
    for s in range(CLOSING_STAGE + 1):
        below[s + 1] = below[s] | in_stage[s]
    # competency -> the drafts holding one of its prerequisites
    before: dict[str, int] = {}
    none: tuple[str, ...] = ()
    for c in holding:
        mask = 0
        for y in prerequisites.get(c, none):
            if y in holding:
                mask |= holding[y]
        before[c] = mask
    preds = []
    bit = 1
    for i in range(opened):
        d = drafts[i]
        st = d[13]
        comps = d[4]
        if len(comps) == 1:  # most drafts
            c = comps[0]
            mask = (holding[c] & below[st]) | (before[c] & below[st + 1])
        else:
            earlier, up_to = below[st], below[st + 1]
            mask = 0
            for c in comps:
                mask |= (holding[c] & earlier) | (before[c] & up_to)
        preds.append(mask & ~bit)
        bit <<= 1
    return preds


def drop_cycles(preds: list[int], priority: Sequence[Any], opened: int) -> list[tuple[int, int]]:
    """Drop from ``preds`` (and return) the edges that break the cycles among the
    drafts ``0 .. opened - 1`` (:func:`break_cycles`): :func:`~.schedule.schedule`
    found one.

    Parameters
    ----------
    preds : list of int
        Draft -> the bit set of its predecessors (:func:`predecessors`);
        the dropped edges are taken out of it.
    priority : sequence
        Draft -> its scheduling priority (ascending with the draft's number),
        as tuples or as anything that compares as they do.
    opened : int
        How many drafts (the closing step left out).

    Returns
    -------
    list of (int, int)
        The edges dropped to break cycles (see :func:`conflicts`).
    """
    succ: list[set[int]] = [set() for _ in range(opened)]
    for t in range(opened):
        for s in bits(preds[t]):
            succ[s].add(t)
    dropped = break_cycles(succ, priority)
    for s, t in dropped:
        preds[t] &= ~(1 << s)
    return dropped


def break_cycles(succ: list[set[int]], priority: Sequence[Any]) -> list[tuple[int, int]]:
    """Drop from ``succ`` the edges that go against ``priority`` inside a cycle,
    and return them (sorted within each cycle).

    Cycles lie within one phase (edges never go to an earlier phase): a
    bundled step holds competencies on both sides of a prerequisite. Keeping
    the priority order inside each cycle breaks it.
    """
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(range(len(succ)))
    graph.add_edges_from((s, t) for s, ts in enumerate(succ) for t in ts)
    dropped: list[tuple[int, int]] = []
    for scc in nx.strongly_connected_components(graph):
        if len(scc) < 2:
            continue
        for s, t in sorted(graph.subgraph(scc).edges()):
            if priority[s] > priority[t]:
                succ[s].discard(t)
                dropped.append((s, t))
    return dropped


def conflicts(
    dropped: Sequence[tuple[int, int]], ids: Mapping[int, str], rank: Mapping[int, int]
) -> tuple[Conflict, ...]:
    """The orders the ontology asks for that the route could not keep.

    Parameters
    ----------
    dropped : sequence of (int, int)
        The edges :func:`drop_cycles` dropped to break cycles, as draft numbers.
    ids : mapping of int to str
        Draft index -> step id.
    rank : mapping of int to int
        Draft index -> its position in step order.

    Returns
    -------
    tuple of Conflict
        One per dropped edge, in step order.
    """
    return tuple(
        Conflict(
            ids[s],
            ids[t],
            f"порядок {ids[s]} → {ids[t]} не соблюдён: шаги {ids[s]} и {ids[t]} объединяют "
            "компетенции, которые по онтологии идут в обратном порядке друг относительно друга",
        )
        for s, t in sorted(dropped, key=lambda e: (rank[e[0]], rank[e[1]]))
    )
