"""The Gherkin step library (deficit_engine.testing.plugin), run through pytester.

The plugin is loaded by its ``pytest11`` entry point, as in any project that
installs the package: the pytester projects below have no conftest.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import write_kb

pytest_plugins = ["pytester"]

# A rule set an outside methodologist might author for the mini KB of conftest.py.
AUTHORED_RULES = """\
ruleset: authored
rules:
  - id: CRIT
    title: Ниже 30 % — критический дефицит
    when:
      - result: {score_pct: {lt: 30}}
    then:
      - deficit: {competency: $result.competency, severity: critical}
  - id: LOW
    title: От 30 до 50 % — выраженный дефицит
    when:
      - result: {score_pct: {ge: 30, lt: 50}}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: PART
    title: От 50 до 75 % — умеренный дефицит
    when:
      - result: {score_pct: {ge: 50, lt: 75}}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
  - id: PROGRAM
    title: Критический или выраженный дефицит — программа
    when:
      - deficit: {severity: {in: [critical, high]}}
    then:
      - need: {kind: program, competency: $deficit.competency}
  - id: YOUNG
    title: Молодой педагог с методическим дефицитом — наставник
    when:
      - person: {experience_years: {lt: 3}}
      - deficit: {group: methodical}
    then:
      - need: {kind: mentor, competency: $deficit.competency, form: young_specialist}
  - id: PRACTICE
    title: Любой дефицит — стажировка
    when:
      - deficit: {}
    then:
      - need: {kind: format, format: internship, competency: $deficit.competency}
  - id: REQUEST-PROGRAM
    title: Запрос педагога — программа
    when:
      - request: {}
    then:
      - need: {kind: program, competency: $request.competency}
  - id: MANAGER
    title: Руководитель с дефицитом — стажировка руководителей
    when:
      - person: {role: manager}
      - deficit: {}
    then:
      - need: {kind: format, format: internship}
"""

RU_FEATURE = """\
# language: ru
Функция: Авторская база знаний

  Сценарий: Молодой педагог с выраженным методическим дефицитом
    Дано база знаний "kb"
    И педагог "T-1" со стажем 2 года
    И муниципалитет "Анучинский МО"
    И результат по компетенции "methodical.lesson_design" 40 %
    И результат по компетенции "digital.distance" 80%
    И запрос на развитие "digital.ai"
    Когда применяются правила
    Тогда выявлен дефицит "methodical.lesson_design" уровня "high"
    И выявлен дефицит "methodical.lesson_design" уровня "выраженный"
    И дефицит "digital.distance" не выявлен
    И сработало правило "LOW"
    И правило "CRIT" не сработало
    И рекомендована программа "DPP-0001"
    И рекомендован наставник "M-001"
    И рекомендован формат "internship"
    И в маршруте "DPP-0001" раньше "internship"
    И неудовлетворённая потребность по "digital.ai"

  Структура сценария: Уровень результата
    Дано база знаний "kb"
    И педагог "T-2" со стажем <стаж>
    И результаты диагностики:
      | компетенция           | процент    |
      | methodical.assessment | <процент>  |
    Тогда выявлен дефицит "methodical.assessment" уровня "<уровень>"

    Примеры:
      | стаж   | процент | уровень  |
      | 1 год  | 10      | critical |
      | 3 года | 49,5 %  | high     |
      | 5 лет  | 60%     | moderate |

  Сценарий: Каждый сценарий начинается с пустого профиля
    Дано база знаний "kb"
    И педагог "T-3" со стажем 10 лет
    Когда применяются правила
    Тогда дефицитов не выявлено
"""

EN_FEATURE = """\
Feature: An authored knowledge base

  Scenario: A young teacher with a marked methodical deficit
    Given the knowledge base "kb"
    And a teacher "T-1" with 2 years of experience
    And the municipality "Анучинский МО"
    And a result of 40 % for "methodical.lesson_design"
    And a result of 80% for "digital.distance"
    And a request for "digital.ai"
    When the rules are applied
    Then a deficit "methodical.lesson_design" of severity "high" is found
    And no deficit "digital.distance" is found
    And the rule "LOW" fired
    And the rule "CRIT" did not fire
    And the programme "DPP-0001" is recommended
    And the mentor "M-001" is recommended
    And the format "internship" is recommended
    And in the route "DPP-0001" comes before "internship"
    And an unmet need for "digital.ai" is reported

  Scenario Outline: Result levels
    Given the knowledge base "kb"
    And a manager "M-2" with <years> of experience
    And the diagnostic results:
      | competency            | percent   |
      | methodical.assessment | <percent> |
    Then a deficit "methodical.assessment" of severity "<severity>" is found

    Examples:
      | years   | percent | severity |
      | 1 year  | 10      | critical |
      | 2 years | 40      | high     |

  Scenario: No deficits
    Given the knowledge base "kb"
    And a teacher "T-3" with 10 years of experience
    Then no deficits are found
