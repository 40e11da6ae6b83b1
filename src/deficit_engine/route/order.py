"""The order of a route's steps: a DAG over the drafts, its topological order, direct predecessors.

Each competency's steps go learn -> practice -> share -> reflect, and a
competency's prerequisites come first (same phase or an earlier one). A step
that bundles competencies on both sides of a prerequisite makes a cycle; the
edges that break it are dropped and reported as conflicts. Nodes are draft
indexes and reachability is kept in int bit sets: this runs once per profile.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import networkx as nx

from ..models import Result
from ..rules import SEVERITIES
from .drafts import Draft
from .model import STEP_KINDS, Conflict

__all__ = ["conflicts", "order_edges", "priorities", "reduction"]

_KIND_RANK = {k: i for i, k in enumerate(STEP_KINDS)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def priorities(
    result: Result,
    drafts: Sequence[Draft],
    stages: Sequence[int],
    comp_key: Callable[[str], tuple[int, str]],
) -> list[tuple[Any, ...]]:
    """Each draft's scheduling priority: the smaller, the sooner among steps that are ready.

    Parameters
    ----------
    result : Result
        The diagnosis: the severity of each deficit.
    drafts : sequence of Draft
        The steps.
    stages : sequence of int
        Each draft's stage (:attr:`Draft.stage`).
    comp_key : callable
        The KB's competency sort key (ontology order, prerequisites first).

    Returns
    -------
    list of tuple
        Per draft: its most severe deficit's rank, its stage, its first
        competency in ontology order, its kind's rank, its catalogue id, its
        competencies.
    """
    severity = {d.competency: _SEVERITY_RANK.get(d.severity, 9) for d in result.deficits}
    out: list[tuple[Any, ...]] = []
    for d, stage in zip(drafts, stages, strict=True):
        comps = d.comps
        if len(comps) == 1:  # most steps: the min of one is itself
            worst: int = severity.get(comps[0], 9)
            first = comp_key(comps[0])
        else:
            worst = min((severity.get(c, 9) for c in comps), default=9)
            first = min((comp_key(c) for c in comps), default=(10**9, ""))
        out.append((worst, stage, first, _KIND_RANK[d.kind], d.ref or "", comps))
    return out


def _ranks(priority: Sequence[tuple[Any, ...]]) -> list[int]:
    """Each draft's position when ordered by (priority, index): ties broken the
    way the scheduler breaks them, as plain ints that are cheap to compare."""
    rank = [0] * len(priority)
    for r, i in enumerate(sorted(range(len(priority)), key=priority.__getitem__)):
        rank[i] = r
    return rank


def order_edges(
    drafts: Sequence[Draft],
    stages: Sequence[int],
    priority: Sequence[tuple[Any, ...]],
    prerequisites: Mapping[str, frozenset[str]],
) -> tuple[list[set[int]], list[tuple[int, int]], list[int], list[int]]:
    """The order of the steps: a DAG over draft indexes and its topological order.

    A closing step (the re-diagnosis) comes after every other step and before
    none: instead of an edge from every other step, it is left out of ``succ``
    and put last in the order; :func:`reduction` gives it its direct
    predecessors (the other steps without a successor).

    Parameters
    ----------
    drafts : sequence of Draft
        The steps.
    stages : sequence of int
        Each draft's stage (:attr:`Draft.stage`).
    priority : sequence of tuple
        Each draft's priority (:func:`priorities`): ties in the order, and
        which edge of a cycle gives way.
    prerequisites : mapping of str to frozenset of str
        The KB's competency -> its transitive prerequisites.

    Returns
    -------
    succ : list of set of int
        Draft index -> its successors, cycles broken.
    dropped : list of (int, int)
        The edges dropped to break cycles (see :func:`conflicts`).
    topo : list of int
        The draft indexes in topological order, ties by priority, closing steps last.
    closing : list of int
        The closing steps' draft indexes.
    """
    rank = _ranks(priority)
    closing = [i for i, d in enumerate(drafts) if d.kind == "rediagnosis"]
    succ = _edges(drafts, stages, prerequisites)
    dropped: list[tuple[int, int]] = []
    topo = _topological(succ, rank, closing)
    if topo is None:
        dropped = _break_cycles(succ, priority)
        topo = _topological(succ, rank, closing)
        if topo is None:  # pragma: no cover - every cycle is broken by _break_cycles
            raise RuntimeError("internal error: the route graph has a cycle")
    return succ, dropped, topo, closing


def _edges(
    drafts: Sequence[Draft], stages: Sequence[int], prerequisites: Mapping[str, frozenset[str]]
) -> list[set[int]]:
    """The successor sets of the order the ontology asks for, closing steps left out.

    For each competency, its steps go learn -> practice -> share -> reflect;
    the steps of its prerequisites come before it, in the same phase or an
    earlier one. Edges never go to an earlier stage, so cycles lie within one.
    """
    with_comp = _steps_by_competency(drafts)
    before = _prerequisite_steps(with_comp, prerequisites)
    succ: list[set[int]] = [set() for _ in drafts]
    for t, dt in enumerate(drafts):
        if dt.kind == "rediagnosis":
            continue
        st = stages[t]
        for c in dt.comps:
            # learn -> practice -> share -> reflect for each competency
            for s in with_comp[c]:
                if stages[s] < st:
                    succ[s].add(t)
            # prerequisite competencies first (same phase or an earlier one)
            for s in before[c]:
                if s != t and stages[s] <= st:
                    succ[s].add(t)
    return succ


def _steps_by_competency(drafts: Sequence[Draft]) -> dict[str, list[int]]:
    """Competency -> the steps holding it, closing steps left out."""
    with_comp: dict[str, list[int]] = {}
    for i, d in enumerate(drafts):
        if d.kind != "rediagnosis":
            for c in d.comps:
                with_comp.setdefault(c, []).append(i)
    return with_comp


def _prerequisite_steps(
    with_comp: Mapping[str, list[int]], prerequisites: Mapping[str, frozenset[str]]
) -> dict[str, list[int]]:
    """Competency -> the steps holding one of its prerequisites (``with_comp``
    as :func:`_steps_by_competency` gives it)."""
    present = set(with_comp)
    before: dict[str, list[int]] = {}
    for c in with_comp:
        found = before[c] = []
        if c in prerequisites:
            for y in prerequisites[c] & present:
                found.extend(with_comp[y])
    return before


def _break_cycles(
    succ: list[set[int]], priority: Sequence[tuple[Any, ...]]
) -> list[tuple[int, int]]:
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


def _topological(
    succ: Sequence[set[int]], rank: Sequence[int], last: Sequence[int] = ()
) -> list[int] | None:
    """Kahn's algorithm, ties by ``rank`` (the position in priority order, see
    :func:`_ranks`); None when there is a cycle. The nodes in ``last`` (which
    have no edges) come after all the others, by rank: as if every other node
    had an edge to each of them."""
    indegree = [0] * len(succ)
    for targets in succ:
        for t in targets:
            indegree[t] += 1
    for z in last:
        indegree[z] = -1  # never ready in the loop below
    node = [0] * len(rank)
    for i, r in enumerate(rank):
        node[r] = i
    ready = [rank[i] for i, deg in enumerate(indegree) if deg == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        n = node[heapq.heappop(ready)]
        order.append(n)
        for t in succ[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                heapq.heappush(ready, rank[t])
    order.extend(sorted(last, key=rank.__getitem__))
    return order if len(order) == len(succ) else None


def reduction(
    succ: Sequence[set[int]], topo: Sequence[int], last: Sequence[int] = ()
) -> list[list[int]]:
    """Each node's direct predecessors: its predecessors in the transitive reduction.

    Parameters
    ----------
    succ : sequence of set of int
        Node -> its successors (a DAG).
    topo : sequence of int
        The nodes in topological order.
    last : sequence of int, optional
        Nodes without edges that come after every other node, as in
        :func:`_topological`: their direct predecessors are the other nodes
        without a successor.

    Returns
    -------
    list of list of int
        Node -> its direct predecessors. Reachability is kept as int bit sets.
    """
    below = [0] * len(succ)
    for u in reversed(topo):
        mask = 0
        for v in succ[u]:
            mask |= below[v] | (1 << v)
        below[u] = mask
    preds: list[list[int]] = [[] for _ in succ]
    for u, targets in enumerate(succ):
        covered = 0
        for w in targets:
            covered |= below[w]
        for v in targets:
            if not (covered >> v) & 1:
                preds[v].append(u)
    if last:
        ends = set(last)
        sinks = [u for u, targets in enumerate(succ) if not targets and u not in ends]
        for z in last:
            preds[z] = list(sinks)
    return preds


def conflicts(
    dropped: Sequence[tuple[int, int]], ids: Mapping[int, str], rank: Mapping[int, int]
) -> tuple[Conflict, ...]:
    """The orders the ontology asks for that the route could not keep.

    Parameters
    ----------
    dropped : sequence of (int, int)
        The edges :func:`order_edges` dropped to break cycles, as draft indexes.
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
