"""Cohort tables as regional offices make them: encodings, delimiters, Excel's cells.

Every fixture is written here into tmp_path (no binary fixtures in the repository):
the files regional offices send are made the way Excel makes them.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import os
import random
import warnings
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from deficit_engine import Engine
from deficit_engine import tables as tables_module
from deficit_engine.cli import main
from deficit_engine.errors import SourceError, UsageError
from deficit_engine.kb import KnowledgeBase
from deficit_engine.tables import Row, TableWarning, read_profiles, read_rows

openpyxl = pytest.importorskip("openpyxl")

HEADER = ["id", "role", "experience_years", "municipality", "normative.fgos", "digital.eios"]
ROWS = [
    ["P-1", "teacher", "2", "Анучинский МО", "48", "12/25"],
    ["P-2", "methodist", "12,5", "Спасский МО", "48,5", "7"],
    ["P-3", "teacher", "30", "Спасский МО", "", "90"],
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.fixture(scope="module")
def kb(engine: Engine) -> KnowledgeBase:
    return engine.kb


def csv_text(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue()


def read(path: Path, kb: KnowledgeBase, **kwargs: Any) -> tuple[Any, list[Row]]:
    with read_rows(path, kb, **kwargs) as table:
        return table, list(table)


def profiles(rows: list[Row]) -> list[dict[str, Any] | None]:
    return [row.profile for row in rows]


EXPECTED = [
    {
        "person": {"role": "teacher", "experience_years": 2.0, "municipality": "Анучинский МО"},
        "id": "P-1",
        "results": [
            {"competency": "normative.fgos", "score": 48.0, "max": 100.0},
            {"competency": "digital.eios", "score": 12.0, "max": 25.0},
        ],
    },
    {
        "person": {"role": "methodist", "experience_years": 12.5, "municipality": "Спасский МО"},
        "id": "P-2",
        "results": [
            {"competency": "normative.fgos", "score": 48.5, "max": 100.0},
            {"competency": "digital.eios", "score": 7.0, "max": 100.0},
        ],
    },
    {
        "person": {"role": "teacher", "experience_years": 30.0, "municipality": "Спасский МО"},
        "id": "P-3",
        "results": [{"competency": "digital.eios", "score": 90.0, "max": 100.0}],
    },
]


# --- encodings and delimiters ---------------------------------------------------------


def test_excel_russian_csv_cp1251_semicolons(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(csv_text([HEADER, *ROWS], ";", "\r\n").encode("cp1251"))
    table, rows = read(path, kb)
    assert (table.encoding, table.delimiter) == ("cp1251", ";")
    assert profiles(rows) == EXPECTED
    assert [row.line for row in rows] == [2, 3, 4]


def test_utf16_tab_file_from_excel_unicode_text(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.txt"
    text = csv_text([HEADER, *ROWS], "\t", "\r\n")
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    table, rows = read(path, kb)
    assert table.delimiter == "\t" and table.encoding.startswith("utf")
    assert profiles(rows) == EXPECTED


def test_utf8_bom_and_plain_utf8(tmp_path: Path, kb: KnowledgeBase) -> None:
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(csv_text([HEADER, *ROWS]).encode("utf-8-sig"))
    plain = tmp_path / "plain.csv"
    plain.write_text(csv_text([HEADER, *ROWS]), encoding="utf-8")
    table, rows = read(with_bom, kb)
    assert table.columns[0] == "id" and profiles(rows) == EXPECTED
    table, rows = read(plain, kb)
    assert table.encoding == "utf-8" and profiles(rows) == EXPECTED
    # a declared encoding wins, and a BOM it leaves is not part of the first header
    table, rows = read(with_bom, kb, encoding="utf-8")
    assert table.columns[0] == "id" and profiles(rows) == EXPECTED


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("taken", [None, 1])
def test_a_read_leaves_no_file_to_the_collector(
    tmp_path: Path, kb: KnowledgeBase, suffix: str, taken: int | None
) -> None:
    # the text wrapper over the reader's handle once closed it at collection,
    # warning of an unclosed file on every batch (python -X dev)
    path = tmp_path / f"cohort{suffix}"
    if suffix == ".csv":
        path.write_text(csv_text([HEADER, *ROWS]), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(p) + "\n" for p in EXPECTED), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with read_rows(path, kb) as table:
            rows = list(itertools.islice(table, taken))
        del table
        gc.collect()
    assert len(rows) == (taken or 3)
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_declared_encoding_and_unknown_encoding(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(csv_text([HEADER, *ROWS], ";").encode("cp1251"))
    table, rows = read(path, kb, encoding="windows-1251")
    assert table.encoding == "cp1251" and profiles(rows) == EXPECTED
    with pytest.raises(UsageError, match="unknown encoding 'klingon'"):
        read_rows(path, kb, encoding="klingon")


def test_one_stray_byte_sets_one_row_aside(tmp_path: Path, kb: KnowledgeBase) -> None:
    good = csv_text([HEADER, *ROWS]).encode("utf-8")
    lines = good.split(b"\n")
    lines[2] = lines[2].replace("Спасский".encode(), b"\xcf\xe0\xf1")  # cp1251 bytes in UTF-8
    path = tmp_path / "cohort.csv"
    path.write_bytes(b"\n".join(lines))
    table, rows = read(path, kb)
    assert table.encoding == "utf-8"  # one bad row does not make the file cp1251
    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[1].profile is None
    assert rows[1].error == 'column "municipality": undecodable byte 0xCF'
    assert [row.profile for row in rows if row.profile] == [EXPECTED[0], EXPECTED[2]]


def test_quoted_delimiters_and_doubled_quotes_keep_columns(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    header = ["id", "organization", "normative.fgos", "digital.eios"]
    body = (
        ",".join(header) + "\n"
        'Q-1,"МБОУ ""СОШ""; корпус 2",40,60\n'
        'Q-2,"МБОУ ""СОШ № 1""; корпус 3",41,61\n'
    )
    path = tmp_path / "cohort.csv"
    path.write_text(body, encoding="utf-8")
    table, rows = read(path, kb)
    assert table.delimiter == ","
    first = rows[0].profile
    assert first is not None
    assert first["person"]["organization"] == 'МБОУ "СОШ"; корпус 2'
    assert first["results"] == [
        {"competency": "normative.fgos", "score": 40.0, "max": 100.0},
        {"competency": "digital.eios", "score": 60.0, "max": 100.0},
    ]


def test_quoted_newlines_keep_physical_lines(tmp_path: Path, kb: KnowledgeBase) -> None:
    body = (
        "id,organization,normative.fgos\n"
        'N-1,"МБОУ СОШ\nкорпус 2\nвход со двора",40\n'  # lines 2-4
        "N-2,Школа,abc\n"  # line 5
        'N-3,"Школа\r\nи сад",50\n'  # lines 6-7
        "N-4,Школа,x\n"  # line 8
    )
    path = tmp_path / "cohort.csv"
    path.write_text(body, encoding="utf-8", newline="")
    _table, rows = read(path, kb)
    assert [row.line for row in rows] == [2, 5, 6, 8]
    assert rows[1].error == "column \"normative.fgos\": 'abc' is not a number"
    assert rows[3].error == "column \"normative.fgos\": 'x' is not a number"
    assert rows[0].profile is not None
    assert rows[0].profile["person"]["organization"] == "МБОУ СОШ\nкорпус 2\nвход со двора"


def test_malformed_row_and_oversized_cell_set_one_row_aside(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    big = "x" * 200_000
    body = f'id,organization\nA-1,ok\nA-2,"{big}"\nA-3,"bad"quote\nA-4,ok\nA-5,a,b\nA-6,a,,\n'
    path = tmp_path / "cohort.csv"
    path.write_text(body, encoding="utf-8")
    _table, rows = read(path, kb)
    assert [row.line for row in rows] == [2, 3, 4, 5, 6, 7]
    assert rows[1].error is not None and "longer than the CSV limit" in rows[1].error
    assert rows[2].error is not None and rows[2].error.startswith("malformed CSV row")
    assert rows[4].error == "3 cells for 2 columns"
    # trailing empty cells (Excel's ";;;") are not a surplus
    assert [row.profile["id"] for row in rows if row.profile] == ["A-1", "A-4", "A-6"]


def test_numbers_decimal_comma_percent_and_score_over_max(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    body = (
        "id;experience_years;hours_per_month;normative.fgos;digital.eios;normative.safety\n"
        "D-1;3,5;10,25;48,5;12/25;48%\n"
        "D-2;1;2;48 %;12,5/25;1e3\n"
        "D-3;1;2;nan;;\n"
    )
    path = tmp_path / "cohort.csv"
    path.write_text(body, encoding="utf-8")
    _table, rows = read(path, kb)
    first = rows[0].profile
    assert first is not None
    assert first["person"]["experience_years"] == 3.5
    assert first["preferences"] == {"hours_per_month": 10.25}
    assert [(r["score"], r["max"]) for r in first["results"]] == [
        (48.5, 100.0),
        (12.0, 25.0),
        (48.0, 100.0),
    ]
    # a number is digits with a dot or a comma: not an exponent, not nan
    assert rows[1].error == "column \"normative.safety\": '1e3' is not a number"
    assert rows[2].error == "column \"normative.fgos\": 'nan' is not a number"


# --- the header -----------------------------------------------------------------------


def test_duplicate_column_is_an_error_naming_both(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("id,normative.fgos,role,normative.fgos\nA,1,teacher,2\n", encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_rows(path, kb)
    assert caught.value.lines() == [
        f'{path}:1:4: duplicate-column: column "normative.fgos" appears twice: columns 2 and 4'
    ]


def test_missing_id_column(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("role,normative.fgos\nteacher,1\n", encoding="utf-8")
    with pytest.raises(SourceError, match="missing-column: the table needs an 'id' column"):
        read_rows(path, kb)


def test_unknown_columns_pass_through_with_one_warning_each(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    body = (
        "id,ФИО,normative.fgos,methodical.assesment,\n"
        "U-1,Тестовая Персона Один,40,70,\n"
        "U-2,Тестовая Персона Два,50,,\n"
    )
    path = tmp_path / "cohort.csv"
    path.write_text(body, encoding="utf-8")
    table, rows = read(path, kb)
    assert table.extra_columns == ("ФИО", "methodical.assesment")
    assert [str(w) for w in table.warnings] == [
        f"{path}:1:2: unknown-column: unknown column 'ФИО': passed through, not read as a result",
        f"{path}:1:4: unknown-column: unknown column 'methodical.assesment': passed through, "
        "not read as a result (did you mean 'methodical.assessment'?)",
    ]
    assert all(w.severity == "warning" for w in table.warnings)
    assert rows[0].extra == {"ФИО": "Тестовая Персона Один", "methodical.assesment": "70"}
    assert rows[1].extra == {"ФИО": "Тестовая Персона Два", "methodical.assesment": ""}
    assert rows[0].profile is not None
    assert rows[0].profile["results"] == [
        {"competency": "normative.fgos", "score": 40.0, "max": 100.0}
    ]
    assert "Тестовая" not in json.dumps(profiles(rows), ensure_ascii=False)


def test_subjects_by_title_or_alias(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text(
        'id,subjects,normative.fgos\nS-1,"Математика; алгебра ;mathematics;Русский;Астрология",40\n',
        encoding="utf-8",
    )
    _table, rows = read(path, engine.kb)
    profile = rows[0].profile
    assert profile is not None
    # one subject named three ways is one subject; an unknown name is left to validation
    assert profile["person"]["subjects"] == ["mathematics", "russian", "Астрология"]
    with pytest.raises(SourceError) as caught:
        engine.evaluate(profile)
    assert any("unknown subject 'Астрология'" in line for line in caught.value.lines())


def test_duplicate_ids_set_aside_naming_the_first_line(tmp_path: Path, kb: KnowledgeBase) -> None:
    body = (
        "id,normative.fgos\n"
        "T-1,40\n"
        "T-17,abc\n"  # line 3: set aside for its score, still the first T-17
        "T-2,40\n"
        "T-17,50\n"
        "T-1,60\n"
        "T-17,70\n"
    )
    path = tmp_path / "cohort.csv"
    path.write_text(body, encoding="utf-8")
    _table, rows = read(path, kb)
    assert [(row.line, row.error) for row in rows if row.error] == [
        (3, "column \"normative.fgos\": 'abc' is not a number"),
        (5, "duplicate id 'T-17' (first on line 3)"),
        (6, "duplicate id 'T-1' (first on line 2)"),
        (7, "duplicate id 'T-17' (first on line 3)"),
    ]
    # the accounting: good rows and rows set aside are the rows read
    good = [row for row in rows if row.profile is not None]
    assert len(good) + sum(1 for row in rows if row.error) == len(rows) == 6


def test_jsonl_rows(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.jsonl"
    path.write_text(
        '{"id": "J-1", "results": []}\n{broken\n\n[1]\n{"id": "J-1"}\n{"id": "J-2",\r\n',
        encoding="utf-8",
    )
    _table, rows = read(path, kb)
    assert [(row.line, row.error) for row in rows] == [
        (1, None),
        (2, "invalid JSON at character 2: Expecting property name enclosed in double quotes"),
        (4, "a line must hold one JSON object (a profile)"),
        (5, "duplicate id 'J-1' (first on line 1)"),
        (6, "invalid JSON at character 14: Expecting property name enclosed in double quotes"),
    ]


def test_unknown_format(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(SourceError, match=r"save an \.xls as \.xlsx"):
        read_rows(path, kb)


# --- XLSX -----------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list[Any]], formats: dict[str, str] | None = None) -> None:
    """A workbook as Excel writes one; ``formats`` gives cells a number format."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for ref, number_format in (formats or {}).items():
        sheet[ref].number_format = number_format
    book.save(path)


