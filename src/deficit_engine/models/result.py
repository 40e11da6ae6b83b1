"""The Result of one evaluation: the diagnosis, the resolution and the route.

:class:`Result` is what ``Engine.evaluate`` returns and what cohort runs send
between processes. Its parts are typed all the way down; ``to_dict``/``to_json``
are the one JSON writer of a Result, and lists are in a deterministic order,
so the same inputs give byte-identical JSON.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from .diagnosis import (
    Deficit,
    Fact,
    Need,
    Scores,
    TraceEntry,
    TraceRows,
    _made,
    _Value,
    made_once,
    made_when_read,
)
from .jsontext import dumps_indented
from .provenance import PlainProvenance, Provenance
from .recommendation import Recommendation, UnaddressedDeficit, Unmet, UnmetEntry
from .route import Conflict, Overflow, Route, Step

__all__ = ["Result"]


@dataclass(frozen=True)
class Result(_Value):
    """What ``Engine.evaluate`` returns for one profile.

    Attributes
    ----------
    profile : str
        The profile's id.
    deficits : tuple of Deficit
        The most severe deficit per competency, most severe first, then in
        ontology order.
    needs : tuple of Need
        What the rules asked for, by competency, kind and filters.
    facts : tuple of dict
        Custom facts the rules asserted (not deficits or needs).
    trace : tuple of TraceEntry
        Every firing, in order.
    recommendations : tuple of Recommendation
        The catalogue items chosen for the needs (programmes, mentors, formats).
    unmet : tuple of Unmet or UnaddressedDeficit
        The needs no item serves, then the deficits nothing addresses.
    route : Route or None
        The scheduled route (None for a Result that was not planned).
    errors : tuple of str
        Why the profile could not be evaluated (batches); empty when it was.
    scores : Scores or None
        The normalised scores the diagnosis read. Not in ``to_dict``: the
        Result's JSON is a published contract and stays as it was.
    provenance : tuple of Provenance
        Where each competency's and indicator's score came from (instrument,
        source, date), competencies then indicators, by id.
    kb_hash : str
        The content hash of the KB that made the Result (``sha256:...``), for audit.
    kb_version : str or None
        The KB's ``version``, when it names one.
    """

    profile: str
    deficits: tuple[Deficit, ...]
    needs: tuple[Need, ...]
    facts: tuple[Fact, ...]  # custom facts asserted by rules (not deficit/need)
    trace: tuple[TraceEntry, ...]
    recommendations: tuple[Recommendation, ...] = ()
    unmet: tuple[UnmetEntry, ...] = ()
    route: Route | None = None
    errors: tuple[str, ...] = ()  # set when the profile could not be evaluated (batches)
    scores: Scores | None = None
    provenance: tuple[Provenance, ...] = ()
    kb_hash: str = ""
    kb_version: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the profile was evaluated (no errors)."""
        return not self.errors

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """One flat tuple per Result (its parts as plain tuples, rebuilt on load): a
        Result holds a hundred small value objects, and a reduce call for each was
        most of the cost of sending Results between processes."""
        return (_rebuild_result, _flatten(self))

    @classmethod
    def failed(cls, profile: str, errors: Sequence[str]) -> Result:
        """The Result of a profile that could not be evaluated, with the reasons.

        Parameters
        ----------
        profile : str
            The profile's id (or a label such as ``#3`` when it has none).
        errors : sequence of str
            Why it could not be evaluated, one problem a line.

        Returns
        -------
        Result
            A Result with these ``errors`` and nothing else (``ok`` is False).
        """
        return cls(profile, (), (), (), (), errors=tuple(errors))

    @property
    def fired(self) -> list[str]:
        """Ids of the rules that fired, each once, in first-firing order."""
        seen: dict[str, None] = {}
        for entry in self.trace:
            seen.setdefault(entry.rule, None)
        return list(seen)

    @made_once
    def severities(self) -> dict[str, str]:
        """Competency -> the severity of its deficit (made on first use, then the same
        dict: the plan and the route each read it; do not change it)."""
        return {d.competency: d.severity for d in self.deficits}

    def deficit(self, competency: str) -> Deficit | None:
        """The deficit found for one competency.

        Parameters
        ----------
        competency : str
            The competency's id.

        Returns
        -------
        Deficit or None
            Its deficit, or None when the rules derived none.
        """
        for d in self.deficits:
            if d.competency == competency:
                return d
        return None

    def to_dict(
        self, trace: bool = True, *, each: Callable[[Sequence[Any]], list[Any]] | None = None
    ) -> dict[str, Any]:
        """The Result as a JSON-ready dict: the one writer of a Result's JSON.

        Parameters
        ----------
        trace : bool
            Include the trace of firings (the default).
        each : callable, optional
            Makes the needs', the recommendations' and the unmet entries' dicts:
            given one of those tuples, a list of each item's ``to_dict()``. A
            batch's part writer passes one that makes each shared item's dict once
            per part (:meth:`deficit_engine.parts.Pieces.each`). By default, each
            item's ``to_dict()`` is made.

        Returns
        -------
        dict
            ``profile``, ``deficits``, ``needs``, ``facts``, ``recommendations``,
            ``unmet``, then ``route`` only when planned, ``errors`` only when there
            are any, ``provenance``, ``kb_hash``, ``kb_version``, and ``trace``
            when asked. The scores are not included.
        """
        return self._data(trace, each, listed=True)

    def json_data(
        self, trace: bool = True, *, each: Callable[[Sequence[Any]], list[Any]] | None = None
    ) -> dict[str, Any]:
        """What :meth:`to_dict` gives, in the form orjson writes as the same JSON: for a
        writer that hands it to orjson (a batch's part), not for reading.

        The deficits and the provenance entries are the Result's own values when each
        holds its fields alone (orjson writes a dataclass as its ``__dict__``, which is
        then what their ``to_dict`` copies), and the facts, errors, the route's tuples
        (:meth:`Route.json_data <deficit_engine.models.Route.json_data>`) the tuples
        they are (orjson writes a tuple as a list), not copied into new dicts and lists.
        orjson does not write a tuple's subclass (a NamedTuple) by itself, and
        ``json.dumps`` no dataclass: :func:`deficit_engine.parts.write_part` gives each
        a ``default`` for them.

        Parameters
        ----------
        trace : bool
            Include the trace of firings (the default).
        each : callable, optional
            As in :meth:`to_dict`.

        Returns
        -------
        dict
            :meth:`to_dict`'s keys, each value written by orjson as the same JSON.
        """
        return self._data(trace, each, listed=False)

    def _data(
        self, trace: bool, each: Callable[[Sequence[Any]], list[Any]] | None, listed: bool
    ) -> dict[str, Any]:
        pieces = _dicts if each is None else each
        deficits: Sequence[Any] = self.deficits
        provenance: Sequence[Any] = self.provenance
        # a Deficit's and a Provenance's to_dict is a copy of its __dict__ when that holds
        # its fields alone (every way they are made): orjson writes that __dict__ itself,
        # without the copies (a dozen deficits and two dozen entries a person)
        if listed or not _own_fields(deficits, _DEFICIT_FIELDS):
            deficits = [d.to_dict() for d in deficits]
        if listed or not _own_fields(provenance, _PROVENANCE_FIELDS):
            provenance = [p.to_dict() for p in provenance]
        out: dict[str, Any] = {
            "profile": self.profile,
            "deficits": deficits,
            "needs": pieces(self.needs),
            "facts": list(self.facts) if listed else self.facts,
            "recommendations": pieces(self.recommendations),
            "unmet": pieces(self.unmet),
        }
        if self.route is not None:
            out["route"] = self.route.to_dict() if listed else self.route.json_data()
        if self.errors:
            out["errors"] = list(self.errors) if listed else self.errors
        out["provenance"] = provenance
        out["kb_hash"] = self.kb_hash
        out["kb_version"] = self.kb_version
        if trace:
            rows = self.__dict__.get("trace")
            if type(rows) is TraceRows:  # not read yet: no TraceEntry made for its JSON
                out["trace"] = rows.dicts()
            else:
                out["trace"] = [t.to_dict() for t in self.trace]
        return out

    def to_json(self, trace: bool = True, indent: int | None = 2) -> str:
        """The Result as JSON text.

        Parameters
        ----------
        trace : bool
            Include the trace of firings (the default).
        indent : int or None
            Spaces per level (2 by default); None writes one line.

        Returns
        -------
        str
            :meth:`to_dict` as JSON, not ASCII-escaped, without a trailing newline:
            what ``json.dumps(..., ensure_ascii=False, indent=indent)`` writes, byte
            for byte (with ``indent=2`` written by orjson where that is the same,
            :func:`~.jsontext.dumps_indented`).
        """
        data = self.to_dict(trace)
        if indent == 2:
            return dumps_indented(data)
        return json.dumps(data, ensure_ascii=False, indent=indent)


