"""The examples of docs/authoring.md run on the shipped KB (issue 13, part 6).

Every fenced block of the methodologists' guide is taken out of the page and
checked for what it is: the rule is loaded and evaluated, the scenarios are run
by ``deficit-engine test`` and by pytest, the YAML of the catalogue and planning
files is validated, command lines name options the commands have. A block of a
kind this file does not know fails the test, so a new example gets a check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from deficit_engine import Engine, KnowledgeBase, load_kb
from deficit_engine.cli import build_parser, main
from deficit_engine.schema import Competency, PlanningFile, Program, SubjectsFile

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


@cache
def shipped() -> KnowledgeBase:
    return load_kb()


def blocks(language: str | None = None) -> list[str]:
    """The guide's fenced blocks (of one language tag, when given), in page order."""
    text = GUIDE.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE.findall(text) if language is None or lang == language]


def kind_of(lang: str, body: str) -> str:
    """What a block is, hence how it is checked."""
    first = body.lstrip().splitlines()[0] if body.strip() else ""
    if lang == "yaml":
        if body.startswith("planning:"):
            return "planning"
        if re.search(r"^rules:", body, re.M):
            return "rule"
        if body.startswith("subjects:"):
            return "subjects"
        if "- id: DPP-" in body:
            return "programme"
        if "synonyms:" in body:
            return "competency"
    if lang == "gherkin":
        return "scenario"
    if lang == "python" and "scenarios(" in body:
        return "pytest-module"
    if lang == "":
        if first.startswith("моя_база/"):
            return "layout"
        if first.startswith("deficit-engine "):
            return "synopsis"
        if first.startswith("pytest"):
            return "pytest-commands"
        if first.startswith("features/"):
            return "output"
    return "unknown"


def test_every_block_is_of_a_known_kind() -> None:
    kinds = [kind_of(lang, body) for lang, body in _FENCE.findall(GUIDE.read_text("utf-8"))]
    assert "unknown" not in kinds, kinds
    for needed in ("rule", "scenario", "pytest-module", "subjects", "planning", "programme"):
        assert needed in kinds


def kb_folder(root: Path, rules: str | None = None) -> Path:
    """A KB folder with the shipped ontology, and the shipped rules or one rule file."""
    source = shipped().root
    root.mkdir(parents=True, exist_ok=True)
    (root / "ontology").symlink_to(source / "ontology")
    if rules is None:
        (root / "rules").symlink_to(source / "rules")
    else:
        (root / "rules").mkdir()
        (root / "rules" / "example.yaml").write_text(rules, encoding="utf-8")
    return root


def test_the_rule_example_loads_and_derives_what_its_title_says(tmp_path: Path) -> None:
    (rule,) = blocks_of("rule")
    kb = load_kb(kb_folder(tmp_path / "kb", rule))
    (parsed,) = kb.rules
    assert parsed.id in {r.id for r in shipped().rules}  # the guide quotes a shipped rule
    engine = Engine(kb, backend="python")
    result = engine.evaluate(
        {
            "id": "T-1",
            "person": {"role": "teacher", "experience_years": 10},
            "results": [{"competency": "normative.safety", "score": 60}],
        }
    )
    assert [(d.competency, d.severity, d.rule) for d in result.deficits] == [
        ("normative.safety", "high", parsed.id)
    ]


def test_the_scenarios_pass_with_deficit_engine_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # «Дано база знаний ".."»: the guide's feature file lives in the KB's features/
    kb = kb_folder(tmp_path / "kb")
    (kb / "features").mkdir()
    for n, body in enumerate(blocks("gherkin")):
        (kb / "features" / f"guide_{n}.feature").write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["test", "--quiet", str(kb / "features")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "не пройдено: 0" in out


def test_the_pytest_module_runs_the_scenarios(tmp_path: Path) -> None:
    (module,) = blocks("python")
    project = tmp_path / "project"
    (project / "features").mkdir(parents=True)
    for n, body in enumerate(blocks("gherkin")):
        # «Дано база знаний ".."» names the KB folder above the feature file
        (project / "features" / f"guide_{n}.feature").write_text(body, encoding="utf-8")
    (project / "test_scenarios.py").write_text(module, encoding="utf-8")
    kb = kb_folder(tmp_path / "kb")
    # the guide's third command: one KB for every scenario, and the coverage
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("--deficit-kb", str(kb), "--deficit-coverage"),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 passed" in done.stdout


def test_the_subjects_example_is_a_valid_subjects_file() -> None:
    (body,) = blocks_of("subjects")
    data = SubjectsFile.model_validate(yaml.safe_load(body))
    for subject in data.subjects:
        assert shipped().subjects[subject.id].title == subject.title


def test_the_programme_example_is_a_shipped_programme_with_those_fields() -> None:
    (body,) = blocks_of("programme")
    fragment = yaml.safe_load("\n".join(line for line in body.splitlines() if "..." not in line))
    (entry,) = fragment
    shipped_programme = shipped().programs[entry["id"]].model_dump(exclude_defaults=True)
    Program.model_validate({**shipped_programme, **entry})


def test_the_synonyms_example_is_the_shipped_competency() -> None:
    (body,) = blocks_of("competency")
    (entry,) = yaml.safe_load(body)
    competency = shipped().ontology.competencies[entry["id"]]
    merged = Competency.model_validate({**competency.model_dump(), **entry})
    assert merged.synonyms == competency.synonyms


def test_the_planning_example_is_valid_and_names_known_groups() -> None:
    (body,) = blocks_of("planning")
    planning = PlanningFile.model_validate(yaml.safe_load(body))
    groups = set(shipped().ontology.groups)
    for rule in planning.school_rules:
        assert set(rule.groups) <= groups
    assert planning.planning.colleague_level in {lvl.id for lvl in shipped().scale.levels}


def blocks_of(kind: str) -> list[str]:
    return [b for lang, b in _FENCE.findall(GUIDE.read_text("utf-8")) if kind_of(lang, b) == kind]


def test_command_lines_name_options_the_commands_have() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for body in blocks_of("synopsis"):
        words = body.split()
        command = commands[words[1]]
        known = {opt for action in command._actions for opt in action.option_strings}
        for option in re.findall(r"--[a-z-]+", body):
            assert option in known, (words[1], option)


def test_the_layout_names_the_shipped_files() -> None:
    (body,) = blocks_of("layout")
    root = shipped().root
    for name in re.findall(r"(\w+\.yaml)", body):
        assert (root / "ontology" / name).is_file(), name
