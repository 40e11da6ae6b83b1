"""The справка as tables: each part a :class:`Table` the renderers draw alike.

A table's cells are plain values (str, int, float or None); its columns say
what a value is (text, a count, a percent, hours), so that XLSX writes real
numbers with a percent format and the text and HTML formats write ``20,5 %``.
Percents are of the people assessed unless a column says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cohort import EXPERIENCE_BANDS, SEVERITY_ORDER, UNKNOWN
from ..labels import ROLE_RU, SEVERITY_RU, STEP_KIND_RU
from .sections import _competency_title, _group_title, _pct, _programme_title, _rows

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

__all__ = ["DEFAULT_GROUP_SIZE", "Column", "Table", "build_tables"]

#: People in a study group of a programme that has no cohort groups of its own
#: (``groups`` with their seats): the usual size of a ДПП group in a ЦНППМ.
DEFAULT_GROUP_SIZE = 25

#: Why a route overflows its period, as the справка says it.
OVERFLOW_RU: dict[str, str] = {
    "hours": "часов маршрута больше, чем даёт период при указанной нагрузке в месяц",
    "calendar": "часов хватает, но сроки групп программ или порядок шагов выводят "
    "последний шаг за период",
    "unknown": "причина не записана (сводка старой версии)",
}


@dataclass(frozen=True)
class Column:
    """A column: its title and what its values are (``text``, ``int``, ``pct``, ``hours``)."""

    title: str
    kind: str = "text"


@dataclass
class Table:
    """One part of the справка.

    ``chart`` names the (label, value) columns a bar chart draws; ``heat`` marks a
    table whose percent cells are a heat map (municipality × group).
    """

    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""
    chart: tuple[int, int] | None = None
    heat: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The table as the json format's ``report.tables`` holds it.

        Returns
        -------
        dict
            ``key``, ``title``, ``note``, ``columns`` (title and kind) and ``rows``.
        """
        return {
            "key": self.key,
            "title": self.title,
            "note": self.note,
            "columns": [{"title": c.title, "kind": c.kind} for c in self.columns],
            "rows": self.rows,
        }


def build_tables(
    summary: dict[str, Any], kb: KnowledgeBase | None, sections: dict[str, Any]
) -> list[Table]:
    """Every part of the справка a summary has the data for, in reading order.

    Parameters
    ----------
    summary : dict
        summary.json of a batch (an older one lacks some parts: they are left out).
    kb : KnowledgeBase, optional
        Titles, programme group sizes and mentors (ids alone without it).
    sections : dict
        The plan's sections (:func:`~deficit_engine.spravka.plan_sections`).

    Returns
    -------
    list of Table
        The tables; each has at least its header.
    """
    assessed = _int(summary.get("evaluated"))
    tables = [
        _overview(summary),
        _prevalence(summary, kb, assessed),
        _groups(summary, kb, assessed),
        _severity(summary),
        _municipalities(summary),
    ]
    tables += _breakdown_tables(summary, kb)
    tables.append(_programmes(summary, kb))
    tables += [t for t in (_catalogue(sections), _unmet(summary, kb)) if t is not None]
    tables += [t for t in (_mentors(summary, sections), _shortfalls(sections)) if t is not None]
    tables += [t for t in (_teams(sections), _overflow(summary)) if t is not None]
    return tables


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _overview(summary: dict[str, Any]) -> Table:
    assessed = _int(summary.get("evaluated"))
    profiles = _int(summary.get("profiles"))
    rows: list[list[Any]] = [
        ["Профилей в файле", profiles, None],
        ["Оценено", assessed, _pct(assessed, profiles)],
        ["Отложено с ошибками", _int(summary.get("set_aside")), None],
    ]
    if "with_deficit" in summary:
        with_deficit = _int(summary.get("with_deficit"))
        rows.append(["Педагогов с дефицитами", with_deficit, _pct(with_deficit, assessed)])
    over = _int(summary.get("routes_over_period"))
    rows.append(["Маршрутов, не умещающихся в период", over, _pct(over, assessed)])
    return Table(
        "overview",
        "Общие сведения",
        [Column("показатель"), Column("число", "int"), Column("% оценённых", "pct")],
        rows,
        note="Процент отложенных и оценённых — от профилей в файле, прочие — от оценённых.",
    )


