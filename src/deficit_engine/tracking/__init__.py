"""The ИОМ over time (issue 14): marks, progress between diagnoses, route revision.

* :mod:`.marks` -- reading a tutor's marks file;
* :mod:`.compare` -- :func:`progress`, two diagnoses of one person compared;
* :mod:`.replan` -- :func:`revise`, a route replanned after a re-diagnosis.

Everything here is a pure function of its arguments (a file reader aside): the
store and the command line build on it.
"""

from __future__ import annotations

from .compare import (
    LABELS,
    CompetencyChange,
    Progress,
    StepProgress,
    after_texts,
    deficit_label,
    diagnosis_date,
    progress,
)
from .marks import MARK_STATUS_RU, MarksError, latest_marks, mark_texts, parse_marks, read_marks
from .replan import DROP_REASONS, Dropped, Revision, revise

__all__ = [
    "DROP_REASONS",
    "LABELS",
    "MARK_STATUS_RU",
    "CompetencyChange",
    "Dropped",
    "MarksError",
    "Progress",
    "Revision",
    "StepProgress",
    "after_texts",
    "deficit_label",
    "diagnosis_date",
    "latest_marks",
    "mark_texts",
    "parse_marks",
    "progress",
    "read_marks",
    "revise",
]
