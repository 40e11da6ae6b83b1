"""What the checks read: a rule set's derived facts, computed once, before any check runs.

Several checks need the same conclusions about a rule set: which rules can never fire
by their own conditions, which can fire at all given what profiles and other rules
provide, which rules derive which deficits over which score bands, and which rules
can feed which through chaining. :class:`Inputs` computes each of them once, in the
order they depend on each other, and holds them frozen; a check reads them and
changes nothing, so the checks can run in any order (:mod:`.checks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import networkx as nx

from ..kb import KnowledgeBase
from ..rules import BASE_TYPES, SEVERITIES, Action, AnyGroup, NotGroup, Pattern, Ref, Rule
from .domains import Domains, Failure, alternatives, compatible, outer_pattern
from .intervals import Band

__all__ = [
    "DeficitSource",
    "Inputs",
    "dead_pattern",
    "element_failure",
    "first_failing_element",
    "producers",
    "providable_base",
]


@dataclass(frozen=True)
class DeficitSource:
    """A deficit action of a rule that can fire, with what it can derive."""

    rule: Rule
    action: Action
    competencies: frozenset[str]
    severities: frozenset[str]
    band: Band | None  # the score band of the deficit's competency, when the rule tests it
    unconditional: bool  # the rule is one result pattern and nothing else


@dataclass(frozen=True, eq=False)
class Inputs:
    """A rule set and the conclusions every check shares. Build it with :meth:`of`."""

    kb: KnowledgeBase
    rules: tuple[Rule, ...]
    domains: Domains
    unsatisfiable: Mapping[str, Failure]  # rule id -> why its conditions exclude every fact
    reachable: frozenset[str]  # ids of the rules that can fire on some profile
    sources: tuple[DeficitSource, ...]  # the deficit actions of reachable rules
    graph: nx.DiGraph  # (frozen) a -> b: a fact rule a asserts can match a pattern of b

    @classmethod
    def of(cls, kb: KnowledgeBase) -> Inputs:
        """Compute the shared conclusions about ``kb``'s rules.

        Parameters
        ----------
        kb : KnowledgeBase
            A validated knowledge base.

        Returns
        -------
        Inputs
            Frozen; the graph is frozen with :func:`networkx.freeze`.
        """
        rules = tuple(kb.rules)
        domains = Domains.of(kb)
        unsatisfiable = {
            rule.id: found[1]
            for rule in rules
            if (found := first_failing_element(rule, domains)) is not None
        }
        reachable = _reachable(rules, domains, unsatisfiable)
        return cls(
            kb=kb,
            rules=rules,
            domains=domains,
            unsatisfiable=MappingProxyType(unsatisfiable),
            reachable=reachable,
            sources=tuple(_deficit_sources(rules, reachable, domains)),
            graph=nx.freeze(_rule_graph(rules, domains)),
        )

    def reachable_rules(self) -> list[Rule]:
        """The rules that can fire, in rule order."""
        return [r for r in self.rules if r.id in self.reachable]


# --- rules whose own conditions exclude every fact ------------------------------------


def element_failure(el: Pattern | AnyGroup | NotGroup, domains: Domains) -> Failure | None:
    """Why a positive pattern, or every alternative of an ``any:``, can never match.

    A ``not:`` never makes a rule unsatisfiable (an impossible negation always holds).
    """
    if isinstance(el, Pattern):
        dom = domains.pattern(el)
        if dom.impossible:
            return f"{el.type} pattern: {dom.impossible}", dom.where or el.where
        return None
    if isinstance(el, AnyGroup):
        dead = [p for alt in el.alternatives if (p := dead_pattern(alt, domains)) is not None]
        if not dead or len(dead) < len(el.alternatives):
            return None
        p = dead[0]
        d = domains.pattern(p)
        return (
            f"no alternative of 'any' can match (first: {p.type} pattern: {d.impossible})",
            d.where or p.where,
        )
    return None


def dead_pattern(alt: Iterable[Pattern], domains: Domains) -> Pattern | None:
    """The first pattern of an alternative that can never match, if any."""
    return next((p for p in alt if domains.pattern(p).impossible), None)


def first_failing_element(rule: Rule, domains: Domains) -> tuple[int, Failure] | None:
    """The index of the first element of ``rule.when`` that can never match, and why."""
    for i, el in enumerate(rule.when):
        failure = element_failure(el, domains)
        if failure is not None:
            return i, failure
    return None


# --- rules that can fire, given what profiles and other rules provide ----------------------


def providable_base(pat: Pattern, domains: Domains) -> bool:
    """Can a profile provide facts for a pattern on a base type (the ontology permitting)?"""
    if pat.type == "indicator_result":
        return bool(domains.indicators)
    return pat.type in ("person", "result", "group_result", "request") and bool(
        domains.competencies
    )


def producers(pat: Pattern, among: Iterable[Rule], domains: Domains) -> list[Rule]:
    """The rules of ``among`` that assert a fact ``pat`` can match."""
    pdom = domains.pattern(pat)
    return [
        rule
        for rule in among
        if any(
            act.fact_type == pat.type and compatible(domains.fact(rule, act), pdom, pat)
            for act in rule.then
        )
    ]


def _can_fire(rule: Rule, reachable: Sequence[Rule], domains: Domains) -> bool:
    """Some alternative of ``rule`` has every pattern provided (by profiles or ``reachable``)."""
    for alt in alternatives(rule):
        if any(domains.pattern(p).impossible for p in alt):
            continue
        if all(
            providable_base(p, domains)
            if p.type in BASE_TYPES
            else producers(p, reachable, domains)
            for p in alt
        ):
            return True
    return False


def _reachable(
    rules: Sequence[Rule], domains: Domains, unsatisfiable: Mapping[str, Failure]
) -> frozenset[str]:
    """The least fixpoint: rules that can fire on facts profiles and reachable rules provide."""
    candidates = [r for r in rules if r.id not in unsatisfiable]
    found: set[str] = set()
    reachable: list[Rule] = []
    changed = True
    while changed:
        changed = False
        for rule in candidates:
            if rule.id not in found and _can_fire(rule, reachable, domains):
                found.add(rule.id)
                reachable.append(rule)
                changed = True
    return frozenset(found)


# --- deficit sources ---------------------------------------------------------------------


def _result_for(rule: Rule, literal: str | None = None, ref: Ref | None = None) -> Pattern | None:
    """The rule's positive result pattern for the deficit's competency, if any."""
    for el in rule.when:
        if not isinstance(el, Pattern) or el.type != "result":
            continue
        for c in el.conds:
            if c.field != "competency" or c.op != "eq":
                continue
            if literal is not None and c.value == literal:
                return el
            if ref is not None and c.value == ref:
                return el
    return None


def _severities(rule: Rule, sev: object, domains: Domains) -> frozenset[str]:
    """The severities a deficit action can assert (every one when it cannot be told)."""
    if isinstance(sev, str):
        return frozenset({sev})
    told = domains.ref_str(rule, sev) if isinstance(sev, Ref) else None
    return told or frozenset(SEVERITIES)


def _deficit_source(rule: Rule, act: Action, domains: Domains) -> DeficitSource | None:
    """What one deficit action derives: competencies, severities and the score band."""
    fields = dict(act.fields)
    comp = fields.get("competency")
    comps: frozenset[str]
    if isinstance(comp, str):
        comps = frozenset({comp})
        res = _result_for(rule, literal=comp)
    elif isinstance(comp, Ref):
        comps = domains.ref_str(rule, comp) or domains.competencies
        src = outer_pattern(rule, comp.alias)
        direct = src is not None and src.type == "result" and comp.field == "competency"
        res = src if direct else _result_for(rule, ref=comp)
    else:
        return None
    band: Band | None = None
    unconditional = False
    if res is not None:
        rdom = domains.pattern(res)
        band = rdom.nums.get("score_pct", domains.default_num("score_pct"))
        comps = comps & (rdom.strings.get("competency") or domains.competencies)
        unconditional = len(rule.when) == 1 and rule.when[0] is res
    sevs = _severities(rule, fields.get("severity"), domains)
    return DeficitSource(rule, act, comps, sevs, band, unconditional)


def _deficit_sources(
    rules: Sequence[Rule], reachable: frozenset[str], domains: Domains
) -> list[DeficitSource]:
    """Every deficit action of a reachable rule, with its competencies and score band."""
    return [
        source
        for rule in rules
        if rule.id in reachable
        for act in rule.then
        if act.kind == "deficit" and (source := _deficit_source(rule, act, domains)) is not None
    ]


# --- the chaining graph --------------------------------------------------------------------


def _all_patterns(rule: Rule) -> list[Pattern]:
    """Every pattern of ``rule``: outer, inside ``any:`` and inside ``not:``."""
    pats: list[Pattern] = []
    for el in rule.when:
        if isinstance(el, Pattern):
            pats.append(el)
        elif isinstance(el, AnyGroup):
            pats.extend(p for alt in el.alternatives for p in alt)
        else:
            pats.extend(el.patterns)
    return pats


def _rule_graph(rules: Sequence[Rule], domains: Domains) -> nx.DiGraph:
    """Rule a -> rule b when a fact a asserts can match one of b's patterns."""
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(r.id for r in rules)
    patterns = {r.id: _all_patterns(r) for r in rules}
    for a in rules:
        for act in a.then:
            fact = domains.fact(a, act)
            for b in rules:
                if any(
                    p.type == act.fact_type and compatible(fact, domains.pattern(p), p)
                    for p in patterns[b.id]
                ):
                    graph.add_edge(a.id, b.id)
    return graph
