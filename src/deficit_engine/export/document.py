"""The ИОМ document as data: approval, header, diagnosis, route table, signatures.

Markdown and HTML render the same :class:`Document` through templates
(:mod:`deficit_engine.export.templating`), so both show the same content. The
document is the one a person signs: it names things by their titles, never by
the engine's ids (competency, programme, mentor, format and rule ids, filter
values such as ``education=formal``); the JSON keeps the ids. Texts are in
Russian; cells are lists of lines.
"""

from __future__ import annotations

import datetime
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import UsageError, WrongTypeError
from ..labels import (
    DELIVERY_RU,
    EDU_LEVEL_RU,
    EDUCATION_RU,
    FORM_RU,
    LEVEL_RU,
    MARK_STATUS_RU,
    PHASE_ORDER,
    PHASE_RU,
    ROLE_RU,
    SEVERITY_RU,
    SUBJECT_RU,
    format_hours,
    plural_ru,
)
from ..loader import KnowledgeBase
from ..models import Deficit, Result, Route, Scores, Step, StepMark
from ..models.route import centi
from ..months import month_index, month_label, month_range, months_label
from ..schema import Format, Profile, Program

__all__ = [
    "COLUMNS",
    "SCHEDULE_COLUMNS",
    "Approval",
    "Document",
    "GanttRow",
    "RouteRow",
    "ScheduleRow",
    "StepCells",
    "build_document",
    "month_label",
    "months_label",
]

#: The columns of the ИОМ table, as the regional form names them.
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
    "Отметка о выполнении",
)

#: The columns of the calendar plan.
SCHEDULE_COLUMNS = ("№", "Содержание", "Этап", "Компетенции", "Сроки", "Часы", "После шагов")

# The planned result of a step the KB gives none for (its programme or format
# entry has no ``result``): by phase...
_RESULT_BY_PHASE = {
    "learn": "Освоены теоретические основы и способы действий по теме",
    "practice": "Освоенные способы действий применяются в собственной практике",
    "share": "Опыт представлен педагогическому сообществу",
    "reflect": "Проанализированы затруднения и результаты, скорректированы цели",
}
# ... and by kind of step, where the kind says more than the phase.
_RESULT_BY_KIND = {
    "program": "Программа освоена, итоговая аттестация пройдена; освоенное применяется в работе",
    "mentoring": "Способы действий отработаны в собственной практике при поддержке наставника",
    "self_education": "Изучены материалы по теме, подготовлены собственные разработки",
    "rediagnosis": "Зафиксирована динамика результатов; ИОМ скорректирован",
}
# The report form of a format step the KB gives none for.
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
_PROGRAM_KIND_RU = {
    "advanced_training": "повышение квалификации",
    "retraining": "профессиональная переподготовка",
}
# Whose route it is, in the genitive: the title and the wording of requests
# follow the role, so a руководитель's ИОМ never says «запросы педагога».
_WHOSE = {
    "manager": "руководителя",
    "deputy_head": "заместителя руководителя",
    "methodist": "методиста",
    "educator": "воспитателя",
}
_MANAGERS = frozenset({"manager", "deputy_head"})
# Who approves the route, by role (a domain choice, docs/route.md): the school's
# head for its staff; for a head or a deputy, the municipal education authority;
# for a методист of the municipal methodical service, that service's head.
_HEAD = {
    "manager": "Руководитель муниципального органа управления образованием",
    "deputy_head": "Руководитель образовательной организации",
    "methodist": "Руководитель муниципальной методической службы",
}
# The qualification categories (``person.category``) as the header's short
# value: the row's label already says «квалификационная категория».
_CATEGORY_RU = {
    "no_category": "без категории",
    "first": "первая",
    "highest": "высшая",
    "pedagogue_methodist": "педагог-методист",
    "pedagogue_mentor": "педагог-наставник",
}
# Person fields the header shows when the profile has them.
_OPTIONAL_PERSON = (
    ("Квалификационная категория", "category"),
    ("Образование", "education"),
    ("Дата последнего повышения квалификации", "last_course"),
    ("Тема самообразования", "self_education_topic"),
)

# A labour function of the профстандарт «Педагог» (A/01.6, B/03.6): the other
# entries of ``standard`` are other documents (managers: the ЕКС, order 761н), which
# the document must not call a профстандарт.
_LABOUR_FUNCTION = re.compile(r"^[A-Z]/\d{2}\.\d$")


