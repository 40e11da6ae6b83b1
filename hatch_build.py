"""Build hook: the wheel's hot modules compiled with mypyc, or the pure-Python package.

Hatchling runs this hook for every wheel it builds (``pip install .``, ``pip wheel .``,
``python -m build``). Asked to (below), it compiles the modules listed under
``[tool.hatch.build.targets.wheel.hooks.custom] compile`` in pyproject.toml with mypyc
(a build requirement, from PyPI) and the machine's C compiler, and adds the extension
modules to the wheel beside the ``.py`` files they were compiled from (Python imports
an extension module before a source file of the same name). The wheel is then tagged
for this interpreter and platform.

The install must work without a compiler: asked for ``auto`` when there is none, the
Python headers are missing, or compiling fails for any reason, the hook says so in one
line on stderr and the wheel is the pure-Python package (``py3-none-any``), whose
output is the same (tests/test_build.py). ``DEFICIT_ENGINE_COMPILE`` chooses:

* unset or ``0``: never compile (a pure wheel, quickly): the default, so that a plain
  ``pip install .`` needs no compiler time and runs the reference code;
* ``auto``: compile when it can, else the pure wheel;
* ``1``: compile, and fail the build if it cannot.

An editable install (``pip install -e .``) is always pure Python, so that an edit to a
module takes effect; ``DEFICIT_ENGINE_COMPILE=1`` with it is an error.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The environment variable that forces compiling (1) or not (0).
SWITCH = "DEFICIT_ENGINE_COMPILE"
#: mypy's options for the build: not the project's strict ones, which need the
#: dependencies' type information (pydantic, numpy...). The installed packages are
#: never read (no_site_packages), so the compiled code is the same whether the build
#: environment has them (--no-build-isolation) or not (pip's isolated build): their
#: names are ``Any``, which mypyc handles as plain Python objects, checking nothing
#: about them at run time (numpy's stubs, read, once made mypyc insist that an array
#: was a tuple). Only the compiled modules' type errors are reported (follow_imports
#: silent); type checking is the project's CI's business (mypy --strict).
MYPY_CONFIG = (
    "[mypy]\nignore_missing_imports = True\nno_site_packages = True\nfollow_imports = silent\n"
)


class CompileError(Exception):
    """Compiling the hot modules did not work; the message says why, in one line."""


def say(message: str) -> None:
    """Print one line of the hook's on stderr (pip shows it with ``-v``)."""
    print(f"deficit-engine build: {message}", file=sys.stderr, flush=True)


def wanted() -> str:
    """``"0"``, ``"1"`` or ``"auto"``, from the environment variable.

    Raises
    ------
    CompileError
        The variable has another value.
    """
    value = os.environ.get(SWITCH, "0").strip().lower() or "0"
    if value not in ("0", "1", "auto"):
        raise CompileError(f"{SWITCH} must be 0, 1 or auto, not {value!r}")
    return value


def find_compiler() -> str:
    """The C compiler setuptools will call (``$CC``, else Python's own), if on this machine.

    Raises
    ------
    CompileError
        No compiler, or no Python headers to compile against.
    """
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    program = shlex.split(command)[0] if command.strip() else ""
    if not program or shutil.which(program) is None:
        raise CompileError(f"no C compiler found ({command!r})")
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        raise CompileError(f"no Python headers ({headers} is missing)")
    return program


def build_extensions(root: Path, modules: list[str], work: Path) -> dict[str, str]:
    """Compile ``modules`` (paths under ``root``) with mypyc; built file -> path in the wheel.

    Raises
    ------
    CompileError
        mypyc is not installed, rejected a module, or the C compiler failed.
    """
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as error:
        raise CompileError(f"mypyc or setuptools is not installed ({error})") from None
    config = work / "mypy.ini"
    config.write_text(MYPY_CONFIG, encoding="utf-8")
    os.chdir(root)  # mypy names a module from its path relative to here: src/...
    try:
        extensions = mypycify(
            ["--config-file", str(config), *modules],
            target_dir=str(work / "c"),
            # One C file per module, so that the compiler runs them in parallel.
            multi_file=True,
            group_name="deficit_engine",
        )
        dist = Distribution({"name": "deficit-engine", "ext_modules": extensions})
        command: Any = dist.get_command_obj("build_ext")
        command.build_lib = str(work / "lib")
        command.build_temp = str(work / "obj")
        command.parallel = os.cpu_count() or 1
        dist.run_command("build_ext")
    # mypyc reports type errors with sys.exit; setuptools raises its own errors.
    except (Exception, SystemExit) as error:
        raise CompileError(f"compiling failed ({type(error).__name__}: {error})") from None
    built = work / "lib"
    return {str(path): path.relative_to(built).as_posix() for path in built.rglob("*.so")} | {
        str(path): path.relative_to(built).as_posix() for path in built.rglob("*.pyd")
    }


class CompileHook(BuildHookInterface):  # type: ignore[misc,type-arg,unused-ignore]
    """Adds the mypyc-compiled hot modules to a (non-editable) wheel when it can."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile, or say why the wheel is pure; hatchling calls it before building.

        Raises
        ------
        SystemExit
            ``DEFICIT_ENGINE_COMPILE=1`` and the modules could not be compiled, or the
            variable has a value other than 0, 1 or auto: the build fails after one
            line saying why (an exception would bury it in a traceback).
        """
        if self.target_name != "wheel":
            return
        try:
            self._compile(version, build_data)
        except CompileError as error:
            say(f"error: {error}")
            raise SystemExit(1) from None

    def _compile(self, version: str, build_data: dict[str, Any]) -> None:
        """What :meth:`initialize` does; raises CompileError where the build must fail."""
        mode = wanted()
        if version == "editable":
            if mode == "1":
                raise CompileError(f"{SWITCH}=1: an editable install cannot be compiled")
            return
        if mode == "0":
            say(f"{SWITCH}=0: the pure-Python package, not compiled")
            return
        modules = list(self.config.get("compile", []))
        self._work = Path(tempfile.mkdtemp(prefix="deficit-engine-mypyc-"))
        here = Path.cwd()
        try:
            find_compiler()
            built = build_extensions(Path(self.root), modules, self._work)
        except CompileError as error:
            if mode == "1":
                raise
            say(f"{error}; installing the pure-Python package instead")
            return
        finally:
            os.chdir(here)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"].update(built)
        say(f"{len(modules)} modules compiled with mypyc")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the compiler's working folder once the wheel is written."""
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
