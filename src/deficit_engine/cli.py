"""The ``deficit-engine`` command: argument parsing and exit codes only.

Exit codes: 0 success, 1 a finding (invalid KB, failed scenario), 2 bad usage
or unreadable input, 3 an internal error (a bug: please report it). Errors go
to stderr, one line each, never a traceback.

Each command imports the parts of the package it needs when it runs, so that
``--help``, ``--version`` and ``schema`` do not pay for the engine (a second
or so of imports: pydantic, networkx, durable_rules, the compiled rules).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .choices import BACKENDS, EXPORT_FORMATS
from .errors import (
    DeficitEngineError,
    EvaluationError,
    Issue,
    KnowledgeBaseError,
    SourceError,
    UsageError,
)

if TYPE_CHECKING:
    from .engine import Engine
    from .kb import KnowledgeBase
    from .models import Result
    from .schema import Mentor, Profile

__all__ = ["main"]

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

#: PROFILE to read the profile from standard input.
STDIN_ARGUMENT = "-"


class _Finding(Exception):
    """A problem the command found and has already described (exit 1)."""


def _kb_dir(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_dir():
        raise UsageError(f"--kb {value}: not a directory")
    return path


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a KB, then analyse its rules (deficit_engine.analysis).

    Errors are printed first (``path:line:col: code: message``), then warnings
    (``path:line:col: warning: code: message``); only errors make the check
    fail, unless ``--strict`` promotes the warnings to errors.
    """
    from .analysis import analyse
    from .loader import check_kb

    kb, issues = check_kb(_kb_dir(args.kb))
    if kb is not None:
        issues = [*issues, *analyse(kb)]
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity == "warning"]
    if args.strict:
        errors, warnings = [*errors, *warnings], []
    _print_issues(errors, warnings)
    if errors:
        print(f"{len(errors)} error(s), {len(warnings)} warning(s)", file=sys.stderr)
        return EXIT_FINDING
    assert kb is not None
    tail = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"ok: {kb.root}: {kb.summary()}{tail}")
    return EXIT_OK


def _print_issues(errors: list[Issue], warnings: list[Issue]) -> None:
    for issue in errors:
        print(f"{issue.location}: {issue.code}: {_issue_text(issue)}", file=sys.stderr)
    for issue in warnings:
        print(f"{issue.location}: warning: {issue.code}: {_issue_text(issue)}", file=sys.stderr)


def _issue_text(issue: Issue) -> str:
    if issue.suggestion:
        return f"{issue.message} (did you mean '{issue.suggestion}'?)"
    return issue.message


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema

    print(json.dumps(json_schema(args.kind), ensure_ascii=False, indent=2))
    return EXIT_OK


def _engine(args: argparse.Namespace) -> Engine:
    from .engine import Engine

    try:
        return Engine.from_path(_kb_dir(args.kb), backend=args.backend)
    except KnowledgeBaseError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        raise _Finding(
            f"the knowledge base has {len(exc.issues)} problem(s); run 'deficit-engine check'"
        ) from None


def _profile(args: argparse.Namespace, engine: Engine) -> Profile:
    """The PROFILE argument read and validated (its problems reach ``main`` as a
    SourceError: one line each, exit 2)."""
    source, data = _read_profile(args.profile)
    return engine.parse(data, source=source)


def _read_profile(argument: str) -> tuple[str, Any]:
    """(how issues name the input, the document) of a PROFILE file, or of stdin for ``-``."""
    from .profile import STDIN, read_profile_file, read_profile_stream

    if argument == STDIN_ARGUMENT:
        return STDIN, read_profile_stream(sys.stdin.buffer)
    path = Path(argument)
    if not path.is_file():
        raise UsageError(f"{argument}: no such file")
    return str(path), read_profile_file(path)


def _evaluate(args: argparse.Namespace) -> tuple[Engine, Result]:
    engine = _engine(args)
    return engine, engine.evaluate(_profile(args, engine))


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return "\n".join(lines)


