"""What an integrator sees: errors under one root, and types a downstream ``mypy`` can read."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deficit_engine
from deficit_engine import DeficitEngineError, Engine, UsageError
from deficit_engine.engine import evaluate_many
from deficit_engine.testing.runner import UsageError as RunnerUsageError
from deficit_engine.testing.runner import run_features


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


def test_the_runners_usage_error_is_a_deficit_engine_error(tmp_path: Path) -> None:
    assert issubclass(RunnerUsageError, DeficitEngineError)
    with pytest.raises(DeficitEngineError, match="no such feature file"):
        run_features([tmp_path / "missing.feature"])


DOWNSTREAM = """\
from deficit_engine import Engine

engine = Engine.from_path()
result = engine.evaluate({"id": "T-1", "role": "teacher", "results": []})
reveal_type(result)
reveal_type(result.deficits)
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
    assert len(revealed) == 2, out
    assert re.fullmatch(r"deficit_engine\.models[\w.]*\.Result", revealed[0]), out
    assert "Deficit" in revealed[1] and "Any" not in revealed[1], out
    assert run.returncode == 0 and "Success: no issues found" in out, out
