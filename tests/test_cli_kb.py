"""``deficit-engine kb`` and ``deficit-engine schema profile --kb`` (issue 13, part 6)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import yaml

from deficit_engine import KnowledgeBase, load_kb
from deficit_engine.cli import main
from deficit_engine.cli_kb import LISTS, entries, profile_schema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@cache
def kb() -> KnowledgeBase:
    return load_kb()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_grep_finds_a_competency_by_a_stem_of_its_synonym(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _err = run(capsys, "kb", "competencies", "--grep", "медиац")
    assert code == 0
    assert [line.split()[0] for line in out] == ["communicative.conflict"]


def test_grep_reads_word_forms_ids_and_case(capsys: pytest.CaptureFixture[str]) -> None:
    # «выгорания» is not in any title as written: «выгорание» is a synonym
    _code, out, _err = run(capsys, "kb", "competencies", "--grep", "Выгорания")
    assert [line.split()[0] for line in out] == ["psycho_pedagogical.self_regulation"]
    _code, out, _err = run(capsys, "kb", "competencies", "--grep", "DIGITAL.")
    assert len(out) == sum(1 for c in kb().ontology.competencies if c.startswith("digital."))


@pytest.mark.parametrize("what", list(LISTS))
def test_every_list_names_every_id_once_with_its_title(
    capsys: pytest.CaptureFixture[str], what: str
) -> None:
    code, out, _err = run(capsys, "kb", what)
    assert code == 0
    ids = [line.split()[0] for line in out]
    expected = {
        "competencies": list(kb().ontology.competencies),
        "programmes": list(kb().programs),
        "mentors": list(kb().mentors),
        "formats": list(kb().formats),
        "rules": [r.id for r in kb().rules],
    }[what]
    assert ids == expected
    assert all(line.split(maxsplit=1)[1].strip() for line in out)


def test_mentors_are_listed_without_names() -> None:
    listed = " ".join(e.title for e in entries(kb(), "mentors"))
    for mentor in kb().mentors.values():
        assert mentor.name not in listed


def test_grep_that_finds_nothing_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "kb", "rules", "--grep", "несуществующее слово")
    assert code == 1 and out == [] and "no rules match" in err


def test_a_missing_kb_folder_is_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = run(capsys, "kb", "formats", "--kb", str(tmp_path / "none"))
    assert code == 2 and "not a directory" in err


def test_an_invalid_kb_is_a_finding(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "ontology").mkdir()
    code, _out, err = run(capsys, "kb", "formats", "--kb", str(tmp_path))
    assert code == 1 and "run 'deficit-engine check'" in err


def test_profile_schema_has_descriptions_and_the_kbs_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _err = run(capsys, "schema", "profile", "--kb", str(kb().root))
    assert code == 0
    schema = json.loads("\n".join(out))
    assert schema == json.loads(json.dumps(profile_schema(kb())))
    defs = schema["$defs"]
    result = defs["ProfileResult"]["properties"]
    assert result["competency"]["anyOf"][0]["enum"] == list(kb().ontology.competencies)
    assert result["indicator"]["anyOf"][0]["enum"] == list(kb().ontology.indicators)
    assert schema["properties"]["requests"]["items"]["enum"] == list(kb().ontology.competencies)
    assert defs["Person"]["properties"]["subjects"]["items"]["enum"] == list(kb().subjects)
    assert defs["Person"]["properties"]["role"]["enum"]
    for model in ("Person", "ProfileResult", "Preferences", "Period"):
        for name, prop in defs[model]["properties"].items():
            assert prop.get("description"), (model, name)
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name


def test_the_shipped_examples_keep_to_the_enums() -> None:
    schema = profile_schema(kb())
    competencies = set(schema["properties"]["requests"]["items"]["enum"])
    subjects = set(schema["$defs"]["Person"]["properties"]["subjects"]["items"]["enum"])
    for path in EXAMPLES.glob("*.yaml"):
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(profile.get("requests", [])) <= competencies, path.name
        assert set(profile["person"].get("subjects", [])) <= subjects, path.name
        for result in profile.get("results", []):
            assert result.get("competency", next(iter(competencies))) in competencies


def test_without_kb_the_schema_is_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    _code, out, _err = run(capsys, "schema", "profile")
    schema = json.loads("\n".join(out))
    assert "enum" not in json.dumps(schema["properties"]["requests"])
