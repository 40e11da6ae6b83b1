"""The checks of the analysis: one function per kind of finding, listed in :data:`CHECKS`.

Each check takes the frozen :class:`~.inputs.Inputs` of a rule set and yields its
findings as warning :class:`~deficit_engine.errors.Issue` objects. A check reads its
inputs and keeps nothing between calls, so no check depends on another having run
and the table can run in any order (the tests run it backwards too); what several
checks share (which rules can fire, the deficit sources, the chaining graph) is
computed once in :class:`~.inputs.Inputs`. This is how jsonschema's validators
table its keyword functions: a table of small functions of explicit inputs, each
yielding its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import networkx as nx

from ..compiler import compile_rules
from ..errors import BackendLimitError, Issue
from ..inference import BUDGET_PER_FIRING, DEFAULT_FIRING_LIMIT, DurableMatcher, durable_available
from ..inference.columnar import uncompiled_rules
from ..kb import KnowledgeBase
from ..models import Need
from ..resolve import resolve
from ..rules import (
    BASE_TYPES,
    NEED_KINDS,
    SEVERITIES,
    Action,
    AnyGroup,
    NotGroup,
    Pattern,
    Ref,
    Rule,
    Where,
)
from ..schema import EDUCATION_LEVELS, ROLES, Profile
from .domains import Domains, alternatives, pattern_text
from .inputs import (
    DeficitSource,
    Inputs,
    dead_pattern,
    first_failing_element,
    producers,
    providable_base,
)
from .intervals import EMPTY, Band, band_and, band_not, band_or, band_text

__all__ = [
    "CHECKS",
    "Check",
    "backend_limits",
    "budget_joins",
    "columnar_fallbacks",
    "dead_alternatives",
    "deficits_without_needs",
    "gaps",
    "large_joins",
    "rule_cycles",
    "run_checks",
    "severity_conflicts",
    "unmet_by_construction",
    "unprovided_rules",
    "unsatisfiable_rules",
    "unsourced_rules",
    "vacuous_negations",
]

Check = Callable[[Inputs], Iterable[Issue]]

_MAX_CYCLES = 50  # a densely chained rule set has very many cycles; the first ones suffice


def _issue(where: Where, code: str, message: str) -> Issue:
    return Issue(where[0], where[1], where[2], code, message, "", None, "warning")


def _rule_where(rule: Rule) -> Where:
    return (rule.file, rule.line, 1)


def _short(items: Iterable[str], limit: int = 8) -> str:
    """Sorted names, the first ``limit`` of them and how many more."""
    lst = sorted(items)
    if len(lst) <= limit:
        return ", ".join(lst)
    return ", ".join(lst[:limit]) + f" and {len(lst) - limit} more"


def _comps_text(comps: frozenset[str], domains: Domains) -> str:
    """Competencies, naming whole groups where a group is complete."""
    if comps >= domains.competencies:
        return "every competency"
    parts: list[str] = []
    rest = set(comps)
    for group in sorted(domains.groups):
        members = {c for c, g in domains.group_of.items() if g == group}
        if len(members) > 1 and members <= rest:
            parts.append(f"group {group}")
            rest -= members
    if rest:
        parts.append(_short(rest))
    return ", ".join(parts)


# --- unreachable by conditions --------------------------------------------------------


def unsatisfiable_rules(inputs: Inputs) -> Iterator[Issue]:
    """``unreachable-rule``: a pattern (or every ``any:`` alternative) no fact can satisfy."""
    for rule in inputs.rules:
        failure = inputs.unsatisfiable.get(rule.id)
        if failure is not None:
            reason, where = failure
            yield _issue(where, "unreachable-rule", f"rule '{rule.id}' can never fire: {reason}")


def dead_alternatives(inputs: Inputs) -> Iterator[Issue]:
    """``dead-alternative``: an ``any:`` alternative that can never match.

    Not reported where every alternative is dead and that is the first reason the rule
    can never fire: ``unreachable-rule`` says so already.
    """
    domains = inputs.domains
    for rule in inputs.rules:
        first = first_failing_element(rule, domains)
        for k, el in enumerate(rule.when):
            if not isinstance(el, AnyGroup) or (first is not None and first[0] == k):
                continue
            for j, alt in enumerate(el.alternatives):
                p = dead_pattern(alt, domains)
                if p is None:
                    continue
                d = domains.pattern(p)
                yield _issue(
                    d.where or p.where,
                    "dead-alternative",
                    f"rule '{rule.id}': alternative {j + 1} of 'any' can never "
                    f"match: {p.type} pattern: {d.impossible}",
                )


def vacuous_negations(inputs: Inputs) -> Iterator[Issue]:
    """``vacuous-not``: a ``not:`` pattern that can never match, so it always holds."""
    domains = inputs.domains
    for rule in inputs.rules:
        for el in rule.when:
            if not isinstance(el, NotGroup):
                continue
            for p in el.patterns:
                d = domains.pattern(p)
                if d.impossible:
                    yield _issue(
                        d.where or p.where,
                        "vacuous-not",
                        f"rule '{rule.id}': the negated {p.type} pattern can never "
                        f"match ({d.impossible}), so its 'not' always holds",
                    )


# --- unreachable by providers ------------------------------------------------------------


def unprovided_rules(inputs: Inputs) -> Iterator[Issue]:
    """``unreachable-rule``: satisfiable conditions that no profile or rule provides facts for."""
    reachable = inputs.reachable_rules()
    for rule in inputs.rules:
        if rule.id in inputs.unsatisfiable or rule.id in inputs.reachable:
            continue
        reason, where = _why_unprovided(rule, reachable, inputs)
        yield _issue(where, "unreachable-rule", f"rule '{rule.id}' can never fire: {reason}")


def _why_unprovided(rule: Rule, reachable: Sequence[Rule], inputs: Inputs) -> tuple[str, Where]:
    """The first pattern of ``rule`` nothing provides, and why, in words."""
    domains = inputs.domains
    for alt in alternatives(rule):
        for p in alt:
            if p.type in BASE_TYPES:
                if not providable_base(p, domains):
                    return (
                        f"no profile provides {p.type} facts (the ontology has no indicators)",
                        p.where,
                    )
                continue
            if not producers(p, reachable, domains):
                return _why_no_producer(p, inputs), p.where
    return "its patterns can never be matched together", _rule_where(rule)


def _why_no_producer(p: Pattern, inputs: Inputs) -> str:
    """Why no rule that can fire asserts a fact ``p`` matches."""
    same_type = [r for r in inputs.rules if any(a.fact_type == p.type for a in r.then)]
    shown = pattern_text(p)
    if not same_type:
        return f"no rule asserts {p.type} facts (pattern {shown})"
    fitting = producers(p, same_type, inputs.domains)
    if fitting:
        return (
            f"the rules asserting a matching {p.type} "
            f"({', '.join(r.id for r in fitting)}) can never fire themselves"
        )
    return (
        f"no rule asserts a {p.type} fact matching {shown} "
        f"(rules asserting {p.type}: {_short(r.id for r in same_type)})"
    )


# --- deficits: conflicts, gaps, needs ----------------------------------------------------


#: How many ``severity-conflict`` findings are written out; the rest are counted in
#: one more finding. A rule set copied N times has a conflict between every pair of
#: copies (94 000 at 4 000 rules): listing them all took most of ``check``'s time
#: and no author reads past the first screen of them.
MAX_CONFLICTS = 100


def severity_conflicts(inputs: Inputs) -> Iterator[Issue]:
    """``severity-conflict``: two rules derive different severities for one competency
    over overlapping score bands (the Result keeps the most severe).

    Only sources sharing a competency are paired (an index by competency), in the
    order of the rule set; past :data:`MAX_CONFLICTS` findings the rest are counted,
    not worded, and reported as one more finding at the first unlisted one.
    """
    sources = [s for s in inputs.sources if s.band is not None and len(s.severities) == 1]
    reported: set[tuple[str, str]] = set()
    more, first_unlisted = 0, None
    for a, b in _sharing_pairs(sources):
        if (a.rule.id, b.rule.id) in reported or not _may_conflict(a, b):
            continue
        comps = a.competencies & b.competencies
        band = band_and(a.band, b.band) if a.band is not None and b.band is not None else None
        if not band or not _together(a.rule, b.rule, inputs.domains):
            continue
        reported.add((a.rule.id, b.rule.id))
        if len(reported) <= MAX_CONFLICTS:
            yield _conflict_issue(a, b, comps, band, inputs.domains)
        else:
            more += 1
            first_unlisted = first_unlisted or (a, b)
    if first_unlisted is not None:
        later = max(first_unlisted, key=lambda s: s.rule.order)
        yield _issue(
            later.action.where,
            "severity-conflict",
            f"{more} more pairs of rules derive different severities for one "
            f"competency over overlapping score bands (the first {MAX_CONFLICTS} "
            "are listed)",
        )


def _sharing_pairs(
    sources: Sequence[DeficitSource],
) -> Iterator[tuple[DeficitSource, DeficitSource]]:
    """Each pair (a, b) of ``sources``, a before b, that share a competency, in order."""
    by_competency: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        for competency in source.competencies:
            by_competency.setdefault(competency, []).append(i)
    for i, a in enumerate(sources):
        partners = sorted({j for c in a.competencies for j in by_competency[c] if j > i})
        for j in partners:
            yield a, sources[j]


def _may_conflict(a: DeficitSource, b: DeficitSource) -> bool:
    """Two rules, each deriving one severity, the severities different."""
    return (
        a.rule.id != b.rule.id
        and len(a.severities) == 1
        and len(b.severities) == 1
        and a.severities != b.severities
    )


def _conflict_issue(
    a: DeficitSource, b: DeficitSource, comps: frozenset[str], band: Band, domains: Domains
) -> Issue:
    (sa,), (sb,) = tuple(a.severities), tuple(b.severities)
    worst = sa if SEVERITIES.index(sa) < SEVERITIES.index(sb) else sb
    first, second = (a, b) if a.rule.order < b.rule.order else (b, a)
    return _issue(
        second.action.where,
        "severity-conflict",
        f"rules '{first.rule.id}' ({_one(first.severities)}, "
        f"{first.rule.file}:{first.rule.line}) and '{second.rule.id}' "
        f"({_one(second.severities)}) derive different severities for "
        f"{_comps_text(comps, domains)} with score_pct in {band_text(band)}; "
        f"the Result keeps the most severe ({worst})",
    )


def _one(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


def _together(a: Rule, b: Rule, domains: Domains) -> bool:
    """False when the two rules' person patterns exclude each other (one person per profile)."""
    pa = [p for p in a.when if isinstance(p, Pattern) and p.type == "person"]
    pb = [p for p in b.when if isinstance(p, Pattern) and p.type == "person"]
    for x in pa:
        for y in pb:
            dx, dy = domains.pattern(x), domains.pattern(y)
            for name in set(dx.strings) & set(dy.strings):
                sx, sy = dx.strings[name], dy.strings[name]
                if sx is not None and sy is not None and not (sx & sy):
                    return False
            for name in set(dx.nums) & set(dy.nums):
                if not band_and(dx.nums[name], dy.nums[name]):
                    return False
    return True


