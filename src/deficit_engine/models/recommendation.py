"""What the resolver chooses: recommendations, unmet needs, and their Resolution.

The second half of a :class:`~deficit_engine.models.Result`: the catalogue items
(programmes, mentors, formats) chosen for the diagnosis' needs, each with the
rule that asked for it and a reason in Russian, and the needs no item serves.
Made by :func:`deficit_engine.resolve.resolve`; the route stage adds the
deficits that nothing addresses (:class:`UnaddressedDeficit`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .diagnosis import Deficit, Need, _new, _set_attr

__all__ = [
    "UNADDRESSED_REASON",
    "UNMET_CAUSES",
    "Recommendation",
    "Resolution",
    "UnaddressedDeficit",
    "Unmet",
    "UnmetEntry",
    "json_number",
]


def json_number(value: float) -> float | int:
    """A catalogue number as the JSON shows it: whole values as ints, others to 2 places.

    Parameters
    ----------
    value : float
        An hour count, a price, ... as the catalogue holds it.

    Returns
    -------
    float or int
        ``int(value)`` when whole, else ``value`` rounded to 2 places.
    """
    return int(value) if float(value).is_integer() else round(float(value), 2)


class _RulesKept:
    """The slot where a :class:`Recommendation` keeps its ``rules`` once made: not a
    field (equality, ``repr``, pickling and ``dataclasses.replace`` ignore it)."""

    __slots__ = ("_rules",)
    _rules: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Recommendation(_RulesKept):
    """One catalogue item chosen for one or more needs of a person.

    Attributes
    ----------
    kind : str
        ``program``, ``mentor`` or ``format``.
    id, title : str
        The catalogue item's id and title.
    competencies : tuple of str
        The served needs' competencies, in ontology order.
    needs : tuple of Need
        The needs it serves, in the Result's needs order.
    reason : str
        Why it was chosen, in Russian.
    attrs : tuple of (str, value) pairs
        Catalogue fields shown with it (``hours``, ``delivery``, ...).
    """

    kind: str
    id: str
    title: str
    competencies: tuple[str, ...]
    needs: tuple[Need, ...]
    reason: str
    attrs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(
        cls,
        kind: str,
        item_id: str,
        title: str,
        competencies: tuple[str, ...],
        needs: tuple[Need, ...],
        reason: str,
        attrs: tuple[tuple[str, Any], ...],
    ) -> Recommendation:
        """``Recommendation(...)`` without the frozen dataclass's ``__init__``, as
        :meth:`Need.of` (a resolution makes a dozen or more).

        Parameters
        ----------
        kind, item_id, title, competencies, needs, reason, attrs
            As the attributes (``item_id`` is ``id``).

        Returns
        -------
        Recommendation
        """
        # slots, as Need and Unmet: one object to read where a dict beside it was
        # two more (the route and the JSON read each recommendation's fields). Filled
        # as its writable twin (plain slot stores), then made a Recommendation: half
        # the time of the dict it was, where a frozen setattr per field took twice it
        made = _new(_Filling)
        made.kind = kind
        made.id = item_id
        made.title = title
        made.competencies = competencies
        made.needs = needs
        made.reason = reason
        made.attrs = attrs
        made._rules = None
        _set_attr(made, "__class__", cls)
        return made  # type: ignore[return-value]  # a Recommendation now

    def __post_init__(self) -> None:
        _set_attr(self, "_rules", None)  # made on first use (``rules``)

    def __setstate__(self, state: list[Any]) -> None:
        # as the dataclass's own for slots (the fields' values in order), and the
        # rules' slot emptied: a pickle carries only the fields
        for field, value in zip(_FIELDS, state, strict=True):
            _set_attr(self, field, value)
        _set_attr(self, "_rules", None)

    @property
    def rule(self) -> str:
        """The rule of the first need it serves."""
        return self.needs[0].rule if self.needs else ""

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules of the needs it serves, each once, in need order (made on first
        use: the route's steps and the JSON each ask for them)."""
        rules: tuple[str, ...] | None = self._rules
        if rules is None:
            needs = self.needs
            if len(needs) == 1:  # most programmes and mentors
                rules = (needs[0].rule,)
            else:
                rules = tuple(dict.fromkeys([n.rule for n in needs]))
            _set_attr(self, "_rules", rules)
        return rules

    def get(self, name: str, default: Any = None) -> Any:
        """One catalogue attribute of the item.

        Parameters
        ----------
        name : str
            The attribute (``hours``, ``delivery``, ...).
        default : Any
            What to return when the item has no such attribute.

        Returns
        -------
        Any
            The attribute's value, or ``default``.
        """
        # a look through the few pairs, without a dict made per call (the batch's
        # digest asks each recommendation its hours); the last pair of a name wins,
        # as in a dict of them
        for key, value in reversed(self.attrs):
            if key == name:
                return value
        return default

    def to_dict(self) -> dict[str, Any]:
        """The recommendation as a JSON-ready dict.

        Returns
        -------
        dict
            ``kind``, ``id``, ``title``, ``competencies``, the attrs (whole
            numbers as ints, tuples as lists), ``rule``, ``rules``, ``reason``.
        """
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "competencies": list(self.competencies),
        }
        for key, value in self.attrs:
            if isinstance(value, float):
                value = json_number(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        rules = self.rules
        out["rule"] = rules[0] if rules else ""  # == self.rule: the first need's
        out["rules"] = list(rules)
        out["reason"] = self.reason
        return out


#: Recommendation's fields in order, as its pickled state lists their values.
_FIELDS = tuple(f.name for f in fields(Recommendation))


class _Filling(_RulesKept):
    """A :class:`Recommendation` being made by :meth:`Recommendation.of`: the same
    slots in the same order (so that Python lets its ``__class__`` be set to
    Recommendation's), writable."""

    __slots__ = _FIELDS
    kind: str
    id: str
    title: str
    competencies: tuple[str, ...]
    needs: tuple[Need, ...]
    reason: str
    attrs: tuple[tuple[str, Any], ...]


# the dataclass lays its slots out in field order, which the twin copies: checked once,
# since Recommendation.of's class change needs them alike
if Recommendation.__slots__ != _Filling.__slots__:  # pragma: no cover
    raise TypeError("Recommendation and its filling twin must have the same slots")

#: Why a need is unmet: see :class:`Unmet`.
UNMET_CAUSES = ("catalogue", "capacity", "one_per_form")


@dataclass(frozen=True, slots=True)
class Unmet:
    """A need no catalogue item serves, with the reason why.

    Attributes
    ----------
    need : Need
        The need, one of the Result's ``needs``.
    reason : str
        Why nothing serves it, in Russian.
    cause : str
        One of :data:`UNMET_CAUSES`: ``catalogue`` (no item fits the need),
        ``capacity`` (items fit but their places ran out: demand over supply),
        ``one_per_form`` (another mentor could serve it, but the person already
        has one in that form).
    exhausted : tuple of str
        With ``capacity``: the ids of the items whose places ran out.
    """

    need: Need
    reason: str
    cause: str = "catalogue"
    exhausted: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, need: Need, reason: str, cause: str = "catalogue", exhausted: tuple[str, ...] = ()
    ) -> Unmet:
        """``Unmet(...)`` without the frozen dataclass's ``__init__``, as :meth:`Need.of`.

        Parameters
        ----------
        need, reason, cause, exhausted
            As the attributes.

        Returns
        -------
        Unmet
        """
        # slots, one object of a line or so where a dict beside it was three: the
        # resolver shares an unmet need across people, and the route reads its need
        made = _new(cls)
        _set_attr(made, "need", need)
        _set_attr(made, "reason", reason)
        _set_attr(made, "cause", cause)
        _set_attr(made, "exhausted", exhausted)
        return made

    @property
    def kind(self) -> str:
        """The need's kind: program, mentor or format."""
        return self.need.kind

    @property
    def competency(self) -> str | None:
        """The need's competency, if it names one."""
        return self.need.competency

    @property
    def rule(self) -> str:
        """The rule that asked for the need."""
        return self.need.rule

    @property
    def conditions(self) -> tuple[tuple[str, Any], ...]:
        """The need's filters, which no item satisfied."""
        return self.need.filters

    def to_dict(self) -> dict[str, Any]:
        """The unmet need as a JSON-ready dict.

        Returns
        -------
        dict
            The need's dict (:meth:`Need.to_dict`), ``rule``, ``reason``, ``cause``
            and, with ``capacity``, ``exhausted``.
        """
        out = self.need.to_dict()
        out["rule"] = out.pop("rule")  # last even if a filter is named "rule"
        out["reason"] = self.reason
        out["cause"] = self.cause
        if self.exhausted:
            out["exhausted"] = list(self.exhausted)
        return out


