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

A draft here is a plain tuple laid out as :class:`~.drafts.Draft` (kind, ref,
title, comps, education, phase, level, centi, responsible, rules, extra).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

from ..kb import KnowledgeBase
from ..labels import PHASE_ORDER, format_hours
from ..models import Recommendation, Resolution, Result
from ..months import month_index, month_text
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
    mentoring_draft,
    program_draft,
    program_fields,
)
from .model import STEP_KINDS, Conflict, Overflow, Route, Step, centi
from .order import acyclic, conflicts, predecessors
from .schedule import overflow_of, schedule

__all__ = ["Tables", "layout", "tables"]

_KIND_RANK = {k: i for i, k in enumerate(STEP_KINDS)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_OTHER_STAGE = CLOSING_STAGE - 1  # a phase the KB does not know: just before closing
_NO_COMP_KEY = (10**9, "")
_PROGRAM_RANK = _KIND_RANK["program"]
_MENTORING_RANK = _KIND_RANK["mentoring"]
_CLOSING_RANK = _KIND_RANK["rediagnosis"]
_PROGRAMS_KEPT = 1 << 16  # programme drafts remembered per KB (a pure function's memo)
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
    centi: int
    stage: int
    kind_rank: int
    responsible: str | None


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
        #: competency -> its transitive prerequisites, as a tuple to iterate.
        self.prerequisites = {c: tuple(p) for c, p in index.prerequisites.items() if p}
        #: (education, phase, hours) of a mentoring step, and its stage.
        self.mentoring_fields = index.mentoring
        self.mentoring_stage = _stage(index.mentoring[1])
        #: format id -> its step fields.
        self.formats = {
            fid: _format_tables(fid, *format_fields(fmt)) for fid, fmt in kb.formats.items()
        }
        #: (ref, title, education, level, hundredths of an hour) of the closing re-diagnosis.
        self.closing = closing_fields(kb)
        #: programme id -> (its recommendation's attrs, their program_fields):
        #: see :func:`_program_draft`.
        self.programs: dict[str, tuple[Any, tuple[int, str, tuple[tuple[str, Any], ...]]]] = {}
        calendar = kb.planning.planning.calendar
        #: month of the year (0-11, a month index % 12) -> whether it is a holiday.
        self.holiday = tuple(m + 1 in calendar.holidays for m in range(12))
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
        kind, title, education, phase, level, hours, _stage(phase), _KIND_RANK[kind], responsible
    )


_RESPONSIBLE = {"regional": "ЦНППМ", "municipal": "ММС (муниципальная методическая служба)"}

_TABLES: weakref.WeakKeyDictionary[KnowledgeBase, Tables] = weakref.WeakKeyDictionary()


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
    found = _TABLES.get(kb)
    if found is None:
        found = _TABLES[kb] = Tables(kb)
    return found


class _Drafts(NamedTuple):
    """The drafts of a route and what ordering them needs, index by index."""

    drafts: list[tuple[Any, ...]]
    stages: list[int]
    keys: list[int] | None  # the priority as ints; None: use _priority_tuples


def _drafts(tab: Tables, profile: Profile, result: Result, resolution: Resolution) -> _Drafts:
    """The drafts (programmes, mentors, formats in recommendation order, the
    closing re-diagnosis last), their stages and their priorities as ints."""
    comp_part = tab.comp_part
    ref_part = tab.ref_part
    per_severity = tab.per_severity
    none_part = 9 * per_severity  # no deficit on the competency (or none at all)
    # competency -> its worst severity's rank, weighted: the most significant digit
    severity = {
        d.competency: _SEVERITY_RANK.get(d.severity, 9) * per_severity for d in result.deficits
    }
    drafts: list[tuple[Any, ...]] = []
    stages: list[int] = []
    keys: list[int] = []
    exact = True  # every competency and id is the KB's
    asked: list[Any] = []
    institutional = ""
    for rec in resolution.recommendations:
        kind = rec.kind
        if kind == "program" or kind == "mentor":
            if kind == "program":
                drafts.append(_program_draft(tab, rec))
                stage, fixed = 0, tab.program_part
            else:
                drafts.append(mentoring_draft(rec, tab.mentoring_fields))
                stage, fixed = tab.mentoring_stage, tab.mentoring_part
            stages.append(stage)
            worst, first = none_part, tab.no_comp
            for c in rec.competencies:
                s = severity.get(c, none_part)
                if s < worst:
                    worst = s
                part = comp_part.get(c)
                if part is None:
                    exact = False
                elif part < first:
                    first = part
            ref = ref_part.get(rec.id)
            if ref is None:
                exact = False
                ref = 0
            keys.append(worst + first + fixed + ref)
            continue
        fid = rec.id
        if fid == REDIAGNOSIS_FORMAT:
            asked.append(rec)
            continue
        if not institutional:
            org = profile.person.organization
            institutional = f"{org} (методический совет)" if org else "методический совет ОО"
        fkind, title, education, phase, level, hundredths, stage, _rank, responsible = tab.formats[
            fid
        ]
        who = responsible or institutional
        fixed = tab.format_part[fid]
        needs = rec.needs
        if len(needs) == 1:  # the most common: one need, one step (as format_groups)
            comp = needs[0].competency
            groups: Sequence[tuple[tuple[str, ...], tuple[str, ...]]] = (
                ((comp,) if comp is not None else (), (needs[0].rule,)),
            )
        else:
            groups = format_groups(needs, tab.comp_keys.__getitem__)
        for comps, rules in groups:
            drafts.append(
                (
                    fkind,
                    fid,
                    title,
                    comps,
                    education,
                    phase,
                    level,
                    hundredths,
                    who,
                    rules,
                    (),
                )
            )
            stages.append(stage)
            if comps:
                c = comps[0]
                part = comp_part.get(c)
                if part is None:
                    exact = False
                    part = 0
                keys.append(severity.get(c, none_part) + part + fixed)
            else:
                keys.append(none_part + tab.no_comp + fixed)
    if drafts or asked:
        drafts.append(closing_draft(tab.closing, result, asked, tab.comp_keys))
        stages.append(CLOSING_STAGE)
    if not exact or len(set(keys)) < len(keys):
        return _Drafts(drafts, stages, None)
    return _Drafts(drafts, stages, keys)