def gaps(inputs: Inputs) -> Iterator[Issue]:
    """``gap``: per group, score bands below the top level where no unconditional
    deficit rule decides."""
    kb, sources = inputs.kb, inputs.sources
    if not any(a.kind == "deficit" for r in inputs.rules for a in r.then):
        return
    if not sources or len(kb.scale.levels) < 2:
        return
    top = kb.scale.levels[-2].below
    if top is None:
        return
    expected: Band = ((0.0, True, float(top), False),)
    domains = inputs.domains
    for group in sorted(domains.groups):
        comps = sorted(c for c, g in domains.group_of.items() if g == group)
        where = kb.positions.get(("group", group), (kb.files["competencies"], 1, 1))
        for gap, (members, conditional) in _group_gaps(comps, sources, expected).items():
            who = "every competency of the group" if len(members) == len(comps) else _short(members)
            tail = (
                f"; only conditional rules cover part of it: {_short(conditional)}"
                if conditional
                else ""
            )
            yield _issue(
                where,
                "gap",
                f"group '{group}': no deficit rule decides score_pct in "
                f"{band_text(gap)} (below the top level of the scale) for {who}{tail}",
            )


def _group_gaps(
    comps: Sequence[str], sources: Sequence[DeficitSource], expected: Band
) -> dict[Band, tuple[list[str], set[str]]]:
    """Each band of ``expected`` that unconditional rules leave undecided, with the
    competencies it is undecided for and the conditional rules that touch it."""
    out: dict[Band, tuple[list[str], set[str]]] = {}
    for comp in comps:
        covered: Band = EMPTY
        for s in sources:
            if s.unconditional and s.band is not None and comp in s.competencies:
                covered = band_or(covered, s.band)
        gap = band_and(expected, band_not(covered))
        if not gap:
            continue
        members, conditional = out.setdefault(gap, ([], set()))
        members.append(comp)
        conditional.update(
            s.rule.id
            for s in sources
            if not s.unconditional
            and comp in s.competencies
            and (s.band is None or band_and(s.band, gap))
        )
    return out


