"""A tutor's mark on one step of a route: :class:`StepMark`.

The seeds give every route a tutor (тьюторское сопровождение) who records what
was done. A mark is that record for one step: its state, the date it took that
state and the evidence (a certificate number, an internship report, a file
name). Marks are kept apart from the :class:`~deficit_engine.models.route.Route`
they refer to, by step id, because a route is recomputed (``revise``) while the
marks stay as the tutor wrote them.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal, NamedTuple

from ..errors import UsageError

__all__ = ["MARK_STATUSES", "MarkStatus", "StepMark"]

MarkStatus = Literal["planned", "in_progress", "done", "skipped"]

#: The states a step can be marked with, in the order a step goes through them.
MARK_STATUSES: tuple[MarkStatus, ...] = ("planned", "in_progress", "done", "skipped")

#: Evidence is a reference (a number, a file name), not a document: a bound keeps
#: a pasted text out of the store and the printed route.
MAX_EVIDENCE = 500


class StepMark(NamedTuple):
    """The state of one route step as its tutor marked it.

    Attributes
    ----------
    step : str
        The id of the step in the route (``Step.id``).
    status : {'planned', 'in_progress', 'done', 'skipped'}
        What happened to the step.
    date : str or None
        When it took that state, ISO ``YYYY-MM-DD``.
    evidence : str or None
        What shows it: a certificate number, an internship report, a file name.
    """

    step: str
    status: MarkStatus
    date: str | None = None
    evidence: str | None = None

    @classmethod
    def make(
        cls, step: str, status: str, date: str | None = None, evidence: str | None = None
    ) -> StepMark:
        """Build a mark, checking every field.

        Parameters
        ----------
        step : str
            The step id; not empty.
        status : str
            One of :data:`MARK_STATUSES`.
        date : str, optional
            An ISO date, ``YYYY-MM-DD``.
        evidence : str, optional
            At most 500 characters, one line.

        Returns
        -------
        StepMark

        Raises
        ------
        UsageError
            If a field is empty, unknown or malformed; the message names the field.
        """
        if not isinstance(step, str) or not step.strip():
            raise UsageError("mark: step: a step id is required")
        if status not in MARK_STATUSES:
            raise UsageError(f"mark: status: {status!r} is not one of {', '.join(MARK_STATUSES)}")
        if date is not None:
            try:
                datetime.date.fromisoformat(date)
            except (TypeError, ValueError):
                raise UsageError(f"mark: date: {date!r} is not a date YYYY-MM-DD") from None
        if evidence is not None:
            evidence = evidence.strip() or None
        if evidence is not None and (len(evidence) > MAX_EVIDENCE or "\n" in evidence):
            raise UsageError(f"mark: evidence: at most {MAX_EVIDENCE} characters on one line")
        return cls(step.strip(), status, date, evidence)

    def to_dict(self) -> dict[str, Any]:
        """The mark as JSON.

        Returns
        -------
        dict
            ``step``, ``status``, ``date``, ``evidence``.
        """
        return self._asdict()
