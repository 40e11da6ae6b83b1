"""The store's commands: ``db upgrade``, ``db runs``, ``mark``; ``--db`` of ``batch``, ``report``.

``cli.build_parser`` calls :func:`add_parser` for the commands and
:func:`add_batch_options` / :func:`add_report_options` for the options; the
batch and the report call :func:`batch_recorder` and :func:`report_effectiveness`.
SQLAlchemy is imported only when a command uses the store, so ``--help`` stays quick.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine
    from .store import BatchRecorder, Store

__all__ = [
    "DB_HELP",
    "add_batch_options",
    "add_parser",
    "add_progress_options",
    "add_report_options",
    "batch_recorder",
    "report_effectiveness",
]

DB_HELP = (
    "the store: an SQLite file path or a database URL (postgresql://...); "
    "default: $DEFICIT_ENGINE_DB, else ./deficit-engine.db"
)


def add_parser(sub: Any) -> None:
    """Add ``db`` (``upgrade``, ``runs``) and ``mark`` to the command's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of ``deficit-engine``.
    """
    db = sub.add_parser("db", help="the store's database: create or update it, list its runs")
    actions = db.add_subparsers(dest="db_command", required=True)
    upgrade = actions.add_parser("upgrade", help="create or update the store's tables")
    upgrade.add_argument("--db", help=DB_HELP)
    upgrade.set_defaults(func=cmd_db_upgrade)
    listed = actions.add_parser("runs", help="the cohort runs recorded in the store")
    listed.add_argument("--db", help=DB_HELP)
    listed.set_defaults(func=cmd_db_runs)

    mark = sub.add_parser("mark", help="mark a step of a person's stored route (tutor's record)")
    mark.add_argument("person", help="the person's pseudonymous id (the profile's id)")
    mark.add_argument("step", help="the step's id in the route (s1, s2, ...)")
    # checked by StepMark.make, not by choices=: --help must not load the models
    mark.add_argument("status", help="planned, in_progress, done or skipped")
    mark.add_argument("--evidence", help="a certificate number, an internship report, a file name")
    mark.add_argument("--date", help="when, YYYY-MM-DD (default: none recorded)")
    mark.add_argument("--db", help=DB_HELP)
    mark.set_defaults(func=cmd_mark)


def add_batch_options(batch: argparse.ArgumentParser) -> None:
    """``batch ... --db URL [--run-id ID]``: record the run in the store.

    Parameters
    ----------
    batch : argparse.ArgumentParser
        The ``batch`` command's parser.
    """
    batch.add_argument("--db", help="record the run in this store (" + DB_HELP + ")")
    batch.add_argument(
        "--run-id",
        help="the run's id in the store (default: run-<UTC time>); a rerun with the same "
        "id adds only the people not yet recorded",
    )


def add_report_options(report: argparse.ArgumentParser) -> None:
    """``report ... --effectiveness EARLIER LATER [--db URL]``: the store's section.

    Parameters
    ----------
    report : argparse.ArgumentParser
        The ``report`` command's parser.
    """
    report.add_argument(
        "--effectiveness",
        nargs=2,
        metavar=("EARLIER", "LATER"),
        help="add what the routes of stored run EARLIER achieved by run LATER",
    )
    report.add_argument("--db", help="the store of --effectiveness (" + DB_HELP + ")")


def add_progress_options(command: argparse.ArgumentParser) -> None:
    """``progress PERSON --db URL``: the person's two newest stored diagnoses compared.

    Parameters
    ----------
    command : argparse.ArgumentParser
        The ``progress`` command's parser (``cli_progress.add_parser``).
    """
    command.add_argument(
        "--db",
        help="compare the two newest diagnoses of the person EARLIER names, in this store ("
        + DB_HELP
        + ")",
    )
    command.set_defaults(func=cmd_progress)


def cmd_progress(args: argparse.Namespace) -> int:
    """``progress``: two profile files, or with ``--db`` a person's stored diagnoses.

    The stored profiles are evaluated again (the scores are not in a Result's JSON);
    the earlier route is the stored one, whose step ids the marks name.
    """
    from . import cli_progress

    if args.db is None:
        return cli_progress.cmd_progress(args)
    from .engine import Engine
    from .errors import UsageError
    from .store.restore import route_from_json
    from .tracking import progress

    if args.later is not None:
        raise UsageError("progress --db: give one PERSON (a stored id), not two profiles")
    store = _store(args.db)
    history = store.history(args.earlier)
    if len(history) < 2:
        raise UsageError(f"progress --db: {args.earlier!r} has {len(history)} stored diagnosis(es)")
    before, after = history[-2], history[-1]
    engine = Engine.from_path(args.kb, backend=args.backend)
    earlier = engine.evaluate(before.profile)
    if before.result.get("route") is not None:
        earlier = dataclasses.replace(earlier, route=route_from_json(before.result["route"]))
    marks = store.marks(args.earlier, before.route_version) if before.route_version else []
    found = progress(earlier, engine.evaluate(after.profile), marks)
    if args.format == "json":
        print(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(cli_progress.render_text(found, engine.kb))
    return 0


def _store(db: str | None) -> Store:
    """The store ``--db`` names, its schema checked to be current."""
    from .store import Store

    store = Store.open(db)
    store.require_current()
    return store


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Create or update the store's tables; print the revision reached."""
    from .store import Store

    store = Store.open(args.db)
    revision = store.upgrade()
    print(f"{store.engine.url.render_as_string(hide_password=True)}: at revision {revision}")
    return 0


def cmd_db_runs(args: argparse.Namespace) -> int:
    """List the stored runs: id, start, people recorded, whether finished."""
    from .spravka.text import text_table

    rows = [
        [
            r.id,
            r.started_at.strftime("%Y-%m-%d %H:%M"),
            str(r.recorded),
            "да" if r.finished_at else "нет",
            r.source or "—",
        ]
        for r in _store(args.db).runs()
    ]
    print(text_table(rows, ["прогон", "начат", "записано", "завершён", "файл"]))
    return 0


def cmd_mark(args: argparse.Namespace) -> int:
    """Record a tutor's mark on a step of the person's newest stored route."""
    from .models.marks import StepMark

    mark = StepMark.make(args.step, args.status, args.date, args.evidence)
    version = _store(args.db).mark(args.person, mark)
    print(f"{args.person}: route version {version}, step {mark.step}: {mark.status}")
    return 0


def batch_recorder(args: argparse.Namespace, engine: Engine) -> BatchRecorder | None:
    """What records ``batch --db``'s people (None without ``--db``).

    Parameters
    ----------
    args : argparse.Namespace
        The batch's arguments (``db``, ``run_id``, ``input``).
    engine : Engine
        The engine the batch runs (its KB's hash is kept).

    Returns
    -------
    BatchRecorder or None
    """
    if args.db is None and args.run_id is None:
        return None
    from .store import BatchRecorder, new_run_id

    run_id = args.run_id or new_run_id()
    recorder = BatchRecorder(_store(args.db), run_id, engine.kb, Path(args.input).name)
    if recorder.resumed:
        print(
            f"run {run_id}: continuing, {len(recorder.already)} person(s) already recorded",
            file=sys.stderr,
        )
    return recorder


def report_effectiveness(args: argparse.Namespace) -> dict[str, Any] | None:
    """The effectiveness figures ``report --effectiveness`` asks for (None when not).

    Parameters
    ----------
    args : argparse.Namespace
        The report's arguments (``effectiveness``, ``db``).

    Returns
    -------
    dict or None
        ``Effectiveness.to_dict()``.
    """
    if not args.effectiveness:
        return None
    earlier, later = args.effectiveness
    return _store(args.db).effectiveness(earlier, later).to_dict()