#: Why a deficit is reported when the rules planned nothing for it.
UNADDRESSED_REASON = (
    "правила не назначили по дефициту ни обучения, ни практики: "
    "в маршруте есть только повторная диагностика"
)


@dataclass(frozen=True)
class UnaddressedDeficit:
    """A deficit with no step in the route (but the closing re-diagnosis) and no unmet need.

    Not a need: the rules asked for nothing. Reported among the unmet entries so
    that a reader sees every deficit either addressed or explained.

    Attributes
    ----------
    deficit : Deficit
        The deficit, one of the Result's ``deficits``.
    reason : str
        Why it is reported (:data:`UNADDRESSED_REASON`).
    """

    deficit: Deficit
    reason: str = UNADDRESSED_REASON

    @property
    def kind(self) -> str:
        """Always ``deficit``."""
        return "deficit"

    @property
    def competency(self) -> str:
        """The deficit's competency."""
        return self.deficit.competency

    @property
    def conditions(self) -> tuple[tuple[str, Any], ...]:
        """None: no need was asked."""
        return ()

    @property
    def severity(self) -> str:
        """The deficit's severity."""
        return self.deficit.severity

    @property
    def rule(self) -> str:
        """The rule that derived the deficit."""
        return self.deficit.rule

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict.

        Returns
        -------
        dict
            ``kind`` (``"deficit"``), ``competency``, ``severity``, ``rule``, ``reason``.
        """
        return {
            "kind": "deficit",
            "competency": self.deficit.competency,
            "severity": self.deficit.severity,
            "rule": self.deficit.rule,
            "reason": self.reason,
        }


#: An entry of ``Result.unmet``: an unserved need, or a deficit nothing addresses.
UnmetEntry = Unmet | UnaddressedDeficit


@dataclass(frozen=True)
class Resolution:
    """What :func:`~deficit_engine.resolve.resolve` returns: recommendations, unmet needs.

    Attributes
    ----------
    recommendations : tuple of Recommendation
        The chosen catalogue items, programmes first, then mentors, then formats.
    unmet : tuple of Unmet
        The needs no item serves.
    """

    recommendations: tuple[Recommendation, ...]
    unmet: tuple[Unmet, ...]

    def of_kind(self, kind: str) -> list[Recommendation]:
        """The recommendations of one kind.

        Parameters
        ----------
        kind : str
            ``program``, ``mentor`` or ``format``.

        Returns
        -------
        list of Recommendation
            Those of ``kind``, in their order in :attr:`recommendations`.
        """
        return [r for r in self.recommendations if r.kind == kind]
