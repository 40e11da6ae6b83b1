"""The wheel's build hook (hatch_build.py): compiled with mypyc when it can, else pure.

Each test builds a wheel of this tree with ``pip wheel`` (the build requirements come
from the package index, as for any install), unpacks it and runs it in a subprocess
with the unpacked folder first on ``PYTHONPATH``: the dependencies are this
environment's, the package is the wheel's. What must hold:

* ``DEFICIT_ENGINE_COMPILE=0``, or no C compiler, or a compiler that fails: a pure
  wheel (``py3-none-any``, no extension module) that works, with one line saying why;
* ``DEFICIT_ENGINE_COMPILE=1`` and no compiler: the build fails, saying why;
* a compiled wheel gives Results byte-identical to the pure-Python package's, on
  thousands of seeded synthetic profiles.

All are marked slow (CI runs them): each builds a wheel; compiling takes minutes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import orjson
import pytest

from deficit_engine import Engine, synthetic_profiles

#: Every test here builds a wheel (pip, an isolated build environment): minutes in all.
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SWITCH = "DEFICIT_ENGINE_COMPILE"
#: A compiled wheel built already (.ci/run builds one), tested instead of building one.
GIVEN_WHEEL = "DEFICIT_ENGINE_COMPILED_WHEEL"
#: A module the hook compiles (pyproject.toml): a compiled build imports it from a .so.
COMPILED_MODULE = "deficit_engine.resolve.cover"
#: Printed by a subprocess: the digest of its Results, and where COMPILED_MODULE came from.
DIGEST = """
import hashlib, importlib, sys
import orjson
from deficit_engine import Engine, synthetic_profiles
engine = Engine.from_path(backend="fast")
digest = hashlib.sha256()
for profile in synthetic_profiles(engine.kb, int(sys.argv[1]), seed=int(sys.argv[2])):
    digest.update(orjson.dumps(engine.evaluate(profile).to_dict(), option=orjson.OPT_SORT_KEYS))
print(digest.hexdigest())
print(importlib.import_module(sys.argv[3]).__file__)
print(orjson.dumps({n: [len(m), sum(len(v) for v in m.values() if type(v) is dict)]
                   for n, m in engine.kb.index.memos.items()}).decode())
"""


def results_digest(n: int, seed: int) -> str:
    """The digest DIGEST prints, of the package this process imports (the tree's own)."""
    return results_and_memos(n, seed)[0]


def results_and_memos(n: int, seed: int) -> tuple[str, dict[str, list[int]]]:
    """The digest and the catalogue memos' sizes DIGEST prints, of the tree's package."""
    engine = Engine.from_path(backend="fast")
    digest = hashlib.sha256()
    for profile in synthetic_profiles(engine.kb, n, seed=seed):
        result = engine.evaluate(profile).to_dict()
        digest.update(orjson.dumps(result, option=orjson.OPT_SORT_KEYS))
    # as DIGEST: each memo's entries, and those of the dicts it holds (per-person tables)
    memos = {
        name: [len(memo), sum(len(v) for v in memo.values() if type(v) is dict)]
        for name, memo in engine.kb.index.memos.items()
    }
    return digest.hexdigest(), memos


def build(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path | None]:
    """``pip wheel`` of this tree with ``env`` added; its output and the wheel, if built."""
    out = tmp_path / "wheel"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(ROOT)],
        # the switch only as the test sets it (.ci/run exports it as 0 for the suite)
        env={**{k: v for k, v in os.environ.items() if k != SWITCH}, **env},
        capture_output=True,
        text=True,
    )
    wheels = sorted(out.glob("deficit_engine-*.whl"))
    return done, wheels[0] if wheels else None


def run_wheel(wheel: Path, tmp_path: Path, n: int, seed: int) -> tuple[str, str]:
    """The wheel unpacked and run: its Results' digest and COMPILED_MODULE's file."""
    digest, module_file, _memos = run_wheel_memos(wheel, tmp_path, n, seed)
    return digest, module_file


