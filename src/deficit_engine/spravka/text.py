"""The справка as text: the tables of a terminal (``report --format table``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..labels import format_hours
from .layout import Table, build_tables
from .sections import _competency_title, _group_title, _pct, _rows

if TYPE_CHECKING:
    from ..kb import KnowledgeBase

__all__ = ["render_report", "text_table"]


def text_table(rows: list[list[str]], header: list[str]) -> str:
    """Rows under a header as plain-text columns (the CLI's tables too).

    Parameters
    ----------
    rows : list of list of str
        The cells, row by row.
    header : list of str
        The column titles.

    Returns
    -------
    str
        The header, a rule of dashes, then the rows, columns padded to fit.
    """
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return "\n".join(lines)


def render_report(
    summary: dict[str, Any],
    top: int,
    kb: KnowledgeBase | None = None,
    sections: dict[str, Any] | None = None,
    tables: list[Table] | None = None,
) -> str:
    """The справка as text tables, in Russian.

    The counts and rankings (at most ``top`` rows each, with the KB's titles and
    percents), the severities and the breakdowns, programme demand; then, for a
    planned run, the plan's sections (:func:`plan_sections`); then the request
    for new ДПП, the unmet needs and the routes over their period. A summary
    written before cohort plans (no ``plan`` key) is shown as it was: the
    mentors' recommendations against their capacity.

    Parameters
    ----------
    summary : dict
        summary.json of a batch.
    top : int
        Rows per ranking.
    kb : KnowledgeBase, optional
        Titles of competencies, groups and programmes (ids alone without it).
    sections : dict, optional
        The plan's sections, as :func:`plan_sections` makes them.
    tables : list of Table, optional
        The справка's tables (:func:`build_tables`; made here when not given),
        with ``against``'s table among them when comparing two runs.

    Returns
    -------
    str
        The report.
    """
    sections = sections or {}
    if tables is None:
        tables = build_tables(summary, kb, sections)
    by_key = {t.key: t for t in tables}
    evaluated = summary.get("evaluated")
    assessed = evaluated if isinstance(evaluated, int) else 0
    out = [
        f"Профилей: {summary.get('profiles')}; оценено: {summary.get('evaluated')}; "
        f"отложено с ошибками: {summary.get('set_aside')}; "
        f"маршрутов, не умещающихся в период: {summary.get('routes_over_period')}",
        *_against(by_key, top),
        "",
        "Распространённость дефицитов (педагогов)",
        text_table(
            [
                [str(c), _competency_title(kb, c), str(n), _pct_text(_pct(n, assessed))]
                for c, n in _rows(summary, "deficit_prevalence")[:top]
            ],
            ["компетенция", "название", "педагогов", "% оценённых"],
        ),
        "",
        "По группам компетенций (педагогов с дефицитом в группе)",
        text_table(
            [
                [str(g), _group_title(kb, g), str(n), _pct_text(_pct(n, assessed))]
                for g, n in _rows(summary, "groups_people")
            ],
            ["группа", "название", "педагогов", "% оценённых"],
        ),
        "",
        "По муниципалитетам",
        text_table(
            [
                [str(m), str(n), str(d), _pct_text(_pct(d, n))]
                for m, n, d in _rows(summary, "municipalities")
            ],
            ["муниципалитет", "оценено", "с дефицитами", "% оценённых"],
        ),
    ]
    for key in ("severity", "heatmap", "by_organization", "by_role", "by_experience"):
        out.extend(_generic(by_key.get(key), top))
    out.extend(_generic(by_key.get("programme_demand"), top))
    if "plan" in sections:
        out.extend(_plan_text(sections, top))
    else:
        out.extend(_mentor_load(summary, top))
    out.extend(_catalogue_text(sections, top))
    out.extend(_unmet_needs(summary, top, kb))
    out.extend(_generic(by_key.get("overflow"), top))
    for key in ("effectiveness_steps", "effectiveness_places"):  # from a store, every row
        out.extend(_generic(by_key.get(key), 10**9))
    return "\n".join(out)


def _against(by_key: dict[str, Table], top: int) -> list[str]:
    """The before/after table first: it is what a comparison is asked for."""
    table = by_key.get("against")
    return _generic(table, 10**9) if table is not None else []


def _generic(table: Table | None, top: int) -> list[str]:
    """Any of the справка's tables as text: its title, its rows (``top`` at most), its note."""
    if table is None:
        return []
    rows = [
        [_value_text(v, c.kind) for v, c in zip(r, table.columns, strict=True)] for r in table.rows
    ]
    out = ["", table.title]
    if not rows:
        return [*out, "нет данных"]
    out += [text_table(rows[:top], [c.title for c in table.columns]), *_more(rows, top)]
    return [*out, table.note] if table.note else out


def _value_text(value: object, kind: str) -> str:
    """A cell as text: percents with a comma and «%», points with their sign, hours."""
    if value is None or value == "":
        return "—"
    if kind == "pct":
        return _pct_text(value)
    if kind == "pp" and isinstance(value, int | float):
        return f"{value:+.1f}".replace(".", ",").replace("-", "−")
    if kind == "hours" and isinstance(value, int | float):
        return format_hours(float(value))
    return str(value)


def _pct_text(value: object) -> str:
    """A percent as Russian text shows it: ``20,5 %`` (``—`` when there is none)."""
    if not isinstance(value, int | float):
        return "—"
    return f"{value:.1f} %".replace(".", ",")


def _mentor_load(summary: dict[str, Any], top: int) -> list[str]:
    """A run without a plan: each mentor's recommendations against their capacity."""
    mentors = summary.get("mentor_load")
    if not isinstance(mentors, list) or not mentors:
        return []
    over = [m for m in mentors if isinstance(m, dict) and m.get("over_capacity")]
    rows = [
        [str(m.get(key)) for key in ("id", "municipality", "recommended", "capacity")]
        for m in mentors[:top]
        if isinstance(m, dict)
    ]
    return [
        "",
        f"Нагрузка наставников (сверх свободных мест: {len(over)})",
        text_table(rows, ["наставник", "муниципалитет", "рекомендован", "мест"]),
    ]


def _unmet_needs(summary: dict[str, Any], top: int, kb: KnowledgeBase | None) -> list[str]:
    unmet = _rows(summary, "unmet")
    if not unmet:
        return []
    rows = [[str(k), _competency_title(kb, str(k).partition(" ")[2]), str(n)] for k, n in unmet]
    return [
        "",
        "Неудовлетворённые потребности (все причины)",
        text_table(rows[:top], ["потребность", "компетенция", "потребностей"]),
    ]


def _plan_text(sections: dict[str, Any], top: int) -> list[str]:
    """The plan's sections as text: figures, mentor load, shortfalls, team support."""
    plan = sections["plan"]
    out = [
        "",
        "План когорты",
        f"Наставляемых: {plan.get('mentees')}; получили наставника: "
        f"{plan.get('mentees_placed')} ({_pct_text(plan.get('mentees_placed_pct'))}); "
        f"наибольшее возможное при этих местах и каталоге: {plan.get('mentee_bound')} "
        f"(план достиг {_pct_text(plan.get('bound_reached_pct'))} от него)",
        f"Пар «наставляемый – форма наставничества»: {plan.get('units')}; обеспечено: "
        f"{plan.get('units_placed')} ({_pct_text(plan.get('units_placed_pct'))})",
        f"Школ, отмеченных для командного наставничества: {plan.get('schools_flagged')}; "
        f"получили команду наставников: {plan.get('schools_placed')} "
        f"({_pct_text(plan.get('schools_placed_pct'))})",
        "Очных групп программ, не открытых из-за малой численности "
        f"(программа × муниципалитет): {plan.get('closed_groups')}",
    ]
    out.extend(_mentor_text(sections, top))
    out.extend(_shortfall_text(sections, top))
    out.extend(_team_text(sections, top))
    return out


def _more(rows: list[Any], top: int) -> list[str]:
    """A line saying how many rows a table left out (none when it shows them all)."""
    return [f"… и ещё {len(rows) - top}"] if len(rows) > top else []


def _cell(value: object) -> str:
    return "—" if value is None or value == "" else str(value)


def _mentor_text(sections: dict[str, Any], top: int) -> list[str]:
    places, rows = sections["mentor_places"], sections["mentor_load"]
    over = sum(1 for r in rows if r["over_capacity"])
    table = [
        [
            r["id"],
            _cell(r["name"]),
            _cell(r["organization"]),
            _cell(r["municipality"]),
            _cell(r["capacity"]),
            str(r["mentees"]),
            str(r["schools"]),
            _cell(r["free"]),
        ]
        for r in rows[:top]
    ]
    header = ["наставник", "имя", "организация", "муниципалитет", "мест"]
    return [
        "",
        f"Нагрузка наставников после распределения: мест {places['capacity']}, "
        f"занято {places['taken']}, свободно {places['free']}; наставников без "
        f"наставляемых: {places['idle']} из {places['mentors']}; сверх мест: {over}"
        + (
            f"; коллеги из когорты: {places['colleagues']} наставников, "
            f"{places['colleague_mentees']} наставляемых"
            if places["colleagues"]
            else ""
        ),
        text_table(table, [*header, "наставляемых", "школ", "свободно"]),
        *_more(rows, top),
    ]


def _shortfall_text(sections: dict[str, Any], top: int) -> list[str]:
    rows = sections["capacity_shortfalls"]
    by_comp = sections["capacity_by_competency"]
    out = ["", "Нехватка мест: спрос больше предложения"]
    if not rows:
        return [*out, "Мест у подходящих наставников и программ хватило всем."]
    out.append(
        "Наставники и программы, которые подходили педагогу, но места для него не нашлось "
        "(места заняты, группа не в периоде маршрута или очная группа не набрана), и "
        "сколько потребностей остались из-за этого незакрытыми (потребность, которую "
        "мог закрыть любой из нескольких, считается у каждого)"
    )
    for kind, title in (("mentor", "Наставники"), ("program", "Программы ДПП")):
        out.extend(_shortfall_table([r for r in rows if r.get("kind") == kind], title, top))
    out += [
        "",
        "Не закрыто из-за нехватки мест, по компетенциям (потребностей)",
        text_table(
            [
                [r["competency"], _cell(r["title"]), str(r["program"]), str(r["mentor"])]
                for r in by_comp[:top]
            ],
            ["компетенция", "название", "ДПП", "наставник"],
        ),
        *_more(by_comp, top),
    ]
    if sections.get("one_per_form"):
        out.append(
            "Потребностей в наставнике, не закрытых потому, что у педагога уже есть "
            f"наставник в этой форме: {sections['one_per_form']}"
        )
    return out


def _shortfall_table(rows: list[dict[str, Any]], title: str, top: int) -> list[str]:
    """One kind's exhausted items: places, taken, needs and people left unmet."""
    if not rows:
        return []
    table = [
        [
            str(r.get("id")),
            _cell(r.get("title")),
            _cell(r.get("municipality")),
            "без лимита" if r.get("places") is None else str(r.get("places")),
            str(r.get("taken")),
            str(r.get("needs")),
            str(r.get("people")),
        ]
        for r in rows[:top]
    ]
    header = ["id", "название", "муниципалитет", "мест", "занято"]
    return [
        "",
        f"{title}: {len(rows)}",
        text_table(table, [*header, "не закрыто потребностей", "педагогов"]),
        *_more(rows, top),
    ]


def _catalogue_text(sections: dict[str, Any], top: int) -> list[str]:
    rows = sections.get("catalogue_request")
    if not rows:
        return []
    return [
        "",
        "Запрос на новые ДПП: потребности, для которых в каталоге нет подходящей "
        "программы (или наставника)",
        text_table(
            [
                [r["competency"], _cell(r["title"]), str(r["program"]), str(r["mentor"])]
                for r in rows[:top]
            ],
            ["компетенция", "название", "ДПП", "наставник"],
        ),
        *_more(rows, top),
    ]


def _team_text(sections: dict[str, Any], top: int) -> list[str]:
    rows = sections.get("team_support")
    if rows is None:
        return []
    placed = sum(1 for r in rows if r["mentor"] is not None)
    out = [
        "",
        f"Школы, отмеченные для командного наставничества: {len(rows)}; "
        f"получили команду наставников: {placed}",
    ]
    if not rows:
        return out
    table = []
    for r in rows[:top]:
        # one line per flagged group with its mentor; the school on the first
        first = [r["organization"], _cell(r["municipality"])]
        for n, g in enumerate(r["groups"]):
            school = first if n == 0 else ["", ""]
            team = _team_mentor(g)
            table.append([*school, g["title"] or g["group"], _pct_text(g["share_pct"]), team])
    header = ["организация", "муниципалитет", "группа", "с дефицитом"]
    return [*out, text_table(table, [*header, "команда наставников"]), *_more(rows, top)]


def _team_mentor(row: dict[str, Any]) -> str:
    """The team mentor and where they are from, or why there is none."""
    if row["mentor"] is None:
        return f"не назначена: {row['mentor_reason']}"
    where = ", ".join(str(v) for v in (row["mentor_organization"], row["mentor_municipality"]) if v)
    name = f"{row['mentor']} {row['mentor_name'] or ''}".rstrip()
    return f"{name} ({where})" if where else name
