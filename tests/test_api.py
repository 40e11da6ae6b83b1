"""The public API: every exported name resolves, and importing the package is cheap."""

from __future__ import annotations

import subprocess
import sys

import deficit_engine


def test_every_exported_name_resolves() -> None:
    for name in deficit_engine.__all__:
        assert getattr(deficit_engine, name) is not None, name
    assert sorted(dir(deficit_engine)) == sorted(deficit_engine.__all__)


def test_importing_the_package_does_not_load_the_engine() -> None:
    code = "import sys, deficit_engine; print(sorted(m for m in sys.modules if m.startswith('deficit_engine')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['deficit_engine', 'deficit_engine.errors']"
