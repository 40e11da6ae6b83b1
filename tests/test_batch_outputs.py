"""What `batch` writes per person: the person fields, flat tables, documents, and
what it never writes (names), its warnings and its progress bar.

The names below are made up for the tests: no real person's data.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deficit_engine import cohort as cohort_module
from deficit_engine.cli import main
from deficit_engine.engine import Engine
from deficit_engine.errors import SourceError
from deficit_engine.outputs import RESULT_COLUMNS, DocumentNames, XlsxStream
from deficit_engine.progressbar import Progress, wanted
from deficit_engine.rules import SEVERITIES
from deficit_engine.tables import read_rows

NAMES = ("Тестова Анна Ивановна", "Примеров Пётр", "Выдумкина Ольга")
PHONES = ("+7 900 000-00-01", "+7 900 000-00-02", "+7 900 000-00-03")
HEADER = [
    "id",
    "ФИО",
    "Телефон",
    "role",
    "experience_years",
    "municipality",
    "organization",
    "subjects",
    "normative.fgos",
    "methodical.lesson_design",
    "digital.eios",
]
ROWS = [
    [
        "T-1",
        NAMES[0],
        PHONES[0],
        "teacher",
        "2",
        "Анучинский МО",
        "=SUM(A1)",
        "Математика",
        "40",
        "30",
        "90",
    ],
    ["T-2", NAMES[1], PHONES[1], "teacher", "12,5", "Спасский МО", "СОШ № 2", "", "80", "20", "15"],
    ["T-3", NAMES[2], PHONES[2], "teacher", "25", "Спасский МО", "СОШ № 2", "", "95", "95", "95"],
]
PERSONS = [
    {
        "role": "teacher",
        "municipality": "Анучинский МО",
        "organization": "=SUM(A1)",
        "experience_years": 2,
        "subjects": ["mathematics"],
    },
    {
        "role": "teacher",
        "municipality": "Спасский МО",
        "organization": "СОШ № 2",
        "experience_years": 12.5,
        "subjects": [],
    },
    {
        "role": "teacher",
        "municipality": "Спасский МО",
        "organization": "СОШ № 2",
        "experience_years": 25,
        "subjects": [],
    },
]


def write_cohort(path: Path, rows: list[list[str]] = ROWS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def every_text(folder: Path) -> dict[str, str]:
    """Each output file's whole text, XLSX workbooks unzipped member by member."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    texts[f"{path.name}!{member}"] = archive.read(member).decode("utf-8")
        else:
            texts[str(path.relative_to(folder))] = path.read_text(encoding="utf-8-sig")
    return texts


def holding(folder: Path, needle: str) -> list[str]:
    return [name for name, text in every_text(folder).items() if needle in text]


def batch(*args: str) -> int:
    return main(["batch", *args, "--workers", "1"])


# --- the person fields ------------------------------------------------------------


@pytest.mark.parametrize("allocate", [True, False], ids=["planned", "streamed"])
def test_results_carry_the_person_fields(tmp_path: Path, allocate: bool) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), *([] if allocate else ["--no-allocate"])) == 0
    results = read_jsonl(out / "results.jsonl")
    assert [r["profile"] for r in results] == ["T-1", "T-2", "T-3"]
    assert [r["person"] for r in results] == PERSONS
    # right after the profile id, and the Result itself is still all there
    assert all(list(r)[:3] == ["profile", "person", "deficits"] for r in results)


# --- personal data ----------------------------------------------------------------


def test_no_name_anywhere_unless_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), "--documents", "html") == 0
    captured = capsys.readouterr()
    assert len(every_text(out)) > 8  # every file was read, the workbook's members too
    for secret in (*NAMES, *PHONES, "Тестова"):
        assert holding(out, secret) == []
        assert secret not in captured.out + captured.err
    # the columns are named (once each), their cells are not
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [(w["column"], w["kept"]) for w in summary["warnings"]] == [
        ("ФИО", False),
        ("Телефон", False),
    ]


