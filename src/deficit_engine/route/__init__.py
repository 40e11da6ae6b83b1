"""The individual educational route (ИОМ): a graph of steps and its schedule.

:func:`build_route` turns a :class:`~deficit_engine.resolve.Resolution` into a
``networkx.DiGraph`` with one node per step (programme, mentoring, format,
self-education, re-diagnosis) and edges for order, then schedules the steps
into the months of the profile's period within its hours per month.
:func:`plan` runs the resolver and the route builder on a diagnosed Result, as
the engine does at the end of every evaluation. Everything here is a pure function
of its arguments: no clock (unless the caller passes ``today``), no shared
state. See docs/route.md for the defaults and the algorithm.

The package, in the order its modules import each other:

- :mod:`.model`: the value types (Step, Overflow, Conflict, Route; their home is
  :mod:`deficit_engine.models.route`, since a Result holds them);
- :mod:`.drafts`: a resolution's recommendations as step drafts;
- :mod:`.order`: the order DAG over the drafts (bit sets), a cycle's edges dropped;
- :mod:`.schedule`: the period, the hours a month, and list scheduling into months
  in topological order (found as the steps are placed);
- :mod:`.layout`: the three in one pass per person, on tables made once per KB;
- :mod:`.build`: the whole stage, :func:`build_route` and :func:`plan`.
"""

from __future__ import annotations

from ..months import month_range
from .build import build_route, plan, planned, route_graph, unaddressed_deficits, with_plan
from .drafts import REDIAGNOSIS_FORMAT, SELF_EDUCATION_FORMAT
from .model import STEP_KINDS, Conflict, Overflow, Route, Step
from .schedule import DEFAULT_HOURS_PER_MONTH, DEFAULT_PERIOD, school_year

__all__ = [
    "DEFAULT_HOURS_PER_MONTH",
    "DEFAULT_PERIOD",
    "REDIAGNOSIS_FORMAT",
    "SELF_EDUCATION_FORMAT",
    "STEP_KINDS",
    "Conflict",
    "Overflow",
    "Route",
    "Step",
    "build_route",
    "month_range",
    "plan",
    "planned",
    "route_graph",
    "school_year",
    "unaddressed_deficits",
    "with_plan",
]
