"""The ``deficit-engine`` command: argument parsing and exit codes only.

Exit codes: 0 success, 1 a finding (invalid KB, failed scenario), 2 bad usage
or unreadable input, 3 an internal error (a bug: please report it). Errors go
to stderr, one line each, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import DeficitEngineError, SourceError
from .loader import check_kb
from .schema import json_schema

__all__ = ["main"]

EXIT_OK, EXIT_FINDING, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _kb_dir(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_dir():
        raise _Usage(f"--kb {value}: not a directory")
    return path


class _Usage(Exception):
    pass


def cmd_check(args: argparse.Namespace) -> int:
    kb, issues = check_kb(_kb_dir(args.kb))
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity == "warning"]
    for issue in issues:
        print(str(issue) if issue.severity == "error" else f"{issue} [warning]", file=sys.stderr)
    if errors or (args.strict and warnings):
        print(f"{len(errors)} error(s), {len(warnings)} warning(s)", file=sys.stderr)
        return EXIT_FINDING
    assert kb is not None
    tail = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"ok: {kb.root}: {kb.summary()}{tail}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(args.kind), ensure_ascii=False, indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deficit-engine", description="Professional deficits of teachers -> ИОМ")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="validate a knowledge base; exit 1 on problems")
    check.add_argument("--kb", help="knowledge base folder (default: the shipped one)")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(func=cmd_check)

    schema = sub.add_parser("schema", help="print the JSON Schema of a profile or of the KB files")
    schema.add_argument("kind", choices=["profile", "kb"])
    schema.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code: int = args.func(args)
        return code
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except _Usage as exc:
        print(f"deficit-engine: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except DeficitEngineError as exc:
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
