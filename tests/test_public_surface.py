"""What an integrator sees: errors under one root."""

from __future__ import annotations

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