# a Result made by the engine (or loaded from a pickle) holds its trace as the
# inference's rows, and its provenance as the one-pass normalising's runs: each made into
# its values when first read (see diagnosis.made_when_read)
setattr(Result, "trace", made_when_read("trace", TraceRows))  # noqa: B010
setattr(Result, "provenance", made_when_read("provenance", PlainProvenance))  # noqa: B010


def _own_fields(items: Sequence[Any], count: int) -> bool:
    """Whether each item's ``__dict__`` holds ``count`` entries (its fields alone),
    checked without a Python-level loop (a third of the cost of ``all(map(...))``)."""
    return set(map(len, map(_own_dict, items))) <= {count}


_own_dict = operator.attrgetter("__dict__")


#: How many fields a Deficit and a Provenance have.
_DEFICIT_FIELDS = len(fields(Deficit))
_PROVENANCE_FIELDS = len(fields(Provenance))


def _dicts(items: Sequence[Need | Recommendation | UnmetEntry]) -> list[dict[str, Any]]:
    """Each item's ``to_dict()``: :meth:`Result.to_dict`'s default ``each``."""
    return [item.to_dict() for item in items]


# --- pickling: one flat tuple per Result ------------------------------------------------
#
# A recommendation's and an unmet entry's needs (and an unaddressed deficit) are the
# Result's own objects: they travel as their position in ``needs``/``deficits``, so
# they are pickled once and are the same objects again after loading. One that is not
# the Result's own (a Result put together by hand) travels as itself.


