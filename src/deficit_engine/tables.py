"""Cohort tables: CSV, JSONL and XLSX files read as regional offices make them.

:func:`read_rows` reads a cohort file row by row into profile dicts, setting
aside (with a one-line reason naming the column) the rows that cannot become
one, and keeping the cells of columns it does not know as pass-through values.

The wide table format (CSV and XLSX) has one row per person:

======================  =========================================================
column                  meaning
======================  =========================================================
id                      the profile id (required; each id once)
role                    a post (``schema.Role``): teacher, educator, psychologist,
                        additional_education_teacher, tutor, counselor,
                        deputy_head, manager, methodist
category                qualification category (``schema.QualificationCategory``):
                        no_category | first | highest | pedagogue_methodist |
                        pedagogue_mentor
experience_years        years of experience
organization            school
municipality            municipality
subjects                subjects by id, title or alias (``Математика``),
                        separated by ``;``
requests                requested competency ids, separated by ``;``
delivery                preferred deliveries, separated by ``;``
hours_per_month         monthly hours for the route
period_start            ``YYYY-MM`` (or a date cell)
period_end              ``YYYY-MM`` (or a date cell)
<competency id>         a result: a percent (``48``, ``48,5``, ``48%``) or
                        ``score/max`` (``12/25``)
<indicator id>          an indicator result, the same way
<any other column>      passed through (``Row.extra``), listed once as a warning
======================  =========================================================

An empty cell means "not given". A number may have a decimal comma.

How files are read:

- **Encoding**: a byte-order mark (UTF-8, UTF-16 LE/BE) decides; else the file
  is UTF-8 when its non-ASCII bytes are mostly valid UTF-8, else cp1251 (what
  Excel writes for "CSV (разделители – точки с запятой)"). ``encoding=``
  overrides. A byte the encoding cannot decode sets its row aside, not the file.
- **CSV**: the delimiter (``,``, ``;`` or tab) is the one the header line has
  most of outside quotes; then RFC 4180 with Excel's doubled quotes. Rows carry
  their physical line, also after cells with line breaks. A malformed row or a
  cell over the csv module's size limit sets that row aside.
- **XLSX**: the first sheet, to its real extent (not its ``<dimension>``
  element). Percent-formatted cells are percents (0.48 shown as 48 % is 48);
  numeric cells are numbers; a formula without a computed value, or a date in a
  number column, sets its row aside. The archive's uncompressed size is bounded
  before it is opened.
- **JSONL**: one profile (a JSON object) per line.

- **Shares**: a CSV or JSONL file in an ASCII-compatible encoding (UTF-8, cp1251...)
  can be cut into shares of whole records (:meth:`TableReading.shares`) that
  workers read alone (:func:`read_share`), with the whole file's line numbers; the
  cuts are where the csv module itself starts a record. XLSX and UTF-16 cannot.

A duplicate id sets every occurrence after the first aside; a duplicate column
header, a missing ``id`` column or an unreadable file is a :class:`SourceError`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import io
import itertools
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal

from .errors import Issue, SourceError, UsageError, display_path
from .kb import KnowledgeBase
from .ontology import suggest
from .profile import load_json_text, subject_id

if TYPE_CHECKING:
    from .engine import Engine

__all__ = [
    "KNOWN_COLUMNS",
    "MAX_XLSX_BYTES",
    "MAX_XLSX_RATIO",
    "PERSON_COLUMNS",
    "Row",
    "Share",
    "TableReading",
    "TableWarning",
    "read_profiles",
    "read_rows",
    "read_share",
]

PERSON_COLUMNS = (
    "role",
    "category",
    "experience_years",
    "organization",
    "municipality",
    "subjects",
)
OTHER_COLUMNS = ("id", "requests", "delivery", "hours_per_month", "period_start", "period_end")
KNOWN_COLUMNS = (*OTHER_COLUMNS[:1], *PERSON_COLUMNS, *OTHER_COLUMNS[1:])

MAX_XLSX_BYTES = 200 * 1024 * 1024  # uncompressed; a 20 000-row cohort is about 30 MB
MAX_XLSX_RATIO = 200  # per member over 1 MB; real sheets compress 5-30 times
MAX_XLSX_MEMBERS = 10_000

_DELIMITERS = (",", ";", "\t")
_MARK = "deficit_engine.tables.mark"  # the codec error handler below
_UNDECODABLE = re.compile("[\udc00-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Turn each undecodable byte into a lone surrogate U+DCxx, found later per row.

    ``surrogateescape`` does this for UTF-8 and cp1251 but refuses UTF-16's
    errors, whose bad ranges hold bytes below 0x80.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), exc.end


codecs.register_error(_MARK, _mark_undecodable)


class _RowError(Exception):
    """A row that cannot become a profile; the batch sets it aside."""


@dataclass(frozen=True)
class _Unusable:
    """An XLSX cell whose value cannot be used (a formula never computed)."""

    reason: str


# A cell as the row converter sees it: text (CSV, XLSX text), a number (XLSX
# numeric cells, percents already scaled), a date (XLSX date cells) or unusable.
_Cell = str | float | date | _Unusable


@dataclass(frozen=True)
class Row:
    """One row of a cohort file.

    Attributes
    ----------
    line : int
        The physical line of the row's start, 1-based (for XLSX the sheet's row
        number): what an editor shows.
    profile : dict or None
        The profile dict (the engine validates it); None when ``error`` is set.
    error : str or None
        Why the row was set aside, one line naming the column
        (``column "normative.fgos": 'abc' is not a number``); None for a good row.
    extra : dict of str to str
        The cells of the columns the format does not know, by header, as text.
    ident : str
        The row's id as written ("" when it has none), also for a row set aside,
        so that its error can name it.
    """

    line: int
    profile: dict[str, Any] | None
    error: str | None
    extra: dict[str, str] = field(default_factory=dict)
    ident: str = ""


# --- cells ----------------------------------------------------------------------------


def _number_text(value: float) -> str:
    """A number as a person typed it: ``17`` rather than ``17.0``."""
    return str(int(value)) if value.is_integer() else repr(value)


def _date_text(value: date) -> str:
    if isinstance(value, datetime) and value.time() == time(0, 0):
        return value.date().isoformat()
    return value.isoformat()


def _text(cell: _Cell, column: str) -> str:
    """A cell as text (ids, names, lists); an unusable cell is an error."""
    if isinstance(cell, _Unusable):
        raise _RowError(f'column "{column}": {cell.reason}')
    if isinstance(cell, float):
        return _number_text(cell)
    if isinstance(cell, date):
        return _date_text(cell)
    return cell.strip()


def _parse_number(text: str, column: str) -> float:
    """A number written in a cell: a dot or a decimal comma, nothing else."""
    compact = text.replace("\u00a0", "").replace(" ", "")
    if not _NUMBER.fullmatch(compact):
        raise _RowError(f"column \"{column}\": '{text}' is not a number")
    return float(compact.replace(",", "."))


def _number(cell: _Cell, column: str) -> float:
    if isinstance(cell, float):
        return cell
    if isinstance(cell, date):
        raise _RowError(f'column "{column}": a date ({_date_text(cell)}) is not a number')
    return _parse_number(_text(cell, column), column)


def _score(cell: _Cell, column: str) -> tuple[float, float]:
    """A result cell: (score, max) from ``48``, ``48,5``, ``48%`` or ``12/25``."""
    if isinstance(cell, float):
        return cell, 100.0
    if isinstance(cell, date):
        raise _RowError(f'column "{column}": a date ({_date_text(cell)}) is not a score')
    text = _text(cell, column)
    if "/" in text:
        score, _, maximum = text.partition("/")
        return _parse_number(score.strip(), column), _parse_number(maximum.strip(), column)
    if text.endswith("%"):
        return _parse_number(text[:-1].strip(), column), 100.0
    return _parse_number(text, column), 100.0


def _month(cell: _Cell, column: str) -> str:
    """A period cell: ``YYYY-MM`` text, or a date cell's month."""
    if isinstance(cell, date):
        return f"{cell.year:04d}-{cell.month:02d}"
    return _text(cell, column)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _undecodable(text: str) -> str | None:
    """The first undecodable byte in ``text`` as ``0xNN``, if any."""
    try:
        # a marked byte is a lone surrogate, which UTF-8 cannot hold: a text that
        # encodes has none, found in C (the search below cost a JSONL row 15 us)
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return None
    found = _UNDECODABLE.search(text)
    return f"0x{ord(found.group()) - 0xDC00:02X}" if found else None


