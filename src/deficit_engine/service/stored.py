"""People kept in the database store (:class:`deficit_engine.store.Store`, issue 14).

:class:`StoreRecords` is :class:`~deficit_engine.service.records.Records` over a
``Store``: a diagnosis is recorded with the KB's hash in one transaction, marks
go to the person's newest route version, and a person is read back from their
stored history. The store keeps a Result as JSON; the service renders the ИОМ
from a Result object, so the latest stored profile is evaluated again with the
service's engine (the same KB gives the same Result), once per diagnosis.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import UnknownIdError
from ..models import Result, StepMark
from ..schema import Profile
from .records import Diagnosis, PersonRecord

if TYPE_CHECKING:
    # imported where used: the store and SQLAlchemy are needed only with --db
    from ..store import Store

__all__ = ["StoreRecords"]


class StoreRecords:
    """:class:`~deficit_engine.service.records.Records` in a database.

    Parameters
    ----------
    store : Store
        The store (its schema upgraded: ``deficit-engine db upgrade``).
    engine : Engine
        The service's engine: its KB's hash goes with each Result, and it
        evaluates stored profiles back into Results.
    """

    def __init__(self, store: Store, engine: Engine) -> None:
        self.store, self.engine = store, engine
        self._lock = threading.Lock()
        self._evaluated: dict[int, Diagnosis] = {}

    def add_diagnosis(self, profile: Profile, result: Result) -> PersonRecord:
        """Record a diagnosis (one transaction).

        Parameters
        ----------
        profile : Profile
        result : Result

        Returns
        -------
        PersonRecord
        """
        self.store.record(profile, result)  # with the Result's own kb_hash
        record = self.person(profile.id)
        assert record is not None
        return record

    def person(self, person_id: str) -> PersonRecord | None:
        """The person as stored, or None.

        Parameters
        ----------
        person_id : str

        Returns
        -------
        PersonRecord or None
        """
        history = self.store.history(person_id)
        if not history:
            return None
        marks = {m.step: m for m in self.store.marks(person_id)}
        return PersonRecord(person_id, self._diagnosis(history[-1]), len(history), marks)

    def persons(self) -> list[PersonRecord]:
        """Every stored person, by id.

        Returns
        -------
        list of PersonRecord
        """
        found = (self.person(pid) for pid in self.store.person_ids())
        return [r for r in found if r is not None]

    def history(self, person_id: str) -> list[Diagnosis]:
        """Every stored diagnosis of a person, oldest first.

        Parameters
        ----------
        person_id : str

        Returns
        -------
        list of Diagnosis
        """
        return [self._diagnosis(d) for d in self.store.history(person_id)]

    def mark(self, person_id: str, mark: StepMark) -> PersonRecord:
        """Record a mark on the person's newest route version.

        Parameters
        ----------
        person_id : str
        mark : StepMark

        Returns
        -------
        PersonRecord

        Raises
        ------
        UnknownIdError
            If the store has no such person.
        UsageError
            If their route has no such step.
        """
        if not self.store.history(person_id):
            raise UnknownIdError(f"no person {person_id!r}")
        self.store.mark(person_id, mark)
        record = self.person(person_id)
        assert record is not None
        return record

    def _diagnosis(self, stored: Any) -> Diagnosis:
        with self._lock:
            known = self._evaluated.get(stored.id)
        if known is None:
            profile = self.engine.parse(stored.profile)
            known = Diagnosis(profile, self.engine.evaluate(profile))
            with self._lock:
                self._evaluated[stored.id] = known
        return known
