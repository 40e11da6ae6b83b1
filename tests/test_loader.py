"""The loader finds every problem of a broken KB and names its file:line:col."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import networkx as nx
import pytest

import deficit_engine
from conftest import MINI, write_kb
from deficit_engine import KnowledgeBaseError, check_kb, load_kb
from deficit_engine.cli import main
from deficit_engine.loader import rule_files, vocabulary_of


def issues_of(root: Path) -> list[str]:
    kb, issues = check_kb(root)
    assert kb is None
    return [str(i) for i in issues]


def only(lines: list[str], code: str) -> list[str]:
    return [line for line in lines if f": {code}: " in line]


def test_mini_kb_loads(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    assert sorted(kb.ontology.groups) == ["digital", "methodical", "normative"]
    assert kb.ontology.prerequisites("methodical.assessment") == {
        "methodical.lesson_design",
        "normative.fgos",
    }
    assert kb.ontology.prerequisites("methodical.assessment", transitive=False) == {
        "methodical.lesson_design"
    }
    order = kb.ontology.topological_order()
    assert order.index("normative.fgos") < order.index("methodical.lesson_design")
    assert order.index("methodical.lesson_design") < order.index("methodical.assessment")
    assert kb.scale.level_of(29.99) == "critical"
    assert kb.scale.level_of(30) == "low"
    assert kb.scale.level_of(100) == "proficient"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    root = write_kb(tmp_path, {"formats.yaml": "formats:\n  - {id: x, title: [broken\n  - y\n"})
    lines = issues_of(root)
    assert len(only(lines, "yaml-syntax")) == 1
    assert (
        only(lines, "yaml-syntax")[0]
        .split(": yaml-syntax")[0]
        .endswith("ontology/formats.yaml:4:1")
    )


def test_duplicate_id(tmp_path: Path) -> None:
    text = MINI["programs.yaml"].replace("id: DPP-0002", "id: DPP-0001")
    lines = issues_of(write_kb(tmp_path, {"programs.yaml": text}))
    (dup,) = only(lines, "duplicate-id")
    assert "ontology/programs.yaml:11:9: duplicate-id: duplicate programme id 'DPP-0001'" in dup
    assert "first at line 2" in dup


def test_unknown_competency_in_covers_suggests(tmp_path: Path) -> None:
    text = MINI["programs.yaml"].replace("covers: [digital.distance]", "covers: [digital.distanse]")
    lines = issues_of(write_kb(tmp_path, {"programs.yaml": text}))
    (bad,) = only(lines, "unknown-ref")
    assert "ontology/programs.yaml:19:14: unknown-ref: unknown competency 'digital.distanse'" in bad
    assert "did you mean 'digital.distance'?" in bad


def test_prerequisite_cycle_names_ids(tmp_path: Path) -> None:
    text = MINI["competencies.yaml"].replace(
        "    title: Требования ФГОС\n    standard: [A/01.6]\n",
        "    title: Требования ФГОС\n    standard: [A/01.6]\n    requires: [methodical.assessment]\n",
    )
    lines = issues_of(write_kb(tmp_path, {"competencies.yaml": text}))
    (cycle,) = only(lines, "cycle")
    assert "ontology/competencies.yaml:" in cycle
    for cid in ("normative.fgos", "methodical.lesson_design", "methodical.assessment"):
        assert cid in cycle


def test_self_requirement_is_a_cycle(tmp_path: Path) -> None:
    text = MINI["competencies.yaml"].replace(
        "requires: [digital.distance]", "requires: [digital.ai]"
    )
    lines = issues_of(write_kb(tmp_path, {"competencies.yaml": text}))
    (cycle,) = only(lines, "cycle")
    assert (
        "ontology/competencies.yaml:31:16: cycle: competency 'digital.ai' requires itself" in cycle
    )


def test_negative_capacity(tmp_path: Path) -> None:
    text = MINI["mentors.yaml"].replace("capacity: 1", "capacity: -1")
    lines = issues_of(write_kb(tmp_path, {"mentors.yaml": text}))
    (bad,) = only(lines, "out-of-range")
    assert "ontology/mentors.yaml:15:15: out-of-range: capacity" in bad


def test_zero_hours(tmp_path: Path) -> None:
    text = MINI["formats.yaml"].replace("hours: 16", "hours: 0")
    lines = issues_of(write_kb(tmp_path, {"formats.yaml": text}))
    (bad,) = only(lines, "out-of-range")
    assert "ontology/formats.yaml:2:" in bad and "hours" in bad


def test_duplicate_key(tmp_path: Path) -> None:
    text = MINI["mentors.yaml"].replace("    capacity: 2\n", "    capacity: 2\n    capacity: 3\n")
    lines = issues_of(write_kb(tmp_path, {"mentors.yaml": text}))
    (dup,) = only(lines, "duplicate-key")
    assert "ontology/mentors.yaml:9:5: duplicate-key: duplicate key 'capacity'" in dup


def test_unknown_field(tmp_path: Path) -> None:
    text = MINI["programs.yaml"].replace(
        "    provider: ККИПК\n", "    provider: ККИПК\n    cost: 100\n"
    )
    lines = issues_of(write_kb(tmp_path, {"programs.yaml": text}))
    (bad,) = only(lines, "unknown-field")
    assert "ontology/programs.yaml:17:5: unknown-field: unknown field 'cost'" in bad


def test_wrong_type_and_bad_enum(tmp_path: Path) -> None:
    text = (
        MINI["programs.yaml"]
        .replace("hours: 36", "hours: '36'")
        .replace("delivery: blended", "delivery: online")
    )
    lines = issues_of(write_kb(tmp_path, {"programs.yaml": text}))
    assert any("programs.yaml:5:12: wrong-type: hours" in line for line in lines)
    assert any("programs.yaml:15:15: invalid-value: delivery" in line for line in lines)


def test_python_tag_is_refused(tmp_path: Path) -> None:
    text = MINI["formats.yaml"] + "extra: !!python/object/apply:os.system ['true']\n"
    lines = issues_of(write_kb(tmp_path, {"formats.yaml": text}))
    assert only(lines, "unsafe-tag")


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    root = write_kb(tmp_path)
    kb, issues = check_kb(root, max_bytes=200)
    assert kb is None
    assert any(i.code == "too-large" for i in issues)


def test_scale_must_ascend(tmp_path: Path) -> None:
    text = MINI["scale.yaml"].replace("below: 50", "below: 20")
    lines = issues_of(write_kb(tmp_path, {"scale.yaml": text}))
    (bad,) = only(lines, "scale-order")
    assert "ontology/scale.yaml:3:" in bad


def test_every_problem_in_one_pass(tmp_path: Path) -> None:
    root = write_kb(
        tmp_path,
        {
            "programs.yaml": MINI["programs.yaml"].replace("id: DPP-0002", "id: DPP-0001"),
            "mentors.yaml": MINI["mentors.yaml"]
            .replace("capacity: 1", "capacity: -1")
            .replace("strengths: [methodical.lesson_design]", "strengths: [methodical.lesson]"),
            "formats.yaml": "formats: [\n",
        },
    )
    codes = {i.code for i in check_kb(root)[1]}
    assert {"duplicate-id", "out-of-range", "unknown-ref", "yaml-syntax"} <= codes
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(root)
    assert len(err.value.issues) >= 4


def test_rules_are_checked_in_the_same_pass_as_a_broken_ontology(tmp_path: Path) -> None:
    """A broken catalogue does not hide the rules' own problems, and the rules' ids
    are not reported as unknown because of it (they may be in the broken part)."""
    root = write_kb(
        tmp_path, {"programs.yaml": MINI["programs.yaml"].replace("id: DPP-0002", "id: DPP-0001")}
    )
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text(
        """\
