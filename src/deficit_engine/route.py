"""The individual educational route (ИОМ): a graph of steps and its schedule.

:func:`build_route` turns a :class:`~deficit_engine.resolve.Resolution` into a
``networkx.DiGraph`` with one node per step (programme, mentoring, format,
self-education, re-diagnosis) and edges for order, then schedules the steps
into the months of the profile's period within its hours per month.
:func:`plan` runs the resolver and the route builder on a Result; the engine
calls it at the end of every evaluation. Everything here is a pure function
of its arguments: no clock (unless the caller passes ``today``), no shared
state. See docs/route.md for the defaults and the algorithm.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import networkx as nx

from .loader import KnowledgeBase
from .models import Result
from .resolve import (
    PHASE_ORDER,
    Resolution,
    format_hours,
    mentoring_defaults,
    resolve,
)
from .rules import SEVERITIES
from .schema import Profile

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
    "route_graph",
    "school_year",
]

#: The period when the profile names none and the caller passes no date: the
#: school year September 2026 - May 2027 (fixed, so results never depend on the clock).
DEFAULT_PERIOD: tuple[str, str] = ("2026-09", "2027-05")
#: Hours a month when the profile names none: about four hours a week.
DEFAULT_HOURS_PER_MONTH: float = 16.0
#: The format id folded into the closing re-diagnosis step.
REDIAGNOSIS_FORMAT = "rediagnosis"
#: The format id whose steps are of kind ``self_education``.
SELF_EDUCATION_FORMAT = "self_education"
_REDIAGNOSIS_DEFAULT = ("Повторная диагностика профессиональных компетенций", "non_formal", 2.0)

STEP_KINDS = ("program", "mentoring", "format", "self_education", "rediagnosis")
_KIND_RANK = {k: i for i, k in enumerate(STEP_KINDS)}
_CLOSING_STAGE = len(PHASE_ORDER)  # after every phase, reflect included
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_RESPONSIBLE_BY_LEVEL = {
    "regional": "ЦНППМ",
    "municipal": "ММС (муниципальная методическая служба)",
}

# --- months ----------------------------------------------------------------------


def _month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` inclusive, as ``YYYY-MM``."""
    return [_month(i) for i in range(_month_index(start), _month_index(end) + 1)]


def school_year(today: date) -> tuple[str, str]:
    """The next school year September-May: its September is the first not before ``today``."""
    if not isinstance(today, date):
        raise TypeError(f"today must be a datetime.date, not {type(today).__name__}")
    year = today.year if today.month <= 9 else today.year + 1
    return (f"{year:04d}-09", f"{year + 1:04d}-05")


# --- value types ---------------------------------------------------------------------


def _hours(centi: int) -> float | int:
    return centi // 100 if centi % 100 == 0 else centi / 100


@dataclass(frozen=True)
class Step:
    """One step of the route, scheduled."""

    id: str
    kind: str  # program | mentoring | format | self_education | rediagnosis
    ref: str | None  # the catalogue id it uses (programme, mentor or format)
    title: str
    competencies: tuple[str, ...]
    education: str
    phase: str
    level: str | None
    start: str
    end: str
    hours: float
    allocation: tuple[tuple[str, float], ...]  # month -> hours in that month
    after: tuple[str, ...]  # step ids that end before this one starts
    responsible: str
    rules: tuple[str, ...]
    extra: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "ref": self.ref,
            "title": self.title,
            "competencies": list(self.competencies),
            "education": self.education,
            "phase": self.phase,
            "level": self.level,
            "start": self.start,
            "end": self.end,
            "hours": _hours(round(self.hours * 100)),
            "allocation": {m: _hours(round(h * 100)) for m, h in self.allocation},
            "after": list(self.after),
            "responsible": self.responsible,
            "rules": list(self.rules),
        }
        for key, value in self.extra:
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Overflow:
    """The route does not fit its period: by how much and which steps spill over."""

    months: int  # months used after the period's last month
    end: str  # the route's last month
    hours: float  # hours scheduled after the period
    steps: tuple[str, ...]  # ids of the steps that end after the period
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "end": self.end,
            "hours": _hours(round(self.hours * 100)),
            "steps": list(self.steps),
            "message": self.message,
        }