def run_wheel_memos(
    wheel: Path, tmp_path: Path, n: int, seed: int
) -> tuple[str, str, dict[str, list[int]]]:
    """:func:`run_wheel`, and the sizes of the catalogue memos the run left."""
    package = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(package)
    done = subprocess.run(
        [sys.executable, "-c", DIGEST, str(n), str(seed), COMPILED_MODULE],
        env={**os.environ, "PYTHONPATH": str(package)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    digest, module_file, memos = done.stdout.split("\n", 2)
    assert Path(module_file).is_relative_to(package), module_file
    return digest, module_file, orjson.loads(memos)


def assert_pure_wheel_built(tmp_path: Path, env: dict[str, str], says: str, n: int) -> None:
    """A build with ``env`` gives a pure wheel, says ``says``, and gives the tree's Results.

    ``n`` profiles are run through the wheel (0: it is not run).
    """
    done, wheel = build(tmp_path, **env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert says in done.stdout + done.stderr
    assert wheel is not None
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as archive:
        assert not [name for name in archive.namelist() if name.endswith((".so", ".pyd"))]
    if n:
        digest, module_file = run_wheel(wheel, tmp_path, n, 3)
        assert module_file.endswith("cover.py")
        assert digest == results_digest(n, 3)


def assert_build_fails(tmp_path: Path, env: dict[str, str], says: str) -> None:
    done, wheel = build(tmp_path, **env)
    assert done.returncode != 0
    assert wheel is None
    assert says in done.stdout + done.stderr


def test_switched_off_gives_a_pure_wheel_that_works(tmp_path: Path) -> None:
    env = {"DEFICIT_ENGINE_COMPILE": "0"}
    assert_pure_wheel_built(tmp_path, env, "DEFICIT_ENGINE_COMPILE=0: the pure-Python", 200)


def test_a_plain_build_is_the_pure_wheel(tmp_path: Path) -> None:
    # the switch unset: compiling is opt-in (docs/performance.md, «Compiled build»)
    assert_pure_wheel_built(tmp_path, {}, "DEFICIT_ENGINE_COMPILE=0: the pure-Python", 0)


def test_no_compiler_falls_back_to_the_pure_wheel(tmp_path: Path) -> None:
    env = {"CC": str(tmp_path / "no-such-cc"), "DEFICIT_ENGINE_COMPILE": "auto"}
    assert_pure_wheel_built(tmp_path, env, "no C compiler found", 0)


def test_a_failing_compiler_falls_back_to_the_pure_wheel(tmp_path: Path) -> None:
    # /bin/false exists, so mypyc generates its C and only the compiler's run fails
    says = "compiling failed"
    env = {"CC": "/bin/false", "DEFICIT_ENGINE_COMPILE": "auto"}
    assert_pure_wheel_built(tmp_path, env, says, 100)


def test_forced_compile_without_a_compiler_fails_saying_why(tmp_path: Path) -> None:
    env = {"CC": str(tmp_path / "no-such-cc"), "DEFICIT_ENGINE_COMPILE": "1"}
    assert_build_fails(tmp_path, env, "no C compiler found")


def test_a_bad_switch_value_fails_saying_why(tmp_path: Path) -> None:
    env = {"DEFICIT_ENGINE_COMPILE": "yes"}
    assert_build_fails(tmp_path, env, "DEFICIT_ENGINE_COMPILE must be 0, 1 or auto, not 'yes'")


def test_the_compiled_wheel_gives_byte_identical_results(tmp_path: Path) -> None:
    given = os.environ.get(GIVEN_WHEEL)
    if given:
        wheel: Path | None = Path(given)
    else:
        done, wheel = build(tmp_path, DEFICIT_ENGINE_COMPILE="1")
        assert done.returncode == 0, done.stderr[-2000:]
    assert wheel is not None
    assert not wheel.name.endswith("-none-any.whl"), wheel.name
    digest, module_file, memos = run_wheel_memos(wheel, tmp_path, 3000, 16)
    assert not module_file.endswith(".py"), module_file
    want, want_memos = results_and_memos(3000, 16)
    assert digest == want
    # and it memoises as the pure package does: a compiled-only miss (a memo whose key
    # is never made: NeedInfo.of raised when compiled) gives the same Results, slower
    assert memos == want_memos
