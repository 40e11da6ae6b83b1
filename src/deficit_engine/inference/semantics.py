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

import operator
from collections.abc import Callable, Sequence
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


# One check per operator: (the fact's field value, the condition's operand, the binding,
# the aliases) -> whether the condition holds. The field is known to be present.
_Check = Callable[[Any, Any, Sequence[Fact], dict[str, int]], bool]


def _exists(x: Any, value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    return bool(value)  # the field is present: `exists: true` holds, `exists: false` not


def _contains(x: Any, value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    return isinstance(x, list) and value in x


def _found(x: Any, items: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    """Whether x equals one of the items (a reference to a missing field equals nothing)."""
    resolved = [operand_value(v, binding, aliases) for v in items]
    return any(item is not MISSING and x == item for item in resolved)


def _not_found(x: Any, items: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    return not _found(x, items, binding, aliases)


def _between(x: Any, bounds: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
    lo, hi = (operand_value(v, binding, aliases) for v in bounds)
    if lo is MISSING or hi is MISSING or not (_ordered(x, lo) and _ordered(x, hi)):
        return False
    return bool(lo <= x <= hi)


def _equality(compare: Callable[[Any, Any], Any]) -> _Check:
    """eq / ne: any two values compare; a reference to a missing field makes it false."""

    def check(x: Any, value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
        v = operand_value(value, binding, aliases)
        return v is not MISSING and bool(compare(x, v))

    return check


def _ordering(compare: Callable[[Any, Any], Any]) -> _Check:
    """lt / le / gt / ge: only numbers with numbers and strings with strings compare."""

    def check(x: Any, value: Any, binding: Sequence[Fact], aliases: dict[str, int]) -> bool:
        v = operand_value(value, binding, aliases)
        return v is not MISSING and _ordered(x, v) and bool(compare(x, v))

    return check


# Every operator the rule parser accepts (rules.OPERATORS), and what it means.
_CHECKS: dict[str, _Check] = {
    "eq": _equality(operator.eq),
    "ne": _equality(operator.ne),
    "lt": _ordering(operator.lt),
    "le": _ordering(operator.le),
    "gt": _ordering(operator.gt),
    "ge": _ordering(operator.ge),
    "in": _found,
    "not_in": _not_found,
    "between": _between,
    "contains": _contains,
    "exists": _exists,
}


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
    if cond.field not in fact:
        return cond.op == "exists" and cond.value is False
    return _CHECKS[cond.op](fact[cond.field], cond.value, binding, aliases)


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