# --- header ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """What each column of a table is."""

    names: tuple[str, ...]  # by position; "" for a column without a header
    results: dict[str, str]  # result column -> "competency" | "indicator"
    extra: tuple[str, ...]  # pass-through columns, in file order
    warnings: tuple[Issue, ...]
    kb: KnowledgeBase  # its subjects' titles and aliases name subject cells


def _read_header(cells: list[_Cell], kb: KnowledgeBase, source: str) -> _Header:
    """Classify the header's columns; refuse duplicates and a missing ``id``."""
    names = tuple(_header_name(cell, n == 0) for n, cell in enumerate(cells))
    onto = kb.ontology
    first_at: dict[str, int] = {}
    errors: list[Issue] = []
    results: dict[str, str] = {}
    extra: list[str] = []
    unknown: list[tuple[int, str]] = []
    for col, name in enumerate(names, 1):
        if not name:
            continue
        if name in first_at:
            message = f'column "{name}" appears twice: columns {first_at[name]} and {col}'
            errors.append(Issue(source, 1, col, "duplicate-column", message))
            continue
        first_at[name] = col
        if name in KNOWN_COLUMNS:
            continue
        if name in onto.competencies:
            results[name] = "competency"
        elif name in onto.indicators:
            results[name] = "indicator"
        else:
            extra.append(name)
            unknown.append((col, name))
    if "id" not in first_at:
        errors.append(Issue(source, 1, 1, "missing-column", "the table needs an 'id' column"))
    if errors:
        raise SourceError(errors, "cohort table")
    known = [*KNOWN_COLUMNS, *onto.competencies, *onto.indicators]
    warnings = tuple(
        Issue(
            source,
            1,
            col,
            "unknown-column",
            f"unknown column '{name}': passed through, not read as a result",
            suggestion=suggest(name, known),
            severity="warning",
        )
        for col, name in unknown
    )
    return _Header(names, results, tuple(extra), warnings, kb)


