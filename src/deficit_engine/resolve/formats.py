"""Formats (forms of work) for a person's format needs.

A need names a format by id (``format=...``), or asks for any format passing
its other filters (education, phase); a format need may name no competency.
Needs that name a format are served first, so that a filter-only need can reuse
a format already chosen; otherwise it gets the best format by (phase, hours, id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..catalogue import (
    CatalogueIndex,
    exact_key,
    filters_text,
    format_attrs,
    mismatch,
    mismatch_text,
)
from ..labels import plural_ru
from ..models import Need, Recommendation
from .needinfo import NeedInfo, competency_bits, infos_of

__all__ = ["resolve_formats"]

_NAMED = "названа правилом"
#: How a format only needs that name it chose was chosen.
_ONLY_NAMED = frozenset([_NAMED])
_NAMED_HOWS = (_NAMED,)
#: How many recommendations the per-KB memo keeps before it starts afresh (a
#: cohort's few thousand distinct ones; more would only hold memory).
MADE_LIMIT = 1 << 14


class _Plan(NamedTuple):
    """What one need's filters make of it, the same for every person (memoised per
    KB by the filters): the format it names and passes, or why not; or, naming
    none, the passing formats by preference and how the choice is worded."""

    named: bool
    unmet: str | None  # why no format serves it
    ranked: tuple[str, ...]  # a named need: its format; else the passing ones, best first
    how: str  # a filter-only need: "подобрана по условиям ..."


def resolve_formats(
    index: CatalogueIndex,
    needs: Sequence[Need],
    idx: Sequence[int],
    infos: Sequence[NeedInfo] | None = None,
    *,
    shared: bool = False,
) -> tuple[list[Recommendation], dict[int, str]]:
    """Formats for the needs ``idx`` (indexes into ``needs``) of a person.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    needs : sequence of Need
        The Result's needs; ``idx`` picks the format needs among them.
    idx : sequence of int
    infos : sequence of NeedInfo, optional
        The needs' infos (found here when not given).
    shared : bool
        Whether a recommendation equal to one made before, with the same needs
        (objects) and chosen the same way, is that one object (kept per KB): a
        plan's Resolver shares them so, instead of hashing each value; one person's
        resolve does not (four in ten are met again: their keys cost more than
        that saves).

    Returns
    -------
    tuple
        The recommendations, by (phase, id), and need index -> why no format
        serves it.
    """
    if infos is None:
        infos = infos_of(index, needs)
    chosen: dict[str, list[int]] = {}  # format id -> the needs it serves
    # format id -> how it was chosen for them, when not only because a need named it
    how: dict[str, set[str]] = {}
    unmet: dict[int, str] = {}
    later = []
    for i in idx:  # needs naming a format first ...
        info = infos[i]
        fid = info.named_format  # the usual case: a need naming a format it passes
        if fid is None:
            plan = info.format_plan or _plan_of(index, needs[i], info)
            if not plan.named:
                later.append((i, plan))
                continue
            if plan.unmet is not None:
                unmet[i] = plan.unmet
                continue
            fid = plan.ranked[0]
        got = chosen.get(fid)
        if got is None:
            chosen[fid] = [i]
        else:
            got.append(i)
    for i, plan in later:  # ... so that the others can reuse what they chose
        if plan.unmet is not None:
            unmet[i] = plan.unmet
            continue
        for fid in plan.ranked:
            if fid in chosen:
                chosen[fid].append(i)
                hows = how.get(fid)
                if hows is None:  # chosen so far only by needs naming it
                    how[fid] = {_NAMED, plan.how}
                else:
                    hows.add(plan.how)
                break
        else:
            fid = plan.ranked[0]
            chosen[fid] = [i]
            how[fid] = {plan.how}
    order = sorted(chosen, key=index.format_order.__getitem__) if len(chosen) > 1 else chosen
    return _recommendations(index, needs, infos, chosen, how, order, bool(later), shared), unmet


def _recommendations(
    index: CatalogueIndex,
    needs: Sequence[Need],
    infos: Sequence[NeedInfo],
    chosen: dict[str, list[int]],
    how: dict[str, set[str]],
    order: Iterable[str],
    resort: bool,
    shared: bool,
) -> list[Recommendation]:
    """The recommendations of the formats ``chosen`` (id -> the needs each serves,
    chosen as ``how`` says, or only by needs naming it), in ``order``; ``resort``:
    filter-only needs joined some after the named ones. Each one's reason is kept in
    the index's memo by what it reads; ``shared``: see :func:`resolve_formats`."""
    made = index.memo("format recommendations")
    reasons = index.memo("format reasons")
    heads = index.memo("format recommendation heads")
    recs = []
    for fid in order:
        served = chosen[fid]
        if resort:
            served.sort()
        hows = how.get(fid, _ONLY_NAMED)
        # a recommendation is a function of its format, how it was chosen and the
        # needs it serves (the objects: held by it, so their ids are not reused
        # while it is here); a cohort repeats four in ten
        key = None
        if shared and len(hows) == 1:
            key = (fid, *hows, *[id(needs[i]) for i in served])
            rec = made.get(key)
            if rec is not None:
                recs.append(rec)
                continue
        bits = competency_bits(infos, served)  # usually: each need's competency known
        if bits:
            comps, general = index.comps_of(bits), False
        else:
            comps, general = _competencies(index, infos, served)
        # the reason names the competency when there is one, else only how many
        ways = _NAMED_HOWS if hows is _ONLY_NAMED else tuple(sorted(hows))
        about = (fid, ways, comps if len(comps) < 2 else len(comps), general)
        reason = reasons.get(about)
        if reason is None:
            reason = index.remember(reasons, about, _reason(index, fid, ways, comps, general))
        head = heads.get(fid)
        if head is None:
            fmt = index.format_by_id[fid]
            head = heads[fid] = (fmt.id, fmt.title, index.format_text(fmt)[2])
        rec = Recommendation.of(
            "format", head[0], head[1], comps, tuple([needs[i] for i in served]), reason, head[2]
        )
        if key is not None:
            if len(made) >= MADE_LIMIT:  # afresh when full
                made.clear()
            made[key] = rec
        recs.append(rec)
    return recs