def deficits_without_needs(inputs: Inputs) -> Iterator[Issue]:
    """``deficit-without-need``: deficits no rule turns into a need, directly or through
    a chain of custom facts."""
    handlers = _need_handlers(inputs)
    for s in inputs.sources:
        for sev in sorted(s.severities, key=SEVERITIES.index):
            left = set(s.competencies)
            for comps, sevs in handlers:
                if sev in sevs:
                    left -= comps
            if left:
                yield _issue(
                    s.action.where,
                    "deficit-without-need",
                    f"rule '{s.rule.id}': {sev} deficits of "
                    f"{_comps_text(frozenset(left), inputs.domains)} "
                    "lead to no need: no rule matching them asserts a need, "
                    "directly or through other facts",
                )


def _need_leads(inputs: Inputs) -> set[str]:
    """The rules that assert a need (and can fire), or feed one that does."""
    leads = {
        r.id
        for r in inputs.rules
        if r.id in inputs.reachable and any(a.kind == "need" for a in r.then)
    }
    # every rule with a lead among its descendants: one walk back from all the leads,
    # not a descendants() walk per rule (quadratic on 10 000 rules)
    graph = inputs.graph
    feeding = set(leads)
    stack = list(leads)
    while stack:
        for node in graph.predecessors(stack.pop()):
            if node not in feeding:
                feeding.add(node)
                stack.append(node)
    return {r.id for r in inputs.rules if r.id in feeding}


