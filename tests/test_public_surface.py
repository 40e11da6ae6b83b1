"""What an integrator sees: errors under one root, and types a downstream ``mypy`` can read."""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deficit_engine
from deficit_engine import (
    DeficitEngineError,
    Engine,
    UsageError,
    build_route,
    read_profile_file,
    render,
)
from deficit_engine.engine import evaluate_many
from deficit_engine.errors import UnknownIdError, WrongTypeError
from deficit_engine.resolve import resolve
from deficit_engine.testing.runner import UsageError as RunnerUsageError
from deficit_engine.testing.runner import run_features


def test_every_exported_name_is_what_it_says_after_every_module_is_imported() -> None:
    """A submodule sets itself as an attribute of the package when imported, hiding a
    lazily exported name of the same spelling (``resolve`` was the resolve/ package,
    not the function, once the engine had been imported)."""
    for path in sorted(Path(deficit_engine.__file__).parent.rglob("*.py")):
        parts = path.relative_to(Path(deficit_engine.__file__).parent).with_suffix("").parts
        if parts[-1] not in ("__init__", "__main__"):
            importlib.import_module(".".join(("deficit_engine", *parts)))
    modules = [
        name for name in deficit_engine.__all__ if inspect.ismodule(getattr(deficit_engine, name))
    ]
    assert not modules, f"exported names shadowed by submodules: {modules}"
    assert sorted(deficit_engine.__all__) == sorted(set(deficit_engine.__all__))


def test_usage_error_is_under_the_root_and_still_a_value_error() -> None:
    assert issubclass(UsageError, DeficitEngineError)
    assert issubclass(UsageError, ValueError)  # callers that caught ValueError still do
    assert "UsageError" in deficit_engine.__all__


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


def test_an_unknown_backend_is_a_usage_error(engine: Engine) -> None:
    with pytest.raises(UsageError, match="unknown backend 'nope'"):
        Engine(engine.kb, backend="nope")


def test_a_firing_limit_below_one_is_a_usage_error(engine: Engine) -> None:
    with pytest.raises(UsageError, match="firing_limit"):
        Engine(engine.kb, backend="python", firing_limit=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "workers"),
        ({"workers": 1, "chunk_size": 0}, "chunk_size"),
        ({"workers": 1, "backend": "nope"}, "unknown backend"),
    ],
)
def test_evaluate_many_argument_checks_are_usage_errors(
    engine: Engine, options: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        list(evaluate_many(engine, [], **options))  # type: ignore[arg-type]


def test_misuse_of_the_stage_functions_is_under_the_root(engine: Engine) -> None:
    """Each misuse a caller can make of a public function raises an error of the root,
    of the kind Python code expects (a TypeError for a wrong type, a KeyError for a
    missing id), so ``except DeficitEngineError`` catches everything the package raises."""
    profile = engine.parse(read_profile_file(EXAMPLES / "young_teacher.yaml"))
    result = engine.evaluate(profile)
    assert result.route is not None
    with pytest.raises(WrongTypeError, match="validated Profile"):
        build_route(engine.kb, {"id": "T-1"}, result, resolve(engine.kb, profile, ()))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        resolve({}, profile, ())  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="unknown format 'pdf'"):
        render("pdf", engine.kb, profile, result)
    with pytest.raises(UsageError, match="not 'T-9'"):
        render("md", engine.kb, profile.model_copy(update={"id": "T-9"}), result)
    with pytest.raises(UnknownIdError):
        result.route.step("s999")
    with pytest.raises(KeyError):  # what a mapping lookup would raise
        engine.kb.scale.title("no-such-level")
    for kind in (WrongTypeError, UnknownIdError):
        assert issubclass(kind, DeficitEngineError)


def test_the_runners_usage_error_is_a_deficit_engine_error(tmp_path: Path) -> None:
    assert issubclass(RunnerUsageError, DeficitEngineError)
    with pytest.raises(DeficitEngineError, match="no such feature file"):
        run_features([tmp_path / "missing.feature"])


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

DOWNSTREAM = """\
from deficit_engine import Engine

engine = Engine.from_path()
result = engine.evaluate({"id": "T-1", "role": "teacher", "results": []})
reveal_type(result)
reveal_type(result.deficits)
route = Engine.from_path().evaluate({"id": "T-2", "role": "teacher", "results": []}).route
assert route is not None
reveal_type(route.steps[0].start)
"""


@pytest.mark.slow
def test_a_downstream_strict_mypy_sees_the_packages_types(tmp_path: Path) -> None:
    """py.typed: without it, mypy says "missing library stubs or py.typed marker" and
    every name from the package is Any."""
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed next to this interpreter")
    script = tmp_path / "downstream.py"
    script.write_text(DOWNSTREAM, encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # outside the repository: the installed package, not src/
    )
    out = run.stdout + run.stderr
    assert "py.typed" not in out and "missing library stubs" not in out, out
    revealed = re.findall(r'Revealed type is "(.+)"', out)
    assert len(revealed) == 3, out
    assert re.fullmatch(r"deficit_engine\.models[\w.]*\.Result", revealed[0]), out
    assert "Deficit" in revealed[1] and "Any" not in revealed[1], out
    assert revealed[2] in ("str", "builtins.str"), (
        out
    )  # the issue's own probe: ....route.steps[0].start
    assert run.returncode == 0 and "Success: no issues found" in out, out
