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
from typing import Any, NamedTuple

import networkx as nx

from .loader import KnowledgeBase
from .models import Result
from .resolve import (
    PHASE_ORDER,
    Resolution,
    _index,
    format_hours,
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


#: month index -> ``_month(index)``: the months routes are scheduled in recur
#: from profile to profile. A pure function's memo, so shared by every KB;
#: bounded by _MONTH_TEXT_LIMIT entries (about 80 years of months).
_MONTH_TEXT: dict[int, str] = {}
_MONTH_TEXT_LIMIT = 1000


def _month_text(index: int) -> str:
    """``_month(index)``, memoised."""
    text = _MONTH_TEXT.get(index)
    if text is None:
        text = _month(index)
        if len(_MONTH_TEXT) < _MONTH_TEXT_LIMIT:
            _MONTH_TEXT[index] = text
    return text


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
        return _step_dict(
            self.id,
            self.kind,
            self.ref,
            self.title,
            self.competencies,
            self.education,
            self.phase,
            self.level,
            self.start,
            self.end,
            round(self.hours * 100),
            [(m, round(h * 100)) for m, h in self.allocation],
            self.after,
            self.responsible,
            self.rules,
            self.extra,
        )


def _step_dict(
    step_id: str,
    kind: str,
    ref: str | None,
    title: str,
    competencies: Sequence[str],
    education: str,
    phase: str,
    level: str | None,
    start: str,
    end: str,
    centi: int,
    allocation: Sequence[tuple[str, int]],
    after: Sequence[str],
    responsible: str,
    rules: Sequence[str],
    extra: Sequence[tuple[str, Any]],
) -> dict[str, Any]:
    """:meth:`Step.to_dict` of a step with these fields, hours in hundredths
    (so :func:`plan` can export a route without making its Step objects)."""
    out: dict[str, Any] = {
        "id": step_id,
        "kind": kind,
        "ref": ref,
        "title": title,
        "competencies": list(competencies),
        "education": education,
        "phase": phase,
        "level": level,
        "start": start,
        "end": end,
        "hours": _hours(centi),
        "allocation": {m: c // 100 if c % 100 == 0 else c / 100 for m, c in allocation},
        "after": list(after),
        "responsible": responsible,
        "rules": list(rules),
    }
    for key, value in extra:
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
        return _route_dict(
            self.period,
            self.hours_per_month,
            self.defaults,
            [s.to_dict() for s in self.steps],
            load,
            sum(round(s.hours * 100) for s in self.steps),
            self.overflow,
            self.conflicts,
        )


def _route_dict(
    period: tuple[str, str],
    hours_per_month: float,
    defaults: tuple[str, ...],
    steps: Sequence[dict[str, Any]],
    load: Mapping[str, int],
    total: int,
    overflow: Overflow | None,
    conflicts: Sequence[Conflict],
) -> dict[str, Any]:
    """:meth:`Route.to_dict` of a route with these fields: ``steps`` as dicts,
    ``load`` (month -> hours) and ``total`` in hundredths of an hour."""
    return {
        "period": {"start": period[0], "end": period[1]},
        "hours_per_month": _hours(round(hours_per_month * 100)),
        "defaults": list(defaults),
        "start": min([s["start"] for s in steps], default=None),
        "end": max([s["end"] for s in steps], default=None),
        "total_hours": _hours(total),
        "steps": list(steps),
        "load": {m: _hours(load[m]) for m in sorted(load)},
        "overflow": None if overflow is None else overflow.to_dict(),
        "conflicts": [c.to_dict() for c in conflicts],
    }


# --- building ------------------------------------------------------------------------


class _Draft(NamedTuple):
    """A step before it is ordered and scheduled (a tuple: cheap to make)."""

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


def _drafts(
    kb: KnowledgeBase, profile: Profile, result: Result, resolution: Resolution
) -> list[_Draft]:
    index = _index(kb)
    comp_key = index.comp_key
    drafts: list[_Draft] = []
    closing_comps: list[str] = []
    closing_rules: list[str] = []
    closing_asked = False
    org = profile.person.organization
    institutional = f"{org} (методический совет)" if org else "методический совет ОО"
    m_education, m_phase, m_hours = index.mentoring  # mentoring_defaults(kb)
    for rec in resolution.recommendations:
        if rec.kind == "program":
            attrs = dict(rec.attrs)
            drafts.append(
                _Draft(
                    "program",
                    rec.id,
                    rec.title,
                    rec.competencies,
                    "formal",
                    "learn",
                    None,
                    _centi(attrs.get("hours")),  # type: ignore[arg-type]  # as rec.get()
                    str(attrs.get("provider")),
                    rec.rules,
                    (
                        ("delivery", attrs.get("delivery")),
                        ("provider", attrs.get("provider")),
                        ("federal_registry", attrs.get("federal_registry")),
                        ("program_kind", attrs.get("program_kind")),
                    ),
                )
            )
        elif rec.kind == "mentor":
            attrs = dict(rec.attrs)
            org_m = attrs.get("organization")
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
                        ("forms", tuple(attrs.get("forms", ()))),
                        ("municipality", attrs.get("municipality")),
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
                if key in groups:
                    groups[key].append(need.rule)
                else:
                    groups[key] = [need.rule]
            centi = _centi(fmt.hours)
            # the group without a competency first, then in ontology order
            for comps in sorted(groups, key=lambda c: comp_key(c[0]) if c else (-1, "")):
                drafts.append(
                    _Draft(
                        kind,
                        fmt.id,
                        fmt.title,
                        comps,
                        fmt.education,
                        fmt.phase,
                        fmt.level,
                        centi,
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
                tuple(sorted(rcomps, key=comp_key)),
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
    kb: KnowledgeBase,
    drafts: Sequence[_Draft],
    stages: Sequence[int],
    priority: Sequence[tuple[Any, ...]],
) -> tuple[list[set[int]], list[tuple[int, int]], list[int], list[int]]:
    """The order DAG over draft indexes (successor sets), the edges dropped to
    break cycles, its topological order (see :func:`_topological`) and the
    closing steps. ``stages`` are the drafts' stages, ``priority`` their
    priorities.

    A closing step (the re-diagnosis) comes after every other step and before
    none: instead of an edge from every other step, it is left out of ``succ``
    and put last in the order; :func:`_reduction` gives it its direct
    predecessors (the other steps without a successor).
    """
    prerequisites = _index(kb).prerequisites
    rank = _ranks(priority)
    closing = [i for i, d in enumerate(drafts) if d.kind == "rediagnosis"]
    with_comp: dict[str, list[int]] = {}
    for i, d in enumerate(drafts):
        if d.kind != "rediagnosis":
            for c in d.comps:
                with_comp.setdefault(c, []).append(i)
    present = set(with_comp)
    # competency -> the steps holding one of its prerequisites
    before: dict[str, list[int]] = {}
    for c in with_comp:
        found = before[c] = []
        if c in prerequisites:
            for y in prerequisites[c] & present:
                found.extend(with_comp[y])
    succ: list[set[int]] = [set() for _ in drafts]
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
            for s in before[c]:
                if s != t and stages[s] <= st:
                    succ[s].add(t)
    dropped: list[tuple[int, int]] = []
    topo = _topological(succ, rank, closing)
    if topo is None:
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
        topo = _topological(succ, rank, closing)
        if topo is None:  # pragma: no cover - every cycle is broken above
            raise RuntimeError("internal error: the route graph has a cycle")
    return succ, dropped, topo, closing


def _topological(
    succ: Sequence[set[int]], rank: Sequence[int], last: Sequence[int] = ()
) -> list[int] | None:
    """Kahn's algorithm, ties by ``rank`` (the position in priority order, see
    :func:`_ranks`); None when there is a cycle. The nodes in ``last`` (which
    have no edges) come after all the others, by rank: as if every other node
    had an edge to each of them."""
    indegree = [0] * len(succ)
    for targets in succ:
        for t in targets:
            indegree[t] += 1
    for z in last:
        indegree[z] = -1  # never ready in the loop below
    node = [0] * len(rank)
    for i, r in enumerate(rank):
        node[r] = i
    ready = [rank[i] for i, deg in enumerate(indegree) if deg == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        n = node[heapq.heappop(ready)]
        order.append(n)
        for t in succ[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                heapq.heappush(ready, rank[t])
    order.extend(sorted(last, key=rank.__getitem__))
    return order if len(order) == len(succ) else None


def _reduction(
    succ: Sequence[set[int]], topo: Sequence[int], last: Sequence[int] = ()
) -> list[list[int]]:
    """Direct predecessors in the transitive reduction (reachability as bit
    sets). The nodes in ``last`` are as in :func:`_topological`: their direct
    predecessors are the other nodes without a successor."""
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
    if last:
        ends = set(last)
        sinks = [u for u, targets in enumerate(succ) if not targets and u not in ends]
        for z in last:
            preds[z] = list(sinks)
    return preds


def _priorities(
    kb: KnowledgeBase, result: Result, drafts: Sequence[_Draft], stages: Sequence[int]
) -> list[tuple[Any, ...]]:
    """Scheduling priority: most severe deficit, stage, ontology order, kind, id."""
    comp_key = _index(kb).comp_key
    severity = {d.competency: _SEVERITY_RANK.get(d.severity, 9) for d in result.deficits}
    out: list[tuple[Any, ...]] = []
    for d, stage in zip(drafts, stages, strict=True):
        comps = d.comps
        if len(comps) == 1:  # most steps: the min of one is itself
            worst: int = severity.get(comps[0], 9)
            first = comp_key(comps[0])
        else:
            worst = min((severity.get(c, 9) for c in comps), default=9)
            first = min((comp_key(c) for c in comps), default=(10**9, ""))
        out.append((worst, stage, first, _KIND_RANK[d.kind], d.ref or "", comps))
    return out


def _ranks(priority: Sequence[tuple[Any, ...]]) -> list[int]:
    """Each draft's position when ordered by (priority, index): ties broken the
    way the scheduler breaks them, as plain ints that are cheap to compare."""
    rank = [0] * len(priority)
    for r, i in enumerate(sorted(range(len(priority)), key=priority.__getitem__)):
        rank[i] = r
    return rank


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
    if budget <= 0:  # the profile schema asks for at least 1 h a month; never loop forever
        raise ValueError(f"monthly budget of {budget / 100} h: nothing could ever be scheduled")
    used: dict[int, int] = {}
    # Full month -> a later month such that every month in between is full:
    # a step jumps over a run of full months at once (paths are shortened).
    skip: dict[int, int] = {}
    alloc: dict[int, list[tuple[int, int]]] = {}
    for n in topo:
        month = first  # no step ends before the first month: max(ends) == max(first, ends)
        for p in direct[n]:
            end = alloc[p][-1][0]
            if end > month:
                month = end
        left = drafts[n].centi
        parts: list[tuple[int, int]] = []
        while left > 0:
            if month in skip:
                passed = []
                while month in skip:
                    passed.append(month)
                    month = skip[month]
                for m in passed:
                    skip[m] = month
            free = budget - used.get(month, 0)
            if free > 0:
                take = free if free < left else left
                used[month] = budget - free + take
                parts.append((month, take))
                if take == free:
                    skip[month] = month + 1
                left -= take
                if not left:
                    break
            month += 1
        alloc[n] = parts or [(month, 0)]
    return alloc


class _Layout(NamedTuple):
    """The ordered and scheduled drafts, before they become :class:`Step`
    objects (:func:`build_route`) or step dicts (:func:`plan`)."""

    period: tuple[str, str]
    hours_per_month: float
    defaults: tuple[str, ...]
    drafts: list[_Draft]
    ordered: list[int]  # draft indexes in step order (step ids s1, s2, ...)
    ids: dict[int, str]  # draft index -> step id
    after: dict[int, tuple[str, ...]]  # draft index -> ids of its direct predecessors
    alloc: dict[int, list[tuple[int, int]]]  # draft index -> (month index, centi-hours)
    months: dict[int, str]  # month index -> "YYYY-MM", every month in alloc
    overflow: Overflow | None
    conflicts: tuple[Conflict, ...]


def _layout(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    today: date | None,
) -> _Layout:
    """Order and schedule the steps of the route."""
    start, end, per_month, defaults = _settings(profile, today)
    drafts = _drafts(kb, profile, result, resolution)
    stages = [d.stage for d in drafts]
    priority = _priorities(kb, result, drafts, stages)
    succ, dropped, topo, closing = _order_edges(kb, drafts, stages, priority)
    direct = _reduction(succ, topo, closing)
    alloc = _schedule(drafts, topo, direct, _month_index(start), _centi(per_month))

    # by start month, ties in topological order (sorted() is stable)
    ordered = sorted(topo, key=lambda n: alloc[n][0][0])
    ids = {n: f"s{i}" for i, n in enumerate(ordered, 1)}
    rank = {n: i for i, n in enumerate(ordered)}
    after: dict[int, tuple[str, ...]] = {}
    for n in ordered:
        preds = direct[n]
        if len(preds) > 1:
            preds = sorted(preds, key=rank.__getitem__)
        after[n] = tuple([ids[p] for p in preds])
    months = {m: _month_text(m) for m in {m for parts in alloc.values() for m, _c in parts}}

    last = _month_index(end)
    late = [n for n in ordered if alloc[n][-1][0] > last]
    overflow = None
    if late:
        route_end = max([alloc[n][-1][0] for n in ordered])
        over_hours = sum([c for n in topo for m, c in alloc[n] if m > last]) / 100
        months_over = route_end - last
        late_ids = tuple(ids[n] for n in late)
        overflow = Overflow(
            months=months_over,
            end=_month(route_end),
            hours=over_hours,
            steps=late_ids,
            message=(
                f"Маршрут не умещается в период {start} – {end} при {format_hours(per_month)} ч "
                f"в месяц: нужно ещё {months_over} мес. (до {_month(route_end)}), "
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
    return _Layout(
        (start, end),
        per_month,
        defaults,
        drafts,
        ordered,
        ids,
        after,
        alloc,
        months,
        overflow,
        conflicts,
    )


def _route_steps(lay: _Layout) -> tuple[Step, ...]:
    """The :class:`Step` objects of a layout, in step order."""
    months = lay.months
    steps: list[Step] = []
    for n in lay.ordered:
        d = lay.drafts[n]
        parts = lay.alloc[n]
        steps.append(
            Step(
                id=lay.ids[n],
                kind=d.kind,
                ref=d.ref,
                title=d.title,
                competencies=d.comps,
                education=d.education,
                phase=d.phase,
                level=d.level,
                start=months[parts[0][0]],
                end=months[parts[-1][0]],
                hours=d.centi / 100,
                allocation=tuple([(months[m], c / 100) for m, c in parts if c > 0]),
                after=lay.after[n],
                responsible=d.responsible,
                rules=d.rules,
                extra=d.extra,
            )
        )
    return tuple(steps)


def _layout_dict(lay: _Layout) -> dict[str, Any]:
    """``Route.to_dict()`` of the route of a layout, without making the Route."""
    months, drafts, alloc, ids, after = lay.months, lay.drafts, lay.alloc, lay.ids, lay.after
    steps: list[dict[str, Any]] = []
    load: dict[str, int] = {}
    total = 0
    for n in lay.ordered:
        d = drafts[n]
        parts = alloc[n]
        allocation = [(months[m], c) for m, c in parts if c > 0]
        for m, c in allocation:
            load[m] = load.get(m, 0) + c
        total += d.centi
        steps.append(
            _step_dict(
                ids[n],
                d.kind,
                d.ref,
                d.title,
                d.comps,
                d.education,
                d.phase,
                d.level,
                months[parts[0][0]],
                months[parts[-1][0]],
                d.centi,
                allocation,
                after[n],
                d.responsible,
                d.rules,
                d.extra,
            )
        )
    return _route_dict(
        lay.period,
        lay.hours_per_month,
        lay.defaults,
        steps,
        load,
        total,
        lay.overflow,
        lay.conflicts,
    )


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
    lay = _layout(kb, profile, result, resolution, today)
    steps = _route_steps(lay)
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from((s.id, {"step": s}) for s in steps)
    graph.add_edges_from((p, s.id) for s in steps for p in s.after)
    return Route(
        lay.period, lay.hours_per_month, lay.defaults, steps, lay.overflow, lay.conflicts, graph
    )


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
    result: Result, steps: Sequence[_Draft], unmet: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Deficits with no step (besides the closing re-diagnosis) and no unmet need."""
    covered = {c for s in steps if s.kind != "rediagnosis" for c in s.comps}
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
    # build_route(...).to_dict(), without the Step objects and the graph
    lay = _layout(kb, profile, result, resolution, today)
    route = _layout_dict(lay)
    recs, unmet = resolution.to_dicts()
    unmet = unmet + tuple(_unaddressed(result, lay.drafts, unmet))
    return dataclasses.replace(result, recommendations=recs, unmet=unmet, route=route)