def standard_lines(standard: Iterable[str]) -> list[str]:
    """What a competency's ``standard`` says, worded by kind of document.

    Parameters
    ----------
    standard : iterable of str
        Labour-function codes of the профстандарт, or other documents by name.

    Returns
    -------
    list of str
        ``Профстандарт, трудовые функции: A/01.6, …`` for the codes and
        ``Основание: …`` for the rest; an empty list when there is nothing.
    """
    items = list(standard)
    codes = [s for s in items if _LABOUR_FUNCTION.match(s)]
    other = [s for s in items if not _LABOUR_FUNCTION.match(s)]
    lines = []
    if codes:
        lines.append(f"Профстандарт, трудовые функции: {', '.join(codes)}")
    if other:
        lines.append(f"Основание: {', '.join(other)}")
    return lines


BLANK = "________________"
SIGNATURE_CAPTION = "(подпись) / (расшифровка подписи)"
DATE_LINE = "«____» ____________ 20___ г."


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


def _hours_or_blank(hours: float | None) -> str:
    return format_hours(hours) if hours else ""


def step_number(step_id: str) -> str:
    """A step as the document numbers it: ``s3`` -> ``3`` (other ids as written)."""
    return step_id[1:] if step_id[:1] == "s" and step_id[1:].isdigit() else step_id


def _date_ru(value: object) -> str:
    """An ISO date as a Russian form writes it (``2027-03-15`` -> ``15.03.2027``)."""
    if isinstance(value, datetime.date):
        return value.strftime("%d.%m.%Y")
    text = str(value)
    try:
        return datetime.date.fromisoformat(text).strftime("%d.%m.%Y")
    except ValueError:
        return text


@dataclass(frozen=True)
class StepCells:
    """The per-step cells of a route row (the last seven columns)."""

    step: str  # the step's id in the route (``s1``); the document shows its number
    number: str
    forms: list[str]
    education: str
    period: str
    responsible: str
    result: str
    report: str
    mark: list[str]


@dataclass(frozen=True)
class RouteRow:
    """A topic (a deficit, another competency, or the route as a whole) and its steps."""

    topic: list[str]
    tasks: list[str]
    content: list[str]
    steps: list[StepCells]
    kind: str  # deficit | competency | general | closing


class ScheduleRow(NamedTuple):
    """One step of the calendar plan (the columns of :data:`SCHEDULE_COLUMNS`, in order)."""

    number: str
    title: str
    phase: str
    competencies: str
    period: str
    hours: str
    after: str


@dataclass(frozen=True)
class GanttRow:
    """One step of the calendar chart: its name and its hours per month of the chart."""

    name: str
    hours: list[str]  # "" for a month without hours


@dataclass(frozen=True)
class Approval:
    """One side of the approval block: «СОГЛАСОВАНО» or «УТВЕРЖДАЮ» and by whom."""

    label: str
    post: str


@dataclass(frozen=True)
class Document:
    """The ИОМ, ready for a template: every text is Russian and free of engine ids."""

    title: str
    approvals: list[Approval]
    header: list[tuple[str, str]]
    summary: list[tuple[str, str, str, str, bool]]  # name, pct, level, deficit, is_group
    requests_label: str
    requests: list[str]
    rows: list[RouteRow]
    schedule: list[ScheduleRow]
    months: list[str]  # every month the route spans (period and beyond)
    gantt: list[GanttRow]
    period: tuple[str, str]
    overflow: str | None
    conflicts: list[str]
    unmet: list[tuple[str, str, str, str]]  # kind, competency, conditions, reason
    reasons: list[tuple[str, str, str]]  # recommendation, rules' titles, reason
    rediagnosis: list[tuple[str, str]]
    signatures: list[str]
    notes: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = COLUMNS
    schedule_columns: tuple[str, ...] = SCHEDULE_COLUMNS
    blank: str = BLANK
    signature_caption: str = SIGNATURE_CAPTION
    date_line: str = DATE_LINE

    @property
    def period_label(self) -> str:
        """The route's period in words (empty without a route)."""
        return months_label(*self.period) if self.period[0] else ""

    @property
    def months_over(self) -> list[bool]:
        """For each of :attr:`months`: does it lie past the period?"""
        end = month_index(self.period[1]) if self.period[1] else None
        return [end is not None and month_index(m) > end for m in self.months]


# A token that may be an id: letters, digits and '_' in parts joined by '.' or
# '-', not inside a longer token (a full stop ending a sentence is not part of it).
_TOKEN = re.compile(r"(?<![\w.\-])[A-Za-z0-9_]+(?:[.\-][A-Za-z0-9_]+)*(?![\w\-])")

