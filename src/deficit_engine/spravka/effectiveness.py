"""The справка's effectiveness section: what the routes of a stored run achieved.

It draws the figures ``deficit_engine.store`` computes from two stored runs
(:meth:`Store.effectiveness`, as ``Effectiveness.to_dict()``) as two tables: per
programme, format and mentor, the targeted deficits closed among those who
completed the step against those who did not; per municipality and
organisation, the teachers who improved. Counts stand beside every percent, so
that a share of a handful of people reads as what it is.
"""

from __future__ import annotations

from typing import Any

from .layout import Column, Table

__all__ = ["effectiveness_tables"]

#: The step kinds the section judges, as the справка names them.
KIND_TITLES = {"program": "программа ДПП", "format": "формат", "mentoring": "наставник"}
BY_TITLES = {"municipality": "муниципалитет", "organization": "организация"}


def effectiveness_tables(figures: dict[str, Any]) -> list[Table]:
    """The section's two tables.

    Parameters
    ----------
    figures : dict
        ``Effectiveness.to_dict()``: the runs, ``steps`` and ``places``.

    Returns
    -------
    list of Table
        ``effectiveness_steps`` and ``effectiveness_places``.
    """
    runs = f"«{figures.get('earlier')}» → «{figures.get('later')}»"
    return [_steps(figures, runs), _places(figures, runs)]


def _steps(figures: dict[str, Any], runs: str) -> Table:
    rows = [
        [
            KIND_TITLES.get(str(s["kind"]), str(s["kind"])),
            str(s["title"]),
            s["done"]["targeted"],
            s["done"]["closed"],
            s["done"]["share"],
            s["not_done"]["targeted"],
            s["not_done"]["closed"],
            s["not_done"]["share"],
        ]
        for s in figures.get("steps", [])
    ]
    return Table(
        "effectiveness_steps",
        f"Закрытие дефицитов при повторной диагностике, {runs}",
        [
            Column("вид"),
            Column("программа, формат, наставник"),
            Column("выполнили: дефицитов", "int"),
            Column("выполнили: закрыто", "int"),
            Column("выполнили: %", "pct"),
            Column("не выполнили: дефицитов", "int"),
            Column("не выполнили: закрыто", "int"),
            Column("не выполнили: %", "pct"),
        ],
        rows,
        note=(
            f"Педагогов в обеих диагностиках: {figures.get('persons', 0)}. Дефицит — "
            "дефицит первой диагностики по компетенции, над которой работает шаг; закрыт, "
            "если при повторной диагностике его нет. «Выполнили» — шаг отмечен как "
            "выполненный. При малых числах доли неустойчивы: смотрите на счёт."
        ),
    )


def _places(figures: dict[str, Any], runs: str) -> Table:
    rows = [
        [
            BY_TITLES.get(str(p["by"]), str(p["by"])),
            str(p["name"]),
            p["persons"],
            p["improved"],
            p["share"],
        ]
        for p in figures.get("places", [])
    ]
    return Table(
        "effectiveness_places",
        f"Доля педагогов с улучшением, {runs}",
        [
            Column("разрез"),
            Column("название"),
            Column("педагогов", "int"),
            Column("улучшили", "int"),
            Column("%", "pct"),
        ],
        rows,
        note=(
            "Улучшение — хотя бы один дефицит закрыт или стал менее выраженным, и ни один "
            "не появился и не стал более выраженным. Учтены педагоги обеих диагностик."
        ),
    )