def _fmt_fact(fact: dict[str, object]) -> str:
    body = ", ".join(f"{k}={v}" for k, v in fact.items() if k != "type")
    return f"{fact['type']}({body})"


def render_diagnosis(engine: Engine, result: Result, explain: bool) -> str:
    onto = engine.kb.ontology
    titles = {r.id: r.title for r in engine.kb.rules}
    out = [
        f"Профиль {result.profile}: дефицитов {len(result.deficits)}, "
        f"потребностей {len(result.needs)}"
    ]
    if result.deficits:
        rows = [
            [
                d.competency,
                onto.competencies[d.competency].title if d.competency in onto.competencies else "",
                d.severity,
                "" if d.score_pct is None else f"{d.score_pct:g} %",
                d.rule,
            ]
            for d in result.deficits
        ]
        out += [
            "",
            "Дефициты",
            _table(rows, ["компетенция", "название", "уровень", "результат", "правило"]),
        ]
    else:
        out += ["", "Дефицитов не выявлено."]
    if result.needs:
        rows = [
            [n.kind, n.competency or "", ", ".join(f"{k}={v}" for k, v in n.filters), n.rule]
            for n in result.needs
        ]
        out += ["", "Потребности", _table(rows, ["вид", "компетенция", "условия", "правило"])]
    if result.facts:
        out += ["", "Выведенные факты"] + [f"  {_fmt_fact(f)}" for f in result.facts]
    if explain:
        out += [
            "",
            f"Объяснение (сработало правил: {len(result.fired)}, "
            f"срабатываний: {len(result.trace)})",
        ]
        for i, entry in enumerate(result.trace, 1):
            out.append(f"{i:>3}. {entry.rule} — {titles.get(entry.rule, '')}")
            for fact in entry.matched:
                out.append(f"       по: {_fmt_fact(fact)}")
            for fact in entry.asserted:
                out.append(f"       => {_fmt_fact(fact)}")
            if not entry.asserted:
                out.append("       => (ничего нового)")
    return "\n".join(out)


def cmd_diagnose(args: argparse.Namespace) -> int:
    engine, result = _evaluate(args)
    if args.format == "json":
        print(result.to_json(trace=True))
    else:
        print(render_diagnosis(engine, result, args.explain))
    return EXIT_OK