def test_percent_xlsx_gives_the_profiles_of_the_utf8_csv(
    tmp_path: Path, kb: KnowledgeBase, engine: Engine
) -> None:
    csv_path = tmp_path / "cohort.csv"
    csv_path.write_text(csv_text([HEADER, *ROWS]), encoding="utf-8")
    xlsx_path = tmp_path / "cohort.xlsx"
    write_xlsx(
        xlsx_path,
        [
            HEADER,
            ["P-1", "teacher", 2, "Анучинский МО", 0.48, "12/25"],
            ["P-2", "methodist", 12.5, "Спасский МО", 0.485, 0.07],
            ["P-3", "teacher", 30, "Спасский МО", None, 90],
        ],
        {"E2": "0%", "E3": "0.0%", "F3": "0%"},
    )
    _t, from_csv = read(csv_path, kb)
    _t, from_xlsx = read(xlsx_path, kb)
    assert profiles(from_xlsx) == profiles(from_csv) == EXPECTED
    assert [row.line for row in from_xlsx] == [2, 3, 4]
    # and so the same Results
    results = [engine.evaluate(row.profile).to_dict(trace=False) for row in from_xlsx]
    assert results == [engine.evaluate(p).to_dict(trace=False) for p in EXPECTED]


def _patch_member(path: Path, member: str, old: bytes, new: bytes) -> None:
    with zipfile.ZipFile(path) as source:
        items = [(info, source.read(info)) for info in source.infolist()]
    patched = path.with_suffix(".tmp")
    with zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in items:
            if info.filename == member:
                assert old in data
                data = data.replace(old, new)
            target.writestr(info, data)
    os.replace(patched, path)