def _header_name(cell: _Cell, first: bool) -> str:
    text = _text(cell, "header") if not isinstance(cell, _Unusable) else ""
    return text.lstrip("\ufeff").strip() if first else text.strip()


# --- rows to profiles -----------------------------------------------------------------


def _subjects(text: str, kb: KnowledgeBase) -> list[str]:
    """Subject cells name subjects by title or alias (``Математика; Алгебра``): their
    ids, each once; a name no subject has stays as written, for validation to report."""
    found: list[str] = []
    for name in _split(text):
        subject = subject_id(kb, name) or name
        if subject not in found:
            found.append(subject)
    return found


def _person(cells: dict[str, _Cell], kb: KnowledgeBase) -> dict[str, Any]:
    person: dict[str, Any] = {}
    if role := _text(cells.get("role", ""), "role"):
        person["role"] = role
    if _text(cells.get("experience_years", ""), "experience_years"):
        person["experience_years"] = _number(cells["experience_years"], "experience_years")
    for name in ("category", "organization", "municipality"):
        if value := _text(cells.get(name, ""), name):
            person[name] = value
    if subjects := _text(cells.get("subjects", ""), "subjects"):
        person["subjects"] = _subjects(subjects, kb)
    return person


def _preferences(cells: dict[str, _Cell]) -> dict[str, Any]:
    preferences: dict[str, Any] = {}
    if delivery := _text(cells.get("delivery", ""), "delivery"):
        preferences["delivery"] = _split(delivery)
    if _text(cells.get("hours_per_month", ""), "hours_per_month"):
        preferences["hours_per_month"] = _number(cells["hours_per_month"], "hours_per_month")
    start = _month(cells.get("period_start", ""), "period_start")
    end = _month(cells.get("period_end", ""), "period_end")
    if start or end:
        preferences["period"] = {"start": start, "end": end}
    return preferences


def _profile(cells: dict[str, _Cell], header: _Header) -> dict[str, Any]:
    """One row's cells (by header) to a profile dict; the engine validates it.

    The keys come in the order the table reader has always made them, so a
    profile's Result does not depend on where the profile came from.
    """
    profile: dict[str, Any] = {"person": _person(cells, header.kb)}
    if profile_id := _text(cells.get("id", ""), "id"):
        profile["id"] = profile_id
    if preferences := _preferences(cells):
        profile["preferences"] = preferences
    if requests := _text(cells.get("requests", ""), "requests"):
        profile["requests"] = _split(requests)
    found = []
    for column, kind in header.results.items():
        cell = cells.get(column, "")
        if isinstance(cell, str) and not cell.strip():
            continue
        score, maximum = _score(cell, column)
        found.append({kind: column, "score": score, "max": maximum})
    profile["results"] = found
    return profile


def _is_blank(cells: Iterable[_Cell]) -> bool:
    return all(isinstance(c, str) and not c.strip() for c in cells)


def _row_id(cells: list[_Cell], header: _Header) -> str:
    """The row's id as written ("" when none can be read)."""
    at = header.names.index("id")
    cell = cells[at] if at < len(cells) else ""
    return "" if isinstance(cell, _Unusable) else _text(cell, "id")


def _row(line: int, cells: list[_Cell], header: _Header) -> Row:
    """A record of cells to a Row: its profile or the reason it is set aside."""
    names = header.names
    extra = {name: "" for name in header.extra}
    by_name: dict[str, _Cell] = {}
    for name, cell in zip(names, cells, strict=False):
        if name in extra:
            extra[name] = "" if isinstance(cell, _Unusable) else _text(cell, name)
        elif name:
            by_name[name] = cell
    surplus = cells[len(names) :]
    if not _is_blank(surplus):
        return Row(line, None, f"{len(cells)} cells for {len(names)} columns", extra)
    for name, cell in zip(names, cells, strict=False):
        byte = _undecodable(cell) if isinstance(cell, str) else None
        if byte:
            label = f'column "{name}"' if name else "a column without a header"
            return Row(line, None, f"{label}: undecodable byte {byte}", extra)
    try:
        return Row(line, _profile(by_name, header), None, extra)
    except _RowError as exc:
        return Row(line, None, str(exc), extra)


