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
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__, cli_serve, cli_store
from .choices import BACKENDS, EXPORT_FORMATS
from .errors import (
    DeficitEngineError,
    EvaluationError,
    Issue,
    KnowledgeBaseError,
    SourceError,
    UsageError,
    capped,
)

if TYPE_CHECKING:
    from .engine import Engine
    from .kb import KnowledgeBase
    from .models import Result
    from .schema import Profile

__all__ = ["main"]

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
#: A batch stopped by SIGTERM (128 + the signal's number, as a shell reports it).
EXIT_TERMINATED = 143

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
    lines = [f"{i.location}: {i.code}: {_issue_text(i)}" for i in errors]
    lines += [f"{i.location}: warning: {i.code}: {_issue_text(i)}" for i in warnings]
    for line in capped(lines):
        print(line, file=sys.stderr)


def _issue_text(issue: Issue) -> str:
    if issue.suggestion:
        return f"{issue.message} (did you mean '{issue.suggestion}'?)"
    return issue.message


def cmd_schema(args: argparse.Namespace) -> int:
    if args.kb is not None:  # the KB's ids as enums: needs the KB loaded
        from .cli_kb import cmd_schema_kb

        return cmd_schema_kb(args)
    from .schema import json_schema

    print(json.dumps(json_schema(args.kind), ensure_ascii=False, indent=2))
    return EXIT_OK


_T = TypeVar("_T")


def _kb_or_finding(load: Callable[[], _T]) -> _T:
    """What ``load`` makes of the KB, or its problems printed and exit 1."""
    try:
        return load()
    except KnowledgeBaseError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        raise _Finding(
            f"the knowledge base has {len(exc.issues)} problem(s); run 'deficit-engine check'"
        ) from None


def _engine(args: argparse.Namespace) -> Engine:
    from .engine import Engine

    return _kb_or_finding(lambda: Engine.from_path(_kb_dir(args.kb), backend=args.backend))


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


def _fmt_fact(fact: dict[str, object]) -> str:
    body = ", ".join(f"{k}={v}" for k, v in fact.items() if k != "type")
    return f"{fact['type']}({body})"


def _table(rows: list[list[str]], header: list[str]) -> str:
    from .spravka.text import text_table  # one table layout for the CLI and the справка

    return text_table(rows, header)


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


