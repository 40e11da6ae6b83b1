"""Static rule analysis (deficit_engine.analysis) and its place in ``deficit-engine check``."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from conftest import MINI, write_kb
from deficit_engine import load_kb
from deficit_engine.analysis import CODES, analyse
from deficit_engine.analysis.checks import (
    CHECKS,
    Check,
    budget_joins,
    columnar_fallbacks,
    dead_alternatives,
    deficits_without_needs,
    gaps,
    large_joins,
    rule_cycles,
    run_checks,
    severity_conflicts,
    unmet_by_construction,
    unprovided_rules,
    unsatisfiable_rules,
    unsourced_rules,
    vacuous_negations,
)
from deficit_engine.analysis.inputs import Inputs
from deficit_engine.cli import main
from deficit_engine.errors import Issue

# Level rules covering 0..75 % for every competency, and needs for every severity:
# a clean base that the tests below extend with one problem each.
BASE = """\
  - id: CRIT
    title: critical
    source: test
    when:
      - result: {level: critical}
    then:
      - deficit: {competency: $result.competency, severity: critical}
  - id: LOW
    title: low
    source: test
    when:
      - result: {level: low}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: PART
    title: partial
    source: test
    when:
      - result: {level: partial}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
  - id: NEED
    title: every deficit -> internship
    source: test
    when:
      - deficit: {}
    then:
      - need: {kind: format, format: internship, competency: $deficit.competency}
"""


def kb_with(tmp_path: Path, extra: str = "", base: str = BASE, **files: str) -> Path:
    root = write_kb(tmp_path / "kb", files or None)
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text("ruleset: t\nrules:\n" + base + extra, encoding="utf-8")
    return root


def findings(root: Path, code: str | None = None) -> list[Issue]:
    issues = analyse(load_kb(root))
    assert all(i.severity == "warning" for i in issues)
    assert all(i.code in CODES for i in issues)
    return [i for i in issues if code is None or i.code == code]


def line_of(root: Path, text: str) -> int:
    lines = (root / "rules" / "r.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_a_clean_rule_set_has_no_findings(tmp_path: Path) -> None:
    assert findings(kb_with(tmp_path)) == []


def test_a_kb_without_rules_has_no_findings(mini_kb: Path) -> None:
    assert analyse(load_kb(mini_kb, with_rules=False)) == []


# --- unreachable rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("result: {score_pct: {lt: 0}}", "no value satisfies score_pct lt 0"),
        ("result: {score_pct: {between: [120, 150]}}", "score_pct is within [0, 100]"),
        ("result: {competency: {in: []}}", "no value satisfies competency in []"),
        ("result: {level: {not_in: [critical, low, partial, proficient]}}", "no value satisfies"),
        (
            "result: {score_pct: {ge: 50, lt: 40}}",
            "no value satisfies score_pct ge 50, score_pct lt 40",
        ),
        ("result: {level: critical, score_pct: {ge: 50}}", "exclude each other on the scale"),
        ("result: {competency: digital.ai, group: methodical}", "no competency satisfies"),
        ("result: {competency: {eq: digital.ai, ne: digital.ai}}", "no value satisfies"),
        ("result: {score_pct: {exists: false}}", "always present in a result fact"),
        ("person: {experience_years: {gt: 70}}", "experience_years is within [0, 70]"),
        ("person: {municipality: {exists: false, eq: X}}", "must be absent"),
    ],
)
def test_impossible_conditions_make_a_rule_unreachable(
    tmp_path: Path, when: str, reason: str
) -> None:
    extra = f"""\
  - id: DEAD
    title: dead
    source: test
    when:
      - {when}
    then:
      - fact: {{type: marker, x: 1}}
