"""The справка as one self-contained HTML file: tables, bar charts in inline SVG and a
heat map, with no script, font or image from the network (a ministry's machine may
have none). Built with the standard library's escaping: the page is a handful of
repeated elements, not worth a template engine as a dependency.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .layout import Table
from .text import _value_text

__all__ = ["render_html"]

#: Bars a chart draws at most (its table lists every row).
CHART_BARS = 15
BAR_WIDTH, LABEL_WIDTH, BAR_HEIGHT = 360, 330, 18

STYLE = """
body { font-family: "PT Sans", "Segoe UI", Arial, sans-serif; margin: 2em; color: #1b1b1b; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #c8c8c8; padding: 0.2em 0.5em; vertical-align: top; }
th { background: #eef1f5; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
p.note { color: #555; font-size: 0.85em; }
svg.chart text { font-size: 12px; }
@media print { h2 { break-after: avoid; } table, svg { break-inside: avoid; } }
"""


def render_html(tables: list[Table], title: str, subtitle: str = "") -> str:
    """The справка's tables as one HTML page.

    Parameters
    ----------
    tables : list of Table
        The parts, in order (:func:`~deficit_engine.spravka.build_tables`).
    title : str
        The page's heading.
    subtitle : str
        A line under it (the run's figures).

    Returns
    -------
    str
        The page, UTF-8 text with everything inline.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ru"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="subtitle">{escape(subtitle)}</p>')
    for table in tables:
        parts.extend(_section(table))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(table: Table) -> list[str]:
    out = [f'<section id="{escape(table.key)}">', f"<h2>{escape(table.title)}</h2>"]
    if table.chart is not None and table.rows:
        out.append(_chart(table))
    out.append(_table(table))
    if table.note:
        out.append(f'<p class="note">{escape(table.note)}</p>')
    return [*out, "</section>"]


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c.title)}</th>" for c in table.columns)
    span = _heat_span(table) if table.heat else (0.0, 0.0)
    body = []
    for row in table.rows:
        cells = "".join(
            _cell(v, c.kind, table.heat, span) for v, c in zip(row, table.columns, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(table.columns)}">нет данных</td></tr>')
    kind = ' class="heatmap"' if table.heat else ""
    return (
        f'<table data-key="{escape(table.key)}"{kind}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(value: Any, kind: str, heat: bool, span: tuple[float, float]) -> str:
    text = escape(_value_text(value, kind))
    if kind == "text":
        return f"<td>{text}</td>"
    if heat and kind == "pct" and isinstance(value, int | float):
        # the darker, the larger the share, from the table's smallest to its largest
        low, high = span
        alpha = 0.08 + 0.8 * (value - low) / (high - low) if high > low else 0.5
        style = f"background: rgba(192, 57, 43, {alpha:.2f})"
        return f'<td class="num heat" data-value="{value}" style="{style}">{text}</td>'
    return f'<td class="num">{text}</td>'


def _heat_span(table: Table) -> tuple[float, float]:
    values = [
        v
        for row in table.rows
        for v, c in zip(row, table.columns, strict=True)
        if c.kind == "pct" and isinstance(v, int | float)
    ]
    return min(values, default=0.0), max(values, default=0.0)


def _chart(table: Table) -> str:
    """A horizontal bar chart of the table's (label, value) columns, first rows first."""
    assert table.chart is not None  # checked by the caller
    label_at, value_at = table.chart
    kind = table.columns[value_at].kind
    bars = [
        (str(r[label_at]), float(r[value_at]))
        for r in table.rows[:CHART_BARS]
        if isinstance(r[value_at], int | float)
    ]
    scale = max((abs(v) for _l, v in bars), default=0.0) or 1.0
    height = BAR_HEIGHT * len(bars) + 4
    width = LABEL_WIDTH + BAR_WIDTH + 80
    out = [
        f'<svg class="chart" data-key="{escape(table.key)}" role="img" '
        f'width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(table.title)}</title>'
    ]
    for n, (label, value) in enumerate(bars):
        y = n * BAR_HEIGHT + 2
        length = BAR_WIDTH * abs(value) / scale
        colour = "#2e7d32" if value < 0 else "#1f5fa8"
        short = label if len(label) <= 42 else label[:41] + "…"
        out.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{length:.1f}" height="{BAR_HEIGHT - 5}" '
            f'fill="{colour}" data-value="{value}"><title>{escape(label)}</title></rect>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 13}">'
            f"{escape(_value_text(value, kind))}</text>"
        )
    out.append("</svg>")
    return "".join(out)