def _prevalence(summary: dict[str, Any], kb: KnowledgeBase | None, assessed: int) -> Table:
    rows = []
    for ref, n in _rows(summary, "deficit_prevalence"):
        group = (
            kb.ontology.competencies[ref].group if kb and ref in kb.ontology.competencies else ""
        )
        title = _competency_title(kb, ref) or str(ref)
        rows.append([title, _group_title(kb, group) or group, n, _pct(_int(n), assessed)])
    return Table(
        "prevalence",
        "Распространённость дефицитов по компетенциям",
        [
            Column("компетенция"),
            Column("группа компетенций"),
            Column("педагогов с дефицитом", "int"),
            Column("% оценённых", "pct"),
        ],
        rows,
        chart=(0, 3),
    )


def _groups(summary: dict[str, Any], kb: KnowledgeBase | None, assessed: int) -> Table:
    rows = [
        [_group_title(kb, g) or str(g), n, _pct(_int(n), assessed)]
        for g, n in _rows(summary, "groups_people")
    ]
    return Table(
        "groups",
        "Распространённость дефицитов по группам компетенций",
        [Column("группа компетенций"), Column("педагогов", "int"), Column("% оценённых", "pct")],
        rows,
        note="Педагог с дефицитами по нескольким компетенциям группы считается в ней один раз.",
        chart=(0, 2),
    )


def _severity(summary: dict[str, Any]) -> Table:
    """Deficits by severity (each competency's most severe), and people by their worst."""
    deficits: dict[str, int] = {}
    for key, n in _rows(summary, "deficit_severity"):
        severity = str(key).rpartition(" ")[2]
        deficits[severity] = deficits.get(severity, 0) + _int(n)
    people = {str(k): _int(n) for k, n in _rows(summary, "severity_people")}
    total = sum(deficits.values())
    with_deficit = _int(summary.get("with_deficit"))
    known = [s for s in SEVERITY_ORDER if s in deficits or s in people]
    rows = [
        [
            SEVERITY_RU.get(s, s),
            deficits.get(s, 0),
            _pct(deficits.get(s, 0), total),
            people.get(s, 0) if "severity_people" in summary else None,
            _pct(people.get(s, 0), with_deficit) if "severity_people" in summary else None,
        ]
        for s in [*known, *sorted(set(deficits) - set(SEVERITY_ORDER))]
    ]
    return Table(
        "severity",
        "Распределение дефицитов по степени выраженности",
        [
            Column("степень"),
            Column("дефицитов", "int"),
            Column("% дефицитов", "pct"),
            Column("педагогов (самый тяжёлый дефицит)", "int"),
            Column("% педагогов с дефицитами", "pct"),
        ],
        rows,
        chart=(0, 2),
    )


def _municipalities(summary: dict[str, Any]) -> Table:
    rows = [
        [str(m), n, d, _pct(_int(d), _int(n))]
        for m, n, d in (r for r in _rows(summary, "municipalities") if len(r) == 3)
    ]
    return Table(
        "municipalities",
        "Дефициты по муниципалитетам",
        [
            Column("муниципалитет"),
            Column("оценено", "int"),
            Column("с дефицитами", "int"),
            Column("% оценённых", "pct"),
        ],
        rows,
        chart=(0, 3),
    )


# --- the breakdowns (a newer summary's "breakdowns") --------------------------------

BREAKDOWN_TITLES: dict[str, tuple[str, str]] = {
    "organization": ("организация", "Дефициты по организациям"),
    "role": ("должность", "Дефициты по должностям"),
    "experience": ("стаж, лет", "Дефициты по стажу"),
}


