"""The command's surface: --version, a profile on stdin, the shared options, and what it imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import deficit_engine
from deficit_engine import Engine, cli
from deficit_engine.cli import build_parser, main
from deficit_engine.profile import read_profile_stream

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
YOUNG = EXAMPLES / "young_teacher.yaml"


def feed_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"deficit-engine {version('deficit-engine')}\n"
    assert deficit_engine.__version__ == version("deficit-engine")


# --- PROFILE "-": the profile on stdin --------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Engine:
    return Engine.from_path(backend="python")


@pytest.fixture
def one_engine(shipped: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands below share one engine: what these tests check is how PROFILE is
    read (test_stdin_through_the_installed_command goes the whole way)."""
    monkeypatch.setattr(cli, "_engine", lambda args: shipped)


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_route_reads_a_yaml_profile_from_stdin_as_from_its_file(
    one_engine: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert main(["route", str(YOUNG), "--format", fmt]) == 0
    from_file = capsys.readouterr().out
    feed_stdin(monkeypatch, YOUNG.read_bytes())
    assert main(["route", "-", "--format", fmt]) == 0
    assert capsys.readouterr().out == from_file


def test_diagnose_reads_a_json_profile_from_stdin(
    one_engine: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagnose", str(YOUNG), "--format", "json"]) == 0
    from_file = capsys.readouterr().out
    # read as JSON: 2e0 is the number 2 (YAML 1.1 would read the string "2e0")
    document = read_profile_stream(io.BytesIO(YOUNG.read_bytes()))
    text = json.dumps(document, ensure_ascii=False)
    text = text.replace('"experience_years": 2,', '"experience_years": 2e0,')
    assert "2e0" in text
    feed_stdin(monkeypatch, text.encode("utf-8"))
    assert main(["diagnose", "-", "--format", "json"]) == 0
    assert capsys.readouterr().out == from_file


def test_problems_on_stdin_are_named_stdin(
    one_engine: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_stdin(monkeypatch, b"id: T-1\nrole: teacher\nresults: [\n")
    assert main(["diagnose", "-"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("<stdin>:") and "yaml-syntax" in err[0]

    feed_stdin(
        monkeypatch,
        b'{"id": "T-1", "person": {"role": "teacher"}, "results": [{"competency": "no.such", "score": 1, "max": 2}]}',
    )
    assert main(["route", "-"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("<stdin>:") for line in err), err


def test_stdin_is_size_capped_like_a_file(
    one_engine: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deficit_engine._yaml import MAX_FILE_BYTES

    feed_stdin(monkeypatch, b"#" * (MAX_FILE_BYTES + 1))
    assert main(["diagnose", "-"]) == 2
    assert capsys.readouterr().err == (
        f"<stdin>:1:1: too-large: input is over the limit of {MAX_FILE_BYTES} bytes\n"
    )
    assert read_profile_stream(io.BytesIO(b'{"id": "x"}'), max_bytes=11) == {"id": "x"}


def test_stdin_through_the_installed_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deficit_engine", "route", "-", "--format", "json"],
        input=YOUNG.read_bytes(),
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (EXAMPLES / "young_teacher.json").read_bytes()


# --- options declared once -------------------------------------------------------------


def options_of(command: str) -> dict[str, str | None]:
    """The command's option strings -> their help (None where it is hidden)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    found = {}
    for action in sub.choices[command]._actions:  # type: ignore[index]
        for flag in action.option_strings:
            found[flag] = None if action.help == "==SUPPRESS==" else action.help
    return found


@pytest.mark.parametrize("command", ["check", "diagnose", "route", "test", "batch"])
def test_every_command_that_reads_a_kb_takes_kb(command: str) -> None:
    assert options_of(command)["--kb"] == "knowledge base folder (default: the shipped one)"


def test_backend_is_offered_by_the_evaluating_commands_and_hidden_in_batch() -> None:
    assert options_of("diagnose")["--backend"] == options_of("route")["--backend"] is not None
    assert "--backend" in options_of("batch") and options_of("batch")["--backend"] is None
    assert "--backend" not in options_of("check") and "--backend" not in options_of("test")


def test_a_bad_option_value_exits_2_with_usage_and_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["route", str(YOUNG), "--backend", "jess"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: deficit-engine route")
    assert err[-1] == (
        "deficit-engine route: error: argument --backend: invalid choice: 'jess' "
        "(choose from 'durable', 'python', 'fast')"
    )


def test_a_missing_kb_folder_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(YOUNG), "--kb", "/no/such/kb"]) == 2
    assert capsys.readouterr().err == "deficit-engine: error: --kb /no/such/kb: not a directory\n"


# --- imports: --help and schema do not load the engine ----------------------------------

HEAVY = ("deficit_engine.engine", "deficit_engine.inference", "deficit_engine.export", "networkx")


def modules_after(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        "from deficit_engine.cli import main\n"
        "try:\n"
        f"    main({list(argv)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stderr.split())


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["route", "--help"]])
def test_help_and_version_import_nothing_heavy(argv: list[str]) -> None:
    loaded = modules_after(*argv)
    # a command's own module (cli_NAME) is loaded to declare its options, nothing more
    commands = {m for m in loaded if m.startswith("deficit_engine.cli_")}
    assert {m for m in loaded if m.startswith("deficit_engine")} - commands == {
        "deficit_engine",
        "deficit_engine.choices",
        "deficit_engine.cli",
        "deficit_engine.errors",
    }
    assert "pydantic" not in loaded


def test_schema_imports_the_schema_and_not_the_engine() -> None:
    loaded = modules_after("schema", "profile")
    assert "deficit_engine.schema" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_main_puts_back_the_processs_warning_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A program that calls main() keeps its own warnings' format after it."""
    import warnings

    def own_format(*args: object, **kwargs: object) -> str:
        return "own\n"

    monkeypatch.setattr(warnings, "formatwarning", own_format)
    before = warnings.formatwarning
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) != 0
    assert warnings.formatwarning is before
    capsys.readouterr()