@dataclass(frozen=True)
class Conflict:
    """An order the ontology asks for that bundled steps make impossible."""

    before: str
    after: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"before": self.before, "after": self.after, "reason": self.reason}


@dataclass(frozen=True)
class Route:
    """The scheduled route. ``graph`` has one node per step id (attribute ``step``)."""

    period: tuple[str, str]
    hours_per_month: float
    defaults: tuple[str, ...]  # which of "period", "hours_per_month" were defaulted
    steps: tuple[Step, ...]
    overflow: Overflow | None
    conflicts: tuple[Conflict, ...]
    graph: nx.DiGraph = field(compare=False, repr=False)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        load: dict[str, int] = {}
        for s in self.steps:
            for m, h in s.allocation:
                load[m] = load.get(m, 0) + round(h * 100)
        total = sum(round(s.hours * 100) for s in self.steps)
        return {
            "period": {"start": self.period[0], "end": self.period[1]},
            "hours_per_month": _hours(round(self.hours_per_month * 100)),
            "defaults": list(self.defaults),
            "start": min((s.start for s in self.steps), default=None),
            "end": max((s.end for s in self.steps), default=None),
            "total_hours": _hours(total),
            "steps": [s.to_dict() for s in self.steps],
            "load": {m: _hours(load[m]) for m in sorted(load)},
            "overflow": None if self.overflow is None else self.overflow.to_dict(),
            "conflicts": [c.to_dict() for c in self.conflicts],
        }


# --- building ------------------------------------------------------------------------


@dataclass
class _Draft:
    kind: str
    ref: str | None
    title: str
    comps: tuple[str, ...]
    education: str
    phase: str
    level: str | None
    centi: int
    responsible: str
    rules: tuple[str, ...]
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def stage(self) -> int:
        if self.kind == "rediagnosis":
            return _CLOSING_STAGE
        return PHASE_ORDER.get(self.phase, _CLOSING_STAGE - 1)


def _centi(hours: float) -> int:
    return round(float(hours) * 100)


def _settings(profile: Profile, today: date | None) -> tuple[str, str, float, tuple[str, ...]]:
    prefs = profile.preferences
    defaults: list[str] = []
    if prefs.period is not None:
        start, end = prefs.period.start, prefs.period.end
    else:
        start, end = DEFAULT_PERIOD if today is None else school_year(today)
        defaults.append("period")
    if prefs.hours_per_month is not None:
        hours = float(prefs.hours_per_month)
    else:
        hours = DEFAULT_HOURS_PER_MONTH
        defaults.append("hours_per_month")
    return start, end, hours, tuple(defaults)


def _comp_key(kb: KnowledgeBase, comp: str) -> tuple[int, str]:
    onto = kb.ontology
    return (onto.order_key(comp), comp) if comp in onto.competencies else (10**9, comp)


