"""Formats (forms of work) for a person's format needs.

A need names a format by id (``format=...``), or asks for any format passing
its other filters (education, phase); a format need may name no competency.
Needs that name a format are served first, so that a filter-only need can reuse
a format already chosen; otherwise it gets the best format by (phase, hours, id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..catalogue import (
    CatalogueIndex,
    Filtered,
    filters_text,
    format_attrs,
    mismatch,
    mismatch_text,
)
from ..labels import PHASE_ORDER, plural_ru
from ..models import Need, Recommendation

__all__ = ["resolve_formats"]

_NAMED = "названа правилом"


@dataclass
class _Choice:
    """The formats chosen so far: format id -> the needs it serves (indexes) and how
    it was chosen for them; need index -> why no format serves it."""

    chosen: dict[str, list[int]] = field(default_factory=dict)
    how: dict[str, set[str]] = field(default_factory=dict)
    unmet: dict[int, str] = field(default_factory=dict)

    def add(self, fid: str, i: int, how: str) -> None:
        self.chosen.setdefault(fid, []).append(i)
        self.how.setdefault(fid, set()).add(how)


def resolve_formats(
    index: CatalogueIndex, needs: Sequence[Need], idx: Sequence[int]
) -> tuple[list[Recommendation], dict[int, str]]:
    """Formats for the needs ``idx`` (indexes into ``needs``) of a person.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    needs : sequence of Need
        The Result's needs; ``idx`` picks the format needs among them.
    idx : sequence of int

    Returns
    -------
    tuple
        The recommendations, by (phase, id), and need index -> why no format
        serves it.
    """
    choice = _Choice()
    selected = {i: index.filtered("format", needs[i]) for i in idx}
    for i in idx:
        if selected[i].named is not None:
            _serve_named(index, needs[i], i, selected[i], choice)
    for i in idx:
        if selected[i].named is None:
            _serve_by_filters(index, needs[i], i, selected[i].passing, choice)
    formats = index.format_by_id
    order = sorted(choice.chosen, key=lambda f: (PHASE_ORDER.get(formats[f].phase, 9), f))
    recs = [_recommendation(index, needs, fid, choice) for fid in order]
    return recs, choice.unmet


def _serve_named(
    index: CatalogueIndex, need: Need, i: int, selected: Filtered, choice: _Choice
) -> None:
    """A need naming a format: that format, if the catalogue has it and it passes
    the need's other filters."""
    name = selected.named
    if type(name) is not str:  # a memoised equal value of another type: see filtered()
        name = need.get("format")
    fmt = index.format_by_id.get(str(name))
    if fmt is None:
        choice.unmet[i] = f"в каталоге нет формы работы «{name}»"
    elif fmt.id not in selected.passing:
        bad = mismatch(format_attrs(fmt), need)
        assert bad is not None
        choice.unmet[i] = f"форма работы «{fmt.id}»: " + mismatch_text(*bad, "формы работы")
    else:
        choice.add(fmt.id, i, _NAMED)


def _serve_by_filters(
    index: CatalogueIndex, need: Need, i: int, passing: frozenset[str], choice: _Choice
) -> None:
    """A need naming no format: the best passing format already chosen for an
    earlier need, else the best passing one overall."""
    cands = [f for f in index.formats_ranked if f.id in passing]
    if not cands:
        choice.unmet[i] = (
            "в каталоге нет формы работы, удовлетворяющей условиям потребности"
            f" ({filters_text(need.filters) or 'условий нет'})"
        )
        return
    best = next((f for f in cands if f.id in choice.chosen), cands[0])
    ids = ", ".join(f.id for f in index.formats if f.id in passing)
    choice.add(
        best.id,
        i,
        f"подобрана по условиям ({filters_text(need.filters) or 'без условий'})"
        f" из {len(cands)} подходящих ({ids})",
    )


def _recommendation(
    index: CatalogueIndex, needs: Sequence[Need], fid: str, choice: _Choice
) -> Recommendation:
    fmt = index.format_by_id[fid]
    served = sorted(choice.chosen[fid])
    comps = index.sort([str(needs[i].competency) for i in served if needs[i].competency])
    line, hours, attrs = index.format_text(fmt)
    parts = [f"Форма работы {'; '.join(sorted(choice.how[fid]))}", line]
    if len(comps) > 1:
        n = len(comps)
        many = plural_ru(n, "компетенции", "компетенций", "компетенций")
        parts.append(f"{hours} ч по каждой из {n} {many}")
    elif comps:
        parts.append(f"{hours} ч по компетенции {comps[0]}")
    if None in [needs[i].competency for i in served]:
        parts.append(f"{hours} ч — общий шаг маршрута")
    return Recommendation(
        kind="format",
        id=fmt.id,
        title=fmt.title,
        competencies=comps,
        needs=tuple([needs[i] for i in served]),
        reason="; ".join(parts) + ".",
        attrs=attrs,
    )
