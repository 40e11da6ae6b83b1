"""Cohorts: deficit-engine batch (CSV, JSONL, XLSX) and report."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine, default_kb_path, load_kb
from deficit_engine import cohort as cohort_module
from deficit_engine.cli import main
from deficit_engine.synthetic import synthetic_profiles

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
        "profile": "C-3",  # a row set aside by the reader keeps its id
        "errors": [f"{source}:4: column \"experience_years\": 'abc' is not a number"],
    }
    # a profile error names the row and the column header, not the field path
    assert errors[1]["line"] == 5
    assert errors[1]["errors"][0].startswith(f'{source}:5: column "role": invalid-value:')
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
    # besides the Result, each line carries the person's fields (the batch adds them)
    assert results[1].pop("person") == {
        "role": "teacher",
        "municipality": "Спасский МО",
        "organization": None,
        "experience_years": 15,
        "subjects": [],
    }
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


# --- the report of a planned cohort -------------------------------------------------


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A batch of a generated cohort planned on the shipped KB: every cause of an unmet
    need occurs in it, and flagged schools with and without a team mentor."""
    folder = tmp_path_factory.mktemp("planned")
    source = folder / "cohort.jsonl"
    kb = load_kb()
    lines = [
        json.dumps(p, ensure_ascii=False)
        for p in synthetic_profiles(kb, 240, seed=11, max_results=12)
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["batch", str(source), "-o", str(folder / "out"), "--workers", "1"]) == 0
    return folder / "out"


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