def test_kept_columns_go_to_the_per_person_outputs_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), "--keep-columns", "ФИО") == 0
    captured = capsys.readouterr()
    assert NAMES[0] not in captured.out + captured.err
    results = read_jsonl(out / "results.jsonl")
    assert [r["person"]["ФИО"] for r in results] == list(NAMES)
    assert sorted(holding(out, NAMES[1])) == [
        "results.csv",
        "results.jsonl",
        "results.xlsx!xl/worksheets/sheet1.xml",
    ]
    assert holding(out, PHONES[0]) == []  # not kept
    header = next(csv.reader((out / "results.csv").open(encoding="utf-8-sig")))
    assert header[:7] == [
        "id",
        "role",
        "municipality",
        "organization",
        "experience_years",
        "subjects",
        "ФИО",
    ]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [(w["column"], w["kept"]) for w in summary["warnings"]] == [
        ("ФИО", True),
        ("Телефон", False),
    ]


def test_a_jsonl_name_is_kept_only_when_asked(tmp_path: Path) -> None:
    profile = {
        "id": "J-1",
        "person": {"role": "teacher", "experience_years": 4, "name": NAMES[0]},
        "results": [{"competency": "digital.eios", "score": 3, "max": 20}],
    }
    source = tmp_path / "cohort.jsonl"
    source.write_text(json.dumps(profile, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), "--documents", "md", "--trace") == 0
    assert holding(out, NAMES[0]) == []
    assert "name" not in read_jsonl(out / "results.jsonl")[0]["person"]
    kept = tmp_path / "kept"
    assert batch(str(source), "-o", str(kept), "--documents", "md", "--keep-columns", "name") == 0
    assert sorted(holding(kept, NAMES[0])) == [
        "documents/J-1.md",
        "results.csv",
        "results.jsonl",
        "results.xlsx!xl/worksheets/sheet1.xml",
    ]
    assert read_jsonl(kept / "results.jsonl")[0]["person"]["name"] == NAMES[0]


@pytest.mark.parametrize(
    ("suffix", "keep", "why"),
    [
        (".csv", "Фамилия", "has no such pass-through column (it has: ФИО, Телефон)"),
        (".csv", "role", "it is read as a profile field"),
        (".jsonl", "ФИО", "passes through only the person's 'name'"),
    ],
)
def test_keep_columns_must_name_a_pass_through_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str, keep: str, why: str
) -> None:
    if suffix == ".csv":
        source = write_cohort(tmp_path / "cohort.csv")
    else:
        source = tmp_path / "cohort.jsonl"
        source.write_text('{"id": "J-1"}\n', encoding="utf-8")
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), "--keep-columns", keep) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and f"--keep-columns {keep}" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]


