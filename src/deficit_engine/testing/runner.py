"""``deficit-engine test``: run Gherkin scenarios in process and report rule coverage.

The feature files are bound to generated two-line test modules in a temporary
folder (``scenarios("<feature>")``), run with ``pytest.main`` under a private
configuration (so a project's own ``pytest.ini`` or ``conftest.py`` does not
interfere), and observed by a small plugin object that records every
scenario's outcome and the session's rule coverage, and advances a progress bar
over the collected scenarios (on a terminal; see :mod:`deficit_engine.progressbar`).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest

from ..errors import UsageError, display_path
from ..progressbar import Counter, Progress
from ._state import RuleCoverage, coverage

__all__ = ["ScenarioOutcome", "TestRun", "UsageError", "find_features", "run_features"]

PLUGIN = "deficit_engine.testing.plugin"
_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class ScenarioOutcome:
    feature: str  # the feature file as shown to the user
    name: str  # the scenario's name, with the example's parameters for an outline
    line: int
    passed: bool
    skipped: bool = False
    message: str = ""


@dataclass
class TestRun:
    """What one run found: scenario outcomes, collection errors, coverage per KB."""

    __test__ = False  # not a pytest test class

    outcomes: list[ScenarioOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    coverage: dict[Path, RuleCoverage] = field(default_factory=dict)
    exit_status: int = 0

    @property
    def failed(self) -> list[ScenarioOutcome]:
        return [o for o in self.outcomes if not o.passed and not o.skipped]


def _display(path: Path) -> str:
    """How the report names a file or a KB: :func:`display_path` of the resolved path
    (two spellings of one file are shown alike), except the working directory itself,
    which is shown in full ("." would read as no name at all)."""
    resolved = path.resolve()
    if resolved == Path.cwd().resolve():
        return str(resolved)
    return display_path(resolved)


def find_features(paths: Sequence[str | Path]) -> list[Path]:
    """Feature files named by ``paths`` (files, or folders searched recursively)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.feature") if p.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"{raw}: no such feature file or folder")
    seen: dict[Path, None] = {}
    for p in out:
        seen.setdefault(p.resolve(), None)
    return list(seen)


