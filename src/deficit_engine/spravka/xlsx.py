"""The справка as an XLSX workbook: one sheet per table, numbers as numbers.

Counts and hours are numeric cells; percents are fractions with a ``0.0%``
number format (20.5 % is stored as 0.205, as Excel itself stores them), so that
a methodologist can sort, sum and chart them. The header row is frozen on
every sheet and the table's full title is in the sheet's first row.
"""

from __future__ import annotations

import io
import re

from .layout import Table

__all__ = ["render_xlsx"]

#: Excel forbids these in a sheet's name and allows 31 characters.
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_MAX = 31
PERCENT_FORMAT = "0.0%"
POINTS_FORMAT = "+0.0;-0.0;0.0"
#: Short sheet names by table key (a table's title is in its sheet's first row).
SHEET_NAMES: dict[str, str] = {
    "against": "Было – стало",
    "overview": "Общие сведения",
    "prevalence": "По компетенциям",
    "groups": "По группам",
    "severity": "По степени",
    "municipalities": "По муниципалитетам",
    "heatmap": "Муниципалитет × группа",
    "municipality_competency": "Муниципалитет × компетенция",
    "by_organization": "По организациям",
    "by_role": "По должностям",
    "by_experience": "По стажу",
    "programme_demand": "Спрос на ДПП",
    "catalogue_request": "Запрос на новые ДПП",
    "unmet": "Неудовлетворённые потребности",
    "mentor_load": "Нагрузка наставников",
    "capacity_shortfalls": "Нехватка мест",
    "team_support": "Командное наставничество",
    "overflow": "Выход за период",
}


def render_xlsx(tables: list[Table]) -> bytes:
    """The tables as an XLSX file's bytes (written whole by the caller).

    Parameters
    ----------
    tables : list of Table
        The справка's parts, one sheet each, in order.

    Returns
    -------
    bytes
        The workbook.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.worksheets[0])  # the default sheet: each table makes its own
    used: set[str] = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_name(SHEET_NAMES.get(table.key, table.title), used))
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append([c.title for c in table.columns])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
        for n, column in enumerate(table.columns, start=1):
            if column.kind in ("pct", "pp"):
                fmt = PERCENT_FORMAT if column.kind == "pct" else POINTS_FORMAT
                for (cell,) in sheet.iter_rows(min_row=3, min_col=n, max_col=n):
                    cell.number_format = fmt
        sheet.freeze_panes = "A3"  # the title and the header stay in view
        if table.note:
            sheet.cell(row=sheet.max_row + 2, column=1, value=table.note)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _value(value: object, kind: str) -> object:
    """A cell's value: a percent as the fraction Excel's percent format shows."""
    if kind == "pct" and isinstance(value, int | float) and not isinstance(value, bool):
        return value / 100
    return value


def _sheet_name(title: str, used: set[str]) -> str:
    """A sheet name from a table's title: Excel's characters and length, unique."""
    base = _BAD_SHEET_CHARS.sub(" ", title).split(":")[0].strip()[:SHEET_NAME_MAX].strip()
    name, n = base or "Таблица", 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: SHEET_NAME_MAX - len(suffix)].rstrip() + suffix, n + 1
    used.add(name.lower())
    return name
