"""The people a service keeps: their diagnoses, current route and step marks.

:class:`Records` is what the stored endpoints and pages need, and nothing
more; :class:`MemoryRecords` keeps them in the process (a service started
without ``--db``, and the tests). A person is kept under the profile's own id,
which the seeds' cohort files already make pseudonymous; their municipality
and organisation decide which tutors see them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..errors import UnknownIdError, UsageError
from ..models import Result, StepMark
from ..schema import Profile

__all__ = ["Diagnosis", "MemoryRecords", "PersonRecord", "Records"]


@dataclass(frozen=True)
class Diagnosis:
    """One diagnosis of a person: the profile as validated and its Result."""

    profile: Profile
    result: Result


@dataclass(frozen=True)
class PersonRecord:
    """A person as kept: their latest diagnosis, how many there are, and the
    marks on the current route's steps (by step id).

    Attributes
    ----------
    id : str
        The profile's (pseudonymous) id.
    latest : Diagnosis
        The last diagnosis: the route the person follows now.
    count : int
        How many diagnoses are kept (at least 1: a person is created by their first).
    marks : dict of str to StepMark
        The tutor's marks, by step id.
    """

    id: str
    latest: Diagnosis
    count: int = 1
    marks: dict[str, StepMark] = field(default_factory=dict)

    @property
    def municipality(self) -> str | None:
        """The municipality of the latest profile (what a tutor's scope is checked against)."""
        return self.latest.profile.person.municipality

    @property
    def organization(self) -> str | None:
        """The organisation of the latest profile."""
        return self.latest.profile.person.organization


class Records(Protocol):
    """What the service keeps (a database store, or :class:`MemoryRecords`)."""

    def add_diagnosis(self, profile: Profile, result: Result) -> PersonRecord:
        """Keep a diagnosis, creating the person on their first one."""
        ...

    def person(self, person_id: str) -> PersonRecord | None:
        """The person kept under ``person_id``, or None."""
        ...

    def persons(self) -> list[PersonRecord]:
        """Every person, by id."""
        ...

    def history(self, person_id: str) -> list[Diagnosis]:
        """Every diagnosis of a person, oldest first."""
        ...

    def mark(self, person_id: str, mark: StepMark) -> PersonRecord:
        """Record a mark on a step of the person's current route."""
        ...


class MemoryRecords:
    """:class:`Records` in the process's memory, safe across request threads."""

    def __init__(self) -> None:
        self._people: dict[str, PersonRecord] = {}
        self._history: dict[str, list[Diagnosis]] = {}
        self._lock = threading.Lock()

    def add_diagnosis(self, profile: Profile, result: Result) -> PersonRecord:
        """Keep a diagnosis; marks of steps the new route still has are kept.

        Parameters
        ----------
        profile : Profile
            The validated profile (its id names the person).
        result : Result
            Its evaluation.

        Returns
        -------
        PersonRecord
            The person as now kept.
        """
        with self._lock:
            old = self._people.get(profile.id)
            diagnosis = Diagnosis(profile, result)
            if old is None:
                record = PersonRecord(profile.id, diagnosis)
            else:
                steps = _step_ids(result)
                marks = {k: v for k, v in old.marks.items() if k in steps}
                record = PersonRecord(profile.id, diagnosis, old.count + 1, marks)
            self._people[profile.id] = record
            self._history.setdefault(profile.id, []).append(diagnosis)
            return record

    def person(self, person_id: str) -> PersonRecord | None:
        """The person kept under ``person_id``, or None.

        Parameters
        ----------
        person_id : str

        Returns
        -------
        PersonRecord or None
        """
        with self._lock:
            return self._people.get(person_id)

    def persons(self) -> list[PersonRecord]:
        """Every person kept, sorted by id.

        Returns
        -------
        list of PersonRecord
        """
        with self._lock:
            return [self._people[k] for k in sorted(self._people)]

    def history(self, person_id: str) -> list[Diagnosis]:
        """Every diagnosis of a person, oldest first (empty for an unknown one).

        Parameters
        ----------
        person_id : str

        Returns
        -------
        list of Diagnosis
        """
        with self._lock:
            return list(self._history.get(person_id, ()))

    def mark(self, person_id: str, mark: StepMark) -> PersonRecord:
        """Record ``mark`` on the person's current route, replacing the step's last mark.

        Parameters
        ----------
        person_id : str
        mark : StepMark

        Returns
        -------
        PersonRecord
            The person with the mark.

        Raises
        ------
        UnknownIdError
            If no person is kept under ``person_id``.
        UsageError
            If the current route has no step ``mark.step``.
        """
        with self._lock:
            old = self._people.get(person_id)
            if old is None:
                raise UnknownIdError(f"no person {person_id!r}")
            if mark.step not in _step_ids(old.latest.result):
                raise UsageError(f"mark: step: the route has no step {mark.step!r}")
            record = replace(old, marks={**old.marks, mark.step: mark})
            self._people[person_id] = record
            return record


def _step_ids(result: Result) -> set[str]:
    route = result.route
    return {step.id for step in route.steps} if route is not None else set()