def test_header_warnings_are_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    assert batch(str(source), "-o", str(tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert err.count("unknown column 'ФИО'") == 1
    assert err.count("unknown column 'Телефон'") == 1
    assert err.count("deficit-engine: warning:") == 2


def test_run_batch_reports_warnings_through_its_callback(tmp_path: Path) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    seen = []
    cohort_module.run_batch(
        Engine.from_path(), source, tmp_path / "out", workers=1, on_warning=seen.append
    )
    assert [(w.code, w.col) for w in seen] == [("unknown-column", 2), ("unknown-column", 3)]


# --- the flat tables --------------------------------------------------------------


def test_flat_tables_agree_with_results_jsonl(tmp_path: Path) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out)) == 0
    results = read_jsonl(out / "results.jsonl")
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8-sig", newline="")))
    assert [r["id"] for r in rows] == ["T-1", "T-2", "T-3"]
    for row, result in zip(rows, results, strict=True):
        severities = [d["severity"] for d in result["deficits"]]
        assert int(row["deficits"]) == len(severities) > 0 or result["profile"] == "T-3"
        for severity in SEVERITIES:
            assert int(row[f"deficits_{severity}"]) == severities.count(severity)
        programmes = [r["id"] for r in result["recommendations"] if r["kind"] == "program"]
        assert row["programmes"] == "; ".join(programmes)
        mentors = [r["id"] for r in result["recommendations"] if r["kind"] == "mentor"]
        assert row["mentors"] == "; ".join(mentors)
        assert int(row["unmet"]) == len(result["unmet"])
        route = result["route"]
        assert (row["route_end"] or None, float(row["route_hours"])) == (
            route["end"],
            route["total_hours"],
        )
    assert rows[1]["experience_years"] == "12.5" and rows[0]["subjects"] == "mathematics"
    deficits = list(csv.DictReader((out / "deficits.csv").open(encoding="utf-8-sig", newline="")))
    expected = [
        (r["profile"], d["competency"], d["severity"]) for r in results for d in r["deficits"]
    ]
    assert [(d["id"], d["competency"], d["severity"]) for d in deficits] == expected
    assert len(expected) >= 3

    book = openpyxl.load_workbook(out / "results.xlsx")
    assert book.sheetnames == ["results", "deficits"]
    people, lines = book["results"], book["deficits"]
    assert people.freeze_panes == "A2" and lines.freeze_panes == "A2"
    header = [c.value for c in people[1]]
    assert header == [
        "id",
        "role",
        "municipality",
        "organization",
        "experience_years",
        "subjects",
        *RESULT_COLUMNS,
    ]
    values = [[c.value for c in row] for row in people.iter_rows(min_row=2)]
    assert [v[0] for v in values] == ["T-1", "T-2", "T-3"]
    at = {name: header.index(name) for name in header}
    for row, csv_row in zip(values, rows, strict=True):
        for name in ("experience_years", "deficits", "deficits_critical", "unmet", "route_hours"):
            assert isinstance(row[at[name]], int | float) and not isinstance(row[at[name]], bool)
            assert float(row[at[name]]) == float(csv_row[name])
        assert row[at["route_over_period"]] in (True, False)
    # text that looks like a formula stays text
    cell = people.cell(row=2, column=at["organization"] + 1)
    assert (cell.value, cell.data_type) == ("=SUM(A1)", "s")
    # and in the CSV a spreadsheet would open, it is quoted as text ('=...)
    assert rows[0]["organization"] == "'=SUM(A1)"
    score = [c.value for c in lines[1]].index("score_pct")
    sheet_scores = [row[score].value for row in lines.iter_rows(min_row=2)]
    assert sheet_scores == [d["score_pct"] for r in results for d in r["deficits"]]
    assert all(isinstance(v, int | float) for v in sheet_scores)


def test_xlsx_stream_cells(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = XlsxStream(path)
    wide = [f"c{n}" for n in range(30)]  # past Z: AA, AB...
    assert book.add_sheet("wide", wide) == 0
    assert book.add_sheet("кириллица", ["a", "b", "c", "d", "e", "f"]) == 1
    book.append(0, list(range(30)))
    book.append(1, ["<b>&amp;</b>", "=1+1", "bell\x07 and \ud800", 1.25, True, None])
    book.append(1, [None, "", 0, -3, False, "  spaced  "])
    book.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]  # no parts left
    read = openpyxl.load_workbook(path)
    assert read.sheetnames == ["wide", "кириллица"]
    wide_sheet, sheet = read["wide"], read["кириллица"]
    assert [c.value for c in wide_sheet[1]] == wide
    assert [c.value for c in wide_sheet[2]] == list(range(30))
    assert wide_sheet["AD2"].value == 29 and wide_sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[2]] == [
        "<b>&amp;</b>",
        "=1+1",
        "bell\ufffd and \ufffd",
        1.25,
        True,
        None,
    ]
    assert sheet["B2"].data_type == "s" and sheet["D2"].data_type == "n"
    assert [c.value for c in sheet[3]] == [None, None, 0, -3, False, "  spaced  "]
    # the same rows give the same bytes (archive members carry a fixed date)
    again = tmp_path / "again.xlsx"
    other = XlsxStream(again)
    other.add_sheet("wide", wide)
    other.add_sheet("кириллица", ["a", "b", "c", "d", "e", "f"])
    other.append(0, list(range(30)))
    other.append(1, ["<b>&amp;</b>", "=1+1", "bell\x07 and \ud800", 1.25, True, None])
    other.append(1, [None, "", 0, -3, False, "  spaced  "])
    other.close()
    assert again.read_bytes() == path.read_bytes()


