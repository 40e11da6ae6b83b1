"""Rules to match plans and durable_rules JSON definitions: pure data, no durable import.

Each rule is expanded into one *sub-rule* per combination of its ``any:``
alternatives. A sub-rule has positive patterns (matched by the backend: Rete
joins in durable_rules, nested loops in the reference backend) and negated
patterns (checked by the driver against the whole fact set when an
activation fires; rule sets are stratified so that the negated facts are
complete by then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .rules import Cond, NotGroup, Pattern, Ref, Rule

__all__ = [
    "CONSTANT",
    "FIELD",
    "LITERAL",
    "MIXED",
    "SENTINEL",
    "Builder",
    "SubRule",
    "Template",
    "compile_rules",
    "durable_definition",
    "durable_message",
    "templates",
]


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
    types: frozenset[str]  # fact types of the positive patterns
    actions: tuple[Template, ...] = ()  # the rule's `then`, precompiled (see `templates`)
    rank: tuple[int, int, tuple[int, ...]] = (0, 0, ())  # agenda order: -priority, order, alt
    # the actions as one generated function (see `builder`); None: the driver reads them
    build: Builder | None = field(default=None, compare=False, repr=False)
    # `rank` as one int: the sub-rule's place among all the rule set's ranks, in order
    # (see `compile_rules`); the agenda compares it, not the nested tuple
    place: int = 0


# An action, ready to fill in: the asserted fact's type, then per field its name, how
# its value is found (LITERAL: payload is the value; FIELD: payload is (position of
# the matched fact, field name); MIXED: payload is a list of literals and Refs),
# and whether a missing value leaves the whole fact out (competency, severity, kind).
LITERAL, FIELD, MIXED = 0, 1, 2
Template = tuple[str, tuple[tuple[str, int, Any, bool], ...]]
REQUIRED_FIELDS = ("competency", "severity", "kind")


def templates(rule: Rule, aliases: dict[str, int]) -> tuple[Template, ...]:
    """A rule's actions with each `$alias.field` resolved to a position in the binding."""
    out: list[Template] = []
    for action in rule.then:
        fields: list[tuple[str, int, Any, bool]] = []
        for name, raw in action.fields:
            if name == "type":
                continue
            required = name in REQUIRED_FIELDS
            if isinstance(raw, Ref):
                fields.append((name, FIELD, (aliases[raw.alias], raw.field), required))
            elif isinstance(raw, list):
                fields.append((name, MIXED, raw, required))
            else:
                fields.append((name, LITERAL, raw, required))
        out.append((action.fact_type, tuple(fields)))
    return tuple(out)


# A sub-rule's actions as a function: (the bound facts, the enricher) -> the facts the
# firing asserts, each enriched, in action order.
_Fact = dict[str, Any]
Builder = Callable[[Sequence[_Fact], Callable[[_Fact], _Fact]], list[_Fact]]


def builder(actions: Sequence[Template]) -> Builder | None:
    """The actions as one generated function, giving what the driver's reading of the
    templates gives (``inference.driver``): the same facts, fields in the same order, a
    fact left out when a required field is missing from its bound fact, a missing
    optional field left out. None when an action has a list value (MIXED): the driver
    reads those. A sub-rule's actions run once per firing; with the field names and
    positions written in, they cost less than the loop over the templates (about 2 %
    of the fast backend's inference on the shipped KB). The source holds only local
    names: every field name and literal is a constant bound by name in the function's
    namespace, so nothing from a rule file becomes code."""
    if any(mode == MIXED for _type, fields in actions for _n, mode, _p, _r in fields):
        return None
    env: dict[str, Any] = {"M": object()}

    def const(value: Any) -> str:
        name = f"c{len(env)}"
        env[name] = value
        return name

    lines = ["def build(b, enrich):", "    out = []"]
    for ftype, fields in actions:
        _action_source(ftype, fields, const, lines)
    lines.append("    return out")
    exec(compile("\n".join(lines), "<deficit_engine actions>", "exec"), env)
    return env["build"]  # type: ignore[no-any-return]


