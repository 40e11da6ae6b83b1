"""What a parsed rule is: fact types and their fields, patterns, actions, rules.

Everything here is a frozen value. The parser (:mod:`.parse`) builds these
from YAML, the checks (:mod:`.check`) read them, and the compiler, the
inference drivers and the analysis consume them. This module imports no other
part of the package but the issue type, so every stage can depend on it.

The language is data (see docs/rules.md): patterns over typed facts with field
conditions, ``$alias.field`` references, ``any:``/``not:`` groups and three
actions (``deficit``, ``need``, ``fact``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._yaml import Loaded, PathKey
from ..errors import Issue

__all__ = [
    "BASE_TYPES",
    "DERIVED_TYPES",
    "FIELDS",
    "FIELD_NAME",
    "KB_ID_FIELDS",
    "LIST",
    "MAX_NUMBER",
    "MIN_NUMBER",
    "NEED_FILTERS",
    "NEED_KINDS",
    "NUM",
    "OPERATORS",
    "RESERVED_FIELDS",
    "SEVERITIES",
    "STR",
    "Action",
    "AnyGroup",
    "Cond",
    "Element",
    "NotGroup",
    "Pattern",
    "Ref",
    "Rule",
    "Value",
    "Vocabulary",
    "Where",
    "field_kinds",
    "issue_at",
    "literal_kind",
    "where_of",
]

SEVERITIES = ("critical", "high", "moderate", "low")  # most severe first
NEED_KINDS = ("program", "mentor", "format")
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "contains", "exists")

NUM, STR, LIST = "number", "string", "list"

# Numbers Python writes without an exponent (durable_rules cannot read "1e-05").
MIN_NUMBER, MAX_NUMBER = 1e-4, 1e15

# Fact types the engine provides (from the profile) and derives (from actions).
FIELDS: dict[str, dict[str, str]] = {
    "person": {
        "role": STR,
        "category": STR,
        "experience_years": NUM,
        "subjects": LIST,
        "organization": STR,
        "municipality": STR,
    },
    "result": {"competency": STR, "group": STR, "score_pct": NUM, "level": STR},
    "indicator_result": {
        "indicator": STR,
        "competency": STR,
        "group": STR,
        "score_pct": NUM,
        "level": STR,
    },
    "group_result": {"group": STR, "score_pct": NUM, "level": STR},
    "request": {"competency": STR, "group": STR},
    "deficit": {"competency": STR, "group": STR, "severity": STR, "score_pct": NUM},
    "need": {
        "kind": STR,
        "competency": STR,
        "format": STR,
        "education": STR,
        "phase": STR,
        "form": STR,
        "delivery": STR,
    },
}
BASE_TYPES = ("person", "result", "indicator_result", "group_result", "request")
DERIVED_TYPES = ("deficit", "need")
RESERVED_FIELDS = ("type", "id", "sid")
NEED_FILTERS = ("format", "education", "phase", "form", "delivery")

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""A field name, or a fact type name."""

# Fields whose values are ids the knowledge base defines (see Vocabulary).
KB_ID_FIELDS = frozenset(("competency", "group", "indicator", "level", "format"))

Where = tuple[str, int, int]
"""A place in a source file: (file as shown to the user, line, column), 1-based."""


def issue_at(
    where: Where,
    code: str,
    message: str,
    suggestion: str | None = None,
    severity: str = "error",
) -> Issue:
    """An :class:`~deficit_engine.errors.Issue` at ``where``.

    Parameters
    ----------
    where : Where
        The place the problem is reported at.
    code, message, suggestion, severity
        As in :class:`~deficit_engine.errors.Issue`.

    Returns
    -------
    Issue
        The issue, with no field path (a rule's place is its line).
    """
    return Issue(where[0], where[1], where[2], code, message, "", suggestion, severity)


