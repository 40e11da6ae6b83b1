"""Provenance of diagnoses (issue 14 §1): several results for one competency are chosen
between by ontology/instruments.yaml, and the Result and the trace say where a score
came from; a Result names the KB's content hash and version."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from conftest import write_kb
from deficit_engine import Engine, KnowledgeBaseError, ProfileError, load_kb
from deficit_engine.profile import choose_results, instrument_of, parse_profile

CLIMATE = "psycho_pedagogical.classroom_climate"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path(backend="python")


def profile(*results: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "P-1",
        "person": {"role": "teacher", "experience_years": 5},
        "results": list(results),
    }


def climate(score: float, **extra: Any) -> dict[str, Any]:
    return {"competency": CLIMATE, "score": score, "max": 100, **extra}


def test_the_instrument_of_higher_priority_wins_over_a_later_self_assessment(
    engine: Engine,
) -> None:
    prof = parse_profile(
        profile(
            climate(40, instrument="ЦНППМ-2026", date="2027-04-15"),
            climate(95, instrument="самооценка", date="2027-04-20", assessor="сам педагог"),
        ),
        engine.kb,
    )
    chosen, provenance = choose_results(prof, engine.kb)
    assert [r.score for r in chosen] == [40]
    (where,) = provenance
    assert (where.instrument_id, where.source, where.date, where.set_aside) == (
        "cnppm_2026",
        "cnppm_test",
        "2027-04-15",
        1,
    )


def test_within_one_instrument_the_latest_date_wins_and_undated_is_earliest(
    engine: Engine,
) -> None:
    prof = parse_profile(
        profile(
            climate(70, instrument="ЦНППМ", date="2027-04-15"),
            climate(30, instrument="ЦНППМ-2026", date="2026-09-10"),
            climate(10, instrument="ЦНППМ-2026"),
        ),
        engine.kb,
    )
    chosen, _ = choose_results(prof, engine.kb)
    assert [r.score for r in chosen] == [70]  # an alias names the same instrument


def test_an_unlisted_instrument_counts_least(engine: Engine) -> None:
    assert instrument_of(engine.kb, "Анкета школы") is None
    prof = parse_profile(
        profile(
            climate(90, instrument="Анкета школы", date="2027-05-01"),
            climate(40, instrument="Самооценка", date="2026-01-01"),
        ),
        engine.kb,
    )
    chosen, _ = choose_results(prof, engine.kb)
    assert [r.score for r in chosen] == [40]


def test_two_results_of_one_instrument_on_one_date_are_refused(engine: Engine) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(
            profile(
                climate(40, instrument="ЦНППМ-2026", date="2027-04-15"),
                climate(50, instrument="ЦНППМ", date="2027-04-15"),
            ),
            engine.kb,
        )
    assert [i.path for i in caught.value.issues] == ["results[1].competency"]
    assert "same instrument and date" in caught.value.issues[0].message


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"date": "15.04.2027"}, "results[0].date"),
        ({"date": "2027-4-15"}, "results[0].date"),
        ({"source": "survey"}, "results[0].source"),
    ],
)
def test_a_bad_date_or_source_is_named_by_its_path(
    engine: Engine, extra: dict[str, str], path: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(profile(climate(40, **extra)), engine.kb)
    assert path in [i.path for i in caught.value.issues]


def test_the_trace_and_the_result_say_where_the_score_came_from(engine: Engine) -> None:
    result = engine.evaluate(
        profile(
            climate(30, instrument="ЦНППМ-2026", date="2027-04-15", assessor="Иванова"),
            climate(90, source="self_assessment", date="2027-04-20"),
        )
    )
    firing = next(
        t for t in result.trace if any(f.get("competency") == CLIMATE for f in t.asserted)
    )
    used = next(f for f in firing.matched if f["type"] == "result")
    assert (used["score_pct"], used["instrument"], used["source"], used["date"]) == (
        30.0,
        "ЦНППМ-2026",
        "cnppm_test",
        "2027-04-15",
    )
    data = result.to_dict()
    assert data["provenance"] == [
        {
            "target": CLIMATE,
            "kind": "competency",
            "score_pct": 30.0,
            "instrument": "ЦНППМ-2026",
            "instrument_id": "cnppm_2026",
            "source": "cnppm_test",
            "date": "2027-04-15",
            "set_aside": 1,
        }
    ]
    assert "Иванова" not in result.to_json()  # the assessor stays in the profile
    assert data["kb_hash"] == engine.kb.content_hash
    assert data["kb_hash"].startswith("sha256:") and len(data["kb_hash"]) == 71
    assert data["kb_version"] == engine.kb.version == "2026.1"
    assert pickle.loads(pickle.dumps(result)) == result


def test_the_content_hash_follows_the_files_not_the_folder(shipped_copy: Path) -> None:
    first = load_kb(shipped_copy).content_hash
    assert load_kb(shipped_copy).content_hash == first == load_kb().content_hash
    rules = sorted((shipped_copy / "rules").glob("*.yaml"))[0]
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert load_kb(shipped_copy).content_hash != first


def test_a_kb_without_instruments_takes_the_latest_result(tmp_path: Path) -> None:
    kb = load_kb(write_kb(tmp_path / "kb"), with_rules=False)
    assert kb.instruments == {} and kb.version is None
    prof = parse_profile(
        {
            "id": "P-1",
            "person": {"role": "teacher", "experience_years": 5},
            "results": [
                {
                    "competency": "normative.fgos",
                    "score": 80,
                    "instrument": "ЕФОМ",
                    "date": "2027-01-01",
                },
                {
                    "competency": "normative.fgos",
                    "score": 20,
                    "instrument": "Самооценка",
                    "date": "2027-02-01",
                },
            ],
        },
        kb,
    )
    chosen, _ = choose_results(prof, kb)
    assert [r.score for r in chosen] == [20]


def test_instruments_yaml_problems_are_placed(tmp_path: Path) -> None:
    root = write_kb(
        tmp_path / "kb",
        {
            "instruments.yaml": (
                "instruments:\n"
                "  - {id: a, title: Тест, priority: 3}\n"
                "  - {id: b, title: тест, priority: 2}\n"
                "  - {id: c, title: В, priority: -1}\n"
            )
        },
    )
    with pytest.raises(KnowledgeBaseError) as caught:
        load_kb(root, with_rules=False)
    found = {(i.line, i.code) for i in caught.value.issues}
    assert (3, "duplicate-alias") in found
    assert any(line == 4 for line, _code in found)


def test_results_of_any_shape_are_reported_not_crashed_on(engine: Engine) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(
            profile(climate(40, date=["2027-04-15"]), climate(50, date={"d": 1}, instrument=[1])),
            engine.kb,
        )
    assert {i.path for i in caught.value.issues} >= {"results[0].date", "results[1].date"}


def test_a_cohort_diagnosed_column_wise_keeps_the_provenance(engine: Engine) -> None:
    data = profile(climate(30, instrument="ЦНППМ-2026", date="2027-04-15"), climate(90))
    ((_prof, result),) = engine.diagnose_many([data])
    alone = engine.diagnose(data)[1]
    assert result.provenance == alone.provenance and result.provenance[0].set_aside == 1
    assert (result.kb_hash, result.kb_version) == (engine.kb.content_hash, engine.kb.version)
