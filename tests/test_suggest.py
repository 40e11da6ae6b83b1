"""Did-you-mean by spelling and by meaning, for ids and field names; capped error lists.

Issue 13, part 6 and issue 17's leftover: ``communicative.mediation`` suggests
``communicative.conflict`` (медиация), ``expirience_years`` suggests
``experience_years``, and 100,000 unknown ids print 50 lines and a count.
"""

from __future__ import annotations

import difflib
import json
import random
import string
from functools import cache
from pathlib import Path

import pytest

from deficit_engine import KnowledgeBase, ProfileError, load_kb
from deficit_engine.cli import main
from deficit_engine.errors import SHOWN_ISSUES, capped
from deficit_engine.profile import parse_profile
from deficit_engine.suggest import Suggester, same_word, suggest, text_matches


@cache
def kb() -> KnowledgeBase:
    return load_kb()


def typos(ids: list[str], count: int, seed: int) -> list[str]:
    """Misspellings of ids: letters dropped, added or changed, tails garbled."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        name = rng.choice(ids)
        for _edit in range(rng.choice([1, 1, 2, 3])):
            i = rng.randrange(len(name))
            letter = rng.choice(string.ascii_lowercase)
            name = rng.choice([name[:i] + name[i + 1 :], name[:i] + letter + name[i:]])
        if rng.random() < 0.3:
            name = name[: len(name) // 2] + "".join(rng.choices(string.ascii_lowercase, k=5))
        out.append(name)
    return out


@pytest.mark.parametrize("table", ["competencies", "indicators"])
def test_spelling_agrees_with_difflib_over_every_id(table: str) -> None:
    # the index only saves work: on the ids of the ontology it suggests what
    # difflib.get_close_matches over every id would (words play no part here:
    # a plain list of ids has no titles)
    ids = list(getattr(kb().ontology, table))
    for name in typos(ids, 1500, seed=5):
        found = difflib.get_close_matches(name, ids, n=1, cutoff=0.6)
        assert suggest(name, ids) == (found[0] if found else None), name


def test_meaning_finds_a_competency_by_its_synonyms() -> None:
    competencies = kb().ontology.competencies
    assert "медиация" in competencies["communicative.conflict"].synonyms
    assert suggest("communicative.mediation", competencies) == "communicative.conflict"
    assert suggest("psycho.burnout", competencies) == "psycho_pedagogical.self_regulation"
    assert suggest("digital.artificial_intelligence", competencies) == "digital.ai"


def test_a_near_typo_wins_over_meaning() -> None:
    competencies = kb().ontology.competencies
    assert suggest("methodical.asessment", competencies) == "methodical.assessment"
    assert suggest("communicative.conflikt", competencies) == "communicative.conflict"


def test_nothing_close_suggests_nothing() -> None:
    assert suggest("zzzz.qqqq", kb().ontology.competencies) is None
    assert Suggester([]).suggest("anything") is None


def test_word_forms() -> None:
    assert same_word("медиац", "медиация")
    assert same_word("конфликтов", "конфликт")
    assert not same_word("оценка", "оценивание")
    assert not same_word("ai", "ai")  # too short to be sure
    assert text_matches("медиац", ["communicative.conflict", "медиация"])
    assert text_matches("Оцениванию", ["Формирующее оценивание"])
    assert not text_matches("выгорание", ["Управление классом"])


def test_misspelt_profile_fields_get_the_field_name() -> None:
    data = {
        "id": "T-1",
        "person": {"role": "teacher", "expirience_years": 3},
        "results": [
            {"competency": "methodical.assessment", "score": 1, "max": 2, "instrumnt": "x"}
        ],
        "preferences": {"hours_per_mont": 10},
    }
    with pytest.raises(ProfileError) as err:
        parse_profile(data, kb())
    suggestions = {i.path: i.suggestion for i in err.value.issues if i.code == "unknown-field"}
    assert suggestions == {
        "person.expirience_years": "experience_years",
        "results[0].instrumnt": "instrument",
        "preferences.hours_per_mont": "hours_per_month",
    }


def test_misspelt_kb_fields_get_the_field_name(tmp_path: Path) -> None:
    source = kb().root
    (tmp_path / "ontology").mkdir()
    for path in (source / "ontology").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "competencies.yaml":
            text = text.replace("    synonyms: [медиация", "    synonims: [медиация", 1)
        (tmp_path / "ontology" / path.name).write_text(text, "utf-8")
    (tmp_path / "rules").symlink_to(source / "rules")
    with pytest.raises(Exception) as err:
        load_kb(tmp_path)
    assert "unknown field 'synonims' (did you mean 'synonyms'?)" in str(err.value)


def test_error_lists_are_capped_with_a_count() -> None:
    lines = [f"line {i}" for i in range(SHOWN_ISSUES + 7)]
    shown = capped(lines)
    assert shown[:SHOWN_ISSUES] == lines[:SHOWN_ISSUES]
    assert shown[-1] == f"... and 7 more problem(s) not shown ({SHOWN_ISSUES + 7} in all)"
    assert capped(lines[:3]) == lines[:3]
    assert capped(lines, None) == lines


def test_many_unknown_ids_print_a_capped_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = 3000
    names = [f"methodical.assesment_{i}" for i in range(count)]
    profile = tmp_path / "p.json"
    profile.write_text(
        json.dumps(
            {"id": "B-1", "person": {"role": "teacher", "experience_years": 3}, "requests": names}
        ),
        "utf-8",
    )
    assert main(["diagnose", str(profile)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == SHOWN_ISSUES + 1
    assert "did you mean 'methodical.assessment'?" in err[0]
    assert err[-1] == f"... and {count - SHOWN_ISSUES} more problem(s) not shown ({count} in all)"
    with pytest.raises(ProfileError) as caught:
        parse_profile(json.loads(profile.read_text("utf-8")), kb())
    assert len(caught.value.issues) == count  # the library keeps every issue
    assert all(i.suggestion == "methodical.assessment" for i in caught.value.issues)
