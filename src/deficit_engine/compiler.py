"""Rules to match plans and durable_rules JSON definitions: pure data, no durable import.

Each rule is expanded into one *sub-rule* per combination of its ``any:``
alternatives. A sub-rule has positive patterns (matched by the backend: Rete
joins in durable_rules, nested loops in the reference backend) and negated
patterns (checked by the driver against the whole fact set when an
activation fires; rule sets are stratified so that the negated facts are
complete by then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rules import Cond, NotGroup, Pattern, Ref, Rule

__all__ = ["SENTINEL", "SubRule", "compile_rules", "durable_definition", "durable_message"]


@dataclass(frozen=True)
class SubRule:
    """One alternative of a rule: what the backends match."""

    key: str  # "r<order>" or "r<order>.<alt>.<alt>"
    rule: Rule
    alt: tuple[int, ...]
    positives: tuple[Pattern, ...]  # outer patterns first, then any-alternative patterns
    n_outer: int  # how many of the positives are outside any:
    negatives: tuple[Pattern, ...]
    aliases: dict[str, int]  # rule alias -> index in positives

    @property
    def types(self) -> frozenset[str]:
        return frozenset(p.type for p in self.positives)


def compile_rules(rules: Sequence[Rule]) -> list[list[SubRule]]:
    """Sub-rules grouped by stratum, in rule order."""
    strata: dict[int, list[SubRule]] = {}
    for rule in rules:
        for alt, elements, n_outer in rule.alternatives():
            positives = tuple(e for e in elements if isinstance(e, Pattern))
            negatives = tuple(p for e in elements if isinstance(e, NotGroup) for p in e.patterns)
            key = f"r{rule.order}" + "".join(f".{i}" for i in alt)
            aliases = {p.alias: i for i, p in enumerate(positives)}
            strata.setdefault(rule.stratum, []).append(
                SubRule(key, rule, alt, positives, n_outer, negatives, aliases)
            )
    return [strata[k] for k in sorted(strata)]


# --- durable_rules JSON -------------------------------------------------------
#
# durable_rules 2.0.28 mishandles some condition shapes (found by experiment;
# see tests/test_durable_quirks.py):
#   * a reference comparison in a pattern that also holds a nested $and is
#     silently dropped, and a reference inside $or is mis-evaluated;
#   * a reference comparison against a missing or null field raises
#     "error code: 311" from inside assert_fact.
# So the definition is a *filter that may let too much through*, never too
# little: every pattern is one flat $and; operators durable cannot do right
# ($ex/$nex, `in` with references) are left out; facts sent to durable carry
# every field of their type (missing ones filled with a sentinel of the
# field's kind). The driver then verifies each activation with the exact
# semantics (inference.matches), so what fires is exactly what should.

SENTINEL: dict[str, Any] = {"number": -1.0e300, "string": "\u0000", "boolean": False, "list": []}


def _alias(i: int) -> str:
    return f"p{i}"


def _operand(value: Any, aliases: dict[str, int]) -> Any:
    if isinstance(value, Ref):
        return {_alias(aliases[value.alias]): value.field}
    return value


def _terms(cond: Cond, aliases: dict[str, int]) -> list[dict[str, Any]] | None:
    """Flat durable terms for a condition; [] = leave it to verification; None = never holds."""
    f, op, v = cond.field, cond.op, cond.value
    if op == "eq":
        return [{f: _operand(v, aliases)}]
    if op == "ne":
        return [{"$neq": {f: _operand(v, aliases)}}]
    if op in ("lt", "le", "gt", "ge"):
        name = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}[op]
        return [{name: {f: _operand(v, aliases)}}]
    if op == "between":
        lo, hi = v
        return [{"$gte": {f: _operand(lo, aliases)}}, {"$lte": {f: _operand(hi, aliases)}}]
    if op == "in":
        if not v:
            return None
        if any(isinstance(item, Ref) for item in v):
            return []
        if len(v) == 1:
            return [{f: v[0]}]
        return [{"$or": [{f: item} for item in v]}]
    if op == "not_in":
        return [{"$neq": {f: _operand(item, aliases)}} for item in v]
    if op == "contains":
        return [{"$iany": {f: {"$i": v}}}]
    if op == "exists":
        return []
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - rejected by the parser


def durable_definition(sub: SubRule) -> dict[str, Any] | None:
    """The durable_rules definition of one sub-rule (without its action).

    None if some condition can never hold (the sub-rule can never fire).
    """
    patterns = []
    for i, pat in enumerate(sub.positives):
        terms: list[dict[str, Any]] = [{"type": pat.type}]
        for cond in pat.conds:
            more = _terms(cond, sub.aliases)
            if more is None:
                return None
            terms.extend(more)
        patterns.append({_alias(i): {"$and": terms} if len(terms) > 1 else terms[0]})
    return {"all": patterns}


def durable_message(fact: dict[str, Any], kinds: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The fact as durable sees it: every field of its type present."""
    message = dict(fact)
    for name, kind in kinds.get(fact["type"], {}).items():
        if name not in message:
            message[name] = SENTINEL.get(kind, SENTINEL["string"])
    return message
