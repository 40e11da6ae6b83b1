"""The route graph in Graphviz DOT (``digraph``)."""

from __future__ import annotations

from ..models import Result, Route
from ._graph import PHASE_COLOURS, overflowing, step_lines

__all__ = ["render_dot", "route_dot"]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def route_dot(route: Route | None, title: str = "ИОМ") -> str:
    """A DOT digraph of a route (``Result.route``; None draws an empty one).

    Parameters
    ----------
    route : Route or None
        The route.
    title : str
        The graph's name and the start of its label.

    Returns
    -------
    str
        The ``digraph``, ending in a newline.
    """
    steps = route.steps if route is not None else ()
    label = title
    if route is not None:
        label += f"; период {route.period[0]} – {route.period[1]}"
        if route.overflow:
            label += f"; выход за период на {route.overflow.months} мес."
    out = [
        f"digraph {_quote(title)} {{",
        f'  graph [rankdir=TB, labelloc=t, fontname="DejaVu Sans", label={_quote(label)}];',
        '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=10];',
        '  edge [color="#555555"];',
    ]
    late = overflowing(route) if route is not None else set()
    for s in steps:
        fill, stroke = PHASE_COLOURS.get(s.phase, ("#ffffff", "#333333"))
        text = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in step_lines(s))
        attrs = [f'label="{text}"', f'fillcolor="{fill}"', f'color="{stroke}"']
        if s.id in late:
            attrs += ['color="#dc2626"', "penwidth=2.5", 'style="rounded,filled,dashed"']
        if s.kind == "rediagnosis":
            attrs.append("shape=box3d" if s.id not in late else "shape=box")
        out.append(f"  {s.id} [{', '.join(attrs)}];")
    for s in steps:
        for pred in s.after:
            out.append(f"  {pred} -> {s.id};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_dot(result: Result) -> str:
    """The route of ``result`` as a Graphviz digraph."""
    return route_dot(result.route, title=f"ИОМ {result.profile}")