def _need_handlers(inputs: Inputs) -> list[tuple[frozenset[str], frozenset[str]]]:
    """(competencies, severities) of each deficit pattern of a rule leading to a need."""
    domains = inputs.domains
    leads = _need_leads(inputs)
    handlers: list[tuple[frozenset[str], frozenset[str]]] = []
    for rule in inputs.rules:
        if rule.id not in leads:
            continue
        for alt in alternatives(rule):
            for p in alt:
                if p.type != "deficit":
                    continue
                d = domains.pattern(p)
                if d.impossible:
                    continue
                handlers.append(
                    (
                        d.strings.get("competency") or domains.competencies,
                        d.strings.get("severity") or frozenset(SEVERITIES),
                    )
                )
    return handlers


# --- needs no catalogue item can serve ----------------------------------------------------


def unmet_by_construction(inputs: Inputs) -> Iterator[Issue]:
    """``unmet-by-construction``: needs no catalogue item can ever serve.

    The resolver itself is asked, for every role the rule admits, with a profile that
    has nothing but that role.
    """
    profiles: dict[str, Profile] = {}
    memo: dict[_NeedKey, set[str | None]] = {}  # rule sets repeat needs: resolve each once
    for rule in inputs.reachable_rules():
        roles = _roles(rule, inputs.domains)
        for act in rule.then:
            if act.kind != "need":
                continue
            kind = dict(act.fields).get("kind")
            if not isinstance(kind, str) or kind not in NEED_KINDS:
                continue
            issue = _unmet_need(inputs, rule, act, kind, roles, (profiles, memo))
            if issue is not None:
                yield issue


# a need action as the resolver sees it: kind, competencies, filters, admitted roles
_NeedKey = tuple[str, tuple[str | None, ...], tuple[tuple[str, str], ...], tuple[str, ...]]


def _roles(rule: Rule, domains: Domains) -> list[str]:
    """The roles ``rule``'s person patterns admit, in the schema's order."""
    roles = frozenset(ROLES)
    for el in rule.when:
        if isinstance(el, Pattern) and el.type == "person":
            dom = domains.pattern(el).strings.get("role")
            if dom is not None:
                roles &= dom
    return [r for r in ROLES if r in roles]