def _unmet_entries(results: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(profile, unmet entry) for every unmet entry of every Result."""
    return [(str(r["profile"]), u) for r in results for u in r["unmet"]]


def test_planned_report_json_agrees_with_the_results(
    planned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = load_kb()
    results = read_jsonl(planned / "results.jsonl")
    schools = json.loads((planned / "schools.json").read_text(encoding="utf-8"))
    report = json.loads(_report(capsys, str(planned), "--format", "json"))
    summary = json.loads((planned / "summary.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in report.items() if k != "report"} == summary
    sections = report["report"]

    # the plan's figures and their percents
    mentored = [r for r in results if any(x["kind"] == "mentor" for x in r["recommendations"])]
    plan = sections["plan"]
    assert plan["mentees_placed"] == len(mentored) > 0
    assert plan["mentees_placed_pct"] == round(100 * len(mentored) / plan["mentees"], 1)
    assert plan["bound_reached_pct"] == round(100 * len(mentored) / plan["mentee_bound"], 1)

    # mentor load after allocation: people from the results, schools from schools.json
    given = Counter(x["id"] for r in results for x in r["recommendations"] if x["kind"] == "mentor")
    teams = {(t["organization"], t["mentor"]) for t in schools["team_support"] if t["mentor"]}
    team_load = Counter(m for _org, m in teams)
    rows = {row["id"]: row for row in sections["mentor_load"]}
    assert set(rows) == set(given) | set(team_load)
    for ref, row in rows.items():
        mentor = kb.mentors[ref]
        assert (row["mentees"], row["schools"]) == (given[ref], team_load[ref])
        assert row["capacity"] == mentor.capacity and row["municipality"] == mentor.municipality
        assert row["free"] == mentor.capacity - given[ref] - team_load[ref] >= 0
        assert row["over_capacity"] == 0
    places = sections["mentor_places"]
    assert places["capacity"] == sum(m.capacity for m in kb.mentors.values())
    assert places["taken"] == sum(given.values()) + sum(team_load.values())
    assert places["free"] == places["capacity"] - places["taken"]

    # capacity shortfalls: every exhausted id of every unmet need, counted per need and person
    needs: Counter[tuple[str, str]] = Counter()
    people: dict[tuple[str, str], set[str]] = {}
    for profile, u in _unmet_entries(results):
        for ref in u.get("exhausted", []):
            needs[(u["kind"], ref)] += 1
            people.setdefault((u["kind"], ref), set()).add(profile)
    short = {(r["kind"], r["id"]): r for r in sections["capacity_shortfalls"]}
    assert {"mentor", "program"} <= {kind for kind, _ in short}
    assert {k: r["needs"] for k, r in short.items()} == dict(needs)
    assert {k: r["people"] for k, r in short.items()} == {k: len(v) for k, v in people.items()}
    for (kind, ref), row in short.items():
        if kind == "mentor":
            assert row["title"] == kb.mentors[ref].name
            assert row["places"] == kb.mentors[ref].capacity == row["taken"] + team_load[ref]
        else:
            assert row["title"] == kb.programs[ref].title

    # needs unmet per cause and competency: capacity, and the request for new ДПП
    def per_competency(cause: str) -> dict[tuple[str, str], int]:
        counted = Counter(
            (u["competency"], u["kind"])
            for _p, u in _unmet_entries(results)
            if u.get("cause") == cause
        )
        return dict(counted)

    for key, cause in (("capacity_by_competency", "capacity"), ("catalogue_request", "catalogue")):
        shown = {
            (r["competency"], kind): r[kind]
            for r in sections[key]
            for kind in ("program", "mentor", "format")
            if r[kind]
        }
        assert shown == per_competency(cause), key
    request = {r["competency"]: r for r in sections["catalogue_request"]}
    assert request["digital.ai"]["title"] == kb.ontology.competencies["digital.ai"].title
    assert request["digital.ai"]["program"] > 0
    assert sections["one_per_form"] == sum(
        1 for _p, u in _unmet_entries(results) if u.get("cause") == "one_per_form"
    )

    # flagged schools: one row per school, its groups, its team mentor from elsewhere
    flags = schools["team_support"]
    support = sections["team_support"]
    assert len(support) == len({f["organization"] for f in flags})
    assert sum(len(s["groups"]) for s in support) == len(flags)
    placed = [s for s in support if s["mentor"]]
    assert 0 < len(placed) < len(support)
    for school in placed:
        mentor = kb.mentors[school["mentor"]]
        assert school["mentor_municipality"] == mentor.municipality
        assert school["mentor_organization"] == mentor.organization != school["organization"]


def test_planned_report_table_shows_every_part(
    planned: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = load_kb()
    report = json.loads(_report(capsys, str(planned), "--format", "json"))["report"]
    text = _report(capsys, str(planned), "--top", "1000")
    plan = report["plan"]
    pct = f"{plan['mentees_placed_pct']:.1f} %".replace(".", ",")
    assert (
        f"Наставляемых: {plan['mentees']}; получили наставника: {plan['mentees_placed']} ({pct})"
    ) in text
    places = report["mentor_places"]
    assert (
        f"мест {places['capacity']}, занято {places['taken']}, свободно {places['free']}"
    ) in text
    lines = text.splitlines()
    headings = [
        "План когорты",
        "Нехватка мест: спрос больше предложения",
        "Школы, отмеченные для командного наставничества",
        "Запрос на новые ДПП",
        "Неудовлетворённые потребности",
    ]
    at = [next(i for i, line in enumerate(lines) if line.startswith(h)) for h in headings]
    assert at == sorted(at)

    def row_of(*cells: str) -> str:
        return next(line for line in lines if all(c in line for c in cells))

    top = report["mentor_load"][0]
    row = row_of(top["id"], kb.mentors[top["id"]].name, kb.mentors[top["id"]].municipality)
    assert row.split()[-1] == str(top["free"])
    programme = next(r for r in report["capacity_shortfalls"] if r["kind"] == "program")
    row = row_of(programme["id"], kb.programs[programme["id"]].title)
    assert row.split()[-2:] == [str(programme["needs"]), str(programme["people"])]
    assert row_of("digital.ai", kb.ontology.competencies["digital.ai"].title)
    school = next(s for s in report["team_support"] if s["mentor"])
    group = next(g for g in school["groups"] if g["mentor"])  # each flag: its form's mentor
    title = kb.ontology.groups[group["group"]].title
    share = f"{group['share_pct']:.1f} %".replace(".", ",")
    assert row_of(title, share, group["mentor"], group["mentor_name"])
    assert group["mentor"] in school["mentors"]
    assert "… и ещё" not in text  # --top 1000 shows every row


def test_report_keeps_older_summaries_and_checks_its_inputs(
    planned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = json.loads((planned / "summary.json").read_text(encoding="utf-8"))
    newer = ("allocated", "plan", "unmet_causes", "unmet_by_cause", "capacity_shortfalls")
    older = {k: v for k, v in summary.items() if k not in newer}
    old = tmp_path / "old"
    old.mkdir()
    (old / "summary.json").write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    text = _report(capsys, str(old))
    assert "Нагрузка наставников (сверх свободных мест: 0)" in text
    assert "План когорты" not in text and "Запрос на новые ДПП" not in text
    shown = json.loads(_report(capsys, str(old), "--format", "json"))
    assert {k: v for k, v in shown.items() if k != "report"} == older
    assert set(shown["report"]) == {"tables"}  # the справка's tables, no plan's sections

    (old / "schools.json").write_text("[]", encoding="utf-8")
    assert main(["report", str(old)]) == 2
    assert "schools.json: not what 'deficit-engine batch' writes" in capsys.readouterr().err
    assert main(["report", str(planned), "--top", "0"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err


def test_report_counts_colleagues_of_the_cohort_against_their_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb_dir = tmp_path / "kb"
    for part in ("ontology", "rules"):  # the KB itself: the shipped root may hold more
        shutil.copytree(default_kb_path() / part, kb_dir / part)
    planning = kb_dir / "ontology" / "planning.yaml"
    text = planning.read_text(encoding="utf-8")
    assert "colleague_mentors: false" in text
    planning.write_text(
        text.replace("colleague_mentors: false", "colleague_mentors: true"), "utf-8"
    )
    kb = load_kb(kb_dir)
    load = kb.planning.planning.colleague_load
    source = tmp_path / "cohort.jsonl"
    profiles = synthetic_profiles(kb, 120, seed=5, max_results=12)
    source.write_text("".join(json.dumps(p) + "\n" for p in profiles), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["batch", str(source), "-o", str(out), "--kb", str(kb_dir), "--workers", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert all(m["over_capacity"] == 0 for m in summary["mentor_load"])
    report = json.loads(_report(capsys, str(out), "--kb", str(kb_dir), "--format", "json"))
    rows = [r for r in report["report"]["mentor_load"] if r["id"].startswith("colleague.")]
    assert rows, "the cohort should have colleagues who mentor"
    for row in rows:
        assert (row["name"], row["capacity"]) == ("Коллега из когорты", load)
        assert row["free"] == load - row["mentees"] >= 0
    places = report["report"]["mentor_places"]
    assert (places["colleagues"], places["colleague_mentees"]) == (
        len(rows),
        sum(r["mentees"] for r in rows),
    )
    text = _report(capsys, str(out), "--kb", str(kb_dir))
    assert f"коллеги из когорты: {len(rows)} наставников" in text