def _need_of(ref: int | Need, needs: Sequence[Need]) -> Need:
    return needs[ref] if type(ref) is int else ref  # type: ignore[return-value]


def _flatten(r: Result) -> tuple[Any, ...]:
    s = r.scores
    return (
        r.profile,
        tuple([(d.competency, d.group, d.severity, d.score_pct, d.rule) for d in r.deficits]),
        tuple([(n.kind, n.competency, n.filters, n.rule) for n in r.needs]),
        r.facts,
        _trace_rows(r),
        *_flatten_plan(r),
        r.errors,
        None if s is None else (s.competency_pct, s.group_pct, s.competency_level, s.group_level),
        _provenance_rows(r),
        r.kb_hash,
        r.kb_version,
    )


def _trace_rows(r: Result) -> tuple[tuple[Any, ...], ...]:
    """The trace of ``r`` as (rule, matched, asserted) tuples, each made here (as the
    rows of several Results pickled together must not be one object)."""
    rows = r.__dict__.get("trace")
    if type(rows) is TraceRows:
        return tuple([(rule, matched, asserted) for rule, matched, asserted in rows])
    return tuple([(t.rule, t.matched, t.asserted) for t in r.trace])


def _provenance_rows(r: Result) -> tuple[tuple[Any, ...], ...]:
    """Each Provenance of ``r`` as its fields' values (of its runs, when not read yet)."""
    runs = r.__dict__.get("provenance")
    if type(runs) is PlainProvenance:
        return runs.rows()
    return tuple([tuple(vars(p).values()) for p in r.provenance])


def _flatten_plan(r: Result) -> tuple[Any, Any, Any]:
    """The recommendations, unmet entries and route of ``r`` as plain tuples."""
    ref = {id(n): i for i, n in enumerate(r.needs)}.get
    recs = tuple(
        [
            (
                c.kind,
                c.id,
                c.title,
                c.competencies,
                tuple([ref(id(n), n) for n in c.needs]),
                c.reason,
                c.attrs,
            )
            for c in r.recommendations
        ]
    )
    unmet = tuple(
        [
            (0, ref(id(u.need), u.need), u.reason, u.cause, u.exhausted)
            if isinstance(u, Unmet)
            else (1, _deficit_ref(r.deficits, u.deficit), u.reason)
            for u in r.unmet
        ]
    )
    return recs, unmet, None if r.route is None else _flatten_route(r.route)


