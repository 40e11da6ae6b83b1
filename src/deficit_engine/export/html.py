"""The ИОМ document as one self-contained HTML page, printable on A4 landscape."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..loader import KnowledgeBase
from ..models import Result
from ..schema import Profile
from .document import (
    BLANK,
    COLUMNS,
    SCHEDULE_COLUMNS,
    Document,
    build_document,
    month_label,
    months_label,
    schedule_rows,
)

__all__ = ["render_html"]

_MONTH_SHORT = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")

_CSS = """
@page { size: A4 landscape; margin: 10mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Liberation Sans", Arial, "DejaVu Sans", sans-serif; font-size: 9pt;
       color: #111; margin: 0 auto; max-width: 277mm; padding: 6mm 0; }
h1 { font-size: 14pt; text-align: center; margin: 0 0 4mm; }
h2 { font-size: 11pt; margin: 5mm 0 2mm; break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.6pt solid #555; padding: 1.2mm 1.5mm; vertical-align: top; text-align: left; }
th { background: #e8eef5; font-weight: bold; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.header { table-layout: fixed; }
.header th { width: 18%; background: #f3f5f8; font-weight: normal; color: #333; }
.header td { width: 32%; }
.group td { background: #f3f5f8; font-weight: bold; }
.route { table-layout: fixed; font-size: 8pt; }
@media print { .route { font-size: 7.5pt; } }
.route col.c1 { width: 11%; } .route col.c2 { width: 11%; } .route col.c3 { width: 13%; }
.route col.c4 { width: 17%; } .route col.c5 { width: 9%; } .route col.c6 { width: 9%; }
.route col.c7 { width: 10%; } .route col.c8 { width: 10%; } .route col.c9 { width: 10%; }
.route td { overflow-wrap: break-word; hyphens: auto; }
.route tbody.topic { break-inside: auto; }
.step-id { color: #555; font-size: 7pt; }
.muted { color: #666; font-size: 7.5pt; }
.note { border: 1pt solid #b45309; background: #fff7ed; padding: 2mm 3mm; margin: 2mm 0; }
.gantt { table-layout: fixed; font-size: 7pt; }
.gantt th, .gantt td { padding: 0.6mm 0.8mm; text-align: center; }
.gantt td.name { text-align: left; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.gantt td.on { background: #9cc3e6; }
.gantt td.on.over { background: #f4a6a6; }
.gantt th.over { background: #fde2e2; }
.gantt col.name { width: 62mm; }
.redo td { height: 8mm; }
.signatures { margin-top: 4mm; line-height: 2.1; break-inside: avoid; page-break-inside: avoid; }
"""


def _e(value: str | Sequence[str]) -> str:
    parts = [value] if isinstance(value, str) else list(value)
    return "<br>".join(escape(p) for p in parts)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str | Sequence[str]]], cls: str = ""
) -> list[str]:
    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}>", "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return out


def _route(doc: Document) -> list[str]:
    out = ['<table class="route">', "<colgroup>"]
    out += [f'<col class="c{i}">' for i in range(1, len(COLUMNS) + 1)]
    out += ["</colgroup>", "<thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)]
    out.append("</tr></thead>")
    for row in doc.rows:
        n = max(1, len(row.steps))
        out.append('<tbody class="topic">')
        for i in range(n):
            cells = []
            if i == 0:
                span = f' rowspan="{n}"' if n > 1 else ""
                topic = f"<b>{escape(row.topic[0])}</b>"
                if len(row.topic) > 1:
                    topic += '<br><span class="muted">' + _e(row.topic[1:]) + "</span>"
                cells.append(f"<td{span}>{topic}</td>")
                cells.append(f"<td{span}>{_e(row.tasks)}</td>")
                cells.append(f'<td{span}><span class="muted">{_e(row.content)}</span></td>')
            if not row.steps:
                cells += ["<td>—</td>"] * 6
            else:
                s = row.steps[i]
                cells.append(
                    f'<td><span class="step-id">{escape(s.step)}</span> {_e(s.forms)}</td>'
                )
                cells += [
                    f"<td>{_e(v)}</td>"
                    for v in (s.education, s.period, s.responsible, s.result, s.report)
                ]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody>")
    out.append("</table>")
    return out


def _gantt(doc: Document) -> list[str]:
    months = doc.months
    end = doc.period[1]
    out = ['<table class="gantt">', '<colgroup><col class="name">']
    out += ["<col>"] * len(months)
    out.append("</colgroup><thead><tr><th>Шаг</th>")
    for m in months:
        over = ' class="over"' if m > end else ""
        label = f"{_MONTH_SHORT[int(m[5:]) - 1]}<br>{m[2:4]}"
        out.append(f'<th{over} title="{escape(month_label(m))}">{label}</th>')
    out.append("</tr></thead><tbody>")
    for s in doc.schedule:
        name = f"{s['id']} · {s['title']}"
        row = [f'<tr><td class="name" title="{escape(name)}">{escape(name)}</td>']
        for m in months:
            hours = s["allocation"].get(m)
            if hours:
                over = " over" if m > end else ""
                h = f"{hours:g}".replace(".", ",")
                row.append(f'<td class="on{over}">{h}</td>')
            else:
                row.append("<td></td>")
        out.append("".join(row) + "</tr>")
    out.append("</tbody></table>")
    return out


def document_html(doc: Document) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="ru">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(doc.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(doc.title)}</h1>",
        '<table class="header"><tbody>',
    ]
    pairs = list(doc.header)
    for i in range(0, len(pairs), 2):
        left = pairs[i]
        cells = f"<th>{escape(left[0])}</th>"
        if i + 1 < len(pairs):
            right = pairs[i + 1]
            cells += f"<td>{escape(left[1])}</td><th>{escape(right[0])}</th>"
            cells += f"<td>{escape(right[1])}</td>"
        else:
            cells += f'<td colspan="3">{escape(left[1])}</td>'
        out.append(f"<tr>{cells}</tr>")
    out += ["</tbody></table>", "<h2>1. Результаты диагностики</h2>"]
    if doc.summary:
        out += [
            "<table>",
            "<thead><tr><th>Группа компетенций / компетенция</th><th>Результат</th>"
            "<th>Уровень</th><th>Дефицит</th></tr></thead><tbody>",
        ]
        for name, pct, level, deficit, group in doc.summary:
            cls = ' class="group"' if group else ""
            out.append(
                f"<tr{cls}><td>{escape(name)}</td><td>{escape(pct)}</td>"
                f"<td>{escape(level)}</td><td>{escape(deficit)}</td></tr>"
            )
        out.append("</tbody></table>")
    else:
        out.append("<p>Результатов диагностики нет.</p>")
    if doc.requests:
        out.append(f"<p>Запросы педагога: {escape('; '.join(doc.requests))}.</p>")
    out += [f"<p>{escape(n)}</p>" for n in doc.notes]
    out.append("<h2>2. Индивидуальный образовательный маршрут</h2>")
    if doc.overflow:
        out.append(f'<p class="note"><b>Внимание.</b> {escape(doc.overflow)}</p>')
    out += [f'<p class="note">Порядок: {escape(c)}</p>' for c in doc.conflicts]
    if doc.rows:
        out += _route(doc)
    else:
        out.append("<p>Маршрут не содержит шагов.</p>")
    out.append("<h2>3. Календарный план</h2>")
    if doc.schedule:
        out += _gantt(doc)
        out.append(
            f'<p class="muted">Период маршрута: {escape(months_label(*doc.period))}; '
            "в ячейках — часы в месяц; красным — за пределами периода.</p>"
        )
        out += _table(
            list(SCHEDULE_COLUMNS),
            schedule_rows(doc),
        )
    else:
        out.append("<p>Шагов нет.</p>")
    out.append("<h2>4. Неудовлетворённые потребности</h2>")
    if doc.unmet:
        out += _table(["Вид", "Компетенция", "Условия", "Правило", "Причина"], doc.unmet)
    else:
        out.append("<p>Все потребности обеспечены каталогами.</p>")
    out.append("<h2>5. Обоснование выбора</h2>")
    if doc.reasons:
        out += _table(["Рекомендация", "Правило", "Обоснование"], doc.reasons)
    else:
        out.append("<p>Рекомендаций нет.</p>")
    out.append("<h2>6. Повторная диагностика</h2>")
    redo = [[name, before, "", ""] for name, before in doc.rediagnosis] or [
        ["", "", "", ""] for _ in range(3)
    ]
    out += _table(["Компетенция", "Результат до", "Результат после", "Вывод"], redo, "redo")
    out += [
        '<div class="signatures">',
        "<h2>7. Подписи</h2>",
        *(f"{escape(who)}: {BLANK} / {BLANK}<br>" for who in doc.signatures),
        "Дата: «____» ____________ 20___ г.",
        "</div>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)


def render_html(kb: KnowledgeBase, profile: Profile, result: Result) -> str:
    """The printable ИОМ document: one self-contained HTML page (A4 landscape)."""
    return document_html(build_document(kb, profile, result))
