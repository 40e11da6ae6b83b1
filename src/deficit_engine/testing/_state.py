"""Per-session and per-scenario state of the Gherkin step library.

Nothing here imports the engine at module level: the plugin is loaded into
every pytest run of an environment that has the package installed, and must
cost next to nothing there. The engine is imported the first time a scenario
evaluates a profile.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from ..engine import Engine
    from ..models import Result

__all__ = [
    "KB_ENV",
    "ROLE_WORDS",
    "SEVERITY_WORDS",
    "RuleCoverage",
    "ScenarioState",
    "StepInfo",
    "coverage",
    "session_store",
]

KB_ENV = "DEFICIT_ENGINE_KB"
"""An environment variable naming the KB for every scenario (like ``--deficit-kb``)."""

#: Role words of the step vocabulary (and the role ids themselves) -> role id.
ROLE_WORDS: dict[str, str] = {
    "педагог": "teacher",
    "учитель": "teacher",
    "руководитель": "manager",
    "методист": "methodist",
    "педагог-психолог": "psychologist",
    "психолог": "psychologist",
    "тьютор": "tutor",
    "воспитатель": "educator",
    "педагог дополнительного образования": "additional_education_teacher",
    "заместитель руководителя": "deputy_head",
    "советник директора по воспитанию": "counselor",
    "teacher": "teacher",
    "educator": "educator",
    "additional_education_teacher": "additional_education_teacher",
    "deputy_head": "deputy_head",
    "manager": "manager",
    "methodist": "methodist",
    "psychologist": "psychologist",
    "tutor": "tutor",
    "counselor": "counselor",
}

#: Severity names a scenario may use -> severity id.
SEVERITY_WORDS: dict[str, str] = {
    "critical": "critical",
    "high": "high",
    "moderate": "moderate",
    "low": "low",
    "критический": "critical",
    "выраженный": "high",
    "умеренный": "moderate",
    "слабый": "low",
}

_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:%)?\s*$")


def parse_number(text: str) -> float | None:
    """``"48"``, ``"48,5"``, ``"48.5 %"`` -> float; anything else -> None."""
    m = _NUMBER.match(text.replace("\u00a0", " "))
    if not m:
        return None
    return float(m.group(1).replace(",", "."))


@dataclass
class RuleCoverage:
    """Which rules of one KB fired over a test session."""

    kb: Path
    rules: tuple[tuple[str, str], ...]  # (id, title) in rule-set order
    fired: set[str] = field(default_factory=set)
    evaluations: int = 0

    @property
    def total(self) -> int:
        return len(self.rules)

    @property
    def fired_count(self) -> int:
        ids = {rid for rid, _ in self.rules}
        return len(self.fired & ids)

    @property
    def percent(self) -> float:
        """Fired rules as a percentage of all rules (100 for a KB without rules)."""
        if not self.rules:
            return 100.0
        return 100.0 * self.fired_count / self.total

    def never_fired(self) -> list[tuple[str, str]]:
        """(id, title) of every rule that never fired, in rule-set order."""
        return [(rid, title) for rid, title in self.rules if rid not in self.fired]


@dataclass
class _Session:
    """What one pytest session shares between scenarios."""

    override: Path | None = None  # --deficit-kb / DEFICIT_ENGINE_KB
    engines: dict[Path, Any] = field(default_factory=dict)  # Engine or KnowledgeBaseError
    coverage: dict[Path, RuleCoverage] = field(default_factory=dict)


_SESSION_KEY = pytest.StashKey[_Session]()


def session_store(config: pytest.Config) -> _Session:
    """The session's engine cache and coverage (created on first use)."""
    store = config.stash.get(_SESSION_KEY, None)
    if store is None:
        store = _Session(override=_override(config))
        config.stash[_SESSION_KEY] = store
    return store


def coverage(config: pytest.Config) -> dict[Path, RuleCoverage]:
    """Rule coverage of every KB the session's scenarios evaluated, by KB folder."""
    return session_store(config).coverage


def _override(config: pytest.Config) -> Path | None:
    raw: str | None = None
    base = Path(config.invocation_params.dir)
    try:
        raw = config.getoption("deficit_kb")
    except ValueError:  # the option is not registered (plugin used without its hooks)
        raw = None
    if not raw:
        raw = os.environ.get(KB_ENV) or None
        base = Path.cwd()
    if not raw:
        return None
    path = Path(raw)
    return (path if path.is_absolute() else base / path).resolve()


