"""Programmes (ДПП) for a person's programme needs.

Only programmes whose ``audience`` includes the person's role and that cover
the need's competency (and satisfy its filters) are candidates; they are chosen
by a greedy set cover ranking candidates lexicographically by (0) finishing
within the person's period, (1) how many still-uncovered needs they cover, (2)
a delivery the profile requests, (3) ФР ДПП, (4) fewer hours, (5) id.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

from ..catalogue import (
    MEMO_LIMIT,
    CatalogueIndex,
    mismatch,
    mismatch_text,
    program_attrs,
)
from ..labels import DELIVERY_RU, EDU_LEVEL_RU, ROLE_RU, SUBJECT_RU, format_hours, plural_ru
from ..models import Need, Recommendation
from ..schema import Program
from .cover import Key, ranked_cover
from .needinfo import NeedInfo, infos_of

__all__ = ["Pick", "programme_cover", "programme_recommendations", "resolve_programmes"]


def serves(item: Program, subjects: Collection[str], levels: Collection[str]) -> bool:
    """Whether a programme's subjects and levels admit a person (unrestricted: anyone).

    Parameters
    ----------
    item : Program
        The programme.
    subjects, levels : collection of str
        The person's subjects and levels of education.

    Returns
    -------
    bool
        False if the programme names subjects (levels) and the person teaches
        none of them (works at none of them).
    """
    if item.subjects and not any(s in subjects for s in item.subjects):
        return False
    return not (item.levels and not any(lv in levels for lv in item.levels))


def candidates(
    index: CatalogueIndex,
    role: str,
    subjects: Collection[str],
    levels: Collection[str],
    needs: Sequence[Need],
    idx: Sequence[int],
    allowed: Collection[str] | None = None,
) -> dict[str, list[Program]]:
    """Competency -> the programmes for the role that admit the person (and are
    ``allowed``, when given), for the competencies of the needs ``idx``.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    role : str
        The person's role.
    subjects, levels : collection of str
        The person's subjects and levels.
    needs : sequence of Need
        The person's needs.
    idx : sequence of int
        The programme needs among them.
    allowed : collection of str, optional
        Programme ids with a place for the person (a cohort plan's).

    Returns
    -------
    dict
        Competency -> programmes, in id order.
    """
    by_comp = index.programs_by_role.get(role, {})
    out: dict[str, list[Program]] = {}
    if allowed is None:  # a function of the KB and the person's role, subjects and levels
        memo = index.memo("programmes admitting")
        person = (role, frozenset(subjects), frozenset(levels))
        admitting: dict[str, list[Program]] | None = memo.get(person)
        if admitting is None:
            admitting = index.remember(memo, person, {})
        for i in idx:
            comp = needs[i].competency or ""
            if comp not in out:
                found = admitting.get(comp)
                if found is None:
                    found = [p for p in by_comp.get(comp, ()) if serves(p, subjects, levels)]
                    admitting[comp] = found
                out[comp] = found
        return out
    for i in idx:
        comp = needs[i].competency or ""
        if comp not in out:
            out[comp] = [
                p for p in by_comp.get(comp, ()) if serves(p, subjects, levels) and p.id in allowed
            ]
    return out


def resolve_programmes(
    index: CatalogueIndex,
    role: str,
    prefs: Sequence[str],
    needs: Sequence[Need],
    idx: Sequence[int],
    by_comp: Mapping[str, Sequence[Program]] | None = None,
    period_hours: float | None = None,
    admits: tuple[Collection[str], Collection[str]] | None = None,
    infos: Sequence[NeedInfo] | None = None,
) -> tuple[list[Recommendation], dict[int, str]]:
    """Programmes for the needs ``idx`` (indexes into ``needs``) of a person.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    role : str
        The person's role (a programme's ``audience`` must include it).
    prefs : sequence of str
        The deliveries the profile requests, if any.
    needs : sequence of Need
        The Result's needs; ``idx`` picks the programme needs among them.
    idx : sequence of int
    by_comp : Mapping, optional
        Competency -> the candidate programmes (:func:`candidates`); by default
        every programme for the role.
    period_hours : float, optional
        The hours the person's period holds (:func:`~deficit_engine.period.period_hours`):
        a longer programme is chosen only for needs no programme that fits
        serves. None: no limit.
    admits : tuple, optional
        The person's subjects and levels: the candidates are the programmes for the
        role that admit them (as :func:`candidates` finds them, but memoised per
        need); only without ``by_comp``.
    infos : sequence of NeedInfo, optional
        The needs' :class:`~.needinfo.NeedInfo` (found here when not given).

    Returns
    -------
    tuple
        The recommendations, in the order they were chosen, and need index ->
        why no programme serves it.
    """
    if admits is not None and by_comp is None:
        return _alone(index, role, prefs, needs, idx, period_hours, admits, infos)
    picks, unmet = programme_cover(
        index, role, prefs, needs, idx, by_comp, period_hours, admits, infos
    )
    return programme_recommendations(index, prefs, needs, picks, period_hours), unmet


def _alone(
    index: CatalogueIndex,
    role: str,
    prefs: Sequence[str],
    needs: Sequence[Need],
    idx: Sequence[int],
    period_hours: float | None,
    admits: tuple[Collection[str], Collection[str]],
    infos: Sequence[NeedInfo] | None,
) -> tuple[list[Recommendation], dict[int, str]]:
    """:func:`resolve_programmes` for one person and every programme that admits them
    (what ``resolve`` asks), the cover split where it falls apart.

    The greedy cover is a set of independent covers, one per group of needs that
    share candidates: a candidate's key reads only the needs of its group, so the
    picks of each group come in the order the group's cover alone makes them, and
    since a pick's key only grows round by round, the whole cover's order is every
    pick sorted by its key when picked (keys are unique). Most needs are a group of
    one (no candidate of theirs serves another of the person's needs): its pick and
    recommendation are a function of the need (the object: its rule is printed), its
    candidates, the deliveries asked and the period, remembered per KB
    (:class:`_Lone`); only the other needs are covered here.
    """
    if infos is None:
        infos = infos_of(index, needs)
    subjects, levels = frozenset(admits[0]), frozenset(admits[1])
    table = _person_table(index, role, subjects, levels)
    fits: dict[str, int] = {}
    found: list[tuple[int, tuple[str, ...]]] = []
    unmet: dict[int, str] = {}
    shared = 0  # the needs of groups of more than one: a candidate serves two or more
    why = ("why no programme", role)  # _unmet_reason's key in a need's info
    for i in idx:
        info = infos[i]
        key = info.token
        pids = table.get(key) if key is not None else None
        if pids is None:
            pids = _missing_pids(index, table, role, subjects, levels, needs, i, key)
        if not pids:
            reason = info.lazy.get(why) if key is not None else None
            unmet[i] = _unmet_reason(role, index, needs[i], info) if reason is None else reason
            continue
        found.append((i, pids))
        bit = 1 << i
        for pid in pids:
            mask = fits.get(pid)
            if mask is None:
                fits[pid] = bit
            else:  # the candidate's needs (all of them) are in a group of more than one
                fits[pid] = mask | bit
                shared |= mask | bit
    picked: list[tuple[tuple[int, int, int], Recommendation]] = []
    lone: dict[tuple[int, tuple[str, ...]], _Lone] | None = None
    for i, pids in found:
        if not shared >> i & 1:
            if lone is None:
                lone = _lone_memo(index, prefs, period_hours)
            need = needs[i]
            got = lone.get((id(need), pids))
            if got is None:
                got = _lone(index, prefs, period_hours, need, pids)
                if infos[i].token is not None:  # (an unhashable filter: not kept)
                    if len(lone) >= MEMO_LIMIT:  # afresh when full
                        lone.clear()
                    lone[id(need), pids] = got
            picked.append((got.key, got.rec))
    if shared:
        tail, names = _tails_for(index, prefs)
        too_long = _too_long(index, period_hours)
        rest = {pid: mask for pid, mask in fits.items() if mask & shared}
        picks = list(ranked_cover(rest, too_long, tail, names))
        recs = programme_recommendations(index, prefs, needs, picks, period_hours)
        for (pid, served, _alt), rec in zip(picks, recs, strict=True):
            picked.append(((too_long[pid], -len(served), tail[pid]), rec))
    if len(picked) > 1:
        picked.sort(key=_FIRST)
    return [rec for _key, rec in picked], unmet


class _Lone(NamedTuple):
    """The cover of a need no other need of the person shares a candidate with:
    its pick's key when picked, and its recommendation."""

    need: Need  # held: the memo is keyed by its id
    key: tuple[int, int, int]
    rec: Recommendation


def _lone_memo(
    index: CatalogueIndex, prefs: Sequence[str], period_hours: float | None
) -> dict[tuple[int, tuple[str, ...]], _Lone]:
    """(need id, its candidates) -> :class:`_Lone`, for the deliveries asked and the
    period (a cohort has a few of each)."""
    memos = index.memo("programmes of a lone need")
    hours = None if period_hours is None else repr(period_hours)  # 0.0, -0.0 print apart
    kind = (tuple(prefs), hours)
    lone: dict[tuple[int, tuple[str, ...]], _Lone] | None = memos.get(kind)
    if lone is None:
        lone = index.remember(memos, kind, {})
    return lone


def _lone(
    index: CatalogueIndex,
    prefs: Sequence[str],
    period_hours: float | None,
    need: Need,
    pids: tuple[str, ...],
) -> _Lone:
    """A need's :class:`_Lone`: the cover of this need alone by its candidates ``pids``."""
    tail, names = _tails_for(index, prefs)
    too_long = _too_long(index, period_hours)
    pick = next(ranked_cover(dict.fromkeys(pids, 1), too_long, tail, names))  # the one
    rec = programme_recommendations(index, prefs, [need], [pick], period_hours)[0]
    pid = pick[0]
    return _Lone(need, (too_long[pid], -1, tail[pid]), rec)


#: A picked (key, recommendation)'s key.
_FIRST = operator.itemgetter(0)


def _too_long(index: CatalogueIndex, period_hours: float | None) -> dict[str, int]:
    """Programme id -> 1 when it is longer than ``period_hours`` (None: no limit), else
    0: made once per KB and period."""
    longest = float("inf") if period_hours is None else period_hours
    memo = index.memo("programmes too long")
    too_long: dict[str, int] | None = memo.get(longest)
    if too_long is None:
        too_long = index.remember(
            memo, longest, {pid: int(p.hours > longest) for pid, p in index.program_by_id.items()}
        )
    return too_long


#: A programme the cover chose: its id, the needs it serves (indexes into the
#: person's needs, increasing) and the runner-up (its id and the uncovered needs
#: it covered then), if any.
Pick = tuple[str, list[int], tuple[str, int] | None]


def programme_cover(
    index: CatalogueIndex,
    role: str,
    prefs: Sequence[str],
    needs: Sequence[Need],
    idx: Sequence[int],
    by_comp: Mapping[str, Sequence[Program]] | None = None,
    period_hours: float | None = None,
    admits: tuple[Collection[str], Collection[str]] | None = None,
    infos: Sequence[NeedInfo] | None = None,
    shut: Collection[str] = (),
) -> tuple[list[Pick], dict[int, str]]:
    """The set cover :func:`resolve_programmes` makes, before any recommendation is.

    A cohort plan's passes read only which programmes were chosen (to take their
    places) and which needs are unmet; they make the recommendations of a
    person's last cover only (:func:`programme_recommendations`).

    Parameters
    ----------
    index, role, prefs, needs, idx, by_comp, period_hours, admits, infos
        As for :func:`resolve_programmes`.
    shut : collection of str, optional
        With ``admits``: programme ids left out (a cohort plan's, with no place
        for the person): the candidates are the admitting ones less those.

    Returns
    -------
    tuple
        The picks (:data:`Pick`), in the order they were chosen, and need index
        -> why no programme serves it.
    """
    if infos is None:
        infos = infos_of(index, needs)
    if admits is not None:
        fits = _admitting_fits(index, role, admits, needs, idx, infos)
        if shut:
            fits = {pid: mask for pid, mask in fits.items() if pid not in shut}
    else:
        if by_comp is None:
            by_comp = index.programs_by_role.get(role, {})
        fits = index.fit_masks("program", needs, idx, by_comp)
    covered = 0
    for mask in fits.values():
        covered |= mask
    unmet = {i: _unmet_reason(role, index, needs[i], infos[i]) for i in idx if not covered >> i & 1}
    # Ranking key: (longer than the period, -needs covered, not in a requested
    # delivery, not in ФР ДПП, hours, id); all but the second are fixed for this
    # call. The period comes first: a programme that cannot finish puts the whole
    # route past its period, which no number of needs covered makes up for. The
    # fixed tail is one int per KB and prefs (see _tails_for): the cover is int-keyed.
    # Both parts are read from per-KB tables of every programme: a cohort has a
    # few periods and requested deliveries, and a dozen candidates a person.
    tail, names = _tails_for(index, prefs)
    return list(ranked_cover(fits, _too_long(index, period_hours), tail, names)), unmet


def programme_recommendations(
    index: CatalogueIndex,
    prefs: Sequence[str],
    needs: Sequence[Need],
    picks: Sequence[Pick],
    period_hours: float | None = None,
) -> list[Recommendation]:
    """The recommendations of a cover's picks, in order (see :func:`programme_cover`).

    Parameters
    ----------
    index, prefs, needs, period_hours
        As given to :func:`programme_cover`.
    picks : sequence of Pick
        What it returned.

    Returns
    -------
    list of Recommendation
        As :func:`resolve_programmes` returns them.
    """
    programs = index.program_by_id
    longest = float("inf") if period_hours is None else period_hours
    asked, other = _key_tails(index)

    def key(pid: str, left: int) -> Key:
        p = programs[pid]
        fixed = asked[pid] if not prefs or p.delivery in prefs else other[pid]
        return (1 if p.hours > longest else 0, -left, *fixed)

    # A reason is a function of the pick (its programme, how many needs it serves,
    # their competencies, the runner-up and the needs it covered then), the deliveries
    # asked and the period's hours (by repr: 0.0 and -0.0 are equal but print apart):
    # the ranking keys it compares are made only when it is not found.
    person = (tuple(prefs), repr(longest))
    memo = index.memo("programme reasons")
    recs = []
    for pid, served, alt in picks:
        best = programs[pid]
        served_needs = tuple([needs[i] for i in served])
        comps = index.sort([str(n.competency) for n in served_needs])
        about = (pid, len(served), comps, alt, person)
        reason: str | None = memo.get(about)
        if reason is None:
            mine = key(pid, len(served))
            versus = None if alt is None else (key(*alt), alt[0])
            reason = index.remember(
                memo, about, _reason(index, prefs, mine, best, len(served), comps, versus, longest)
            )
        recs.append(
            Recommendation.of(
                "program",
                best.id,
                best.title,
                comps,
                served_needs,
                reason,
                index.program_text(best)[3],
            )
        )
    return recs


def _tails_for(index: CatalogueIndex, prefs: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Programme id -> the place of its key's tail (:func:`_key_tails`: delivery
    asked or not, ФР ДПП, hours, id) among every programme's, with and without
    its delivery asked for (ints that order as the tails do), for a person who
    asks ``prefs``; and the ids by place. Made once per KB and ``prefs``."""
    memo = index.memo("programme tail places")
    key = tuple(prefs)
    found: tuple[dict[str, int], list[str]] | None = memo.get(key)
    if found is None:
        asked, other = _key_tails(index)
        order = sorted([*asked.values(), *other.values()])
        place = {tail: n for n, tail in enumerate(order)}
        programs = index.program_by_id
        found = index.remember(
            memo,
            key,
            (
                {
                    pid: place[asked[pid] if not prefs or p.delivery in prefs else other[pid]]
                    for pid, p in programs.items()
                },
                [tail[-1] for tail in order],
            ),
        )
    return found


def _key_tails(
    index: CatalogueIndex,
) -> tuple[dict[str, tuple[int, int, float, str]], dict[str, tuple[int, int, float, str]]]:
    """Programme id -> the tail of its ranking key (delivery asked or not, ФР ДПП,
    hours, id), with its delivery asked for and without: made once per KB."""
    memo = index.memo("programme key tails")
    found = memo.get(None)
    if found is None:
        rank = index.program_rank
        found = memo[None] = (
            {pid: (0, *tail) for pid, tail in rank.items()},
            {pid: (1, *tail) for pid, tail in rank.items()},
        )
    return found


def _admitting_fits(
    index: CatalogueIndex,
    role: str,
    admits: tuple[Collection[str], Collection[str]],
    needs: Sequence[Need],
    idx: Sequence[int],
    infos: Sequence[NeedInfo],
) -> dict[str, int]:
    """Programme id -> the needs it can serve (a bitmask over need indexes), among
    the programmes for the role that admit the person.

    Which programmes can serve a need is a function of the role, the person's
    subjects and levels and the need's competency and filters: memoised per KB,
    one table per (role, subjects, levels), keyed by the need's token (an int
    hashes in no time; the filters tuple took most of the lookup).
    """
    subjects, levels = frozenset(admits[0]), frozenset(admits[1])
    table = _person_table(index, role, subjects, levels)
    fits: dict[str, int] = {}
    for i in idx:
        key = infos[i].token
        pids = table.get(key) if key is not None else None
        if pids is None:
            pids = _missing_pids(index, table, role, subjects, levels, needs, i, key)
        bit = 1 << i
        for pid in pids:
            fits[pid] = fits.get(pid, 0) | bit
    return fits


def _person_table(
    index: CatalogueIndex, role: str, subjects: frozenset[str], levels: frozenset[str]
) -> dict[int | None, tuple[str, ...]]:
    """Need token -> the programmes for the role that admit a person with these
    subjects and levels and can serve the need (filled as needs are met).

    One table serves every person whom the same programmes admit: a programme
    open to anyone admits all, so which of the few restricted ones (to some
    subjects or levels) admit the person is what tells tables apart (2,000
    synthetic people: 528 (role, subjects, levels), 171 such (role, set) pairs)."""
    memo = index.memo("programmes per need token")
    person = (role, subjects, levels)
    table: dict[int | None, tuple[str, ...]] | None = memo.get(person)
    if table is None:
        admitted = frozenset(
            [
                p.id
                for p in index.programs
                if (p.subjects or p.levels) and serves(p, subjects, levels)
            ]
        )
        shared = index.memo("programmes per need token, by the restricted admitting")
        table = shared.get((role, admitted))
        if table is None:
            table = index.remember(shared, (role, admitted), {})
        index.remember(memo, person, table)
    return table


def _missing_pids(
    index: CatalogueIndex,
    table: dict[int | None, tuple[str, ...]],
    role: str,
    subjects: frozenset[str],
    levels: frozenset[str],
    needs: Sequence[Need],
    i: int,
    token: int | None,
) -> tuple[str, ...]:
    """The programmes that can serve need ``i``, not found in the person's ``table``:
    found, and kept there under its token (when it has one)."""
    found = candidates(index, role, subjects, levels, needs, (i,))
    pids = tuple(index.fit_masks("program", needs, (i,), found))
    if token is not None and len(table) < MEMO_LIMIT:
        table[token] = pids
    return pids


def _reason(
    index: CatalogueIndex,
    prefs: Sequence[str],
    key: Key,
    best: Program,
    n: int,
    comps: tuple[str, ...],
    alt: tuple[Key, str] | None,
    period_hours: float,
) -> str:
    """A programme recommendation's reason: what it covers, its delivery, ФР ДПП,
    hours, and why it and not the runner-up."""
    delivery, registry, hours, _attrs = index.program_text(best)
    parts = [
        f"Покрывает {n} {plural_ru(n, 'потребность', 'потребности', 'потребностей')}"
        f" ({', '.join(comps)})",
        _delivery_reason(delivery, best, prefs),
        registry,
        hours,
    ]
    if alt is None:
        parts.append("других подходящих программ нет")
    else:
        other = index.program_by_id[alt[1]]
        parts.append(f"выбрана вместо {alt[1]}: " + _versus(best, other, key, alt[0], period_hours))
    return "; ".join(parts) + "."


def _delivery_reason(delivery: str, best: Program, prefs: Sequence[str]) -> str:
    """The reason's part on the programme's delivery (``delivery``: its Russian name)."""
    if not prefs:
        return f"форма обучения {delivery} (предпочтения не указаны)"
    if best.delivery in prefs:
        return f"{delivery} форма обучения соответствует запросу"
    asked = ", ".join(DELIVERY_RU.get(x, x) for x in prefs)
    return (
        f"{delivery} форма не запрошена (запрошена: {asked}); "
        "программ с тем же охватом в запрошенной форме нет"
    )


def _versus(best: Program, alt: Program, best_key: Key, alt_key: Key, period_hours: float) -> str:
    """Why ``best`` beat the runner-up ``alt``: the first part of the key that differs."""
    if best_key[0] != alt_key[0]:
        return (
            f"{alt.id} ({format_hours(alt.hours)} ч) не завершить за период маршрута "
            f"({format_hours(period_hours)} ч)"
        )
    if best_key[1] != alt_key[1]:
        return f"охватывает больше потребностей ({-best_key[1]} против {-alt_key[1]})"
    if best_key[2] != alt_key[2]:
        return f"в запрошенной форме обучения (у {alt.id} — {DELIVERY_RU[alt.delivery]})"
    if best_key[3] != alt_key[3]:
        return f"входит в ФР ДПП, {alt.id} — нет"
    if best_key[4] != alt_key[4]:
        return f"меньше часов ({format_hours(best.hours)} против {format_hours(alt.hours)})"
    return "при равных условиях — по порядку идентификаторов"


def _unmet_reason(role: str, index: CatalogueIndex, need: Need, info: NeedInfo) -> str:
    """Why no programme for the role serves ``need``: memoised by role in the need's
    info (whose signature tells apart filters printed apart, as the reason prints them),
    under ``("why no programme", role)`` (``_alone`` reads it there first)."""
    if info.token is None:
        return _why_no_programme(role, index, need)
    key = ("why no programme", role)
    found: str | None = info.lazy.get(key)
    if found is None:
        found = info.lazy[key] = _why_no_programme(role, index, need)
    return found


def _why_no_programme(role: str, index: CatalogueIndex, need: Need) -> str:
    covering = index.programs_by_comp.get(need.competency, [])  # type: ignore[arg-type]
    if not covering:
        return "в каталоге нет программы, покрывающей компетенцию"
    for_role = [p for p in covering if role in p.audience]
    if not for_role:
        ids = ", ".join(p.id for p in covering)
        return (
            f"программы по компетенции есть ({ids}), но ни одна не предназначена "
            f"для роли «{ROLE_RU.get(role, role)}»"
        )
    passing = [p for p in for_role if mismatch(program_attrs(p), need) is None]
    if passing:  # they pass the need's filters, but not the person's subjects or levels
        return _restricted_reason(passing)
    reasons = []
    for p in for_role:
        bad = mismatch(program_attrs(p), need)
        assert bad is not None
        reasons.append(f"{p.id}: {mismatch_text(*bad, 'программы')}")
    return "ни одна программа по компетенции не удовлетворяет условиям потребности (" + (
        "; ".join(reasons) + ")"
    )


def _restricted_reason(programs: Sequence[Program]) -> str:
    """Why programmes that cover a need do not admit the person: subjects or levels."""
    parts = []
    for p in programs:
        if p.subjects:
            parts.append(
                f"{p.id} — для учителей: {', '.join(SUBJECT_RU.get(s, s) for s in p.subjects)}"
            )
        else:
            parts.append(
                f"{p.id} — для уровней: {', '.join(EDU_LEVEL_RU.get(v, v) for v in p.levels)}"
            )
    return (
        "программы по компетенции есть, но не для предметов или уровня образования педагога ("
        + "; ".join(parts)
        + ")"
    )