def _set_aside_duplicates(rows: Iterable[tuple[Row, str]]) -> Iterator[Row]:
    """Every row whose id came before is set aside, naming the first line.

    Rows come with their id as written, so that a row set aside for another
    reason still holds its id: the occurrences after it are the duplicates.
    """
    first: dict[str, int] = {}
    for row, row_id in rows:
        if row_id in first:
            reason = f"duplicate id '{row_id}' (first on line {first[row_id]})"
            row = Row(row.line, None, reason, row.extra)
        elif row_id:
            first[row_id] = row.line
        yield dataclasses.replace(row, ident=row_id) if row_id else row


# --- text files -----------------------------------------------------------------------


def _detect_encoding(path: Path) -> str:
    """The codec of a text file: its BOM, else UTF-8 unless mostly invalid, else cp1251."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"  # the codec reads the BOM and drops it
        handle.seek(0)
        return "utf-8" if _mostly_utf8(handle) else "cp1251"


def _mostly_utf8(handle: IO[bytes]) -> bool:
    """Whether the non-ASCII text decodes as UTF-8 more often than not.

    One stray byte in a UTF-8 file must not turn the file into cp1251 (it sets
    one row aside); cp1251 Cyrillic is almost never valid UTF-8. Reading stops
    once enough non-ASCII text has been seen to decide.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors=_MARK)
    good = bad = 0
    while chunk := handle.read(1 << 20):
        text = decoder.decode(chunk)
        marked = len(_UNDECODABLE.findall(text))
        bad += marked
        good += len(_NON_ASCII.findall(text)) - marked
        if good + bad >= 4096:
            break
    return bad == 0 or good > bad


def _codec(encoding: str | None, path: Path) -> str:
    if encoding is None:
        return _detect_encoding(path)
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding '{encoding}'") from None


def _text_lines(handle: IO[bytes], codec: str) -> Iterator[str]:
    """The file's physical lines (ended by ``\\n`` only, kept), bad bytes marked.

    The wrapper is detached when the lines end or are abandoned: ``handle`` belongs
    to its opener, which closes it; a wrapper left to the collector would close it
    first and warn of an unclosed file (a ResourceWarning under ``python -X dev``).
    """
    text = io.TextIOWrapper(handle, encoding=codec, errors=_MARK, newline="\n")
    try:
        yield from text
    finally:
        if not handle.closed:  # a closed one has nothing left to warn of
            text.detach()


def _count_lines(path: Path) -> int:
    """Physical lines of a text file: its line feeds, and a last line without one.

    Counted in bytes: a line feed is byte 0x0A in UTF-8 and cp1251, and in UTF-16
    one of the two bytes of U+000A (rarely of another character: an estimate).
    """
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk
    # UTF-16 LE ends a line with 0A 00: the last byte is not 0A, yet the line ended
    return count + (0 if last.rstrip(b"\x00").endswith(b"\n") else 1)


def _pick_delimiter(line: str) -> str:
    """The delimiter the header line uses most outside quotes (``,`` when none)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_reader(lines: Iterator[str], delimiter: str) -> Any:
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)


def _csv_records(
    lines: Iterator[str], delimiter: str, first: int = 1
) -> Iterator[tuple[int, list[str] | str]]:
    """(physical line, cells) per record, or (line, reason) for a malformed one;
    ``first`` is the physical line of the first of ``lines``."""
    reader = _csv_reader(lines, delimiter)
    limit = csv.field_size_limit()
    while True:
        start = first + reader.line_num
        try:
            yield start, next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                yield start, f"a cell is longer than the CSV limit of {limit} characters"
            else:
                yield start, f"malformed CSV row: {exc}"


# --- XLSX -----------------------------------------------------------------------------


def _xlsx_error(source: str, message: str) -> SourceError:
    return SourceError([Issue(source, 0, 0, "unreadable", message)], "cohort table")


def _check_archive(path: Path, source: str) -> None:
    """Refuse what is not an XLSX archive, and archives too large once uncompressed.

    Done before openpyxl opens the file: it would inflate a zip bomb in full.
    The zip module stops at a member's declared size, so bounding the declared
    sizes bounds what is read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _xlsx_error(
            source, "not an XLSX workbook (not a zip archive; a CSV file is named .csv)"
        ) from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise _xlsx_error(source, f"the archive has {len(members)} members: not a workbook")
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_BYTES:
        mb = MAX_XLSX_BYTES // (1024 * 1024)
        raise _xlsx_error(source, f"uncompressed size {total} bytes is over the {mb} MB bound")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1 << 20 and ratio > MAX_XLSX_RATIO:
            raise _xlsx_error(
                source,
                f"member {member.filename} compresses {ratio:.0f} times "
                f"(over {MAX_XLSX_RATIO}): a zip bomb?",
            )


