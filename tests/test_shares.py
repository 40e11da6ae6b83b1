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
from deficit_engine.kb import KnowledgeBase
from deficit_engine.synthetic import synthetic_profiles
from deficit_engine.tables import Row, _set_aside_duplicates, read_rows, read_share

HEADER = ["id", "role", "experience_years", "municipality", "ФИО", "normative.fgos", "digital.eios"]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return Engine.from_path().kb


def _cells(rng: random.Random, n: int) -> list[str]:
    """One row's cells, some of them awkward for a cut: quotes, line breaks, delimiters."""
    name = rng.choice(
        ["Иванова И. И.", 'Петров "Мл."', "Сидорова,\nвторая строка", "a;b", "", '"', "x\r\ny"]
    )
    ident = f"P-{rng.randrange(n)}" if rng.random() < 0.1 else f"P-{n}"  # some repeat
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