def _write_whole(name: str, text: str) -> None:
    """Write ``text`` to ``name`` whole or not at all (a temp file, then os.replace)."""
    target = Path(name)
    if target.is_dir():
        raise UsageError(f"-o {name}: is a directory")
    folder = target.parent
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else None
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"-o {name}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"-o {name}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cmd_route(args: argparse.Namespace) -> int:
    from . import export

    engine = _engine(args)
    profile = _profile(args, engine)
    result = engine.evaluate(profile)
    text = export.render(args.format, engine.kb, profile, result)
    if args.output:
        _write_whole(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    """Evaluate a cohort file into OUTDIR; exit 1 if any profile was set aside."""
    from .cohort import run_batch

    source = Path(args.input)
    if not source.is_file():
        raise UsageError(f"{args.input}: no such file")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    engine = _engine(args)
    summary = run_batch(
        engine,
        source,
        Path(args.output),
        workers=args.workers,
        trace=args.trace,
        encoding=args.encoding,
        allocate=args.allocate,
    )
    print(
        f"{summary.profiles} profile(s): {summary.evaluated} evaluated, "
        f"{summary.set_aside} set aside; results in {args.output}"
    )
    if summary.plan is not None:
        plan = summary.plan
        print(
            f"plan: {plan['mentees_placed']} of {plan['mentees']} mentee(s) given a mentor "
            f"(at most {plan['mentee_bound']} possible), {plan['schools_placed']} of "
            f"{plan['schools_flagged']} flagged school(s) a mentor team; "
            f"allocation {summary.allocation_seconds:.2f} s"
        )
    if summary.set_aside:
        print(f"see {Path(args.output) / 'errors.jsonl'} for the reasons", file=sys.stderr)
        return EXIT_FINDING
    return EXIT_OK


def render_report(
    summary: dict[str, Any],
    top: int,
    kb: KnowledgeBase | None = None,
    sections: dict[str, Any] | None = None,
) -> str:
    """Cohort analytics as text tables, in Russian.

    The counts and rankings (at most ``top`` rows each, with the KB's titles),
    then, for a planned run, the plan's sections (:func:`plan_sections`), then
    the unmet needs. A summary written before cohort plans (no ``plan`` key) is
    shown as it was: the mentors' recommendations against their capacity.

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

    Returns
    -------
    str
        The report.
    """
    sections = sections or {}
    out = [
        f"Профилей: {summary.get('profiles')}; оценено: {summary.get('evaluated')}; "
        f"отложено с ошибками: {summary.get('set_aside')}; "
        f"маршрутов, не умещающихся в период: {summary.get('routes_over_period')}",
        "",
        "Распространённость дефицитов (педагогов)",
        _table(
            [
                [str(c), _competency_title(kb, c), str(n)]
                for c, n in _rows(summary, "deficit_prevalence")[:top]
            ],
            ["компетенция", "название", "педагогов"],
        ),
        "",
        "По группам компетенций (педагогов с дефицитом в группе)",
        _table(
            [[str(g), _group_title(kb, g), str(n)] for g, n in _rows(summary, "groups_people")],
            ["группа", "название", "педагогов"],
        ),
        "",
        "По муниципалитетам",
        _table(
            [[str(m), str(n), str(d)] for m, n, d in _rows(summary, "municipalities")],
            ["муниципалитет", "оценено", "с дефицитами"],
        ),
        "",
        "Спрос на программы ДПП",
        _table(
            [
                [str(p), _programme_title(kb, p), str(n), str(h)]
                for p, n, h in _rows(summary, "programme_demand")[:top]
            ],
            ["программа", "название", "слушателей", "часов всего"],
        ),
    ]
    if "plan" in sections:
        out.extend(_plan_text(sections, top))
    else:
        out.extend(_mentor_load(summary, top))
    out.extend(_catalogue_text(sections, top))
    return "\n".join([*out, *_unmet_needs(summary, top, kb)])


def _rows(summary: dict[str, Any], key: str) -> list[list[Any]]:
    """A ranking of the summary as rows (none when the key is missing or malformed)."""
    value = summary.get(key)
    if not isinstance(value, list):
        return []
    return [list(r) for r in value if isinstance(r, list)]


def _competency_title(kb: KnowledgeBase | None, ref: object) -> str:
    found = kb.ontology.competencies.get(str(ref)) if kb is not None else None
    return found.title if found is not None else ""


def _group_title(kb: KnowledgeBase | None, ref: object) -> str:
    found = kb.ontology.groups.get(str(ref)) if kb is not None else None
    return found.title if found is not None else ""


def _programme_title(kb: KnowledgeBase | None, ref: object) -> str:
    found = kb.programs.get(str(ref)) if kb is not None else None
    return found.title if found is not None else ""


def _pct(part: int, whole: int) -> float | None:
    """``part`` as a percent of ``whole`` to 1 decimal (None when ``whole`` is 0)."""
    return round(100 * part / whole, 1) if whole > 0 else None


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
        _table(rows, ["наставник", "муниципалитет", "рекомендован", "мест"]),
    ]


def _unmet_needs(summary: dict[str, Any], top: int, kb: KnowledgeBase | None) -> list[str]:
    unmet = _rows(summary, "unmet")
    if not unmet:
        return []
    rows = [[str(k), _competency_title(kb, str(k).partition(" ")[2]), str(n)] for k, n in unmet]
    return [
        "",
        "Неудовлетворённые потребности (все причины)",
        _table(rows[:top], ["потребность", "компетенция", "потребностей"]),
    ]