def _has_formulas(path: Path, member: str) -> bool:
    """Whether a sheet's XML has any formula element (scanned without parsing)."""
    tail = b""
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        while chunk := stream.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-64:]
    return False


def _xlsx_cell(cell: Any, formula: Any) -> _Cell:
    """One sheet cell: percents scaled, numbers as floats, dates kept, text as text."""
    value = cell.value
    if value is None:
        if formula is not None and getattr(formula, "data_type", None) == "f":
            return _Unusable("a formula without a computed value (open and save it in Excel)")
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, int | float):
        if "%" in (getattr(cell, "number_format", None) or ""):
            # through Decimal: 0.07 * 100 is 7.000000000000001 in floats
            return float(Decimal(repr(value)) * 100)
        return float(value)
    if isinstance(value, date):
        return value
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)


def _load_book(path: Path, source: str, data_only: bool) -> Any:
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise _xlsx_error(source, f"cannot read the workbook: {exc}") from None


def _sheet_rows(book: Any, source: str) -> Iterator[Any]:
    """The first sheet's rows to its real extent, errors of a damaged file as SourceError."""
    if not book.worksheets:
        raise _xlsx_error(source, "the workbook has no worksheet")
    sheet = book.worksheets[0]
    sheet.reset_dimensions()  # read_only trusts <dimension>, which may be stale
    rows = sheet.iter_rows()
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a truncated or damaged sheet, found while reading
            raise _xlsx_error(source, f"cannot read the sheet: {exc}") from None
        yield row


def _count_tags(path: Path, member: str, tag: re.Pattern[bytes]) -> int:
    """How many times ``tag`` occurs in an archive member (scanned without parsing)."""
    count, tail = 0, b""
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        while chunk := stream.read(1 << 20):
            # a tag cut by the chunk boundary is in tail + chunk; one whole in the tail
            # was counted already, so count only matches that end inside this chunk
            window = tail + chunk
            count += sum(1 for m in tag.finditer(window) if m.end() > len(tail))
            tail = chunk[-64:]
    return count


def _xlsx_records(
    path: Path, source: str, sheet: list[str] | None = None
) -> Iterator[tuple[int, list[_Cell]]]:
    """(sheet row, cells) of the first sheet. Formulas are read from a second view
    of the workbook only when the sheet has any: the values view shows a formula
    never computed as an empty cell. The first sheet's archive member is appended
    to ``sheet`` (for a quick count of its rows)."""
    _check_archive(path, source)
    book = _load_book(path, source, data_only=True)
    formulas_book = None
    try:
        sheet_path = getattr(book.worksheets[0], "_worksheet_path", "") if book.worksheets else ""
        if sheet is not None and sheet_path:
            sheet.append(sheet_path)
        if sheet_path and _has_formulas(path, sheet_path):
            formulas_book = _load_book(path, source, data_only=False)
        values = _sheet_rows(book, source)
        formulas: Iterator[Any] = (
            _sheet_rows(formulas_book, source) if formulas_book else itertools.repeat(())
        )
        for line, (row, formula_row) in enumerate(zip(values, formulas, strict=False), 1):
            padded = itertools.chain(formula_row, itertools.repeat(None))
            yield line, [_xlsx_cell(c, f) for c, f in zip(row, padded, strict=False)]
    finally:
        book.close()
        if formulas_book is not None:
            formulas_book.close()


# --- the reader -----------------------------------------------------------------------


Format = Literal["csv", "xlsx", "jsonl"]
_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