"""

TWO_LINES = 'from pytest_bdd import scenarios\nscenarios("{}")\n'


def authored_kb(root: Path) -> Path:
    """The mini KB of conftest.py with an authored rule set, written to ``root``."""
    write_kb(root)
    (root / "rules").mkdir(exist_ok=True)
    (root / "rules" / "authored.yaml").write_text(AUTHORED_RULES, encoding="utf-8")
    return root


def project(pytester: pytest.Pytester, features: dict[str, str]) -> None:
    """A foreign project: a KB, feature files and two-line test modules; no conftest."""
    authored_kb(pytester.path / "kb")
    for i, (name, text) in enumerate(features.items()):
        pytester.path.joinpath(name).write_text(text, encoding="utf-8")
        pytester.path.joinpath(f"test_f{i}.py").write_text(TWO_LINES.format(name))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # hypothesis's plugin would import (and assertion-rewrite) hypothesis in
    # every in-process run; nothing here uses it.
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)


def scenario(body: str, *, language: str = "ru", kb: str = "kb") -> str:
    """One scenario (Russian unless told) with the KB step, as a feature file."""
    body = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    if language == "ru":
        return f'# language: ru\nФункция: Ф\n\n  Сценарий: С\n    Дано база знаний "{kb}"\n{body}\n'
    return f'Feature: F\n\n  Scenario: S\n    Given the knowledge base "{kb}"\n{body}\n'


# --- the vocabulary ------------------------------------------------------------


def test_russian_and_english_scenarios_pass(pytester: pytest.Pytester) -> None:
    project(pytester, {"ru.feature": RU_FEATURE, "en.feature": EN_FEATURE})
    assert not list(pytester.path.glob("conftest.py"))
    result = _run(pytester)
    result.assert_outcomes(passed=9)


@pytest.mark.parametrize(
    "step",
    [
        'И педагог "T" со стажем 1 год',
        'И педагог "T" со стажем 2 года',
        'И педагог "T" со стажем 5 лет',
        'И педагог "T" со стажем 21 год',
        'И педагог "T" со стажем 1,5 года',
        'И руководитель "T" со стажем 4 года',
        'И методист "T" со стажем 11 лет',
        'И педагог-психолог "T" со стажем 3 года',
        'И работник "T" в роли "tutor" со стажем 7 лет',
    ],
)
def test_russian_people_and_number_agreement(pytester: pytest.Pytester, step: str) -> None:
    project(
        pytester,
        {
            "x.feature": scenario(
                f"""
                {step}
                И результат по компетенции "methodical.assessment" 20 %
                Тогда выявлен дефицит "methodical.assessment" уровня "critical"
                """
            )
        },
    )
    _run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "step",
    [
        'And a teacher "T" with 1 year of experience',
        'And a teacher "T" with 2 years of experience',
        'And a manager "T" with 30 years of experience',
        'And a methodist "T" with 4 years of experience',
        'And a psychologist "T" with 4 years of experience',
        'And a person "T" in the role "tutor" with 4 years of experience',
    ],
)
def test_english_people_and_number_agreement(pytester: pytest.Pytester, step: str) -> None:
    project(
        pytester,
        {
            "x.feature": scenario(
                f"""
                {step}
                And a result of 20% for "methodical.assessment"
                Then a deficit "methodical.assessment" of severity "critical" is found
                """,
                language="en",
            )
        },
    )
    _run(pytester).assert_outcomes(passed=1)


def test_steps_match_whatever_keyword_they_are_written_with(pytester: pytest.Pytester) -> None:
    text = """\
# language: ru
Функция: Ф

  Сценарий: Ключевые слова только для чтения
    Тогда база знаний "kb"
    Когда педагог "T" со стажем 2 года
    Дано результат по компетенции "methodical.lesson_design" 40 %
    Тогда применяются правила
    Дано сработало правило "YOUNG"
    Но рекомендован наставник "M-001"
