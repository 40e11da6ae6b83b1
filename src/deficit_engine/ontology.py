"""The competency ontology: groups, competencies, indicators and prerequisites.

Prerequisites are a ``networkx.DiGraph`` with an edge ``prerequisite ->
dependent``. Everything here is read-only after construction.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

import networkx as nx

from .errors import UnknownIdError
from .schema import Competency, Group, Indicator, Level

__all__ = ["Ontology", "Scale", "suggest"]


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The nearest existing id to ``name``, if one is close enough."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


class Scale:
    """Percent bands to level ids (ascending; the last level has no bound)."""

    def __init__(self, levels: Sequence[Level]) -> None:
        self.levels = tuple(levels)
        self.ids = tuple(level.id for level in self.levels)

    def level_of(self, score_pct: float) -> str:
        for level in self.levels:
            if level.below is None or score_pct < level.below:
                return level.id
        return self.levels[-1].id

    def title(self, level_id: str) -> str:
        for level in self.levels:
            if level.id == level_id:
                return level.title
        raise UnknownIdError(level_id)


class Ontology:
    """Groups and competencies with their prerequisite graph and roll-ups."""

    def __init__(self, groups: Sequence[Group], competencies: Sequence[Competency]) -> None:
        self.groups: dict[str, Group] = {g.id: g for g in groups}
        self.competencies: dict[str, Competency] = {c.id: c for c in competencies}
        self.indicators: dict[str, Indicator] = {}
        self.indicator_parent: dict[str, str] = {}
        for comp in competencies:
            for ind in comp.indicators:
                self.indicators[ind.id] = ind
                self.indicator_parent[ind.id] = comp.id
        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from(sorted(self.competencies))
        for comp in competencies:
            for req in comp.requires:
                if req in self.competencies:
                    graph.add_edge(req, comp.id)
        self.graph = graph
        self._ancestors: dict[str, frozenset[str]] = {}  # filled lazily; the graph never changes
        self._order = {c: i for i, c in enumerate(self._topological_order())}

    # --- lookups -----------------------------------------------------------

    def group_of(self, competency_id: str) -> str:
        return self.competencies[competency_id].group

    def prerequisites(self, competency_id: str, transitive: bool = True) -> set[str]:
        """Competencies that must come before ``competency_id``."""
        if transitive:
            if competency_id not in self._ancestors:
                self._ancestors[competency_id] = frozenset(nx.ancestors(self.graph, competency_id))
            return set(self._ancestors[competency_id])
        return set(self.graph.predecessors(competency_id))

    def _topological_order(self) -> list[str]:
        if not nx.is_directed_acyclic_graph(self.graph):
            return sorted(self.competencies)
        return list(nx.lexicographical_topological_sort(self.graph))

    def topological_order(self) -> list[str]:
        """All competencies, prerequisites first, ties by id (deterministic)."""
        return sorted(self._order, key=self._order.__getitem__)

    def order_key(self, competency_id: str) -> int:
        return self._order[competency_id]

    def cycles(self) -> list[list[str]]:
        """Prerequisite cycles (empty for a valid ontology)."""
        return [list(cycle) for cycle in nx.simple_cycles(self.graph)]

    # --- roll-ups ----------------------------------------------------------

    def rollup_indicators(self, indicator_scores: Mapping[str, float]) -> dict[str, float]:
        """Weighted mean of the present indicators of each competency."""
        sums: dict[str, float] = {}
        weights: dict[str, float] = {}
        for ind_id, score in indicator_scores.items():
            comp = self.indicator_parent[ind_id]
            weight = self.indicators[ind_id].weight
            sums[comp] = sums.get(comp, 0.0) + weight * score
            weights[comp] = weights.get(comp, 0.0) + weight
        return {comp: round(sums[comp] / weights[comp], 2) for comp in sorted(sums)}

    def rollup_groups(self, competency_scores: Mapping[str, float]) -> dict[str, float]:
        """Plain mean of each group's competency scores (groups with results only)."""
        members: dict[str, list[float]] = {}
        for comp, score in competency_scores.items():
            members.setdefault(self.group_of(comp), []).append(score)
        return {g: round(sum(v) / len(v), 2) for g, v in sorted(members.items())}