ruleset: r
rules:
  - id: OK-IDS
    when:
      - result: {competency: methodical.lesson_design, level: critical}
    then:
      - need: {kind: format, competency: $result.competency, format: no_such_format}
  - id: BAD-OP
    when:
      - result: {score_pct: {below: 50}}
    then:
      - deficit: {competency: $result.competency, severity: high}
""",
        encoding="utf-8",
    )
    kb, issues = check_kb(root)
    assert kb is None
    codes = [(i.file.rsplit("/", 1)[-1], i.code) for i in issues]
    assert ("programs.yaml", "duplicate-id") in codes
    assert ("r.yaml", "unknown-operator") in codes
    assert not [c for c in codes if c == ("r.yaml", "unknown-ref")]  # no_such_format: unknowable
    # with the ontology mended, the same rules get their ids checked too
    (root / "ontology" / "programs.yaml").write_text(MINI["programs.yaml"], encoding="utf-8")
    codes = [(i.file.rsplit("/", 1)[-1], i.code) for i in check_kb(root)[1]]
    assert ("r.yaml", "unknown-ref") in codes and ("r.yaml", "unknown-operator") in codes


def test_missing_file(tmp_path: Path) -> None:
    root = write_kb(tmp_path)
    (root / "ontology" / "mentors.yaml").unlink()
    assert any("mentors.yaml: missing-file" in line for line in issues_of(root))


# --- the command ---------------------------------------------------------------


def test_check_ok(mini_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mini_kb / "rules").mkdir()
    (mini_kb / "rules" / "r.yaml").write_text(
        "ruleset: r\nrules:\n  - id: R1\n    when:\n      - result: {level: critical}\n"
        "    then:\n      - deficit: {competency: $result.competency, severity: high}\n",
        encoding="utf-8",
    )
    assert main(["check", "--kb", str(mini_kb)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and "5 competencies" in out and out.count("\n") == 1


def test_check_bad_kb_exits_1_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MINI["mentors.yaml"].replace("capacity: 1", "capacity: -1")
    root = write_kb(tmp_path, {"mentors.yaml": text})
    assert main(["check", "--kb", str(root)]) == 1
    err = capsys.readouterr().err
    assert "mentors.yaml:15:15: out-of-range" in err and "Traceback" not in err


def test_check_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--kb", str(tmp_path / "nope")]) == 2
    assert main(["check", "--bogus"]) == 2
    assert main([]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["schema", "profile"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False and "results" in schema["properties"]
    assert main(["schema", "kb"]) == 0
    kb_schema = json.loads(capsys.readouterr().out)
    assert "ontology/programs.yaml" in kb_schema["files"]


# --- the frozen KB ---------------------------------------------------------------


def test_the_kb_is_frozen_and_built_once_with_its_rules(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    assert isinstance(kb.rules, tuple) and isinstance(kb.warnings, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.rules = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.programs = {}  # type: ignore[misc]
    # it hashes and compares by identity: two loads of one folder are two KBs
    again = load_kb(mini_kb, with_rules=False)
    assert kb != again and len({kb, again, kb}) == 2
    # a variant is a new KB; the original is unchanged
    fewer = dataclasses.replace(kb, programs={})
    assert fewer.programs == {} and len(kb.programs) == 2 and fewer.rules == kb.rules


def test_the_kb_knows_where_each_of_its_ids_is_defined(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    comp_file = kb.files["competencies"]
    assert comp_file.endswith("ontology/competencies.yaml")
    assert set(kb.files) == {"competencies", "scale", "formats", "programs", "mentors"}
    assert kb.positions[("group", "methodical")] == (comp_file, 3, 5)
    assert kb.positions[("competency", "methodical.lesson_design")] == (comp_file, 10, 5)
    assert kb.positions[("indicator", "methodical.lesson_design.tasks")] == (comp_file, 17, 9)
    assert kb.positions[("level", "partial")] == (kb.files["scale"], 4, 5)
    assert kb.positions[("format", "self_education")] == (kb.files["formats"], 3, 5)
    assert kb.positions[("programme", "DPP-0002")] == (kb.files["programs"], 11, 5)
    assert kb.positions[("mentor", "M-001")] == (kb.files["mentors"], 2, 5)
    kinds = {kind for kind, _id in kb.positions}
    assert kinds == {"group", "competency", "indicator", "level", "format", "programme", "mentor"}
    assert len(kb.positions) == (
        len(kb.ontology.groups)
        + len(kb.ontology.competencies)
        + len(kb.ontology.indicators)
        + len(kb.scale.levels)
        + len(kb.formats)
        + len(kb.programs)
        + len(kb.mentors)
    )


def test_the_vocabulary_is_the_kbs_ids(mini_kb: Path) -> None:
    kb = load_kb(mini_kb, with_rules=False)
    vocabulary = vocabulary_of(kb.ontology, kb.scale, kb.formats)
    assert vocabulary.groups == ("digital", "methodical", "normative")
    assert vocabulary.levels == ("critical", "low", "partial", "proficient")  # scale order
    assert vocabulary.formats == ("internship", "self_education")
    assert vocabulary.ids_of("indicator") == (
        "methodical.lesson_design.goals",
        "methodical.lesson_design.tasks",
    )
    assert vocabulary.ids_of("severity") is None  # a fixed list of the language, not the KB's


def test_rule_files_are_found_by_the_loader_in_name_order(tmp_path: Path) -> None:
    root = write_kb(tmp_path)
    assert rule_files(root) == []  # no rules folder: no rules
    (root / "rules").mkdir()
    for name in ("b.yml", "a.yaml", "notes.txt"):
        (root / "rules" / name).write_text("ruleset: x\nrules: []\n", encoding="utf-8")
    (root / "rules" / "sub.yaml").mkdir()
    assert [p.name for p in rule_files(root)] == ["a.yaml", "b.yml"]


def test_without_rules_the_kb_has_none(tmp_path: Path) -> None:
    root = write_kb(tmp_path)
    (root / "rules").mkdir()
    (root / "rules" / "bad.yaml").write_text("rules: 3\n", encoding="utf-8")
    kb, issues = check_kb(root, with_rules=False)
    assert kb is not None and kb.rules == () and issues == []
    assert check_kb(root)[0] is None


def test_no_import_cycle_and_rules_below_the_loader() -> None:
    """Module-level imports (TYPE_CHECKING blocks included) form no cycle, and the rule
    language imports neither the loader nor the KB (the KB is built from the rules)."""
    graph = _import_graph(Path(deficit_engine.__file__).parent)
    assert list(nx.simple_cycles(graph)) == []
    below = nx.descendants(graph, "deficit_engine.rules")
    assert not below & {"deficit_engine.loader", "deficit_engine.kb"}
    assert "deficit_engine.rules.model" in nx.descendants(graph, "deficit_engine.kb")


def _import_graph(package: Path) -> nx.DiGraph:
    """deficit_engine module -> the package modules it imports at module level."""
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: nx.DiGraph = nx.DiGraph()
    for module, path in names.items():
        graph.add_node(module)
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for target in _module_level_imports(ast.parse(path.read_text(encoding="utf-8")).body, here):
            if target in names and target != module:
                graph.add_edge(module, target)
    return graph


def _module_level_imports(body: list[ast.stmt], package: str) -> list[str]:
    out: list[str] = []
    for node in body:
        if isinstance(node, ast.If):  # if TYPE_CHECKING: counts as well
            out += _module_level_imports(node.body + node.orelse, package)
        elif isinstance(node, ast.Try):
            out += _module_level_imports(node.body, package)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            out += [module, *(f"{module}.{alias.name}" for alias in node.names)]
    return out


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module ``from <module> import ...`` names, written in ``package``."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, node.module] if node.module else parts)
