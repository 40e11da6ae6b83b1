"""What a batch writes per person besides results.jsonl: flat tables and ИОМ documents.

- :func:`person_record`: the person fields a row of output carries, so that a
  system can join the outputs without the input (never the name or any other
  pass-through column unless the user keeps it: 152-ФЗ, pseudonymous by default).
- :class:`FlatTables`: ``results.csv`` / ``deficits.csv`` and ``results.xlsx``
  (sheets ``results`` and ``deficits``): one row per person and one per deficit.
- :class:`DocumentNames`: a safe, unique file name for each profile id.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .models import json_number
from .rules import SEVERITIES

__all__ = [
    "DEFICIT_COLUMNS",
    "PERSON_FIELDS",
    "RESULT_COLUMNS",
    "DocumentNames",
    "FlatTables",
    "XlsxStream",
    "person_record",
    "write_whole",
]

#: The person fields every per-person output carries, in this order.
PERSON_FIELDS = ("role", "municipality", "organization", "experience_years", "subjects")

#: results.csv's columns after ``id``, the person fields and the kept columns.
RESULT_COLUMNS = (
    "deficits",
    *(f"deficits_{s}" for s in SEVERITIES),
    "programmes",
    "programme_hours",
    "mentors",
    "formats",
    "unmet",
    "route_hours",
    "route_start",
    "route_end",
    "route_over_period",
)

#: deficits.csv's columns.
DEFICIT_COLUMNS = (
    "id",
    "role",
    "municipality",
    "organization",
    "competency",
    "group",
    "severity",
    "score_pct",
    "rule",
)

#: How a list of ids is written in one cell: as the input tables separate them.
LIST_SEPARATOR = "; "


def person_record(
    profile: Any, keep: Sequence[str] = (), extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The person fields of one profile, as every per-person output carries them.

    Parameters
    ----------
    profile : Any
        A profile as read (a dict with a ``person`` mapping); anything else gives
        every field as None.
    keep : sequence of str
        Pass-through columns the user asked to keep (``--keep-columns``): their
        values are added under their own names. ``name`` keeps ``person.name``
        of a JSONL profile.
    extra : mapping of str to str, optional
        The row's pass-through cells (:attr:`deficit_engine.tables.Row.extra`).

    Returns
    -------
    dict
        ``role``, ``municipality``, ``organization``, ``experience_years`` (a whole
        number as an int), ``subjects`` (a list of ids), each None when not given,
        then the kept columns. Never the name or a pass-through cell not kept.
    """
    person = profile.get("person") if isinstance(profile, Mapping) else None
    person = person if isinstance(person, Mapping) else {}
    record: dict[str, Any] = {name: person.get(name) for name in PERSON_FIELDS}
    years = record["experience_years"]
    if isinstance(years, int | float) and not isinstance(years, bool):
        record["experience_years"] = json_number(years)
    subjects = record["subjects"]
    record["subjects"] = list(subjects) if isinstance(subjects, list | tuple) else []
    cells = extra or {}
    for column in keep:
        record[column] = cells[column] if column in cells else person.get(column)
    return record


# --- flat tables ----------------------------------------------------------------------


def _ids(items: Sequence[Mapping[str, Any]], kind: str) -> list[str]:
    return [str(r["id"]) for r in items if r.get("kind") == kind]


def _text_list(values: Sequence[Any]) -> str:
    return LIST_SEPARATOR.join(str(v) for v in values)