class TableReading:
    """A cohort file being read: its header read and checked, its rows read lazily.

    Made by :func:`read_rows`. Iterate it once for the rows, in file order;
    close it (or use it as a context manager) to release the file early.

    Attributes
    ----------
    source : str
        The file as errors name it.
    format : str
        ``"csv"``, ``"xlsx"`` or ``"jsonl"``.
    encoding : str or None
        The codec a text file is read with; None for XLSX.
    delimiter : str or None
        The CSV delimiter found in the header line; None for XLSX and JSONL.
    columns : tuple of str
        The header, by position ("" for a column without a header); empty for JSONL.
    extra_columns : tuple of str
        The pass-through columns (those the format does not know), in file order.
    warnings : tuple of Issue
        One warning per unknown column, with a did-you-mean when a known column
        is close.
    """

    def __init__(self, path: Path, kb: KnowledgeBase, encoding: str | None) -> None:
        self.source = display_path(path)
        suffix = path.suffix.lower()
        if suffix not in _FORMATS:
            raise SourceError(
                [
                    Issue(
                        self.source,
                        0,
                        0,
                        "unknown-format",
                        "expected a .csv, .tsv, .jsonl or .xlsx file (save an .xls as .xlsx)",
                    )
                ],
                "cohort",
            )
        self.format: Format = _FORMATS[suffix]
        self.encoding: str | None = None
        self.delimiter: str | None = None
        self.columns: tuple[str, ...] = ()
        self.extra_columns: tuple[str, ...] = ()
        self.warnings: tuple[Issue, ...] = ()
        self._handle: IO[bytes] | None = None
        self._path = path
        self._sheet: list[str] = []  # the XLSX's first sheet, as an archive member
        self._records: Iterator[Any] | None = None
        self._rows: Iterator[Row] = iter(())
        self._header_cells: tuple[Any, ...] = ()
        try:
            self._rows = self._open(path, kb, encoding)
        except OSError as exc:
            self.close()
            message = f"cannot read the file: {exc.strerror or exc}"
            raise SourceError([Issue(self.source, 0, 0, "unreadable", message)], "cohort") from None
        except BaseException:
            self.close()
            raise

    def _open(self, path: Path, kb: KnowledgeBase, encoding: str | None) -> Iterator[Row]:
        if self.format == "xlsx":
            self._records = _xlsx_records(path, self.source, self._sheet)
            return self._table(self._records, kb)
        self.encoding = _codec(encoding, path)
        self._handle = path.open("rb")
        lines = _text_lines(self._handle, self.encoding)
        if self.format == "jsonl":
            return _jsonl_rows(lines)
        return self._csv(lines, kb)

    def _csv(self, lines: Iterator[str], kb: KnowledgeBase) -> Iterator[Row]:
        first = next(lines, "")
        self.delimiter = _pick_delimiter(first)
        records = _csv_records(itertools.chain([first], lines), self.delimiter)
        return self._table(records, kb)

    def _table(
        self, records: Iterator[tuple[int, list[Any] | str]], kb: KnowledgeBase
    ) -> Iterator[Row]:
        """Read the header record now (its errors raise here), then the rows lazily."""
        line, header_cells = next(records, (1, []))
        if isinstance(header_cells, str):
            raise SourceError(
                [Issue(self.source, line, 1, "malformed", f"the header: {header_cells}")],
                "cohort table",
            )
        byte = next(filter(None, (_undecodable(c) for c in header_cells if isinstance(c, str))), "")
        if byte:
            message = f"the header has an undecodable byte {byte} (read as {self.encoding})"
            raise SourceError([Issue(self.source, line, 1, "encoding", message)], "cohort table")
        header = _read_header(header_cells, kb, self.source)
        self._header_cells = tuple(header_cells)
        self.columns, self.extra_columns, self.warnings = (
            header.names,
            header.extra,
            header.warnings,
        )
        return _set_aside_duplicates(_table_rows(records, header))

    def __iter__(self) -> Iterator[Row]:
        return self._rows

    def shares(self, records: int) -> Iterator[Share] | None:
        """The file cut into shares of ``records`` records, for workers that each read
        their own (:func:`read_share`); None when the file cannot be cut (XLSX, or an
        encoding whose line feeds and quotes are not single ASCII bytes, as UTF-16).

        The cuts are found by a scan of the raw bytes: every line start of a JSONL
        file, and for CSV the record starts the csv module itself finds (a line with
        a quote is handed to it, with the lines its record takes), so a cell with a
        line break, or a malformed row, is cut exactly as the whole file is read.
        Shares are made lazily, as the scan goes.

        Parameters
        ----------
        records : int
            Records (CSV rows, JSONL lines, blank ones included) per share.

        Returns
        -------
        Iterator of Share or None
            The shares in file order, or None.
        """
        if self.format == "xlsx" or self.encoding not in _SPLITTABLE:
            return None
        return self._shares(max(1, records))

    def _shares(self, records: int) -> Iterator[Share]:
        begin = len(codecs.BOM_UTF8) if self.encoding == "utf-8-sig" else 0
        codec = "utf-8" if self.encoding == "utf-8-sig" else self.encoding or "utf-8"
        delimiter = self.delimiter if self.format == "csv" else None
        size = self._path.stat().st_size
        where = str(self._path.resolve())

        def share(start: tuple[int, int], end: int) -> Share:
            return Share(
                where, self.source, self.format, codec, delimiter, self._header_cells, *start, end
            )

        with self._path.open("rb") as handle:
            handle.seek(begin)
            starts = _record_starts(handle, begin, codec, delimiter)
            if delimiter is not None:
                next(starts, None)  # the header's record
            cut: tuple[int, int] | None = None
            for n, start in enumerate(starts):
                if n % records:
                    continue
                if cut is not None:
                    yield share(cut, start[0])
                cut = start
            if cut is not None and cut[0] < size:
                yield share(cut, size)

    def estimated_rows(self) -> int:
        """A quick estimate of how many rows the file has below its header.

        For a progress bar's ETA, not for accounting: a CSV or JSONL file's
        physical lines (a cell with a line break counts twice, a blank line
        once), an XLSX sheet's ``<row>`` elements (an empty row that Excel
        stored counts). It reads the raw bytes without decoding or parsing:
        under a second for a 20 000-row cohort.

        Returns
        -------
        int
            The estimated number of data rows (0 or more).
        """
        if self.format == "xlsx":
            if not self._sheet:
                return 0
            return max(0, _count_tags(self._path, self._sheet[0], _ROW_TAG) - 1)
        lines = _count_lines(self._path)
        return lines if self.format == "jsonl" else max(0, lines - 1)

    def close(self) -> None:
        """Release the file (an XLSX workbook is released when its rows end or here).

        Returns
        -------
        None
        """
        for part in (self._rows, self._records):
            close = getattr(part, "close", None)
            if close is not None:
                close()  # a generator: runs its cleanup (an XLSX workbook's close)
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> TableReading:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _table_rows(
    records: Iterator[tuple[int, list[Any] | str]], header: _Header
) -> Iterator[tuple[Row, str]]:
    """Rows with their ids; blank rows are not rows."""
    extra_blank = dict.fromkeys(header.extra, "")
    for line, cells in records:
        if isinstance(cells, str):
            yield Row(line, None, cells, dict(extra_blank)), ""
        elif not _is_blank(cells):
            yield _row(line, cells, header), _row_id(cells, header)


