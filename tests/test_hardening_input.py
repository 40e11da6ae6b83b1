"""Hostile input files (issue 17, part A): each gives one placed line, never a crash.

Nesting and integer size are checked before a parser recurses or converts; JSON
profiles refuse duplicate keys as YAML ones do; a score near the float maximum keeps
a finite percent; person text is NFC; the rule folder names what it does not read.
"""

from __future__ import annotations

import copy
import io
import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import write_kb
from deficit_engine import (
    Engine,
    KnowledgeBaseError,
    ProfileError,
    check_kb,
    load_kb,
    normalise,
    parse_profile,
    read_profile_file,
)
from deficit_engine._yaml import MAX_DEPTH, MAX_INT_DIGITS, load_yaml_text
from deficit_engine.cli import main
from deficit_engine.loader import rule_files
from deficit_engine.profile import read_profile_stream

REPO = Path(__file__).resolve().parents[1]
DEEP = 1000  # about 2 KB of brackets: enough to exhaust Python's recursion limit

RULE = (
    "ruleset: r\nrules:\n  - id: R1\n    when:\n      - result: {level: critical}\n"
    "    then:\n      - deficit: {competency: $result.competency, severity: high}\n"
)


def example() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "examples" / "young_teacher.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    data["preferences"]["period"] = {"start": "2026-09", "end": "2027-05"}  # kept as text
    return data


def codes(err: KnowledgeBaseError | ProfileError) -> list[str]:
    return [i.code for i in err.issues]


def one_line_exit(argv: list[str], capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip(), err
    return err


# --- nesting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,  # flow
        "".join(f"{'  ' * i}- \n" for i in range(DEEP)),  # block sequences
        "".join(f"{' ' * i}k:\n" for i in range(DEEP)),  # block mappings
    ],
    ids=["flow", "block-seq", "block-map"],
)
def test_deep_yaml_is_refused_before_recursion(text: str) -> None:
    doc = load_yaml_text(text, "deep.yaml")
    assert [i.code for i in doc.issues] == ["too-deep"] and doc.data is None
    assert doc.issues[0].line >= 1 and str(MAX_DEPTH) in doc.issues[0].message


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    doc = load_yaml_text("a: " + "[" * depth + "]" * depth, "ok.yaml")
    assert doc.issues == [] and isinstance(doc.data["a"], list)


def test_aliases_cannot_nest_past_the_limit() -> None:
    """Each alias adds a level the text does not show: the built depth is checked too."""
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, MAX_DEPTH + 5)]
    doc = load_yaml_text("\n".join(lines), "alias.yaml")
    assert [i.code for i in doc.issues] == ["too-deep"]


@pytest.mark.parametrize("text", ["&a [*a]", "&a {x: *a}", "a: &a [1, [2, *a]]"])
def test_an_anchor_cycle_is_named(text: str) -> None:
    doc = load_yaml_text(text, "cycle.yaml")
    assert [i.code for i in doc.issues] == ["alias-cycle"]


def test_deep_profiles_yaml_and_json_and_stdin(tmp_path: Path) -> None:
    for suffix, text in (
        (".yaml", "id: [" + "[" * DEEP + "]" * DEEP + "]"),
        (".json", '{"id": ' + "[" * DEEP + "]" * DEEP + "}"),
    ):
        path = tmp_path / f"deep{suffix}"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ProfileError) as err:
            read_profile_file(path)
        assert codes(err.value) == ["too-deep"]
        assert err.value.issues[0].line == 1 and err.value.issues[0].col > 1
        with pytest.raises(ProfileError) as err:
            read_profile_stream(io.BytesIO(text.encode()))
        assert codes(err.value) == ["too-deep"]


def test_deep_profile_on_the_command_line_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"id": ' + "[" * DEEP + "]" * DEEP + "}", encoding="utf-8")
    err = one_line_exit(["diagnose", str(path)], capsys, 2)
    assert "too-deep" in err and "deep.json:1:" in err