def _deficit_ref(deficits: Sequence[Deficit], deficit: Deficit) -> int | Deficit:
    return next((i for i, d in enumerate(deficits) if d is deficit), deficit)


def _flatten_route(route: Route) -> tuple[Any, ...]:
    o = route.overflow
    return (
        route.period,
        route.hours_per_month,
        route.defaults,
        tuple([tuple(s) for s in route.steps]),
        None if o is None else (o.months, o.end, o.hours, o.steps, o.message),
        tuple([(c.before, c.after, c.reason) for c in route.conflicts]),
    )


_V = TypeVar("_V")


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


#: The fields of the values a Result is rebuilt from, in the order ``_flatten`` puts
#: their values (the classes' own order).
_DEFICIT, _SCORES, _PROVENANCE, _RESULT = map(_field_names, (Deficit, Scores, Provenance, Result))


def _remade(cls: type[_V], names: tuple[str, ...], values: Sequence[Any]) -> _V:
    """A frozen value rebuilt from its fields' values without its ``__init__``, which
    sets each field through ``object.__setattr__``: a Result is rebuilt from a few
    dozen values, and their ``__init__`` calls were half the cost of loading it."""
    return _made(cls, zip(names, values, strict=True))


def _rebuild_result(
    profile: str,
    deficits: tuple[tuple[Any, ...], ...],
    needs: tuple[tuple[Any, ...], ...],
    facts: tuple[Fact, ...],
    trace: tuple[tuple[Any, ...], ...],
    recommendations: tuple[tuple[Any, ...], ...],
    unmet: tuple[tuple[Any, ...], ...],
    route: tuple[Any, ...] | None,
    errors: tuple[str, ...],
    scores: tuple[Any, ...] | None,
    provenance: tuple[tuple[Any, ...], ...] = (),
    kb_hash: str = "",
    kb_version: str | None = None,
) -> Result:
    own_deficits = tuple([_remade(Deficit, _DEFICIT, d) for d in deficits])
    own_needs = tuple([Need.of(*n) for n in needs])  # slots: no __dict__ to fill
    return _remade(
        Result,
        _RESULT,
        (
            profile,
            own_deficits,
            own_needs,
            facts,
            TraceRows(trace),  # made into TraceEntries when read
            tuple(
                [
                    Recommendation(
                        kind,
                        rid,
                        title,
                        comps,
                        tuple([_need_of(n, own_needs) for n in refs]),
                        why,
                        attrs,
                    )
                    for kind, rid, title, comps, refs, why, attrs in recommendations
                ]
            ),
            tuple([_unmet_of(u, own_needs, own_deficits) for u in unmet]),
            None if route is None else _rebuild_route(*route),
            errors,
            None if scores is None else _remade(Scores, _SCORES, scores),
            tuple([_remade(Provenance, _PROVENANCE, p) for p in provenance]),
            kb_hash,
            kb_version,
        ),
    )


def _unmet_of(
    flat: tuple[Any, ...], needs: Sequence[Need], deficits: Sequence[Deficit]
) -> UnmetEntry:
    if flat[0] == 0:
        _tag, ref, reason, cause, exhausted = flat
        return Unmet(_need_of(ref, needs), reason, cause, exhausted)
    _tag, ref, reason = flat
    return UnaddressedDeficit(deficits[ref] if type(ref) is int else ref, reason)


def _rebuild_route(
    period: tuple[str, str],
    hours_per_month: float,
    defaults: tuple[str, ...],
    steps: tuple[tuple[Any, ...], ...],
    overflow: tuple[Any, ...] | None,
    conflicts: tuple[tuple[str, str, str], ...],
) -> Route:
    make = Step._make
    return Route(
        period,
        hours_per_month,
        defaults,
        tuple([make(s) for s in steps]),
        None if overflow is None else Overflow(*overflow),
        tuple([Conflict(*c) for c in conflicts]),
    )
