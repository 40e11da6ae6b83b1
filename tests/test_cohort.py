"""Cohorts: deficit-engine batch (CSV, JSONL, XLSX) and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deficit_engine import Engine
from deficit_engine import cohort as cohort_module
from deficit_engine.cli import main

CSV = """\
id,role,experience_years,municipality,subjects,requests,methodical.assessment,methodical.lesson_design,digital.distance,normative.safety
C-1,teacher,2,Анучинский МО,mathematics,digital.ai,12/25,40,80,70
C-2,teacher,15,Спасский МО,,,90,85,30,
C-3,teacher,abc,Спасский МО,,,10,,,
C-4,director,3,Спасский МО,,,10,,,
C-5,manager,8,Яковлевский МО,,,,,,95
"""


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_csv_batch_sets_bad_rows_aside(
    tmp_path: Path, workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cohort.csv"
    source.write_text(CSV, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--workers", workers]) == 1
    assert "5 profile(s): 3 evaluated, 2 set aside" in capsys.readouterr().out
    results = read_jsonl(out / "results.jsonl")
    assert [r["profile"] for r in results] == ["C-1", "C-2", "C-5"]
    assert "trace" not in results[0]
    errors = read_jsonl(out / "errors.jsonl")
    assert errors[0] == {
        "line": 4,
        "profile": "#2",
        "errors": [f"{source}:4: column \"experience_years\": 'abc' is not a number"],
    }
    assert errors[1]["line"] == 5 and "person.role" in str(errors[1]["errors"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["profiles"], summary["evaluated"], summary["set_aside"]) == (5, 3, 2)
    assert ["program digital.ai", 1] in summary["unmet"]
    # the same profiles evaluated one by one give the same Results
    engine = Engine.from_path()
    expected = engine.evaluate(
        {
            "id": "C-2",
            "person": {"role": "teacher", "experience_years": 15, "municipality": "Спасский МО"},
            "results": [
                {"competency": "methodical.assessment", "score": 90, "max": 100},
                {"competency": "methodical.lesson_design", "score": 85, "max": 100},
                {"competency": "digital.distance", "score": 30, "max": 100},
            ],
        }
    ).to_dict(trace=False)
    assert results[1] == expected


def test_jsonl_and_xlsx(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    good = {
        "id": "J-1",
        "person": {"role": "teacher", "experience_years": 4},
        "results": [{"competency": "digital.eios", "score": 3, "max": 20}],
    }
    source = tmp_path / "c.jsonl"
    source.write_text(
        json.dumps(good) + "\n{broken\n\n" + json.dumps({**good, "id": "J-2"}) + "\n",
        encoding="utf-8",
    )
    assert main(["batch", str(source), "-o", str(tmp_path / "j"), "--workers", "1", "--trace"]) == 1
    results = read_jsonl(tmp_path / "j" / "results.jsonl")
    assert [r["profile"] for r in results] == ["J-1", "J-2"] and results[0]["trace"]
    assert read_jsonl(tmp_path / "j" / "errors.jsonl")[0]["line"] == 2

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        ["id", "role", "experience_years", "digital.eios", "methodical.assessment.criteria"]
    )
    sheet.append(["X-1", "teacher", 4, "3/20", 40])
    sheet.append(["X-2", "methodist", 12, 90, None])
    book.save(tmp_path / "c.xlsx")
    assert (
        main(["batch", str(tmp_path / "c.xlsx"), "-o", str(tmp_path / "x"), "--workers", "1"]) == 0
    )
    results = read_jsonl(tmp_path / "x" / "results.jsonl")
    assert [r["profile"] for r in results] == ["X-1", "X-2"]
    assert results[0]["deficits"][0]["competency"] in ("digital.eios", "methodical.assessment")


def test_bad_tables_and_folders_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,id\nx,1\n", encoding="utf-8")  # a duplicate column
    assert main(["batch", str(bad), "-o", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert 'bad.csv:1:2: duplicate-column: column "id" appears twice' in err
    assert not (tmp_path / "o1").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("id,role,experience_years\nA,teacher,3\n", encoding="utf-8")
    assert main(["batch", str(good), "-o", str(full)]) == 2
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    assert main(["batch", str(tmp_path / "none.csv"), "-o", str(tmp_path / "o2")]) == 2
    assert main(["report", str(tmp_path / "nowhere")]) == 2


def test_output_is_whole_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "cohort.csv"
    source.write_text(CSV, encoding="utf-8")

    def fail(self: object, result: object, place: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(cohort_module.BatchSummary, "add", fail)
    with pytest.raises(RuntimeError):
        cohort_module.run_batch(Engine.from_path(), source, tmp_path / "out", workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


def test_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "cohort.csv"
    source.write_text(CSV, encoding="utf-8")
    main(["batch", str(source), "-o", str(tmp_path / "out"), "--workers", "1"])
    capsys.readouterr()
    assert main(["report", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "Профилей: 5; оценено: 3; отложено с ошибками: 2" in text
    assert "Спрос на программы ДПП" in text and "program digital.ai" in text
    assert main(["report", str(tmp_path / "out"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluated"] == 3
