"""Reading a tutor's marks file: a YAML or JSON list of step marks.

A marks file is what a tutor keeps beside a printed route::

    - {step: s1, status: done, date: 2026-11-20, evidence: удостоверение № 4512}
    - {step: s3, status: in_progress, date: 2026-12-01}

Every problem is reported at once, each by its place (``marks.yaml:3:12`` and the
field path ``[1].status``), as a profile's are; nothing is read half.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._yaml import MAX_FILE_BYTES, Loaded, Positions, load_yaml_file
from ..errors import Issue, MarksError, SourceError, UsageError
from ..labels import MARK_STATUS_RU
from ..models import MARK_STATUSES, StepMark
from ..profile import load_json_text

__all__ = [
    "MARK_STATUS_RU",
    "MarksError",
    "latest_marks",
    "mark_texts",
    "parse_marks",
    "read_marks",
]


#: The fields of one mark; any other is refused, so a misspelt ``evidense`` is not lost.
_FIELDS = ("step", "status", "date", "evidence")


def read_marks(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> tuple[StepMark, ...]:
    """Read a marks file: YAML, or JSON when its name ends in ``.json``.

    Parameters
    ----------
    path : Path or str
        The file.
    max_bytes : int
        Files larger than this are refused.

    Returns
    -------
    tuple of StepMark
        The marks in file order.

    Raises
    ------
    MarksError
        If the file cannot be read or parsed, or any mark is malformed: every
        problem, each named by ``file:line:col`` (YAML) or ``file:[i].field`` (JSON).
    """
    name = str(path)
    file = Path(path)
    if file.suffix.lower() == ".json":
        doc = Loaded(name, _json_document(file, name, max_bytes), Positions(), [], placed=False)
    else:
        doc = load_yaml_file(file, name, max_bytes)
        if doc.issues:
            raise MarksError(doc.issues)
    return parse_marks(doc.data, doc)


def _json_document(file: Path, name: str, max_bytes: int) -> Any:
    try:
        if file.stat().st_size > max_bytes:
            raise MarksError([Issue(name, 1, 1, "too-large", f"the limit is {max_bytes} bytes")])
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MarksError([Issue(name, 0, 0, "unreadable", exc.strerror or str(exc))]) from None
    except UnicodeDecodeError:
        raise MarksError([Issue(name, 1, 1, "encoding", "file is not valid UTF-8")]) from None
    try:
        return load_json_text(text, name)
    except SourceError as exc:
        raise MarksError(exc.issues) from None


def parse_marks(data: Any, doc: Loaded | None = None) -> tuple[StepMark, ...]:
    """Check a marks document (a list of mappings) and build its marks.

    Parameters
    ----------
    data : Any
        The document as read: a list of ``{step, status, date, evidence}``.
    doc : Loaded, optional
        The document it was read from, to place the issues; none: by path only.

    Returns
    -------
    tuple of StepMark
        The marks in document order.

    Raises
    ------
    MarksError
        If ``data`` is not a list of marks or any mark is malformed (every problem).
    """
    where = doc if doc is not None else Loaded("", data, Positions(), [], placed=False)
    if not isinstance(data, list):
        raise MarksError([where.issue((), "wrong-type", "a marks file is a list of marks")])
    marks: list[StepMark] = []
    issues: list[Issue] = []
    for i, item in enumerate(data):
        problems = _mark_issues(where, i, item)
        if problems:
            issues += problems
        else:
            marks.append(StepMark.make(**{k: _text(item.get(k)) for k in _FIELDS}))
    if issues:
        raise MarksError(issues)
    return tuple(marks)


def _text(value: Any) -> Any:
    # YAML reads an unquoted 2026-11-20 as a date: it is the date the tutor wrote
    return value.isoformat() if isinstance(value, datetime.date) else value


def _mark_issues(doc: Loaded, index: int, item: Any) -> list[Issue]:
    """The problems of one mark, each at its field."""
    if not isinstance(item, Mapping):
        return [doc.issue((index,), "wrong-type", "a mark is a mapping {step, status, ...}")]
    issues = [
        doc.issue((index, key), "unknown-field", f"unknown field '{key}'", key=True)
        for key in item
        if key not in _FIELDS
    ]
    for key in _FIELDS:
        value = _text(item.get(key))
        if value is not None and not isinstance(value, str):
            issues.append(doc.issue((index, key), "wrong-type", f"'{key}' must be text"))
            continue
        try:
            _check_field(key, value)
        except UsageError as exc:
            # StepMark.make says "mark: FIELD: why": the place replaces the prefix
            issues.append(doc.issue((index, key), "invalid-value", str(exc).split(": ", 2)[-1]))
    return issues


def _check_field(key: str, value: str | None) -> None:
    """Check one field as :meth:`StepMark.make` would (the others given valid values)."""
    sample = {"step": "s1", "status": MARK_STATUSES[0], "date": None, "evidence": None}
    StepMark.make(**{**sample, key: value})  # type: ignore[arg-type]


def latest_marks(marks: Sequence[StepMark]) -> dict[str, StepMark]:
    """Each step's mark that holds now: its latest by date, then the later in the list.

    Parameters
    ----------
    marks : sequence of StepMark
        A tutor's marks, in the order written; a step may have several.

    Returns
    -------
    dict of str to StepMark
        Step id -> its latest mark (an undated mark counts as the earliest).
    """
    latest: dict[str, tuple[tuple[str, int], StepMark]] = {}
    for index, mark in enumerate(marks):
        rank = (mark.date or "", index)
        if mark.step not in latest or rank >= latest[mark.step][0]:
            latest[mark.step] = (rank, mark)
    return {step: mark for step, (_rank, mark) in latest.items()}


def mark_texts(marks: Sequence[StepMark]) -> dict[str, str]:
    """The «Отметка о выполнении» of each marked step, for the ИОМ document.

    Parameters
    ----------
    marks : sequence of StepMark
        A tutor's marks (the latest per step counts, :func:`latest_marks`).

    Returns
    -------
    dict of str to str
        Step id -> its status in Russian, the date as ``ДД.ММ.ГГГГ`` and the
        evidence, such as ``выполнено 30.10.2026, удостоверение № 4512``.
    """
    texts: dict[str, str] = {}
    for step, mark in latest_marks(marks).items():
        text = MARK_STATUS_RU[mark.status]
        if mark.date is not None:
            text += " " + datetime.date.fromisoformat(mark.date).strftime("%d.%m.%Y")
        if mark.evidence is not None:
            text += f", {mark.evidence}"
        texts[step] = text
    return texts