def _need_competencies(rule: Rule, comp: object, domains: Domains) -> list[str | None]:
    """The competencies a need action can name (None: a need without a competency)."""
    if comp is None:
        return [None]
    if isinstance(comp, str):
        return [comp]
    dom = domains.ref_str(rule, comp) if isinstance(comp, Ref) else None
    return list(sorted(dom if dom is not None else domains.competencies))


def _role_profile(kb: KnowledgeBase, role: str, profiles: dict[str, Profile]) -> Profile:
    """A profile with ``role`` who teaches every subject at every level (made once
    per role): an item restricted to some subjects or levels serves someone."""
    if role not in profiles:
        person = {
            "role": role,
            "experience_years": 0,
            "subjects": sorted(kb.subjects),
            "levels": list(EDUCATION_LEVELS),
        }
        profiles[role] = Profile.model_validate({"id": "analysis", "person": person})
    return profiles[role]


def _served(
    kb: KnowledgeBase,
    rule: Rule,
    need: tuple[str, list[str | None], tuple[tuple[str, str], ...]],
    roles: Sequence[str],
    profiles: dict[str, Profile],
) -> set[str | None]:
    """The competencies for which the resolver serves the need for some admitted role."""
    kind, comps, filters = need
    served: set[str | None] = set()
    for role in roles:
        needs = [Need(kind, c, filters, rule.id) for c in comps if c not in served]
        if not needs:
            break
        profile = _role_profile(kb, role, profiles)
        # one need at a time: a person has one mentor per form, so needs resolved
        # together would leave some unmet that a mentor of their own would serve
        for one in needs:
            if not resolve(kb, profile, [one]).unmet:
                served.add(one.competency)
    return served


def _unmet_need(
    inputs: Inputs,
    rule: Rule,
    act: Action,
    kind: str,
    roles: list[str],
    caches: tuple[dict[str, Profile], dict[_NeedKey, set[str | None]]],
) -> Issue | None:
    """The finding for one need action, if some competency it names is never served.

    ``caches``: the role profiles, and what was served for each need already asked
    (the answer does not depend on the rule, so a repeated need is resolved once)."""
    profiles, memo = caches
    comps = _need_competencies(rule, dict(act.fields).get("competency"), inputs.domains)
    filters = tuple(
        (k, v) for k, v in act.fields if k not in ("kind", "competency") and isinstance(v, str)
    )
    key = (kind, tuple(comps), filters, tuple(roles))
    if key not in memo:
        memo[key] = _served(inputs.kb, rule, (kind, comps, filters), roles, profiles)
    served = memo[key]
    never = [c for c in comps if c not in served]
    if not never:
        return None
    what = f"{kind} need" + "".join(f" {k}={v}" for k, v in filters)
    by_reason: dict[str, list[str]] = {}
    for c in never:
        why = _why_unmet(inputs.kb, kind, c, dict(filters), roles)
        by_reason.setdefault(why, []).append(c or "")
    detail = "; ".join(why.replace("{}", _short(cs)) for why, cs in sorted(by_reason.items()))
    if len(never) == len(comps):
        head = f"rule '{rule.id}': no catalogue item can ever serve its {what}"
    else:
        head = (
            f"rule '{rule.id}': no catalogue item can serve its {what} "
            f"for {len(never)} of {len(comps)} competencies"
        )
    role_note = "" if len(roles) == len(ROLES) else f" (roles: {', '.join(roles)})"
    return _issue(act.where, "unmet-by-construction", f"{head}{role_note}: {detail}")


def _why_unmet(
    kb: KnowledgeBase, kind: str, comp: str | None, filters: Mapping[str, str], roles: Sequence[str]
) -> str:
    """Why a need cannot be served, in words; ``{}`` stands for the competencies."""
    shown = ", ".join(f"{k}={v}" for k, v in filters.items())
    if kind == "program":
        return _why_no_programme(kb, comp, shown, roles)
    if kind == "mentor":
        return _why_no_mentor(kb, comp, filters, shown)
    named = filters.get("format")
    if named is not None and named not in kb.formats:
        return f"there is no format '{named}' in the catalogue"
    return f"no format meets {shown}" + (" (for {})" if comp else "")