def test_a_deep_rule_file_is_a_kb_error(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "deep.yaml").write_text(
        "ruleset: r\nrules: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8"
    )
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(root)
    assert "too-deep" in codes(err.value)
    assert any(i.file.endswith("deep.yaml") and i.line == 2 for i in err.value.issues)


# --- integer size -------------------------------------------------------------------


def test_a_huge_integer_is_refused_before_conversion(tmp_path: Path) -> None:
    digits = "9" * 5000
    yaml_path, json_path = tmp_path / "big.yaml", tmp_path / "big.json"
    yaml_path.write_text(f"id: T-1\nhours: {digits}\n", encoding="utf-8")
    json_path.write_text(f'{{"id": "T-1",\n "hours": {digits}}}', encoding="utf-8")
    for path, place in ((yaml_path, (2, 8)), (json_path, (2, 11))):
        with pytest.raises(ProfileError) as err:
            read_profile_file(path)
        assert codes(err.value) == ["too-large"], err.value
        issue = err.value.issues[0]
        assert (issue.line, issue.col) == place and str(MAX_INT_DIGITS) in issue.message
    with pytest.raises(ProfileError):
        read_profile_stream(io.BytesIO(json_path.read_bytes()))


def test_an_impossible_date_is_text_not_a_crash() -> None:
    """PyYAML would build datetime.date(2020, 13, 45) and raise ValueError."""
    doc = load_yaml_text("start: 2020-13-45\n", "d.yaml")
    assert doc.issues == [] and doc.data == {"start": "2020-13-45"}


# --- JSON duplicate keys ------------------------------------------------------------


