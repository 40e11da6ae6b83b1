"""Shares: a CSV or JSONL cohort file cut so that each worker reads its own part.

The rows read share by share, with the duplicate-id check run over them in order
as the batch does, are the rows the whole file gives (:func:`read_rows`): the
same lines, profiles, reasons and pass-through cells, on files made to be hard
to cut (cells with line breaks, stray and unbalanced quotes, blank lines, CRLF,
a byte-order mark, cp1251, ids repeated across shares). The cohort is synthetic.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest

from deficit_engine import Engine
from deficit_engine import cohort as cohort_module
from deficit_engine.cohort import run_batch
from deficit_engine.kb import KnowledgeBase
from deficit_engine.synthetic import synthetic_profiles
from deficit_engine.tables import (
    Row,
    Share,
    TableReading,
    _set_aside_duplicates,
    read_rows,
    read_share,
)

HEADER = ["id", "role", "experience_years", "municipality", "ФИО", "normative.fgos", "digital.eios"]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_path()


@pytest.fixture(scope="module")
def kb(engine: Engine) -> KnowledgeBase:
    return engine.kb


def _cells(rng: random.Random, n: int) -> list[str]:
    """One row's cells, some of them awkward for a cut: quotes, line breaks, delimiters."""
    name = rng.choice(
        ["Иванова И. И.", 'Петров "Мл."', "Сидорова,\nвторая строка", "a;b", "", '"', "x\r\ny"]
    )
    roll = rng.random()
    # some ids repeat, across shares too; a few rows have none (labelled by their index)
    ident = f"P-{rng.randrange(n)}" if roll < 0.1 else "" if roll < 0.13 else f"P-{n}"
    return [
        ident,
        rng.choice(["teacher", "methodist", "director", ""]),
        rng.choice(["2", "12,5", "abc", ""]),
        rng.choice(["Анучинский МО", "Спасский МО"]),
        name,
        rng.choice(["48", "12/25", "", "101"]),
        rng.choice(["7", "90", ""]),
    ]