def _why_no_programme(kb: KnowledgeBase, comp: str | None, shown: str, roles: Sequence[str]) -> str:
    covering = [p for p in kb.programs.values() if comp in p.covers]
    if not covering:
        return "no programme covers {}"
    if not any(set(roles) & set(p.audience) for p in covering):
        return f"programmes cover {{}} but none is for the role(s) {', '.join(roles)}"
    return f"no programme covering {{}} meets {shown}"


def _why_no_mentor(
    kb: KnowledgeBase, comp: str | None, filters: Mapping[str, str], shown: str
) -> str:
    strong = [m for m in kb.mentors.values() if comp in m.strengths]
    if not strong:
        return "no mentor has {} among their strengths"
    form = filters.get("form")
    if form is not None:
        strong = [m for m in strong if form in m.forms]
        if not strong:
            return f"no mentor with {{}} works in the form '{form}'"
    if all(m.capacity <= 0 for m in strong):
        return "the mentors with {} have no capacity"
    return f"no mentor with {{}} meets {shown}"


# --- cycles and joins ----------------------------------------------------------------


def rule_cycles(inputs: Inputs) -> Iterator[Issue]:
    """``rule-cycle``: rules that can feed each other through chaining (the first 50)."""
    by_id = {r.id: r for r in inputs.rules}
    seen: set[frozenset[str]] = set()
    for found in nx.simple_cycles(inputs.graph):
        cycle = [node for node in found if isinstance(node, str)]  # drop pattern classes
        key = frozenset(cycle)
        if key in seen:
            continue
        seen.add(key)
        start = min(cycle, key=lambda rid: by_id[rid].order)
        i = cycle.index(start)
        chain = " -> ".join([*cycle[i:], *cycle[:i], start])
        yield _issue(
            _rule_where(by_id[start]),
            "rule-cycle",
            f"rules can feed each other through chaining: {chain}",
        )
        if len(seen) >= _MAX_CYCLES:
            break


def large_joins(inputs: Inputs) -> Iterator[Issue]:
    """``large-join``: three or more patterns of one fact type in one rule (once a rule)."""
    for rule in inputs.rules:
        found = _first_large_join(rule)
        if found is None:
            continue
        ftype, pats = found
        n = len(pats)
        tail = (
            "the patterns are ordered, which keeps one match per combination"
            if _ordered(pats)
            else "prefer ordered joins ('gt: $a.competency') where order is irrelevant"
        )
        yield _issue(
            pats[2].where,
            "large-join",
            f"rule '{rule.id}' joins {n} {ftype} patterns: up to k^{n} matches "
            f"for k {ftype} facts; {tail}",
        )


def _first_large_join(rule: Rule) -> tuple[str, list[Pattern]] | None:
    """The first fact type with three or more patterns in one alternative of ``rule``."""
    for alt in alternatives(rule):
        by_type: dict[str, list[Pattern]] = {}
        for p in alt:
            by_type.setdefault(p.type, []).append(p)
        for ftype, pats in by_type.items():
            if len(pats) >= 3:
                return ftype, pats
    return None


def _ordered(pats: Sequence[Pattern]) -> bool:
    """Each pattern after the first compares with ``gt``/``lt`` to another one's field."""
    aliases = {q.alias for q in pats}
    return all(
        any(
            c.op in ("gt", "lt") and isinstance(c.value, Ref) and c.value.alias in aliases
            for c in p.conds
        )
        for p in pats[1:]
    )


# --- provenance -------------------------------------------------------------------------


def unsourced_rules(inputs: Inputs) -> Iterator[Issue]:
    """``unsourced-rule``: a rule without a ``source:``.

    A methodologist signs a route whose every step a rule justifies; a rule that
    names no document (nor says it is the KB authors' own choice) cannot be checked.
    """
    for rule in inputs.rules:
        if rule.source is None or not rule.source.strip():
            yield _issue(
                _rule_where(rule),
                "unsourced-rule",
                f"rule '{rule.id}' has no 'source:': cite the document it rests on, "
                "or say it is the KB authors' choice («решение составителей базы знаний»)",
            )


# --- budgets and backends -------------------------------------------------------------

#: The default per-evaluation budget of matching work (see inference.driver).
DEFAULT_BUDGET = DEFAULT_FIRING_LIMIT * BUDGET_PER_FIRING