# --- the plan's sections: data (the json format) first, then their text ---------------


def plan_sections(
    summary: dict[str, Any], kb: KnowledgeBase | None, schools: dict[str, Any] | None
) -> dict[str, Any]:
    """What a planned run's report shows, with the KB's titles (the json format's ``report``).

    Parameters
    ----------
    summary : dict
        summary.json of a batch.
    kb : KnowledgeBase, optional
        Titles, mentors' places and municipalities (ids alone without it).
    schools : dict, optional
        schools.json of the batch (no team support section without it).

    Returns
    -------
    dict
        ``plan`` (the figures with percents), ``mentor_places`` and ``mentor_load``
        (after allocation, with free places), ``capacity_shortfalls`` (the mentors
        and programmes whose places ran out), ``capacity_by_competency``,
        ``one_per_form``, ``team_support`` -- each only for a planned run -- and
        ``catalogue_request`` (needs the catalogue has nothing for) whenever the
        summary counts unmet needs by cause. Empty for a summary of neither.
    """
    out: dict[str, Any] = {}
    plan = summary.get("plan")
    by_cause = _by_cause(summary)
    if isinstance(plan, dict):
        teams = _team_rows(kb, schools)
        out["plan"] = _plan_figures(plan)
        out.update(_mentor_sections(summary, kb, teams))
        out["capacity_shortfalls"] = _shortfall_rows(summary, kb)
        out["capacity_by_competency"] = _by_competency(kb, by_cause, "capacity")
        out["one_per_form"] = sum(
            n for k, c, _comp, n in by_cause if (k, c) == ("mentor", "one_per_form")
        )
        if teams is not None:
            out["team_support"] = teams
    if "unmet_by_cause" in summary:
        out["catalogue_request"] = _by_competency(kb, by_cause, "catalogue")
    return out


def _by_cause(summary: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]), r[3])
        for r in _rows(summary, "unmet_by_cause")
        if len(r) == 4 and isinstance(r[3], int)
    ]


