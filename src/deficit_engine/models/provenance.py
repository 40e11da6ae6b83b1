"""Where a score came from: :class:`Provenance`.

A profile may hold several results for one competency (a ЦНППМ test, a
self-assessment, a lesson observed by the methodical council); the profile stage
picks one by the KB's instrument policy (docs/provenance.md) and records the
choice here, so that the Result and the trace say which instrument, which source
and which date a score is from. Who assessed is not recorded: it may be a
person's name, and names stay in the profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .diagnosis import _Value

__all__ = ["PlainProvenance", "Provenance", "plain_provenance"]

_new = object.__new__
_set_attr = object.__setattr__


@dataclass(frozen=True)
class Provenance(_Value):
    """The result a competency's or an indicator's score was read from.

    Attributes
    ----------
    target : str
        The competency or indicator id.
    kind : {'competency', 'indicator'}
        Which of the two ``target`` is.
    score_pct : float
        The chosen result's score in percent.
    instrument : str or None
        The instrument as the profile names it.
    instrument_id : str or None
        The KB's instrument (``ontology/instruments.yaml``) that name is, if any.
    source : str or None
        The kind of diagnosis (``cnppm_test``, ``self_assessment``,
        ``lesson_observation``, ``efom``): the result's own, else its instrument's.
    date : str or None
        When it was taken, ``YYYY-MM-DD``.
    set_aside : int
        How many other results for ``target`` the policy did not use.
    """

    target: str
    kind: str
    score_pct: float
    instrument: str | None = None
    instrument_id: str | None = None
    source: str | None = None
    date: str | None = None
    set_aside: int = 0

    @classmethod
    def of(
        cls,
        target: str,
        kind: str,
        score_pct: float,
        instrument: str | None,
        instrument_id: str | None,
        source: str | None,
        date: str | None,
        set_aside: int,
    ) -> Provenance:
        """``Provenance(...)`` without the frozen dataclass's ``__init__`` (eight
        ``object.__setattr__`` calls), as :meth:`~.diagnosis.TraceEntry.of`: a profile
        makes one per result.

        Parameters
        ----------
        target, kind, score_pct, instrument, instrument_id, source, date, set_aside
            As the attributes, all given.

        Returns
        -------
        Provenance
        """
        # a copy of the fields' dict, filled in place and set as the instance's own:
        # a dict of eight items by name, then copied in by _made, cost a third more
        made = _new(cls)
        values = _FIELDS.copy()
        values["target"] = target
        values["kind"] = kind
        values["score_pct"] = score_pct
        values["instrument"] = instrument
        values["instrument_id"] = instrument_id
        values["source"] = source
        values["date"] = date
        values["set_aside"] = set_aside
        _set_attr(made, "__dict__", values)
        return made

    def fact_fields(self) -> dict[str, str]:
        """The fields a ``result`` or ``indicator_result`` fact carries into the trace.

        Returns
        -------
        dict of str to str
            ``instrument``, ``source`` and ``date``, each only when known.
        """
        fields = {}
        if self.instrument is not None:
            fields["instrument"] = self.instrument
        if self.source is not None:
            fields["source"] = self.source
        if self.date is not None:
            fields["date"] = self.date
        return fields

    def to_dict(self) -> dict[str, Any]:
        """The provenance as a JSON-ready dict.

        Returns
        -------
        dict
            Every attribute, by its name, in the order of the class (as
            ``dataclasses.asdict`` gave them; written out, as that deep-copies each
            value and cost a Result's JSON a tenth of its time).
        """
        own = self.__dict__
        if len(own) == len(_FIELDS):
            # made by its __init__, ``of`` or a Result's unpickling, a Provenance holds
            # its fields alone, in the class's order (a Result's pickle reads them so
            # too): the copy, made in C, is that dict at a third of the cost
            return own.copy()
        return {
            "target": self.target,
            "kind": self.kind,
            "score_pct": self.score_pct,
            "instrument": self.instrument,
            "instrument_id": self.instrument_id,
            "source": self.source,
            "date": self.date,
            "set_aside": self.set_aside,
        }


#: Provenance's fields in the class's order, the order a pickled Result lists their
#: values in (``vars(p).values()``): each new Provenance's ``__dict__`` is a copy.
_FIELDS: dict[str, Any] = dict.fromkeys(f.name for f in fields(Provenance))


def plain_provenance(
    kind: str, ids: Sequence[str], scores: Mapping[str, float]
) -> list[Provenance]:
    """The Provenance of each score, in the order of ``ids``:
    ``Provenance.of(target, kind, pct, None, None, None, None, 0)`` of results that name
    no instrument, source or date, each the one result for its id (a call for them all
    rather than one each).

    Each instance's own dict is filled from the kind's fields (:data:`_PLAIN_PROVENANCE`,
    the class's order) and then given its target and score: no dict of eight made and
    set as the instance's, which cost about twice as much, and the instance's dict shares
    its keys with the class's other instances (a smaller object).

    Parameters
    ----------
    kind : {'competency', 'indicator'}
        The targets' kind.
    ids : sequence of str
        The targets, in order.
    scores : mapping of str to float
        Each target's score in percent.

    Returns
    -------
    list of Provenance
    """
    fields = _PLAIN_PROVENANCE[kind]
    made = []
    for target in ids:
        one = _new(Provenance)
        own = one.__dict__
        own.update(fields)
        own["target"] = target
        own["score_pct"] = scores[target]
        made.append(one)
    return made


#: A plain result's Provenance fields by its kind, in the class's order, the target and
#: the score to be set (see :func:`plain_provenance`).
_PLAIN_PROVENANCE = {
    kind: {
        "target": "",
        "kind": kind,
        "score_pct": 0.0,
        "instrument": None,
        "instrument_id": None,
        "source": None,
        "date": None,
        "set_aside": 0,
    }
    for kind in ("competency", "indicator")
}


class PlainProvenance(tuple[tuple[str, Sequence[str], Mapping[str, float]], ...]):
    """The provenance of scores read from results that name no instrument, source or
    date, each the one result for its id, kept as ``(kind, ids, scores)`` runs until
    read: made into :func:`plain_provenance`'s values when a ``Normalised``'s or a
    Result's ``provenance`` is first read (``diagnosis.made_when_read``). The one-pass
    normalising makes one; resolve and route never read a diagnosis's provenance.
    """

    __slots__ = ()

    def entries(self) -> tuple[Provenance, ...]:
        """The Provenances, run after run.

        Returns
        -------
        tuple of Provenance
        """
        made: list[Provenance] = []
        for kind, ids, scores in self:
            made += plain_provenance(kind, ids, scores)
        return tuple(made)

    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """Each Provenance's fields' values in the class's order, as a Result's pickle
        flattens a Provenance (``tuple(vars(p).values())``), without making them.

        Returns
        -------
        tuple of tuple
        """
        out = []
        for kind, ids, scores in self:
            f = _PLAIN_PROVENANCE[kind]  # the same objects a Provenance would hold
            kept = (f["instrument"], f["instrument_id"], f["source"], f["date"], f["set_aside"])
            out += [(target, f["kind"], scores[target], *kept) for target in ids]
        return tuple(out)