def _drafts(
    kb: KnowledgeBase, profile: Profile, result: Result, resolution: Resolution
) -> list[_Draft]:
    drafts: list[_Draft] = []
    closing_comps: list[str] = []
    closing_rules: list[str] = []
    closing_asked = False
    org = profile.person.organization
    institutional = f"{org} (методический совет)" if org else "методический совет ОО"
    m_education, m_phase, m_hours = mentoring_defaults(kb)
    for rec in resolution.recommendations:
        if rec.kind == "program":
            drafts.append(
                _Draft(
                    "program",
                    rec.id,
                    rec.title,
                    rec.competencies,
                    "formal",
                    "learn",
                    None,
                    _centi(rec.get("hours")),
                    str(rec.get("provider")),
                    rec.rules,
                    (
                        ("delivery", rec.get("delivery")),
                        ("provider", rec.get("provider")),
                        ("federal_registry", rec.get("federal_registry")),
                        ("program_kind", rec.get("program_kind")),
                    ),
                )
            )
        elif rec.kind == "mentor":
            org_m = rec.get("organization")
            drafts.append(
                _Draft(
                    "mentoring",
                    rec.id,
                    f"Наставничество: {rec.title}",
                    rec.competencies,
                    m_education,
                    m_phase,
                    "institutional",
                    _centi(m_hours),
                    f"{rec.title} ({org_m})" if org_m else rec.title,
                    rec.rules,
                    (
                        ("forms", tuple(rec.get("forms", ()))),
                        ("municipality", rec.get("municipality")),
                        ("organization", org_m),
                    ),
                )
            )
        elif rec.id == REDIAGNOSIS_FORMAT:
            closing_asked = True
            closing_comps.extend(rec.competencies)
            closing_rules.extend(rec.rules)
        else:
            fmt = kb.formats[rec.id]
            kind = "self_education" if rec.id == SELF_EDUCATION_FORMAT else "format"
            if kind == "self_education":
                responsible = "педагог (самостоятельно)"
            else:
                responsible = _RESPONSIBLE_BY_LEVEL.get(fmt.level, institutional)
            groups: dict[tuple[str, ...], list[str]] = {}
            for need in rec.needs:
                key = (str(need.competency),) if need.competency is not None else ()
                groups.setdefault(key, []).append(need.rule)
            for comps in sorted(groups, key=lambda c: [_comp_key(kb, x) for x in c]):
                drafts.append(
                    _Draft(
                        kind,
                        fmt.id,
                        fmt.title,
                        comps,
                        fmt.education,
                        fmt.phase,
                        fmt.level,
                        _centi(fmt.hours),
                        responsible,
                        tuple(dict.fromkeys(groups[comps])),
                    )
                )
    if drafts or closing_asked:
        rfmt = kb.formats.get(REDIAGNOSIS_FORMAT)
        title, education, hours = (
            (rfmt.title, rfmt.education, float(rfmt.hours)) if rfmt else _REDIAGNOSIS_DEFAULT
        )
        rcomps = set(closing_comps) | {d.competency for d in result.deficits}
        drafts.append(
            _Draft(
                "rediagnosis",
                rfmt.id if rfmt else None,
                title,
                tuple(sorted(rcomps, key=lambda c: _comp_key(kb, c))),
                education,
                "reflect",
                rfmt.level if rfmt else "regional",
                _centi(hours),
                "ЦОПМКП / ЦНППМ",
                tuple(dict.fromkeys(closing_rules)),
            )
        )
    return drafts


def _order_edges(
    kb: KnowledgeBase, drafts: Sequence[_Draft], priority: Sequence[tuple[Any, ...]]
) -> tuple[list[set[int]], list[tuple[int, int]]]:
    """The order DAG over draft indexes (successor sets), and the edges dropped to
    break cycles."""
    onto = kb.ontology
    stages = [d.stage for d in drafts]
    with_comp: dict[str, list[int]] = {}
    for i, d in enumerate(drafts):
        for c in d.comps:
            with_comp.setdefault(c, []).append(i)
    present = set(with_comp)
    prereqs = {
        c: sorted(onto.prerequisites(c) & present) if c in onto.competencies else []
        for c in present
    }
    succ: list[set[int]] = [set() for _ in drafts]
    closing = [i for i, d in enumerate(drafts) if d.kind == "rediagnosis"]
    for t, dt in enumerate(drafts):
        if dt.kind == "rediagnosis":
            continue
        st = stages[t]
        for c in dt.comps:
            # learn -> practice -> share -> reflect for each competency
            for s in with_comp[c]:
                if stages[s] < st:
                    succ[s].add(t)
            # prerequisite competencies first (same phase or an earlier one)
            for y in prereqs[c]:
                for s in with_comp[y]:
                    if s != t and stages[s] <= st:
                        succ[s].add(t)
        for z in closing:
            succ[t].add(z)
    dropped: list[tuple[int, int]] = []
    if _topological(succ, priority) is None:
        # Cycles lie within one phase (edges never go to an earlier phase): a
        # bundled step holds competencies on both sides of a prerequisite.
        # Keep the priority order inside each cycle and report the rest.
        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from(range(len(drafts)))
        graph.add_edges_from((s, t) for s, ts in enumerate(succ) for t in ts)
        for scc in nx.strongly_connected_components(graph):
            if len(scc) < 2:
                continue
            for s, t in sorted(graph.subgraph(scc).edges()):
                if priority[s] > priority[t]:
                    succ[s].discard(t)
                    dropped.append((s, t))
    return succ, dropped