def _breakdown_tables(summary: dict[str, Any], kb: KnowledgeBase | None) -> list[Table]:
    breakdowns = summary.get("breakdowns")
    if not isinstance(breakdowns, dict):
        return []
    entries = {k: [e for e in v if isinstance(e, dict)] for k, v in breakdowns.items()}
    groups = _group_order(kb, entries)
    out = []
    if entries.get("municipality"):
        out.append(_heat_table(entries["municipality"], groups, kb))
        out.append(_municipality_competency(entries["municipality"], kb))
    for name, (label, title) in BREAKDOWN_TITLES.items():
        rows = entries.get(name) or []
        if name == "experience":  # bands in their own order, not by size
            order = [b[0] for b in EXPERIENCE_BANDS] + [UNKNOWN]
            rows = sorted(rows, key=lambda e: _band_rank(e.get("key"), order))
        out.append(_breakdown(name, label, title, rows, groups, kb))
    return out


def _band_rank(key: Any, order: list[str]) -> int:
    """Where an experience band goes; a key the summary lacks or mistypes goes last."""
    return order.index(key) if isinstance(key, str) and key in order else len(order)


def _group_order(kb: KnowledgeBase | None, entries: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The groups as columns: the KB's order, then any group only the summary names."""
    seen = {g for rows in entries.values() for e in rows for g in e.get("groups", {})}
    ordered = [g for g in (kb.ontology.groups if kb else {}) if g in seen]
    return ordered + sorted(seen - set(ordered))


def _label(name: str, key: str) -> str:
    if name == "role":
        return ROLE_RU.get(key, key)
    return key


def _breakdown(
    name: str,
    label: str,
    title: str,
    rows: list[dict[str, Any]],
    groups: list[str],
    kb: KnowledgeBase | None,
) -> Table:
    columns = [
        Column(label),
        Column("оценено", "int"),
        Column("с дефицитами", "int"),
        Column("% оценённых", "pct"),
    ]
    columns += [Column(f"{_group_title(kb, g) or g}, %", "pct") for g in groups]
    body = []
    for e in rows:
        people = _int(e.get("people"))
        cells = [e.get("groups", {}).get(g, 0) for g in groups]
        with_deficit = _int(e.get("with_deficit"))
        body.append(
            [_label(name, str(e.get("key"))), people, with_deficit, _pct(with_deficit, people)]
            + [_pct(_int(n), people) for n in cells]
        )
    note = (
        "Стаж: нижняя граница входит в интервал, верхняя — нет "
        "(3 года — в «3–10», 20 лет — в «20+»)."
        if name == "experience"
        else "По группам — % оценённых с дефицитом в группе."
    )
    return Table(f"by_{name}", title, columns, body, note=note, chart=(0, 3))


def _heat_table(rows: list[dict[str, Any]], groups: list[str], kb: KnowledgeBase | None) -> Table:
    columns = [Column("муниципалитет"), Column("оценено", "int")]
    columns += [Column(_group_title(kb, g) or g, "pct") for g in groups]
    body = [
        [str(e.get("key")), _int(e.get("people"))]
        + [_pct(_int(e.get("groups", {}).get(g, 0)), _int(e.get("people"))) for g in groups]
        for e in sorted(rows, key=lambda e: str(e.get("key")))
    ]
    return Table(
        "heatmap",
        "Муниципалитет × группа компетенций: % педагогов с дефицитом",
        columns,
        body,
        note="Чем темнее ячейка, тем больше доля педагогов муниципалитета с дефицитом в группе.",
        heat=True,
    )


def _municipality_competency(rows: list[dict[str, Any]], kb: KnowledgeBase | None) -> Table:
    """Municipality × competency, one row per pair with a deficit (long, for filtering)."""
    body = []
    for e in sorted(rows, key=lambda e: str(e.get("key"))):
        people = _int(e.get("people"))
        comps = e.get("competencies") or {}
        for ref, n in sorted(comps.items(), key=lambda kv: (-_int(kv[1]), kv[0])):
            body.append(
                [str(e.get("key")), _competency_title(kb, ref) or ref, n, _pct(_int(n), people)]
            )
    return Table(
        "municipality_competency",
        "Муниципалитет × компетенция",
        [
            Column("муниципалитет"),
            Column("компетенция"),
            Column("педагогов с дефицитом", "int"),
            Column("% оценённых муниципалитета", "pct"),
        ],
        body,
    )


# --- demand, unmet needs, mentors, schools, overflow --------------------------------


def group_size(kb: KnowledgeBase | None, ref: str) -> tuple[int, int]:
    """A programme's study group size and the fewest people a group opens with.

    The size is the mean seats of the programme's cohort groups, or
    :data:`DEFAULT_GROUP_SIZE` when it has none; the minimum is its ``min_group``,
    else the KB's ``planning.min_group``.

    Parameters
    ----------
    kb : KnowledgeBase, optional
        The KB (defaults alone without it).
    ref : str
        The programme's id.

    Returns
    -------
    (int, int)
        The group size and the minimum group.
    """
    programme = kb.programs.get(ref) if kb is not None else None
    floor = kb.planning.planning.min_group if kb is not None else 1
    if programme is None:
        return DEFAULT_GROUP_SIZE, floor
    size = DEFAULT_GROUP_SIZE
    if programme.groups:
        size = max(1, round(sum(g.seats for g in programme.groups) / len(programme.groups)))
    return size, programme.min_group or floor


def _programmes(summary: dict[str, Any], kb: KnowledgeBase | None) -> Table:
    rows = []
    for r in _rows(summary, "programme_demand"):
        if len(r) != 3:
            continue
        ref, people, hours = str(r[0]), _int(r[1]), r[2]
        size, floor = group_size(kb, ref)
        groups = math.ceil(people / size) if people >= floor else 0
        rows.append([_programme_title(kb, ref) or ref, ref, people, hours, size, groups, floor])
    return Table(
        "programme_demand",
        "Спрос на программы ДПП",
        [
            Column("программа"),
            Column("id"),
            Column("слушателей", "int"),
            Column("часов всего", "hours"),
            Column("размер группы", "int"),
            Column("групп", "int"),
            Column("мин. группа", "int"),
        ],
        rows,
        note=(
            "Размер группы — среднее число мест в группах программы, если они заданы, иначе "
            f"{DEFAULT_GROUP_SIZE}; групп нет, если слушателей меньше минимальной группы."
        ),
        chart=(0, 2),
    )


def _catalogue(sections: dict[str, Any]) -> Table | None:
    rows = sections.get("catalogue_request")
    if rows is None:
        return None
    return Table(
        "catalogue_request",
        "Запрос на новые ДПП: потребности без подходящей программы или наставника в каталоге",
        [
            Column("компетенция"),
            Column("id"),
            Column("потребностей в ДПП", "int"),
            Column("в наставнике", "int"),
            Column("в формате", "int"),
        ],
        [
            [r["title"] or r["competency"], r["competency"], r["program"], r["mentor"], r["format"]]
            for r in rows
        ],
    )


def _unmet(summary: dict[str, Any], kb: KnowledgeBase | None) -> Table | None:
    unmet = _rows(summary, "unmet")
    if not unmet:
        return None
    kinds = {"program": "программа ДПП", "mentor": "наставник", "format": "формат"}
    rows = []
    for key, n in unmet:
        kind, _, ref = str(key).partition(" ")
        rows.append([kinds.get(kind, kind), _competency_title(kb, ref) or ref, n])
    return Table(
        "unmet",
        "Неудовлетворённые потребности (все причины)",
        [Column("что нужно"), Column("компетенция"), Column("потребностей", "int")],
        rows,
    )


def _mentors(summary: dict[str, Any], sections: dict[str, Any]) -> Table | None:
    columns = [
        Column("наставник"),
        Column("id"),
        Column("муниципалитет"),
        Column("мест", "int"),
        Column("наставляемых", "int"),
        Column("школ", "int"),
        Column("свободно", "int"),
        Column("загрузка", "pct"),
    ]
    if "mentor_load" in sections:  # after allocation
        rows = [
            [
                r["name"] or r["id"],
                r["id"],
                r["municipality"],
                r["capacity"],
                r["mentees"],
                r["schools"],
                r["free"],
                _pct(r["mentees"] + r["schools"], r["capacity"] or 0),
            ]
            for r in sections["mentor_load"]
        ]
        title = "Нагрузка наставников после распределения"
    else:  # an older or unplanned run: recommendations against capacity
        rows = [
            [
                m.get("id"),
                m.get("id"),
                m.get("municipality"),
                m.get("capacity"),
                m.get("recommended"),
                m.get("schools", 0),
                None,
                _pct(_int(m.get("recommended")), _int(m.get("capacity"))),
            ]
            for m in summary.get("mentor_load") or []
            if isinstance(m, dict)
        ]
        title = "Нагрузка наставников (рекомендации без распределения)"
    if not rows:
        return None
    return Table("mentor_load", title, columns, rows, note="Загрузка — занято от мест, %.")


def _shortfalls(sections: dict[str, Any]) -> Table | None:
    rows = sections.get("capacity_shortfalls")
    if rows is None:
        return None
    return Table(
        "capacity_shortfalls",
        "Нехватка мест: наставники и программы, на которые спрос больше предложения",
        [
            Column("вид"),
            Column("название"),
            Column("id"),
            Column("мест", "int"),
            Column("занято", "int"),
            Column("не закрыто потребностей", "int"),
            Column("педагогов", "int"),
        ],
        [
            [
                "наставник" if r.get("kind") == "mentor" else "программа ДПП",
                r.get("title") or r.get("id"),
                r.get("id"),
                r.get("places"),
                r.get("taken"),
                r.get("needs"),
                r.get("people"),
            ]
            for r in rows
        ],
    )


def _teams(sections: dict[str, Any]) -> Table | None:
    schools = sections.get("team_support")
    if schools is None:
        return None
    rows = []
    for school in schools:
        for g in school["groups"]:
            mentor = g["mentor"]
            who = f"{mentor} {g['mentor_name'] or ''}".strip() if mentor else None
            rows.append(
                [
                    school["organization"],
                    school["municipality"],
                    g["title"] or g["group"],
                    g["counted"],
                    g["assessed"],
                    g["share_pct"],
                    who or f"не назначена: {g['mentor_reason']}",
                ]
            )
    return Table(
        "team_support",
        "Школы, отмеченные для командного наставничества",
        [
            Column("организация"),
            Column("муниципалитет"),
            Column("группа компетенций"),
            Column("с дефицитом", "int"),
            Column("оценено", "int"),
            Column("% оценённых", "pct"),
            Column("наставник / команда"),
        ],
        rows,
    )


def _overflow(summary: dict[str, Any]) -> Table | None:
    total = _int(summary.get("routes_over_period"))
    reasons = _rows(summary, "overflow_reasons")
    if not total and not reasons:
        return None
    if not reasons:  # an older summary counts them without a reason
        reasons = [["unknown", total]]
    rows: list[list[Any]] = [
        [OVERFLOW_RU.get(str(k), str(k)), n, _pct(_int(n), total)] for k, n in reasons
    ]
    rows += [
        [f"выходит за период: {STEP_KIND_RU.get(str(k), str(k))}", n, _pct(_int(n), total)]
        for k, n in _rows(summary, "overflow_step_kinds")
    ]
    if "overflow_defaulted" in summary:
        n = _int(summary.get("overflow_defaulted"))
        rows.append(
            ["период или нагрузка в месяц не указаны (взяты по умолчанию)", n, _pct(n, total)]
        )
    return Table(
        "overflow",
        f"Маршруты, не умещающиеся в период: {total}, и почему",
        [Column("причина"), Column("маршрутов", "int"), Column("% таких маршрутов", "pct")],
        rows,
        note="Маршрут может выходить за период шагами нескольких видов: строки видов "
        "в сумме дают больше 100 %.",
    )
