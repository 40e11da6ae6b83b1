"""Shared pieces of the graph renderers: step labels and phase colours."""

from __future__ import annotations

from ..labels import PHASE_RU, STEP_KIND_RU, format_hours
from ..models import Route, Step

__all__ = ["PHASE_COLOURS", "overflowing", "short", "step_lines"]

#: (fill, stroke) by phase; the closing re-diagnosis uses "reflect".
PHASE_COLOURS = {
    "learn": ("#dbeafe", "#1e40af"),
    "practice": ("#dcfce7", "#166534"),
    "share": ("#fef3c7", "#92400e"),
    "reflect": ("#ede9fe", "#5b21b6"),
}


def short(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def step_lines(step: Step) -> list[str]:
    """A step's label, line by line: id and kind, title, competencies, time."""
    head = f"{step.id} · {STEP_KIND_RU.get(step.kind, step.kind)}"
    if step.ref and step.kind not in ("self_education",):
        head += f" {step.ref}"
    lines = [head, short(step.title)]
    comps = step.competencies
    if comps:
        more = f" +{len(comps) - 2}" if len(comps) > 2 else ""
        lines.append(", ".join(comps[:2]) + more)
    period = step.start if step.start == step.end else f"{step.start} – {step.end}"
    phase = PHASE_RU.get(step.phase, step.phase)
    lines.append(f"{period} · {format_hours(step.hours)} ч · {phase}")
    return lines


def overflowing(route: Route) -> set[str]:
    """The ids of the steps that end after the route's period."""
    return set(route.overflow.steps) if route.overflow else set()
