"""The route's value types, as the route stage's modules import them.

They live in :mod:`deficit_engine.models.route`, because a Result holds a Route
and the models import no stage; the stage's modules import them from here.
"""

from __future__ import annotations

from ..models.route import STEP_KINDS, Conflict, Overflow, Route, Step, centi

__all__ = ["STEP_KINDS", "Conflict", "Overflow", "Route", "Step", "centi"]