"""
    root = kb_with(tmp_path, extra)
    (issue,) = findings(root, "unreachable-rule")
    assert "rule 'DEAD' can never fire" in issue.message and reason in issue.message
    assert issue.file.endswith("r.yaml") and issue.line == line_of(root, when)


def test_a_pattern_nothing_asserts_makes_a_rule_unreachable(tmp_path: Path) -> None:
    extra = """\
  - id: WANTS-LOW
    title: low deficits
    source: test
    when:
      - deficit: {severity: low}
    then:
      - need: {kind: format, format: self_education}
  - id: WANTS-MENTOR
    title: mentor needs
    source: test
    when:
      - need: {kind: mentor}
    then:
      - fact: {type: seen, x: 1}
  - id: CHAINED
    title: fed only by an unreachable rule
    source: test
    when:
      - seen: {}
    then:
      - fact: {type: seen2, x: 1}
"""
    root = kb_with(tmp_path, extra)
    by_rule = {i.message.split("'")[1]: i for i in findings(root, "unreachable-rule")}
    assert set(by_rule) == {"WANTS-LOW", "WANTS-MENTOR", "CHAINED"}
    assert "no rule asserts a deficit fact matching {deficit: severity eq low}" in (
        by_rule["WANTS-LOW"].message
    )
    assert "rules asserting deficit: CRIT, LOW, PART" in by_rule["WANTS-LOW"].message
    assert "no rule asserts a need fact matching" in by_rule["WANTS-MENTOR"].message
    assert "(WANTS-MENTOR) can never fire themselves" in by_rule["CHAINED"].message
    assert by_rule["WANTS-LOW"].line == line_of(root, "deficit: {severity: low}")


def test_indicator_patterns_without_indicators_are_unreachable(tmp_path: Path) -> None:
    plain = "\n".join(
        line
        for line in MINI["competencies.yaml"].splitlines()
        if "indicators" not in line and "weight:" not in line
    )
    extra = """\
  - id: IND
    title: indicator
    source: test
    when:
      - indicator_result: {level: critical}
    then:
      - fact: {type: marker, x: 1}
"""
    root = kb_with(tmp_path, extra, **{"competencies.yaml": plain + "\n"})
    (issue,) = findings(root, "unreachable-rule")
    assert "no profile provides indicator_result facts" in issue.message


def test_dead_alternatives_and_vacuous_negations(tmp_path: Path) -> None:
    extra = """\
  - id: ALT
    title: any with a dead branch
    source: test
    when:
      - any:
          - result: {score_pct: {lt: 0}}
          - request: {}
    then:
      - fact: {type: marker, x: 1}
  - id: VAC
    title: negation of the impossible
    source: test
    when:
      - result: {}
      - not: {as: r2, result: {score_pct: {gt: 100}}}
    then:
      - fact: {type: marker, x: 2}
"""
    root = kb_with(tmp_path, extra)
    (alt,) = findings(root, "dead-alternative")
    assert "rule 'ALT': alternative 1 of 'any' can never match" in alt.message
    (vac,) = findings(root, "vacuous-not")
    assert "rule 'VAC'" in vac.message and "'not' always holds" in vac.message
    assert findings(root, "unreachable-rule") == []


# --- conflicts and gaps ----------------------------------------------------------------


#: A rule deriving ``critical`` over a band where the shipped test rules derive milder
#: severities: two severity conflicts.
STRICT_RULE = """\
  - id: STRICT
    title: stricter for lesson design
    source: test
    when:
      - result: {competency: methodical.lesson_design, score_pct: {ge: 40, lt: 60}}
    then:
      - deficit: {competency: $result.competency, severity: critical}
"""


def test_overlapping_bands_with_different_severities_conflict(tmp_path: Path) -> None:
    root = kb_with(tmp_path, STRICT_RULE)
    issues = findings(root, "severity-conflict")
    texts = sorted(i.message for i in issues)
    assert len(texts) == 2
    assert "'LOW' (high" in texts[0] and "'STRICT' (critical)" in texts[0]
    assert "methodical.lesson_design with score_pct in [40, 50)" in texts[0]
    assert "'PART' (moderate" in texts[1] and "[50, 60)" in texts[1]
    assert "the Result keeps the most severe (critical)" in texts[1]


def test_rules_for_different_people_do_not_conflict(tmp_path: Path) -> None:
    base = """\
  - id: YOUNG
    title: young
    source: test
    when:
      - person: {experience_years: {lt: 3}}
      - result: {score_pct: {lt: 75}}
    then:
      - deficit: {competency: $result.competency, severity: high}
  - id: SENIOR
    title: senior
    source: test
    when:
      - person: {experience_years: {ge: 3}}
      - result: {score_pct: {lt: 75}}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
  - id: NEED
    title: need
    source: test
    when:
      - deficit: {}
    then:
      - need: {kind: format, format: internship}
