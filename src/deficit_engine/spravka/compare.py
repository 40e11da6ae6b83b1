"""Two diagnoses of one cohort side by side: prevalence before and after (``--against``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .layout import Column, Table
from .sections import _competency_title, _pct, _rows

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

__all__ = ["compare"]


def compare(new: dict[str, Any], old: dict[str, Any], kb: KnowledgeBase | None) -> Table:
    """The change in deficit prevalence, competency by competency, from ``old`` to ``new``.

    Prevalence is the share of the people assessed in each run who have a deficit
    in the competency; the change is in percentage points (negative: fewer people
    with the deficit). The first row is any deficit at all.

    Parameters
    ----------
    new : dict
        summary.json of the later run.
    old : dict
        summary.json of the earlier run of the same cohort.
    kb : KnowledgeBase, optional
        Titles, and the order of the competencies (ids alone, sorted, without it).

    Returns
    -------
    Table
        Columns: the competency, people and percent before, after, and the change.
    """
    before_n, after_n = _assessed(old), _assessed(new)
    before = {str(c): int(n) for c, n in _rows(old, "deficit_prevalence")}
    after = {str(c): int(n) for c, n in _rows(new, "deficit_prevalence")}
    rows = [_row("Любой дефицит", _any(old), _any(new), before_n, after_n)]
    for ref in _order(kb, {*before, *after}):
        title = _competency_title(kb, ref) or ref
        rows.append(_row(title, before.get(ref, 0), after.get(ref, 0), before_n, after_n))
    note = "Изменение — в процентных пунктах; отрицательное — дефицит встречается реже."
    if before_n != after_n:
        note += f" Оценено в прошлом прогоне {before_n}, в этом {after_n}: состав когорты разный."
    return Table(
        "against",
        "Изменение распространённости дефицитов между двумя диагностиками",
        [
            Column("компетенция"),
            Column("было: педагогов", "int"),
            Column("было: %", "pct"),
            Column("стало: педагогов", "int"),
            Column("стало: %", "pct"),
            Column("изменение, п. п.", "pp"),
        ],
        rows,
        note=note,
        chart=(0, 5),
    )


def _assessed(summary: dict[str, Any]) -> int:
    value = summary.get("evaluated")
    return value if isinstance(value, int) else 0


def _any(summary: dict[str, Any]) -> int:
    """People with any deficit (an older summary: summed over its municipalities)."""
    value = summary.get("with_deficit")
    if isinstance(value, int):
        return value
    return sum(int(r[2]) for r in _rows(summary, "municipalities") if len(r) == 3)


def _row(title: str, before: int, after: int, before_n: int, after_n: int) -> list[Any]:
    was, now = _pct(before, before_n), _pct(after, after_n)
    change = round(now - was, 1) if was is not None and now is not None else None
    return [title, before, was, after, now, change]


def _order(kb: KnowledgeBase | None, refs: set[str]) -> list[str]:
    known = [c for c in (kb.ontology.competencies if kb else {}) if c in refs]
    return known + sorted(refs - set(known))
