"""The route of one person in one pass: drafts, order, schedule and steps, on ints and bit sets.

:func:`layout` is what :func:`~deficit_engine.route.build_route` runs for every
profile of a batch, so it is written for speed (issue 16): what depends only
on the KB (each format's step fields, the mentoring step, the re-diagnosis,
each competency's prerequisites, the calendar's holidays) is worked out once
per KB (:class:`Tables`, kept beside the frozen KB); a step's predecessors are
an int bit set over the drafts (the order's edges and its transitive reduction
are bit operations); months are offsets from the period's first month in a
list of free hundredths of an hour, holidays holding none; the steps are made
straight from plain tuples. The rules are those of docs/route.md ("Order",
"Schedule"); the output is held, byte for byte, to the reference of
``tests/route_reference.py`` (recorded before this rewrite).

A draft here is a plain tuple laid out as :class:`~.drafts.Draft`: its priority
as an int first (so that a route's drafts sort by it), then the fields of its
step in a Step's order, then its hundredths of an hour and its stage. What a
step takes from its catalogue item alone (a format's, a programme's or a
mentor's fields, hours and the item's part of the priority) is made once per
item and KB; what a period gives (its month indexes, monthly budget, holidays,
the hours it holds) once per period.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

from ..kb import KnowledgeBase
from ..labels import PHASE_ORDER
from ..models import Recommendation, Resolution, Result
from ..months import month_index
from ..period import settings
from ..rules import SEVERITIES
from ..schema import Profile
from .drafts import (
    CLOSING_STAGE,
    REDIAGNOSIS_FORMAT,
    SELF_EDUCATION_FORMAT,
    closing_draft,
    closing_fields,
    format_fields,
    format_groups,
    mentoring_fields,
    program_fields,
)
from .model import STEP_KINDS, Conflict, Overflow, Route, Step, centi
from .order import conflicts, drop_cycles, predecessors
from .schedule import hours_text, keep_texts, month_texts, overflow_of, schedule

__all__ = ["Tables", "layout", "layout_held", "tables"]

_KIND_RANK = {k: i for i, k in enumerate(STEP_KINDS)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_OTHER_STAGE = CLOSING_STAGE - 1  # a phase the KB does not know: just before closing
_NO_COMP_KEY = (10**9, "")
_PROGRAM_RANK = _KIND_RANK["program"]
_MENTORING_RANK = _KIND_RANK["mentoring"]
_CLOSING_RANK = _KIND_RANK["rediagnosis"]
_ITEMS_KEPT = 1 << 16  # programme pieces remembered per KB (a pure function's memo)
_PERIODS_KEPT = 1000  # distinct periods remembered per KB
_new_object = object.__new__
_new = tuple.__new__  # a Step from a tuple without the NamedTuple's keyword machinery


class _Format(NamedTuple):
    """A format's step fields, the same for every person (``responsible`` None:
    the person's organisation's methodical council)."""

    kind: str
    title: str
    education: str
    phase: str
    level: str | None
    hours: float
    centi: int
    stage: int
    kind_rank: int
    responsible: str | None


#: A programme's piece, from its catalogue ``attrs`` alone: (hours, hundredths,
#: provider, extra fields, the id's part of the priority or None).
_ProgramPiece = tuple[float, int, str, tuple[tuple[str, Any], ...], "int | None"]
#: A period's figures: (month index of its first month, offset of its last,
#: hundredths a month, holidays turned to its first month, hundredths it holds).
_Period = tuple[int, int, int, tuple[bool, ...], int]


class Tables:
    """What the route reads of a KB, worked out once per KB (see :func:`tables`).

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        index = kb.index
        #: competency -> its ontology sort key (unknown ids last, by id).
        self.comp_keys = index.comp_keys
        #: competency -> its bit in ontology order, and a set of bits -> the
        #: competencies in that order (the index's, which resolve's formats share).
        self.comp_bits = index.comp_bits
        self.comps_of = index.comps_of
        #: competency -> its transitive prerequisites, as a tuple to iterate.
        self.prerequisites = {c: tuple(p) for c, p in index.prerequisites.items() if p}
        #: (education, phase, hours, hundredths of an hour, stage) of a mentoring step.
        education, phase, hours = index.mentoring
        hundredths = centi(hours)
        self.mentoring = (education, phase, hundredths / 100, hundredths, _stage(phase))
        self.mentoring_stage = _stage(phase)
        #: format id -> its step fields.
        self.formats = {
            fid: _format_tables(fid, *format_fields(fmt)) for fid, fmt in kb.formats.items()
        }
        #: (ref, title, education, level, hundredths of an hour) of the closing re-diagnosis.
        self.closing = closing_fields(kb)
        #: programme id -> (its recommendation's attrs, their piece): see :func:`_drafts`.
        self.programs: dict[str, tuple[Any, _ProgramPiece]] = {}
        #: (first month, last month, hours a month) -> the period's figures.
        self.periods: dict[tuple[str, str, float], _Period] = {}
        calendar = kb.planning.planning.calendar
        #: month of the year (0-11, a month index % 12) -> whether it is a holiday.
        self.holiday = tuple(m + 1 in calendar.holidays for m in range(12))
        #: the first month's month of the year -> the holidays from it on.
        self.turned = tuple(self.holiday[t:] + self.holiday[:t] for t in range(12))
        self._priority_keys(kb)

    def _priority_keys(self, kb: KnowledgeBase) -> None:
        """The scheduling priority (:func:`_priority_tuples`) as one int per draft.

        (worst severity, stage, first competency, kind, catalogue id) become the
        digits of an int in mixed radix: competencies by their rank in ontology
        order (none after all), ids by their rank as strings; the ints then
        compare as the tuples do. A competency or id the KB does not have, or
        two drafts of one int (the tuple's last field, the competencies, would
        decide), send a route to the tuples.
        """
        comps = sorted(self.comp_keys, key=self.comp_keys.__getitem__)
        refs = sorted({"", *kb.programs, *kb.mentors, *kb.formats})
        kinds = len(STEP_KINDS)
        per_comp = kinds * len(refs)
        per_stage = per_comp * (len(comps) + 1)
        #: the weight of the worst severity's rank (the most significant digit).
        self.per_severity = per_stage * (CLOSING_STAGE + 1)
        #: no deficit (or an unknown severity), weighted.
        self.none_part = 9 * self.per_severity
        #: severity -> its rank, weighted; None (no deficit) -> :attr:`none_part`.
        self.severity_part: dict[str | None, int] = {
            s: i * self.per_severity for s, i in _SEVERITY_RANK.items()
        }
        self.severity_part[None] = self.none_part
        #: competency -> its rank in ontology order, weighted.
        self.comp_part = {c: i * per_comp for i, c in enumerate(comps)}
        #: the part of a draft without competencies (after all of them).
        self.no_comp = len(comps) * per_comp
        rank = {r: i for i, r in enumerate(refs)}
        #: (stage, kind rank) -> its part; id -> its part.
        self.stage_kind = {
            (st, k): st * per_stage + k * len(refs)
            for st in range(CLOSING_STAGE + 1)
            for k in range(kinds)
        }
        self.ref_part = rank
        #: format id -> its part besides the severity and the competency.
        self.format_part = {
            fid: self.stage_kind[f.stage, f.kind_rank] + rank[fid]
            for fid, f in self.formats.items()
        }
        #: the (stage, kind) part of a programme's and of a mentoring step's priority.
        self.program_part = self.stage_kind[0, _PROGRAM_RANK]
        self.mentoring_part = self.stage_kind[self.mentoring_stage, _MENTORING_RANK]


