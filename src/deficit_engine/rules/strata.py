"""Stratification: which rules must wait for which, so that ``not:`` has one meaning.

A rule with ``not: {deficit: ...}`` may fire only once no rule can assert
another deficit. Each rule gets a stratum at least as high as the strata of the
rules producing what it matches, and strictly higher than those producing what
it negates; the inference drivers run stratum by stratum. A rule that negates
what it derives itself (through chaining) can get no stratum: such a rule set
has no well-defined result and is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..errors import Issue
from .model import Rule, issue_at

__all__ = ["stratify"]


def stratify(rules: Sequence[Rule], issues: list[Issue]) -> list[Rule]:
    """The rules with their strata (0..n-1); a negation cycle is appended to ``issues``.

    Parameters
    ----------
    rules : sequence of Rule
        The rule set, each rule with a distinct ``order``.
    issues : list of Issue
        Where a ``negation-cycle`` problem is appended for each rule that has no stratum.

    Returns
    -------
    list of Rule
        The same rules in the same order, each a copy with its ``stratum`` set.
    """
    stratum, unstratifiable = _raw_strata(rules)
    for rule in rules:
        if rule.order in unstratifiable:
            issues.append(
                issue_at(
                    (rule.file, rule.line, 1),
                    "negation-cycle",
                    f"rule '{rule.id}' negates facts that it derives itself through chaining "
                    f"({', '.join(sorted(rule.negated_types()))}); such a rule set has no "
                    "well-defined result",
                )
            )
    # compact strata to 0..n-1
    levels = sorted(set(stratum.values()))
    index = {s: i for i, s in enumerate(levels)}
    return [replace(r, stratum=index[stratum[r.order]]) for r in rules]


def _raw_strata(rules: Sequence[Rule]) -> tuple[dict[int, int], set[int]]:
    """Rule order -> its least stratum, by fixpoint; and the rules whose stratum grows
    past the number of rules (only a cycle through a negation does that)."""
    producers: dict[str, list[Rule]] = {}
    for rule in rules:
        for t in rule.produced_types():
            producers.setdefault(t, []).append(rule)
    stratum = {r.order: 0 for r in rules}
    limit = len(rules) + 1
    changed = True
    unstratifiable: set[int] = set()
    while changed:
        changed = False
        for rule in rules:
            need = stratum[rule.order]
            for t in rule.positive_types():
                for p in producers.get(t, ()):
                    need = max(need, stratum[p.order])
            for t in rule.negated_types():
                for p in producers.get(t, ()):
                    need = max(need, stratum[p.order] + 1)
            if need > limit:
                unstratifiable.add(rule.order)
                continue
            if need != stratum[rule.order]:
                stratum[rule.order] = need
                changed = True
    return stratum, unstratifiable