def where_of(doc: Loaded, path: PathKey, key: bool = False) -> Where:
    """The place of the value at ``path`` in ``doc`` (of its key, with ``key``).

    Parameters
    ----------
    doc : Loaded
        A parsed YAML document.
    path : PathKey
        The value's path; its nearest known ancestor is used if it has no place.
    key : bool
        Place the mapping key instead of its value.

    Returns
    -------
    Where
        (the document's display name, line, column).
    """
    line, col = doc.positions.of(path, key=key)
    return (doc.file, line, col)


@dataclass(frozen=True)
class Vocabulary:
    """The ids a knowledge base defines: what rule literals are checked against.

    Rule parsing needs nothing else from a KB, so it takes this instead of the
    KB (which cannot exist before its rules are parsed). A parse given ``None``
    in place of a vocabulary checks everything but these ids: the loader does
    that when the ontology itself is broken, so the rules' own problems are
    still reported in the same pass without false "unknown id" errors.

    Each tuple is in the order suggestions are offered: ids sorted, levels in
    scale order.
    """

    competencies: tuple[str, ...]
    groups: tuple[str, ...]
    indicators: tuple[str, ...]
    levels: tuple[str, ...]
    formats: tuple[str, ...]

    def ids_of(self, field_name: str) -> tuple[str, ...] | None:
        """The ids a field named ``field_name`` takes, or None if it takes no KB id.

        Parameters
        ----------
        field_name : str
            A fact field: ``competency``, ``group``, ``indicator``, ``level`` or ``format``.

        Returns
        -------
        tuple of str or None
            The known ids, or None for a field outside :data:`KB_ID_FIELDS`.
        """
        table = {
            "competency": self.competencies,
            "group": self.groups,
            "indicator": self.indicators,
            "level": self.levels,
            "format": self.formats,
        }
        return table.get(field_name)


@dataclass(frozen=True)
class Ref:
    """``$alias.field``: a field of a fact matched earlier in the same rule."""

    alias: str
    field: str

    def __str__(self) -> str:
        return f"${self.alias}.{self.field}"


Value = Any  # a literal (str, float, bool, list), a Ref, or a list mixing both


@dataclass(frozen=True)
class Cond:
    """One condition of a pattern: ``field op value``."""

    field: str
    op: str
    value: Value
    where: Where = ("", 0, 0)  # the field's key
    value_where: Where = ("", 0, 0)  # the operand


@dataclass(frozen=True)
class Pattern:
    """A fact of ``type`` meeting every condition, bound to ``alias`` for references."""

    type: str
    alias: str
    conds: tuple[Cond, ...]
    where: Where = ("", 0, 0)


@dataclass(frozen=True)
class AnyGroup:
    """``any:``: one of several alternative pattern lists."""

    alternatives: tuple[tuple[Pattern, ...], ...]


@dataclass(frozen=True)
class NotGroup:
    """``not:``: no fact matches these patterns."""

    patterns: tuple[Pattern, ...]


Element = Pattern | AnyGroup | NotGroup


@dataclass(frozen=True)
class Action:
    """One ``then:`` item: assert a deficit, a need or a custom fact."""

    kind: str  # deficit | need | fact
    fields: tuple[tuple[str, Value], ...]  # for fact: includes ("type", name)
    where: Where = ("", 0, 0)

    @property
    def fact_type(self) -> str:
        """The type of the fact this action asserts."""
        if self.kind == "fact":
            return str(dict(self.fields)["type"])
        return self.kind


