"""The аналитическая справка of a batch: ``deficit-engine report`` in every format.

A batch's ``summary.json`` (and ``schools.json`` of a planned run) are read with
the KB's titles into :class:`Table` parts (:func:`build_tables`): prevalence by
competency, group, municipality (a heat map), organisation, role and experience
band, the severities, programme demand with study groups, the request for new
ДПП, the unmet needs, mentor load after allocation, capacity shortfalls, the
schools flagged for team support and the routes over their period. The text,
JSON, HTML and XLSX formats draw the same tables. ``against`` compares two runs
of one cohort (:func:`compare`); ``effectiveness`` adds what the routes of a
stored run achieved (:func:`effectiveness_tables`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compare import compare
from .effectiveness import effectiveness_tables
from .html import render_html
from .layout import DEFAULT_GROUP_SIZE, Column, Table, build_tables, group_size
from .sections import plan_sections
from .text import render_report
from .xlsx import render_xlsx

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

__all__ = [
    "DEFAULT_GROUP_SIZE",
    "FORMATS",
    "Column",
    "Spravka",
    "Table",
    "build_tables",
    "compare",
    "effectiveness_tables",
    "group_size",
    "make_spravka",
    "plan_sections",
    "render_html",
    "render_report",
    "render_xlsx",
]

#: The report's formats: xlsx is binary and goes to a file (``-o``).
FORMATS: tuple[str, ...] = ("table", "json", "html", "xlsx")
TITLE = "Аналитическая справка по результатам диагностики профессиональных дефицитов"


@dataclass
class Spravka:
    """A batch's справка: its summary, the plan's sections and the tables."""

    summary: dict[str, Any]
    kb: KnowledgeBase | None
    sections: dict[str, Any]
    tables: list[Table]

    def render(self, fmt: str, top: int) -> str | bytes:
        """The справка in one of :data:`FORMATS`.

        Parameters
        ----------
        fmt : str
            ``table``, ``json``, ``html`` or ``xlsx``.
        top : int
            Rows per ranking of the table format (the others show every row).

        Returns
        -------
        str or bytes
            Text, or the XLSX file's bytes.

        Raises
        ------
        ValueError
            If ``fmt`` is not one of :data:`FORMATS`.
        """
        if fmt == "table":
            return render_report(self.summary, top, self.kb, self.sections, self.tables) + "\n"
        if fmt == "json":
            report = {**self.sections, "tables": [t.to_dict() for t in self.tables]}
            return (
                json.dumps({**self.summary, "report": report}, ensure_ascii=False, indent=2) + "\n"
            )
        if fmt == "html":
            return render_html(self.tables, TITLE, _subtitle(self.summary))
        if fmt == "xlsx":
            return render_xlsx(self.tables)
        raise ValueError(f"unknown report format {fmt!r}; expected one of {', '.join(FORMATS)}")


def make_spravka(
    summary: dict[str, Any],
    kb: KnowledgeBase | None,
    schools: dict[str, Any] | None = None,
    against: dict[str, Any] | None = None,
    effectiveness: dict[str, Any] | None = None,
) -> Spravka:
    """The справка of a batch's output.

    Parameters
    ----------
    summary : dict
        summary.json of the batch (of any version: parts it lacks are left out).
    kb : KnowledgeBase, optional
        The KB the batch used: titles, group sizes, mentors.
    schools : dict, optional
        schools.json of a planned batch.
    against : dict, optional
        summary.json of an earlier run of the same cohort: the before/after table
        comes first.
    effectiveness : dict, optional
        What the routes of a stored run achieved by the next one
        (``deficit_engine.store.Effectiveness.to_dict()``): its two tables come last.

    Returns
    -------
    Spravka
        Ready to render.
    """
    sections = plan_sections(summary, kb, schools)
    tables = build_tables(summary, kb, sections)
    if against is not None:
        tables.insert(0, compare(summary, against, kb))
    if effectiveness is not None:
        tables.extend(effectiveness_tables(effectiveness))
    return Spravka(summary, kb, sections, tables)


def _subtitle(summary: dict[str, Any]) -> str:
    return (
        f"Профилей: {summary.get('profiles')}; оценено: {summary.get('evaluated')}; "
        f"отложено с ошибками: {summary.get('set_aside')}"
    )
