"""The ИОМ document as data: header, diagnosis summary, route table, signatures.

Markdown and HTML render the same :class:`Document`, so both show the same
content. Texts are in Russian; cells are lists of lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError, WrongTypeError
from ..labels import (
    DELIVERY_RU,
    EDUCATION_RU,
    FORM_RU,
    PHASE_ORDER,
    PHASE_RU,
    ROLE_RU,
    SEVERITY_RU,
    SUBJECT_RU,
    format_hours,
    plural_ru,
)
from ..loader import KnowledgeBase
from ..models import Deficit, Result, Route, Scores, Step
from ..models.route import centi
from ..months import month_index, month_label, month_range, months_label
from ..schema import Profile

__all__ = [
    "COLUMNS",
    "SCHEDULE_COLUMNS",
    "Document",
    "RouteRow",
    "build_document",
    "month_label",
    "months_label",
    "schedule_rows",
]

#: The columns of the ИОМ table, as the regional regulations name them.
COLUMNS = (
    "Дефицит",
    "Задачи",
    "Содержание",
    "Формы и ресурсы",
    "Вид образования",
    "Сроки",
    "Ответственный",
    "Планируемый результат",
    "Форма отчётности",
)

_RESULT_BY_PHASE = {
    "learn": "Освоены теоретические основы и способы действий по теме",
    "practice": "Освоенные способы применяются в собственной практике",
    "share": "Опыт представлен педагогическому сообществу",
    "reflect": "Проанализированы затруднения и результаты, скорректированы цели",
}
_REPORT_BY_FORMAT = {
    "internship": "Отчёт о стажировке, методическая разработка",
    "master_class": "Разработка занятия по итогам мастер-класса",
    "seminar": "Конспект, сертификат участника",
    "educational_event": "Выступление, материалы представленной практики",
    "focus_group": "Протокол фокус-группы, сформулированные запросы",
    "communication_platform": "Материалы и решения площадки",
    "project_session": "Проект — продукт проектной сессии",
    "foresight_session": "Дорожная карта развития",
    "supervision": "Лист супервизии, рефлексивный отчёт",
    "club": "Материалы встреч клуба",
    "network_community": "Публикация в сетевом сообществе",
    "horizontal_learning": "Материалы взаимообучения",
    "lesson_visits": "Карты анализа посещённых уроков",
    "burnout_prevention": "Сертификат участника тренинга, лист самодиагностики",
}
_REPORT_BY_PHASE = {
    "learn": "Конспект, сертификат участника",
    "practice": "Методическая разработка, анализ практики",
    "share": "Выступление или публикация",
    "reflect": "Рефлексивный отчёт",
}

BLANK = "________________"


def _pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}".replace(".", ",") + " %"


def _years(value: float) -> str:
    if not float(value).is_integer():
        return f"{format_hours(value)} года"
    n = int(value)
    return f"{n} {plural_ru(n, 'год', 'года', 'лет')}"


def _scores(result: Result) -> Scores:
    if result.scores is None:
        raise UsageError(
            f"the result for profile {result.profile!r} has no scores: "
            "render a Result made by Engine.evaluate"
        )
    return result.scores


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class StepCells:
    """The per-step cells of a route row."""

    step: str
    forms: list[str]
    education: str
    period: str
    responsible: str
    result: str
    report: str


@dataclass(frozen=True)
class RouteRow:
    """A topic (a deficit, another competency, or the route as a whole) and its steps."""

    topic: list[str]
    tasks: list[str]
    content: list[str]
    steps: list[StepCells]
    kind: str  # deficit | competency | general | closing


@dataclass(frozen=True)
class Document:
    title: str
    header: list[tuple[str, str]]
    summary: list[tuple[str, str, str, str, bool]]  # name, pct, level, deficit, is_group
    requests: list[str]
    rows: list[RouteRow]
    schedule: list[dict[str, Any]]
    months: list[str]  # every month the route spans (period and beyond)
    period: tuple[str, str]
    overflow: str | None
    conflicts: list[str]
    unmet: list[tuple[str, str, str, str, str]]
    reasons: list[tuple[str, str, str]]
    rediagnosis: list[tuple[str, str]]
    signatures: list[str]
    notes: list[str] = field(default_factory=list)


class _Builder:
    def __init__(self, kb: KnowledgeBase, profile: Profile, result: Result) -> None:
        self.kb = kb
        self.onto = kb.ontology
        self.profile = profile
        self.result = result
        self.route: Route | None = result.route
        self.steps: tuple[Step, ...] = self.route.steps if self.route is not None else ()
        self.norm = _scores(result)
        self.recs = {(r.kind, r.id): r for r in result.recommendations}

    def title_of(self, comp: str) -> str:
        c = self.onto.competencies.get(comp)
        return c.title if c else comp

    # --- header ----------------------------------------------------------------

    def header(self) -> list[tuple[str, str]]:
        p = self.profile.person
        route = self.route
        rows = [
            ("ФИО", p.name or BLANK),
            ("Идентификатор профиля", self.profile.id),
            ("Должность", _cap(ROLE_RU.get(p.role, p.role))),
            ("Стаж работы", _years(p.experience_years)),
        ]
        if p.subjects:
            rows.append(("Предметы", ", ".join(SUBJECT_RU.get(s, s) for s in p.subjects)))
        rows.append(("Образовательная организация", p.organization or BLANK))
        rows.append(("Муниципалитет", p.municipality or BLANK))
        if route is not None:
            text = months_label(*route.period)
            if "period" in route.defaults:
                text += " (по умолчанию: учебный год)"
            rows.append(("Период реализации ИОМ", text))
            hours = format_hours(centi(route.hours_per_month) / 100)
            text = f"до {hours} ч в месяц"
            if "hours_per_month" in route.defaults:
                text += " (по умолчанию)"
            rows.append(("Нагрузка", text))
        rows.append(("Тьютор (ЦНППМ)", BLANK))
        mentors = [r for r in self.result.recommendations if r.kind == "mentor"]
        rows.append(
            (
                "Наставник",
                "; ".join(
                    f"{m.title} ({m.get('organization', '')}, {m.get('municipality', '')})"
                    for m in mentors
                )
                or "не назначен",
            )
        )
        return rows

    # --- diagnosis summary ---------------------------------------------------

    def summary(self) -> list[tuple[str, str, str, str, bool]]:
        deficits = {d.competency: d for d in self.result.deficits}
        scale = self.kb.scale
        comp_pct = self.norm.competency_pct
        rows: list[tuple[str, str, str, str, bool]] = []
        for gid, group in self.onto.groups.items():
            comps = [
                c
                for c in self.onto.topological_order()
                if self.onto.group_of(c) == gid and (c in comp_pct or c in deficits)
            ]
            if not comps:
                continue
            gpct = self.norm.group_pct.get(gid)
            glevel = scale.title(self.norm.group_level[gid]) if gid in self.norm.group_level else ""
            ndef = sum(1 for c in comps if c in deficits)
            gdef = f"{ndef} {plural_ru(ndef, 'дефицит', 'дефицита', 'дефицитов')}" if ndef else "—"
            rows.append((group.title, _pct(gpct), glevel, gdef, True))
            for c in comps:
                d = deficits.get(c)
                level = scale.title(self.norm.competency_level[c]) if c in comp_pct else ""
                dtext = f"{SEVERITY_RU.get(d.severity, d.severity)} ({d.rule})" if d else "—"
                rows.append(
                    (f"{self.title_of(c)} ({c})", _pct(comp_pct.get(c)), level, dtext, False)
                )
        return rows

    # --- route table ---------------------------------------------------------

    def step_cells(self, s: Step) -> StepCells:
        kind = s.kind
        hours = format_hours(s.hours)
        if kind == "program":
            rec = self.recs.get(("program", str(s.ref)))
            extra = ", ФР ДПП" if s.get("federal_registry") else ""
            forms = [
                f"ДПП «{s.title}» ({s.ref})",
                f"{s.get('provider', '')}, {DELIVERY_RU.get(str(s.get('delivery')), '')} форма, "
                f"{hours} ч{extra}",
            ]
            kind_of = (rec.get("program_kind") if rec else None, s.get("program_kind"))
            if "retraining" in kind_of:
                report = "Диплом о профессиональной переподготовке"
            else:
                report = "Удостоверение о повышении квалификации"
        elif kind == "mentoring":
            forms_ru = ", ".join(f"«{FORM_RU.get(f, f)}»" for f in s.get("forms", []))
            forms = [
                f"{s.title} ({s.ref})",
                f"{s.get('organization', '')}, {s.get('municipality', '')}",
                f"форма: {forms_ru}, {hours} ч" if forms_ru else f"{hours} ч",
            ]
            report = "План и отчёт о наставничестве, отзыв наставника"
        elif kind == "self_education":
            forms = [f"{s.title}, {hours} ч"]
            report = "Отчёт о самообразовании (конспект, разработки)"
        elif kind == "rediagnosis":
            forms = [f"{s.title}, {hours} ч"]
            report = "Результаты повторной диагностики"
        else:
            forms = [f"{s.title}, {hours} ч"]
            if s.education == "formal":
                report = "Удостоверение о повышении квалификации"
            else:
                report = _REPORT_BY_FORMAT.get(str(s.ref), _REPORT_BY_PHASE.get(s.phase, "Отчёт"))
        if kind == "rediagnosis":
            result = "Зафиксирована динамика результатов; ИОМ скорректирован"
        else:
            result = _RESULT_BY_PHASE.get(s.phase, "")
        return StepCells(
            step=s.id,
            forms=forms,
            education=_cap(EDUCATION_RU.get(s.education, s.education)),
            period=months_label(s.start, s.end),
            responsible=s.responsible,
            result=result,
            report=report,
        )

    def content(self, comp: str) -> list[str]:
        c = self.onto.competencies.get(comp)
        if c is None:
            return [comp]
        lines = [f"• {ind.title}" for ind in c.indicators] or (
            [" ".join(c.description.split())] if c.description else [c.title]
        )
        lines.append(f"Профстандарт: {', '.join(c.standard)}")
        return lines

    def target(self) -> tuple[str, float | None]:
        levels = self.kb.scale.levels
        bounded = [lv for lv in levels if lv.below is not None]
        return levels[-1].title, (bounded[-1].below if bounded else None)

    def rows(self) -> list[RouteRow]:
        """The route table: a row per deficit, per other competency with steps, one
        for the steps without a competency, one per closing re-diagnosis."""
        work = [s for s in self.steps if s.kind != "rediagnosis"]
        by_comp: dict[str, list[Step]] = {}
        for s in work:
            for c in s.competencies:
                by_comp.setdefault(c, []).append(s)
        rows = [self.deficit_row(d, by_comp.get(d.competency, [])) for d in self.result.deficits]
        seen = {d.competency for d in self.result.deficits}
        others = sorted(
            (c for c in by_comp if c not in seen),
            key=lambda c: (self.onto.order_key(c) if c in self.onto.competencies else 10**9, c),
        )
        rows += [self.competency_row(c, by_comp[c]) for c in others]
        general = [s for s in work if not s.competencies]
        if general:
            rows.append(
                RouteRow(
                    topic=["Мероприятия по маршруту в целом"],
                    tasks=["Уточнить затруднения и закрепить результаты по группе дефицитов"],
                    content=["По правилам, назначающим общие формы работы"],
                    steps=self.cells_in_order(general),
                    kind="general",
                )
            )
        rows += [self.closing_row(s) for s in self.steps if s.kind == "rediagnosis"]
        return rows

    def cells_in_order(self, steps: list[Step]) -> list[StepCells]:
        """The steps' cells by phase, start month, then step number."""

        def order(s: Step) -> tuple[int, str, int]:
            return (PHASE_ORDER.get(s.phase, 9), s.start, int(s.id[1:]))

        return [self.step_cells(s) for s in sorted(steps, key=order)]

    def deficit_row(self, d: Deficit, steps: list[Step]) -> RouteRow:
        """A deficit's row: the task is to raise its level to the scale's top."""
        target_title, threshold = self.target()
        goal = f"«{target_title}»" + (f" (от {_pct(threshold)})" if threshold is not None else "")
        sev = SEVERITY_RU.get(d.severity, d.severity)
        pct = self.norm.competency_pct.get(d.competency)
        if pct is not None:
            level = self.kb.scale.title(self.norm.competency_level[d.competency])
            task = (
                f"Повысить уровень сформированности компетенции с {_pct(pct)} "
                f"(«{level}») до уровня {goal}"
            )
        else:
            task = f"Сформировать компетенцию до уровня {goal}"
        return RouteRow(
            topic=[self.title_of(d.competency), f"{d.competency}; {sev} дефицит"],
            tasks=[task],
            content=self.content(d.competency),
            steps=self.cells_in_order(steps),
            kind="deficit",
        )

    def competency_row(self, comp: str, steps: list[Step]) -> RouteRow:
        """A row for a competency without a deficit: a request, or sharing experience."""
        if comp in self.profile.requests:
            note, task = "запрос педагога", "Развить компетенцию по запросу педагога"
        else:
            note, task = "без дефицита", "Транслировать сформированный опыт коллегам"
        return RouteRow(
            topic=[self.title_of(comp), f"{comp}; {note}"],
            tasks=[task],
            content=self.content(comp),
            steps=self.cells_in_order(steps),
            kind="competency",
        )

    def closing_row(self, s: Step) -> RouteRow:
        return RouteRow(
            topic=["Повторная диагностика"],
            tasks=["Оценить динамику сформированности компетенций по итогам маршрута"],
            content=[f"• {self.title_of(c)}" for c in s.competencies] or ["По маршруту"],
            steps=[self.step_cells(s)],
            kind="closing",
        )

    # --- other sections ---------------------------------------------------------

    def schedule(self) -> list[dict[str, Any]]:
        out = []
        for s in self.steps:
            out.append(
                {
                    "id": s.id,
                    "title": s.title,
                    "ref": s.ref,
                    "kind": s.kind,
                    "phase": PHASE_RU.get(s.phase, s.phase),
                    "competencies": list(s.competencies),
                    "period": months_label(s.start, s.end),
                    "hours": format_hours(s.hours),
                    "after": ", ".join(s.after) or "—",
                    "allocation": dict(s.allocation),
                }
            )
        return out

    def months(self) -> list[str]:
        if self.route is None:
            return []
        start, end = self.route.period
        # by index: as text, a route running past 9999 ("10000-01") sorts first
        return month_range(start, max([end, *(s.end for s in self.steps)], key=month_index))

    def unmet(self) -> list[tuple[str, str, str, str, str]]:
        kinds = {
            "program": "программа",
            "mentor": "наставник",
            "format": "форма работы",
            "deficit": "дефицит",
        }
        rows = []
        for u in self.result.unmet:
            comp = u.competency
            # the need's filters, but those its JSON overwrites (rule, reason) or
            # that a deficit entry has (severity)
            conds = ", ".join(
                f"{k}={v}" for k, v in u.conditions if k not in ("rule", "reason", "severity")
            )
            rows.append(
                (
                    kinds.get(u.kind, u.kind),
                    f"{self.title_of(comp)} ({comp})" if comp else "—",
                    conds or "—",
                    u.rule,
                    u.reason,
                )
            )
        return rows

    def reasons(self) -> list[tuple[str, str, str]]:
        kinds = {"program": "ДПП", "mentor": "Наставник", "format": "Форма работы"}
        return [
            (
                f"{kinds.get(r.kind, r.kind)} {r.id}: {r.title}",
                ", ".join(r.rules),
                r.reason,
            )
            for r in self.result.recommendations
        ]

    def rediagnosis(self) -> list[tuple[str, str]]:
        return [
            (f"{self.title_of(d.competency)} ({d.competency})", _pct(d.score_pct))
            for d in self.result.deficits
        ]


