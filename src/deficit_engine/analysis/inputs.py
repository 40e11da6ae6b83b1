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
from .domains import Dom, Domains, Failure, alternatives, compatible, outer_pattern
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
    graph: nx.DiGraph  # (frozen) rule a -> pattern class -> rule b: a's fact can match b's

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
        classes = PatternClasses(rules, domains)
        reachable = _reachable(rules, domains, unsatisfiable, classes)
        return cls(
            kb=kb,
            rules=rules,
            domains=domains,
            unsatisfiable=MappingProxyType(unsatisfiable),
            reachable=reachable,
            sources=tuple(_deficit_sources(rules, reachable, domains)),
            graph=nx.freeze(_rule_graph(rules, classes)),
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


def _can_fire(
    rule: Rule, provided: set[tuple[str, int]], domains: Domains, classes: PatternClasses
) -> bool:
    """Some alternative of ``rule`` has every pattern provided (by profiles, or by a
    reachable rule: its class is in ``provided``)."""
    node = classes.node
    for alt in alternatives(rule):
        if any(domains.pattern(p).impossible for p in alt):
            continue
        if all(
            providable_base(p, domains) if p.type in BASE_TYPES else node[id(p)] in provided
            for p in alt
        ):
            return True
    return False


def _reachable(
    rules: Sequence[Rule],
    domains: Domains,
    unsatisfiable: Mapping[str, Failure],
    classes: PatternClasses,
) -> frozenset[str]:
    """The least fixpoint: rules that can fire on facts profiles and reachable rules provide.

    A rule found reachable provides the pattern classes its facts meet; each pass over
    the rules is linear, and there are as many passes as the longest chain (not a
    search of every reachable rule per pattern, which was quadratic).
    """
    candidates = [r for r in rules if r.id not in unsatisfiable]
    found: set[str] = set()
    provided: set[tuple[str, int]] = set()
    changed = True
    while changed:
        changed = False
        for rule in candidates:
            if rule.id not in found and _can_fire(rule, provided, domains, classes):
                found.add(rule.id)
                provided |= classes.meets[rule.id]
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


class PatternClasses:
    """The patterns of a rule set grouped in classes of equal domains, and which classes
    each rule's asserted facts meet.

    ``compatible`` is asked once per distinct asserted fact and class, not once per
    pair of rules: with 10 000 rules the pairwise questions made ``check`` quadratic
    (issue 17). Class nodes are ``("pattern", n)``.

    Parameters
    ----------
    rules : sequence of Rule
        The rule set.
    domains : Domains
        Its domains.
    """

    def __init__(self, rules: Sequence[Rule], domains: Domains) -> None:
        self.node: dict[int, tuple[str, int]] = {}  # id(pattern) -> its class
        self.readers: dict[tuple[str, int], list[str]] = {}  # class -> rules holding it
        by_type: dict[str, dict[tuple[object, ...], tuple[str, int]]] = {}
        first: dict[tuple[str, int], tuple[Dom, Pattern]] = {}
        for rule in rules:
            for p in _all_patterns(rule):
                dom = domains.pattern(p)
                classes = by_type.setdefault(p.type, {})
                node = classes.setdefault(pattern_class(p, dom), ("pattern", len(first)))
                first.setdefault(node, (dom, p))
                self.node[id(p)] = node
                self.readers.setdefault(node, []).append(rule.id)
        found: dict[tuple[object, ...], frozenset[tuple[str, int]]] = {}
        self.meets: dict[str, frozenset[tuple[str, int]]] = {}  # rule -> classes it feeds
        for rule in rules:
            met: set[tuple[str, int]] = set()
            for act in rule.then:
                fact = domains.fact(rule, act)
                sig = (act.fact_type, *dom_signature(fact))
                if sig not in found:
                    found[sig] = frozenset(
                        node
                        for node in by_type.get(act.fact_type, {}).values()
                        if compatible(fact, *first[node])
                    )
                met |= found[sig]
            self.meets[rule.id] = frozenset(met)


def _rule_graph(rules: Sequence[Rule], classes: PatternClasses) -> nx.DiGraph:
    """Rule a -> class k -> rule b when a fact a asserts can match a pattern of b.

    Through the pattern classes (:class:`PatternClasses`) the graph has an edge per
    rule and class that can meet, not one per pair of rules: a rule set where many
    rules assert needs and many read them is dense rule to rule (10 000 rules made
    millions of edges). Paths and cycles between rules are those of the rule-to-rule
    graph.
    """
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(r.id for r in rules)
    for node, readers in classes.readers.items():
        graph.add_edges_from((node, rid) for rid in readers)
    for rule in rules:
        graph.add_edges_from((rule.id, node) for node in classes.meets[rule.id])
    return graph


def dom_signature(dom: Dom) -> tuple[object, ...]:
    """What :func:`~.domains.compatible` reads of a domain, hashable.

    Parameters
    ----------
    dom : Dom
        A pattern's or an asserted fact's domain.

    Returns
    -------
    tuple
        Equal for two domains ``compatible`` cannot tell apart.
    """
    return (
        frozenset(dom.present),
        frozenset(dom.maybe),
        frozenset(dom.absent),
        tuple(sorted(dom.strings.items(), key=lambda kv: kv[0])),
        tuple(sorted(dom.nums.items(), key=lambda kv: kv[0])),
    )


def pattern_class(p: Pattern, dom: Dom) -> tuple[object, ...]:
    """The class of a pattern in the chaining graph: the fields its conditions read and
    its domain's signature (what ``compatible`` reads of a pattern).

    Parameters
    ----------
    p : Pattern
        The pattern.
    dom : Dom
        Its domain.

    Returns
    -------
    tuple
        Hashable; equal for patterns every asserted fact meets alike.
    """
    return (frozenset(c.field for c in p.conds), *dom_signature(dom))