def budget_joins(inputs: Inputs) -> Iterator[Issue]:
    """``budget-join``: a join whose matches could pass the default match budget.

    A static estimate: each positive pattern matches at most as many facts as its
    type can have (one person; a result, request or deficit per competency its
    conditions admit; an indicator or group result per indicator or group; for a
    derived type, one per competency for each action asserting it), and a join's
    matches are at most their product."""
    sizes = _type_sizes(inputs)
    for rule in inputs.rules:
        for alt in alternatives(rule):
            estimate = 1
            for p in alt:
                estimate *= _pattern_size(p, sizes, inputs.domains)
            if len(alt) >= 2 and estimate > DEFAULT_BUDGET:
                yield _issue(
                    alt[-1].where,
                    "budget-join",
                    f"rule '{rule.id}' joins {len(alt)} patterns that could make about "
                    f"{estimate:,} matches in one evaluation, past the match budget of "
                    f"{DEFAULT_BUDGET:,} (MatchBudgetError); narrow or order the patterns",
                )
                break


def _type_sizes(inputs: Inputs) -> dict[str, int]:
    """How many facts of each type one evaluation can hold, roughly (see budget_joins)."""
    domains = inputs.domains
    comps = max(1, len(domains.competencies))
    sizes = {
        "person": 1,
        "result": comps,
        "request": comps,
        "indicator_result": max(1, len(domains.indicators)),
        "group_result": max(1, len(domains.groups)),
    }
    for rule in inputs.rules:
        for act in rule.then:
            if act.fact_type not in sizes or act.fact_type in ("deficit", "need"):
                sizes[act.fact_type] = sizes.get(act.fact_type, 0) + comps
    return sizes


def _pattern_size(p: Pattern, sizes: Mapping[str, int], domains: Domains) -> int:
    size = max(1, sizes.get(p.type, 1))
    admitted = domains.pattern(p).strings.get("competency")
    if admitted is not None and p.type in ("result", "request", "deficit"):
        return max(1, min(size, len(admitted)))
    return size


def backend_limits(inputs: Inputs) -> Iterator[Issue]:
    """``backend-limit``: durable_rules cannot build the rule set (it has size limits;
    about 6 000 rules give its error 106). The engine then runs on the fast backend,
    which gives the same results; the finding says so. Checked only where durable_rules
    imports."""
    if not durable_available() or not inputs.rules:
        return
    try:
        DurableMatcher(compile_rules(inputs.rules), inputs.rules)
    except BackendLimitError as exc:
        first = inputs.rules[0]
        yield _issue(
            _rule_where(first),
            "backend-limit",
            f"{exc} ({len(inputs.rules)} rules); the engine will run it on the fast backend",
        )


# --- the columnar path ----------------------------------------------------------------


def columnar_fallbacks(inputs: Inputs) -> Iterator[Issue]:
    """``columnar-fallback``: a rule the columnar cohort path cannot run; the profiles
    it could fire on are diagnosed by the per-profile engine (same Results, slower)."""
    by_id = {rule.id: rule for rule in inputs.rules}
    for rule_id, why in uncompiled_rules(inputs.rules).items():
        yield _issue(
            _rule_where(by_id[rule_id]),
            "columnar-fallback",
            f"rule '{rule_id}' runs per profile in cohort diagnosis: {why}",
        )


# --- the table --------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    unsatisfiable_rules,
    dead_alternatives,
    vacuous_negations,
    unprovided_rules,
    severity_conflicts,
    gaps,
    deficits_without_needs,
    unmet_by_construction,
    rule_cycles,
    large_joins,
    unsourced_rules,
    budget_joins,
    columnar_fallbacks,
)


def run_checks(inputs: Inputs, checks: Iterable[Check] = CHECKS) -> list[Issue]:
    """Run ``checks`` over ``inputs``; their findings, without repeats, in file order.

    Parameters
    ----------
    inputs : Inputs
        The rule set and its shared conclusions.
    checks : Iterable[Check]
        The checks to run, by default all of :data:`CHECKS`, in any order.

    Returns
    -------
    list[Issue]
        Sorted by file, line, column, code and message.
    """
    issues = {issue for check in checks for issue in check(inputs)}
    return sorted(issues, key=lambda i: (i.file, i.line, i.col, i.code, i.message))
