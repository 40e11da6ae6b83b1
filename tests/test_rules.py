"""The rule language: every error is reported with its file:line, all in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_kb
from deficit_engine import check_kb
from deficit_engine._yaml import load_yaml_text
from deficit_engine.rules import Vocabulary, parse_rules


def rules_issues(tmp_path: Path, *files: str) -> list[str]:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    for i, text in enumerate(files):
        (root / "rules" / f"{i:02d}.yaml").write_text(text, encoding="utf-8")
    kb, issues = check_kb(root)
    assert kb is None, "expected the rule set to be rejected"
    return [str(i) for i in issues if i.severity == "error"]


def one(lines: list[str], code: str) -> str:
    found = [line for line in lines if f": {code}: " in line]
    assert len(found) == 1, lines
    return found[0]


GOOD_HEAD = "ruleset: t\nrules:\n"


def rule(
    when: str,
    then: str = "      - deficit: {competency: $result.competency, severity: high}",
    rid: str = "R1",
) -> str:
    return f"  - id: {rid}\n    title: Правило\n    when:\n{when}\n    then:\n{then}\n"


def test_valid_rules_load(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "a.yaml").write_text(
        GOOD_HEAD + rule("      - result: {score_pct: {between: [30, 50]}}"), encoding="utf-8"
    )
    kb, issues = check_kb(root)
    assert kb is not None and not issues and [r.id for r in kb.rules] == ["R1"]


def test_unknown_fact_type(tmp_path: Path) -> None:
    lines = rules_issues(tmp_path, GOOD_HEAD + rule("      - resul: {score_pct: {lt: 50}}"))
    line = one(lines, "unknown-fact-type")
    assert "rules/00.yaml:6:9: unknown-fact-type: unknown fact type 'resul'" in line
    assert "did you mean 'result'?" in line


def test_unknown_field_of_known_type(tmp_path: Path) -> None:
    lines = rules_issues(tmp_path, GOOD_HEAD + rule("      - result: {score: {lt: 50}}"))
    assert "rules/00.yaml:6:18: unknown-field: fact type 'result' has no field 'score'" in one(
        lines, "unknown-field"
    )


def test_unknown_operator(tmp_path: Path) -> None:
    lines = rules_issues(tmp_path, GOOD_HEAD + rule("      - result: {score_pct: {less: 50}}"))
    line = one(lines, "unknown-operator")
    assert "rules/00.yaml:6:30: unknown-operator: unknown operator 'less'" in line


def test_between_reversed(tmp_path: Path) -> None:
    lines = rules_issues(
        tmp_path, GOOD_HEAD + rule("      - result: {score_pct: {between: [50, 30]}}")
    )
    assert "rules/00.yaml:6:39: between-reversed: 'between' bounds are reversed: 50 > 30" in one(
        lines, "between-reversed"
    )


def test_alias_not_bound_earlier(tmp_path: Path) -> None:
    text = GOOD_HEAD + rule(
        "      - result: {competency: {ne: $other.competency}}\n      - {as: other, result: {}}"
    )
    line = one(rules_issues(tmp_path, text), "unbound-alias")
    assert "rules/00.yaml:6:35: unbound-alias: '$other.competency' refers to alias 'other'" in line


def test_unbound_alias_in_action(tmp_path: Path) -> None:
    text = GOOD_HEAD + rule(
        "      - result: {}", "      - deficit: {competency: $deficit.competency, severity: high}"
    )
    line = one(rules_issues(tmp_path, text), "unbound-alias")
    assert "rules/00.yaml:8:9: unbound-alias" in line


@pytest.mark.parametrize(
    ("literal", "code", "what"),
    [
        (
            "{competency: methodical.lesson}",
            "unknown-ref",
            "unknown competency 'methodical.lesson'",
        ),
        ("{group: methodic}", "unknown-ref", "unknown group 'methodic'"),
        ("{level: lowest}", "unknown-ref", "unknown level 'lowest'"),
    ],
)
def test_unknown_ids_in_literals(tmp_path: Path, literal: str, code: str, what: str) -> None:
    line = one(rules_issues(tmp_path, GOOD_HEAD + rule(f"      - result: {literal}")), code)
    assert "rules/00.yaml:6:" in line and what in line


def test_unknown_format_in_need(tmp_path: Path) -> None:
    text = GOOD_HEAD + rule(
        "      - deficit: {}", "      - need: {kind: format, format: internshp}"
    )
    line = one(rules_issues(tmp_path, text), "unknown-ref")
    assert "unknown format 'internshp'" in line and "did you mean 'internship'?" in line
    assert "rules/00.yaml:8:9:" in line


def test_rule_id_used_twice_across_files(tmp_path: Path) -> None:
    a = GOOD_HEAD + rule("      - result: {level: critical}", rid="SAME")
    b = GOOD_HEAD + rule("      - result: {level: low}", rid="SAME")
    line = one(rules_issues(tmp_path, a, b), "duplicate-id")
    assert "rules/01.yaml:3:1: duplicate-id: rule id 'SAME' is already used at" in line
    assert "rules/00.yaml:3" in line


def test_need_of_unknown_kind(tmp_path: Path) -> None:
    text = GOOD_HEAD + rule(
        "      - deficit: {}", "      - need: {kind: course, competency: $deficit.competency}"
    )
    line = one(rules_issues(tmp_path, text), "unknown-need-kind")
    assert "rules/00.yaml:8:9: unknown-need-kind: unknown need kind 'course'" in line


def test_wrong_literal_type(tmp_path: Path) -> None:
    line = one(
        rules_issues(tmp_path, GOOD_HEAD + rule("      - result: {score_pct: {lt: fifty}}")),
        "wrong-type",
    )
    assert "rules/00.yaml:6:" in line and "'score_pct' is a number" in line


def test_no_code_can_run(tmp_path: Path) -> None:
    text = GOOD_HEAD + rule("      - result: {score_pct: !!python/object/apply:os.system ['true']}")
    assert one(rules_issues(tmp_path, text), "unsafe-tag")


def test_negation_of_own_derivations_is_rejected(tmp_path: Path) -> None:
    text = GOOD_HEAD + rule(
        "      - result: {}\n      - not: {deficit: {competency: $result.competency}}",
        "      - deficit: {competency: $result.competency, severity: high}",
    )
    assert "negates facts that it derives itself" in one(
        rules_issues(tmp_path, text), "negation-cycle"
    )


def test_every_problem_in_one_pass(tmp_path: Path) -> None:
    a = (
        GOOD_HEAD
        + rule("      - resul: {}", rid="A")
        + rule("      - result: {score_pct: {betwen: [1, 2]}}", rid="B")
    )
    b = GOOD_HEAD + rule("      - result: {score_pct: {between: [9, 1]}}", rid="A")
    codes = {line.split(": ")[1] for line in rules_issues(tmp_path, a, b)}
    assert {"unknown-fact-type", "unknown-operator", "between-reversed", "duplicate-id"} <= codes


def test_yaml_errors_in_rule_files_are_placed(tmp_path: Path) -> None:
    lines = rules_issues(tmp_path, "ruleset: t\nrules:\n  - id: A\n    id: B\n")
    assert any("rules/00.yaml:4:5: duplicate-key" in line for line in lines)


def test_numbers_outside_the_supported_range(tmp_path: Path) -> None:
    line = one(
        rules_issues(tmp_path, GOOD_HEAD + rule("      - result: {score_pct: {lt: 0.00001}}")),
        "out-of-range",
    )
    assert "rules/00.yaml:6:34: out-of-range: 1e-05: numbers in rules are 0 or between" in line


# --- parsing takes documents and a vocabulary ---------------------------------------

VOCABULARY = Vocabulary(
    competencies=("methodical.assessment", "methodical.lesson_design"),
    groups=("methodical",),
    indicators=(),
    levels=("critical", "low", "proficient"),
    formats=("internship",),
)

UNKNOWN_IDS_AND_A_BAD_OPERATOR = (
    GOOD_HEAD
    + rule(
        "      - result: {competency: methodical.lesson, level: lowest}",
        "      - need: {kind: format, competency: $result.competency, format: internshp}",
        rid="IDS",
    )
    + rule("      - result: {score_pct: {below: 50}}", rid="OP")
)


def test_parsing_against_no_vocabulary_reports_only_the_rules_own_errors() -> None:
    """None: the KB's ids are unknown (its ontology is broken), so ids are not judged,
    while everything else about the rules is."""
    doc = load_yaml_text(UNKNOWN_IDS_AND_A_BAD_OPERATOR, "rules/r.yaml")
    rules, issues = parse_rules([doc], None)
    assert [i.code for i in issues] == ["unknown-operator"]
    assert str(issues[0]).startswith("rules/r.yaml:12:30: unknown-operator:")
    assert [r.id for r in rules] == ["IDS", "OP"]
    # the same documents against the KB's ids: the ids are judged too
    _rules, issues = parse_rules([doc], VOCABULARY)
    assert sorted(i.code for i in issues) == ["unknown-operator", *["unknown-ref"] * 3]
    messages = {i.message for i in issues}
    assert {"unknown level 'lowest'", "unknown format 'internshp'"} <= messages
    # fixed vocabularies of the language are checked with or without the KB's
    fixed = load_yaml_text(
        GOOD_HEAD + rule("      - result: {}", "      - deficit: {competency: x, severity: dire}"),
        "rules/f.yaml",
    )
    assert [i.message for i in parse_rules([fixed], None)[1]] == ["unknown severity 'dire'"]


def test_rule_parsing_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader reads; parse_rules takes loaded documents (they need not exist on disk)."""
    docs = [
        load_yaml_text(GOOD_HEAD + rule("      - result: {level: critical}", rid="A"), "a.yaml"),
        load_yaml_text(GOOD_HEAD + rule("      - result: {level: low}", rid="B"), "b.yaml"),
    ]

    def no_io(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("rule parsing touched the file system")

    for name in (
        "open",
        "read_text",
        "read_bytes",
        "stat",
        "exists",
        "is_file",
        "is_dir",
        "iterdir",
    ):
        monkeypatch.setattr(Path, name, no_io)
    monkeypatch.setattr("builtins.open", no_io)
    rules, issues = parse_rules(docs, VOCABULARY)
    assert issues == []
    assert [(r.id, r.file, r.line, r.order, r.stratum) for r in rules] == [
        ("A", "a.yaml", 3, 0, 0),
        ("B", "b.yaml", 3, 1, 0),
    ]


def test_a_documents_own_problems_come_first_and_stop_its_parsing() -> None:
    broken = load_yaml_text("rules: [\n", "rules/broken.yaml")
    rules, issues = parse_rules([broken], VOCABULARY)
    assert rules == () and [i.code for i in issues] == ["yaml-syntax"]