def _stage(phase: str) -> int:
    return PHASE_ORDER.get(phase, _OTHER_STAGE)


def _format_tables(
    fid: str, title: str, education: str, phase: str, level: str | None, hours: int
) -> _Format:
    kind = "self_education" if fid == SELF_EDUCATION_FORMAT else "format"
    responsible = (
        "педагог (самостоятельно)" if kind == "self_education" else _RESPONSIBLE.get(level or "")
    )
    return _Format(
        kind,
        title,
        education,
        phase,
        level,
        hours / 100,
        hours,
        _stage(phase),
        _KIND_RANK[kind],
        responsible,
    )


_RESPONSIBLE = {"regional": "ЦНППМ", "municipal": "ММС (муниципальная методическая служба)"}

_TABLES: weakref.WeakKeyDictionary[KnowledgeBase, Tables] = weakref.WeakKeyDictionary()
#: The KB asked for last (weakly) and its tables: a batch asks for one KB's, per person.
_last: tuple[weakref.ref[KnowledgeBase], Tables] | None = None


def tables(kb: KnowledgeBase) -> Tables:
    """The route's tables of ``kb``, made on first use and kept while the KB lives.

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base (frozen: the tables never go stale).

    Returns
    -------
    Tables
        Its tables; two threads asking at once may both build them, to the same result.
    """
    global _last
    last = _last
    if last is not None and last[0]() is kb:
        return last[1]
    found = _TABLES.get(kb)
    if found is None:
        found = _TABLES[kb] = Tables(kb)
    _last = (weakref.ref(kb), found)
    return found