@dataclass(frozen=True)
class Rule:
    """A parsed, checked rule: ``when`` elements, ``then`` actions, and its place."""

    id: str
    title: str
    source: str | None
    priority: int
    when: tuple[Element, ...]
    then: tuple[Action, ...]
    file: str
    line: int
    order: int  # position in the whole rule set (file order, then rule order)
    ruleset: str = ""
    stratum: int = 0

    def positive_types(self) -> set[str]:
        """Fact types this rule matches (outside ``not:``)."""
        out: set[str] = set()
        for el in self.when:
            if isinstance(el, Pattern):
                out.add(el.type)
            elif isinstance(el, AnyGroup):
                out.update(p.type for alt in el.alternatives for p in alt)
        return out

    def negated_types(self) -> set[str]:
        """Fact types this rule requires to be absent."""
        return {p.type for el in self.when if isinstance(el, NotGroup) for p in el.patterns}

    def produced_types(self) -> set[str]:
        """Fact types this rule asserts."""
        return {a.fact_type for a in self.then}

    def alternatives(self) -> list[tuple[tuple[int, ...], list[Pattern | NotGroup], int]]:
        """Each combination of ``any:`` alternatives as a flat element list.

        Returns (alternative indexes, elements, number of outer patterns); the
        outer patterns (those outside ``any:``) come first in the flat list, in
        rule order, so activations can be keyed by the facts they bind.
        """
        combos: list[tuple[tuple[int, ...], list[Pattern | NotGroup], list[Pattern]]] = [
            ((), [], [])
        ]
        for el in self.when:
            if isinstance(el, AnyGroup):
                combos = [
                    ((*idx, j), outer, [*inner, *alt])
                    for idx, outer, inner in combos
                    for j, alt in enumerate(el.alternatives)
                ]
            else:
                combos = [(idx, [*outer, el], inner) for idx, outer, inner in combos]
        out: list[tuple[tuple[int, ...], list[Pattern | NotGroup], int]] = []
        for idx, outer, inner in combos:
            n_outer = sum(1 for e in outer if isinstance(e, Pattern))
            positives = [e for e in outer if isinstance(e, Pattern)]
            negatives = [e for e in outer if isinstance(e, NotGroup)]
            out.append((idx, [*positives, *inner, *negatives], n_outer))
        return out


# --- the kinds of custom fact fields ------------------------------------------


def literal_kind(value: Any) -> str:
    """The kind (boolean, number, list, string) of a parsed literal."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return NUM
    if isinstance(value, list):
        return LIST
    return STR


def field_kinds(rules: Sequence[Rule]) -> dict[str, dict[str, str]]:
    """The kind (number, string, boolean, list) of every field of every fact type.

    Built-in types have fixed fields; a custom type's fields take the kind of
    the values rules assert into them (literals, or references to fields of a
    known kind). A field whose kind cannot be told is a string.

    Parameters
    ----------
    rules : sequence of Rule
        The rule set whose ``fact`` actions define the custom types.

    Returns
    -------
    dict
        Fact type -> field name -> kind.
    """
    kinds: dict[str, dict[str, str]] = {t: dict(f) for t, f in FIELDS.items()}
    facts = [(dict(a.fields), rule) for rule in rules for a in rule.then if a.kind == "fact"]
    # A reference can carry a kind from one custom type into another, so repeat until
    # nothing changes (each pass settles at least one field, or the loop ends).
    for _ in range(len(facts) + 1):
        if not _settle_kinds(kinds, facts):
            break
    for fields, _rule in facts:
        ftype = fields.get("type")
        if isinstance(ftype, str):
            for name in fields:
                if name != "type":
                    kinds[ftype].setdefault(name, STR)
    return kinds


def _settle_kinds(
    kinds: dict[str, dict[str, str]], facts: Sequence[tuple[dict[str, Value], Rule]]
) -> bool:
    """One pass giving each still-unknown custom field the kind of its value; True if any."""
    changed = False
    for fields, rule in facts:
        ftype = fields.get("type")
        if not isinstance(ftype, str):
            continue
        table = kinds.setdefault(ftype, {})
        for name, value in fields.items():
            if name == "type" or table.get(name):
                continue
            kind = _value_kind(value, rule, kinds)
            if kind:
                table[name] = kind
                changed = True
    return changed


def _value_kind(value: Value, rule: Rule, kinds: dict[str, dict[str, str]]) -> str:
    """The kind of an asserted value: a literal's own, or the referenced field's ("" unknown)."""
    if isinstance(value, Ref):
        alias_type = _alias_type(rule, value.alias)
        return kinds.get(alias_type or "", {}).get(value.field, "")
    return literal_kind(value)


def _alias_type(rule: Rule, alias: str) -> str | None:
    for el in rule.when:
        if isinstance(el, Pattern) and el.alias == alias:
            return el.type
    return None