def _topological(succ: Sequence[set[int]], priority: Sequence[tuple[Any, ...]]) -> list[int] | None:
    """Kahn's algorithm, ties by (priority, index); None when there is a cycle."""
    indegree = [0] * len(succ)
    for targets in succ:
        for t in targets:
            indegree[t] += 1
    ready = [(priority[i], i) for i, deg in enumerate(indegree) if deg == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for t in succ[node]:
            indegree[t] -= 1
            if indegree[t] == 0:
                heapq.heappush(ready, (priority[t], t))
    return order if len(order) == len(succ) else None


def _reduction(succ: Sequence[set[int]], topo: Sequence[int]) -> list[list[int]]:
    """Direct predecessors in the transitive reduction (reachability as bit sets)."""
    below = [0] * len(succ)
    for u in reversed(topo):
        mask = 0
        for v in succ[u]:
            mask |= below[v] | (1 << v)
        below[u] = mask
    preds: list[list[int]] = [[] for _ in succ]
    for u, targets in enumerate(succ):
        covered = 0
        for w in targets:
            covered |= below[w]
        for v in targets:
            if not (covered >> v) & 1:
                preds[v].append(u)
    return preds


def _priorities(
    kb: KnowledgeBase, result: Result, drafts: Sequence[_Draft]
) -> list[tuple[Any, ...]]:
    """Scheduling priority: most severe deficit, stage, ontology order, kind, id."""
    severity = {d.competency: _SEVERITY_RANK.get(d.severity, 9) for d in result.deficits}
    return [
        (
            min((severity.get(c, 9) for c in d.comps), default=9),
            d.stage,
            min((_comp_key(kb, c) for c in d.comps), default=(10**9, "")),
            _KIND_RANK[d.kind],
            d.ref or "",
            d.comps,
        )
        for d in drafts
    ]


def _schedule(
    drafts: Sequence[_Draft],
    topo: Sequence[int],
    direct: Sequence[Sequence[int]],
    first: int,
    budget: int,
) -> dict[int, list[tuple[int, int]]]:
    """List scheduling, in hundredths of an hour: month index -> hours, per draft.

    In topological order (ties by priority), each step starts in the month its
    last predecessor ends (or the first month; later when that month is full)
    and takes what the monthly budget leaves, month after month, until done.
    """
    used: dict[int, int] = {}
    alloc: dict[int, list[tuple[int, int]]] = {}
    for n in topo:
        month = max((alloc[p][-1][0] for p in direct[n]), default=first)
        left = drafts[n].centi
        parts: list[tuple[int, int]] = []
        while left > 0:
            free = budget - used.get(month, 0)
            if free > 0:
                take = min(free, left)
                used[month] = used.get(month, 0) + take
                parts.append((month, take))
                left -= take
            if left > 0:
                month += 1
        alloc[n] = parts or [(month, 0)]
    return alloc


def build_route(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    *,
    today: date | None = None,
) -> Route:
    """Order and schedule the recommendations of ``resolution`` for one person."""
    if not isinstance(kb, KnowledgeBase):
        raise TypeError(f"build_route() needs a KnowledgeBase, not {type(kb).__name__}")
    if not isinstance(profile, Profile):
        raise TypeError(f"build_route() needs a validated Profile, not {type(profile).__name__}")
    if not isinstance(resolution, Resolution):
        raise TypeError(f"build_route() needs a Resolution, not {type(resolution).__name__}")
    start, end, per_month, defaults = _settings(profile, today)
    drafts = _drafts(kb, profile, result, resolution)
    priority = _priorities(kb, result, drafts)
    succ, dropped = _order_edges(kb, drafts, priority)
    topo = _topological(succ, priority)
    if topo is None:  # pragma: no cover - _order_edges breaks every cycle
        raise RuntimeError("internal error: the route graph has a cycle")
    direct = _reduction(succ, topo)
    alloc = _schedule(drafts, topo, direct, _month_index(start), _centi(per_month))

    position = {n: i for i, n in enumerate(topo)}
    ordered = sorted(topo, key=lambda n: (alloc[n][0][0], position[n]))
    ids = {n: f"s{i}" for i, n in enumerate(ordered, 1)}
    rank = {n: i for i, n in enumerate(ordered)}
    steps: list[Step] = []
    out: nx.DiGraph = nx.DiGraph()
    for n in ordered:
        d = drafts[n]
        preds = sorted(direct[n], key=rank.__getitem__)
        step = Step(
            id=ids[n],
            kind=d.kind,
            ref=d.ref,
            title=d.title,
            competencies=d.comps,
            education=d.education,
            phase=d.phase,
            level=d.level,
            start=_month(alloc[n][0][0]),
            end=_month(alloc[n][-1][0]),
            hours=d.centi / 100,
            allocation=tuple((_month(m), c / 100) for m, c in alloc[n] if c > 0),
            after=tuple(ids[p] for p in preds),
            responsible=d.responsible,
            rules=d.rules,
            extra=d.extra,
        )
        steps.append(step)
        out.add_node(step.id, step=step)
    out.add_edges_from(
        (ids[p], ids[n]) for n in ordered for p in sorted(direct[n], key=rank.__getitem__)
    )

    last = _month_index(end)
    late = [s for s in steps if _month_index(s.end) > last]
    overflow = None
    if late:
        route_end = max(_month_index(s.end) for s in steps)
        over_hours = sum(c for n in topo for m, c in alloc[n] if m > last) / 100
        months = route_end - last
        late_ids = tuple(s.id for s in late)
        overflow = Overflow(
            months=months,
            end=_month(route_end),
            hours=over_hours,
            steps=late_ids,
            message=(
                f"Маршрут не умещается в период {start} – {end} при {format_hours(per_month)} ч "
                f"в месяц: нужно ещё {months} мес. (до {_month(route_end)}), "
                f"{format_hours(over_hours)} ч после окончания периода; "
                f"выходят за период шаги {', '.join(late_ids)}."
            ),
        )
    conflicts = tuple(
        Conflict(
            ids[s],
            ids[t],
            f"порядок {ids[s]} → {ids[t]} не соблюдён: шаги {ids[s]} и {ids[t]} объединяют "
            "компетенции, которые по онтологии идут в обратном порядке друг относительно друга",
        )
        for s, t in sorted(dropped, key=lambda e: (rank[e[0]], rank[e[1]]))
    )
    return Route((start, end), per_month, defaults, tuple(steps), overflow, conflicts, out)


def route_graph(route: Mapping[str, Any]) -> nx.DiGraph:
    """Rebuild the step graph from a route dict (``Result.route``, or its JSON)."""
    if not isinstance(route, Mapping) or not isinstance(route.get("steps"), list):
        raise TypeError("route_graph() needs a route dict with a 'steps' list")
    graph: nx.DiGraph = nx.DiGraph()
    for step in route["steps"]:
        graph.add_node(step["id"], **{k: v for k, v in step.items() if k != "id"})
    for step in route["steps"]:
        for pred in step.get("after", []):
            graph.add_edge(pred, step["id"])
    return graph


# --- the whole stage -------------------------------------------------------------------


def _unaddressed(
    result: Result, route: Route, unmet: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Deficits with no step (besides the closing re-diagnosis) and no unmet need."""
    covered = {c for s in route.steps if s.kind != "rediagnosis" for c in s.competencies}
    reported = {u.get("competency") for u in unmet}
    return [
        {
            "kind": "deficit",
            "competency": d.competency,
            "severity": d.severity,
            "rule": d.rule,
            "reason": "правила не назначили по дефициту ни обучения, ни практики: "
            "в маршруте есть только повторная диагностика",
        }
        for d in result.deficits
        if d.competency not in covered and d.competency not in reported
    ]


def plan(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    *,
    today: date | None = None,
    mentor_load: Mapping[str, int] | None = None,
) -> Result:
    """Resolve ``result``'s needs and build the route: a copy with
    ``recommendations``, ``unmet`` and ``route`` filled in."""
    if not isinstance(result, Result):
        raise TypeError(f"plan() needs a Result, not {type(result).__name__}")
    if isinstance(profile, Profile) and result.profile != profile.id:
        raise ValueError(f"the result is for profile {result.profile!r}, not {profile.id!r}")
    resolution = resolve(kb, profile, result.needs, mentor_load=mentor_load)
    route = build_route(kb, profile, result, resolution, today=today)
    recs, unmet = resolution.to_dicts()
    unmet = unmet + tuple(_unaddressed(result, route, unmet))
    return dataclasses.replace(result, recommendations=recs, unmet=unmet, route=route.to_dict())
