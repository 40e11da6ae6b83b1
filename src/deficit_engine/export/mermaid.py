"""The route graph as a Mermaid flowchart (``flowchart TD``)."""

from __future__ import annotations

from ..models import Result, Route
from ._graph import PHASE_COLOURS, overflowing, step_lines

__all__ = ["render_mermaid", "route_mermaid"]


def _label(text: str) -> str:
    # Mermaid entity codes keep quotes and angle brackets out of the syntax.
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def route_mermaid(route: Route | None, title: str = "") -> str:
    """A Mermaid flowchart of a route (``Result.route``; None draws an empty one).

    Parameters
    ----------
    route : Route or None
        The route.
    title : str
        A comment line naming the chart.

    Returns
    -------
    str
        The flowchart, a line per node, edge and class, ending in a newline.
    """
    steps = route.steps if route is not None else ()
    out = ["flowchart TD"]
    if title:
        out.append(f"  %% {title}")
    if route is not None:
        out.append(f"  %% период {route.period[0]} – {route.period[1]}")
    if not steps:
        out.append('  empty["Шагов нет"]')
        return "\n".join(out) + "\n"
    for s in steps:
        label = "<br/>".join(_label(line) for line in step_lines(s))
        shape = ("([", "])") if s.kind == "rediagnosis" else ("[", "]")
        out.append(f'  {s.id}{shape[0]}"{label}"{shape[1]}')
    for s in steps:
        for pred in s.after:
            out.append(f"  {pred} --> {s.id}")
    for phase, (fill, stroke) in PHASE_COLOURS.items():
        out.append(f"  classDef {phase} fill:{fill},stroke:{stroke},color:#111")
    out.append("  classDef overflow stroke:#dc2626,stroke-width:3px,stroke-dasharray:6 3")
    for phase in PHASE_COLOURS:
        ids = [s.id for s in steps if s.phase == phase]
        if ids:
            out.append(f"  class {','.join(ids)} {phase}")
    late = [s.id for s in steps if route is not None and s.id in overflowing(route)]
    if late:
        out.append(f"  class {','.join(late)} overflow")
    return "\n".join(out) + "\n"


def render_mermaid(result: Result) -> str:
    """The route of ``result`` as a Mermaid flowchart."""
    return route_mermaid(result.route, title=f"ИОМ {result.profile}")