SCHEDULE_COLUMNS = ("Шаг", "Содержание", "Этап", "Компетенции", "Сроки", "Часы", "После шагов")


def schedule_rows(doc: Document) -> list[list[str]]:
    """The calendar plan's rows (columns: SCHEDULE_COLUMNS), for every renderer."""
    return [
        [
            s["id"],
            f"{s['title']} ({s['ref']})" if s["ref"] else s["title"],
            s["phase"],
            ", ".join(s["competencies"]) or "—",
            s["period"],
            s["hours"],
            s["after"],
        ]
        for s in doc.schedule
    ]


def build_document(kb: KnowledgeBase, profile: Profile, result: Result) -> Document:
    """The ИОМ of ``result`` (from ``Engine.evaluate``) for ``profile``."""
    if not isinstance(result, Result):
        raise WrongTypeError(f"build_document() needs a Result, not {type(result).__name__}")
    if result.profile != profile.id:
        raise UsageError(f"the result is for profile {result.profile!r}, not {profile.id!r}")
    b = _Builder(kb, profile, result)
    route = b.route
    overflow = route.overflow if route is not None else None
    notes: list[str] = []
    if not result.deficits:
        notes.append("Профессиональных дефицитов по результатам диагностики не выявлено.")
    elif not b.steps:
        notes.append("Шагов маршрута нет: правила не назначили ни одной формы работы.")
    return Document(
        title="Индивидуальный образовательный маршрут (ИОМ) "
        + ("руководителя" if profile.person.role == "manager" else "педагога"),
        header=b.header(),
        summary=b.summary(),
        requests=[f"{b.title_of(c)} ({c})" for c in dict.fromkeys(profile.requests)],
        rows=b.rows(),
        schedule=b.schedule(),
        months=b.months(),
        period=route.period if route is not None else ("", ""),
        overflow=overflow.message if overflow else None,
        conflicts=[c.reason for c in route.conflicts] if route is not None else [],
        unmet=b.unmet(),
        reasons=b.reasons(),
        rediagnosis=b.rediagnosis(),
        signatures=(
            [
                "Руководитель (участник маршрута)",
                "Тьютор (ЦНППМ)",
                "Наставник (ментор)",
                "Представитель ММС",
            ]
            if profile.person.role == "manager"
            else [
                "Педагог",
                "Тьютор (ЦНППМ)",
                "Наставник",
                "Руководитель образовательной организации",
            ]
        ),
        notes=notes,
    )
