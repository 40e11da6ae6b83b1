"""The pytest plugin: the Russian and English Gherkin steps (docs/authoring.md, «Словарь шагов»).

Registered through the ``pytest11`` entry point, so a project that installs
deficit_engine gets the steps with no conftest: a folder with ``.feature``
files, a KB and ``from pytest_bdd import scenarios; scenarios("x.feature")``
is enough. Every step matches whatever keyword it is written with.

Options: ``--deficit-kb DIR`` (or the ``DEFICIT_ENGINE_KB`` environment
variable) sets the KB of every scenario; ``--deficit-coverage`` prints the rule
coverage at the end of the run. Without either, a scenario's KB is the one its
``Дано база знаний "DIR"`` step names (relative to the feature file's folder),
else the nearest folder above the feature file that holds ``ontology/``, else
the shipped KB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pytest_bdd import parsers, step

from . import _describe as describe

if TYPE_CHECKING:
    from ..models import Step

from ._state import (
    SEVERITY_WORDS,
    ScenarioState,
    StepInfo,
    coverage,
    session_store,
)

__all__ = ["deficit_scenario"]

F = TypeVar("F", bound=Callable[..., Any])

_FEATURE = pytest.StashKey[tuple[Path, str]]()
_SCENARIO = pytest.StashKey[tuple[str, int]]()
_STEP = pytest.StashKey[StepInfo]()


# --- hooks ----------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deficit-engine", "deficit_engine Gherkin steps")
    group.addoption(
        "--deficit-kb",
        dest="deficit_kb",
        default=None,
        metavar="DIR",
        help="knowledge base for every scenario (overrides 'Дано база знаний'; "
        "also the DEFICIT_ENGINE_KB environment variable)",
    )
    group.addoption(
        "--deficit-coverage",
        dest="deficit_coverage",
        action="store_true",
        default=False,
        help="print the rule coverage of the scenarios at the end of the run",
    )


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    request.node.stash[_FEATURE] = (Path(feature.filename), str(feature.language or "en"))
    request.node.stash[_SCENARIO] = (str(scenario.name), int(scenario.line_number))


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_before_step(
    request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any
) -> None:
    request.node.stash[_STEP] = StepInfo(str(step.keyword), str(step.name), int(step.line_number))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not config.getoption("deficit_coverage", False):
        return
    for cov in coverage(config).values():
        terminalreporter.write_sep("-", f"rule coverage: {cov.kb}")
        terminalreporter.write_line(
            f"fired {cov.fired_count}/{cov.total} ({cov.percent:.1f} %) "
            f"over {cov.evaluations} evaluation(s)"
        )
        for rid, title in cov.never_fired():
            terminalreporter.write_line(f"  never fired: {rid} — {title}")


# --- the fixture ----------------------------------------------------------------


@pytest.fixture
def deficit_scenario(request: pytest.FixtureRequest) -> ScenarioState:
    """The profile the current scenario builds, and its evaluation (fresh per scenario)."""
    node = request.node
    feature, language = node.stash.get(_FEATURE, (None, "en"))
    session_store(request.config)
    return ScenarioState(
        request.config,
        feature=feature,
        language=language,
        step=lambda: node.stash.get(_STEP, None),
    )


# --- step registration ------------------------------------------------------------


def _phrases(*patterns: str) -> Callable[[F], F]:
    """Register ``func`` as a step of any type under each regular expression."""

    def apply(func: F) -> F:
        for pattern in patterns:
            # stacklevel=2: pytest-bdd injects the step fixture into the module
            # that called ``apply``, i.e. this plugin module.
            step(parsers.re(pattern), stacklevel=2)(func)
        return func

    return apply


_Q = r'"(?P<{}>[^"]*)"'
_NUM = r"(?P<{}>\d+(?:[.,]\d+)?)"
_PCT = _NUM.format("pct") + r"[ \u00a0]?%"
_YEARS_RU = _NUM.format("years") + r" (?:год|года|лет)"
_YEARS_EN = _NUM.format("years") + r" years?"


def _q(name: str) -> str:
    return _Q.format(name)


# --- Given ------------------------------------------------------------------------


@_phrases(f"база знаний {_q('path')}", f"the knowledge base {_q('path')}")
def knowledge_base(deficit_scenario: ScenarioState, path: str) -> None:
    deficit_scenario.set_kb(path)


@_phrases(
    rf"(?P<role>педагог|учитель|руководитель|методист|педагог-психолог|тьютор) {_q('pid')} "
    rf"со стажем {_YEARS_RU}",
    rf"работник {_q('pid')} в роли {_q('role')} со стажем {_YEARS_RU}",
    rf"an? (?P<role>teacher|manager|methodist|psychologist|tutor) {_q('pid')} "
    rf"with {_YEARS_EN} of experience",
    rf"a person {_q('pid')} in the role {_q('role')} with {_YEARS_EN} of experience",
)
def person(deficit_scenario: ScenarioState, role: str, pid: str, years: str) -> None:
    deficit_scenario.set_person(role, pid, years)


@_phrases(f"муниципалитет {_q('name')}", f"the municipality {_q('name')}")
def municipality(deficit_scenario: ScenarioState, name: str) -> None:
    deficit_scenario.set_municipality(name)


@_phrases(f"организация {_q('name')}", f"the organisation {_q('name')}")
def organization(deficit_scenario: ScenarioState, name: str) -> None:
    deficit_scenario.set_organization(name)


@_phrases(
    f"квалификационная категория {_q('category')}", f"the qualification category {_q('category')}"
)
def category(deficit_scenario: ScenarioState, category: str) -> None:
    deficit_scenario.set_category(category)


@_phrases(f"предмет {_q('subject')}", f"the subject {_q('subject')}")
def subject(deficit_scenario: ScenarioState, subject: str) -> None:
    deficit_scenario.add_subject(subject)


@_phrases(
    rf"результат по (?:компетенции|индикатору) {_q('ident')} {_PCT}",
    rf"a result of {_PCT} for (?:the indicator )?{_q('ident')}",
)
def result_of(deficit_scenario: ScenarioState, ident: str, pct: str) -> None:
    deficit_scenario.add_result(ident, pct)


@_phrases(r"результаты диагностики:?", r"the diagnostic results:?")
def results_table(
    deficit_scenario: ScenarioState, datatable: list[list[str]] | None = None
) -> None:
    deficit_scenario.add_results_table(datatable)


@_phrases(f"запрос на развитие {_q('ident')}", f"a request for {_q('ident')}")
def request_for(deficit_scenario: ScenarioState, ident: str) -> None:
    deficit_scenario.add_request(ident)


# --- When -------------------------------------------------------------------------


@_phrases(r"применяются правила", r"the rules are applied")
def apply_rules(deficit_scenario: ScenarioState) -> None:
    deficit_scenario.evaluate()


# --- Then: deficits -----------------------------------------------------------------


def _severity(state: ScenarioState, raw: str) -> str:
    sev = SEVERITY_WORDS.get(raw.strip().lower())
    if sev is None:
        known = ", ".join(SEVERITY_WORDS)
        state.fail(
            state.say(
                f"неизвестный уровень дефицита «{raw}» (известные: {known})",
                f"unknown severity '{raw}' (known: {known})",
            )
        )
    return sev


def _known_competency(state: ScenarioState, ident: str) -> str:
    onto = state.engine().kb.ontology
    if ident in onto.competencies:
        return ""
    return "\n" + describe.did_you_mean(
        state, ident, onto.competencies, "Компетенции", "competency"
    )


@_phrases(
    f"выявлен дефицит {_q('ident')} уровня {_q('sev')}",
    f"a deficit {_q('ident')} of severity {_q('sev')} is found",
)
def deficit_found(deficit_scenario: ScenarioState, ident: str, sev: str) -> None:
    state = deficit_scenario
    want = _severity(state, sev)
    result = state.result
    got = result.deficit(ident)
    if got is not None and got.severity == want:
        return
    if got is None:
        head = state.say(
            f"дефицит «{ident}» уровня {describe.severity(state, want)} не выявлен: "
            "по этой компетенции дефицита нет.",
            f"no deficit '{ident}' of severity {want}: there is no deficit for that competency.",
        )
    else:
        head = state.say(
            f"ожидался дефицит «{ident}» уровня {describe.severity(state, want)}, "
            f"а выявлен уровень {describe.severity(state, got.severity)} (правило {got.rule}).",
            f"expected a deficit '{ident}' of severity {want}, "
            f"found severity {got.severity} (rule {got.rule}).",
        )
    state.fail(head + _known_competency(state, ident) + "\n" + describe.deficits(state, result))


@_phrases(f"дефицит {_q('ident')} не выявлен", f"no deficit {_q('ident')} is found")
def deficit_absent(deficit_scenario: ScenarioState, ident: str) -> None:
    state = deficit_scenario
    result = state.result
    got = result.deficit(ident)
    if got is None:
        return
    state.fail(
        state.say(
            f"дефицит «{ident}» выявлен, хотя не ожидался.",
            f"a deficit '{ident}' was found, though none was expected.",
        )
        + "\n"
        + describe.deficits(state, result, only=ident)
    )


@_phrases(r"дефицитов не выявлено", r"no deficits are found")
def no_deficits(deficit_scenario: ScenarioState) -> None:
    state = deficit_scenario
    result = state.result
    if not result.deficits:
        return
    state.fail(
        state.say(
            f"ожидалось, что дефицитов нет, а выявлено {len(result.deficits)}.",
            f"expected no deficits, found {len(result.deficits)}.",
        )
        + "\n"
        + describe.deficits(state, result)
    )


# --- Then: recommendations ----------------------------------------------------------


def _recommended(state: ScenarioState, kind: str, ident: str) -> None:
    result = state.result
    if any(r.kind == kind and r.id == ident for r in result.recommendations):
        return
    kb = state.engine().kb
    catalogues: dict[str, Mapping[str, Any]] = {
        "program": kb.programs,
        "mentor": kb.mentors,
        "format": kb.formats,
    }
    catalogue = catalogues[kind]
    what = {
        "program": ("программа «{}» не рекомендована", "programme"),
        "mentor": ("наставник «{}» не рекомендован", "mentor"),
        "format": ("формат «{}» не рекомендован", "format"),
    }[kind]
    head = state.say(what[0].format(ident) + ".", f"the {what[1]} '{ident}' is not recommended.")
    if ident not in catalogue:
        names = {
            "program": ("Программы", "programme"),
            "mentor": ("Наставника", "mentor"),
            "format": ("Формата", "format"),
        }[kind]
        head += "\n" + describe.did_you_mean(state, ident, catalogue, names[0], names[1])
    state.fail(head + "\n" + describe.recommendations(state, result, kind))


@_phrases(
    f"рекомендована программа {_q('ident')}",
    f"the (?:programme|program) {_q('ident')} is recommended",
)
def programme_recommended(deficit_scenario: ScenarioState, ident: str) -> None:
    _recommended(deficit_scenario, "program", ident)


@_phrases(f"рекомендован наставник {_q('ident')}", f"the mentor {_q('ident')} is recommended")
def mentor_recommended(deficit_scenario: ScenarioState, ident: str) -> None:
    _recommended(deficit_scenario, "mentor", ident)


@_phrases(f"рекомендован формат {_q('ident')}", f"the format {_q('ident')} is recommended")
def format_recommended(deficit_scenario: ScenarioState, ident: str) -> None:
    _recommended(deficit_scenario, "format", ident)


# --- Then: rules ---------------------------------------------------------------------


def _known_rule(state: ScenarioState, rule: str) -> str:
    ids = [r.id for r in state.engine().kb.rules]
    if rule in ids:
        return ""
    return "\n" + describe.did_you_mean(state, rule, ids, "Правила", "rule")


@_phrases(f"сработало правило {_q('rule')}", f"the rule {_q('rule')} fired")
def rule_fired(deficit_scenario: ScenarioState, rule: str) -> None:
    state = deficit_scenario
    result = state.result
    if rule in result.fired:
        return
    state.fail(
        state.say(f"правило «{rule}» не сработало.", f"the rule '{rule}' did not fire.")
        + _known_rule(state, rule)
        + "\n"
        + describe.fired(state, result)
        + "\n"
        + describe.deficits(state, result)
    )


@_phrases(f"правило {_q('rule')} не сработало", f"the rule {_q('rule')} did not fire")
def rule_not_fired(deficit_scenario: ScenarioState, rule: str) -> None:
    state = deficit_scenario
    result = state.result
    if rule not in result.fired:
        unknown = _known_rule(state, rule)
        if unknown:  # a typo would make this step pass for the wrong reason
            state.fail(unknown.strip())
        return
    state.fail(
        state.say(
            f"правило «{rule}» сработало, хотя не должно было:",
            f"the rule '{rule}' fired, though it should not have:",
        )
        + "\n"
        + describe.firings(state, result, rule)
    )


@_phrases(f"выведен факт {_q('ftype')}", f"a fact {_q('ftype')} is derived")
def fact_derived(deficit_scenario: ScenarioState, ftype: str) -> None:
    state = deficit_scenario
    result = state.result
    if any(f.get("type") == ftype for f in result.facts):
        return
    found = ", ".join(sorted({str(f.get("type")) for f in result.facts})) or "—"
    state.fail(
        state.say(
            f"факт «{ftype}» не выведен; выведенные факты: {found}",
            f"no fact '{ftype}' was derived; derived facts: {found}",
        )
    )


# --- Then: route and unmet needs -------------------------------------------------------


@_phrases(
    f"в маршруте {_q('first')} раньше {_q('second')}",
    f"in the route {_q('first')} comes before {_q('second')}",
)
def route_before(deficit_scenario: ScenarioState, first: str, second: str) -> None:
    state = deficit_scenario
    route = state.result.route
    steps = route.steps if route is not None else ()
    index = {s.id: i for i, s in enumerate(steps)}

    def earliest(ref: str) -> Step | None:
        mine = [s for s in steps if s.ref == ref]
        if not mine:
            return None
        return min(mine, key=lambda s: (s.start, index[s.id]))

    a, b = earliest(first), earliest(second)
    missing = [ref for ref, s in ((first, a), (second, b)) if s is None]
    if missing or a is None or b is None or route is None:
        state.fail(
            state.say(
                f"в маршруте нет шага с {', '.join(f'«{m}»' for m in missing)}.",
                f"the route has no step with {', '.join(repr(m) for m in missing)}.",
            )
            + "\n"
            + describe.route_order(state, steps)
        )
    if first == second:
        state.fail(state.say("сравнивается шаг сам с собой.", "a step is compared with itself."))
    import networkx as nx  # here, not at the top: the plugin loads into every pytest run

    aid, bid = a.id, b.id
    if aid in nx.ancestors(route.graph, bid):
        return
    b_first = bid in nx.ancestors(route.graph, aid)
    if not b_first and (a.start, index[aid]) < (b.start, index[bid]):
        return
    why = (
        state.say(
            f"{bid} предшествует {aid} по связям «после».", f"{bid} precedes {aid} through 'after'."
        )
        if b_first
        else state.say(
            f"{bid} ({second}) начинается {b.start}, {aid} ({first}) — {a.start}.",
            f"{bid} ({second}) starts {b.start}, {aid} ({first}) starts {a.start}.",
        )
    )
    state.fail(
        state.say(
            f"в маршруте «{first}» не раньше «{second}»: {why}",
            f"in the route '{first}' does not come before '{second}': {why}",
        )
        + "\n"
        + describe.route_order(state, steps)
    )


@_phrases(
    f"неудовлетвор[её]нная потребность по {_q('ident')}",
    f"an unmet need for {_q('ident')} is reported",
)
def unmet_need(deficit_scenario: ScenarioState, ident: str) -> None:
    state = deficit_scenario
    result = state.result
    if any(u.competency == ident for u in result.unmet):
        return
    needs = [n for n in result.needs if n.competency == ident]
    served = [r for r in result.recommendations if ident in r.competencies]
    lines = [
        state.say(
            f"неудовлетворённой потребности по «{ident}» нет.",
            f"no unmet need for '{ident}' was reported.",
        )
    ]
    if needs:
        lines.append(state.say(f"Потребности по «{ident}»:", f"Needs for '{ident}':"))
        lines += [f"  - {n.kind} — {n.rule}" for n in needs]
    else:
        lines.append(
            state.say(f"Потребностей по «{ident}» нет.", f"There are no needs for '{ident}'.")
        )
    if served:
        lines.append(state.say("Их обслуживают:", "Served by:"))
        lines += [f"  - {r.kind} {r.id}" for r in served]
    lines.append(describe.unmet(state, result.unmet))
    state.fail("\n".join(lines) + _known_competency(state, ident))