def result_row(
    data: Mapping[str, Any], person: Mapping[str, Any], keep: Sequence[str]
) -> list[Any]:
    """One person's row of results.csv: id, person fields, kept columns, then the figures.

    Parameters
    ----------
    data : mapping
        The person's Result as results.jsonl holds it (``Result.to_dict``).
    person : mapping
        :func:`person_record` of the person.
    keep : sequence of str
        The kept columns, in the order of the header.

    Returns
    -------
    list
        Cells in the order of :meth:`FlatTables.result_header`: numbers as numbers,
        lists as ``; ``-separated text, a missing value as None.
    """
    deficits = data.get("deficits") or []
    recommendations = data.get("recommendations") or []
    route = data.get("route") or {}
    severities = [d.get("severity") for d in deficits]
    programme_hours = sum(
        float(r.get("hours") or 0) for r in recommendations if r.get("kind") == "program"
    )
    return [
        data.get("profile"),
        person.get("role"),
        person.get("municipality"),
        person.get("organization"),
        person.get("experience_years"),
        _text_list(person.get("subjects") or []),
        *(person.get(column) for column in keep),
        len(deficits),
        *(severities.count(s) for s in SEVERITIES),
        _text_list(_ids(recommendations, "program")),
        json_number(programme_hours),
        _text_list(_ids(recommendations, "mentor")),
        _text_list(_ids(recommendations, "format")),
        len(data.get("unmet") or []),
        route.get("total_hours"),
        route.get("start"),
        route.get("end"),
        (route.get("overflow") is not None) if route else None,
    ]


def deficit_rows(data: Mapping[str, Any], person: Mapping[str, Any]) -> list[list[Any]]:
    """One person's rows of deficits.csv, one per deficit.

    Parameters
    ----------
    data : mapping
        The person's Result as results.jsonl holds it.
    person : mapping
        :func:`person_record` of the person.

    Returns
    -------
    list of list
        Cells in the order of :data:`DEFICIT_COLUMNS`.
    """
    return [
        [
            data.get("profile"),
            person.get("role"),
            person.get("municipality"),
            person.get("organization"),
            d.get("competency"),
            d.get("group"),
            d.get("severity"),
            d.get("score_pct"),
            d.get("rule"),
        ]
        for d in data.get("deficits") or []
    ]


#: What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A cell as CSV text: yes/no as 1/0, None as an empty cell, and text that a
    spreadsheet would run as a formula (``=HYPERLINK(...)`` in an organisation's
    name) quoted with a leading apostrophe, as Excel itself shows literal text."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class FlatTables:
    """results.csv, deficits.csv and results.xlsx, written a person at a time.

    The workbook is written by :class:`XlsxStream` (numbers stay numbers, text
    is always text: a cell starting with ``=`` is not a formula; each sheet's
    header row is frozen), streamed to files in ``folder``.

    Parameters
    ----------
    folder : Path
        Where to write the three files (the batch's staging folder).
    keep : sequence of str
        The kept pass-through columns, added after the person fields.
    """

    def __init__(self, folder: Path, keep: Sequence[str] = ()) -> None:
        self.keep = tuple(keep)
        self.folder = folder
        # utf-8-sig: Excel opens a CSV with a BOM as UTF-8 (without it, as cp1251)
        self._results_file = (folder / "results.csv").open("w", encoding="utf-8-sig", newline="")
        self._deficits_file = (folder / "deficits.csv").open("w", encoding="utf-8-sig", newline="")
        self._results = csv.writer(self._results_file, lineterminator="\r\n")
        self._deficits = csv.writer(self._deficits_file, lineterminator="\r\n")
        self._book = XlsxStream(folder / "results.xlsx")
        self._book.add_sheet("results", self.result_header)
        self._book.add_sheet("deficits", DEFICIT_COLUMNS)
        self._results.writerow(self.result_header)
        self._deficits.writerow(DEFICIT_COLUMNS)

    @property
    def result_header(self) -> tuple[str, ...]:
        """results.csv's header: ``id``, the person fields, the kept columns, the figures.

        Returns
        -------
        tuple of str
            The column names.
        """
        return ("id", *PERSON_FIELDS, *self.keep, *RESULT_COLUMNS)

    def add(self, data: Mapping[str, Any], person: Mapping[str, Any]) -> None:
        """Write one person's row and their deficits' rows.

        Parameters
        ----------
        data : mapping
            The person's Result as results.jsonl holds it.
        person : mapping
            :func:`person_record` of the person.
        """
        row = result_row(data, person, self.keep)
        self._results.writerow([_csv_cell(v) for v in row])
        self._book.append(0, row)
        for deficit in deficit_rows(data, person):
            self._deficits.writerow([_csv_cell(v) for v in deficit])
            self._book.append(1, deficit)

    def close(self) -> None:
        """Finish the CSV files and the workbook.

        Returns
        -------
        None
        """
        self._results_file.close()
        self._deficits_file.close()
        self._book.close()

    def discard(self) -> None:
        """Close the files unfinished (the batch failed; its folder goes).

        Returns
        -------
        None
        """
        self._results_file.close()
        self._deficits_file.close()
        self._book.discard()


