"""The competency ontology: groups, competencies, indicators and prerequisites.

Prerequisites are a ``networkx.DiGraph`` with an edge ``prerequisite ->
dependent``. Everything here is read-only after construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import networkx as nx

from .errors import UnknownIdError
from .rollups import levels_bisected, rollup_groups, rollup_indicators
from .schema import Competency, Group, Indicator, Level
from .suggest import suggest  # re-exported: every did-you-mean imports it from here

__all__ = ["Ontology", "Scale", "suggest"]


#: The most scores a Scale keeps the level of (0.00 to 100.00 are 10,001).
_LEVELS_KEPT = 1 << 15


class Scale:
    """Percent bands to level ids (ascending; the last level has no bound).

    Parameters
    ----------
    levels : sequence of Level
        The levels, lowest first, each with its upper bound ``below`` (None for
        the last).

    Attributes
    ----------
    levels : tuple of Level
        As given.
    ids : tuple of str
        The level ids, lowest first.
    """

    def __init__(self, levels: Sequence[Level]) -> None:
        self.levels = tuple(levels)
        self.ids = tuple(level.id for level in self.levels)
        # the bounds, when they ascend and only the last level has none (a loaded KB's
        # always do): a score's level is then found by bisection (levels_of)
        bounds = [level.below for level in self.levels[:-1] if level.below is not None]
        ascending = (
            bool(self.levels)
            and self.levels[-1].below is None
            and len(bounds) == len(self.levels) - 1
            and all(a < b for a, b in itertools.pairwise(bounds))
        )
        self._bounds = bounds if ascending else None
        # each score's level once: a profile asks for one per competency, indicator
        # and group, and scores in percent to 2 places take few distinct values
        self._level: dict[float, str] = {}

    def level_of(self, score_pct: float) -> str:
        """The level a score falls in: the first whose bound is above it.

        Parameters
        ----------
        score_pct : float
            A score in percent.

        Returns
        -------
        str
            The level's id (the last level for a score at or above every bound).
        """
        found = self._level.get(score_pct)
        if found is not None:
            return found
        found = self.levels[-1].id
        for level in self.levels:
            if level.below is None or score_pct < level.below:
                found = level.id
                break
        if len(self._level) < _LEVELS_KEPT:
            self._level[score_pct] = found
        return found

    def levels_of(self, scores: Mapping[str, float]) -> dict[str, str]:
        """Each score's level, by its key: ``{k: level_of(v) for k, v in scores.items()}``
        read from the kept levels where it can (a profile asks for a few dozen, and a
        call each cost more than the reading).

        Parameters
        ----------
        scores : Mapping of str to float
            Scores in percent, by id.

        Returns
        -------
        dict of str to str
            The level id of each, in ``scores``' order.
        """
        if self._bounds is None:
            level_of = self.level_of
            return {key: level_of(score) for key, score in scores.items()}
        # by bisection of the bounds: no kept table to read (a large dict of floats,
        # read cold)
        return levels_bisected(scores, self._bounds, self.ids)

    def title(self, level_id: str) -> str:
        """The title of a level, as documents show it.

        Parameters
        ----------
        level_id : str
            One of :attr:`ids`.

        Returns
        -------
        str
            The level's title.

        Raises
        ------
        UnknownIdError
            If the scale has no such level (it is also a ``KeyError``).
        """
        for level in self.levels:
            if level.id == level_id:
                return level.title
        raise UnknownIdError(level_id)


class Ontology:
    """Groups and competencies with their prerequisite graph and roll-ups.

    Parameters
    ----------
    groups : sequence of Group
        The competency groups.
    competencies : sequence of Competency
        The competencies, each with its indicators and prerequisites (``requires``;
        a prerequisite that is not among them is left out of the graph).

    Attributes
    ----------
    groups, competencies, indicators : dict
        Each by id.
    indicator_parent : dict of str to str
        Indicator id -> the id of its competency.
    competency_group : dict of str to str
        Competency id -> the id of its group (shared: not to be changed).
    graph : networkx.DiGraph
        One node per competency, an edge ``prerequisite -> dependent``.
    """

    def __init__(self, groups: Sequence[Group], competencies: Sequence[Competency]) -> None:
        self.groups: dict[str, Group] = {g.id: g for g in groups}
        self.competencies: dict[str, Competency] = {c.id: c for c in competencies}
        self.indicators: dict[str, Indicator] = {}
        self.indicator_parent: dict[str, str] = {}
        #: competency -> the id of its group (read by the roll-ups and the base facts)
        self.competency_group: dict[str, str] = {c.id: c.group for c in competencies}
        #: indicator -> (its competency, its weight), what the indicators' roll-up reads
        self.weighted_parent: dict[str, tuple[str, float]] = {}
        for comp in competencies:
            for ind in comp.indicators:
                self.indicators[ind.id] = ind
                self.indicator_parent[ind.id] = comp.id
                self.weighted_parent[ind.id] = (comp.id, ind.weight)
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
        """The group of a competency.

        Parameters
        ----------
        competency_id : str
            A competency of the ontology.

        Returns
        -------
        str
            The id of its group.

        Raises
        ------
        KeyError
            If the ontology has no such competency.
        """
        return self.competencies[competency_id].group

    def prerequisites(self, competency_id: str, transitive: bool = True) -> set[str]:
        """Competencies that must come before ``competency_id``.

        Parameters
        ----------
        competency_id : str
            A competency of the ontology.
        transitive : bool
            All its ancestors in the graph (the default), or only its direct
            prerequisites.

        Returns
        -------
        set of str
            The prerequisites' ids (a new set: the caller may change it).

        Raises
        ------
        networkx.NetworkXError
            If the ontology has no such competency.
        """
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
        """All competencies, prerequisites first, ties by id (deterministic).

        Returns
        -------
        list of str
            The competency ids; by id alone if the prerequisites have a cycle.
        """
        return sorted(self._order, key=self._order.__getitem__)

    def order_key(self, competency_id: str) -> int:
        """A competency's place in :meth:`topological_order`, a sort key.

        Parameters
        ----------
        competency_id : str
            A competency of the ontology.

        Returns
        -------
        int
            Its 0-based position.

        Raises
        ------
        KeyError
            If the ontology has no such competency.
        """
        return self._order[competency_id]

    def cycles(self) -> list[list[str]]:
        """Prerequisite cycles (empty for a valid ontology).

        Returns
        -------
        list of list of str
            Each cycle as the competency ids along it.
        """
        return [list(cycle) for cycle in nx.simple_cycles(self.graph)]

    # --- roll-ups ----------------------------------------------------------

    def rollup_indicators(self, indicator_scores: Mapping[str, float]) -> dict[str, float]:
        """Weighted mean of the present indicators of each competency.

        Parameters
        ----------
        indicator_scores : Mapping of str to float
            Indicator id -> score in percent, for the indicators with a result.

        Returns
        -------
        dict of str to float
            Competency id -> the weighted mean of its indicators' scores, to 2
            places, for each competency with at least one; sorted by id.

        Raises
        ------
        KeyError
            If an indicator is not in the ontology.
        """
        return rollup_indicators(self.weighted_parent, indicator_scores)

    def rollup_groups(self, competency_scores: Mapping[str, float]) -> dict[str, float]:
        """Plain mean of each group's competency scores (groups with results only).

        Parameters
        ----------
        competency_scores : Mapping of str to float
            Competency id -> score in percent.

        Returns
        -------
        dict of str to float
            Group id -> the mean of its competencies' scores, to 2 places; sorted by id.

        Raises
        ------
        KeyError
            If a competency is not in the ontology.
        """
        return rollup_groups(self.competency_group, competency_scores)