def test_stale_dimension_xlsx_reads_every_row(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.xlsx"
    write_xlsx(path, [["id", "normative.fgos"], *[[f"S-{n}", n % 100] for n in range(1, 101)]])
    _patch_member(path, "xl/worksheets/sheet1.xml", b'ref="A1:B101"', b'ref="A1:B10"')
    # the trap is real: openpyxl's read-only mode trusts the stale element
    book = openpyxl.load_workbook(path, read_only=True)
    assert sum(1 for _ in book.worksheets[0].iter_rows()) == 10
    book.close()
    _t, rows = read(path, kb)
    assert len(rows) == 100 and rows[-1].line == 101
    assert all(row.error is None for row in rows)


def test_formula_without_value_and_dates_are_named(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.xlsx"
    write_xlsx(
        path,
        [
            ["id", "normative.fgos", "period_start", "digital.eios"],
            ["F-1", "=40+2", "2026-09", 50],  # openpyxl stores no computed value
            ["F-2", datetime(2026, 3, 12), "2026-09", 50],
            ["F-3", 40, datetime(2026, 9, 1), 50],
            ["F-4", None, None, None],
            [None, None, None, None],  # an empty row is not a row
        ],
    )
    _t, rows = read(path, kb)
    assert [(row.line, row.error) for row in rows] == [
        (
            2,
            'column "normative.fgos": a formula without a computed value (open and save it '
            "in Excel)",
        ),
        (3, 'column "normative.fgos": a date (2026-03-12) is not a score'),
        (4, None),
        (5, None),
    ]
    third = rows[2].profile
    assert third is not None and third["preferences"]["period"] == {"start": "2026-09", "end": ""}


def test_numeric_ids_and_extra_cells_read_as_written(tmp_path: Path, kb: KnowledgeBase) -> None:
    path = tmp_path / "cohort.xlsx"
    write_xlsx(path, [["id", "стаж, лет", "normative.fgos"], [17, 2.5, 40], [18, 3, 41]])
    table, rows = read(path, kb)
    assert table.extra_columns == ("стаж, лет",)
    assert [(r.profile or {}).get("id") for r in rows] == ["17", "18"]
    assert [r.extra for r in rows] == [{"стаж, лет": "2.5"}, {"стаж, лет": "3"}]


def test_zip_bomb_is_refused_before_openpyxl(
    tmp_path: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w") as member,
    ):
        for _ in range(20):
            member.write(b"\0" * (1 << 20))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(SourceError, match=r"compresses \d+ times .*zip bomb"):
        read_rows(bomb, kb)
    # the total bound, on a member that does not compress
    monkeypatch.setattr(tables_module, "MAX_XLSX_BYTES", 1 << 20)
    big = tmp_path / "big.xlsx"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/a.bin", random.Random(1).randbytes(2 << 20))
    with pytest.raises(SourceError, match="uncompressed size 2097152 bytes is over the 1 MB"):
        read_rows(big, kb)


def test_corrupt_xlsx_is_a_source_error(tmp_path: Path, kb: KnowledgeBase) -> None:
    random_bytes = tmp_path / "random.xlsx"
    random_bytes.write_bytes(random.Random(7).randbytes(4096))
    renamed = tmp_path / "renamed.xlsx"
    renamed.write_text(csv_text([HEADER, *ROWS]), encoding="utf-8")
    good = tmp_path / "good.xlsx"
    write_xlsx(good, [HEADER, *ROWS])
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[:-200])  # the central directory is gone
    not_a_workbook = tmp_path / "other.xlsx"
    with zipfile.ZipFile(not_a_workbook, "w") as archive:
        archive.writestr("hello.txt", "hello")
    for path in (random_bytes, renamed, truncated, not_a_workbook):
        with pytest.raises(SourceError) as caught:
            list(read_rows(path, kb))
        assert len(caught.value.lines()) == 1 and str(path) in caught.value.lines()[0]


def test_damaged_sheet_found_while_reading_is_a_source_error(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = tmp_path / "cohort.xlsx"
    write_xlsx(path, [["id", "normative.fgos"], *[[f"S-{n}", 40] for n in range(50)]])
    _patch_member(path, "xl/worksheets/sheet1.xml", b"</sheetData>", b"<row><c></sheetData>")
    with pytest.raises(SourceError, match="cannot read the sheet"):
        list(read_rows(path, kb))


# --- read_profiles (what run_batch reads) and the command -----------------------------


def test_read_profiles_names_file_line_and_column(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("id,ФИО,normative.fgos\nA,Имя,40\nB,Имя,abc\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = list(read_profiles(path, engine))
    assert [str(w.message) for w in caught if w.category is TableWarning] == [
        f"{path}:1:2: unknown-column: unknown column 'ФИО': passed through, not read as a result"
    ]
    assert pairs[0] == (2, EXPECTED_A)
    line, error = pairs[1]
    assert line == 3 and isinstance(error, Exception)
    assert str(error) == f"{path}:3: column \"normative.fgos\": 'abc' is not a number"


EXPECTED_A = {
    "person": {},
    "id": "A",
    "results": [{"competency": "normative.fgos", "score": 40.0, "max": 100.0}],
}


def test_batch_reads_a_cp1251_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(csv_text([HEADER, *ROWS], ";", "\r\n").encode("cp1251"))
    out = tmp_path / "out"
    assert main(["batch", str(path), "-o", str(out), "--workers", "1"]) == 0
    assert "3 profile(s): 3 evaluated, 0 set aside" in capsys.readouterr().out
    lines = (out / "results.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["profile"] for line in lines] == ["P-1", "P-2", "P-3"]
    # a wrong declared encoding misreads the text but never fails inside
    out2 = tmp_path / "out2"
    assert main(["batch", str(path), "-o", str(out2), "--workers", "1", "--encoding", "utf-8"]) == 1
    errors = (out2 / "errors.jsonl").read_text("utf-8")
    assert "undecodable byte" in errors


def test_batch_on_a_corrupt_xlsx_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(random.Random(3).randbytes(2048))
    assert main(["batch", str(path), "-o", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err
    assert "not an XLSX workbook" in err
    assert not (tmp_path / "out").exists()


def test_the_category_column_is_the_persons_qualification_category(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    path = tmp_path / "c.csv"
    rows = [["id", "role", "category", "experience_years"], ["P-1", "deputy_head", "highest", "9"]]
    path.write_text(csv_text(rows), encoding="utf-8")
    table, read_back = read(path, kb)
    assert profiles(read_back) == [
        {
            "id": "P-1",
            "person": {"role": "deputy_head", "experience_years": 9.0, "category": "highest"},
            "results": [],
        }
    ]
    assert not table.warnings  # a known column, not passed through
