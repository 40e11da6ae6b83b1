"""The route's value types: :class:`Step`, :class:`Overflow`, :class:`Conflict`, :class:`Route`.

What the route stage (:mod:`deficit_engine.route`) makes and a Result holds.
Their ``to_dict`` is the one JSON writer of a route (``Result.to_dict()["route"]``).

:class:`Step` is a NamedTuple, not a frozen dataclass: a route has a dozen
steps of 16 fields, made once per profile in large batches, and a tuple is
several times cheaper to build (and to rebuild after pickling). The graph of a
:class:`Route` is made on first use, not per profile.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import UnknownIdError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["STEP_KINDS", "Conflict", "Overflow", "Route", "Step", "centi"]

#: The kinds of step, in the order a tie in scheduling priority puts them.
STEP_KINDS = ("program", "mentoring", "format", "self_education", "rediagnosis")


def centi(hours: float) -> int:
    """Hours in hundredths: the route adds and compares hours as exact ints.

    Parameters
    ----------
    hours : float
        A number of hours.

    Returns
    -------
    int
        ``hours * 100``, rounded to the nearest int.
    """
    return round(float(hours) * 100)


def _hours(hundredths: int) -> float | int:
    """Hundredths of an hour as the JSON shows hours: an int when whole."""
    return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100


def _json_hours(hours: float) -> float | int:
    """``_hours(centi(hours))`` in one call: the route's JSON writes thousands of these
    per cohort row, and the two calls were a tenth of a batch's JSON time. Remembered
    by value (:data:`_HOURS_JSON`)."""
    known = _HOURS_JSON.get(hours)
    if known is not None:
        return known
    c = round(hours * 100)
    shown = c // 100 if c % 100 == 0 else c / 100
    if len(_HOURS_JSON) < _HOURS_KEPT:
        _HOURS_JSON[hours] = shown
    return shown


#: Hours -> as the JSON shows them. A cohort's routes use a few dozen distinct hour
#: counts (44 a person, 34 distinct values over 1,000 people), so the arithmetic is
#: done once per value. Keyed by value: 8 and 8.0 (equal keys) show alike, as 8.
_HOURS_JSON: dict[float, float | int] = {}
#: At most this many values are remembered (hours come from profiles and the KB).
_HOURS_KEPT = 4096


class Step(NamedTuple):
    """One step of the route, scheduled.

    Attributes
    ----------
    id : str
        ``s1``, ``s2``, ... in route order.
    kind : str
        One of :data:`STEP_KINDS`.
    ref : str or None
        The catalogue id it uses (programme, mentor or format), if any.
    title : str
        What the step is, in Russian.
    competencies : tuple of str
        The competencies it works on.
    education : str
        ``formal``, ``non_formal`` or ``informal``.
    phase : str
        ``learn``, ``practice``, ``share`` or ``reflect``.
    level : str or None
        Where it is provided (``regional``, ``municipal``, ``institutional``), if known.
    start, end : str
        Its first and last month, ``YYYY-MM``.
    hours : float
        Its hours in all.
    allocation : tuple of (str, float) pairs
        Month -> hours in that month, for each month with hours.
    after : tuple of str
        The ids of the steps that end before this one starts.
    responsible : str
        Who is responsible for it.
    rules : tuple of str
        The rules behind it.
    extra : tuple of (str, value) pairs
        Kind-specific fields (``delivery``, ``forms``, ...).
    """

    id: str
    kind: str
    ref: str | None
    title: str
    competencies: tuple[str, ...]
    education: str
    phase: str
    level: str | None
    start: str
    end: str
    hours: float
    allocation: tuple[tuple[str, float], ...]
    after: tuple[str, ...]
    responsible: str
    rules: tuple[str, ...]
    extra: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str, default: Any = None) -> Any:
        """One kind-specific field of the step.

        Parameters
        ----------
        name : str
            The field (``delivery``, ``forms``, ...).
        default : Any
            What to return when the step has no such field.

        Returns
        -------
        Any
            The field's value, or ``default``.
        """
        for key, value in self.extra:
            if key == name:
                return value
        return default

    def to_dict(self) -> dict[str, Any]:
        """The step as a JSON-ready dict.

        Returns
        -------
        dict
            Its fields in order (hours as ints when whole, the allocation as a
            month -> hours mapping), then its extra fields.
        """
        ((made,), _load, _total) = _steps_data((self,), listed=True)
        return made


@dataclass(frozen=True)
class Overflow:
    """The route does not fit its period: by how much and which steps spill over.

    Attributes
    ----------
    months : int
        Months used after the period's last month.
    end : str
        The route's last month, ``YYYY-MM``.
    hours : float
        Hours scheduled after the period.
    steps : tuple of str
        The ids of the steps that end after the period.
    message : str
        The above, in Russian.
    """

    months: int
    end: str
    hours: float
    steps: tuple[str, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The overflow as a JSON-ready dict.

        Returns
        -------
        dict
            ``months``, ``end``, ``hours`` (an int when whole), ``steps``, ``message``.
        """
        return {
            "months": self.months,
            "end": self.end,
            "hours": _hours(centi(self.hours)),
            "steps": list(self.steps),
            "message": self.message,
        }