def _drafts(
    tab: Tables, profile: Profile, result: Result, resolution: Resolution, grouped: bool
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None, bool]:
    """The drafts of a route (laid out as :class:`~.drafts.Draft`): programmes,
    mentors, formats in recommendation order, each with its priority as an int
    first; the closing re-diagnosis apart (None when the route has no step); and
    whether every competency and id was the KB's (else the ints are not exact).

    A format serving several needs makes one step per competency
    (:func:`~.drafts.format_groups`): ``grouped`` groups them so. Without it, one
    draft per need, in need order: the same drafts when each need has its own
    competency (the common case: the order of one recommendation's drafts never
    decides a route, their priorities differing in the competency), and when
    two needs share one (or have none), two drafts of one priority, which
    :func:`layout` sees and then asks for the drafts grouped.
    """
    comp_part = tab.comp_part
    none_part = tab.none_part
    no_comp = tab.no_comp
    # competency -> its deficit's severity (the Result's, made once), whose rank
    # weighted is the most significant digit (a competency without one: none_part)
    severity = result.severities
    sev_part = tab.severity_part
    drafts: list[tuple[Any, ...]] = []
    append = drafts.append
    exact = True  # every competency and id is the KB's
    asked: list[Recommendation] = []
    institutional = ""
    for rec in resolution.recommendations:
        kind = rec.kind
        if kind == "program" or kind == "mentor":
            attrs = rec.attrs
            if kind == "program":
                hit = tab.programs.get(rec.id)
                if hit is None or hit[0] is not attrs:
                    piece = _program_piece(tab, rec.id, attrs)
                else:
                    piece = hit[1]
                hours, hundredths, who, extra, fixed = piece
                title = rec.title
                education, phase, level, stage = "formal", "learn", None, 0
                kind = "program"
            else:  # its attrs are the person's (forms, free places): nothing to remember
                title, who, extra = mentoring_fields(rec.title, attrs)
                fixed = tab.ref_part.get(rec.id)
                if fixed is not None:
                    fixed += tab.mentoring_part
                education, phase, hours, hundredths, stage = tab.mentoring
                level = "institutional"
                kind = "mentoring"
            if fixed is None:
                exact = False
                fixed = 0
            comps = rec.competencies
            worst, first = none_part, no_comp
            for c in comps:
                s = sev_part.get(severity.get(c), none_part)
                if s < worst:
                    worst = s
                part = comp_part.get(c)
                if part is None:
                    exact = False
                elif part < first:
                    first = part
            append(
                (
                    worst + first + fixed,
                    kind,
                    rec.id,
                    title,
                    comps,
                    education,
                    phase,
                    level,
                    hours,
                    who,
                    rec.rules,
                    extra,
                    hundredths,
                    stage,
                )
            )
            continue
        fid = rec.id
        if fid == REDIAGNOSIS_FORMAT:
            asked.append(rec)
            continue
        fkind, title, education, phase, level, hours, hundredths, stage, _rank, fixed_who = (
            tab.formats[fid]
        )
        if fixed_who is None:
            if not institutional:
                org = profile.person.organization
                institutional = f"{org} (методический совет)" if org else "методический совет ОО"
            who = institutional
        else:
            who = fixed_who
        fixed = tab.format_part[fid]
        needs = rec.needs
        if grouped and len(needs) > 1:  # (rare) a step per competency, by format_groups
            # for the priorities as tuples (layout): no int priority
            head, tail = (fkind, fid, title), (education, phase, level, hours, who)
            for comps, rules in format_groups(needs, tab.comp_keys.__getitem__):
                append((0, *head, comps, *tail, rules, (), hundredths, stage))
            continue
        # one step per need: each need its own competency (the common case)
        for need in needs:
            comp = need.competency
            if comp is None:
                key = none_part + no_comp + fixed
                comps = ()
            else:
                try:  # subscripts, not get(): the KB's competency, a known severity or none
                    key = sev_part[severity.get(comp)] + comp_part[comp] + fixed
                except KeyError:
                    part = comp_part.get(comp)
                    if part is None:
                        exact = False
                        part = 0
                    key = sev_part.get(severity.get(comp), none_part) + part + fixed
                comps = (comp,)
            append(
                (
                    key,
                    fkind,
                    fid,
                    title,
                    comps,
                    education,
                    phase,
                    level,
                    hours,
                    who,
                    (need.rule,),
                    (),
                    hundredths,
                    stage,
                )
            )
    if drafts or asked:
        return drafts, closing_draft(tab.closing, _closing_comps(tab, result, asked), asked), exact
    return drafts, None, exact


