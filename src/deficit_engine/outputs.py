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
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .models import json_number
from .rules import SEVERITIES

__all__ = [
    "DEFICIT_COLUMNS",
    "PERSON_FIELDS",
    "RESULT_COLUMNS",
    "DocumentNames",
    "FlatTables",
    "person_record",
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


def _csv_cell(value: Any) -> Any:
    """A cell as CSV text: yes/no as 1/0, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    return value


# control characters XML 1.0 cannot hold (openpyxl refuses them)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class FlatTables:
    """results.csv, deficits.csv and results.xlsx, written a person at a time.

    The XLSX is openpyxl's write-only workbook (rows go to temporary files, not
    to memory); numbers stay numbers, and text is always text (a cell starting
    with ``=`` is not made a formula). Each sheet's header row is frozen.

    Parameters
    ----------
    folder : Path
        Where to write the three files (the batch's staging folder).
    keep : sequence of str
        The kept pass-through columns, added after the person fields.
    """

    def __init__(self, folder: Path, keep: Sequence[str] = ()) -> None:
        import openpyxl

        self.keep = tuple(keep)
        self.folder = folder
        # utf-8-sig: Excel opens a CSV with a BOM as UTF-8 (without it, as cp1251)
        self._results_file = (folder / "results.csv").open("w", encoding="utf-8-sig", newline="")
        self._deficits_file = (folder / "deficits.csv").open("w", encoding="utf-8-sig", newline="")
        self._results = csv.writer(self._results_file, lineterminator="\r\n")
        self._deficits = csv.writer(self._deficits_file, lineterminator="\r\n")
        self._book = openpyxl.Workbook(write_only=True)
        self._sheets = (self._book.create_sheet("results"), self._book.create_sheet("deficits"))
        for sheet, header in zip(self._sheets, (self.result_header, DEFICIT_COLUMNS), strict=True):
            sheet.freeze_panes = "A2"
            sheet.append(list(header))
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
        self._sheets[0].append(self._xlsx_row(self._sheets[0], row))
        for deficit in deficit_rows(data, person):
            self._deficits.writerow([_csv_cell(v) for v in deficit])
            self._sheets[1].append(self._xlsx_row(self._sheets[1], deficit))

    @staticmethod
    def _xlsx_row(sheet: Any, row: list[Any]) -> list[Any]:
        from openpyxl.cell import WriteOnlyCell

        cells: list[Any] = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=_ILLEGAL_XML.sub("\ufffd", value))
                cell.data_type = "s"  # text, even when it starts with "="
                cells.append(cell)
            else:
                cells.append(value)
        return cells

    def close(self) -> None:
        """Finish the CSV files and save the workbook.

        Returns
        -------
        None
        """
        self._results_file.close()
        self._deficits_file.close()
        self._book.save(self.folder / "results.xlsx")

    def discard(self) -> None:
        """Close the files without saving the workbook (the batch failed).

        Returns
        -------
        None
        """
        self._results_file.close()
        self._deficits_file.close()
        # saving is how openpyxl finishes each sheet's temporary file and removes it;
        # the workbook goes with the staging folder, and the batch's own error wins
        with contextlib.suppress(Exception):
            self._book.save(self.folder / "results.xlsx")


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