"""
    root = kb_with(tmp_path, base=base)
    assert findings(root, "severity-conflict") == []


def test_gaps_are_reported_per_group_as_ranges(tmp_path: Path) -> None:
    base = BASE.replace("result: {level: partial}", "result: {score_pct: {ge: 50, lt: 60}}")
    extra = """\
  - id: DIGITAL-ONLY
    title: digital 60-75 for managers
    source: test
    when:
      - person: {role: manager}
      - result: {group: digital, score_pct: {ge: 60, lt: 75}}
    then:
      - deficit: {competency: $result.competency, severity: moderate}
"""
    root = kb_with(tmp_path, extra, base=base)
    gaps = {i.message.split("'")[1]: i for i in findings(root, "gap")}
    assert set(gaps) == {"normative", "methodical", "digital"}
    assert "no deficit rule decides score_pct in [60, 75)" in gaps["methodical"].message
    assert "for every competency of the group" in gaps["methodical"].message
    assert "only conditional rules cover part of it: DIGITAL-ONLY" in gaps["digital"].message
    assert gaps["methodical"].file.endswith("competencies.yaml") and gaps["methodical"].line == 3


def test_gaps_are_placed_from_the_kb_without_reading_the_ontology_again(tmp_path: Path) -> None:
    base = BASE.replace("result: {level: partial}", "result: {score_pct: {ge: 50, lt: 60}}")
    root = kb_with(tmp_path, base=base)
    kb = load_kb(root)
    (root / "ontology" / "competencies.yaml").unlink()  # the KB holds the places
    places = {i.message.split("'")[1]: (i.file, i.line) for i in analyse(kb) if i.code == "gap"}
    assert places["methodical"] == (kb.files["competencies"], 3)
    assert places["normative"][1] == 2 and places["digital"][1] == 4


# --- needs -------------------------------------------------------------------------------


def test_deficits_without_needs(tmp_path: Path) -> None:
    base = BASE.replace(
        "      - deficit: {}\n    then:\n      - need:",
        "      - deficit: {group: methodical}\n    then:\n      - need:",
    )
    root = kb_with(tmp_path, base=base)
    issues = findings(root, "deficit-without-need")
    assert len(issues) == 3
    assert all("group digital, normative.fgos lead to no need" in i.message for i in issues)
    # a chain through a custom fact counts
    extra = """\
  - id: FLAG
    title: flag the rest
    source: test
    when:
      - deficit: {group: {ne: methodical}}
    then:
      - fact: {type: flagged, competency: $deficit.competency}
  - id: FLAG-NEED
    title: flagged -> self-education
    source: test
    when:
      - flagged: {}
    then:
      - need: {kind: format, format: self_education, competency: $flagged.competency}
"""
    root2 = kb_with(tmp_path / "2", extra, base=base)
    assert findings(root2, "deficit-without-need") == []


def test_needs_no_catalogue_item_can_serve(tmp_path: Path) -> None:
    extra = """\
  - id: PROGRAM
    title: programme
    source: test
    when:
      - deficit: {severity: {in: [critical, high]}}
    then:
      - need: {kind: program, competency: $deficit.competency}
  - id: GROUP-MENTOR
    title: group mentoring for methodical deficits
    source: test
    when:
      - deficit: {group: methodical}
    then:
      - need: {kind: mentor, competency: $deficit.competency, form: group}
  - id: FORMAL-FORMAT
    title: a formal format
    source: test
    when:
      - deficit: {severity: critical}
    then:
      - need: {kind: format, education: formal}
  - id: MANAGER-PROGRAM
    title: managers' programme
    source: test
    when:
      - person: {role: manager}
      - deficit: {group: methodical}
    then:
      - need: {kind: program, competency: $deficit.competency}