def _closing_comps(tab: Tables, result: Result, asked: Sequence[Recommendation]) -> tuple[str, ...]:
    """The competencies of the closing re-diagnosis: every deficit's and every one a
    re-diagnosis recommendation names, in ontology order. As a bit set over the
    ontology's competencies, whose tuple the KB's index remembers (a cohort repeats
    sets: :meth:`~deficit_engine.catalogue.CatalogueIndex.comps_of`)."""
    bit = tab.comp_bits
    mask = 0
    try:
        for c in result.severities:  # the deficits' competencies, each once
            mask |= bit[c]
        for rec in asked:
            for c in rec.competencies:
                mask |= bit[c]
    except KeyError:  # a competency the ontology does not have: sorted by the KB's keys
        comps = set(result.severities)
        for rec in asked:
            comps.update(rec.competencies)
        return tuple(sorted(comps, key=tab.comp_keys.__getitem__))
    return tab.comps_of(mask)


def _program_piece(tab: Tables, pid: str, attrs: tuple[tuple[str, Any], ...]) -> _ProgramPiece:
    """A programme's piece (:data:`_ProgramPiece`), remembered per programme.

    A programme's hours, provider and extra fields are a function of the
    recommendation's ``attrs`` alone (:func:`~.drafts.program_fields`), which the
    resolver takes from the catalogue (one tuple per programme): remembered by the
    programme's id and used while ``attrs`` is that very tuple (the memo holds
    it, so no other tuple can take its identity).
    """
    hundredths, provider, extra = program_fields(attrs)
    ref = tab.ref_part.get(pid)
    piece = (
        hundredths / 100,
        hundredths,
        provider,
        extra,
        None if ref is None else ref + tab.program_part,
    )
    if len(tab.programs) < _ITEMS_KEPT:
        tab.programs[pid] = (attrs, piece)
    return piece