# A need's filter as the resolver's reasons write it (``education=formal``).
_FILTER = re.compile(r"(?<![\w.\-])(format|education|phase|form|delivery|level|kind)=([\w.\-]+)")

# Per KB: every id a reason may name -> the words shown instead (some hundred
# ids: built once per KB, not once per document).
_ID_WORDS: weakref.WeakKeyDictionary[KnowledgeBase, dict[str, str]] = weakref.WeakKeyDictionary()


def _id_words(kb: KnowledgeBase) -> dict[str, str]:
    """The KB's ids -> their titles in quotes (a mentor: their name in quotes, which
    reads right whatever case the sentence needs: «выбран вместо «Наставник 2»»)."""
    cached = _ID_WORDS.get(kb)
    if cached is not None:
        return cached
    onto = kb.ontology
    names: dict[str, str] = {}
    names.update((r.id, f"«{r.title}»") for r in kb.rules)
    names.update((i, f"«{f.title}»") for i, f in kb.formats.items())
    names.update((i, f"«{m.name}»") for i, m in kb.mentors.items())
    names.update((i, f"«{p.title}»") for i, p in kb.programs.items())
    names.update((i, f"«{g.title}»") for i, g in onto.groups.items())
    names.update((i, f"«{x.title}»") for i, x in onto.indicators.items())
    names.update((i, f"«{c.title}»") for i, c in onto.competencies.items())
    _ID_WORDS[kb] = names
    return names