# How a generated loop makes a fact of fixed field names (see `_action_source`): an
# expression (the dict display), and statements that make the same dict faster, a copy
# of a template made once (the action's constants in field order, None where a value is
# read) with the values read set in it: a dict's copy costs less than a display, which
# hashes each key as it goes (×0.45 for a need's six fields, timed alone).
Making = tuple[str, tuple[str, ...]]


def _action_source(
    ftype: str,
    fields: Sequence[tuple[str, int, Any, bool]],
    const: Callable[[Any], str],
    lines: list[str],
    finish: Callable[[str, tuple[str, ...] | None, dict[str, str], Making | None], None]
    | None = None,
) -> None:
    """Append to ``lines`` the source of one action (see :func:`builder`): read each
    bound field once, test the required ones, then make the fact: a dict display up to
    the first optional field, the rest field by field (a missing optional one left
    out), and append it enriched to ``out``; or, given ``finish``, let it write what is
    done with the fact ``f`` (called with the indent, the fact's field names in order
    or None when an optional field may be left out, the source of each field's
    value, a local variable or a constant's name, and, for a fact of fixed field names,
    how to make it (:data:`Making`): then ``f`` is not made yet, and ``finish`` makes it
    where it is needed (a fact found in the store already need not be)."""
    read: dict[str, str] = {}  # field -> local variable holding the bound fact's value
    for name, mode, payload, _required in fields:
        if mode == FIELD:
            read[name] = f"x{len(read)}_{len(lines)}"
            lines.append(f"    {read[name]} = b[{int(payload[0])}].get({const(payload[1])}, M)")
    required = [read[n] for n, mode, _p, req in fields if mode == FIELD and req]
    indent = "    "
    if required:
        lines.append(f"    if {' and '.join(f'{x} is not M' for x in required)}:")
        indent = "        "
    optional = {n for n, mode, _p, req in fields if mode == FIELD and not req}
    names = [name for name, *_rest in fields]
    first = min((names.index(n) for n in optional), default=len(fields))
    values = {"type": const(ftype)}
    for name, mode, payload, _required in fields:
        values[name] = read[name] if mode == FIELD else const(payload)
    items = [f"{const('type')}: {values['type']}"]
    for name, _mode, _payload, _required in fields[:first]:
        items.append(f"{const(name)}: {values[name]}")
    display = f"{{{', '.join(items)}}}"
    if finish is not None and not optional:
        template: dict[str, Any] = {"type": ftype}
        for name, mode, payload, _required in fields:
            template[name] = None if mode == FIELD else payload
        sets = [f"f[{const(n)}] = {read[n]}" for n, mode, _p, _r in fields if mode == FIELD]
        finish(
            indent, ("type", *names), values, (display, (f"f = {const(template)}.copy()", *sets))
        )
        return
    lines.append(f"{indent}f = {display}")
    for name, _mode, _payload, _required in fields[first:]:
        if name in optional:
            lines.append(f"{indent}if {read[name]} is not M:")
            lines.append(f"{indent}    f[{const(name)}] = {read[name]}")
        else:
            lines.append(f"{indent}f[{const(name)}] = {values[name]}")
    if finish is None:
        lines.append(f"{indent}out.append(enrich(f))")
    else:
        finish(indent, None, values, None)


