"""The route stage as a whole: drafts -> order -> schedule -> a Route.

:func:`build_route` makes the :class:`~deficit_engine.models.Route` of a
resolution (the engine calls it once per profile: its steps are tuples and its
graph is made only when asked for). :func:`plan` is the convenience that runs
the resolver and the route builder on a diagnosed Result, as the engine does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

import networkx as nx

from ..errors import UsageError, WrongTypeError
from ..kb import KnowledgeBase
from ..labels import format_hours
from ..models import Deficit, Resolution, Result, UnaddressedDeficit, Unmet
from ..months import month_index, month_text
from ..period import working_months
from ..resolve import resolve
from ..schema import Profile
from .drafts import Draft, step_drafts
from .model import Conflict, Overflow, Route, Step, centi
from .order import conflicts, order_edges, priorities, reduction
from .schedule import overflow, schedule, settings

__all__ = ["build_route", "plan", "route_graph", "unaddressed_deficits", "with_plan"]


class _Layout(NamedTuple):
    """The ordered and scheduled drafts, before they become :class:`Step` objects."""

    period: tuple[str, str]
    hours_per_month: float
    defaults: tuple[str, ...]
    drafts: list[Draft]
    ordered: list[int]  # draft indexes in step order (step ids s1, s2, ...)
    ids: dict[int, str]  # draft index -> step id
    after: dict[int, tuple[str, ...]]  # draft index -> ids of its direct predecessors
    alloc: dict[int, list[tuple[int, int]]]  # draft index -> (month index, centi-hours)
    months: dict[int, str]  # month index -> "YYYY-MM", every month in alloc
    overflow: Overflow | None
    conflicts: tuple[Conflict, ...]


def _layout(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    today: date | None,
) -> _Layout:
    """Order and schedule the steps of the route."""
    start, end, per_month, defaults = settings(profile, today)
    index = kb.index
    drafts = step_drafts(kb, profile, result, resolution, index.comp_key, index.mentoring)
    stages = [d.stage for d in drafts]
    priority = priorities(result, drafts, stages, index.comp_key)
    succ, dropped, topo, closing = order_edges(drafts, stages, priority, index.prerequisites)
    direct = reduction(succ, topo, closing)
    calendar = kb.planning.planning.calendar
    holidays = frozenset(calendar.holidays)
    alloc = schedule(drafts, topo, direct, month_index(start), centi(per_month), holidays)

    # by start month, ties in topological order (sorted() is stable)
    ordered = sorted(topo, key=lambda n: alloc[n][0][0])
    ids = {n: f"s{i}" for i, n in enumerate(ordered, 1)}
    rank = {n: i for i, n in enumerate(ordered)}
    months = {m: month_text(m) for m in {m for parts in alloc.values() for m, _c in parts}}
    return _Layout(
        (start, end),
        per_month,
        defaults,
        drafts,
        ordered,
        ids,
        _predecessor_ids(ordered, direct, ids, rank),
        alloc,
        months,
        overflow(
            alloc,
            ordered,
            ids,
            (start, end),
            per_month,
            _too_long(drafts, ids, per_month * working_months(start, end, calendar)),
        ),
        conflicts(dropped, ids, rank),
    )


def _too_long(drafts: Sequence[Draft], ids: Mapping[int, str], holds: float) -> dict[str, str]:
    """Step id -> the programme of each programme step longer than the whole period.

    The resolver chooses such a programme only when no programme that fits
    serves the need (docs/route.md), so the overflow names them as its cause.
    """
    return {
        ids[n]: f"{d.ref} ({format_hours(d.centi / 100)} ч)"
        for n, d in enumerate(drafts)
        if d.kind == "program" and d.centi > centi(holds)
    }


def _predecessor_ids(
    ordered: Sequence[int],
    direct: Sequence[Sequence[int]],
    ids: Mapping[int, str],
    rank: Mapping[int, int],
) -> dict[int, tuple[str, ...]]:
    """Draft index -> the step ids of its direct predecessors, in step order."""
    after: dict[int, tuple[str, ...]] = {}
    for n in ordered:
        preds = direct[n]
        if len(preds) > 1:
            preds = sorted(preds, key=rank.__getitem__)
        after[n] = tuple([ids[p] for p in preds])
    return after


def _route_steps(lay: _Layout) -> tuple[Step, ...]:
    """The :class:`Step` objects of a layout, in step order."""
    months, drafts, alloc, ids, after = lay.months, lay.drafts, lay.alloc, lay.ids, lay.after
    make = Step._make  # a NamedTuple from an iterable, without the keyword machinery
    steps: list[Step] = []
    for n in lay.ordered:
        d = drafts[n]
        parts = alloc[n]
        steps.append(
            make(
                (
                    ids[n],
                    d.kind,
                    d.ref,
                    d.title,
                    d.comps,
                    d.education,
                    d.phase,
                    d.level,
                    months[parts[0][0]],
                    months[parts[-1][0]],
                    d.centi / 100,
                    tuple([(months[m], c / 100) for m, c in parts if c > 0]),
                    after[n],
                    d.responsible,
                    d.rules,
                    d.extra,
                )
            )
        )
    return tuple(steps)


def build_route(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    *,
    today: date | None = None,
) -> Route:
    """Order and schedule the recommendations of ``resolution`` for one person.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the resolution was made with.
    profile : Profile
        The validated profile: its period and hours a month, when it names them.
    result : Result
        The person's diagnosis: its deficits set the priorities and the re-diagnosis.
    resolution : Resolution
        The catalogue items chosen for the person's needs (:func:`~deficit_engine.resolve.resolve`).
    today : datetime.date, optional
        When the profile names no period, schedule in the school year after
        ``today`` (:func:`school_year`) instead of :data:`DEFAULT_PERIOD`.

    Returns
    -------
    Route
        The scheduled steps, the overflow and the conflicts if any (its
        ``graph`` is made when first read).

    Raises
    ------
    WrongTypeError
        When ``kb``, ``profile`` or ``resolution`` is not of its type.
    """
    if not isinstance(kb, KnowledgeBase):
        raise WrongTypeError(f"build_route() needs a KnowledgeBase, not {type(kb).__name__}")
    if not isinstance(profile, Profile):
        raise WrongTypeError(
            f"build_route() needs a validated Profile, not {type(profile).__name__}"
        )
    if not isinstance(resolution, Resolution):
        raise WrongTypeError(f"build_route() needs a Resolution, not {type(resolution).__name__}")
    lay = _layout(kb, profile, result, resolution, today)
    return Route(
        lay.period,
        lay.hours_per_month,
        lay.defaults,
        _route_steps(lay),
        lay.overflow,
        lay.conflicts,
    )


def route_graph(route: Route | Mapping[str, Any]) -> nx.DiGraph:
    """The step graph of a route: a :class:`Route`, or its JSON (``Route.to_dict()``,
    the ``route`` of a Result's JSON).

    Parameters
    ----------
    route : Route or mapping
        The route, or a route as ``Route.to_dict()`` writes it.

    Returns
    -------
    networkx.DiGraph
        One node per step id, with the step's other JSON fields as attributes,
        and an edge from each step to every step that names it in ``after``.
        (``Route.graph`` holds the Step objects themselves.)

    Raises
    ------
    WrongTypeError
        When ``route`` is neither a Route nor a mapping with a ``steps`` list.
    """
    if isinstance(route, Route):
        route = route.to_dict()
    if not isinstance(route, Mapping) or not isinstance(route.get("steps"), list):
        raise WrongTypeError("route_graph() needs a Route or a route dict with a 'steps' list")
    graph: nx.DiGraph = nx.DiGraph()
    for step in route["steps"]:
        graph.add_node(step["id"], **{k: v for k, v in step.items() if k != "id"})
    for step in route["steps"]:
        for pred in step.get("after", []):
            graph.add_edge(pred, step["id"])
    return graph


def unaddressed_deficits(
    deficits: Sequence[Deficit], route: Route, unmet: Sequence[Unmet]
) -> tuple[UnaddressedDeficit, ...]:
    """The deficits with no step (besides the closing re-diagnosis) and no unmet need.

    Parameters
    ----------
    deficits : sequence of Deficit
        The Result's deficits.
    route : Route
        Its route.
    unmet : sequence of Unmet
        The resolution's unmet needs.

    Returns
    -------
    tuple of UnaddressedDeficit
        In the deficits' order.
    """
    covered = {c for s in route.steps if s.kind != "rediagnosis" for c in s.competencies}
    reported = {u.competency for u in unmet}
    return tuple(
        [
            UnaddressedDeficit(d)
            for d in deficits
            if d.competency not in covered and d.competency not in reported
        ]
    )


def with_plan(result: Result, resolution: Resolution, route: Route) -> Result:
    """``result`` (a diagnosis) with its resolution and route filled in.

    Parameters
    ----------
    result : Result
        The diagnosed Result (deficits, needs, trace).
    resolution : Resolution
        What :func:`~deficit_engine.resolve.resolve` chose for its needs.
    route : Route
        What :func:`build_route` made of the resolution.

    Returns
    -------
    Result
        A copy with ``recommendations``, ``unmet`` (the unmet needs, then the
        deficits nothing addresses) and ``route``.
    """
    unmet = resolution.unmet
    return dataclasses.replace(
        result,
        recommendations=resolution.recommendations,
        unmet=unmet + unaddressed_deficits(result.deficits, route, unmet),
        route=route,
    )


def plan(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    *,
    today: date | None = None,
    mentor_load: Mapping[str, int] | None = None,
) -> Result:
    """Resolve a diagnosed Result's needs and build its route, as ``Engine.evaluate`` does.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the result was inferred with.
    profile : Profile
        The validated profile the result is for.
    result : Result
        The diagnosis, without recommendations or a route.
    today : datetime.date, optional
        As in :func:`build_route`.
    mentor_load : mapping of str to int, optional
        Mentor id -> mentees already assigned, passed to the resolver.

    Returns
    -------
    Result
        A copy of ``result`` with ``recommendations``, ``unmet`` (deficits no
        step addresses included) and ``route`` filled in.

    Raises
    ------
    WrongTypeError
        When ``result`` is not a Result.
    UsageError
        When ``result`` is for another profile than ``profile``, or a count in
        ``mentor_load`` is not a non-negative integer.
    """
    if not isinstance(result, Result):
        raise WrongTypeError(f"plan() needs a Result, not {type(result).__name__}")
    if isinstance(profile, Profile) and result.profile != profile.id:
        raise UsageError(f"the result is for profile {result.profile!r}, not {profile.id!r}")
    resolution = resolve(
        kb,
        profile,
        result.needs,
        mentor_load=mentor_load,
        severities=result.severities,
        today=today,
    )
    return with_plan(result, resolution, build_route(kb, profile, result, resolution, today=today))
