"""The suite's own configuration (pyproject.toml [tool.pytest.ini_options]): a plain
``pytest`` leaves the slow tests out, ``-m`` on the command line (CI's ``-m ''``)
brings them back, and the "N passed" line is printed even with ``-q``.

Each check runs pytest with the project's configuration on a two-test file of its
own, so that it costs a pytest start, not an import of the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TWO_TESTS = """\
import pytest


def test_quick():
    pass


@pytest.mark.slow
def test_heavy():
    pass
"""


@pytest.fixture
def run_pytest(repo_root: Path, tmp_path: Path) -> Callable[..., list[str]]:
    config = repo_root / "pyproject.toml"
    if not config.is_file():  # pragma: no cover - tests run from an unpacked sdist without it
        pytest.skip("needs the project's pyproject.toml")
    (tmp_path / "test_two.py").write_text(TWO_TESTS, encoding="utf-8")

    def run(*args: str) -> list[str]:
        command = [sys.executable, "-m", "pytest", "-c", str(config), "--rootdir", str(tmp_path)]
        done = subprocess.run(
            [*command, "-p", "no:cacheprovider", "-rA", *args, str(tmp_path / "test_two.py")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        )
        return (done.stdout + done.stderr).splitlines()

    return run


def test_a_plain_run_leaves_slow_tests_out_and_prints_the_summary(
    run_pytest: Callable[..., list[str]],
) -> None:
    out = run_pytest("-q")
    assert "PASSED test_two.py::test_quick" in out
    assert not any("test_heavy" in line for line in out)
    assert out[-1].startswith("1 passed, 1 deselected in "), out


def test_m_on_the_command_line_replaces_the_default(
    run_pytest: Callable[..., list[str]],
) -> None:
    out = run_pytest("-q", "-m", "")
    assert "PASSED test_two.py::test_heavy" in out
    assert out[-1].startswith("2 passed in "), out