def _jsonl_rows(lines: Iterator[str]) -> Iterator[Row]:
    rows = (_jsonl_row(line_no, text) for line_no, text in enumerate(lines, 1) if text.strip())
    yield from _set_aside_duplicates((row, _jsonl_id(row)) for row in rows)


def _jsonl_id(row: Row) -> str:
    row_id = row.profile.get("id") if row.profile is not None else None
    return row_id if isinstance(row_id, str) else ""


def _jsonl_row(line: int, text: str) -> Row:
    if byte := _undecodable(text):
        return Row(line, None, f"undecodable byte {byte}")
    try:
        # nesting, huge integers and repeated keys are refused before json recurses;
        # without its line break, a line cut short is placed at its own last character,
        # not at "character 1" of the line after it
        value = load_json_text(text.rstrip("\r\n"), f"line {line}")
    except SourceError as exc:
        first = exc.issues[0] if exc.issues else None
        if first is None:
            return Row(line, None, str(exc))
        if first.code == "json-syntax":
            return Row(line, None, f"invalid JSON at character {first.col}: {first.message}")
        return Row(line, None, f"character {first.col}: {first.message}")
    if not isinstance(value, dict):
        return Row(line, None, "a line must hold one JSON object (a profile)")
    return Row(line, value, None)


def read_rows(path: Path, kb: KnowledgeBase, *, encoding: str | None = None) -> TableReading:
    """Open a cohort file (CSV, TSV, XLSX or JSONL) for reading, row by row.

    The header is read and checked here; rows are read as the result is iterated.

    Parameters
    ----------
    path : Path
        The file; its suffix says its format (``.csv``, ``.tsv``, ``.txt``,
        ``.xlsx``, ``.xlsm``, ``.jsonl``, ``.ndjson``).
    kb : KnowledgeBase
        The knowledge base whose competency and indicator ids are result columns.
    encoding : str, optional
        The text encoding of a CSV or JSONL file; detected when not given.

    Returns
    -------
    TableReading
        An iterable of :class:`Row` (each row's physical line, its profile or
        why it was set aside, its pass-through cells) with the header's
        warnings and what was detected.

    Raises
    ------
    SourceError
        An unknown format, an unreadable or damaged XLSX, a duplicate column,
        a missing ``id`` column, a malformed or undecodable header.
    UsageError
        An unknown ``encoding``.
    OSError
        The file cannot be opened.
    """
    return TableReading(path, kb, encoding)


# --- shares: a text file cut for workers that read their own part ----------------------

#: Encodings whose line feed and double quote are the single bytes 0x0A and 0x22,
#: never part of another character: a file in one of them can be cut at a byte offset.
_SPLITTABLE = frozenset(
    ("utf-8", "utf-8-sig", "cp1251", "ascii", "koi8-r", "cp866", "iso8859-1", "cp1252")
)


