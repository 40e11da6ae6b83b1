"""The exact meaning of a rule's conditions: the reference every backend is held to.

``holds`` decides one condition on one fact, given the facts already bound to
the sub-rule's earlier patterns; ``matches`` decides a pattern; and
``negation_blocks`` decides a sub-rule's ``not:`` patterns against the whole
store. The python backend calls these directly; the compiled closures and the
generated alpha functions (``compiled.py``) are specialisations that must
answer the same, and the differential tests hold them to it. durable_rules is
compiled to a filter that lets through at least what these accept
(``compiler.py``), and its activations are verified with the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..compiler import SubRule
from ..models import Fact
from ..rules import Cond, Pattern, Ref
from .store import FactStore

__all__ = ["MISSING", "holds", "matches", "negation_blocks", "operand_value"]

# A field a fact does not have: no condition on it holds (except `exists: false`).
MISSING = object()


def operand_value(value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> Any:
    """What a condition's operand stands for under a binding.

    Parameters
    ----------
    value : Any
        A literal, or a :class:`~deficit_engine.rules.Ref` to a field of an
        earlier pattern's fact.
    binding : sequence of Fact
        The facts bound to the sub-rule's positive patterns so far.
    aliases : dict
        The sub-rule's pattern aliases, to their positions in ``binding``.

    Returns
    -------
    Any
        The literal itself, the referenced field's value, or :data:`MISSING`
        when the referenced fact has no such field.
    """
    if isinstance(value, Ref):
        return binding[aliases[value.alias]].get(value.field, MISSING)
    return value


def _ordered(a: Any, b: Any) -> bool:
    """Whether a and b can be compared with < (numbers with numbers, strings with strings)."""
    if isinstance(a, str) and isinstance(b, str):
        return True
    num = (int, float)
    return (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def holds(cond: Cond, fact: Fact, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    """Whether one condition holds for a fact: the reference semantics.

    A condition on a field the fact lacks holds only if it is ``exists: false``.
    A reference to a field the bound fact lacks makes the comparison false (an
    ``in`` list skips such items). Order comparisons hold only between two
    numbers or two strings (a boolean is not a number here).

    Parameters
    ----------
    cond : Cond
        The condition: a field, an operator and an operand.
    fact : Fact
        The fact the condition is on.
    binding : sequence of Fact
        The facts bound to the sub-rule's earlier positive patterns.
    aliases : dict
        The sub-rule's pattern aliases, to their positions in ``binding``.

    Returns
    -------
    bool
    """
    op = cond.op
    if cond.field not in fact:
        return op == "exists" and cond.value is False
    x = fact[cond.field]
    if op == "exists":
        return bool(cond.value)
    if op == "contains":
        return isinstance(x, list) and cond.value in x
    if op in ("in", "not_in"):
        items = [operand_value(v, binding, aliases) for v in cond.value]
        found = any(item is not MISSING and x == item for item in items)
        return found if op == "in" else not found
    if op == "between":
        lo, hi = (operand_value(v, binding, aliases) for v in cond.value)
        if lo is MISSING or hi is MISSING or not (_ordered(x, lo) and _ordered(x, hi)):
            return False
        return bool(lo <= x <= hi)
    v = operand_value(cond.value, binding, aliases)
    if v is MISSING:
        return False
    if op == "eq":
        return bool(x == v)
    if op == "ne":
        return bool(x != v)
    if not _ordered(x, v):
        return False
    if op == "lt":
        return bool(x < v)
    if op == "le":
        return bool(x <= v)
    if op == "gt":
        return bool(x > v)
    return bool(x >= v)  # ge


def matches(pattern: Pattern, fact: Fact, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    """Whether a fact matches a pattern: its type, and every condition holds.

    Parameters
    ----------
    pattern : Pattern
        A positive or ``not:`` pattern of a sub-rule.
    fact : Fact
        The candidate fact.
    binding : sequence of Fact
        The facts bound to the sub-rule's earlier positive patterns.
    aliases : dict
        The sub-rule's pattern aliases, to their positions in ``binding``.

    Returns
    -------
    bool
    """
    return fact["type"] == pattern.type and all(
        holds(c, fact, binding, aliases) for c in pattern.conds
    )


def negation_blocks(sub: SubRule, binding: Sequence[Fact], store: FactStore) -> bool:
    """True if some ``not:`` pattern of the sub-rule matches a fact in the store.

    Parameters
    ----------
    sub : SubRule
        The sub-rule whose activation is about to fire.
    binding : sequence of Fact
        The facts bound to its positive patterns.
    store : FactStore
        The facts so far (complete for the negated types: strata see to that).

    Returns
    -------
    bool
    """
    for pat in sub.negatives:
        for seq in store.of_type(pat.type):
            if matches(pat, store.facts[seq], binding, sub.aliases):
                return True
    return False
