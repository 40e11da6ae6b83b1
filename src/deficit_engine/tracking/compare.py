"""Progress between two diagnoses of one person: :func:`progress`.

The seeds' cycle ends in a re-diagnosis («проводит диагностику вновь
сформированных в ходе повышения квалификации»). :func:`progress` compares the
earlier and the later Result competency by competency, and tells which steps of
the earlier route were done before the later diagnosis. It is pure: the same two
Results and marks give the same :class:`Progress`. The labels are defined in
docs/tracking.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..errors import UsageError
from ..models import Result, Route, StepMark
from ..rules import SEVERITIES
from .marks import latest_marks

__all__ = [
    "LABELS",
    "CompetencyChange",
    "Evaluator",
    "Label",
    "Progress",
    "StepProgress",
    "after_texts",
    "as_result",
    "progress",
    "signed",
]

Label = Literal["closed", "persisting", "improved", "worsened", "new"]

#: The labels of a competency's deficit between two diagnoses.
LABELS: tuple[Label, ...] = ("closed", "persisting", "improved", "worsened", "new")

#: Russian words for the labels, as «Результат после» says them.
LABEL_RU: dict[str, str] = {
    "closed": "дефицит закрыт",
    "persisting": "дефицит сохраняется",
    "improved": "дефицит уменьшился",
    "worsened": "дефицит усилился",
    "new": "новый дефицит",
}

_RANK = {severity: i for i, severity in enumerate(SEVERITIES)}  # 0: the most severe


class Evaluator(Protocol):
    """What turns a profile into a Result (an :class:`~deficit_engine.Engine`)."""

    def evaluate(self, profile: Any) -> Result: ...


def as_result(item: Any, engine: Evaluator | None, what: str) -> Result:
    """``item`` itself when it is a Result; else the Result ``engine`` makes of it.

    Parameters
    ----------
    item : Result or profile
        A Result, or a profile (a mapping or a Profile) to evaluate.
    engine : Evaluator or None
        What evaluates a profile.
    what : str
        How the message names the argument.

    Returns
    -------
    Result
        The Result.

    Raises
    ------
    UsageError
        If ``item`` is a profile and no ``engine`` is given, or it is a failed Result.
    """
    if isinstance(item, Result):
        result = item
    elif engine is None:
        raise UsageError(f"{what}: a profile needs an engine to be evaluated (engine=...)")
    else:
        result = engine.evaluate(item)
    if not result.ok:
        raise UsageError(f"{what}: the Result of '{result.profile}' is a failed evaluation")
    return result


@dataclass(frozen=True)
class CompetencyChange:
    """One competency between the earlier and the later diagnosis.

    Attributes
    ----------
    competency : str
        Its id.
    score_before, score_after : float or None
        Its score in percent at each diagnosis (None: not measured).
    level_before, level_after : str or None
        Its level on the KB's scale at each diagnosis.
    severity_before, severity_after : str or None
        Its deficit's severity at each diagnosis (None: no deficit).
    label : str or None
        ``closed``, ``persisting``, ``improved``, ``worsened`` or ``new``; None
        when it had a deficit at neither diagnosis.
    """

    competency: str
    score_before: float | None
    score_after: float | None
    level_before: str | None
    level_after: str | None
    severity_before: str | None
    severity_after: str | None
    label: Label | None

    @property
    def delta(self) -> float | None:
        """The change in score, in percentage points (None unless both are known)."""
        if self.score_before is None or self.score_after is None:
            return None
        return round(self.score_after - self.score_before, 2)

    def to_dict(self) -> dict[str, Any]:
        """The change as a JSON-ready dict.

        Returns
        -------
        dict
            Every attribute, then ``delta``.
        """
        out = json_fields(self)
        out["delta"] = self.delta
        return out


class FieldsAsJson:
    """A flat dataclass whose JSON is its fields (:func:`json_fields`)."""

    def to_dict(self) -> dict[str, Any]:
        """The value as a JSON-ready dict.

        Returns
        -------
        dict
            Every attribute, by its name, tuples as lists.
        """
        return json_fields(self)


@dataclass(frozen=True)
class StepProgress(FieldsAsJson):
    """One step of the earlier route and what its marks say.

    Attributes
    ----------
    step : str
        The step's id.
    competencies : tuple of str
        What it works on.
    status : str or None
        Its latest mark's status (None: never marked).
    date, evidence : str or None
        That mark's date and evidence.
    done_before : bool
        Marked done on or before the later diagnosis (or done with no date to
        compare, or when the later diagnosis has no date).
    """

    step: str
    competencies: tuple[str, ...]
    status: str | None
    date: str | None
    evidence: str | None
    done_before: bool


@dataclass(frozen=True)
class Progress:
    """What changed between two diagnoses of one person (:func:`progress`).

    Attributes
    ----------
    person : str
        The profile id both Results are of.
    earlier_date, later_date : str or None
        Each diagnosis's date: the latest date among its results' provenance.
    competencies : tuple of CompetencyChange
        Every competency measured or in deficit at either diagnosis, by id.
    steps : tuple of StepProgress
        The followed route's steps, in route order (empty without a route).
    """

    person: str
    earlier_date: str | None
    later_date: str | None
    competencies: tuple[CompetencyChange, ...]
    steps: tuple[StepProgress, ...]

    def change(self, competency: str) -> CompetencyChange | None:
        """One competency's change (None when neither diagnosis has it).

        Parameters
        ----------
        competency : str
            Its id.

        Returns
        -------
        CompetencyChange or None
        """
        return next((c for c in self.competencies if c.competency == competency), None)

    def labels(self) -> dict[str, str]:
        """The labels of the competencies that have one.

        Returns
        -------
        dict of str to str
            Competency id -> ``closed``, ``persisting``, ``improved``, ``worsened``
            or ``new``.
        """
        return {c.competency: c.label for c in self.competencies if c.label is not None}

    def to_dict(self) -> dict[str, Any]:
        """The progress as a JSON-ready dict.

        Returns
        -------
        dict
            ``person``, ``earlier_date``, ``later_date``, ``competencies``, ``steps``.
        """
        return {
            "person": self.person,
            "earlier_date": self.earlier_date,
            "later_date": self.later_date,
            "competencies": [c.to_dict() for c in self.competencies],
            "steps": [s.to_dict() for s in self.steps],
        }


def json_fields(value: Any) -> dict[str, Any]:
    """A flat dataclass's fields as a JSON-ready dict, tuples as lists.

    Parameters
    ----------
    value : dataclass instance
        A value whose fields are JSON-ready (tuples of such values included).

    Returns
    -------
    dict
        Field name -> value, in field order.
    """
    return {
        f.name: list(v) if isinstance(v := getattr(value, f.name), tuple) else v
        for f in dataclasses.fields(value)
    }


def progress(
    earlier: Any,
    later: Any,
    marks: Sequence[StepMark] = (),
    *,
    engine: Evaluator | None = None,
    route: Route | None = None,
) -> Progress:
    """Compare two diagnoses of one person, competency by competency and step by step.

    Parameters
    ----------
    earlier, later : Result or profile
        The two diagnoses: Results, or profiles that ``engine`` evaluates.
    marks : sequence of StepMark
        The tutor's marks on the earlier route's steps.
    engine : Evaluator, optional
        What evaluates a profile given instead of a Result.
    route : Route, optional
        The route that was followed, when it is not the earlier Result's (a
        route :func:`~deficit_engine.tracking.revise` made).

    Returns
    -------
    Progress
        Per competency the change in score, level and deficit with its label;
        per step of the route followed (the earlier Result's by default), its
        latest mark and whether it was done before the later diagnosis.

    Raises
    ------
    UsageError
        If the two are of different persons (profile ids), a profile comes
        without an engine, or a Result is a failed evaluation.
    """
    before = as_result(earlier, engine, "earlier")
    after = as_result(later, engine, "later")
    if before.profile != after.profile:
        raise UsageError(
            f"progress compares one person's diagnoses: "
            f"'{before.profile}' and '{after.profile}' are two"
        )
    later_date = diagnosis_date(after)
    return Progress(
        person=after.profile,
        earlier_date=diagnosis_date(before),
        later_date=later_date,
        competencies=_changes(before, after),
        steps=_steps(route or before.route, marks, later_date),
    )


def diagnosis_date(result: Result) -> str | None:
    """When a diagnosis was made: the latest date of the results it read.

    Parameters
    ----------
    result : Result
        A Result with provenance.

    Returns
    -------
    str or None
        ``YYYY-MM-DD``; None when no result it read has a date.
    """
    return max((p.date for p in result.provenance if p.date is not None), default=None)


def _measured(result: Result) -> tuple[dict[str, float], dict[str, str]]:
    """Competency -> score and -> level; from the deficits when the Result has no scores."""
    if result.scores is not None:
        return result.scores.competency_pct, result.scores.competency_level
    return {d.competency: d.score_pct for d in result.deficits if d.score_pct is not None}, {}


def _changes(before: Result, after: Result) -> tuple[CompetencyChange, ...]:
    scores_before, levels_before = _measured(before)
    scores_after, levels_after = _measured(after)
    severities_before, severities_after = before.severities, after.severities
    ids = {*scores_before, *scores_after, *severities_before, *severities_after}
    return tuple(
        CompetencyChange(
            competency,
            scores_before.get(competency),
            scores_after.get(competency),
            levels_before.get(competency),
            levels_after.get(competency),
            severities_before.get(competency),
            severities_after.get(competency),
            deficit_label(severities_before.get(competency), severities_after.get(competency)),
        )
        for competency in sorted(ids)
    )


def deficit_label(before: str | None, after: str | None) -> Label | None:
    """How a competency's deficit changed between two diagnoses.

    Parameters
    ----------
    before, after : str or None
        The deficit's severity at each diagnosis; None: no deficit.

    Returns
    -------
    str or None
        ``closed`` (gone), ``new`` (appeared), ``improved`` / ``worsened`` (less /
        more severe), ``persisting`` (as severe); None when there was none at all.
    """
    if before is None:
        return None if after is None else "new"
    if after is None:
        return "closed"
    rank_before = _RANK.get(before, len(_RANK))
    rank_after = _RANK.get(after, len(_RANK))
    if rank_after > rank_before:
        return "improved"
    if rank_after < rank_before:
        return "worsened"
    return "persisting"


def _steps(
    route: Route | None, marks: Sequence[StepMark], later_date: str | None
) -> tuple[StepProgress, ...]:
    if route is None:
        return ()
    latest = latest_marks(marks)
    out = []
    for step in route.steps:
        mark = latest.get(step.id)
        done = mark is not None and mark.status == "done"
        in_time = mark is None or mark.date is None or later_date is None or mark.date <= later_date
        out.append(
            StepProgress(
                step.id,
                step.competencies,
                None if mark is None else mark.status,
                None if mark is None else mark.date,
                None if mark is None else mark.evidence,
                done and in_time,
            )
        )
    return tuple(out)


def after_texts(result: Progress, titles: Mapping[str, str] | None = None) -> dict[str, str]:
    """The «Результат после» text of each step: its competencies at the re-diagnosis.

    Parameters
    ----------
    result : Progress
        What :func:`progress` found.
    titles : Mapping of str to str, optional
        Competency id -> its title (the KB's); the id when missing.

    Returns
    -------
    dict of str to str
        Step id -> one line per competency the step works on that the later
        diagnosis measured, such as ``Проектирование урока: 48% → 76% (+28),
        дефицит закрыт``; steps with nothing to say are left out.
    """
    names = titles or {}
    lines: dict[str, str] = {}
    for step in result.steps:
        parts = [
            _after_line(change, names.get(change.competency, change.competency))
            for competency in step.competencies
            if (change := result.change(competency)) is not None and change.score_after is not None
        ]
        if parts:
            lines[step.step] = "; ".join(parts)
    return lines


def _after_line(change: CompetencyChange, title: str) -> str:
    assert change.score_after is not None
    text = f"{title}: "
    if change.score_before is not None and change.delta is not None:
        before, after = _pct(change.score_before), _pct(change.score_after)
        text += f"{before}% → {after}% ({signed(change.delta)})"
    else:
        text += f"{_pct(change.score_after)}%"
    if change.label is not None:
        text += f", {LABEL_RU[change.label]}"
    return text


def _pct(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def signed(delta: float) -> str:
    """A change in percentage points as Russian text shows it: ``+16``, ``-2,5``, ``0``.

    Parameters
    ----------
    delta : float
        The change.

    Returns
    -------
    str
        With its sign (none for 0) and a decimal comma.
    """
    return ("+" if delta > 0 else "") + _pct(delta)