@dataclass(frozen=True)
class Share:
    """Whole records of a CSV or JSONL cohort file that one worker reads alone.

    Made by :meth:`TableReading.shares`; small, so that it travels to a worker
    (on a Dask cluster too: ``path`` is absolute, and must be the same there).

    Attributes
    ----------
    path : str
        The file, absolute.
    source : str
        The file as errors name it.
    format : str
        ``"csv"`` or ``"jsonl"``.
    codec : str
        The text encoding of its bytes.
    delimiter : str or None
        The CSV delimiter; None for JSONL.
    header : tuple
        The CSV header's cells (empty for JSONL): each worker reads them again.
    start : int
        The byte offset of its first record (a line start).
    line : int
        The physical line of that record, as the whole file numbers it.
    end : int
        The byte offset just after its last record.
    """

    path: str
    source: str
    format: str
    codec: str
    delimiter: str | None
    header: tuple[Any, ...]
    start: int
    line: int
    end: int


def _record_starts(
    handle: IO[bytes], offset: int, codec: str, delimiter: str | None
) -> Iterator[tuple[int, int]]:
    """(byte offset, physical line) of each record from ``offset`` on (the handle is there).

    A JSONL record, and a CSV line without a quote, is its line. A CSV line with a
    quote is given to the csv module with the lines after it as it asks for them:
    the record ends where the reader ends it (a cell's line breaks, an error).
    """
    number = 1
    lines = iter(handle)
    for raw in lines:
        yield offset, number
        offset += len(raw)
        number += 1
        if delimiter is None or b'"' not in raw:
            continue
        taken: list[bytes] = []

        def fed(first: bytes = raw, taken: list[bytes] = taken) -> Iterator[str]:
            yield first.decode(codec, errors=_MARK)
            for more in lines:
                taken.append(more)
                yield more.decode(codec, errors=_MARK)

        with contextlib.suppress(csv.Error, StopIteration):
            next(_csv_reader(fed(), delimiter))
        offset += sum(len(more) for more in taken)
        number += len(taken)


def read_share(share: Share, kb: KnowledgeBase) -> Iterator[tuple[Row, str]]:
    """A share's rows, each with its id as written ("" when none), in file order.

    The rows are read as the whole file would be (:func:`read_rows`), with the
    physical lines of the whole file, except that ids are not yet checked for
    duplicates: the shares' reader does that over every share (a duplicate may
    be in another share), as :func:`read_rows` does, naming the first line.
    Blank rows are not rows.

    Parameters
    ----------
    share : Share
        The share.
    kb : KnowledgeBase
        The knowledge base whose competency and indicator ids are result columns.

    Returns
    -------
    Iterator of (Row, str)
        Each row (``ident`` set when it has an id) and its id.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    with open(share.path, "rb") as handle:
        handle.seek(share.start)
        data = handle.read(share.end - share.start)
    lines = _text_lines(io.BytesIO(data), share.codec)
    if share.delimiter is None:
        rows = (_jsonl_row(n, text) for n, text in enumerate(lines, share.line) if text.strip())
        pairs: Iterator[tuple[Row, str]] = ((row, _jsonl_id(row)) for row in rows)
    else:
        header = _read_header(list(share.header), kb, share.source)
        records = _csv_records(lines, share.delimiter, share.line)
        pairs = _table_rows(records, header)
    return iter(
        [(dataclasses.replace(row, ident=ident) if ident else row, ident) for row, ident in pairs]
    )


class TableWarning(UserWarning):
    """A cohort table's header warning (an unknown column), issued by :func:`read_profiles`."""


def read_profiles(
    path: Path, engine: Engine, *, encoding: str | None = None
) -> Iterator[tuple[int, Any]]:
    """(line, profile) pairs from a JSONL, CSV or XLSX file, streamed (:func:`read_rows`).

    A row that cannot become a profile yields a ``_RowError`` in place of the
    profile, naming the file, the line and the column, so that the batch can
    set it aside and go on. The header's warnings are issued once each as
    :class:`TableWarning`.

    Parameters
    ----------
    path : Path
        The cohort file.
    engine : Engine
        The engine whose knowledge base names the result columns.
    encoding : str, optional
        The text encoding of a CSV or JSONL file; detected when not given.

    Yields
    ------
    tuple of (int, dict or _RowError)
        The row's physical line and its profile, or why it is set aside.

    Raises
    ------
    SourceError
        The file cannot be read as a cohort table (see :func:`read_rows`).
    UsageError
        An unknown ``encoding``.
    """
    with read_rows(path, engine.kb, encoding=encoding) as table:
        for issue in table.warnings:
            warnings.warn(TableWarning(str(issue)), stacklevel=2)
        for row in table:
            if row.error is not None:
                yield row.line, _RowError(f"{table.source}:{row.line}: {row.error}")
            else:
                yield row.line, row.profile
