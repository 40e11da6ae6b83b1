"""The route stage as a whole: drafts -> order -> schedule -> a Route.

:func:`build_route` makes the :class:`~deficit_engine.models.Route` of a
resolution (the engine calls it once per profile: its steps are tuples and its
graph is made only when asked for). :func:`plan` is the convenience that runs
the resolver and the route builder on a diagnosed Result, as the engine does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import networkx as nx

from ..errors import UsageError, WrongTypeError
from ..kb import KnowledgeBase
from ..models import Deficit, Resolution, Result, UnaddressedDeficit, Unmet
from ..resolve import resolve
from ..schema import Profile
from .layout import layout, layout_held
from .model import Route

__all__ = [
    "build_route",
    "plan",
    "planned",
    "route_graph",
    "unaddressed_deficits",
    "with_plan",
]

_new_object = object.__new__


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
    _check("build_route", kb, profile, resolution)
    return layout(kb, profile, result, resolution, today)


def _check(caller: str, kb: Any, profile: Any, resolution: Any) -> None:
    """Raise WrongTypeError when ``kb``, ``profile`` or ``resolution`` is not of its type."""
    if not isinstance(kb, KnowledgeBase):
        raise WrongTypeError(f"{caller}() needs a KnowledgeBase, not {type(kb).__name__}")
    if not isinstance(profile, Profile):
        raise WrongTypeError(f"{caller}() needs a validated Profile, not {type(profile).__name__}")
    if not isinstance(resolution, Resolution):
        raise WrongTypeError(f"{caller}() needs a Resolution, not {type(resolution).__name__}")


def planned(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    *,
    today: date | None = None,
) -> Result:
    """``with_plan(result, resolution, build_route(kb, profile, result, resolution))``
    in one: what the engine does with every person's resolution.

    The route builder knows which competencies its steps work on, so the deficits
    left unaddressed are found without going over the steps again.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the resolution was made with.
    profile : Profile
        The validated profile.
    result : Result
        The person's diagnosis.
    resolution : Resolution
        The catalogue items chosen for the person's needs.
    today : datetime.date, optional
        As in :func:`build_route`.

    Returns
    -------
    Result
        As :func:`with_plan` gives it.

    Raises
    ------
    WrongTypeError
        When ``kb``, ``profile`` or ``resolution`` is not of its type.
    """
    _check("build_route", kb, profile, resolution)
    route, held = layout_held(kb, profile, result, resolution, today)
    unmet = resolution.unmet
    # the deficits' competencies (the severities' keys, each once) no step holds
    left = _unaddressed(result.deficits, result.severities.keys() - held.keys(), unmet)
    return _planned(result, resolution.recommendations, unmet + left if left else unmet, route)


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
    if not deficits:
        return ()
    held: set[str] = set()
    for s in route.steps:
        if s.kind != "rediagnosis":
            held.update(s.competencies)
    return _unaddressed(deficits, {d.competency for d in deficits} - held, unmet)


def _unaddressed(
    deficits: Sequence[Deficit], missing: set[str], unmet: Sequence[Unmet]
) -> tuple[UnaddressedDeficit, ...]:
    """:func:`unaddressed_deficits`, given the deficits' competencies that no step
    besides the closing re-diagnosis holds (a set this takes apart): the deficits of
    those competencies that no unmet need names either, in the deficits' order."""
    if not missing:
        return ()
    # the unmet needs' competencies taken off until none is left (most routes
    # that miss a deficit's competency have it among the unmet needs)
    discard = missing.discard
    for u in unmet:
        # an unmet need's competency (Unmet.competency, without the property)
        discard(u.need.competency if type(u) is Unmet else u.competency)
        if not missing:
            return ()
    return tuple([UnaddressedDeficit(d) for d in deficits if d.competency in missing])


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
    return _planned(
        result,
        resolution.recommendations,
        unmet + unaddressed_deficits(result.deficits, route, unmet),
        route,
    )


def _planned(
    result: Result, recommendations: tuple[Any, ...], unmet: tuple[Any, ...], route: Route
) -> Result:
    """``result`` with these three fields: dataclasses.replace, without its
    ``__init__`` (thirteen frozen setattrs): a batch makes one per person. The copy
    keeps what the Result remembered of its unchanged fields (its severities, made
    from the deficits)."""
    made: Result = _new_object(type(result))
    fields = made.__dict__
    fields.update(result.__dict__)
    fields["recommendations"] = recommendations
    fields["unmet"] = unmet
    fields["route"] = route
    return made


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
    return planned(kb, profile, result, resolution, today=today)