def _plan_of(index: CatalogueIndex, need: Need, info: NeedInfo) -> _Plan:
    """A need's :class:`_Plan` (a function of the filters only), from the KB's memos;
    kept in its info when it has a token (equal tokens: filters that print alike)."""
    plan: _Plan = index.memo("format plans").get(need.filters) or _typed_plan(index, need)
    if info.token is not None:
        info.format_plan = plan
        if plan.named and plan.unmet is None:
            info.named_format = plan.ranked[0]
    return plan


def _typed_plan(index: CatalogueIndex, need: Need) -> _Plan:
    """A need's plan, when its filters were not found among the all-string ones."""
    key = exact_key(need.filters)
    if key is need.filters:  # all strings: the plain memo
        plan: _Plan = index.remember(index.memo("format plans"), key, _plan(index, need))
        return plan
    memo = index.memo("format plans, typed")
    found: _Plan | None = memo.get(key) if key is not None else None
    if found is None:
        found = index.remember(memo, key, _plan(index, need))
    return found


def _plan(index: CatalogueIndex, need: Need) -> _Plan:
    selected = index.filtered("format", need)
    if selected.named is not None:
        return _named(index, need, selected.passing)
    passing = selected.passing
    ranked = tuple(f.id for f in index.formats_ranked if f.id in passing)
    if not ranked:
        why = (
            "в каталоге нет формы работы, удовлетворяющей условиям потребности"
            f" ({filters_text(need.filters) or 'условий нет'})"
        )
        return _Plan(False, why, (), "")
    ids = ", ".join(f.id for f in index.formats if f.id in passing)
    how = (
        f"подобрана по условиям ({filters_text(need.filters) or 'без условий'})"
        f" из {len(ranked)} подходящих ({ids})"
    )
    return _Plan(False, None, ranked, how)


def _named(index: CatalogueIndex, need: Need, passing: frozenset[str]) -> _Plan:
    """A need naming a format: that format, if the catalogue has it and it passes
    the need's other filters."""
    name = need.get("format")
    fmt = index.format_by_id.get(str(name))
    if fmt is None:
        return _Plan(True, f"в каталоге нет формы работы «{name}»", (), "")
    if fmt.id not in passing:
        bad = mismatch(format_attrs(fmt), need)
        assert bad is not None
        why = f"форма работы «{fmt.id}»: " + mismatch_text(*bad, "формы работы")
        return _Plan(True, why, (), "")
    return _Plan(True, None, (fmt.id,), _NAMED)


def _competencies(
    index: CatalogueIndex, infos: Sequence[NeedInfo], served: list[int]
) -> tuple[tuple[str, ...], bool]:
    """The competencies the needs ``served`` name, in ontology order, and whether one
    names none (what the recommendation's reason says of them)."""
    competencies = [infos[i].competency for i in served]
    return index.sort([str(c) for c in competencies if c]), None in competencies


def _reason(
    index: CatalogueIndex, fid: str, how: tuple[str, ...], comps: tuple[str, ...], general: bool
) -> str:
    """A format recommendation's reason: how it was chosen, what it is, its hours."""
    line, hours, _attrs = index.format_text(index.format_by_id[fid])
    parts = [f"Форма работы {'; '.join(how)}", line]
    if len(comps) > 1:
        n = len(comps)
        many = plural_ru(n, "компетенции", "компетенций", "компетенций")
        parts.append(f"{hours} ч по каждой из {n} {many}")
    elif comps:
        parts.append(f"{hours} ч по компетенции {comps[0]}")
    if general:
        parts.append(f"{hours} ч — общий шаг маршрута")
    return "; ".join(parts) + "."
