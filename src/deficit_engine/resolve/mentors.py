"""Mentors for a person's mentor needs.

A candidate has the need's competency among their strengths, the need's form
among their forms, and a free place. Ranking: same municipality first, then
more of the person's needs served, then id. One mentor serves all of one
person's mentor needs they qualify for and counts that person once against
their capacity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..catalogue import CatalogueIndex, mismatch, mismatch_text
from ..labels import FORM_RU
from ..models import Need, Recommendation
from ..schema import Mentor
from .cover import Key, greedy_cover

__all__ = ["resolve_mentors"]


def resolve_mentors(
    index: CatalogueIndex,
    municipality: str | None,
    needs: Sequence[Need],
    idx: Sequence[int],
    load: Mapping[str, int],
) -> tuple[list[Recommendation], dict[int, str]]:
    """Mentors for the needs ``idx`` (indexes into ``needs``) of a person.

    Parameters
    ----------
    index : CatalogueIndex
        The KB's catalogue index.
    municipality : str or None
        The person's municipality (a mentor there ranks first).
    needs : sequence of Need
        The Result's needs; ``idx`` picks the mentor needs among them.
    idx : sequence of int
    load : Mapping
        Mentor id -> mentees already taken (lowers the free places).

    Returns
    -------
    tuple
        The recommendations, in the order they were chosen, and need index ->
        why no mentor serves it.
    """
    free = {m.id: m.capacity - load.get(m.id, 0) for m in index.mentors} if load else index.capacity
    fits = index.fits("mentor", needs, idx, index.mentors_by_strength, free)
    covered: set[int] = set().union(*fits.values()) if fits else set()
    unmet = {i: _unmet_reason(index, needs[i]) for i in idx if i not in covered}
    # Ranking key: (not in the person's municipality, -needs served, id). A
    # mentor, once chosen, has no uncovered need left: the person counts once.
    mentors = index.mentor_by_id
    local = {mid: 0 if mentors[mid].municipality == municipality else 1 for mid in fits}
    return [
        _recommendation(index, municipality, needs, free, key, mentors[mid], sorted(served), alt)
        for key, mid, served, alt in greedy_cover(fits, lambda mid, left: (local[mid], -left, mid))
    ], unmet


def _recommendation(
    index: CatalogueIndex,
    municipality: str | None,
    needs: Sequence[Need],
    free: Mapping[str, int],
    key: Key,
    best: Mentor,
    served: list[int],
    alt: tuple[Key, str] | None,
) -> Recommendation:
    comps = index.sort([str(needs[i].competency) for i in served])
    forms = tuple(dict.fromkeys(str(f) for f in [needs[i].get("form") for i in served] if f))
    parts = [
        _head(comps, forms),
        _municipality_reason(best, municipality),
        f"свободных мест: {free[best.id]} из {best.capacity}",
    ]
    if alt is not None:
        parts.append(f"предпочтён {alt[1]}: {_versus(index, key, alt)}")
    return Recommendation(
        kind="mentor",
        id=best.id,
        title=best.name,
        competencies=comps,
        needs=tuple([needs[i] for i in served]),
        reason="; ".join(parts) + ".",
        attrs=(
            ("forms", forms),
            ("municipality", best.municipality),
            ("organization", best.organization),
            ("capacity", best.capacity),
            ("free", free[best.id]),
        ),
    )


def _head(comps: Sequence[str], forms: Sequence[str]) -> str:
    """The reason's first part: the competencies served and the forms asked for."""
    n = len(comps)
    head = (
        f"Наставник по компетенции {comps[0]}"
        if n == 1
        else f"Наставник по {n} компетенциям ({', '.join(comps)})"
    )
    if forms:
        head += " в форме " + ", ".join(f"«{FORM_RU.get(f, f)}»" for f in forms)
    return head


def _municipality_reason(best: Mentor, municipality: str | None) -> str:
    if municipality is None:
        return (
            f"муниципалитет педагога не указан; наставник из муниципалитета «{best.municipality}»"
        )
    if best.municipality == municipality:
        return f"тот же муниципалитет («{best.municipality}»)"
    return (
        f"в муниципалитете педагога («{municipality}») подходящего наставника со "
        f"свободными местами нет; наставник из муниципалитета «{best.municipality}»"
    )


def _versus(index: CatalogueIndex, key: Key, alt: tuple[Key, str]) -> str:
    """Why the chosen mentor (ranked by ``key``) beat the runner-up ``alt``."""
    alt_key, other = alt
    if alt_key[0] != key[0]:
        return f"{other} — из другого муниципалитета («{index.mentor_by_id[other].municipality}»)"
    if alt_key[1] != key[1]:
        return f"охватывает больше потребностей ({-key[1]} против {-alt_key[1]})"
    return "при равных условиях — по порядку идентификаторов"


def _unmet_reason(index: CatalogueIndex, need: Need) -> str:
    """Why no mentor serves ``need`` (it has no candidate with a free place)."""
    strong = index.mentors_by_strength.get(need.competency, [])  # type: ignore[arg-type]
    if not strong:
        return "в пуле нет наставника с этой компетенцией"
    attrs = index.mentor_attrs
    fitting = [m for m in strong if mismatch(attrs[m.id], need) is None]
    if fitting:
        ids = ", ".join(m.id for m in fitting)
        return f"у подходящих наставников ({ids}) нет свободных мест"
    ids = ", ".join(m.id for m in strong)
    form = need.get("form")
    if form is not None and all(form not in m.forms for m in strong):
        return (
            f"наставники по компетенции есть ({ids}), но ни один не работает "
            f"в форме «{FORM_RU.get(str(form), form)}»"
        )
    bad = mismatch(attrs[strong[0].id], need)
    text = mismatch_text(*bad, "наставничества") if bad else ""
    return f"наставники по компетенции есть ({ids}), но {text}"