"""
    root = kb_with(tmp_path, extra)
    by_rule = {i.message.split("'")[1]: i.message for i in findings(root, "unmet-by-construction")}
    assert set(by_rule) == {"PROGRAM", "GROUP-MENTOR", "FORMAL-FORMAT", "MANAGER-PROGRAM"}
    assert (
        "for 2 of 5 competencies: no programme covers digital.ai, normative.fgos"
        in (by_rule["PROGRAM"])
    )
    assert "can ever serve its mentor need form=group" in by_rule["GROUP-MENTOR"]
    assert "works in the form 'group'" in by_rule["GROUP-MENTOR"]
    assert "no format meets education=formal" in by_rule["FORMAL-FORMAT"]
    assert "(roles: manager)" in by_rule["MANAGER-PROGRAM"]
    assert "none is for the role(s) manager" in by_rule["MANAGER-PROGRAM"]


# --- cycles and joins ----------------------------------------------------------------------


def test_rule_cycles(tmp_path: Path) -> None:
    extra = """\
  - id: SEED
    title: seed
    source: test
    when:
      - deficit: {severity: moderate}
    then:
      - fact: {type: ping, n: 1}
  - id: PING
    title: ping -> pong
    source: test
    when:
      - ping: {}
    then:
      - fact: {type: pong, n: 1}
  - id: PONG
    title: pong -> ping
    source: test
    when:
      - pong: {}
    then:
      - fact: {type: ping, n: 2}
  - id: NOT-A-LOOP
    title: programme need -> format need (a different shape)
    source: test
    when:
      - need: {kind: format, format: internship}
    then:
      - need: {kind: format, format: self_education}
"""
    root = kb_with(tmp_path, extra)
    (cycle,) = findings(root, "rule-cycle")
    assert "PING -> PONG -> PING" in cycle.message
    assert cycle.line == line_of(root, "id: PING")


def test_joins_of_three_patterns_of_one_type(tmp_path: Path) -> None:
    extra = """\
  - id: TRIO
    title: three deficits
    source: test
    when:
      - {as: a, deficit: {}}
      - {as: b, deficit: {competency: {gt: $a.competency}}}
      - {as: c, deficit: {competency: {gt: $b.competency}}}
    then:
      - fact: {type: trio, first: $a.competency}
  - id: PAIR
    title: two deficits are fine
    source: test
    when:
      - {as: a, deficit: {}}
      - {as: b, deficit: {competency: {ne: $a.competency}}}
    then:
      - fact: {type: pair, first: $a.competency}
