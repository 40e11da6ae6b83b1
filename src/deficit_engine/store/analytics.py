"""Effectiveness analytics over two stored runs of one cohort (issue 14, part 5).

The earlier run is the diagnosis whose routes were followed, the later one the
re-diagnosis. For each programme, format and mentor of the earlier routes:

- a *targeted deficit* is a deficit of the earlier diagnosis in a competency the
  step works on (one per person, step and competency);
- it is *closed* when the later diagnosis has no deficit in that competency;
- the people are split by whether the step's newest mark on that route is
  ``done``, dated no later than the re-diagnosis (or undated), and each side is
  given with its counts, so that 1 of 1 is visibly not 40 of 40.

For each municipality and organisation, a teacher diagnosed in both runs has
*improved* when at least one deficit was closed or became less severe and none
appeared or became more severe. Only people in both runs are counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SEVERITY_RANK", "Effectiveness", "PlaceChange", "StepEffect", "Stored", "effectiveness"]

#: Severities from the mildest: a higher rank is a more severe deficit.
SEVERITY_RANK: Mapping[str, int] = {"low": 1, "moderate": 2, "high": 3, "critical": 4}
#: The step kinds whose catalogue item the analytics judge (programme, mentor, format).
JUDGED_KINDS: tuple[str, ...] = ("program", "format", "mentoring")
#: Where a person is placed when their profile does not say.
UNKNOWN = "—"


@dataclass(frozen=True)
class Stored:
    """One person in one run, as the analytics need them."""

    municipality: str | None
    organization: str | None
    deficits: Mapping[str, str]  # competency -> severity
    steps: tuple[Mapping[str, Any], ...]  # the route's steps, as JSON
    done: Mapping[str, str | None]  # step id -> the date of its newest mark, when done
    diagnosed_on: str | None = None  # the latest date among the diagnosis's results


def done_before(before: Stored, after: Stored, step: str) -> bool:
    """Whether a step of the earlier route was done by the later diagnosis: its newest
    mark is ``done`` and dated no later than the re-diagnosis (or either is undated).

    Parameters
    ----------
    before, after : Stored
        The person in the earlier and the later run.
    step : str
        The step's id in the earlier route.

    Returns
    -------
    bool
    """
    if step not in before.done:
        return False
    date = before.done[step]
    return date is None or after.diagnosed_on is None or date <= after.diagnosed_on


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class StepEffect:
    """One catalogue item's targeted deficits and how many closed, by completion.

    Attributes
    ----------
    kind : str
        ``program``, ``format`` or ``mentoring``.
    ref : str
        The catalogue id (the mentor's id for mentoring).
    title : str
        The step's title.
    done_targeted, done_closed : int
        Targeted deficits of the people whose step is marked done, and how many closed.
    other_targeted, other_closed : int
        The same for the people whose step is not marked done.
    """

    kind: str
    ref: str
    title: str
    done_targeted: int
    done_closed: int
    other_targeted: int
    other_closed: int

    @property
    def done_share(self) -> float | None:
        """Percent closed among those who completed the step (None with no one)."""
        return _share(self.done_closed, self.done_targeted)

    @property
    def other_share(self) -> float | None:
        """Percent closed among those who did not (None with no one)."""
        return _share(self.other_closed, self.other_targeted)

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON, the shares included.

        Returns
        -------
        dict
        """
        return {
            "kind": self.kind,
            "ref": self.ref,
            "title": self.title,
            "done": {
                "targeted": self.done_targeted,
                "closed": self.done_closed,
                "share": self.done_share,
            },
            "not_done": {
                "targeted": self.other_targeted,
                "closed": self.other_closed,
                "share": self.other_share,
            },
        }


@dataclass(frozen=True)
class PlaceChange:
    """The teachers of one municipality or organisation diagnosed in both runs.

    Attributes
    ----------
    by : str
        ``municipality`` or ``organization``.
    name : str
        Its name (``—`` for people whose profile does not say).
    persons : int
        Teachers diagnosed in both runs.
    improved : int
        How many of them improved.
    """

    by: str
    name: str
    persons: int
    improved: int

    @property
    def share(self) -> float | None:
        """Percent improved."""
        return _share(self.improved, self.persons)

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON, the share included.

        Returns
        -------
        dict
        """
        return {
            "by": self.by,
            "name": self.name,
            "persons": self.persons,
            "improved": self.improved,
            "share": self.share,
        }


@dataclass(frozen=True)
class Effectiveness:
    """What one run's routes achieved by the next diagnosis.

    Attributes
    ----------
    earlier, later : str
        The two run ids.
    persons : int
        People diagnosed in both.
    steps : tuple of StepEffect
        By kind, then catalogue id.
    places : tuple of PlaceChange
        Municipalities, then organisations, each by name.
    """

    earlier: str
    later: str
    persons: int
    steps: tuple[StepEffect, ...]
    places: tuple[PlaceChange, ...]

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON (what ``report --effectiveness`` shows).

        Returns
        -------
        dict
            ``earlier``, ``later``, ``persons``, ``steps`` and ``places``.
        """
        return {
            "earlier": self.earlier,
            "later": self.later,
            "persons": self.persons,
            "steps": [s.to_dict() for s in self.steps],
            "places": [p.to_dict() for p in self.places],
        }


def effectiveness(
    earlier: str,
    later: str,
    first: Mapping[str, Stored],
    second: Mapping[str, Stored],
) -> Effectiveness:
    """The effectiveness figures of two runs, person by person.

    Parameters
    ----------
    earlier, later : str
        The run ids.
    first, second : mapping of str to Stored
        Each run's people by pseudonymous id.

    Returns
    -------
    Effectiveness
    """
    both = sorted(set(first) & set(second))
    return Effectiveness(
        earlier,
        later,
        len(both),
        _step_effects([(first[p], second[p]) for p in both]),
        _places([(second[p], improved(first[p].deficits, second[p].deficits)) for p in both]),
    )


def improved(before: Mapping[str, str], after: Mapping[str, str]) -> bool:
    """Whether a teacher improved: something better, nothing worse.

    Parameters
    ----------
    before, after : mapping of str to str
        Competency -> severity of each diagnosis's deficits.

    Returns
    -------
    bool
        True when a deficit was closed or became less severe and none appeared or
        became more severe.
    """
    better = worse = False
    for competency in {*before, *after}:
        was = SEVERITY_RANK.get(before.get(competency, ""), 0)
        now = SEVERITY_RANK.get(after.get(competency, ""), 0)
        better = better or now < was
        worse = worse or now > was
    return better and not worse


def _step_effects(pairs: Sequence[tuple[Stored, Stored]]) -> tuple[StepEffect, ...]:
    """Count each targeted deficit once per person, step and competency."""
    counts: dict[tuple[str, str], list[int]] = {}
    titles: dict[tuple[str, str], str] = {}
    for before, after in pairs:
        for step in before.steps:
            key = (str(step.get("kind")), str(step.get("ref") or ""))
            if key[0] not in JUDGED_KINDS or not key[1]:
                continue
            titles.setdefault(key, str(step.get("title") or key[1]))
            row = counts.setdefault(key, [0, 0, 0, 0])
            side = 0 if done_before(before, after, str(step.get("id"))) else 2
            for competency in step.get("competencies") or ():
                if competency in before.deficits:
                    row[side] += 1
                    row[side + 1] += competency not in after.deficits
    order = {kind: n for n, kind in enumerate(JUDGED_KINDS)}
    return tuple(
        StepEffect(kind, ref, titles[(kind, ref)], *row)
        for (kind, ref), row in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))
        if row[0] or row[2]
    )


def _places(people: Sequence[tuple[Stored, bool]]) -> tuple[PlaceChange, ...]:
    rows: list[PlaceChange] = []
    for by in ("municipality", "organization"):
        tally: dict[str, list[int]] = {}
        for person, better in people:
            name = getattr(person, by) or UNKNOWN
            entry = tally.setdefault(name, [0, 0])
            entry[0] += 1
            entry[1] += better
        rows.extend(PlaceChange(by, name, n, k) for name, (n, k) in sorted(tally.items()))
    return tuple(rows)