def _find_kb(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds a KB (``ontology/``)."""
    for folder in (start, *start.parents):
        if (folder / "ontology" / "competencies.yaml").is_file():
            return folder
    return None


@dataclass(frozen=True)
class StepInfo:
    """The step being run, for failure messages."""

    keyword: str
    text: str
    line: int


class ScenarioState:
    """The profile a scenario builds step by step, and its evaluation.

    One per scenario (the ``deficit_scenario`` fixture): every scenario starts
    from an empty profile. The profile is evaluated by ``Когда применяются
    правила`` or, failing that, by the first Then step that needs a result; a
    Given step after an evaluation discards the result.
    """

    def __init__(
        self,
        config: pytest.Config,
        feature: Path | None = None,
        language: str = "en",
        step: Any = None,
    ) -> None:
        self.config = config
        self.feature = feature
        self.language = "ru" if language.startswith("ru") else "en"
        self._step_source = step  # a callable returning the current StepInfo, or None
        self.kb_dir: Path | None = None
        self.profile_id: str | None = None
        self.role: str | None = None
        self.experience_years: float | None = None
        self.municipality: str | None = None
        self.organization: str | None = None
        self.category: str | None = None
        self.subjects: list[str] = []
        self.results: dict[str, float] = {}
        self.requests: list[str] = []
        self._engine: Engine | None = None
        self._result: Result | None = None

    # --- language ---------------------------------------------------------------

    def say(self, ru: str, en: str) -> str:
        return ru if self.language == "ru" else en

    @property
    def base_dir(self) -> Path:
        if self.feature is not None:
            return self.feature.parent
        return Path(self.config.invocation_params.dir)

    # --- failing --------------------------------------------------------------

    def fail(self, message: str) -> NoReturn:
        """Fail the current step with ``message`` (no Python traceback)."""
        head = ""
        info = self._step_source() if self._step_source is not None else None
        if isinstance(info, StepInfo):
            where = f"{self._display(self.feature)}:{info.line}: " if self.feature else ""
            head = f"{where}{info.keyword.strip()} {info.text}\n"
        pytest.fail(head + message, pytrace=False)

    @staticmethod
    def _display(path: Path | None) -> str:
        if path is None:
            return ""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    # --- Given ----------------------------------------------------------------

    def _changed(self) -> None:
        self._result = None

    def set_kb(self, raw: str) -> None:
        path = Path(raw)
        path = (path if path.is_absolute() else self.base_dir / path).resolve()
        self.kb_dir = path
        self._engine = None
        self._changed()

    def set_person(self, role_word: str, profile_id: str, years: str) -> None:
        role = ROLE_WORDS.get(role_word.strip().lower())
        if role is None:
            known = ", ".join(sorted({*ROLE_WORDS.values()}))
            self.fail(
                self.say(
                    f"неизвестная роль «{role_word}» (известные: {known})",
                    f"unknown role '{role_word}' (known: {known})",
                )
            )
        value = parse_number(years)
        if value is None:
            self.fail(
                self.say(f"стаж «{years}» — не число", f"experience '{years}' is not a number")
            )
        self.role = role
        self.profile_id = profile_id
        self.experience_years = value
        self._changed()

    def set_municipality(self, name: str) -> None:
        self.municipality = name

    def set_organization(self, name: str) -> None:
        self.organization = name

    def set_category(self, category: str) -> None:
        self.category = category
        self._changed()

    def add_subject(self, subject: str) -> None:
        if subject not in self.subjects:
            self.subjects.append(subject)
        self._changed()

    def add_result(self, ident: str, pct: str) -> None:
        value = parse_number(pct)
        if value is None or value > 100:
            self.fail(
                self.say(
                    f"результат «{pct}» по «{ident}» должен быть числом от 0 до 100 (процент)",
                    f"the result '{pct}' for '{ident}' must be a number from 0 to 100 (a percent)",
                )
            )
        self.results[ident.strip()] = value
        self._changed()

    def add_results_table(self, table: Iterable[Iterable[str]] | None) -> None:
        rows = [[str(c).strip() for c in row] for row in (table or [])]
        ident_heads = {"компетенция", "индикатор", "competency", "indicator"}
        pct_heads = {"процент", "percent", "%", "результат", "result"}
        if not rows or len(rows[0]) < 2:
            self.fail(
                self.say(
                    "после шага нужна таблица с заголовком | компетенция | процент |",
                    "the step needs a table with the header | competency | percent |",
                )
            )
        head = [h.lower() for h in rows[0]]
        try:
            ci = next(i for i, h in enumerate(head) if h in ident_heads)
            pi = next(i for i, h in enumerate(head) if h in pct_heads)
        except StopIteration:
            self.fail(
                self.say(
                    f"заголовок таблицы {rows[0]} не понят: "
                    "нужны столбцы «компетенция» и «процент»",
                    f"table header {rows[0]} not understood: "
                    "the columns 'competency' and 'percent' are needed",
                )
            )
        for row in rows[1:]:
            if len(row) != len(head):
                self.fail(self.say(f"в строке {row} не то число ячеек", f"row {row}: wrong width"))
            self.add_result(row[ci], row[pi])

    def add_request(self, ident: str) -> None:
        if ident not in self.requests:
            self.requests.append(ident)
        self._changed()

    # --- the KB and the engine --------------------------------------------------

    def kb_path(self) -> Path:
        store = session_store(self.config)
        if store.override is not None:
            return store.override
        if self.kb_dir is not None:
            return self.kb_dir
        if self.feature is not None:
            found = _find_kb(self.feature.parent)
            if found is not None:
                return found.resolve()
        from ..loader import default_kb_path

        return default_kb_path().resolve()

    def engine(self) -> Engine:
        if self._engine is not None:
            return self._engine
        from ..engine import Engine
        from ..errors import KnowledgeBaseError

        path = self.kb_path()
        store = session_store(self.config)
        cached = store.engines.get(path)
        if cached is None:
            if not path.is_dir():
                self.fail(
                    self.say(f"база знаний не найдена: {path}", f"knowledge base not found: {path}")
                )
            try:
                cached = Engine.from_path(path)
            except KnowledgeBaseError as exc:
                cached = exc
            store.engines[path] = cached
            if isinstance(cached, Engine):
                store.coverage.setdefault(
                    path,
                    RuleCoverage(path, tuple((r.id, r.title) for r in cached.kb.rules)),
                )
        if isinstance(cached, KnowledgeBaseError):
            lines = cached.lines()
            shown = "\n".join(f"  {line}" for line in lines[:20])
            more = f"\n  … (+{len(lines) - 20})" if len(lines) > 20 else ""
            self.fail(
                self.say(
                    f"база знаний {path} содержит ошибки:\n{shown}{more}",
                    f"the knowledge base {path} has problems:\n{shown}{more}",
                )
            )
        self._engine = cached
        return cached

    # --- When -----------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        if self.role is None or self.experience_years is None or self.profile_id is None:
            self.fail(
                self.say(
                    "профиль не задан: начните сценарий с шага вроде "
                    '«Дано педагог "T-1" со стажем 5 лет»',
                    "no profile: start the scenario with a step like "
                    "'Given a teacher \"T-1\" with 5 years of experience'",
                )
            )
        indicators = self.engine().kb.ontology.indicators
        person: dict[str, Any] = {"role": self.role, "experience_years": self.experience_years}
        if self.municipality is not None:
            person["municipality"] = self.municipality
        if self.organization is not None:
            person["organization"] = self.organization
        if self.category is not None:
            person["category"] = self.category
        if self.subjects:
            person["subjects"] = list(self.subjects)
        results = [
            {"indicator" if ident in indicators else "competency": ident, "score": pct, "max": 100}
            for ident, pct in self.results.items()
        ]
        return {
            "id": self.profile_id,
            "person": person,
            "results": results,
            "requests": list(self.requests),
        }

    def evaluate(self) -> Result:
        from ..errors import DeficitEngineError, SourceError

        engine = self.engine()
        data = self.profile()
        try:
            result = engine.evaluate(data)
        except SourceError as exc:
            lines = "\n".join(f"  {line}" for line in exc.lines())
            self.fail(
                self.say(
                    f"профиль сценария неверен:\n{lines}",
                    f"the scenario's profile is invalid:\n{lines}",
                )
            )
        except DeficitEngineError as exc:
            self.fail(self.say(f"ошибка вывода: {exc}", f"evaluation failed: {exc}"))
        cov = session_store(self.config).coverage.get(self.kb_path())
        if cov is not None:
            cov.fired.update(result.fired)
            cov.evaluations += 1
        self._result = result
        return result

    @property
    def result(self) -> Result:
        """The evaluation of the profile as it stands (evaluated on first use)."""
        if self._result is None:
            return self.evaluate()
        return self._result