def compile_rules(rules: Sequence[Rule]) -> list[list[SubRule]]:
    """Sub-rules grouped by stratum, in rule order."""
    strata: dict[int, list[SubRule]] = {}
    for rule in rules:
        for alt, elements, n_outer in rule.alternatives():
            positives = tuple(e for e in elements if isinstance(e, Pattern))
            negatives = tuple(p for e in elements if isinstance(e, NotGroup) for p in e.patterns)
            key = f"r{rule.order}" + "".join(f".{i}" for i in alt)
            aliases = {p.alias: i for i, p in enumerate(positives)}
            actions = templates(rule, aliases)
            strata.setdefault(rule.stratum, []).append(
                SubRule(
                    key,
                    rule,
                    alt,
                    positives,
                    n_outer,
                    negatives,
                    aliases,
                    frozenset(p.type for p in positives),
                    actions,
                    (-rule.priority, rule.order, alt),
                    builder(actions),
                )
            )
    # equal ranks get equal places, so ordering by place is ordering by rank exactly
    ranks = sorted({sub.rank for subs in strata.values() for sub in subs})
    places = {rank: i for i, rank in enumerate(ranks)}
    return [[replace(sub, place=places[sub.rank]) for sub in strata[k]] for k in sorted(strata)]


# --- durable_rules JSON -------------------------------------------------------
#
# durable_rules 2.0.28 mishandles some condition shapes (found by experiment;
# pinned in tests/test_durable_quirks.py):
#   * its join ("beta") evaluator scans one slot too far after a short-circuit
#     (reads past the expression array: wrong matches or a crash), and a nested
#     $and/$or ends the evaluation of its parent, so a reference comparison
#     placed after one is silently dropped;
#   * a reference comparison against a missing or null field raises
#     "error code: 311" from inside assert_fact;
#   * its JSON reader refuses numbers with an exponent but no fraction
#     ("1e-05", "-1e+300": error 204), which Python writes for very small and
#     very large floats; the rule parser therefore limits numeric literals to
#     a range Python writes plainly, and profile numbers are rounded.
# So each pattern is laid out the one way found correct against brute force:
# a constant-field leaf, literal leaves, reference leaves, an always-true
# reference to the constant field of the first pattern (the end sentinel),
# then nested literal groups ($or, $iany) last. Facts sent to durable carry
# the constant field and every field of their type (missing ones filled with a
# sentinel of the field's kind). Shapes durable cannot do right (`exists`,
# `in` with references) are left out, so the definition is a filter that may
# let too much through, never too little; the driver verifies each activation
# with the exact semantics (inference.matches), so what fires is exactly what
# should.

CONSTANT = "__k"  # no rule field can be named like this (fields start with a letter)
SENTINEL: dict[str, Any] = {"number": -1.0e9, "string": "~absent~", "boolean": False, "list": []}


def _alias(i: int) -> str:
    return f"p{i}"


def _operand(value: Any, aliases: dict[str, int]) -> Any:
    if isinstance(value, Ref):
        return {_alias(aliases[value.alias]): value.field}
    return value


def _is_join(term: dict[str, Any]) -> bool:
    """A leaf whose operand is a reference: {f: {"p0": g}} or {"$op": {f: {"p0": g}}}."""
    ((key, value),) = term.items()
    if key.startswith("$"):
        ((_field, value),) = value.items()
    return isinstance(value, dict)


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

    None if some condition can never hold, or if there is nothing to match (a
    rule of `not:` patterns only: the driver activates it once by itself).
    """
    if not sub.positives:
        return None
    patterns = []
    for i, pat in enumerate(sub.positives):
        literals: list[dict[str, Any]] = [{CONSTANT: 1}, {"type": pat.type}]
        joins: list[dict[str, Any]] = []
        groups: list[dict[str, Any]] = []
        for cond in pat.conds:
            terms = _terms(cond, sub.aliases)
            if terms is None:
                return None
            for term in terms:
                if "$or" in term or "$iany" in term:
                    groups.append(term)
                elif _is_join(term):
                    joins.append(term)
                else:
                    literals.append(term)
        if joins:
            joins.append({CONSTANT: {_alias(0): CONSTANT}})
        patterns.append({_alias(i): {"$and": literals + joins + groups}})
    return {"all": patterns}


def durable_message(fact: dict[str, Any], kinds: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The fact as durable sees it: every field of its type present."""
    message = dict(fact)
    message[CONSTANT] = 1
    for name, kind in kinds.get(fact["type"], {}).items():
        if name not in message:
            message[name] = SENTINEL.get(kind, SENTINEL["string"])
    return message