@dataclass(frozen=True)
class Conflict:
    """An order the ontology asks for that bundled steps make impossible.

    Attributes
    ----------
    before, after : str
        The ids of the steps the ontology would put in that order.
    reason : str
        Why the order could not be kept, in Russian.
    """

    before: str
    after: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """The conflict as a JSON-ready dict.

        Returns
        -------
        dict of str to str
            ``before``, ``after``, ``reason``.
        """
        return {"before": self.before, "after": self.after, "reason": self.reason}


@dataclass(frozen=True)
class Route:
    """The scheduled route: its steps in order, with their months and hours.

    Attributes
    ----------
    period : tuple of (str, str)
        The first and last month planned for, ``YYYY-MM``.
    hours_per_month : float
        The monthly budget of hours.
    defaults : tuple of str
        Which of ``"period"`` and ``"hours_per_month"`` were defaulted (the
        profile did not name them).
    steps : tuple of Step
        The steps, by start month.
    overflow : Overflow or None
        How the route overruns its period, if it does.
    conflicts : tuple of Conflict
        Prerequisite orders the steps could not keep.
    """

    period: tuple[str, str]
    hours_per_month: float
    defaults: tuple[str, ...]
    steps: tuple[Step, ...]
    overflow: Overflow | None
    conflicts: tuple[Conflict, ...]

    @functools.cached_property
    def graph(self) -> nx.DiGraph:
        """The order as a graph: one node per step id (attribute ``step``: the
        :class:`Step`), an edge from each step of ``after`` (made on first use)."""
        import networkx  # here: reading a Result need not load networkx

        graph: nx.DiGraph = networkx.DiGraph()
        graph.add_nodes_from((s.id, {"step": s}) for s in self.steps)
        graph.add_edges_from((p, s.id) for s in self.steps for p in s.after)
        return graph

    def step(self, step_id: str) -> Step:
        """One step of the route, by id.

        Parameters
        ----------
        step_id : str
            ``s1``, ``s2``, ...

        Returns
        -------
        Step
            The step with that id.

        Raises
        ------
        UnknownIdError
            If the route has no such step (it is also a ``KeyError``).
        """
        for s in self.steps:
            if s.id == step_id:
                return s
        raise UnknownIdError(step_id)

    @property
    def start(self) -> str | None:
        """The first month of the route's steps (None without steps)."""
        return min([s.start for s in self.steps], default=None)

    @property
    def end(self) -> str | None:
        """The last month of the route's steps (None without steps)."""
        return max([s.end for s in self.steps], default=None)

    def to_dict(self) -> dict[str, Any]:
        """The route as a JSON-ready dict: the one writer of a route's JSON.

        Returns
        -------
        dict
            ``period``, ``hours_per_month``, ``defaults``, ``start``, ``end``,
            ``total_hours``, ``steps``, ``load`` (hours per month), ``overflow``,
            ``conflicts``.
        """
        return self._data(listed=True)

    def json_data(self) -> dict[str, Any]:
        """What :meth:`to_dict` gives, in the form orjson writes as the same JSON: the
        steps' competencies, ``after`` and rules and the ``defaults`` as the tuples they
        are (orjson writes a tuple as a list), not copied into lists.

        Returns
        -------
        dict
            :meth:`to_dict`'s keys and values, but for those tuples. For a writer that
            hands it to orjson (a batch's part: :meth:`Result.json_data`), not for
            reading: a tuple is not equal to the list ``to_dict`` gives.
        """
        return self._data(listed=False)

    def _data(self, listed: bool) -> dict[str, Any]:
        steps = self.steps
        made, load, total = _steps_data(steps, listed)
        return {
            "period": {"start": self.period[0], "end": self.period[1]},
            "hours_per_month": _json_hours(self.hours_per_month),
            "defaults": list(self.defaults) if listed else self.defaults,
            "start": min([s[8] for s in steps], default=None),  # a Step is a tuple: 8 is start
            "end": max([s[9] for s in steps], default=None),  # and 9 its end
            "total_hours": _hours(total),
            "steps": made,
            "load": {m: _hours(load[m]) for m in sorted(load)},
            "overflow": None if self.overflow is None else self.overflow.to_dict(),
            "conflicts": [c.to_dict() for c in self.conflicts],
        }