# --- a streaming XLSX writer ----------------------------------------------------------

# Characters XML 1.0 cannot hold, and lone surrogates (which UTF-8 cannot): replaced.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_OFFICE = "application/vnd.openxmlformats-officedocument"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_FROZEN_HEADER = (
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    "</sheetView></sheetViews>"
)
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _member(name: str) -> zipfile.ZipInfo:
    """An archive member dated 1980-01-01: the same cohort gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _column_letter(index: int) -> str:
    """A 0-based column index as Excel names it: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value).translate(_XML_ESCAPES)


def _xlsx_cell(ref: str, value: Any) -> str:
    """One ``<c>`` element: a number, a boolean or inline text (never a formula)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if isinstance(value, float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    text = _xml_text(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


class XlsxStream:
    """An XLSX workbook written row by row, in constant memory and quickly.

    openpyxl's write-only mode spends about 10 µs per cell; a 20 000-person
    batch writes about 3 million cells (one row per deficit), so the sheets are
    written here as plain SpreadsheetML: inline strings, numbers as numbers,
    a frozen header row. Each sheet's rows go to a file beside the workbook
    until :meth:`close` zips them into it.

    Parameters
    ----------
    path : Path
        The workbook to write; its sheets' parts are ``<path>.sheetN.xml`` until closed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._names: list[str] = []
        self._parts: list[Path] = []
        self._files: list[Any] = []
        self._rows: list[int] = []
        self._letters: list[str] = []

    def add_sheet(self, name: str, header: Sequence[str]) -> int:
        """Start a sheet with its header row (frozen).

        Parameters
        ----------
        name : str
            The sheet's name (at most 31 characters, none of ``[]:*?/\\``).
        header : sequence of str
            The header row.

        Returns
        -------
        int
            The sheet's index, for :meth:`append`.
        """
        index = len(self._names)
        part = self.path.with_name(f"{self.path.name}.sheet{index + 1}.xml")
        handle = part.open("w", encoding="utf-8")
        handle.write(f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}">{_FROZEN_HEADER}<sheetData>')
        self._names.append(name)
        self._parts.append(part)
        self._files.append(handle)
        self._rows.append(0)
        self.append(index, list(header))
        return index

    def append(self, sheet: int, row: Sequence[Any]) -> None:
        """Add a row to a sheet.

        Parameters
        ----------
        sheet : int
            The index :meth:`add_sheet` returned.
        row : sequence
            The cells: int and float are numbers, bool a boolean, None and ""
            an empty cell, anything else text.
        """
        self._rows[sheet] += 1
        n = self._rows[sheet]
        while len(self._letters) < len(row):
            self._letters.append(_column_letter(len(self._letters)))
        cells = "".join(_xlsx_cell(f"{self._letters[i]}{n}", value) for i, value in enumerate(row))
        self._files[sheet].write(f'<row r="{n}">{cells}</row>')

    def close(self) -> None:
        """Finish the sheets and zip the workbook at ``path`` (the parts are removed).

        Returns
        -------
        None
        """
        for handle in self._files:
            handle.write("</sheetData></worksheet>")
            handle.close()
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, text in self._package().items():
                archive.writestr(_member(member), text)
            for n, part in enumerate(self._parts, 1):
                with (
                    part.open("rb") as source,
                    archive.open(_member(f"xl/worksheets/sheet{n}.xml"), "w") as target,
                ):
                    shutil.copyfileobj(source, target, 1 << 20)
        self._remove_parts()

    def discard(self) -> None:
        """Close the sheets' files and remove them, writing no workbook.

        Returns
        -------
        None
        """
        for handle in self._files:
            handle.close()
        self._remove_parts()

    def _remove_parts(self) -> None:
        for part in self._parts:
            part.unlink(missing_ok=True)

    def _package(self) -> dict[str, str]:
        """The workbook's parts other than the sheets."""
        count = range(1, len(self._names) + 1)
        sheets = "".join(
            f'<sheet name="{_xml_text(name)}" sheetId="{n}" r:id="rId{n}"/>'
            for n, name in zip(count, self._names, strict=True)
        )
        sheet_rels = "".join(
            f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" '
            f'Target="worksheets/sheet{n}.xml"/>'
            for n in count
        )
        sheet_types = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
            f'ContentType="{_OFFICE}.spreadsheetml.worksheet+xml"/>'
            for n in count
        )
        styles = len(self._names) + 1
        return {
            "[Content_Types].xml": (
                f'{_XML_HEAD}<Types xmlns="{_CT_NS}">'
                '<Default Extension="rels" '
                'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" '
                f'ContentType="{_OFFICE}.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" '
                f'ContentType="{_OFFICE}.spreadsheetml.styles+xml"/>'
                f"{sheet_types}</Types>"
            ),
            "_rels/.rels": (
                f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
                f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" '
                'Target="xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": (
                f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
                f"<sheets>{sheets}</sheets></workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">{sheet_rels}'
                f'<Relationship Id="rId{styles}" Type="{_REL_NS}/styles" '
                'Target="styles.xml"/></Relationships>'
            ),
            "xl/styles.xml": _STYLES,
        }