class _Observer:
    """A pytest plugin object that records what ``deficit-engine test`` prints."""

    def __init__(self, run: TestRun, modules: dict[str, Path], counter: Counter) -> None:
        self.run = run
        self.modules = modules  # generated module file name -> feature file
        self.counter = counter  # the progress bar, counting scenarios run
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Each collected item is one scenario (one row of an outline's examples).
        self.counter.expect(len(session.items))

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        # Once per scenario, whatever its outcome (a failed setup included).
        self.counter.advance()

    def _feature_of(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        feature = self.modules.get(module)
        return _display(feature) if feature is not None else nodeid

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr)
            lines = [ln for ln in text.splitlines() if ln.strip()]
            marked = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
            tail = "\n  ".join(marked or lines[-6:])
            self.run.errors.append(f"{self._feature_of(report.nodeid)}: {tail}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
            self._record(item, call, report)
        return report

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> None:
        from .plugin import _FEATURE, _SCENARIO

        feature, _lang = item.stash.get(_FEATURE, (None, ""))
        name, line = item.stash.get(_SCENARIO, (item.name, 0))
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            example = callspec.params.get("_pytest_bdd_example")
            if isinstance(example, dict):
                name += " [" + ", ".join(f"{k}={v}" for k, v in example.items()) + "]"
        message = ""
        if report.outcome == "failed" and call.excinfo is not None:
            exc = call.excinfo.value
            failed = isinstance(exc, pytest.fail.Exception)
            message = str(exc) if failed else call.excinfo.exconly()
        self.run.outcomes.append(
            ScenarioOutcome(
                feature=_display(feature) if feature else self._feature_of(item.nodeid),
                name=name,
                line=line,
                passed=report.outcome == "passed",
                skipped=report.outcome == "skipped",
                message=message,
            )
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.run.coverage = dict(coverage(session.config))


def run_scenarios(
    features: Sequence[Path], kb: Path | None = None, progress: Progress | None = None
) -> TestRun:
    """Run the scenarios of ``features`` in this process; return what happened.

    Parameters
    ----------
    features : sequence of Path
        The feature files.
    kb : Path, optional
        The knowledge base of every scenario (default: each scenario's own).
    progress : Progress, optional
        Draws a bar over the scenarios (default: none).

    Returns
    -------
    TestRun
        The scenarios' outcomes, the collection errors and the rule coverage.
    """
    run = TestRun()
    with tempfile.TemporaryDirectory(prefix="deficit-engine-test-") as tmp:
        folder = Path(tmp)
        token = uuid.uuid4().hex[:10]
        modules: dict[str, Path] = {}
        for i, feature in enumerate(features):
            name = f"test_features_{token}_{i}.py"
            (folder / name).write_text(
                f"from pytest_bdd import scenarios\n\nscenarios({str(feature.resolve())!r})\n",
                encoding="utf-8",
            )
            modules[name] = feature
        ini = folder / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        args = [
            str(folder),
            "-c",
            str(ini),
            "--rootdir",
            str(folder),
            "--import-mode=importlib",
            "--continue-on-collection-errors",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:terminal",
            # Only the step library and pytest-bdd: other installed plugins
            # (reordering, parallelism, reporting) have no say in a scenario run.
            "-p",
            "pytest_bdd.plugin",
            "-p",
            PLUGIN,
        ]
        if kb is not None:
            args += ["--deficit-kb", str(kb.resolve())]
        before = set(sys.modules)
        autoload = os.environ.get(_AUTOLOAD)
        os.environ[_AUTOLOAD] = "1"
        bars = progress or Progress.off()
        try:
            with bars.counter("scenarios", unit="scenario") as counter:
                status = pytest.main(args, plugins=[_Observer(run, modules, counter)])
        finally:
            if autoload is None:
                os.environ.pop(_AUTOLOAD, None)
            else:
                os.environ[_AUTOLOAD] = autoload
            for mod in set(sys.modules) - before:
                if mod.startswith(f"test_features_{token}_"):
                    del sys.modules[mod]
        run.exit_status = int(status)
    return run


def _fmt_pct(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def run_features(
    paths: Sequence[str | Path] = (),
    *,
    kb: str | Path | None = None,
    min_coverage: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    progress: Progress | None = None,
) -> int:
    """Run scenarios, print each one's result and the rule coverage; return the exit code.

    Parameters
    ----------
    paths : sequence of str or Path
        Feature files or folders (searched recursively); empty: the KB's own
        ``features/``.
    kb : str or Path, optional
        The knowledge base of every scenario (default: each scenario's own, else
        the shipped one). It is checked first; its problems end the run.
    min_coverage : float, optional
        Fail when fewer than this percentage of the rules fired.
    out, err : TextIO, optional
        Where the report and the problems go (default: stdout, stderr).
    progress : Progress, optional
        A bar over the scenarios while they run (default: none); the report is
        printed after it closes and is the same with or without it.

    Returns
    -------
    int
        0 when every scenario passes and coverage is at least ``min_coverage``,
        1 otherwise.

    Raises
    ------
    UsageError
        ``min_coverage`` outside 0..100, ``kb`` not a folder, a feature file that
        does not exist, no feature files at all.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    kb_dir = _arguments(kb, min_coverage)
    features = _features_to_run(paths, kb_dir)
    if kb_dir is not None and _report_kb_errors(kb_dir, err):
        return 1
    run = run_scenarios(features, kb_dir, progress)
    if _pytest_stopped(run, err):
        return 1
    _print_outcomes(run, out)
    _print_summary(run, out)
    target = kb_dir.resolve() if kb_dir is not None else None
    low = _print_coverage(run, target, min_coverage, out)
    return _exit_code(run, low, out)


def _arguments(kb: str | Path | None, min_coverage: float | None) -> Path | None:
    """Check the options; return the KB folder (None: each scenario's own)."""
    if min_coverage is not None and not 0 <= min_coverage <= 100:
        raise UsageError(f"--min-coverage {min_coverage:g}: expected a percentage from 0 to 100")
    kb_dir = Path(kb) if kb is not None else None
    if kb_dir is not None and not kb_dir.is_dir():
        raise UsageError(f"--kb {kb}: not a directory")
    return kb_dir


def _features_to_run(paths: Sequence[str | Path], kb_dir: Path | None) -> list[Path]:
    """The feature files named, else those of the KB's ``features/`` folder."""
    if paths:
        features = find_features(paths)
    else:
        from ..loader import default_kb_path

        home = kb_dir if kb_dir is not None else default_kb_path()
        folder = home / "features"
        if not folder.is_dir():
            raise UsageError(
                f"{display_path(folder)}: no features folder; name feature files to run"
            )
        features = find_features([folder])
    if not features:
        raise UsageError("no .feature files found")
    return features


def _report_kb_errors(kb_dir: Path, err: TextIO) -> bool:
    """Check the KB every scenario will use; print its errors; True if it has any."""
    from ..loader import check_kb

    _kb, issues = check_kb(kb_dir)
    errors = [i for i in issues if i.severity == "error"]
    for issue in errors:
        print(str(issue), file=err)
    if errors:
        print(
            f"deficit-engine: the knowledge base has {len(errors)} problem(s); "
            "run 'deficit-engine check'",
            file=err,
        )
    return bool(errors)


def _pytest_stopped(run: TestRun, err: TextIO) -> bool:
    """pytest itself gave up (bad arguments, an internal error): say why; True if so."""
    if run.exit_status not in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        return False
    for line in run.errors:
        print(line, file=err)
    print(f"deficit-engine: pytest stopped with exit status {run.exit_status}", file=err)
    return True


def _exit_code(run: TestRun, low_coverage: bool, out: TextIO) -> int:
    """0 when every scenario ran and passed and coverage is high enough, else 1."""
    if run.exit_status == pytest.ExitCode.NO_TESTS_COLLECTED and not run.outcomes:
        print("Сценариев не найдено.", file=out)
        return 1
    ok = not run.failed and not run.errors and not low_coverage
    return 0 if ok and run.exit_status in (0, 5) else 1


def _print_outcomes(run: TestRun, out: TextIO) -> None:
    """Each scenario's result under its feature file, then the collection errors."""
    current = None
    for o in run.outcomes:
        if o.feature != current:
            current = o.feature
            print(current, file=out)
        mark = "ok  " if o.passed else ("skip" if o.skipped else "FAIL")
        print(f"  {mark}  {o.name}", file=out)
        if o.message and not o.passed:
            for line in o.message.splitlines():
                print(f"        {line}", file=out)
    for e in run.errors:
        print(f"ERROR {e}", file=out)


def _print_summary(run: TestRun, out: TextIO) -> None:
    """One line of counts, in Russian."""
    passed = sum(1 for o in run.outcomes if o.passed)
    skipped = sum(1 for o in run.outcomes if o.skipped)
    summary = f"Сценариев: {len(run.outcomes)}; пройдено: {passed}; не пройдено: {len(run.failed)}"
    if skipped:
        summary += f"; пропущено: {skipped}"
    if run.errors:
        summary += f"; ошибок сбора: {len(run.errors)}"
    print("", file=out)
    print(summary, file=out)


def _print_coverage(
    run: TestRun, target: Path | None, min_coverage: float | None, out: TextIO
) -> bool:
    """The rule coverage of each KB the scenarios used (and of ``target``, the KB that
    ``--kb`` named, even when no scenario applied its rules); True if any is below
    ``min_coverage``."""
    reports = dict(run.coverage)
    if target is not None and target not in reports:
        reports[target] = _empty_coverage(target)
    low = False
    for path, cov in reports.items():
        print("", file=out)
        print(
            f"Покрытие правил ({_display(path)}): {cov.fired_count}/{cov.total} "
            f"({_fmt_pct(cov.percent)} %)",
            file=out,
        )
        never = cov.never_fired()
        if never:
            print(f"Ни разу не сработали ({len(never)}):", file=out)
            for rid, title in never:
                print(f"  {rid} — {title}", file=out)
        if min_coverage is not None and cov.percent < min_coverage:
            low = True
            print(
                f"Покрытие {_fmt_pct(cov.percent)} % ниже требуемого --min-coverage "
                f"{min_coverage:g} %",
                file=out,
            )
    if not reports:
        print("\nПокрытие правил: ни один сценарий не применил правила.", file=out)
        # nothing was covered: any positive requirement fails
        low = bool(min_coverage)
    return low


def _empty_coverage(path: Path) -> RuleCoverage:
    from ..errors import KnowledgeBaseError
    from ..loader import load_kb

    try:
        kb = load_kb(path)
    except KnowledgeBaseError:
        return RuleCoverage(path, ())
    return RuleCoverage(path, tuple((r.id, r.title) for r in kb.rules))