"""
    root = kb_with(tmp_path, extra)
    (join,) = findings(root, "large-join")
    assert "rule 'TRIO' joins 3 deficit patterns" in join.message
    assert "the patterns are ordered" in join.message
    assert join.line == line_of(root, "{as: c, deficit")


# --- the checks table: each check alone, in any order ---------------------------------------


def _rule(rid: str, when: str, then: str) -> str:
    return (
        f"  - id: {rid}\n    title: {rid}\n    source: test\n"
        f"    when:\n{when}    then:\n      - {then}\n"
    )


# One tiny rule set per check, with the code it reports and a word its findings name.
# (base, extra rules, code, name): base None means the clean BASE.
_ALONE: dict[Check, tuple[str | None, str, str, str]] = {
    unsatisfiable_rules: (
        None,
        _rule("DEAD", "      - result: {score_pct: {lt: 0}}\n", "fact: {type: m, x: 1}"),
        "unreachable-rule",
        "DEAD",
    ),
    dead_alternatives: (
        None,
        _rule(
            "ALT",
            "      - any:\n          - result: {score_pct: {gt: 100}}\n          - request: {}\n",
            "fact: {type: m, x: 1}",
        ),
        "dead-alternative",
        "ALT",
    ),
    vacuous_negations: (
        None,
        _rule(
            "VAC",
            "      - result: {}\n      - not: {as: r2, result: {score_pct: {lt: -1}}}\n",
            "fact: {type: m, x: 1}",
        ),
        "vacuous-not",
        "VAC",
    ),
    unprovided_rules: (
        None,
        _rule("NOBODY", "      - deficit: {severity: low}\n", "fact: {type: m, x: 1}"),
        "unreachable-rule",
        "NOBODY",
    ),
    severity_conflicts: (
        None,
        _rule(
            "STRICT",
            "      - result: {score_pct: {ge: 60, lt: 70}}\n",
            "deficit: {competency: $result.competency, severity: critical}",
        ),
        "severity-conflict",
        "STRICT",
    ),
    gaps: (BASE.split("  - id: PART")[0] + BASE[BASE.index("  - id: NEED") :], "", "gap", "group"),
    deficits_without_needs: (
        BASE.replace("      - deficit: {}\n", "      - deficit: {severity: critical}\n"),
        "",
        "deficit-without-need",
        "deficits of every competency lead to no need",
    ),
    unmet_by_construction: (
        None,
        _rule("FORMAL", "      - deficit: {}\n", "need: {kind: format, education: formal}"),
        "unmet-by-construction",
        "FORMAL",
    ),
    rule_cycles: (
        None,
        _rule("PING", "      - ping: {}\n", "fact: {type: ping, n: 2}")
        + _rule("SEED", "      - deficit: {}\n", "fact: {type: ping, n: 1}"),
        "rule-cycle",
        "PING -> PING",
    ),
    large_joins: (
        None,
        _rule(
            "TRIO",
            "      - {as: a, result: {}}\n      - {as: b, result: {}}\n"
            "      - {as: c, result: {}}\n",
            "fact: {type: trio, first: $a.competency}",
        ),
        "large-join",
        "prefer ordered joins",
    ),
    unsourced_rules: (
        None,
        "  - id: BARE\n    title: BARE\n    when:\n      - deficit: {}\n"
        "    then:\n      - fact: {type: m, x: 1}\n",
        "unsourced-rule",
        "'BARE' has no 'source:'",
    ),
    budget_joins: (
        None,
        _rule(
            "OCTET",
            "".join(f"      - {{as: r{i}, result: {{}}}}\n" for i in range(8)),
            "fact: {type: octet, first: $r0.competency}",
        ),
        "budget-join",
        "OCTET",
    ),
    columnar_fallbacks: (
        None,
        _rule(
            "BOOLFLAG",
            "      - result: {score_pct: {lt: 30}}\n      - flagged: {set: true}\n",
            "fact: {type: flagged, set: true}",
        ),
        "columnar-fallback",
        "BOOLFLAG",
    ),
}


def test_every_check_has_a_case_and_every_code_a_check() -> None:
    assert set(_ALONE) == set(CHECKS)
    assert {code for _b, _e, code, _n in _ALONE.values()} == set(CODES)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_each_check_alone_finds_its_problem(tmp_path: Path, check: Check) -> None:
    base, extra, code, name = _ALONE[check]
    kb = load_kb(kb_with(tmp_path, extra, base=BASE if base is None else base))
    alone = run_checks(Inputs.of(kb), [check])
    assert alone, f"{check.__name__} found nothing"
    assert all(i.code == code and name in i.message for i in alone)
    assert set(alone) <= set(analyse(kb))  # the same finding as the whole analysis
    # the other checks say nothing of this kind about this rule set
    others = run_checks(Inputs.of(kb), [c for c in CHECKS if c is not check])
    assert not {(i.code, i.message) for i in alone} & {(i.code, i.message) for i in others}


def test_the_checks_do_not_depend_on_their_order(tmp_path: Path) -> None:
    extra = "".join(e for _b, e, _c, _n in _ALONE.values())
    kb = load_kb(kb_with(tmp_path, extra))
    inputs = Inputs.of(kb)
    forward = {check: list(check(inputs)) for check in CHECKS}
    backward = {check: list(check(inputs)) for check in reversed(CHECKS)}
    fresh = {check: list(check(Inputs.of(kb))) for check in reversed(CHECKS)}
    assert forward == backward == fresh
    assert len({i.code for found in forward.values() for i in found}) >= 7
    assert run_checks(inputs, reversed(CHECKS)) == run_checks(inputs, CHECKS) == analyse(kb)


def test_an_any_with_every_alternative_dead_is_an_unreachable_rule_only(tmp_path: Path) -> None:
    extra = _rule(
        "ALL-DEAD",
        "      - any:\n          - result: {score_pct: {gt: 100}}\n"
        "          - request: {competency: {in: []}}\n",
        "fact: {type: m, x: 1}",
    )
    root = kb_with(tmp_path, extra)
    (issue,) = findings(root, "unreachable-rule")
    assert "no alternative of 'any' can match (first: result pattern:" in issue.message
    assert findings(root, "dead-alternative") == []


def test_the_shared_inputs_are_frozen(tmp_path: Path) -> None:
    inputs = Inputs.of(load_kb(kb_with(tmp_path)))
    with pytest.raises(AttributeError):
        inputs.reachable = frozenset()  # type: ignore[misc]
    with pytest.raises(nx.NetworkXError):
        inputs.graph.add_edge("CRIT", "NEED")


# --- the shipped KB and the command -------------------------------------------------------


def test_the_shipped_kb_has_only_conflicts_and_catalogue_gaps() -> None:
    issues = analyse(load_kb())
    assert issues == analyse(load_kb())  # deterministic
    assert {i.code for i in issues} <= {"severity-conflict", "unmet-by-construction"}
    assert all(i.file.startswith("rules/") or "rules" in i.file for i in issues)
    gaps = [i for i in issues if "digital.ai" in i.message]
    assert gaps, "the catalogue leaves digital.ai uncovered on purpose"


def test_check_prints_errors_and_warnings_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = """\
  - id: DEAD
    title: dead
    source: test
    when:
      - result: {score_pct: {lt: 0}}
    then:
      - fact: {type: marker, x: 1}