def _priority_tuples(
    drafts: Sequence[tuple[Any, ...]],
    result: Result,
    comp_keys: Mapping[str, tuple[int, str]],
) -> list[tuple[Any, ...]]:
    """Each draft's scheduling priority: the smaller, the sooner among steps that are ready.

    Per draft: its most severe deficit's rank, its stage, its first
    competency in ontology order, its kind's rank, its catalogue id, its
    competencies (what :class:`Tables` turns into one int when it can).
    """
    severity = {d.competency: _SEVERITY_RANK.get(d.severity, 9) for d in result.deficits}
    out: list[tuple[Any, ...]] = []
    for d in drafts:
        comps = d[4]
        worst = min([severity.get(c, 9) for c in comps], default=9)
        first = min([comp_keys[c] for c in comps], default=_NO_COMP_KEY)
        out.append((worst, d[13], first, _KIND_RANK[d[1]], d[2] or "", comps))
    return out


#: Step ids by position: "s1", "s2", ... (extended when a route is longer).
_IDS: list[str] = [f"s{i}" for i in range(1, 101)]


def _ids(count: int) -> list[str]:
    while len(_IDS) < count:
        _IDS.append(f"s{len(_IDS) + 1}")
    return _IDS


def _period(tab: Tables, start: str, end: str, per_month: float) -> _Period:
    """The figures of a period (:data:`_Period`), remembered per KB: a cohort's
    periods are few."""
    key = (start, end, per_month)
    found = tab.periods.get(key)
    if found is None:
        first = month_index(start)
        last = month_index(end) - first
        turn = first % 12
        holds = centi(
            per_month * sum(1 for o in range(last + 1) if not tab.holiday[(turn + o) % 12])
        )
        found = (first, last, centi(per_month), tab.turned[turn], holds)
        if len(tab.periods) < _PERIODS_KEPT:
            tab.periods[key] = found
    return found


def layout(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    today: date | None,
) -> Route:
    """Order and schedule the steps of one person's route: :func:`layout_held`'s
    route (the parameters are its).

    Returns
    -------
    Route
        The scheduled steps, the overflow and the conflicts.

    Raises
    ------
    UsageError
        As :func:`layout_held`.
    """
    return layout_held(kb, profile, result, resolution, today)[0]


