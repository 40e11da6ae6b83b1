"""The ИОМ document as Markdown (GitHub-flavoured tables)."""

from __future__ import annotations

from collections.abc import Sequence

from ..loader import KnowledgeBase
from ..models import Result
from ..schema import Profile
from .document import (
    BLANK,
    COLUMNS,
    SCHEDULE_COLUMNS,
    Document,
    build_document,
    months_label,
    schedule_rows,
)

__all__ = ["render_markdown"]


def _text(value: str) -> str:
    """Text from a profile or the KB, made inert on one Markdown line.

    Markdown passes raw HTML through, so ``<`` and ``&`` become entities (no
    ``<script>``, ``<img onerror>`` or ``<javascript:...>`` autolink); ``](``
    is escaped so no text makes a link or an image; backslashes are doubled so
    none escapes what follows, and line breaks are folded into spaces.
    """
    text = " ".join(value.split())
    text = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
    return text.replace(">", "&gt;").replace("](", "]\\(")


def _cell(value: str | Sequence[str]) -> str:
    parts = [value] if isinstance(value, str) else list(value)
    text = "<br>".join(_text(p) for p in parts if p)
    return text.replace("|", "\\|") or " "


def _table(header: Sequence[str], rows: Sequence[Sequence[str | Sequence[str]]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return out


def _route_rows(doc: Document) -> list[list[str | Sequence[str]]]:
    """The route table's rows: a topic's cells on its first step's row only."""
    rows: list[list[str | Sequence[str]]] = []
    for row in doc.rows:
        for i, s in enumerate(row.steps or [None]):
            first = i == 0
            head: list[str | Sequence[str]] = (
                [row.topic, row.tasks, row.content] if first else ["", "", ""]
            )
            if s is None:
                rows.append([*head, "—", "—", "—", "—", "—", "—"])
            else:
                rows.append(
                    [
                        *head,
                        [f"[{s.step}] {s.forms[0]}", *s.forms[1:]],
                        s.education,
                        s.period,
                        s.responsible,
                        s.result,
                        s.report,
                    ]
                )
    return rows


def document_markdown(doc: Document) -> str:
    out: list[str] = [f"# {_text(doc.title)}", ""]
    out += _table(["Сведения", ""], doc.header)
    out += ["", "## 1. Результаты диагностики", ""]
    if doc.summary:
        out += _table(
            ["Группа компетенций / компетенция", "Результат", "Уровень", "Дефицит"],
            [
                [f"**{n}**", f"**{p}**", f"**{lv}**", d] if g else [n, p, lv, d]
                for n, p, lv, d, g in doc.summary
            ],
        )
    else:
        out.append("Результатов диагностики нет.")
    if doc.requests:
        out += ["", "Запросы педагога: " + "; ".join(_text(r) for r in doc.requests) + "."]
    out += [f"\n{_text(note)}" for note in doc.notes]
    out += ["", "## 2. Индивидуальный образовательный маршрут", ""]
    rows = _route_rows(doc)
    if doc.overflow:
        out += [f"> **Внимание.** {_text(doc.overflow)}", ""]
    for c in doc.conflicts:
        out += [f"> Порядок: {_text(c)}", ""]
    if rows:
        out += _table(COLUMNS, rows)
    else:
        out.append("Маршрут не содержит шагов.")
    out += ["", "## 3. Календарный план", ""]
    if doc.schedule:
        out += _table(
            list(SCHEDULE_COLUMNS),
            schedule_rows(doc),
        )
        if doc.period[0]:
            out += ["", f"Период маршрута: {_text(months_label(*doc.period))}."]
    else:
        out.append("Шагов нет.")
    out += ["", "## 4. Неудовлетворённые потребности", ""]
    if doc.unmet:
        out += _table(["Вид", "Компетенция", "Условия", "Правило", "Причина"], doc.unmet)
    else:
        out.append("Все потребности обеспечены каталогами.")
    out += ["", "## 5. Обоснование выбора", ""]
    if doc.reasons:
        out += _table(["Рекомендация", "Правило", "Обоснование"], doc.reasons)
    else:
        out.append("Рекомендаций нет.")
    out += ["", "## 6. Повторная диагностика", ""]
    redo = [[name, before, "", ""] for name, before in doc.rediagnosis] or [
        ["", "", "", ""] for _ in range(3)
    ]
    out += _table(["Компетенция", "Результат до", "Результат после", "Вывод"], redo)
    out += [
        "",
        "## 7. Подписи",
        "",
        *(f"{who}: {BLANK} / {BLANK}  " for who in doc.signatures),
        "Дата: «____» ____________ 20___ г.",
        "",
    ]
    return "\n".join(out)


def render_markdown(kb: KnowledgeBase, profile: Profile, result: Result) -> str:
    """The printable ИОМ document in Markdown."""
    return document_markdown(build_document(kb, profile, result))