def _program_draft(tab: Tables, rec: Recommendation) -> tuple[Any, ...]:
    """:func:`~.drafts.program_draft`, its catalogue part remembered per programme.

    A programme's hours, provider and extra fields are a function of the
    recommendation's ``attrs`` alone (:func:`~.drafts.program_fields`), which the
    resolver takes from the catalogue (one tuple per programme): remembered by the
    programme's id and used while ``attrs`` is that very tuple (the memo holds
    it, so no other tuple can take its identity).
    """
    attrs = rec.attrs
    hit = tab.programs.get(rec.id)
    if hit is None or hit[0] is not attrs:
        fields = program_fields(attrs)
        if len(tab.programs) < _PROGRAMS_KEPT:
            tab.programs[rec.id] = (attrs, fields)
        return program_draft(rec, fields)
    return program_draft(rec, hit[1])


def _priority_tuples(
    drafts: Sequence[tuple[Any, ...]],
    stages: Sequence[int],
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
    for d, stage in zip(drafts, stages, strict=True):
        comps = d[3]
        worst = min([severity.get(c, 9) for c in comps], default=9)
        first = min([comp_keys[c] for c in comps], default=_NO_COMP_KEY)
        out.append((worst, stage, first, _KIND_RANK[d[0]], d[1] or "", comps))
    return out


#: Step ids by position: "s1", "s2", ... (extended when a route is longer).
_IDS: list[str] = [f"s{i}" for i in range(1, 101)]
#: first month index -> the texts of the months from it on (extended on demand):
#: routes of one cohort mostly share a few periods.
_MONTHS: dict[int, list[str]] = {}
_MONTHS_LIMIT = 1000  # distinct first months kept (a pure function's memo)


def _ids(count: int) -> list[str]:
    while len(_IDS) < count:
        _IDS.append(f"s{len(_IDS) + 1}")
    return _IDS


def _month_texts(first: int, count: int) -> list[str]:
    """``YYYY-MM`` of the months ``first``, ``first + 1``, ... (at least ``count`` of them)."""
    texts = _MONTHS.get(first)
    if texts is None:
        texts = []
        if len(_MONTHS) < _MONTHS_LIMIT:
            _MONTHS[first] = texts
    if len(texts) < count:
        texts.extend(month_text(first + i) for i in range(len(texts), count + 12))
    return texts


def layout(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    resolution: Resolution,
    today: date | None,
) -> Route:
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
    """
    tab = tables(kb)
    start, end, per_month, defaults = settings(profile, today)
    period = (start, end)
    drafts, stages, keys = _drafts(tab, profile, result, resolution)
    n = len(drafts)
    if not n:
        return _route(period, per_month, defaults, (), None, ())
    # number the drafts in priority order (ties by recommendation order: sorted()
    # is stable), the closing step last: the topological order then takes, of
    # the drafts that are ready, the lowest number
    opened = n - 1 if drafts[-1][0] == "rediagnosis" else n
    priority: Sequence[Any]
    if keys is not None:
        by_priority = sorted(range(opened), key=keys.__getitem__)
        # the ints are distinct: numbered by them, draft i's priority ranks as i
        priority = range(opened)
    else:
        tuples = _priority_tuples(drafts, stages, result, tab.comp_keys)
        by_priority = sorted(range(opened), key=tuples.__getitem__)
        priority = [tuples[i] for i in by_priority]
    by_priority.extend(range(opened, n))
    drafts = [drafts[i] for i in by_priority]
    preds = predecessors(drafts, [stages[i] for i in by_priority], opened, tab.prerequisites)
    topo, dropped = acyclic(preds, priority, opened)
    first = month_index(start)
    turn = first % 12
    sched = schedule(
        [d[7] for d in drafts],
        preds,
        topo,
        opened if opened < n else -1,
        centi(per_month),
        tab.holiday[turn:] + tab.holiday[:turn],
    )
    parts = sched.parts
    if opened < n:
        topo.append(opened)
    # by start month, ties in topological order (sorted() is stable)
    starts = [p[0][0] for p in parts]
    ordered = sorted(topo, key=starts.__getitem__)
    ids = _ids(n)
    step_id = dict(zip(ordered, ids, strict=False))  # ids may hold more
    ends = [p[-1][0] for p in parts]
    route_end = max(ends)
    texts = _month_texts(first, route_end + 1)
    steps = []
    direct = sched.direct
    for t in ordered:
        kind, ref, title, comps, education, phase, level, hundredths, responsible, rules, extra = (
            drafts[t]
        )
        p = parts[t]
        allocation: tuple[tuple[str, float], ...]
        if len(p) == 1:  # most steps fit in a month
            o, c = p[0]
            allocation = ((texts[o], c / 100),) if c > 0 else ()
        else:
            allocation = tuple([(texts[o], c / 100) for o, c in p])
        m = direct[t]
        after: tuple[str, ...]
        if not m & (m - 1):  # none or one: most steps
            after = (step_id[m.bit_length() - 1],) if m else ()
        else:
            # the direct predecessors in step order: as "s1" < "s10" < "s2" would
            # not sort, in the order of the steps, which is that of `ordered`
            after = tuple([step_id[b] for b in ordered if m >> b & 1])
        steps.append(
            _new(
                Step,
                (
                    step_id[t],
                    kind,
                    ref,
                    title,
                    comps,
                    education,
                    phase,
                    level,
                    texts[starts[t]],
                    texts[ends[t]],
                    hundredths / 100,
                    allocation,
                    after,
                    responsible,
                    rules,
                    extra,
                ),
            )
        )
    last = month_index(end) - first
    spill = None
    if route_end > last:
        late = [t for t in ordered if ends[t] > last]
        spill = _overflow(
            tab, drafts, parts, late, step_id, period, per_month, first, last, route_end
        )
    clash: tuple[Conflict, ...] = ()
    if dropped:
        position = {t: i for i, t in enumerate(ordered)}
        clash = conflicts(dropped, step_id, position)
    return _route(period, per_month, defaults, tuple(steps), spill, clash)


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


def _overflow(
    tab: Tables,
    drafts: Sequence[tuple[Any, ...]],
    parts: Sequence[Sequence[tuple[int, int]]],
    late: Sequence[int],
    step_id: Mapping[int, str],
    period: tuple[str, str],
    per_month: float,
    first: int,
    last: int,
    route_end: int,
) -> Overflow:
    """How far the route runs past its period (:func:`.schedule.overflow`): ``late``
    are the steps that end after its ``last`` month offset, in step order;
    ``route_end`` is the offset of the last month a step takes."""
    over = 0
    for t in late:  # only a late step has hours after the period
        for o, c in parts[t]:
            if o > last:
                over += c
    holds = centi(per_month * _working_months(tab.holiday, first % 12, last + 1))
    too_long = [
        f"{drafts[t][1]} ({format_hours(drafts[t][7] / 100)} ч)"
        for t in late
        if drafts[t][0] == "program" and drafts[t][7] > holds
    ]
    return overflow_of(
        period,
        per_month,
        route_end - last,
        month_text(first + route_end),
        over / 100,
        tuple([step_id[t] for t in late]),
        too_long,
    )


def _working_months(holiday: Sequence[bool], turn: int, count: int) -> int:
    """How many of ``count`` months from the month ``turn`` of the year (0-11) are
    not holidays (remembered: a cohort's periods are few)."""
    key = (holiday, turn, count)
    found = _WORKING.get(key)
    if found is None:
        found = sum(1 for o in range(count) if not holiday[(turn + o) % 12])
        if len(_WORKING) < _MONTHS_LIMIT:
            _WORKING[key] = found
    return found


#: (holidays, first month of the year, months) -> the working months among them.
_WORKING: dict[tuple[Sequence[bool], int, int], int] = {}