"""
    project(pytester, {"x.feature": text})
    _run(pytester).assert_outcomes(passed=1)


def test_data_tables_take_indicators_and_either_language(pytester: pytest.Pytester) -> None:
    text = scenario(
        """
        И педагог "T" со стажем 9 лет
        И результаты диагностики:
          | competency                     | процент |
          | methodical.lesson_design.goals | 20 %    |
          | methodical.lesson_design.tasks | 60      |
          | digital.ai                     | 85,5    |
        Тогда выявлен дефицит "methodical.lesson_design" уровня "moderate"
        И дефицит "digital.ai" не выявлен
        """
    )
    project(pytester, {"x.feature": text})
    _run(pytester).assert_outcomes(passed=1)


def test_a_table_with_an_unknown_header_says_what_it_needs(pytester: pytest.Pytester) -> None:
    text = scenario(
        """
        И педагог "T" со стажем 9 лет
        И результаты диагностики:
          | код   | балл |
          | x     | 1    |
        """
    )
    project(pytester, {"x.feature": text})
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*нужны столбцы «компетенция» и «процент»*"])


def test_a_given_step_after_evaluation_starts_a_new_evaluation(pytester: pytest.Pytester) -> None:
    text = scenario(
        """
        И педагог "T" со стажем 9 лет
        Когда применяются правила
        Тогда дефицитов не выявлено
        Дано результат по компетенции "methodical.assessment" 10 %
        Тогда выявлен дефицит "methodical.assessment" уровня "critical"
        И результат по компетенции "methodical.assessment" 90 %
        Тогда дефицитов не выявлено
        """
    )
    project(pytester, {"x.feature": text})
    _run(pytester).assert_outcomes(passed=1)


def test_each_scenario_starts_from_a_fresh_profile(pytester: pytest.Pytester) -> None:
    text = """\
# language: ru
Функция: Ф

  Предыстория:
    Дано база знаний "kb"
    И педагог "T" со стажем 9 лет

  Сценарий: Первый
    Дано результат по компетенции "methodical.assessment" 10 %
    И запрос на развитие "digital.ai"
    Тогда выявлен дефицит "methodical.assessment" уровня "critical"

  Сценарий: Второй
    Тогда дефицитов не выявлено
    И правило "REQUEST-PROGRAM" не сработало

  Структура сценария: Третий
    Дано результат по компетенции "<c>" 10 %
    Тогда выявлен дефицит "<c>" уровня "critical"
    И дефицит "<other>" не выявлен

    Примеры:
      | c                     | other                 |
      | methodical.assessment | digital.distance      |
      | digital.distance      | methodical.assessment |
"""
    project(pytester, {"x.feature": text})
    _run(pytester, "-p", "no:randomly").assert_outcomes(passed=4)


# --- failing steps say what they found ---------------------------------------------


def _failure(pytester: pytest.Pytester, text: str) -> str:
    project(pytester, {"x.feature": text})
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    return result.stdout.str()


def test_a_wrong_severity_lists_the_deficits_and_the_rules_behind_them(
    pytester: pytest.Pytester,
) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.assessment" 40 %
            И результат по компетенции "digital.distance" 10 %
            Когда применяются правила
            Тогда выявлен дефицит "methodical.assessment" уровня "critical"
            """
        ),
    )
    assert 'x.feature:10: Тогда выявлен дефицит "methodical.assessment" уровня "critical"' in out
    assert "а выявлен уровень high (выраженный) (правило LOW)" in out
    assert "methodical.assessment: high (выраженный), 40 % — LOW" in out
    assert "digital.distance: critical (критический), 10 % — CRIT" in out
    assert "Traceback" not in out


def test_an_english_failure_is_in_english(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            And a teacher "T" with 9 years of experience
            And a result of 40 % for "methodical.assessment"
            Then no deficits are found
            """,
            language="en",
        ),
    )
    assert "expected no deficits, found 1." in out
    assert "methodical.assessment: high, 40 % — LOW" in out


def test_a_rule_that_did_not_fire_lists_the_rules_that_did(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.assessment" 40 %
            Тогда сработало правило "CRT"
            """
        ),
    )
    assert "правило «CRT» не сработало." in out
    assert "(возможно, «CRIT»?)" in out
    assert "Сработали правила: LOW, PROGRAM, PRACTICE" in out


def test_a_rule_that_fired_shows_its_firings(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.assessment" 40 %
            Тогда правило "LOW" не сработало
            """
        ),
    )
    assert "правило «LOW» сработало, хотя не должно было" in out
    assert "result(competency=methodical.assessment" in out
    assert "=> deficit(competency=methodical.assessment" in out


def test_a_missing_recommendation_lists_what_was_recommended(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.assessment" 40 %
            Тогда рекомендована программа "DPP-0002"
            """
        ),
    )
    assert "программа «DPP-0002» не рекомендована." in out
    assert "- DPP-0001 (methodical.assessment) — PROGRAM" in out
    assert "methodical.assessment — PROGRAM" in out


