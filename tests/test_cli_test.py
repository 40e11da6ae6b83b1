"""``deficit-engine test``: scenarios written outside the project, coverage, exit codes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deficit_engine.cli import main
from test_plugin import EN_FEATURE, RU_FEATURE, authored_kb

WRONG = """\
# language: ru
Функция: Ошибка автора

  Сценарий: Неверно ожидаемая степень
    Дано база знаний "kb"
    И педагог "T-9" со стажем 5 лет
    И результат по компетенции "methodical.assessment" 60 %
    Когда применяются правила
    Тогда выявлен дефицит "methodical.assessment" уровня "critical"
"""


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside the repository: an authored KB and Russian and English features."""
    root = tmp_path / "outside"
    authored_kb(root / "kb")
    (root / "ru.feature").write_text(RU_FEATURE, encoding="utf-8")
    (root / "en.feature").write_text(EN_FEATURE, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def test_outside_russian_and_english_scenarios_pass(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "ru.feature", "en.feature"]) == 0
    out = capsys.readouterr().out
    assert "ru.feature\n  ok    Молодой педагог с выраженным методическим дефицитом\n" in out
    assert "  ok    Уровень результата [стаж=3 года, процент=49,5 %, уровень=high]" in out
    assert "en.feature\n  ok    A young teacher with a marked methodical deficit\n" in out
    assert "  ok    Result levels [years=2 years, percent=40, severity=high]" in out
    assert "Сценариев: 9; пройдено: 9; не пройдено: 0" in out
    assert "Покрытие правил (kb): 8/8 (100,0 %)" in out
    assert "Ни разу не сработали" not in out


def test_coverage_names_the_rules_that_never_fired(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "ru.feature"]) == 0
    out = capsys.readouterr().out
    assert "Покрытие правил (kb): 7/8 (87,5 %)" in out
    assert (
        "Ни разу не сработали (1):\n  MANAGER — Руководитель с дефицитом — стажировка руководителей"
        in out
    )