def _csv_bytes(rng: random.Random, rows: int, encoding: str, newline: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(HEADER)
    lines = [buffer.getvalue()]
    for n in range(rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=newline).writerow(_cells(rng, n))
        line = buffer.getvalue()
        roll = rng.random()
        if roll < 0.03:
            line = f'Q-{n},te"acher,2,МО,,,\n'  # a quote inside an unquoted cell: literal
        elif roll < 0.05:
            line = f'"Q-{n}"x,teacher\n'  # text after a closing quote: a malformed row
        elif roll < 0.07:
            line = newline  # a blank line
        lines.append(line)
    if rng.random() < 0.5:
        lines.append('Z-1,"never closed\n,,\n')  # an open quote to the end of the file
    return "".join(lines).encode(encoding)


def _whole(path: Path, kb: KnowledgeBase) -> list[Row]:
    with read_rows(path, kb) as table:
        return list(table)


def _by_shares(path: Path, kb: KnowledgeBase, records: int) -> list[Row]:
    with read_rows(path, kb) as table:
        shares = table.shares(records)
        assert shares is not None
        pairs = [pair for share in shares for pair in read_share(share, kb)]
    return list(_set_aside_duplicates(pairs))


@pytest.mark.parametrize("seed", range(6))
def test_csv_read_by_shares_gives_the_rows_of_the_whole_file(
    kb: KnowledgeBase, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    encoding = ["utf-8", "utf-8-sig", "cp1251"][seed % 3]
    newline = "\r\n" if seed % 2 else "\n"
    path = tmp_path / "cohort.csv"
    path.write_bytes(_csv_bytes(rng, 300, encoding, newline))
    whole = _whole(path, kb)
    assert any(row.error and "duplicate id" in row.error for row in whole)
    assert any(row.error and "malformed" in row.error for row in whole)
    for records in (1, 2, 7, 64, 1000):
        assert _by_shares(path, kb, records) == whole, records


def test_jsonl_read_by_shares_gives_the_rows_of_the_whole_file(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    lines = [json.dumps(p, ensure_ascii=False) for p in synthetic_profiles(kb, 200, seed=3)]
    lines[10] = lines[3]  # a duplicate id
    lines[20] = "{not json"
    lines[30] = ""  # a blank line
    lines[40] = "[1, 2]"
    path = tmp_path / "cohort.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))  # a BOM, no last \n
    whole = _whole(path, kb)
    assert [row.line for row in whole if row.error] == [11, 21, 41]
    for records in (1, 3, 64, 500):
        assert _by_shares(path, kb, records) == whole, records


def test_a_file_that_cannot_be_cut_has_no_shares(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("id,role\nP-1,teacher\n", encoding="utf-16")
    with read_rows(path, kb) as table:
        assert table.shares(10) is None


def test_a_header_alone_has_no_shares(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("id,role\n", encoding="utf-8")
    with read_rows(path, kb) as table:
        shares = table.shares(10)
        assert shares is not None and list(shares) == []


def _jsonl_cohort(kb: KnowledgeBase, path: Path) -> Path:
    lines = [json.dumps(p, ensure_ascii=False) for p in synthetic_profiles(kb, 300, seed=11)]
    lines[70] = lines[3]  # a duplicate id in another share
    lines[71] = json.dumps({"person": {"role": "teacher"}})  # no id: labelled by its index
    lines[130] = "{not json"
    lines[131] = ""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("kind", "columnar", "fmt"),
    [("csv", False, "jsonl"), ("jsonl", False, "jsonl"), ("jsonl", True, "parquet")],
)
def test_workers_reading_their_shares_write_the_bytes_of_a_batch_read_here(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    columnar: bool,
    fmt: str,
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 50)  # several shares
    if kind == "csv":
        source = tmp_path / "cohort.csv"
        source.write_bytes(_csv_bytes(random.Random(5), 300, "utf-8", "\n"))
        keep: tuple[str, ...] = ("ФИО",)
    else:
        source = _jsonl_cohort(engine.kb, tmp_path / "cohort.jsonl")
        keep = ("name",)
    options = {"output_format": fmt, "columnar": columnar, "keep_columns": keep}
    with monkeypatch.context() as patch:  # the rows read here and sent to the workers
        patch.setattr(TableReading, "shares", lambda self, records: None)
        run_batch(engine, source, tmp_path / "sent", workers=2, **options)
    read: list[Share] = []

    def counted(share: Share, kb: KnowledgeBase) -> object:
        read.append(share)
        return read_share(share, kb)

    with monkeypatch.context() as patch:
        patch.setattr(cohort_module, "read_share", counted)
        run_batch(engine, source, tmp_path / "one", workers=1, **options)
    assert len(read) >= 5  # the shares were read by the (one, in-process) worker
    run_batch(engine, source, tmp_path / "two", workers=2, **options)
    sent = _files(tmp_path / "sent")
    summary = json.loads(sent["summary.json"])
    assert summary["set_aside"] >= 3 and summary["evaluated"] > 20
    assert b"duplicate id" in sent["errors.jsonl"]
    assert _files(tmp_path / "one") == sent
    assert _files(tmp_path / "two") == sent


def test_a_small_cohort_is_cut_in_equal_shares_for_each_worker_with_the_same_bytes(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    # 300 lines in shares of at most 70 would be five: one worker would take three
    monkeypatch.setattr(cohort_module, "COLUMNAR_CHUNK", 70)
    source = _jsonl_cohort(engine.kb, tmp_path / "cohort.jsonl")
    asked: list[int] = []
    cut = TableReading.shares

    def recorded(self: TableReading, records: int) -> object:
        asked.append(records)
        return cut(self, records)

    monkeypatch.setattr(TableReading, "shares", recorded)
    options = {"output_format": "parquet", "columnar": True, "keep_columns": ("name",)}
    run_batch(engine, source, tmp_path / "one", workers=1, **options)
    run_batch(engine, source, tmp_path / "two", workers=2, **options)
    assert asked == [70, 50]  # one worker: the chunk; two: six shares of 50, three each
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