"""
    root = kb_with(tmp_path, extra)
    assert main(["check", "--kb", str(root)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: ") and out.rstrip().endswith("1 warning(s)")
    line = line_of(root, "score_pct: {lt: 0}")
    assert f"r.yaml:{line}:18: warning: unreachable-rule: rule 'DEAD' can never fire" in err
    assert main(["check", "--strict", "--kb", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"r.yaml:{line}:18: unreachable-rule: rule 'DEAD'" in err
    assert "1 error(s), 0 warning(s)" in err
    bad = root / "rules" / "z.yaml"
    bad.write_text("ruleset: z\nrules:\n  - {id: Z, when: {reslt: {}}, then: {deficit: {}}}\n")
    assert main(["check", "--kb", str(root)]) == 1
    err = capsys.readouterr().err
    assert "z.yaml:3:20: unknown-fact-type" in err
    # a KB that does not load is not analysed: its errors alone are reported
    assert "warning:" not in err


def test_check_of_the_shipped_kb_passes_with_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: ") and "warning(s)" in out
    assert err and all(": warning: " in line for line in err.splitlines())
    assert main(["check", "--strict"]) == 1


def test_severity_conflicts_past_the_cap_are_counted_in_one_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deficit_engine.analysis import checks

    root = kb_with(tmp_path, STRICT_RULE)
    every = findings(root, "severity-conflict")
    assert len(every) == 2
    monkeypatch.setattr(checks, "MAX_CONFLICTS", 1)
    capped = findings(root, "severity-conflict")
    assert len(capped) == 2
    listed = [i for i in capped if "more pairs" not in i.message]
    counted = [i for i in capped if "more pairs" in i.message]
    assert len(listed) == 1 and listed[0] in every
    assert counted[0].message.startswith("1 more pairs of rules derive different severities")
