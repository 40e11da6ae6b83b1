"""The route graph in Graphviz DOT (``digraph``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import Result
from ._graph import PHASE_COLOURS, overflowing, step_lines

__all__ = ["render_dot", "route_dot"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def route_dot(route: Mapping[str, Any], title: str = "ИОМ") -> str:
    """A DOT digraph of a route dict (``Result.route``)."""
    steps = list(route.get("steps", []))
    label = title
    period = route.get("period")
    if period:
        label += f"; период {period['start']} – {period['end']}"
    overflow = route.get("overflow")
    if overflow:
        label += f"; выход за период на {overflow['months']} мес."
    out = [
        f"digraph {_quote(title)} {{",
        f'  graph [rankdir=TB, labelloc=t, fontname="DejaVu Sans", label={_quote(label)}];',
        '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=10];',
        '  edge [color="#555555"];',
    ]
    late = overflowing(route)
    for s in steps:
        fill, stroke = PHASE_COLOURS.get(s["phase"], ("#ffffff", "#333333"))
        text = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in step_lines(s))
        attrs = [f'label="{text}"', f'fillcolor="{fill}"', f'color="{stroke}"']
        if s["id"] in late:
            attrs += ['color="#dc2626"', "penwidth=2.5", 'style="rounded,filled,dashed"']
        if s["kind"] == "rediagnosis":
            attrs.append("shape=box3d" if s["id"] not in late else "shape=box")
        out.append(f"  {s['id']} [{', '.join(attrs)}];")
    for s in steps:
        for pred in s.get("after", []):
            out.append(f"  {pred} -> {s['id']};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_dot(result: Result) -> str:
    """The route of ``result`` as a Graphviz digraph."""
    return route_dot(result.route or {}, title=f"ИОМ {result.profile}")