# --- document names -------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.-]")
#: Names Windows keeps for devices, whatever the extension.
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{n}" for n in range(1, 10)]
    + [f"LPT{n}" for n in range(1, 10)]
)
MAX_NAME_BYTES = 120  # with a suffix and the extension, well under 255 bytes


class DocumentNames:
    """A safe, unique file name for each profile id, within one folder.

    Letters, digits, ``_``, ``.`` and ``-`` are kept; every other character
    (``/``, ``\\``, ``:``, spaces, control characters...) becomes ``_``; leading
    dots are dropped (no ``..``, no hidden file); a device name of Windows gets a
    ``_`` in front; a long id is cut. Two ids that would give the same name (also
    differing only in case, for case-insensitive file systems) are told apart by
    ``-2``, ``-3``...

    Parameters
    ----------
    extension : str
        The files' extension, without the dot (``html``, ``md``).
    """

    def __init__(self, extension: str) -> None:
        self.extension = extension
        self._taken: set[str] = set()

    @staticmethod
    def stem(profile_id: str) -> str:
        """The safe stem of one id, before it is made unique.

        Parameters
        ----------
        profile_id : str
            Any text.

        Returns
        -------
        str
            A non-empty name of letters, digits, ``_``, ``.`` and ``-``, not
            starting with a dot.
        """
        text = unicodedata.normalize("NFC", profile_id)
        text = _UNSAFE.sub("_", text).lstrip(".")
        encoded = text.encode("utf-8")[:MAX_NAME_BYTES]
        text = encoded.decode("utf-8", errors="ignore").rstrip(".") or "profile"
        if text.split(".")[0].upper() in _DEVICES:
            text = "_" + text
        return text

    def name(self, profile_id: str) -> str:
        """The file name for one id: safe and not given before.

        Parameters
        ----------
        profile_id : str
            The profile's id.

        Returns
        -------
        str
            ``<stem>.<extension>``, or ``<stem>-N.<extension>`` when taken.
        """
        stem = self.stem(profile_id)
        candidate, n = stem, 1
        while candidate.casefold() in self._taken:
            n += 1
            candidate = f"{stem}-{n}"
        self._taken.add(candidate.casefold())
        return f"{candidate}.{self.extension}"


def write_whole(name: str, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to the file ``name`` whole or not at all.

    A temporary file beside the target, flushed to disk, then ``os.replace``: a
    reader never sees half a document, and a full disk leaves the old file.

    Parameters
    ----------
    name : str
        The file to write (``-o`` of a command).
    text : str or bytes
        The content; text is written as UTF-8.

    Raises
    ------
    UsageError
        If ``name`` is a folder or cannot be written; the message names it.
    """
    target = Path(name)
    if target.is_dir():
        raise UsageError(f"-o {name}: is a directory")
    folder = target.parent
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else None
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"-o {name}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8") if isinstance(text, str) else text)
            out.flush()
            os.fsync(out.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"-o {name}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