def test_two_runs_write_identical_folders(tmp_path: Path) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        assert batch(str(source), "-o", str(folder), "--documents", "html") == 0
    files = sorted(p.relative_to(folders[0]) for p in folders[0].rglob("*") if p.is_file())
    assert len(files) == 11
    for name in files:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name


# --- documents --------------------------------------------------------------------


def test_documents_are_written_under_safe_unique_names(tmp_path: Path) -> None:
    ids = ["../../escape", "a/b", "a_b", "CON", "Ab", "ab", ".hidden", "C:\\x", "ok"]
    rows = [[pid, "", "", "teacher", "3", "", "", "", "40", "", ""] for pid in ids]
    source = write_cohort(tmp_path / "cohort.csv", rows)
    out = tmp_path / "run" / "out"
    assert batch(str(source), "-o", str(out), "--documents", "html") == 0
    folder = out / "documents"
    # nothing outside the folder: only the cohort and the output folder exist
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "run"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["out"]
    index = list(csv.DictReader((folder / "index.csv").open(encoding="utf-8-sig", newline="")))
    assert [r["id"] for r in index] == ids
    files = [r["file"] for r in index]
    assert files == [
        "_.._escape.html",
        "a_b.html",
        "a_b-2.html",
        "_CON.html",
        "Ab.html",
        "ab-2.html",
        "hidden.html",
        "C__x.html",
        "ok.html",
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*files, "index.csv"])
    for row in index:
        text = (folder / row["file"]).read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and row["id"] in text.replace("&#x27;", "'")