class _Builder:
    def __init__(
        self,
        kb: KnowledgeBase,
        profile: Profile,
        result: Result,
        marks: Mapping[str, StepMark],
        after: Mapping[str, str],
    ) -> None:
        self.kb = kb
        self.onto = kb.ontology
        self.profile = profile
        self.result = result
        self.route: Route | None = result.route
        self.steps: tuple[Step, ...] = self.route.steps if self.route is not None else ()
        self.norm = _scores(result)
        self.recs = {(r.kind, r.id): r for r in result.recommendations}
        self.marks = marks
        self.after = after
        self.whose = _WHOSE.get(profile.person.role, "педагога")

    def title_of(self, comp: str) -> str:
        c = self.onto.competencies.get(comp)
        return c.title if c else comp

    # --- words for ids ---------------------------------------------------------

    def words(self, text: str) -> str:
        """``text`` with every KB id in it replaced by the item's title or name."""
        names = _id_words(self.kb)
        text = _FILTER.sub(lambda m: self.condition(m.group(1), m.group(2)), text)
        return _TOKEN.sub(lambda m: names.get(m.group(0), m.group(0)), text)

    # --- header ----------------------------------------------------------------

    def approvals(self) -> list[Approval]:
        """Who agrees the route and who approves it (a domain choice: docs/route.md)."""
        approver = _HEAD.get(self.profile.person.role, "Руководитель образовательной организации")
        return [
            Approval("СОГЛАСОВАНО", "Тьютор ЦНППМ"),
            Approval("УТВЕРЖДАЮ", approver),
        ]

    def header(self) -> list[tuple[str, str]]:
        p = self.profile.person
        rows = [
            ("ФИО", p.name or BLANK),
            ("Должность", _cap(ROLE_RU.get(p.role, p.role))),
            ("Образовательная организация", p.organization or BLANK),
            ("Муниципалитет", p.municipality or BLANK),
        ]
        rows += self.optional_person_rows()
        rows.append(("Стаж педагогической работы", _years(p.experience_years)))
        if p.subjects:
            rows.append(("Предметы", ", ".join(self.subject_title(s) for s in p.subjects)))
        if p.levels:
            rows.append(
                ("Уровень образования", ", ".join(EDU_LEVEL_RU.get(v, v) for v in p.levels))
            )
        rows += self.route_rows()
        rows.append(("Номер профиля диагностики", self.profile.id))
        rows.append(("Тьютор (ЦНППМ)", BLANK))
        rows.append(("Наставник", self.mentors_text()))
        return rows

    def subject_title(self, subject: str) -> str:
        known = self.kb.subjects.get(subject)
        return known.title if known is not None else SUBJECT_RU.get(subject, subject)

    def optional_person_rows(self) -> list[tuple[str, str]]:
        """Header rows for the person's fields a profile may or may not carry."""
        p = self.profile.person
        rows = []
        for label, name in _OPTIONAL_PERSON:
            value = getattr(p, name)
            if value is None:
                continue
            if label == "Квалификационная категория":
                text = _CATEGORY_RU.get(str(value), str(value))
            elif label.startswith("Дата"):
                text = _date_ru(value)
            else:
                text = str(value)
            rows.append((label, text))
        return rows

    def route_rows(self) -> list[tuple[str, str]]:
        route = self.route
        if route is None:
            return []
        text = months_label(*route.period)
        if "period" in route.defaults:
            text += " (по умолчанию: учебный год)"
        hours = format_hours(centi(route.hours_per_month) / 100)
        load = f"до {hours} ч в месяц"
        if "hours_per_month" in route.defaults:
            load += " (по умолчанию)"
        return [("Период реализации ИОМ", text), ("Нагрузка", load)]

    def mentors_text(self) -> str:
        mentors = [r for r in self.result.recommendations if r.kind == "mentor"]
        return (
            "; ".join(
                f"{m.title} ({m.get('organization', '')}, {m.get('municipality', '')})"
                for m in mentors
            )
            or "не назначен"
        )

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
                dtext = SEVERITY_RU.get(d.severity, d.severity) if d else "—"
                rows.append((self.title_of(c), _pct(comp_pct.get(c)), level, dtext, False))
        return rows

    # --- route table ---------------------------------------------------------

    def entry(self, s: Step) -> Program | Format | None:
        """The catalogue entry a programme or format step uses, for its KB texts."""
        ref = str(s.ref)
        if s.kind == "program":
            return self.kb.programs.get(ref)
        if s.kind in ("format", "rediagnosis", "self_education"):
            return self.kb.formats.get(ref)
        return None

    def forms_cell(self, s: Step) -> list[str]:
        hours = format_hours(s.hours)
        if s.kind == "program":
            extra = ", ФР ДПП" if s.get("federal_registry") else ""
            delivery = DELIVERY_RU.get(str(s.get("delivery")), "")
            return [
                f"ДПП «{s.title}»",
                f"{s.get('provider', '')}, {delivery} форма, {hours} ч{extra}",
            ]
        if s.kind == "mentoring":
            forms_ru = ", ".join(f"«{FORM_RU.get(f, f)}»" for f in s.get("forms", []))
            return [
                s.title,
                f"{s.get('organization', '')}, {s.get('municipality', '')}",
                f"форма: {forms_ru}, {hours} ч" if forms_ru else f"{hours} ч",
            ]
        return [f"{s.title}, {hours} ч"]

    def default_report(self, s: Step) -> str:
        if s.kind == "program":
            kinds = (self.recs.get(("program", str(s.ref))), s.get("program_kind"))
            rec_kind = kinds[0].get("program_kind") if kinds[0] is not None else None
            if "retraining" in (rec_kind, kinds[1]):
                return "Диплом о профессиональной переподготовке"
            return "Удостоверение о повышении квалификации"
        if s.kind == "mentoring":
            return "План и отчёт о наставничестве, отзыв наставника"
        if s.kind == "self_education":
            return "Отчёт о самообразовании (конспект, разработки)"
        if s.kind == "rediagnosis":
            return "Результаты повторной диагностики"
        if s.education == "formal":
            return "Удостоверение о повышении квалификации"
        return _REPORT_BY_FORMAT.get(str(s.ref), _REPORT_BY_PHASE.get(s.phase, "Отчёт"))

    def default_result(self, s: Step) -> str:
        return _RESULT_BY_KIND.get(s.kind) or _RESULT_BY_PHASE.get(s.phase, "")

    def mark_cell(self, s: Step) -> list[str]:
        """What the tutor marked for the step, and the result after it, if given."""
        lines = []
        mark = self.marks.get(s.id)
        if mark is not None:
            text = MARK_STATUS_RU.get(mark.status, mark.status)
            if mark.date:
                text += f" {_date_ru(mark.date)}"
            lines.append(text)
            if mark.evidence:
                lines.append(mark.evidence)
        if self.after.get(s.id):
            lines.append(f"Результат после: {self.after[s.id]}")
        return lines

    def step_cells(self, s: Step) -> StepCells:
        entry = self.entry(s)
        return StepCells(
            step=s.id,
            number=step_number(s.id),
            forms=self.forms_cell(s),
            education=_cap(EDUCATION_RU.get(s.education, s.education)),
            period=months_label(s.start, s.end),
            responsible=s.responsible,
            result=(entry.result if entry is not None and entry.result else None)
            or self.default_result(s),
            report=(entry.report_form if entry is not None and entry.report_form else None)
            or self.default_report(s),
            mark=self.mark_cell(s),
        )

    def step_tasks(self, steps: Iterable[Step]) -> list[str]:
        """The tasks the KB gives for the steps' programmes and formats, once each."""
        tasks = (getattr(self.entry(s), "tasks", None) for s in steps)
        return list(dict.fromkeys(t for t in tasks if t))

    def content(self, comp: str) -> list[str]:
        c = self.onto.competencies.get(comp)
        if c is None:
            return [comp]
        lines = [f"• {ind.title}" for ind in c.indicators] or (
            [" ".join(c.description.split())] if c.description else [c.title]
        )
        lines.extend(standard_lines(c.standard))
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
                    tasks=[
                        "Уточнить затруднения и закрепить результаты по группе дефицитов",
                        *self.step_tasks(general),
                    ],
                    content=["Общие формы работы, назначенные по результатам диагностики"],
                    steps=self.cells_in_order(general),
                    kind="general",
                )
            )
        rows += [self.closing_row(s) for s in self.steps if s.kind == "rediagnosis"]
        return rows

    def cells_in_order(self, steps: list[Step]) -> list[StepCells]:
        """The steps' cells by phase, start month, then step number."""

        def order(s: Step) -> tuple[int, int, str]:
            number = step_number(s.id)
            return (PHASE_ORDER.get(s.phase, 9), month_index(s.start), number.zfill(6))

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
            topic=[self.title_of(d.competency), f"{_cap(sev)} дефицит"],
            tasks=[task, *self.step_tasks(steps)],
            content=self.content(d.competency),
            steps=self.cells_in_order(steps),
            kind="deficit",
        )

    def competency_row(self, comp: str, steps: list[Step]) -> RouteRow:
        """A row for a competency without a deficit: a request, or sharing experience."""
        if comp in self.profile.requests:
            note, task = f"Запрос {self.whose}", f"Развить компетенцию по запросу {self.whose}"
        else:
            note, task = "Без дефицита", "Транслировать сформированный опыт коллегам"
        return RouteRow(
            topic=[self.title_of(comp), note],
            tasks=[task, *self.step_tasks(steps)],
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

    def schedule(self) -> list[ScheduleRow]:
        return [
            ScheduleRow(
                number=step_number(s.id),
                title=s.title,
                phase=PHASE_RU.get(s.phase, s.phase),
                competencies="; ".join(self.title_of(c) for c in s.competencies) or "—",
                period=months_label(s.start, s.end),
                hours=format_hours(s.hours),
                after=", ".join(step_number(a) for a in s.after) or "—",
            )
            for s in self.steps
        ]

    def months(self) -> list[str]:
        if self.route is None:
            return []
        start, end = self.route.period
        # by index: as text, a route running past 9999 ("10000-01") sorts first
        return month_range(start, max([end, *(s.end for s in self.steps)], key=month_index))

    def gantt(self, months: list[str]) -> list[GanttRow]:
        rows = []
        for s in self.steps:
            allocation = dict(s.allocation)
            rows.append(
                GanttRow(
                    name=f"{step_number(s.id)}. {s.title}",
                    hours=[_hours_or_blank(allocation.get(m)) for m in months],
                )
            )
        return rows

    def condition(self, key: str, value: object) -> str:
        """A need's filter in words: ``education=formal`` -> «вид образования: формальное»."""
        text = str(value)
        if key == "education":
            return f"вид образования: {EDUCATION_RU.get(text, text)}"
        if key == "delivery":
            return f"форма обучения: {DELIVERY_RU.get(text, text)}"
        if key == "form":
            return f"форма наставничества: «{FORM_RU.get(text, text)}»"
        if key == "phase":
            return f"этап: {PHASE_RU.get(text, text)}"
        if key == "level":
            return f"уровень: {LEVEL_RU.get(text, text)}"
        if key == "kind":
            return f"вид программы: {_PROGRAM_KIND_RU.get(text, text)}"
        if key == "format":
            return f"форма работы: {self.words(text)}"
        return self.words(text)

    def unmet(self) -> list[tuple[str, str, str, str]]:
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
            conds = "; ".join(
                self.condition(k, v)
                for k, v in u.conditions
                if k not in ("rule", "reason", "severity")
            )
            rows.append(
                (
                    kinds.get(u.kind, u.kind),
                    self.title_of(comp) if comp else "—",
                    conds or "—",
                    _cap(self.words(u.reason)),
                )
            )
        return rows

    def reasons(self) -> list[tuple[str, str, str]]:
        kinds = {"program": "ДПП", "mentor": "Наставник", "format": "Форма работы"}
        return [
            (
                f"{kinds.get(r.kind, r.kind)}: {r.title}",
                "; ".join(self.words(rule) for rule in r.rules),
                self.words(r.reason),
            )
            for r in self.result.recommendations
        ]

    def rediagnosis(self) -> list[tuple[str, str]]:
        return [(self.title_of(d.competency), _pct(d.score_pct)) for d in self.result.deficits]

    def overflow_text(self) -> str | None:
        """The overflow warning in the document's words: months named, steps numbered.

        Written from the overflow's fields, not its message, which names months
        as ``YYYY-MM`` and steps by id (for the JSON).
        """
        route = self.route
        if route is None or route.overflow is None:
            return None
        over = route.overflow
        hours = format_hours(centi(route.hours_per_month) / 100)
        n = len(over.steps)
        steps = ", ".join(step_number(s) for s in over.steps)
        return (
            f"Маршрут не умещается в период {months_label(*route.period)} при {hours} ч "
            f"в месяц: нужно ещё {over.months} мес. (последний месяц маршрута — "
            f"{month_label(over.end)}), {format_hours(over.hours)} ч после окончания "
            f"периода; за период {plural_ru(n, 'выходит шаг', 'выходят шаги', 'выходят шаги')} "
            f"{steps}."
        )

    def signatures(self) -> list[str]:
        if self.profile.person.role in _MANAGERS:
            return [
                f"{_cap(ROLE_RU.get(self.profile.person.role, 'руководитель'))} "
                "(участник маршрута)",
                "Тьютор (ЦНППМ)",
                "Наставник (ментор)",
                "Представитель ММС",
            ]
        role = self.profile.person.role
        return [
            _cap(ROLE_RU.get(role, "педагог")),
            "Тьютор (ЦНППМ)",
            "Наставник",
            _HEAD.get(role, "Руководитель образовательной организации"),
        ]


def build_document(
    kb: KnowledgeBase,
    profile: Profile,
    result: Result,
    *,
    marks: Mapping[str, StepMark] | None = None,
    after: Mapping[str, str] | None = None,
) -> Document:
    """The ИОМ of ``result`` (from ``Engine.evaluate``) for ``profile``.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB ``result`` was evaluated on (titles, texts of the catalogue entries).
    profile : Profile
        The validated profile ``result`` is for.
    result : Result
        What ``Engine.evaluate`` returned.
    marks : Mapping of str to StepMark, optional
        Step id -> the tutor's mark: fills «Отметка о выполнении».
    after : Mapping of str to str, optional
        Step id -> the result after the step (from ``progress``), shown under its mark.

    Returns
    -------
    Document
        The document's content, free of engine ids.

    Raises
    ------
    WrongTypeError
        If ``result`` is not a Result.
    UsageError
        If ``result`` is for another profile, or has no scores.
    """
    if not isinstance(result, Result):
        raise WrongTypeError(f"build_document() needs a Result, not {type(result).__name__}")
    if result.profile != profile.id:
        raise UsageError(f"the result is for profile {result.profile!r}, not {profile.id!r}")
    b = _Builder(kb, profile, result, marks or {}, after or {})
    route = b.route
    notes: list[str] = []
    if not result.deficits:
        notes.append("Профессиональных дефицитов по результатам диагностики не выявлено.")
    elif not b.steps:
        notes.append("Шагов маршрута нет: правила не назначили ни одной формы работы.")
    months = b.months()
    return Document(
        title=f"Индивидуальный образовательный маршрут (ИОМ) {b.whose}",
        approvals=b.approvals(),
        header=b.header(),
        summary=b.summary(),
        requests_label=f"Запросы {b.whose}",
        requests=[b.title_of(c) for c in dict.fromkeys(profile.requests)],
        rows=b.rows(),
        schedule=b.schedule(),
        months=months,
        gantt=b.gantt(months),
        period=route.period if route is not None else ("", ""),
        overflow=b.overflow_text(),
        conflicts=[b.words(c.reason) for c in route.conflicts] if route is not None else [],
        unmet=b.unmet(),
        reasons=b.reasons(),
        rediagnosis=b.rediagnosis(),
        signatures=b.signatures(),
        notes=notes,
    )