def _plan_figures(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan's figures with the percents a reader asks for first."""

    def count(key: str) -> int:
        value = plan.get(key)
        return value if isinstance(value, int) else 0

    return {
        **plan,
        "mentees_placed_pct": _pct(count("mentees_placed"), count("mentees")),
        "bound_reached_pct": _pct(count("mentees_placed"), count("mentee_bound")),
        "units_placed_pct": _pct(count("units_placed"), count("units")),
        "schools_placed_pct": _pct(count("schools_placed"), count("schools_flagged")),
    }


def _mentor_sections(
    summary: dict[str, Any], kb: KnowledgeBase | None, teams: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Every mentor's load after allocation: people (pairings, one per mentoring form)
    from the summary, schools from the team support; their places and what is free."""
    people: dict[str, int] = {}
    capacities: dict[str, int] = {}  # as the batch counted them: colleagues' too
    for m in summary.get("mentor_load") or []:
        if isinstance(m, dict) and isinstance(m.get("recommended"), int):
            people[str(m.get("id"))] = m["recommended"]
            if isinstance(m.get("capacity"), int):
                capacities[str(m.get("id"))] = m["capacity"]
    school_load: dict[str, int] = {}
    for team in teams or []:
        for mentor in team["mentors"]:  # a school counts once per mentor it got
            school_load[mentor] = school_load.get(mentor, 0) + 1
    catalogue = dict(kb.mentors) if kb is not None else {}
    rows = []
    for ref in sorted(
        {*people, *school_load},
        key=lambda r: (-(people.get(r, 0) + school_load.get(r, 0)), r),
    ):
        mentor = catalogue.get(ref)
        capacity = mentor.capacity if mentor is not None else capacities.get(ref)
        taken = people.get(ref, 0) + school_load.get(ref, 0)
        rows.append(
            {
                "id": ref,
                "name": mentor.name if mentor else _colleague_name(ref),
                "organization": mentor.organization if mentor else None,
                "municipality": mentor.municipality if mentor else None,
                "mentees": people.get(ref, 0),
                "schools": school_load.get(ref, 0),
                "capacity": capacity,
                "free": None if capacity is None else max(0, capacity - taken),
                "over_capacity": 0 if capacity is None else max(0, taken - capacity),
            }
        )
    return {"mentor_places": _mentor_places(catalogue, people, school_load), "mentor_load": rows}


def _colleague_name(ref: str) -> str | None:
    """A colleague of the cohort mentoring (planning.colleague_mentors) is named as
    the planner names them, without personal data; None for an id the KB lacks."""
    from .planner.plan import COLLEAGUE_PREFIX

    return "Коллега из когорты" if ref.startswith(COLLEAGUE_PREFIX) else None


def _mentor_places(
    catalogue: dict[str, Mentor], people: dict[str, int], schools: dict[str, int]
) -> dict[str, int]:
    """The KB pool's places in all: given, free, and mentors nobody was given to; and
    the colleagues of the cohort who mentor (outside the pool) with their mentees."""
    taken = {ref: people.get(ref, 0) + schools.get(ref, 0) for ref in catalogue}
    colleagues = [ref for ref in people if ref not in catalogue and _colleague_name(ref)]
    return {
        "colleagues": len(colleagues),
        "colleague_mentees": sum(people[ref] for ref in colleagues),
        "mentors": len(catalogue),
        "capacity": sum(m.capacity for m in catalogue.values()),
        "taken": sum(taken.values()),
        "free": sum(max(0, m.capacity - taken[ref]) for ref, m in catalogue.items()),
        "idle": sum(1 for ref, m in catalogue.items() if m.capacity > 0 and not taken[ref]),
    }


def _shortfall_rows(summary: dict[str, Any], kb: KnowledgeBase | None) -> list[dict[str, Any]]:
    """The summary's capacity shortfalls with each item's title and place."""
    rows = []
    for item in summary.get("capacity_shortfalls") or []:
        if not isinstance(item, dict):
            continue
        ref = str(item.get("id"))
        row = dict(item)
        if item.get("kind") == "mentor":
            mentor = kb.mentors.get(ref) if kb is not None else None
            row["title"] = mentor.name if mentor else _colleague_name(ref)
            row["municipality"] = mentor.municipality if mentor else None
        else:
            row["title"] = _programme_title(kb, ref) or None
            row["municipality"] = None
        rows.append(row)
    return rows


def _by_competency(
    kb: KnowledgeBase | None, by_cause: list[tuple[str, str, str, int]], cause: str
) -> list[dict[str, Any]]:
    """Needs unmet for ``cause`` per competency and kind, most programme needs first."""
    counts: dict[str, dict[str, int]] = {}
    for kind, c, competency, n in by_cause:
        if c == cause:
            row = counts.setdefault(competency, {"program": 0, "mentor": 0, "format": 0})
            row[kind] = row.get(kind, 0) + n
    rows = []
    for competency, kinds in counts.items():
        found = kb.ontology.competencies.get(competency) if kb is not None else None
        rows.append(
            {
                "competency": competency,
                "title": found.title if found else None,
                "group": found.group if found else None,
                **kinds,
            }
        )
    return sorted(
        rows,
        key=lambda r: (
            -r["program"],
            -sum(r[k] for k in ("program", "mentor", "format")),
            r["competency"],
        ),
    )


def _team_rows(
    kb: KnowledgeBase | None, schools: dict[str, Any] | None
) -> list[dict[str, Any]] | None:
    """schools.json's flagged schools, one row per school with its groups and team mentor."""
    if schools is None:
        return None
    rows: dict[str, dict[str, Any]] = {}
    for flag in schools.get("team_support") or []:
        if not isinstance(flag, dict):
            continue
        org = str(flag.get("organization"))
        mentor = flag.get("mentor")
        found = kb.mentors.get(str(mentor)) if kb is not None and mentor else None
        # each flag has the mentor of its own form (a team, a management mentor)
        who = {
            "mentor": mentor,
            "mentor_name": found.name if found else None,
            "mentor_organization": found.organization if found else None,
            "mentor_municipality": found.municipality if found else None,
            "mentor_reason": flag.get("mentor_reason"),
        }
        row = rows.setdefault(
            org,
            {
                "organization": org,
                "municipality": flag.get("municipality"),
                "groups": [],
                "mentors": [],
                **who,
            },
        )
        if row["mentor"] is None and mentor is not None:
            row.update(who)  # the school's first mentor, for ordering and counts
        if mentor is not None and mentor not in row["mentors"]:
            row["mentors"].append(mentor)
        row["groups"].append(
            {
                "group": flag.get("group"),
                "title": _group_title(kb, flag.get("group")) or None,
                "share_pct": flag.get("share_pct"),
                "counted": flag.get("counted"),
                "assessed": flag.get("assessed"),
                "rule": flag.get("rule"),
                **who,
            }
        )
    # the schools given a team first: a reader looks for who supports whom
    return sorted(rows.values(), key=lambda r: r["mentor"] is None)


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
        _table(table, [*header, "наставляемых", "школ", "свободно"]),
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
        _table(
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
        _table(table, [*header, "не закрыто потребностей", "педагогов"]),
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
        _table(
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
    return [*out, _table(table, [*header, "команда наставников"]), *_more(rows, top)]


def _team_mentor(row: dict[str, Any]) -> str:
    """The team mentor and where they are from, or why there is none."""
    if row["mentor"] is None:
        return f"не назначена: {row['mentor_reason']}"
    where = ", ".join(str(v) for v in (row["mentor_organization"], row["mentor_municipality"]) if v)
    name = f"{row['mentor']} {row['mentor_name'] or ''}".rstrip()
    return f"{name} ({where})" if where else name


def cmd_report(args: argparse.Namespace) -> int:
    """Print the analytics of a batch output folder (table or json)."""
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    outdir = Path(args.outdir)
    summary = _read_output(outdir / "summary.json")
    if summary is None:
        raise UsageError(f"{outdir / 'summary.json'}: not found (run 'deficit-engine batch' first)")
    schools = _read_output(outdir / "schools.json")
    kb = _report_kb(args)
    sections = plan_sections(summary, kb, schools)
    if args.format == "json":
        report = {**summary, "report": sections} if sections else summary
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(render_report(summary, args.top, kb, sections))
    return EXIT_OK


def _read_output(path: Path) -> dict[str, Any] | None:
    """A JSON object a batch wrote (None when the file is not there)."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not what 'deficit-engine batch' writes (a JSON object)")
    return data


def _report_kb(args: argparse.Namespace) -> KnowledgeBase:
    """The KB whose titles, mentors and places the report names (its rules are not needed)."""
    from .loader import load_kb

    try:
        return load_kb(_kb_dir(args.kb), with_rules=False)
    except KnowledgeBaseError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        raise _Finding(
            f"the knowledge base has {len(exc.issues)} problem(s); run 'deficit-engine check'"
        ) from None


def cmd_test(args: argparse.Namespace) -> int:
    """Run Gherkin scenarios (default: the KB's own features/), then print rule coverage."""
    from .testing.runner import run_features

    return run_features(args.features, kb=args.kb, min_coverage=args.min_coverage)


KB_HELP = "knowledge base folder (default: the shipped one)"
BACKEND_HELP = "inference backend (default: durable where it imports)"
PROFILE_HELP = "a profile file (YAML or JSON); - reads it from stdin"


def _kb_options(backend: str | None = None) -> argparse.ArgumentParser:
    """``--kb``, and with ``backend`` (its help, or ``argparse.SUPPRESS`` to hide it)
    ``--backend``: declared here once for every command that takes them (``parents=``)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--kb", help=KB_HELP)
    if backend is not None:
        options.add_argument("--backend", choices=BACKENDS, default=None, help=backend)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deficit-engine", description="Professional deficits of teachers -> ИОМ"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    kb_only = _kb_options()
    engine = _kb_options(backend=BACKEND_HELP)

    check = sub.add_parser(
        "check", parents=[kb_only], help="validate a knowledge base; exit 1 on problems"
    )
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(func=cmd_check)

    diagnose = sub.add_parser(
        "diagnose", parents=[engine], help="infer the deficits and needs of one profile"
    )
    diagnose.add_argument("profile", help=PROFILE_HELP)
    diagnose.add_argument(
        "--explain", action="store_true", help="show every rule firing (table format)"
    )
    diagnose.add_argument("--format", choices=["json", "table"], default="table")
    diagnose.set_defaults(func=cmd_diagnose)

    route = sub.add_parser(
        "route",
        parents=[engine],
        help="recommend programmes, mentors and formats; build and render the ИОМ",
    )
    route.add_argument("profile", help=PROFILE_HELP)
    route.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="md",
        help="json: the whole Result with the trace; md/html: the ИОМ document; "
        "mermaid/dot: the route graph (default: md)",
    )
    route.add_argument("-o", "--output", metavar="FILE", help="write to FILE (whole or not at all)")
    route.set_defaults(func=cmd_route)

    test = sub.add_parser(
        "test",
        parents=[kb_only],
        help="run Gherkin scenarios; print each result and the rule coverage",
    )
    test.add_argument(
        "features",
        nargs="*",
        metavar="FEATURE",
        help="feature files or folders (default: the KB's features/)",
    )
    test.add_argument(
        "--min-coverage",
        type=float,
        metavar="N",
        default=None,
        help="fail when fewer than N %% of the rules fired",
    )
    test.set_defaults(func=cmd_test)

    batch = sub.add_parser(
        "batch",
        parents=[_kb_options(backend=argparse.SUPPRESS)],
        help="evaluate a cohort (CSV, JSONL or XLSX) into a folder",
    )
    batch.add_argument("input", help="a .csv, .jsonl or .xlsx file of profiles")
    batch.add_argument("-o", "--output", required=True, help="the output folder (new or empty)")
    batch.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per core)"
    )
    batch.add_argument(
        "--trace", action="store_true", help="keep each Result's trace in results.jsonl"
    )
    batch.add_argument(
        "--encoding",
        default=None,
        help="the text encoding of a CSV or JSONL input (default: detected; e.g. cp1251)",
    )
    batch.add_argument(
        "--no-allocate",
        dest="allocate",
        action="store_false",
        help="resolve each person alone, ignoring the cohort's shared capacity",
    )
    batch.set_defaults(func=cmd_batch)

    report = sub.add_parser(
        "report", parents=[kb_only], help="cohort analytics of a batch output folder"
    )
    report.add_argument("outdir", help="a folder written by 'deficit-engine batch'")
    report.add_argument("--format", choices=["table", "json"], default="table")
    report.add_argument("--top", type=int, default=15, help="rows per ranking (default 15)")
    report.set_defaults(func=cmd_report)

    schema = sub.add_parser("schema", help="print the JSON Schema of a profile or of the KB files")
    schema.add_argument("kind", choices=["profile", "kb"])
    schema.set_defaults(func=cmd_schema)
    return parser


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    return f"deficit-engine: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    warnings.formatwarning = _one_line_warning  # the command's warnings are one line each
    try:
        args = parser.parse_args(argv)
        code: int = args.func(args)
        return code
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except _Finding as exc:
        print(f"deficit-engine: {exc}", file=sys.stderr)
        return EXIT_FINDING
    except EvaluationError as exc:
        print(f"deficit-engine: error: {exc}", file=sys.stderr)
        return EXIT_FINDING
    except SourceError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except DeficitEngineError as exc:  # a UsageError among them
        print(f"deficit-engine: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("deficit-engine: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # never a traceback
        print(f"deficit-engine: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