def test_json_duplicate_keys_are_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text(
        '{"id": "T-1",\n "person": {"role": "teacher", "role": "methodist"},\n "id": "T-2"}',
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as err:
        read_profile_file(path)
    assert [str(i) for i in err.value.issues] == [
        f"{path}:2:32: duplicate-key: duplicate key 'role'",
        f"{path}:3:2: duplicate-key: duplicate key 'id'",
    ]
    with pytest.raises(ProfileError) as err:
        read_profile_stream(io.BytesIO(path.read_bytes()))
    assert codes(err.value) == ["duplicate-key", "duplicate-key"]


def test_json_keys_equal_after_escapes_are_duplicates_and_others_are_not(tmp_path: Path) -> None:
    path = tmp_path / "esc.json"
    path.write_text('{"a": {"x": 1}, "b": {"x": "\\"x\\": 2"}, "\\u0061": 3}', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        read_profile_file(path)
    assert [i.message for i in err.value.issues] == ["duplicate key 'a'"]


# --- scores near the float maximum --------------------------------------------------


def test_a_score_near_the_float_maximum_has_a_finite_percent() -> None:
    kb = load_kb()
    data = example()
    data["results"][0] = {"competency": "normative.fgos", "score": 1e308, "max": 1.7e308}
    data["results"][2] = {"indicator": "methodical.assessment.criteria", "score": 1e308,
                          "max": 1.7e308}  # fmt: skip
    norm = normalise(parse_profile(data, kb), kb)
    assert norm.competency_pct["normative.fgos"] == 58.82
    small = copy.deepcopy(data)
    small["results"][0] = {"competency": "normative.fgos", "score": 10, "max": 17}
    small["results"][2] = {"indicator": "methodical.assessment.criteria", "score": 10, "max": 17}
    facts = [
        Engine(kb, backend=backend).evaluate(d).to_dict()
        for backend in ("fast", "python")
        for d in (data, small)
    ]
    # the same ratio as 10/17: the same diagnosis, on every backend
    assert facts[0]["deficits"] == facts[1]["deficits"] == facts[2]["deficits"]
    assert any(d["competency"] == "normative.fgos" for d in facts[0]["deficits"])


# --- Unicode NFD --------------------------------------------------------------------


def test_person_text_is_nfc_and_matches_the_kb(tmp_path: Path) -> None:
    kb = load_kb()
    data = example()
    data["person"]["organization"] = "МБОУ СОШ № 1 пгт Новый Учёный"  # synthetic
    nfd = copy.deepcopy(data)
    for field in ("municipality", "organization"):
        nfd["person"][field] = unicodedata.normalize("NFD", data["person"][field])
        assert nfd["person"][field] != data["person"][field]  # Й, ё decompose
    profile = parse_profile(nfd, kb)
    assert profile.person.municipality == data["person"]["municipality"]
    assert profile.person.organization == data["person"]["organization"]
    engine = Engine(kb, backend="fast")
    assert engine.evaluate(nfd).to_json() == engine.evaluate(data).to_json()
    path = tmp_path / "nfd.json"
    path.write_text(json.dumps(nfd, ensure_ascii=False), encoding="utf-8")
    assert parse_profile(read_profile_file(path), kb).person == profile.person


# --- the rules folder ---------------------------------------------------------------


def kb_with_rules(tmp_path: Path) -> Path:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text(RULE, encoding="utf-8")
    return root


def test_a_missing_or_empty_rules_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_kb(tmp_path / "kb")
    for state in ("missing", "empty", "no rules"):
        if state == "empty":
            (root / "rules").mkdir()
        if state == "no rules":
            (root / "rules" / "r.yaml").write_text("ruleset: r\nrules: []\n", encoding="utf-8")
        kb, issues = check_kb(root)
        assert kb is None and [i.code for i in issues] == ["no-rules"], state
        assert issues[0].file.endswith("rules")
        err = one_line_exit(["check", "--kb", str(root)], capsys, 1)
        assert "no-rules" in err
        assert load_kb(root, with_rules=False).rules == ()  # asked for no rules: fine


def test_an_unreadable_rules_folder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = kb_with_rules(tmp_path)
    folder = root / "rules"
    real = Path.iterdir

    def iterdir(self: Path) -> Any:
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    # root ignores file modes: the refusal is simulated where the loader meets it
    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(root)
    assert [str(i) for i in err.value.issues] == [f"{folder}: unreadable: Permission denied"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_rules_folder_for_real(tmp_path: Path) -> None:  # pragma: no cover
    root = kb_with_rules(tmp_path)
    (root / "rules").chmod(0)
    try:
        with pytest.raises(KnowledgeBaseError) as err:
            load_kb(root)
        assert codes(err.value) == ["unreadable"]
    finally:
        (root / "rules").chmod(0o755)


def test_rules_folder_that_is_a_file(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").write_text(RULE, encoding="utf-8")
    kb, issues = check_kb(root)
    assert kb is None and [i.code for i in issues] == ["unreadable"]


def test_rule_file_suffixes_are_case_insensitive(tmp_path: Path) -> None:
    root = write_kb(tmp_path / "kb")
    (root / "rules").mkdir()
    (root / "rules" / "10_deficits.YAML").write_text(RULE, encoding="utf-8")
    kb = load_kb(root)
    assert [r.id for r in kb.rules] == ["R1"]
    assert [p.name for p in rule_files(root)] == ["10_deficits.YAML"]


def test_entries_not_read_are_named(tmp_path: Path) -> None:
    root = kb_with_rules(tmp_path)
    rules = root / "rules"
    (rules / "x.yaml").mkdir()
    os.mkfifo(rules / "pipe.yaml")
    (rules / "loop.yaml").symlink_to(rules / "loop.yaml")
    (rules / "gone.yml").symlink_to(rules / "nowhere.yml")
    (rules / "notes.txt").write_text("черновик", encoding="utf-8")
    (rules / ".gitkeep").write_text("", encoding="utf-8")
    kb, issues = check_kb(root)
    assert kb is None
    found = {(Path(i.file).name, i.code, i.severity) for i in issues}
    assert found == {
        ("x.yaml", "not-a-file", "error"),
        ("pipe.yaml", "not-a-file", "error"),
        ("loop.yaml", "unreadable", "error"),
        ("gone.yml", "unreadable", "error"),
        ("notes.txt", "not-read", "warning"),
    }
    for name in ("x.yaml", "pipe.yaml", "loop.yaml", "gone.yml"):
        (rules / name).rmdir() if name == "x.yaml" else (rules / name).unlink()
    kb, issues = check_kb(root)  # the warning alone leaves a usable KB
    assert kb is not None and [r.id for r in kb.rules] == ["R1"]
    assert [(Path(i.file).name, i.code) for i in kb.warnings] == [("notes.txt", "not-read")]


def test_hostile_jsonl_rows_and_summaries_are_named(tmp_path: Path) -> None:
    """A JSONL cohort row nested 1,000 deep or holding a 5,000-digit integer is set
    aside with its reason; a summary.json like that is exit 2 for report."""
    from deficit_engine.cli import main

    deep = "[" * 1000 + "]" * 1000
    good = json.dumps({"id": "J1", "person": {"role": "teacher", "experience_years": 3}})
    cohort = tmp_path / "c.jsonl"
    cohort.write_text(
        "\n".join(
            [good, '{"id": "J2", "x": ' + deep + "}", '{"id": "J3", "n": ' + "9" * 5000 + "}"]
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["batch", str(cohort), "-o", str(out), "--workers", "1", "--quiet"]) == 1
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text("utf-8").splitlines()]
    assert [e["line"] for e in errors] == [2, 3]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.json").write_text(deep, encoding="utf-8")
    assert main(["report", str(bad)]) == 2
    (bad / "summary.json").write_text('{"profiles": ' + "9" * 5000 + "}", encoding="utf-8")
    assert main(["report", str(bad)]) == 2


def test_latin_lookalikes_in_cyrillic_person_text_read_as_cyrillic() -> None:
    """«Анучинский MO» typed with a Latin M and O is the KB's «Анучинский МО», so the
    teacher's own municipality is found; a word with other Latin letters is kept."""
    from deficit_engine import Engine
    from deficit_engine.profile import person_text

    assert person_text("Анучинский MO") == "Анучинский МО"
    assert person_text("МБОУ COШ № 1") == "МБОУ СОШ № 1"
    assert person_text("IT-лицей") == "IT-лицей"
    assert person_text("Lyceum 2") == "Lyceum 2"
    assert person_text("Школа & Co") == "Школа & Co"
    engine = Engine.from_path(backend="fast")
    profile = {
        "id": "H1",
        "person": {"role": "teacher", "experience_years": 1, "municipality": "Анучинский MO"},
        "results": [{"competency": "methodical.lesson_design", "score": 10, "max": 100}],
    }
    assert engine.parse(profile).person.municipality == "Анучинский МО"
    cyrillic = {**profile, "person": {**profile["person"], "municipality": "Анучинский МО"}}
    assert engine.evaluate(profile).to_json() == engine.evaluate(cyrillic).to_json()


def test_the_kbs_own_text_is_folded_so_it_meets_the_profile(shipped_copy: Path) -> None:
    """Mentors written in NFD, or with a Latin «MO», are the same mentors: a profile
    in their municipality gets the same route as with the shipped KB (issue 17)."""
    mentors = shipped_copy / "ontology" / "mentors.yaml"
    text = mentors.read_text("utf-8")
    text = text.replace("Яковлевский МО", unicodedata.normalize("NFD", "Яковлевский МО"))
    text = text.replace("Анучинский МО", "Анучинский MO")  # Latin M and O
    assert "Анучинский MO" in text and unicodedata.normalize("NFC", text) != text
    mentors.write_text(text, encoding="utf-8")
    shipped, folded = load_kb(), load_kb(shipped_copy)
    assert {m.id: (m.municipality, m.organization) for m in folded.mentors.values()} == {
        m.id: (m.municipality, m.organization) for m in shipped.mentors.values()
    }
    for municipality in ("Анучинский МО", "Яковлевский МО"):
        data = example()
        data["person"]["municipality"] = municipality
        route = Engine(folded, backend="fast").evaluate(data).to_dict()
        same = Engine(shipped, backend="fast").evaluate(data).to_dict()
        # the KB files differ in their bytes, so their content hashes do too
        assert route.pop("kb_hash") != same.pop("kb_hash")
        assert route == same
