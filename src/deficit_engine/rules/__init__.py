"""The rule language: parse and check ``rules/*.yaml`` into frozen rule objects.

- :mod:`.model`: what a rule is (patterns, conditions, actions, the fact types
  and their fields, the KB :class:`Vocabulary` rules are checked against);
- :mod:`.parse`: documents to rules (:func:`parse_rules`, phase 1: structure);
- :mod:`.check`: phase 2, what the rules mean against each other and the KB;
- :mod:`.strata`: the order in which rules with ``not:`` may run.

Parsing takes documents already read and does no I/O: the loader
(:mod:`deficit_engine.loader`) finds and reads the rule files. This package
imports neither the loader nor the KB; the KB is built from its result.
"""

from .model import (
    BASE_TYPES,
    DERIVED_TYPES,
    FIELDS,
    NEED_KINDS,
    OPERATORS,
    SEVERITIES,
    Action,
    AnyGroup,
    Cond,
    Element,
    NotGroup,
    Pattern,
    Ref,
    Rule,
    Vocabulary,
    Where,
    field_kinds,
)
from .parse import parse_rules

__all__ = [
    "BASE_TYPES",
    "DERIVED_TYPES",
    "FIELDS",
    "NEED_KINDS",
    "OPERATORS",
    "SEVERITIES",
    "Action",
    "AnyGroup",
    "Cond",
    "Element",
    "NotGroup",
    "Pattern",
    "Ref",
    "Rule",
    "Vocabulary",
    "Where",
    "field_kinds",
    "parse_rules",
]