def cmd_route(args: argparse.Namespace) -> int:
    from . import export

    engine = _engine(args)
    profile = _profile(args, engine)
    result = engine.evaluate(profile)
    # a broken KB template is the KB's problem (exit 1), as a broken rule is
    text = _kb_or_finding(lambda: export.render(args.format, engine.kb, profile, result))
    if args.output:
        from .outputs import write_whole

        write_whole(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    """Evaluate a cohort file into OUTDIR; exit 1 if any profile was set aside.

    SIGTERM (what service managers and ``timeout`` send) is handled as Ctrl-C is:
    the workers are stopped, the staging folder removed, nothing published, and
    the command exits 143 (128 + SIGTERM).
    """
    with _terminated_as_interrupt():
        return _batch(args)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so the cleanup Ctrl-C runs runs too."""


@contextlib.contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` while the batch runs (the main thread
    only: a handler cannot be installed elsewhere, nor is one needed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except _Terminated:
        print("deficit-engine: terminated", file=sys.stderr)
        raise SystemExit(EXIT_TERMINATED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _batch(args: argparse.Namespace) -> int:
    from .cohort import run_batch
    from .progressbar import Progress, wanted
    from .workers import max_workers

    source = Path(args.input)
    if not source.is_file():
        raise UsageError(f"{args.input}: no such file")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.workers is not None and args.workers > max_workers():
        print(
            f"deficit-engine: warning: --workers {args.workers}: using {max_workers()} "
            f"(at most 4 per core)",
            file=sys.stderr,
        )
    engine = _engine(args)
    record = cli_store.batch_recorder(args, engine)
    summary = run_batch(
        engine,
        source,
        Path(args.output),
        workers=args.workers,
        trace=args.trace,
        encoding=args.encoding,
        allocate=args.allocate,
        keep_columns=args.keep_columns,
        documents=args.documents,
        progress=Progress(wanted(sys.stderr, quiet=args.quiet, force=args.progress)),
        on_warning=_print_warning,
        columnar=args.columnar,
        record=record,
        output_format=args.format,
        scheduler=args.scheduler,
    )
    if record is not None:
        record.finish(summary)
        print(f"run {record.run_id}: {record.added} person(s) recorded in the store")
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


def _print_warning(issue: Issue) -> None:
    """A warning about the input, one line on stderr (the header's unknown columns)."""
    print(f"deficit-engine: warning: {issue}", file=sys.stderr)


def _column_list(value: str) -> list[str]:
    """``--keep-columns ФИО,Телефон``: the names, stripped; an empty name is an error."""
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"'{value}': an empty column name")
    return names


def cmd_report(args: argparse.Namespace) -> int:
    """The справка of a batch output folder (table, json, html or xlsx), or of two runs."""
    from .spravka import make_spravka

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.format == "xlsx" and not args.output:
        raise UsageError("--format xlsx writes a file: name it with -o FILE")
    summary = _read_summary(Path(args.outdir))
    against = _read_summary(Path(args.against)) if args.against else None
    schools = _read_output(Path(args.outdir) / "schools.json")
    effect = cli_store.report_effectiveness(args)
    spravka = make_spravka(summary, _report_kb(args), schools, against, effect)
    content = spravka.render(args.format, args.top)
    if args.output:
        from .outputs import write_whole

        write_whole(args.output, content)
    elif isinstance(content, str):
        sys.stdout.write(content)
    return EXIT_OK


def _read_summary(outdir: Path) -> dict[str, Any]:
    from .summary_types import check_summary

    summary = _read_output(outdir / "summary.json")
    if summary is None:
        raise UsageError(f"{outdir / 'summary.json'}: not found (run 'deficit-engine batch' first)")
    check_summary(summary, str(outdir / "summary.json"))
    return summary


def _read_output(path: Path) -> dict[str, Any] | None:
    """A JSON object a batch wrote (None when the file is not there)."""
    from .profile import load_json_text

    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    try:  # bounded: nesting and huge integers are refused before json recurses
        data = load_json_text(text, str(path))
    except SourceError as exc:
        why = exc.issues[0].message if exc.issues else str(exc)
        raise UsageError(f"{path}: not what 'deficit-engine batch' writes: {why}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not what 'deficit-engine batch' writes (a JSON object)")
    return data


def _report_kb(args: argparse.Namespace) -> KnowledgeBase:
    """The KB whose titles, mentors and places the report names (its rules are not needed)."""
    from .loader import load_kb

    return _kb_or_finding(lambda: load_kb(_kb_dir(args.kb), with_rules=False))


def cmd_test(args: argparse.Namespace) -> int:
    """Run Gherkin scenarios (default: the KB's own features/), then print rule coverage."""
    from .progressbar import Progress, wanted
    from .testing.runner import run_features

    progress = Progress(wanted(sys.stderr, quiet=args.quiet, force=args.progress))
    return run_features(
        args.features, kb=args.kb, min_coverage=args.min_coverage, progress=progress
    )


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


def _progress_options(command: argparse.ArgumentParser, unit: str) -> None:
    """``--quiet | --progress`` of a long command: its bar over ``unit``s on stderr."""
    choice = command.add_mutually_exclusive_group()
    choice.add_argument(
        "--quiet", action="store_true", help=f"no {unit} progress bar (default: one on a terminal)"
    )
    choice.add_argument(
        "--progress", action="store_true", help="a progress bar on stderr even off a terminal"
    )


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
    _progress_options(test, "scenario")
    test.set_defaults(func=cmd_test)

    batch = sub.add_parser(
        "batch",
        parents=[_kb_options(backend=argparse.SUPPRESS)],
        help="evaluate a cohort (CSV, JSONL or XLSX) into a folder",
    )
    batch.add_argument("input", help="a .csv, .jsonl or .xlsx file of profiles")
    batch.add_argument("-o", "--output", required=True, help="the output folder (new or empty)")
    batch.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes (default: one per core; at most 4 per core, more are capped)",
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
    batch.add_argument(
        "--keep-columns",
        type=_column_list,
        action="extend",
        default=[],
        metavar="COL[,COL...]",
        help="pass-through columns (e.g. ФИО; 'name' for a JSONL profile's name) whose "
        "values go to the per-person outputs; by default none do (152-ФЗ)",
    )
    batch.add_argument(
        "--columnar",
        action="store_true",
        help="diagnose the cohort on the columnar path (same results; see docs/rules.md)",
    )
    batch.add_argument(
        "--documents",
        choices=["html", "md"],
        default=None,
        help="also write each person's ИОМ document into OUTDIR/documents/",
    )
    batch.add_argument(
        "--format",
        choices=["jsonl", "parquet"],
        default=None,
        help="the workers write the results as OUTDIR/results/part-N.jsonl or .parquet "
        "(instead of results.jsonl and the flat tables; see docs/parts.md)",
    )
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on a Dask cluster (tcp://host:8786; needs --format and .[dask])",
    )
    progress = batch.add_mutually_exclusive_group()
    progress.add_argument(
        "--quiet", action="store_true", help="no progress bar (default: one on a terminal)"
    )
    progress.add_argument(
        "--progress", action="store_true", help="a progress bar on stderr even off a terminal"
    )
    cli_store.add_batch_options(batch)
    batch.set_defaults(func=cmd_batch)

    report = sub.add_parser(
        "report",
        parents=[kb_only],
        help="the аналитическая справка of a batch output folder",
    )
    report.add_argument("outdir", help="a folder written by 'deficit-engine batch'")
    report.add_argument(
        "--format",
        choices=["table", "json", "html", "xlsx"],
        default="table",
        help="table (terminal), json, html (one self-contained file), xlsx (needs -o)",
    )
    report.add_argument(
        "--top", type=int, default=15, help="rows per ranking of the table format (default 15)"
    )
    report.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (whole or not at all)"
    )
    report.add_argument(
        "--against",
        metavar="OLDDIR",
        help="an earlier batch of the same cohort: the change in prevalence per competency",
    )
    cli_store.add_report_options(report)
    report.set_defaults(func=cmd_report)
    cli_store.add_parser(sub)

    from .cli_progress import add_parser as add_progress

    cli_store.add_progress_options(add_progress(sub))
    cli_serve.add_parser(sub)

    schema = sub.add_parser("schema", help="print the JSON Schema of a profile or of the KB files")
    schema.add_argument("kind", choices=["profile", "kb"])
    schema.add_argument("--kb", metavar="DIR", help="profile: with this KB's ids as enums")
    schema.set_defaults(func=cmd_schema)
    from . import cli_kb

    cli_kb.add_parser(sub)
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
    # The command's warnings are one line each; put back what the process had
    # after, for a program that calls main() and goes on.
    before = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return _run(parser, argv)
    finally:
        warnings.formatwarning = before


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """The command's exit status; every error one line on stderr, never a traceback."""
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
