"""The working memory every backend shares: a set of facts, numbered in insertion order.

Facts are a set (asserting a fact already present adds nothing), so each fact
has a key built from its type and fields. A fact's number is its position in
insertion order; activations name facts by number, and the agenda orders by it.
"""

from __future__ import annotations

from typing import Any

from ..compiler import SubRule
from ..models import Fact

__all__ = ["Activation", "FactStore", "fact_key"]

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


class FactStore:
    """The working memory: a set of facts, each with its insertion number."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.keys: dict[tuple[Any, ...], int] = {}
        self.by_type: dict[str, list[int]] = {}

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
        key = fact_key(fact)
        if key in self.keys:
            return None
        seq = len(self.facts)
        self.facts.append(fact)
        self.keys[key] = seq
        self.by_type.setdefault(fact["type"], []).append(seq)
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
