"""The working memory every backend shares: a set of facts, numbered in insertion order.

Facts are a set (asserting a fact already present adds nothing), so each fact
has a key built from its type and fields. A fact's number is its position in
insertion order; activations name facts by number, and the agenda orders by it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from ..compiler import SubRule
from ..errors import MatchBudgetError, UsageError
from ..models import Fact

__all__ = ["Activation", "Budget", "FactStore", "fact_key"]

# What a matcher reports: a sub-rule and the numbers of the facts bound to its
# positive patterns, in pattern order.
Activation = tuple[SubRule, tuple[int, ...]]


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return (type(value) is bool, value)  # True and 1.0 are different values in a fact


_PLAIN_EXCEPT = frozenset((list, bool))


def fact_key(fact: Fact) -> tuple[Any, ...]:
    """Identity of a fact: its type and fields (facts are a set).

    Parameters
    ----------
    fact : Fact
        A fact: its ``type`` and fields.

    Returns
    -------
    tuple
        A hashable key, equal for two facts exactly when they are the same fact
        (``True`` and ``1.0`` are different values, lists compare element-wise).
    """
    if _PLAIN_EXCEPT.isdisjoint(map(type, fact.values())):
        return tuple(sorted(fact.items()))  # strings and numbers: they are their own keys
    return tuple(sorted((k, _frozen(v)) for k, v in fact.items()))


_BOOL = frozenset((bool,))


def _same_bools(a: Fact, b: Fact) -> bool:
    """Whether two facts whose items make equal sets are one fact (equal by
    :func:`fact_key`): sure when neither holds a bool, else fact_key decides."""
    if _BOOL.isdisjoint(map(type, a.values())) and _BOOL.isdisjoint(map(type, b.values())):
        return True
    return fact_key(a) == fact_key(b)


# A fact's field names, in its own order -> the set of them and a function that reads
# the fact's values in one fixed order for that set (sorted): what `FactStore.add` keys
# facts by. The same names give the same shape in every thread and every run, so the
# cache is shared; it stops growing at _SHAPES_CACHED shapes (the shipped KB makes about
# twenty), past which a shape is worked out again for each fact.
_Shape = tuple[frozenset[str], Callable[[Fact], Any]]
_SHAPES: dict[tuple[str, ...], _Shape] = {}
_SHAPES_CACHED = 4096


def _items(fact: Fact) -> frozenset[tuple[str, Any]]:
    return frozenset(fact.items())


def _shape(names: tuple[str, ...]) -> _Shape:
    """The shape of facts whose field names are ``names``, in this order."""
    try:
        values: Callable[[Fact], Any] = itemgetter(*sorted(names))
    except TypeError:  # no names, or names that do not sort: the set of its items
        values = _items
    shape = (frozenset(names), values)
    if len(_SHAPES) < _SHAPES_CACHED:
        _SHAPES[names] = shape
    return shape


def plain_key(fact: Fact) -> tuple[frozenset[str], Any] | None:
    """The key :meth:`FactStore.add` files a fact under first, or None for a fact with
    a list among its values (filed by :func:`fact_key` alone)."""
    names = tuple(fact)
    shape = _SHAPES.get(names)
    if shape is None:
        shape = _shape(names)
    key = (shape[0], shape[1](fact))
    try:
        hash(key)
    except TypeError:
        return None
    return key


class Budget:
    """One evaluation's budget of matching work: partial matches, activations, facts.

    The matchers spend a unit for each partial match they extend (each completed
    activation among them; durable, whose joins run inside its C engine, for each
    activation it reports) and the driver one for each fact added. The counter is
    public and slotted because the joins bump it inline, in their innermost loop.

    Parameters
    ----------
    limit : int
        The most units one evaluation may spend.
    """

    __slots__ = ("limit", "spent")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    def spend(self, units: int, rule: str) -> None:
        """Spend ``units`` on ``rule``'s behalf.

        Parameters
        ----------
        units : int
            The work done.
        rule : str
            The id of the rule it was done for, named if the budget runs out.

        Raises
        ------
        MatchBudgetError
            If the evaluation has now spent more than ``limit``.
        """
        self.spent += units
        if self.spent > self.limit:
            raise MatchBudgetError(self.limit, rule)

    def exceeded(self, rule: str) -> MatchBudgetError:
        """The error to raise when an inline count has passed the limit.

        Parameters
        ----------
        rule : str
            The id of the rule being matched.

        Returns
        -------
        MatchBudgetError
        """
        return MatchBudgetError(self.limit, rule)


# What `FactStore.add_distinct_all` takes as the type before the first fact's: no type.
_NO_TYPE = object()

#: No limit: a store made outside a run (a test's, a matcher's placeholder).
UNLIMITED = 2**62


class FactStore:
    """The working memory: a set of facts, each with its insertion number.

    Parameters
    ----------
    budget : Budget, optional
        The run's budget of matching work (matchers spend from it); unlimited
        when not given.
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget if budget is not None else Budget(UNLIMITED)
        self.facts: list[Fact] = []
        self.keys: dict[tuple[frozenset[str], Any], int] = {}  # see `add`
        self.exact: dict[tuple[Any, ...], int] = {}
        self.by_type: dict[str, list[int]] = {}
        # the types whose facts are all unkeyed (each added by `add_distinct`): keyed
        # when a fact of the type is first given to `add`, so never for most
        self.unkeyed: set[str] = set()

    def add_distinct(self, fact: Fact) -> int:
        """Add a fact known to differ from every fact in the store; return its number.

        A profile's base facts are distinct by construction (one ``person``, one
        ``result`` per competency, one ``indicator_result`` per indicator, one
        ``group_result`` per group, one ``request`` per competency), so they are not
        keyed as they come: the facts of a type are keyed only when a fact of the
        type is later given to :meth:`add`, the one way one could be asserted again.
        A rule cannot assert a profile's built-in types (the loader refuses it), so
        an evaluation keys none of them: a fifth of its store's work before.

        Parameters
        ----------
        fact : Fact
            The fact: not equal (by :func:`fact_key`) to any fact in the store, nor
            to any other fact added by ``add_distinct`` before the next :meth:`add`
            of its type.

        Returns
        -------
        int
            The fact's number.

        Raises
        ------
        UsageError
            If facts of its type have been given to :meth:`add` already (they are
            keyed: this one would have to be too).
        """
        facts = self.facts
        seq = len(facts)
        ftype = fact["type"]
        of_type = self.by_type.get(ftype)
        if of_type is None:
            self.by_type[ftype] = [seq]
            self.unkeyed.add(ftype)
        elif ftype in self.unkeyed:
            of_type.append(seq)
        else:
            raise UsageError(f"add_distinct: facts of type {ftype!r} are keyed already")
        facts.append(fact)
        return seq

    def add_distinct_all(self, facts: Iterable[Fact]) -> None:
        """Add facts known to differ from each other and from every fact in the store,
        in order, as :meth:`add_distinct` one at a time would (one call for a profile's
        thirty base facts, not thirty).

        Parameters
        ----------
        facts : iterable of Fact
            The facts: as :meth:`add_distinct` takes them.

        Raises
        ------
        UsageError
            If facts of one of their types have been given to :meth:`add` already.
        """
        mine, by_type, unkeyed = self.facts, self.by_type, self.unkeyed
        # a profile's base facts come in runs of one type (its results, its groups'...):
        # the type's list is looked up, and checked unkeyed, once per run
        last: Any = _NO_TYPE
        of_type: list[int] = []
        for seq, fact in enumerate(facts, len(mine)):
            ftype = fact["type"]
            if ftype != last:
                found = by_type.get(ftype)
                if found is None:
                    found = by_type[ftype] = []
                    unkeyed.add(ftype)
                elif ftype not in unkeyed:
                    raise UsageError(f"add_distinct: facts of type {ftype!r} are keyed already")
                of_type, last = found, ftype
            of_type.append(seq)
            mine.append(fact)

    def _key_unkeyed(self, ftype: str) -> None:
        """Key the facts of a type added by :meth:`add_distinct` (see there), as
        :meth:`add` would have keyed them."""
        self.unkeyed.discard(ftype)
        facts, keys, exact = self.facts, self.keys, self.exact
        for seq in self.by_type[ftype]:
            fact = facts[seq]
            key = plain_key(fact)
            # no two are one fact: a key taken already is True beside 1 or 1.0
            if key is None or keys.setdefault(key, seq) != seq:
                exact[fact_key(fact)] = seq

    def add(self, fact: Fact) -> int | None:
        """Add a fact; return its number, or None if an identical fact is present.

        Parameters
        ----------
        fact : Fact
            The fact to add.

        Returns
        -------
        int or None
            The new fact's number, or None when the store already holds it.
        """
        # This runs for every fact of every evaluation, so a fact is first keyed by the
        # cheapest key to make that says the same as the set of its items: the set of its
        # field names (hashed once, when its shape is cached) and its values in a fixed
        # order for that set (a third cheaper than a set of items). Two facts equal by
        # fact_key have equal keys; equal keys whose facts differ by fact_key (True
        # beside 1 or 1.0, which Python finds equal) are told apart by fact_key, in
        # `exact`, only then. A fact with a list cannot be hashed: fact_key alone keys
        # it. So each fact is either the first of its key in `keys` or in `exact` by its
        # fact_key, and an identical fact is found in one or the other.
        ftype = fact["type"]
        if ftype in self.unkeyed:
            self._key_unkeyed(ftype)
        facts = self.facts
        seq = len(facts)
        names = tuple(fact)
        shape = _SHAPES.get(names)
        if shape is None:
            shape = _shape(names)
        try:
            found = self.keys.setdefault((shape[0], shape[1](fact)), seq)
        except TypeError:  # a list among its values
            found = self.exact.setdefault(fact_key(fact), seq)
        else:
            if found != seq and not _same_bools(facts[found], fact):
                found = self.exact.setdefault(fact_key(fact), seq)
        if found != seq:
            return None
        facts.append(fact)
        of_type = self.by_type.get(ftype)
        if of_type is None:
            self.by_type[ftype] = [seq]
        else:
            of_type.append(seq)
        return seq

    def of_type(self, ftype: str) -> list[int]:
        """The numbers of the facts of one type, in insertion order.

        Parameters
        ----------
        ftype : str
            A fact type.

        Returns
        -------
        list of int
            The facts' numbers (the store's own list: do not change it).
        """
        return self.by_type.get(ftype, [])