def test_a_wrong_route_order_shows_the_route(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.assessment" 40 %
            Тогда в маршруте "internship" раньше "DPP-0001"
            """
        ),
    )
    assert "в маршруте «internship» не раньше «DPP-0001»" in out
    assert "Маршрут по порядку:" in out
    assert "program DPP-0001" in out and "format internship" in out


def test_a_missing_unmet_need_lists_the_needs(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.assessment" 40 %
            Тогда неудовлетворённая потребность по "methodical.assessment"
            """
        ),
    )
    assert "неудовлетворённой потребности по «methodical.assessment» нет." in out
    assert "Их обслуживают:" in out and "program DPP-0001" in out


def test_an_invalid_profile_is_reported_with_a_suggestion(pytester: pytest.Pytester) -> None:
    out = _failure(
        pytester,
        scenario(
            """
            И педагог "T" со стажем 9 лет
            И результат по компетенции "methodical.asessment" 40 %
            Тогда дефицитов не выявлено
            """
        ),
    )
    assert "профиль сценария неверен" in out
    assert "unknown competency 'methodical.asessment'" in out
    assert "did you mean 'methodical.assessment'" in out


def test_a_scenario_without_a_person_says_how_to_start(pytester: pytest.Pytester) -> None:
    out = _failure(pytester, scenario("Тогда дефицитов не выявлено"))
    assert "профиль не задан" in out


def test_an_invalid_kb_is_reported_with_its_problems(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        {"x.feature": scenario('И педагог "T" со стажем 9 лет\nТогда дефицитов не выявлено')},
    )
    (pytester.path / "kb" / "rules" / "bad.yaml").write_text(
        "ruleset: bad\nrules:\n  - id: X\n    when: {reslt: {}}\n    then: {deficit: {}}\n",
        encoding="utf-8",
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*содержит ошибки*", "*bad.yaml:4:*unknown-fact-type*"])


# --- where the KB comes from -----------------------------------------------------------


def test_a_relative_kb_resolves_against_the_feature_file(pytester: pytest.Pytester) -> None:
    authored_kb(pytester.path / "kb")
    features = pytester.path / "specs" / "deep"
    features.mkdir(parents=True)
    body = 'И педагог "T" со стажем 9 лет\nИ результат по компетенции "methodical.assessment" 40 %\nТогда сработало правило "LOW"'
    (features / "x.feature").write_text(scenario(body, kb="../../kb"), encoding="utf-8")
    pytester.path.joinpath("test_x.py").write_text(TWO_LINES.format("specs/deep/x.feature"))
    _run(pytester).assert_outcomes(passed=1)


def test_a_feature_inside_a_kb_uses_that_kb(pytester: pytest.Pytester) -> None:
    kb = authored_kb(pytester.path / "kb")
    (kb / "features").mkdir()
    (kb / "features" / "x.feature").write_text(
        '# language: ru\nФункция: Ф\n  Сценарий: С\n    Дано педагог "T" со стажем 9 лет\n'
        '    И результат по компетенции "methodical.assessment" 40 %\n'
        '    Тогда сработало правило "LOW"\n',
        encoding="utf-8",
    )
    pytester.path.joinpath("test_x.py").write_text(TWO_LINES.format("kb/features/x.feature"))
    _run(pytester).assert_outcomes(passed=1)


def test_the_kb_option_and_variable_set_the_kb_of_every_scenario(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = 'И педагог "T" со стажем 9 лет\nИ результат по компетенции "methodical.assessment" 40 %\nТогда сработало правило "LOW"'
    project(pytester, {"x.feature": scenario(body, kb="nowhere")})
    _run(pytester).assert_outcomes(failed=1)
    _run(pytester, "--deficit-kb", "kb").assert_outcomes(passed=1)
    monkeypatch.setenv("DEFICIT_ENGINE_KB", str(pytester.path / "kb"))
    _run(pytester).assert_outcomes(passed=1)


def test_coverage_is_printed_on_request(pytester: pytest.Pytester) -> None:
    project(pytester, {"ru.feature": RU_FEATURE})
    result = _run(pytester, "--deficit-coverage")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["*rule coverage:*kb*", "fired 7/8 (87.5 %)*", "*never fired: MANAGER — Руководитель*"]
    )


# --- it does not get in the way ------------------------------------------------------


def test_plain_test_runs_are_unaffected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert 1 + 1 == 2\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    assert "rule coverage" not in result.stdout.str()


def test_a_foreign_project_needs_no_conftest(pytester: pytest.Pytester) -> None:
    """A fresh interpreter in a folder with a KB, feature files and two-line modules."""
    project(pytester, {"ru.feature": RU_FEATURE, "en.feature": EN_FEATURE})
    assert sorted(p.name for p in pytester.path.iterdir()) == [
        "en.feature",
        "kb",
        "ru.feature",
        "test_f0.py",
        "test_f1.py",
    ]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=9)