def _steps_data(
    steps: Sequence[Step], listed: bool
) -> tuple[list[dict[str, Any]], dict[str, int], int]:
    """The steps' dicts, the route's load (hundredths of an hour by month, the months
    in the order met) and its hours in all (hundredths), in one pass over the steps.

    ``listed``: the competencies, ``after`` and rules copied into lists, as
    :meth:`Step.to_dict` gives them; else the tuples themselves (orjson writes them
    as the same JSON: :meth:`Route.json_data`).
    """
    # one pass: the load and the total were a second walk over every step and
    # allocated month (a fifth of a route's dict), and the hours' hundredths are
    # remembered by value as their JSON is (round() per month was most of that walk).
    # One unpacking instead of sixteen attribute look-ups per step; the common
    # one-month allocation and the steps without extra fields skip the loops.
    made: list[dict[str, Any]] = []
    load: dict[str, int] = {}
    total = 0
    shown = _HOURS_JSON.get
    known = _CENTI.get
    owed = load.get
    for (sid, kind, ref, title, competencies, education, phase, level, start, end, hours,
         allocation, after, responsible, rules, extra) in steps:  # fmt: skip
        total += known(hours) or _centi(hours)
        if len(allocation) == 1:
            ((month, part),) = allocation
            months = {month: shown(part) or _json_hours(part)}
            load[month] = owed(month, 0) + (known(part) or _centi(part))
        else:
            months = {}
            for month, part in allocation:
                months[month] = shown(part) or _json_hours(part)
                load[month] = owed(month, 0) + (known(part) or _centi(part))
        out: dict[str, Any] = {
            "id": sid,
            "kind": kind,
            "ref": ref,
            "title": title,
            "competencies": competencies,
            "education": education,
            "phase": phase,
            "level": level,
            "start": start,
            "end": end,
            "hours": shown(hours) or _json_hours(hours),
            "allocation": months,
            "after": after,
            "responsible": responsible,
            "rules": rules,
        }
        if listed:  # set again in place: a dict keeps a key's first position
            out["competencies"] = [*competencies]
            out["after"] = [*after]
            out["rules"] = [*rules]
        if extra:
            for key, value in extra:
                out[key] = list(value) if isinstance(value, tuple) else value
        made.append(out)
    return made, load, total


def _centi(hours: float) -> int:
    """``round(hours * 100)``, remembered by value (:data:`_CENTI`) as the hours' JSON
    is: the route's load and total add a few dozen a person."""
    hundredths = round(hours * 100)
    if len(_CENTI) < _HOURS_KEPT:
        _CENTI[hours] = hundredths
    return hundredths


#: Hours -> their hundredths, ``round(hours * 100)`` (a few dozen distinct values in a
#: cohort; equal keys, 8 and 8.0, give equal hundredths).
_CENTI: dict[float, int] = {}