def test_a_wrong_scenario_fails_with_exit_1_and_says_why(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (outside / "wrong.feature").write_text(WRONG, encoding="utf-8")
    assert main(["test", "ru.feature", "wrong.feature"]) == 1
    out = capsys.readouterr().out
    assert "  FAIL  Неверно ожидаемая степень" in out
    assert 'wrong.feature:9: Тогда выявлен дефицит "methodical.assessment" уровня "critical"' in out
    assert "а выявлен уровень moderate (умеренный) (правило PART)" in out
    assert "не пройдено: 1" in out


def test_kb_option_sets_the_kb_of_every_scenario(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = outside / "elsewhere"
    (outside / "kb").rename(moved)
    assert main(["test", "ru.feature"]) == 1
    assert "база знаний не найдена" in capsys.readouterr().out
    assert main(["test", "--kb", "elsewhere", "ru.feature"]) == 0
    assert "Покрытие правил (elsewhere): 7/8" in capsys.readouterr().out


def test_min_coverage(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--min-coverage", "80", "ru.feature"]) == 0
    assert main(["test", "--min-coverage", "100", "ru.feature"]) == 1
    assert "ниже требуемого --min-coverage 100 %" in capsys.readouterr().out


def test_default_features_are_the_kbs_own(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = outside / "kb"
    assert main(["test", "--kb", str(kb)]) == 2
    assert "no features folder" in capsys.readouterr().err
    (kb / "features").mkdir()
    (kb / "features" / "own.feature").write_text(
        RU_FEATURE.replace('Дано база знаний "kb"\n    И', "Дано"), encoding="utf-8"
    )
    assert main(["test", "--kb", str(kb)]) == 0
    out = capsys.readouterr().out
    assert "own.feature" in out and "Сценариев: 5; пройдено: 5" in out


def test_the_shipped_features_cover_at_least_90_percent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["test", "--min-coverage", "90"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"Сценариев: (\d+); пройдено: (\d+); не пройдено: 0", out)
    assert m and int(m.group(1)) >= 30
    fired, total = map(int, re.search(r"Покрытие правил \(.*\): (\d+)/(\d+)", out).groups())  # type: ignore[union-attr]
    assert fired / total >= 0.9


def test_shipped_features_are_russian_with_outlines(repo_root: Path) -> None:
    texts = [
        p.read_text(encoding="utf-8") for p in sorted((repo_root / "features").glob("*.feature"))
    ]
    assert texts and all(t.startswith("# language: ru\n") for t in texts)
    scenarios = sum(len(re.findall(r"^\s*(Сценарий|Структура сценария):", t, re.M)) for t in texts)
    assert scenarios >= 30
    assert any("Структура сценария:" in t and "Примеры" in t for t in texts)


def test_usage_errors_exit_2(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "nope.feature"]) == 2
    assert main(["test", "--kb", "nope", "ru.feature"]) == 2
    assert main(["test", "--min-coverage", "101", "ru.feature"]) == 2
    assert main(["test", "--min-coverage", "many", "ru.feature"]) == 2
    (outside / "empty").mkdir()
    assert main(["test", "empty"]) == 2
    err = capsys.readouterr().err
    assert "nope.feature: no such feature file or folder" in err
    assert "no .feature files found" in err and "Traceback" not in err


def test_a_broken_feature_file_is_a_finding(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (outside / "broken.feature").write_text("Функция без языка\n  Сценарий: x\n", encoding="utf-8")
    assert main(["test", "broken.feature", "ru.feature"]) == 1
    out = capsys.readouterr().out
    assert "ERROR broken.feature" in out
    assert "пройдено: 5" in out


def test_repeated_runs_in_one_process_do_not_interfere(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "en.feature"]) == 0
    (outside / "en.feature").write_text(
        EN_FEATURE.replace('"high" is found', '"low" is found'), encoding="utf-8"
    )
    (outside / "en2.feature").write_text(EN_FEATURE, encoding="utf-8")
    assert main(["test", "en2.feature"]) == 0
    capsys.readouterr()


def test_the_installed_command_from_a_foreign_folder(outside: Path) -> None:
    script = Path(sys.executable).with_name("deficit-engine")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "deficit_engine"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DEFICIT_ENGINE_KB")}
    (outside / "wrong.feature").write_text(WRONG, encoding="utf-8")
    done = subprocess.run(
        [*cmd, "test", "ru.feature", "wrong.feature"],
        cwd=outside,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Сценариев: 6; пройдено: 5; не пройдено: 1" in done.stdout
    assert "MANAGER — " in done.stdout and "Traceback" not in done.stderr


def test_an_invalid_kb_is_reported_once_before_any_scenario(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (outside / "kb" / "rules" / "bad.yaml").write_text(
        "ruleset: bad\nrules:\n  - id: X\n    when: {reslt: {}}\n    then: {deficit: {}}\n",
        encoding="utf-8",
    )
    assert main(["test", "--kb", "kb", "ru.feature"]) == 1
    out, err = capsys.readouterr()
    assert "bad.yaml:4:" in err and "unknown-fact-type" in err and "Traceback" not in err
    assert out == ""


# --- progress ---------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("terminal", "flags", "shown"),
    [
        (False, [], False),
        (True, [], True),
        (True, ["--quiet"], False),
        (False, ["--progress"], True),
    ],
)
def test_progress_on_a_terminal_or_forced_and_the_report_unchanged(
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    terminal: bool,
    flags: list[str],
    shown: bool,
) -> None:
    (outside / "wrong.feature").write_text(WRONG, encoding="utf-8")
    assert main(["test", "--quiet", "ru.feature", "wrong.feature"]) == 1
    plain = capsys.readouterr().out
    err = FakeTerminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["test", *flags, "ru.feature", "wrong.feature"]) == 1
    assert capsys.readouterr().out == plain  # the report is the same, bar or not
    text = err.getvalue()
    assert ("scenario/s" in text) is shown
    if shown:  # the total is the collected scenarios; a failing one is counted too
        assert "scenarios" in text and "0/6" in text and "6/6" in text and "100%" in text
    else:
        assert text == ""


def test_progress_counts_what_was_collected_beside_a_broken_feature(
    outside: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (outside / "broken.feature").write_text("Функция без языка\n  Сценарий: x\n", encoding="utf-8")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["test", "--progress", "broken.feature", "ru.feature"]) == 1
    assert "ERROR broken.feature" in capsys.readouterr().out
    assert "5/5" in err.getvalue()


def test_quiet_and_progress_together_are_a_usage_error(
    outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", "--quiet", "--progress", "ru.feature"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