def layout_held(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    today: date | None,
) -> tuple[Route, dict[str, int]]:
    """Order and schedule the steps of one person's route (see :func:`~.build.build_route`).

    Parameters
    ----------
    kb : KnowledgeBase
        The knowledge base the resolution was made with.
    profile : Profile
        The validated profile.
    result : Result
        The diagnosis.
    resolution : Resolution
        The chosen catalogue items.
    today : datetime.date or None
        As in :func:`~.build.build_route`.

    Returns
    -------
    Route
        The scheduled steps, the overflow and the conflicts.
    dict
        The competencies the steps besides the closing re-diagnosis work on (as
        keys; :func:`~.build.unaddressed_deficits` reads them off the steps).

    Raises
    ------
    UsageError
        When the hours a month are not positive or every month is a holiday
        (:func:`~.schedule.schedule`; a validated profile and KB never give either).
    """
    tab = tables(kb)
    start, end, per_month, defaults = settings(profile, today)
    period = (start, end)
    drafts, closing, exact = _drafts(tab, profile, result, resolution, False)
    if closing is None:
        return _route(period, per_month, defaults, (), None, ()), {}
    # number the drafts in priority order (ties by recommendation order: sorted()
    # is stable), the closing step last: the topological order then takes, of
    # the drafts that are ready, the lowest number
    opened = len(drafts)
    priority: Sequence[Any]
    if exact and len({d[0] for d in drafts}) == opened:
        # the ints are distinct: sorted by them (a tuple sort that never looks
        # past them), draft i's priority ranks as i
        drafts.sort()
        priority = range(opened)
    else:  # the priorities as tuples, over the drafts grouped by competency
        drafts, closing, _exact = _drafts(tab, profile, result, resolution, True)
        assert closing is not None  # the same recommendations
        opened = len(drafts)
        tuples = _priority_tuples(drafts, result, tab.comp_keys)
        by_priority = sorted(range(opened), key=tuples.__getitem__)
        drafts = [drafts[i] for i in by_priority]
        priority = [tuples[i] for i in by_priority]
    drafts.append(closing)
    n = opened + 1
    holding: dict[str, int] = {}  # competency -> the drafts (the closing one left out) on it
    preds = predecessors(drafts, opened, tab.prerequisites, holding)
    first, last, budget, holiday, holds = _period(tab, start, end, per_month)
    known = month_texts(first)
    centis = [d[12] for d in drafts]
    # the topological order found while scheduling; a cycle (bundled steps): the
    # edges that break it dropped, and scheduled again
    dropped: list[tuple[int, int]] = []
    sched = schedule(centis, preds, budget, holiday, known, first, last)
    if sched is None:
        dropped = drop_cycles(preds, priority, opened)
        sched = schedule(centis, preds, budget, holiday, known, first, last)
        if sched is None:  # pragma: no cover - every cycle is broken by break_cycles
            raise RuntimeError("internal error: the route graph has a cycle")
    starts, ends, allocations, direct, over, texts, topo = sched
    if texts is not known:
        keep_texts(first, texts)
    # by start month, ties in topological order (sorted() is stable)
    ordered = sorted(topo, key=starts.__getitem__)
    ids = _ids(n)
    step_id = [""] * n  # draft -> its step id
    position = [0] * n  # draft -> its place in step order
    steps = []
    for i, t in enumerate(ordered):
        (_key, kind, ref, title, comps, education, phase, level, hours, who, rules, extra,
         _centi, _stage) = drafts[t]  # fmt: skip
        sid = step_id[t] = ids[i]
        position[t] = i
        # a step's direct predecessors end before it starts, so they come before it
        # in step order and have their ids already
        m = direct[t]
        after: tuple[str, ...]
        if not m & (m - 1):  # none or one: most steps
            after = (step_id[m.bit_length() - 1],) if m else ()
        else:  # in step order ("s1" < "s10" < "s2" would not sort)
            places = []
            while m:
                low = m & -m
                places.append(position[low.bit_length() - 1])
                m ^= low
            places.sort()
            after = tuple([ids[p] for p in places])
        steps.append(
            _new(
                Step,
                (
                    sid,
                    kind,
                    ref,
                    title,
                    comps,
                    education,
                    phase,
                    level,
                    texts[starts[t]],
                    texts[ends[t]],
                    hours,
                    allocations[t],
                    after,
                    who,
                    rules,
                    extra,
                ),
            )
        )
    spill = None
    route_end = max(ends)  # where the closing step ends (it starts where the last step ends)
    if route_end > last:
        late = [t for t in ordered if ends[t] > last]
        too_long = [
            f"{drafts[t][2]} ({hours_text(drafts[t][12] / 100)} ч)"
            for t in late
            if drafts[t][1] == "program" and drafts[t][12] > holds
        ]
        spill = overflow_of(
            period,
            per_month,
            route_end - last,
            texts[route_end],
            over / 100,
            tuple([step_id[t] for t in late]),
            too_long,
        )
    clash: tuple[Conflict, ...] = ()
    if dropped:
        clash = conflicts(dropped, dict(enumerate(step_id)), dict(enumerate(position)))
    return _route(period, per_month, defaults, tuple(steps), spill, clash), holding


def _route(
    period: tuple[str, str],
    per_month: float,
    defaults: tuple[str, ...],
    steps: tuple[Step, ...],
    spill: Overflow | None,
    clash: tuple[Conflict, ...],
) -> Route:
    """``Route(...)`` without the frozen dataclass's ``__init__`` (six frozen setattrs)."""
    route: Route = _new_object(Route)
    route.__dict__.update(
        {
            "period": period,
            "hours_per_month": per_month,
            "defaults": defaults,
            "steps": steps,
            "overflow": spill,
            "conflicts": clash,
        }
    )
    return route