@pytest.mark.parametrize("allocate", [True, False], ids=["planned", "streamed"])
def test_documents_match_route_and_stay_whole_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allocate: bool
) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    flag = [] if allocate else ["--no-allocate"]
    out = tmp_path / "out"
    assert batch(str(source), "-o", str(out), "--documents", "md", *flag) == 0
    assert sorted(p.name for p in (out / "documents").iterdir()) == [
        "T-1.md",
        "T-2.md",
        "T-3.md",
        "index.csv",
    ]
    if not allocate:  # one person alone: the same document as `route`
        profile = tmp_path / "t2.json"
        profile.write_text(
            json.dumps(
                {
                    "id": "T-2",
                    "person": {
                        "role": "teacher",
                        "experience_years": 12.5,
                        "organization": "СОШ № 2",
                        "municipality": "Спасский МО",
                    },
                    "results": [
                        {"competency": "normative.fgos", "score": 80.0, "max": 100.0},
                        {"competency": "methodical.lesson_design", "score": 20.0, "max": 100.0},
                        {"competency": "digital.eios", "score": 15.0, "max": 100.0},
                    ],
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        assert main(["route", str(profile), "--format", "md", "-o", str(tmp_path / "t2.md")]) == 0
        assert (out / "documents" / "T-2.md").read_text(encoding="utf-8") == (
            tmp_path / "t2.md"
        ).read_text(encoding="utf-8")

    calls = []

    def failing(fmt: str, *args: object) -> str:
        calls.append(fmt)
        if len(calls) == 2:
            raise OSError("disk full")
        return "document"

    monkeypatch.setattr(cohort_module, "render", failing)
    with pytest.raises(SourceError, match="out2: cannot-write: disk full"):
        cohort_module.run_batch(
            Engine.from_path(),
            source,
            tmp_path / "out2",
            workers=1,
            documents="md",
            allocate=allocate,
        )
    assert calls == ["md", "md"]
    assert not (tmp_path / "out2").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out2")]


@given(st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=20))
def test_document_names_are_safe_and_unique(ids: list[str]) -> None:
    names = DocumentNames("html")
    made = [names.name(pid) for pid in ids]
    assert len({n.casefold() for n in made}) == len(made)
    for name in made:
        assert name.endswith(".html") and not name.startswith(".")
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert len(name.encode("utf-8")) < 200
        assert Path(name).name == name and Path(name).stem.split(".")[0].upper() not in {
            "CON",
            "NUL",
        }


# --- progress ---------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_wanted_on_a_terminal_only() -> None:
    assert wanted(FakeTerminal()) is True
    assert wanted(io.StringIO()) is False
    assert wanted(io.StringIO(), force=True) is True
    assert wanted(FakeTerminal(), quiet=True) is False
    assert wanted(FakeTerminal(), quiet=True, force=True) is False


def test_a_progress_bar_counts_and_ends_at_the_true_count() -> None:
    stream = FakeTerminal()
    items = list(Progress(True, stream).track(range(7), "batch", total=9))
    assert items == list(range(7))
    text = stream.getvalue()
    assert "batch" in text and "7/7" in text and "profile/s" in text
    off = io.StringIO()
    assert list(Progress(False, off).track(range(3), "batch", 3)) == [0, 1, 2]
    assert off.getvalue() == ""


@pytest.mark.parametrize(
    ("terminal", "flags", "shown"),
    [
        (False, [], False),
        (True, [], True),
        (True, ["--quiet"], False),
        (False, ["--progress"], True),
    ],
)
def test_batch_progress_on_a_terminal_or_forced(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    terminal: bool,
    flags: list[str],
    shown: bool,
) -> None:
    source = write_cohort(tmp_path / "cohort.csv")
    err = FakeTerminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert batch(str(source), "-o", str(tmp_path / "out"), *flags) == 0
    text = err.getvalue()
    assert ("profile/s" in text) is shown
    if shown:  # the diagnosis' bar with its total from the row count, then the routes'
        assert "diagnose" in text and "3/3" in text and "routes" in text
    assert "warning" in text  # the warnings print either way


# --- the row count for the ETA ----------------------------------------------------


def test_estimated_rows(tmp_path: Path) -> None:
    kb = Engine.from_path().kb
    text = tmp_path / "a.csv"
    text.write_text('id,digital.eios\nA,1\n"B\nC",2\nD,3', encoding="utf-8")  # a quoted break
    utf16 = tmp_path / "b.csv"
    utf16.write_text("id;digital.eios\r\nA;1\r\nB;2\r\n", encoding="utf-16")
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"id": "A"}\n{"id": "B"}\n', encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [["id", "digital.eios"], *[[f"X-{n}", n] for n in range(250)]]:
        sheet.append(row)
    book.save(tmp_path / "d.xlsx")
    counts = {}
    for path in (text, utf16, jsonl, tmp_path / "d.xlsx"):
        with read_rows(path, kb) as table:
            counts[path.suffix + path.stem] = (table.estimated_rows(), sum(1 for _ in table))
    assert counts == {".csva": (4, 3), ".csvb": (2, 2), ".jsonlc": (2, 2), ".xlsxd": (250, 250)}


def test_profile_errors_name_the_row_and_the_column(tmp_path: Path) -> None:
    """Issue 12: `cohort.csv:17: column "normative.fgos": ...`, not `results[0]`;
    a JSONL line's errors keep the field path, placed at file:line."""
    table = tmp_path / "cohort.csv"
    table.write_text(
        "id,role,experience_years,normative.fgos,digital.safety\n"
        "T1,teacher,5,40,120\n"
        "T2,teachr,5,30,40\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["batch", str(table), "-o", str(out), "--workers", "1", "--quiet"]) == 1
    errors = [json.loads(x) for x in (out / "errors.jsonl").read_text("utf-8").splitlines()]
    assert errors[0]["errors"] == [
        f'{table}:2: column "digital.safety": invalid-value: score 120 is above its max 100'
    ]
    assert errors[1]["errors"][0].startswith(f'{table}:3: column "role": ')
    lines = tmp_path / "cohort.jsonl"
    lines.write_text(
        json.dumps({"id": "J1", "person": {"role": "teacher", "experience_years": -1}}) + "\n",
        encoding="utf-8",
    )
    out2 = tmp_path / "out2"
    assert main(["batch", str(lines), "-o", str(out2), "--workers", "1", "--quiet"]) == 1
    (error,) = json.loads((out2 / "errors.jsonl").read_text("utf-8"))["errors"]
    assert error.startswith(f"{lines}:1: person.experience_years: ")
