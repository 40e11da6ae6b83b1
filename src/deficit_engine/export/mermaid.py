"""The route graph as a Mermaid flowchart (``flowchart TD``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import Result
from ._graph import PHASE_COLOURS, overflowing, step_lines

__all__ = ["render_mermaid", "route_mermaid"]


def _label(text: str) -> str:
    # Mermaid entity codes keep quotes and angle brackets out of the syntax.
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def route_mermaid(route: Mapping[str, Any], title: str = "") -> str:
    """A Mermaid flowchart of a route dict (``Result.route``)."""
    steps = list(route.get("steps", []))
    out = ["flowchart TD"]
    if title:
        out.append(f"  %% {title}")
    period = route.get("period")
    if period:
        out.append(f"  %% период {period['start']} – {period['end']}")
    if not steps:
        out.append('  empty["Шагов нет"]')
        return "\n".join(out) + "\n"
    for s in steps:
        label = "<br/>".join(_label(line) for line in step_lines(s))
        shape = ("([", "])") if s["kind"] == "rediagnosis" else ("[", "]")
        out.append(f'  {s["id"]}{shape[0]}"{label}"{shape[1]}')
    for s in steps:
        for pred in s.get("after", []):
            out.append(f"  {pred} --> {s['id']}")
    for phase, (fill, stroke) in PHASE_COLOURS.items():
        out.append(f"  classDef {phase} fill:{fill},stroke:{stroke},color:#111")
    out.append("  classDef overflow stroke:#dc2626,stroke-width:3px,stroke-dasharray:6 3")
    for phase in PHASE_COLOURS:
        ids = [s["id"] for s in steps if s["phase"] == phase]
        if ids:
            out.append(f"  class {','.join(ids)} {phase}")
    late = [s["id"] for s in steps if s["id"] in overflowing(route)]
    if late:
        out.append(f"  class {','.join(late)} overflow")
    return "\n".join(out) + "\n"


def render_mermaid(result: Result) -> str:
    """The route of ``result`` as a Mermaid flowchart."""
    return route_mermaid(result.route or {}, title=f"ИОМ {result.profile}")
