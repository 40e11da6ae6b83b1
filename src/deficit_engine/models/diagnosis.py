"""What the diagnosis finds: deficits, needs, the trace of firings, the normalised scores.

These are the first half of a :class:`~deficit_engine.models.Result`, made by the
engine from the rules' derived facts. Every type converts to a plain JSON-ready
dict with stable keys, so the same inputs give byte-identical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar, overload

__all__ = [
    "Deficit",
    "Fact",
    "Need",
    "Scores",
    "TraceEntry",
    "TraceRow",
    "TraceRows",
    "fact_sort_key",
]

#: A fact as the rules see it: a ``type`` and its fields.
Fact = dict[str, Any]


class _Value:
    """Frozen value types pickle as their constructor call: an order of magnitude
    faster to unpickle than the default path (Results cross process boundaries
    in cohort runs). Its ``__slots__`` is empty: a subclass that declares none keeps
    its ``__dict__``, one that does (:class:`Need`) has none."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))  # type: ignore[arg-type]
        return (type(self), tuple(getattr(self, name) for name in names))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def fact_sort_key(fact: Fact) -> str:
    """A fact's canonical JSON: the sort key that puts facts in a fixed order.

    Parameters
    ----------
    fact : dict
        A fact (JSON-ready values).

    Returns
    -------
    str
        The fact as JSON with sorted keys.
    """
    return json.dumps(fact, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Deficit(_Value):
    """A professional deficit: the most severe one the rules derived for a competency.

    Attributes
    ----------
    competency : str
        The competency's id.
    group : str or None
        Its group's id (None for a competency the ontology does not know).
    severity : str
        One of the rule language's severities.
    score_pct : float or None
        The competency's score in percent, when the profile has one.
    rule : str
        The id of the rule that derived it.
    """

    competency: str
    group: str | None
    severity: str
    score_pct: float | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """The deficit as a JSON-ready dict.

        Returns
        -------
        dict
            ``competency``, ``group``, ``severity``, ``score_pct``, ``rule``.
        """
        own = self.__dict__
        if len(own) == _DEFICIT_FIELDS:
            # every way a Deficit is made (its __init__, ``of``, a Result's unpickling)
            # sets its fields alone, in the class's order: the copy is that dict, made
            # in C (a Result has a dozen deficits, and this halves their JSON's cost)
            return own.copy()
        return {
            "competency": self.competency,
            "group": self.group,
            "severity": self.severity,
            "score_pct": self.score_pct,
            "rule": self.rule,
        }

    @classmethod
    def of(
        cls, competency: str, group: str | None, severity: str, score_pct: float | None, rule: str
    ) -> Deficit:
        """``Deficit(...)`` without the frozen dataclass's ``__init__``, as
        :meth:`TraceEntry.of` (a Result makes one per deficit).

        Parameters
        ----------
        competency, group, severity, score_pct, rule
            As the attributes.

        Returns
        -------
        Deficit
        """
        # its own dict set as the instance's, as Provenance.of (not _made's update of
        # the instance's dict from another: a Result makes a dozen)
        made = _new(cls)
        _set_attr(
            made,
            "__dict__",
            {
                "competency": competency,
                "group": group,
                "severity": severity,
                "score_pct": score_pct,
                "rule": rule,
            },
        )
        return made


#: How many fields a Deficit has (its ``to_dict`` copies its ``__dict__`` when that
#: holds them alone).
_DEFICIT_FIELDS = len(fields(Deficit))


@dataclass(frozen=True, slots=True)
class Need(_Value):
    """What a rule asked for: a programme, a mentor or a format, with its filters.

    Attributes
    ----------
    kind : str
        ``program``, ``mentor`` or ``format``.
    competency : str or None
        The competency it is for, if the rule named one.
    filters : tuple of (str, value) pairs
        The need's other fields (``delivery``, ``max_hours``, ...), in the
        order the rule gave them.
    rule : str
        The id of the rule that asked for it.
    """

    # In slots (no __dict__): one object to read where the instance, its own dict and
    # that dict's keys were three; resolve and the route read a person's ~50 needs
    # (shared objects, engine._NEEDS) cold in evaluate's order.
    kind: str
    competency: str | None
    filters: tuple[tuple[str, Any], ...]
    rule: str

    def get(self, name: str, default: Any = None) -> Any:
        """The value of one filter.

        Parameters
        ----------
        name : str
            The filter's name (``delivery``, ``max_hours``, ...).
        default : Any
            What to return when the need has no such filter.

        Returns
        -------
        Any
            The filter's value, or ``default``.
        """
        return dict(self.filters).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """The need as a JSON-ready dict.

        Returns
        -------
        dict
            ``kind``, ``competency`` (when there is one), the filters, then ``rule``.
        """
        out: dict[str, Any] = {"kind": self.kind}
        if self.competency is not None:
            out["competency"] = self.competency
        out.update(self.filters)
        out["rule"] = self.rule
        return out

    @classmethod
    def of(
        cls, kind: str, competency: str | None, filters: tuple[tuple[str, Any], ...], rule: str
    ) -> Need:
        """``Need(kind, competency, filters, rule)`` without the frozen dataclass's
        ``__init__``, as :meth:`TraceEntry.of` (a Result makes one per need).

        Parameters
        ----------
        kind, competency, filters, rule
            As the attributes.

        Returns
        -------
        Need
        """
        made = _new(cls)
        _set_attr(made, "kind", kind)
        _set_attr(made, "competency", competency)
        _set_attr(made, "filters", filters)
        _set_attr(made, "rule", rule)
        return made


@dataclass(frozen=True)
class TraceEntry(_Value):
    """One firing: the rule, the facts it matched and the facts it asserted.

    Attributes
    ----------
    rule : str
        The id of the rule that fired.
    matched : tuple of dict
        The facts its patterns matched, in pattern order.
    asserted : tuple of dict
        The facts it added that were new (empty when all were known already).
    """

    rule: str
    matched: tuple[Fact, ...]
    asserted: tuple[Fact, ...]

    def to_dict(self) -> dict[str, Any]:
        """The firing as a JSON-ready dict.

        Returns
        -------
        dict
            ``rule``, ``matched`` and ``asserted`` (the facts as lists).
        """
        return {"rule": self.rule, "matched": list(self.matched), "asserted": list(self.asserted)}

    @classmethod
    def of(cls, rule: str, matched: tuple[Fact, ...], asserted: tuple[Fact, ...]) -> TraceEntry:
        """``TraceEntry(rule, matched, asserted)``, made without the frozen dataclass's
        ``__init__`` (three ``object.__setattr__`` calls): the driver makes one per
        firing, and this costs less than half as much. The same value in every respect.

        Parameters
        ----------
        rule, matched, asserted
            As the attributes.

        Returns
        -------
        TraceEntry
        """
        # not _made: one per firing, and setting three keys beats building a dict
        entry = _new(cls)
        fields = entry.__dict__
        fields["rule"] = rule
        fields["matched"] = matched
        fields["asserted"] = asserted
        return entry


#: One firing as the inference records it: the rule, the facts matched, the new facts
#: asserted (a :class:`TraceEntry`'s fields, in its order). A tuple costs a fifth of a
#: TraceEntry to make, and a profile's seventy firings are made in every evaluation
#: whether or not its trace is read.
TraceRow = tuple[str, tuple[Fact, ...], tuple[Fact, ...]]


class TraceRows(tuple[TraceRow, ...]):
    """A Result's trace as the inference recorded it, its rows made into
    :class:`TraceEntry` values when the Result's ``trace`` is first read (see
    ``Result``): what ``Engine.evaluate`` keeps, as most callers never read the trace.
    Nothing outside a Result's own dict holds one."""

    __slots__ = ()

    def entries(self) -> tuple[TraceEntry, ...]:
        """The rows as TraceEntries, in order.

        Returns
        -------
        tuple of TraceEntry
            One per row, each ``TraceEntry(rule, matched, asserted)``.
        """
        made = []
        # TraceEntry.of inline: a call each cost a third more
        for rule, matched, asserted in self:
            entry = _new(TraceEntry)
            own = entry.__dict__
            own["rule"] = rule
            own["matched"] = matched
            own["asserted"] = asserted
            made.append(entry)
        return tuple(made)

    def dicts(self) -> list[dict[str, Any]]:
        """Each row as its TraceEntry's ``to_dict()`` gives it (no TraceEntry made).

        Returns
        -------
        list of dict
            ``rule``, ``matched`` and ``asserted`` (the facts as lists) per row.
        """
        return [
            {"rule": rule, "matched": list(matched), "asserted": list(asserted)}
            for rule, matched, asserted in self
        ]


class made_when_read:
    """A field of a frozen dataclass that its instance's own dict may hold in a compact
    form (an instance of ``compact``, whose ``entries()`` makes the field's value), made
    into the value when first read and kept so; any other value is read as it is.

    A data descriptor (the dict is read through it), set on the class after the
    dataclass is made: the field stays as the dataclass declares it, and the frozen
    ``__init__`` and ``dataclasses.replace`` set it through ``__set__``. Equality,
    ``repr`` and every reader see the value; only the instance's ``__dict__`` holds the
    compact form until then (a copy of that dict, as ``route.planned`` makes, keeps it).

    Parameters
    ----------
    name : str
        The field's name.
    compact : type
        The compact form's class (a tuple subclass with an ``entries()`` method).
    """

    def __init__(self, name: str, compact: type[Any]) -> None:
        self.name = name
        self.compact = compact

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        own = instance.__dict__
        try:
            value = own[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        if type(value) is self.compact:
            value = own[self.name] = value.entries()
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.name] = value


_new = object.__new__
_set_attr = object.__setattr__
_V = TypeVar("_V")
_T = TypeVar("_T")


class made_once(Generic[_T]):
    """A property of a frozen value computed on first use and kept in the instance's
    ``__dict__`` under its own name, so that later reads are plain attribute reads.

    ``functools.cached_property`` does the same but, on Python 3.11, takes a lock
    on every first use: for the values a batch makes by the thousand (a Result's
    severities, a recommendation's rules) that cost more than it saved. The kept
    value is not a field: equality, ``repr``, ``dataclasses.replace`` and the
    Result's pickling ignore it.
    """

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> made_once[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


def _made(cls: type[_V], fields: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> _V:
    """An instance of a frozen dataclass with ``fields`` (every one, in the class's
    order; a mapping or (name, value) pairs), made without its ``__init__``: the ``of``
    constructors, for the values the engine makes by the thousand, and a Result
    rebuilt from its pickle."""
    made = _new(cls)
    made.__dict__.update(fields)
    return made


@dataclass(frozen=True)
class Scores:
    """A profile's scores in percent, rolled up, with their levels.

    What the diagnosis read, kept on the Result so that renderers show the same
    numbers without normalising the profile again.

    Attributes
    ----------
    competency_pct : dict of str to float
        Competency id -> score in percent (its own result, else its indicators'
        weighted mean).
    group_pct : dict of str to float
        Group id -> the plain mean of its competencies' scores.
    competency_level : dict of str to str
        Competency id -> level id on the KB's scale.
    group_level : dict of str to str
        Group id -> level id.
    """

    competency_pct: dict[str, float]
    group_pct: dict[str, float]
    competency_level: dict[str, str]
    group_level: dict[str, str]
