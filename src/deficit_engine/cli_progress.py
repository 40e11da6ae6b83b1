"""``deficit-engine progress EARLIER LATER``: two diagnoses of one person compared.

The command's code lives here, not in ``cli`` (which only calls :func:`add_parser`):
it reads the two profiles and the marks, calls :func:`deficit_engine.tracking.progress`
and prints the result as a table or as JSON, or renders the earlier ИОМ with
its «Отметка о выполнении» and «Результат после» filled in (``--format md|html``).
The renderers take a :class:`~deficit_engine.tracking.Progress`, whatever it was
made from, so another source of the two diagnoses (a database) needs only another way to get them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .choices import BACKENDS
from .errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .engine import Engine
    from .kb import KnowledgeBase
    from .models import Result, StepMark
    from .schema import Profile
    from .tracking import Progress

__all__ = ["add_parser", "cmd_progress", "render_text"]

#: How the text table names the labels.
_LABEL_RU = {
    "closed": "закрыт",
    "persisting": "сохраняется",
    "improved": "уменьшился",
    "worsened": "усилился",
    "new": "новый",
}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``progress`` command to the command line's subparsers.

    Parameters
    ----------
    sub : argparse subparsers
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The command's parser, for a caller to add options to (``--db``).
    """
    command: argparse.ArgumentParser = sub.add_parser(
        "progress",
        help="compare two diagnoses of one person: deficits closed, improved, worsened, new",
    )
    command.add_argument("earlier", metavar="EARLIER", help="the earlier profile (YAML or JSON)")
    command.add_argument(
        "later", metavar="LATER", nargs="?", help="the later profile, the re-diagnosis"
    )
    command.add_argument(
        "--marks",
        metavar="FILE",
        help="the tutor's marks on the earlier route (YAML or JSON list of "
        "{step, status, date, evidence})",
    )
    command.add_argument(
        "--format",
        choices=["text", "json", "md", "html"],
        default="text",
        help="text or json: the comparison; md or html: the earlier ИОМ document with "
        "«Отметка о выполнении» from --marks and «Результат после» from the re-diagnosis",
    )
    command.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (whole or not at all)"
    )
    command.add_argument("--kb", help="the knowledge base folder (default: the shipped one)")
    command.add_argument("--backend", choices=BACKENDS, default=None, help="inference backend")
    command.set_defaults(func=cmd_progress)
    return command


def cmd_progress(args: argparse.Namespace) -> int:
    """Run ``progress`` on two profile files; print the comparison; exit 0.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    int
        0 (problems are raised, and ``cli.main`` turns them into exit codes).

    Raises
    ------
    UsageError
        If LATER is missing or a file does not exist.
    SourceError
        If a profile, the marks or the KB are invalid (each problem placed).
    """
    from .engine import Engine
    from .tracking import progress, read_marks

    if args.later is None:
        raise UsageError("progress: give two profiles of one person, EARLIER and LATER")
    engine = Engine.from_path(_folder(args.kb), backend=args.backend)
    earlier = _profile(engine, args.earlier)
    later = _profile(engine, args.later)
    marks = read_marks(_file(args.marks)) if args.marks else ()
    before = engine.evaluate(earlier)
    _check_mark_steps(args.marks, marks, before)
    found = progress(before, later, marks, engine=engine)
    text = _render(args.format, found, engine, earlier, before, marks)
    if args.output:
        from .outputs import write_whole

        write_whole(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _render(
    fmt: str,
    found: Progress,
    engine: Engine,
    earlier: Profile,
    before: Result,
    marks: Sequence[StepMark],
) -> str:
    """The comparison as text or JSON, or the earlier ИОМ filled from it (md, html)."""
    if fmt == "json":
        return json.dumps(found.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "text":
        return render_text(found, engine.kb) + "\n"
    from .export import render
    from .tracking import after_texts, latest_marks

    after = after_texts(found, _titles(engine.kb))
    return render(fmt, engine.kb, earlier, before, marks=latest_marks(marks), after=after)


def _check_mark_steps(name: str, marks: Sequence[StepMark], before: Result) -> None:
    """Refuse marks of steps the earlier route does not have: a mistyped step id
    would otherwise be lost without a word."""
    steps = {s.id for s in before.route.steps} if before.route is not None else set()
    unknown = sorted({m.step for m in marks} - steps)
    if unknown:
        raise UsageError(
            f"{name}: the route of the earlier profile has no step {', '.join(unknown)}"
        )


def _folder(value: str | None) -> Path | None:
    if value is not None and not Path(value).is_dir():
        raise UsageError(f"--kb {value}: not a directory")
    return None if value is None else Path(value)


def _file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"{value}: no such file")
    return path


def _profile(engine: Engine, argument: str) -> Profile:
    from .profile import read_profile_file

    path = _file(argument)
    return engine.parse(read_profile_file(path), source=str(path))


def render_text(found: Progress, kb: KnowledgeBase | None = None) -> str:
    """The comparison as plain-text tables, in Russian.

    Parameters
    ----------
    found : Progress
        What :func:`deficit_engine.tracking.progress` returned.
    kb : KnowledgeBase, optional
        Names the competencies by title (by id without it).

    Returns
    -------
    str
        A heading, the competencies table, then the steps table when there is a route.
    """
    from .labels import SEVERITY_RU
    from .spravka.text import text_table  # one table layout for the CLI and the справка
    from .tracking.compare import signed
    from .tracking.marks import MARK_STATUS_RU

    titles = _titles(kb)
    head = (
        f"Профиль {found.person}: диагностика {found.earlier_date or 'без даты'} → "
        f"{found.later_date or 'без даты'}"
    )
    rows = [
        [
            titles.get(c.competency, c.competency),
            _number(c.score_before),
            _number(c.score_after),
            "" if c.delta is None else signed(c.delta),
            SEVERITY_RU.get(c.severity_before or "", "—"),
            SEVERITY_RU.get(c.severity_after or "", "—"),
            _LABEL_RU.get(c.label or "", ""),
        ]
        for c in found.competencies
    ]
    parts = [
        head,
        "",
        text_table(
            rows, ["компетенция", "было %", "стало %", "Δ", "дефицит был", "дефицит стал", "итог"]
        ),
    ]
    if found.steps:
        done = sum(s.done_before for s in found.steps)
        parts += [
            "",
            f"Шаги маршрута: выполнено до повторной диагностики {done} из {len(found.steps)}",
        ]
        step_rows = [
            [
                s.step,
                MARK_STATUS_RU.get(s.status or "", "без отметки"),
                s.date or "",
                "да" if s.done_before else "нет",
                s.evidence or "",
            ]
            for s in found.steps
        ]
        parts.append(
            text_table(step_rows, ["шаг", "отметка", "дата", "до диагностики", "подтверждение"])
        )
    return "\n".join(parts)


def _titles(kb: KnowledgeBase | None) -> dict[str, str]:
    if kb is None:
        return {}
    return {cid: c.title for cid, c in kb.ontology.competencies.items()}


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}".replace(".", ",")
