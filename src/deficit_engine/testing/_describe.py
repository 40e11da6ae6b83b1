"""What a failing Then step found instead: deficits, rules, recommendations, route."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..labels import SEVERITY_RU

if TYPE_CHECKING:
    from ..models import Result, Step, UnmetEntry
    from ._state import ScenarioState

__all__ = [
    "deficits",
    "did_you_mean",
    "fired",
    "recommendations",
    "route_order",
    "severity",
    "unmet",
]


def severity(state: ScenarioState, sev: str) -> str:
    if state.language == "ru" and sev in SEVERITY_RU:
        return f"{sev} ({SEVERITY_RU[sev]})"
    return sev


def did_you_mean(
    state: ScenarioState, name: str, known: Iterable[str], what_ru: str, what_en: str
) -> str:
    """A line saying ``name`` is unknown, with the nearest known name."""
    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = ""
    if near:
        hint = state.say(f" (возможно, «{near[0]}»?)", f" (did you mean '{near[0]}'?)")
    return state.say(
        f"{what_ru} «{name}» нет в базе знаний{hint}",
        f"there is no {what_en} '{name}' in the knowledge base{hint}",
    )


def _pct(value: Any) -> str:
    if value is None:
        return ""
    return f", {float(value):g} %"


def derivations(result: Result) -> dict[str, list[tuple[str, str]]]:
    """competency -> every (severity, rule) the trace derived for it, in firing order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for entry in result.trace:
        for fact in entry.asserted:
            if fact.get("type") == "deficit":
                pair = (str(fact.get("severity")), entry.rule)
                lst = out.setdefault(str(fact.get("competency")), [])
                if pair not in lst:
                    lst.append(pair)
    return out


def deficits(state: ScenarioState, result: Result, only: str | None = None) -> str:
    """The deficits found, each with its severity, score and the rules that derived it."""
    found = [d for d in result.deficits if only is None or d.competency == only]
    if not found:
        return state.say("Выявленных дефицитов нет.", "No deficits were found.")
    derived = derivations(result)
    lines = [state.say("Выявленные дефициты:", "Deficits found:")]
    for d in found:
        line = f"  - {d.competency}: {severity(state, d.severity)}{_pct(d.score_pct)} — {d.rule}"
        others = [
            (s, r) for s, r in derived.get(d.competency, []) if (s, r) != (d.severity, d.rule)
        ]
        if others:
            more = "; ".join(f"{severity(state, s)} — {r}" for s, r in others)
            line += state.say(f" (также выведено: {more})", f" (also derived: {more})")
        lines.append(line)
    return "\n".join(lines)


def fired(state: ScenarioState, result: Result) -> str:
    ids = result.fired
    if not ids:
        return state.say("Не сработало ни одно правило.", "No rule fired.")
    return state.say("Сработали правила: ", "Rules that fired: ") + ", ".join(ids)


def _fmt_fact(fact: Mapping[str, Any]) -> str:
    body = ", ".join(f"{k}={v}" for k, v in fact.items() if k != "type")
    return f"{fact.get('type')}({body})"


def firings(state: ScenarioState, result: Result, rule: str) -> str:
    lines = []
    for entry in result.trace:
        if entry.rule != rule:
            continue
        matched = "; ".join(_fmt_fact(f) for f in entry.matched)
        asserted = "; ".join(_fmt_fact(f) for f in entry.asserted) or state.say(
            "ничего нового", "nothing new"
        )
        lines.append(
            state.say(f"  по: {matched}\n    => {asserted}", f"  on: {matched}\n    => {asserted}")
        )
    return "\n".join(lines)


_HEADING_RU = {"program": "Программы", "mentor": "Наставники", "format": "Форматы"}
_HEADING_EN = {"program": "Programmes", "mentor": "Mentors", "format": "Formats"}


def recommendations(state: ScenarioState, result: Result, kind: str) -> str:
    """The recommendations of one kind, the needs of that kind, and the unmet ones."""
    recs = [r for r in result.recommendations if r.kind == kind]
    title = state.say(_HEADING_RU[kind], _HEADING_EN[kind])
    lines: list[str] = []
    if recs:
        lines.append(state.say(f"{title} в рекомендациях:", f"{title} recommended:"))
        for r in recs:
            comps = ", ".join(r.competencies)
            lines.append(f"  - {r.id} ({comps}) — {r.rule}")
    else:
        lines.append(state.say(f"{title} не рекомендованы.", f"No {title.lower()} recommended."))
    needs = [n for n in result.needs if n.kind == kind]
    if needs:
        lines.append(state.say("Потребности этого вида:", "Needs of this kind:"))
        for n in needs:
            filters = ", ".join(f"{k}={v}" for k, v in n.filters)
            lines.append(
                f"  - {n.competency or '—'}{' [' + filters + ']' if filters else ''} — {n.rule}"
            )
    else:
        lines.append(state.say("Потребностей этого вида нет.", "There are no needs of this kind."))
    misses = [u for u in result.unmet if u.kind == kind]
    if misses:
        lines.append(unmet(state, misses))
    return "\n".join(lines)


def unmet(state: ScenarioState, entries: Sequence[UnmetEntry]) -> str:
    if not entries:
        return state.say("Неудовлетворённых потребностей нет.", "There are no unmet needs.")
    lines = [state.say("Неудовлетворённые потребности:", "Unmet needs:")]
    for u in entries:
        comp = u.competency or "—"
        lines.append(f"  - {u.kind} {comp} — {u.rule}: {u.reason}")
    return "\n".join(lines)


def route_order(state: ScenarioState, steps: Sequence[Step]) -> str:
    if not steps:
        return state.say("Маршрут пуст.", "The route is empty.")
    lines = [state.say("Маршрут по порядку:", "The route in order:")]
    for s in steps:
        after = ", ".join(s.after) or "—"
        lines.append(
            f"  {s.id}: {s.kind} {s.ref} "
            f"{s.start}…{s.end} " + state.say(f"(после: {after})", f"(after: {after})")
        )
    return "\n".join(lines)
