"""A stored route's JSON read back as a :class:`~deficit_engine.models.Route`.

A person's marks refer to the step ids of the route version stored with their
diagnosis. Evaluating the stored profile again would give another route when
the cohort plan shared mentors and places differently, so progress over stored
diagnoses reads the route that was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import Conflict, Overflow, Route, Step

__all__ = ["route_from_json"]

#: The fields every step has, in Step's order; other keys are its extra fields.
_STEP_FIELDS = Step._fields[:-1]


def route_from_json(data: Mapping[str, Any]) -> Route:
    """The route ``Route.to_dict`` wrote.

    Parameters
    ----------
    data : mapping
        A route's JSON.

    Returns
    -------
    Route
        Equal to the route that was written.
    """
    overflow = data.get("overflow")
    return Route(
        (data["period"]["start"], data["period"]["end"]),
        float(data["hours_per_month"]),
        tuple(data.get("defaults", ())),
        tuple(_step(s) for s in data.get("steps", ())),
        None
        if overflow is None
        else Overflow(
            overflow["months"],
            overflow["end"],
            float(overflow["hours"]),
            tuple(overflow["steps"]),
            overflow["message"],
        ),
        tuple(Conflict(c["before"], c["after"], c["reason"]) for c in data.get("conflicts", ())),
    )


def _step(data: Mapping[str, Any]) -> Step:
    extra = tuple(
        (key, tuple(value) if isinstance(value, list) else value)
        for key, value in data.items()
        if key not in _STEP_FIELDS
    )
    return Step(
        data["id"],
        data["kind"],
        data["ref"],
        data["title"],
        tuple(data["competencies"]),
        data["education"],
        data["phase"],
        data["level"],
        data["start"],
        data["end"],
        float(data["hours"]),
        tuple((month, float(hours)) for month, hours in data["allocation"].items()),
        tuple(data["after"]),
        data["responsible"],
        tuple(data["rules"]),
        extra,
    )
