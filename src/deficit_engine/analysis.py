"""Static analysis of a rule set, in the manner of Drools' verifier.

:func:`analyse` reads a validated :class:`~deficit_engine.loader.KnowledgeBase`
and reports, each as an :class:`~deficit_engine.errors.Issue` with the rule's
``file:line:col``:

* ``unreachable-rule`` -- a rule that can never fire: a pattern whose
  conditions no fact can satisfy (``score_pct: {lt: 0}``, an empty ``in``, a
  ``between`` outside 0..100, a level and a score band that the scale makes
  disjoint, a competency outside the named group), or a pattern on a fact
  type that nothing provides or that no reachable rule asserts in a matching
  shape (``deficit: {severity: low}`` when no rule asserts a low deficit);
* ``dead-alternative`` / ``vacuous-not`` -- an ``any:`` alternative that can
  never match; a ``not:`` pattern that can never match (so it always holds);
* ``severity-conflict`` -- two rules that derive different severities for one
  competency over overlapping score bands (the Result keeps the most severe);
* ``gap`` -- per group, score bands below the top level of the scale where no
  unconditional deficit rule decides, as ranges;
* ``deficit-without-need`` -- deficits (severity, competencies) that no rule
  turns into a need, directly or through a chain of custom facts;
* ``unmet-by-construction`` -- needs that no catalogue item can ever serve
  (the resolver itself is asked, for every role the rule admits);
* ``rule-cycle`` -- rules that can feed each other through chaining;
* ``large-join`` -- three or more patterns of one fact type in one rule.

All findings are warnings: the KB loads and evaluates as written, and the
engine's results stay well defined (negation cycles, the one construct
without a defined result, are rejected by :mod:`deficit_engine.rules` as an
error). ``deficit-engine check --strict`` makes warnings fail the check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from ._yaml import load_yaml_file
from .errors import Issue
from .loader import KnowledgeBase
from .models import Need
from .resolve import resolve
from .rules import (
    FIELDS,
    NEED_KINDS,
    SEVERITIES,
    Action,
    AnyGroup,
    Cond,
    NotGroup,
    Pattern,
    Ref,
    Rule,
    field_kinds,
)
from .schema import DELIVERIES, EDUCATION_TYPES, MENTORING_FORMS, PHASES, ROLES, Profile

__all__ = ["CODES", "analyse"]

CODES = (
    "unreachable-rule",
    "dead-alternative",
    "vacuous-not",
    "severity-conflict",
    "gap",
    "deficit-without-need",
    "unmet-by-construction",
    "rule-cycle",
    "large-join",
)

NUM, STR = "number", "string"
Where = tuple[str, int, int]

# --- number bands: unions of intervals ------------------------------------------

Iv = tuple[float, bool, float, bool]  # (low, low included, high, high included)
Band = tuple[Iv, ...]
INF = math.inf
FULL: Band = ((-INF, False, INF, False),)
EMPTY: Band = ()


def _iv_empty(i: Iv) -> bool:
    lo, li, hi, hinc = i
    return lo > hi or (lo == hi and not (li and hinc))


def _norm(ivs: Iterable[Iv]) -> Band:
    items = sorted((i for i in ivs if not _iv_empty(i)), key=lambda i: (i[0], not i[1]))
    out: list[Iv] = []
    for lo, li, hi, hinc in items:
        if out:
            plo, pli, phi, phinc = out[-1]
            if lo < phi or (lo == phi and (phinc or li)):
                if hi > phi:
                    out[-1] = (plo, pli, hi, hinc)
                elif hi == phi:
                    out[-1] = (plo, pli, phi, phinc or hinc)
                continue
        out.append((lo, li, hi, hinc))
    return tuple(out)


def band_and(a: Band, b: Band) -> Band:
    out: list[Iv] = []
    for x in a:
        for y in b:
            if x[0] > y[0]:
                lo, li = x[0], x[1]
            elif y[0] > x[0]:
                lo, li = y[0], y[1]
            else:
                lo, li = x[0], x[1] and y[1]
            if x[2] < y[2]:
                hi, hinc = x[2], x[3]
            elif y[2] < x[2]:
                hi, hinc = y[2], y[3]
            else:
                hi, hinc = x[2], x[3] and y[3]
            out.append((lo, li, hi, hinc))
    return _norm(out)


def band_not(a: Band) -> Band:
    out: list[Iv] = []
    cur, cur_inc = -INF, False
    for lo, li, hi, hinc in a:
        out.append((cur, cur_inc, lo, not li))
        cur, cur_inc = hi, not hinc
    out.append((cur, cur_inc, INF, False))
    return _norm(out)


def band_or(a: Band, b: Band) -> Band:
    return _norm((*a, *b))


def _point(v: float) -> Band:
    return ((v, True, v, True),)


def _num(v: float) -> str:
    return f"{v:g}"


def band_text(band: Band) -> str:
    """``[50, 75)``, ``= 30``, ``[0, 30) ∪ [50, 100]``; ``∅`` when empty."""
    if not band:
        return "∅"
    parts = []
    for lo, li, hi, hinc in band:
        if lo == hi:
            parts.append(f"= {_num(lo)}")
            continue
        left = "[" if li else "("
        right = "]" if hinc else ")"
        parts.append(
            f"{left}{_num(lo) if lo > -INF else '-∞'}, {_num(hi) if hi < INF else '∞'}{right}"
        )
    return " ∪ ".join(parts)


def _cond_band(op: str, value: object) -> Band | None:
    """The band a numeric condition admits; None when it cannot be told (references)."""
    if isinstance(value, Ref):
        return None
    if op == "between":
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
            lo, hi = float(value[0]), float(value[1])
            return _norm([(lo, True, hi, True)])
        return None
    if op in ("in", "not_in"):
        if not isinstance(value, list) or any(isinstance(v, Ref) for v in value):
            if op == "not_in" and isinstance(value, list):
                pts = [float(v) for v in value if isinstance(v, float)]
                return band_not(_norm(p for v in pts for p in _point(v)))
            return None
        pts = [float(v) for v in value if isinstance(v, float)]
        union = _norm(p for v in pts for p in _point(v))
        return union if op == "in" else band_not(union)
    if not isinstance(value, float):
        return None
    v = value
    table: dict[str, Band] = {
        "eq": _point(v),
        "ne": band_not(_point(v)),
        "lt": ((-INF, False, v, False),),
        "le": ((-INF, False, v, True),),
        "gt": ((v, False, INF, False),),
        "ge": ((v, True, INF, False),),
    }
    return table.get(op)


def _cond_text(cond: Cond) -> str:
    value = cond.value
    if isinstance(value, list):
        shown = "[" + ", ".join(_num(v) if isinstance(v, float) else str(v) for v in value) + "]"
    elif isinstance(value, float):
        shown = _num(value)
    else:
        shown = str(value)
    return f"{cond.field} {cond.op} {shown}"


# --- domains of facts and patterns ----------------------------------------------------

StrDom = frozenset[str] | None  # None: any string


@dataclass
class Dom:
    """The values a fact matching a pattern (or asserted by an action) can hold."""

    strings: dict[str, StrDom] = field(default_factory=dict)
    nums: dict[str, Band] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)  # fields that must be present
    absent: set[str] = field(default_factory=set)  # fields that must be absent
    maybe: set[str] = field(default_factory=set)  # (facts) fields that may be present
    impossible: str | None = None
    where: Where | None = None


_Fail = Callable[[str, Where], Dom]


# Fields every fact of a type provided by the profile carries.
_ALWAYS: dict[str, set[str]] = {
    "person": {"role", "experience_years", "subjects"},
    "result": {"competency", "group", "score_pct", "level"},
    "indicator_result": {"indicator", "competency", "group", "score_pct", "level"},
    "group_result": {"group", "score_pct", "level"},
    "request": {"competency", "group"},
    "deficit": {"competency", "severity"},
    "need": {"kind"},
}
_NUM_RANGE: dict[str, Band] = {
    "score_pct": ((0.0, True, 100.0, True),),
    "experience_years": ((0.0, True, 70.0, True),),
}


class _Ctx:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.rules = list(kb.rules)
        self.kinds = field_kinds(self.rules)
        onto = kb.ontology
        self.competencies = frozenset(onto.competencies)
        self.groups = frozenset(onto.groups)
        self.indicators = frozenset(onto.indicators)
        self.group_of = {c: onto.group_of(c) for c in onto.competencies}
        self.parent = dict(onto.indicator_parent)
        self.levels: dict[str, Band] = {}
        low = 0.0
        for i, level in enumerate(kb.scale.levels):
            last = i == len(kb.scale.levels) - 1 or level.below is None
            hi = 100.0 if last else float(level.below or 100.0)
            self.levels[level.id] = _norm([(low, True, hi, last)])
            low = hi
        vocab: dict[str, frozenset[str]] = {
            "competency": self.competencies,
            "group": self.groups,
            "indicator": self.indicators,
            "level": frozenset(self.levels),
            "severity": frozenset(SEVERITIES),
            "format": frozenset(kb.formats),
            "kind": frozenset(NEED_KINDS),
            "education": frozenset(EDUCATION_TYPES),
            "phase": frozenset(PHASES),
            "form": frozenset(MENTORING_FORMS),
            "delivery": frozenset(DELIVERIES),
            "role": frozenset(ROLES),
        }
        self.vocab = vocab
        self.custom: dict[tuple[str, str], StrDom] = {}
        self._doms: dict[int, Dom] = {}

    def kind(self, ftype: str, name: str) -> str:
        return self.kinds.get(ftype, {}).get(name, "")

    def default_str(self, ftype: str, name: str) -> StrDom:
        if ftype in FIELDS:
            return self.vocab.get(name)
        return self.custom.get((ftype, name))

    def default_num(self, name: str) -> Band:
        return _NUM_RANGE.get(name, FULL)

    # --- patterns --------------------------------------------------------------

    def pattern(self, pat: Pattern) -> Dom:
        key = id(pat)
        if key not in self._doms:
            self._doms[key] = self._pattern(pat)
        return self._doms[key]

    def _pattern(self, pat: Pattern) -> Dom:
        dom = Dom(where=pat.where)
        by_field: dict[str, list[Cond]] = {}
        for cond in pat.conds:
            by_field.setdefault(cond.field, []).append(cond)

        def fail(reason: str, where: Where) -> Dom:
            dom.impossible = reason
            dom.where = where
            return dom

        for name, conds in by_field.items():
            kind = self.kind(pat.type, name)
            for cond in conds:
                if cond.op == "exists":
                    (dom.present if cond.value is True else dom.absent).add(name)
            if name in dom.present and name in dom.absent:
                return fail(f"'{name}' must both exist and not exist", conds[0].where)
            others = [c for c in conds if c.op != "exists"]
            if name in dom.absent:
                if name in _ALWAYS.get(pat.type, set()):
                    return fail(f"'{name}' is always present in a {pat.type} fact", conds[0].where)
                if others:
                    return fail(
                        f"'{name}' must be absent, but a comparison on an absent field is false "
                        f"({_cond_text(others[0])})",
                        others[0].where,
                    )
                continue
            if kind == NUM:
                band = self.default_num(name)
                for cond in others:
                    cb = _cond_band(cond.op, cond.value)
                    if cb is None:
                        continue
                    band = band_and(band, cb)
                    if not band:
                        texts = ", ".join(_cond_text(c) for c in others)
                        limit = (
                            f" ({name} is within {band_text(self.default_num(name))})"
                            if name in _NUM_RANGE
                            else ""
                        )
                        return fail(f"no value satisfies {texts}{limit}", cond.where)
                dom.nums[name] = band
            elif kind == STR:
                values = self.default_str(pat.type, name)
                for cond in others:
                    values = _restrict(values, cond)
                    if values is not None and not values:
                        texts = ", ".join(_cond_text(c) for c in others)
                        return fail(f"no value satisfies {texts}", cond.where)
                dom.strings[name] = values
        return self._cross(pat, dom, fail)

    def _cross(self, pat: Pattern, dom: Dom, fail: _Fail) -> Dom:
        """Constraints between fields: level and score, competency, group and indicator."""
        if pat.type in ("result", "indicator_result", "group_result") and (
            "level" in dom.strings or "score_pct" in dom.nums
        ):
            levels = dom.strings.get("level") or frozenset(self.levels)
            band = dom.nums.get("score_pct", self.default_num("score_pct"))
            fit = frozenset(lv for lv in levels if band_and(self.levels.get(lv, FULL), band))
            if not fit:
                shown = ", ".join(
                    f"{lv} is {band_text(self.levels[lv])}"
                    for lv in sorted(levels)
                    if lv in self.levels
                )
                return fail(
                    f"the level and the score band {band_text(band)} exclude each other "
                    f"on the scale ({shown})",
                    pat.where,
                )
            dom.strings["level"] = fit
            union: Band = EMPTY
            for lv in fit:
                union = band_or(union, self.levels[lv])
            dom.nums["score_pct"] = band_and(band, union)
        if (pat.type == "indicator_result" and self.indicators) or (
            pat.type in ("result", "request", "deficit")
            and ("competency" in dom.strings or "group" in dom.strings)
        ):
            comps = dom.strings.get("competency") or self.competencies
            groups = dom.strings.get("group") or self.groups
            comps = frozenset(c for c in comps if self.group_of.get(c) in groups)
            if pat.type == "indicator_result":
                inds = dom.strings.get("indicator") or self.indicators
                inds = frozenset(i for i in inds if self.parent.get(i) in comps)
                comps = frozenset(self.parent[i] for i in inds)
                dom.strings["indicator"] = inds
            if not comps:
                return fail(
                    "no competency satisfies the competency, group and indicator conditions "
                    "together",
                    pat.where,
                )
            dom.strings["competency"] = comps
            dom.strings["group"] = frozenset(self.group_of[c] for c in comps)
        return dom

    # --- facts asserted by actions ------------------------------------------------

    def ref_str(self, rule: Rule, ref: Ref) -> StrDom:
        pat = _outer(rule, ref.alias)
        if pat is None:
            return None
        dom = self.pattern(pat)
        if ref.field in dom.strings:
            return dom.strings[ref.field]
        return self.default_str(pat.type, ref.field)

    def ref_num(self, rule: Rule, ref: Ref) -> Band:
        pat = _outer(rule, ref.alias)
        if pat is None:
            return FULL
        dom = self.pattern(pat)
        return dom.nums.get(ref.field, self.default_num(ref.field))

    def fact(self, rule: Rule, action: Action) -> Dom:
        ftype = action.fact_type
        dom = Dom()
        for name, value in action.fields:
            if action.kind == "fact" and name == "type":
                continue
            dom.present.add(name)
            if isinstance(value, Ref):
                if self.kind(ftype, name) == NUM:
                    dom.nums[name] = self.ref_num(rule, value)
                else:
                    dom.strings[name] = self.ref_str(rule, value)
            elif isinstance(value, str):
                dom.strings[name] = frozenset({value})
            elif isinstance(value, float) and not isinstance(value, bool):
                dom.nums[name] = _point(value)
        if action.kind == "deficit":
            comps = dom.strings.get("competency")
            if comps is not None:
                comps = frozenset(c for c in comps if c in self.competencies)
                dom.strings["group"] = frozenset(self.group_of[c] for c in comps)
            else:
                dom.strings["group"] = self.groups
            dom.present.add("group")
            dom.maybe.add("score_pct")
            dom.nums["score_pct"] = self.default_num("score_pct")
        return dom


def _restrict(values: StrDom, cond: Cond) -> StrDom:
    v = cond.value
    if cond.op == "eq" and isinstance(v, str):
        return frozenset({v}) if values is None or v in values else frozenset()
    if cond.op == "ne" and isinstance(v, str):
        return None if values is None else values - {v}
    if cond.op == "in" and isinstance(v, list):
        if any(isinstance(x, Ref) for x in v):
            return values
        lits = frozenset(x for x in v if isinstance(x, str))
        return lits if values is None else values & lits
    if cond.op == "not_in" and isinstance(v, list):
        lits = frozenset(x for x in v if isinstance(x, str))
        return None if values is None else values - lits
    return values


def _outer(rule: Rule, alias: str) -> Pattern | None:
    for el in rule.when:
        if isinstance(el, Pattern) and el.alias == alias:
            return el
    return None


def _compatible(fact: Dom, pat: Dom, pattern: Pattern) -> bool:
    """Can a fact with domain ``fact`` match ``pattern`` (literal conditions only)?"""
    fields = {c.field for c in pattern.conds}
    for name in fields:
        has = name in fact.present or name in fact.maybe
        if name in pat.absent:
            if name in fact.present and name not in fact.maybe:
                return False
            continue
        if not has:
            return False
        if name in pat.strings and name in fact.strings:
            a, b = pat.strings[name], fact.strings[name]
            if a is not None and b is not None and not (a & b):
                return False
        if name in pat.nums and name in fact.nums and not band_and(pat.nums[name], fact.nums[name]):
            return False
    return True


def _issue(where: Where, code: str, message: str) -> Issue:
    return Issue(where[0], where[1], where[2], code, message, "", None, "warning")


def _rule_where(rule: Rule) -> Where:
    return (rule.file, rule.line, 1)


def _short(items: Iterable[str], limit: int = 8) -> str:
    lst = sorted(items)
    if len(lst) <= limit:
        return ", ".join(lst)
    return ", ".join(lst[:limit]) + f" and {len(lst) - limit} more"


# --- the analysis ------------------------------------------------------------------------


class _Analysis:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.ctx = _Ctx(kb)
        self.rules = self.ctx.rules
        self.issues: list[Issue] = []
        self.impossible: set[str] = set()  # rule ids that can never fire by their conditions
        self.reachable: set[str] = set()
        self._graph: nx.DiGraph | None = None
        self._custom_domains()

    def _custom_domains(self) -> None:
        """What values rules can assert into custom facts' string fields (a few rounds)."""
        ctx = self.ctx
        for _ in range(3):
            table: dict[tuple[str, str], StrDom] = {}
            unknown: set[tuple[str, str]] = set()
            for rule in self.rules:
                for act in rule.then:
                    if act.kind != "fact":
                        continue
                    ftype = act.fact_type
                    dom = ctx.fact(rule, act)
                    for name, values in dom.strings.items():
                        key = (ftype, name)
                        if values is None:
                            unknown.add(key)
                        else:
                            table[key] = (table.get(key) or frozenset()) | values
            new = {k: (None if k in unknown else v) for k, v in table.items()}
            for k in unknown:
                new[k] = None
            if new == ctx.custom:
                break
            ctx.custom = new
            ctx._doms.clear()

    def alternatives(self, rule: Rule) -> list[list[Pattern]]:
        """The positive patterns of each combination of ``any:`` alternatives."""
        return [
            [e for e in elements if isinstance(e, Pattern)]
            for _idx, elements, _n in rule.alternatives()
        ]

    # --- unreachable by conditions --------------------------------------------------

    def conditions(self) -> None:
        ctx = self.ctx
        for rule in self.rules:
            dead_rule: tuple[str, Where] | None = None
            for el in rule.when:
                if isinstance(el, Pattern):
                    dom = ctx.pattern(el)
                    if dom.impossible and dead_rule is None:
                        dead_rule = (f"{el.type} pattern: {dom.impossible}", dom.where or el.where)
                elif isinstance(el, AnyGroup):
                    dead = []
                    for j, alt in enumerate(el.alternatives):
                        bad = next((p for p in alt if ctx.pattern(p).impossible), None)
                        if bad is not None:
                            dead.append((j, bad))
                    if dead and len(dead) == len(el.alternatives) and dead_rule is None:
                        p = dead[0][1]
                        d = ctx.pattern(p)
                        dead_rule = (
                            f"no alternative of 'any' can match (first: {p.type} pattern: "
                            f"{d.impossible})",
                            d.where or p.where,
                        )
                    elif dead:
                        for j, p in dead:
                            d = ctx.pattern(p)
                            self.issues.append(
                                _issue(
                                    d.where or p.where,
                                    "dead-alternative",
                                    f"rule '{rule.id}': alternative {j + 1} of 'any' can never "
                                    f"match: {p.type} pattern: {d.impossible}",
                                )
                            )
                elif isinstance(el, NotGroup):
                    for p in el.patterns:
                        d = ctx.pattern(p)
                        if d.impossible:
                            self.issues.append(
                                _issue(
                                    d.where or p.where,
                                    "vacuous-not",
                                    f"rule '{rule.id}': the negated {p.type} pattern can never "
                                    f"match ({d.impossible}), so its 'not' always holds",
                                )
                            )
            if dead_rule is not None:
                self.impossible.add(rule.id)
                self.issues.append(
                    _issue(
                        dead_rule[1],
                        "unreachable-rule",
                        f"rule '{rule.id}' can never fire: {dead_rule[0]}",
                    )
                )

    # --- unreachable by providers ------------------------------------------------------

    def providable_base(self, pat: Pattern) -> bool:
        if pat.type == "indicator_result":
            return bool(self.ctx.indicators)
        return pat.type in ("person", "result", "group_result", "request") and bool(
            self.ctx.competencies
        )

    def producers(self, pat: Pattern, among: Iterable[Rule]) -> list[Rule]:
        ctx = self.ctx
        pdom = ctx.pattern(pat)
        out = []
        for rule in among:
            for act in rule.then:
                if act.fact_type == pat.type and _compatible(ctx.fact(rule, act), pdom, pat):
                    out.append(rule)
                    break
        return out

    def providers(self) -> None:
        ctx = self.ctx
        candidates = [r for r in self.rules if r.id not in self.impossible]
        reachable: list[Rule] = []
        changed = True
        while changed:
            changed = False
            for rule in candidates:
                if rule.id in self.reachable:
                    continue
                for alt in self.alternatives(rule):
                    if any(ctx.pattern(p).impossible for p in alt):
                        continue
                    if all(
                        self.providable_base(p) if p.type in _BASE else self.producers(p, reachable)
                        for p in alt
                    ):
                        self.reachable.add(rule.id)
                        reachable.append(rule)
                        changed = True
                        break
        for rule in candidates:
            if rule.id in self.reachable:
                continue
            reason, where = self._why_unprovided(rule, reachable)
            self.issues.append(
                _issue(where, "unreachable-rule", f"rule '{rule.id}' can never fire: {reason}")
            )

    def _why_unprovided(self, rule: Rule, reachable: Sequence[Rule]) -> tuple[str, Where]:
        for alt in self.alternatives(rule):
            for p in alt:
                if p.type in _BASE:
                    if not self.providable_base(p):
                        return (
                            f"no profile provides {p.type} facts (the ontology has no indicators)",
                            p.where,
                        )
                    continue
                if self.producers(p, reachable):
                    continue
                same_type = [r for r in self.rules if any(a.fact_type == p.type for a in r.then)]
                shown = _pattern_text(p)
                if not same_type:
                    return f"no rule asserts {p.type} facts (pattern {shown})", p.where
                fitting = self.producers(p, same_type)
                if fitting:
                    return (
                        f"the rules asserting a matching {p.type} "
                        f"({', '.join(r.id for r in fitting)}) can never fire themselves",
                        p.where,
                    )
                return (
                    f"no rule asserts a {p.type} fact matching {shown} "
                    f"(rules asserting {p.type}: {_short(r.id for r in same_type)})",
                    p.where,
                )
        return "its patterns can never be matched together", _rule_where(rule)

    # --- deficits: conflicts, gaps, needs ----------------------------------------------------

    def deficit_sources(self) -> list[_DeficitSource]:
        """Every deficit action of a reachable rule, with its competencies and score band."""
        ctx = self.ctx
        out: list[_DeficitSource] = []
        for rule in self.rules:
            if rule.id not in self.reachable:
                continue
            for act in rule.then:
                if act.kind != "deficit":
                    continue
                fields = dict(act.fields)
                comp, sev = fields.get("competency"), fields.get("severity")
                sevs = (
                    frozenset({sev})
                    if isinstance(sev, str)
                    else (ctx.ref_str(rule, sev) if isinstance(sev, Ref) else None)
                ) or frozenset(SEVERITIES)
                comps: frozenset[str]
                band: Band | None = None
                unconditional = False
                if isinstance(comp, str):
                    comps = frozenset({comp})
                    res = _result_for(rule, literal=comp)
                elif isinstance(comp, Ref):
                    comps = ctx.ref_str(rule, comp) or ctx.competencies
                    src = _outer(rule, comp.alias)
                    direct = src is not None and src.type == "result" and comp.field == "competency"
                    res = src if direct else _result_for(rule, ref=comp)
                else:
                    continue
                if res is not None:
                    rdom = ctx.pattern(res)
                    band = rdom.nums.get("score_pct", ctx.default_num("score_pct"))
                    comps = comps & (rdom.strings.get("competency") or ctx.competencies)
                    unconditional = len(rule.when) == 1 and rule.when[0] is res
                out.append(_DeficitSource(rule, act, comps, frozenset(sevs), band, unconditional))
        return out

    def conflicts(self, sources: Sequence[_DeficitSource]) -> None:
        ctx = self.ctx
        reported: set[tuple[str, str]] = set()
        for i, a in enumerate(sources):
            for b in sources[i + 1 :]:
                if a.rule.id == b.rule.id or a.band is None or b.band is None:
                    continue
                if len(a.severities) != 1 or len(b.severities) != 1 or a.severities == b.severities:
                    continue
                comps = a.competencies & b.competencies
                band = band_and(a.band, b.band)
                if not comps or not band or not self._together(a.rule, b.rule):
                    continue
                key = (a.rule.id, b.rule.id)
                if key in reported:
                    continue
                reported.add(key)
                (sa,), (sb,) = tuple(a.severities), tuple(b.severities)
                worst = sa if SEVERITIES.index(sa) < SEVERITIES.index(sb) else sb
                first, second = (a, b) if a.rule.order < b.rule.order else (b, a)
                self.issues.append(
                    _issue(
                        second.action.where,
                        "severity-conflict",
                        f"rules '{first.rule.id}' ({_one(first.severities)}, "
                        f"{first.rule.file}:{first.rule.line}) and '{second.rule.id}' "
                        f"({_one(second.severities)}) derive different severities for "
                        f"{_comps_text(comps, ctx)} with score_pct in {band_text(band)}; "
                        f"the Result keeps the most severe ({worst})",
                    )
                )

    def _together(self, a: Rule, b: Rule) -> bool:
        """False when the two rules' person patterns exclude each other (one person per profile)."""
        ctx = self.ctx
        pa = [p for p in a.when if isinstance(p, Pattern) and p.type == "person"]
        pb = [p for p in b.when if isinstance(p, Pattern) and p.type == "person"]
        for x in pa:
            for y in pb:
                dx, dy = ctx.pattern(x), ctx.pattern(y)
                for name in set(dx.strings) & set(dy.strings):
                    sx, sy = dx.strings[name], dy.strings[name]
                    if sx is not None and sy is not None and not (sx & sy):
                        return False
                for name in set(dx.nums) & set(dy.nums):
                    if not band_and(dx.nums[name], dy.nums[name]):
                        return False
        return True

    def gaps(self, sources: Sequence[_DeficitSource]) -> None:
        ctx = self.ctx
        if not sources or len(self.kb.scale.levels) < 2:
            return
        top = self.kb.scale.levels[-2].below
        if top is None:
            return
        expected: Band = ((0.0, True, float(top), False),)
        groups = _group_positions(self.kb)
        for group in sorted(ctx.groups):
            comps = sorted(c for c, g in ctx.group_of.items() if g == group)
            by_gap: dict[Band, list[str]] = {}
            conditional: dict[Band, set[str]] = {}
            for comp in comps:
                covered: Band = EMPTY
                for s in sources:
                    if s.unconditional and s.band is not None and comp in s.competencies:
                        covered = band_or(covered, s.band)
                gap = band_and(expected, band_not(covered))
                if gap:
                    by_gap.setdefault(gap, []).append(comp)
                    conditional.setdefault(gap, set()).update(
                        s.rule.id
                        for s in sources
                        if not s.unconditional
                        and comp in s.competencies
                        and (s.band is None or band_and(s.band, gap))
                    )
            for gap, members in by_gap.items():
                who = (
                    "every competency of the group"
                    if len(members) == len(comps)
                    else _short(members)
                )
                cond = conditional.get(gap)
                tail = f"; only conditional rules cover part of it: {_short(cond)}" if cond else ""
                self.issues.append(
                    _issue(
                        groups.get(group, (self._competencies_file(), 1, 1)),
                        "gap",
                        f"group '{group}': no deficit rule decides score_pct in "
                        f"{band_text(gap)} (below the top level of the scale) for {who}{tail}",
                    )
                )

    def _competencies_file(self) -> str:
        return _display(self.kb.root / "ontology" / "competencies.yaml")

    def deficits_without_needs(self, sources: Sequence[_DeficitSource]) -> None:
        ctx = self.ctx
        graph = self.graph()
        leads: set[str] = set()
        for rule in self.rules:
            if rule.id in self.reachable and any(a.kind == "need" for a in rule.then):
                leads.add(rule.id)
        for rule in self.rules:
            if rule.id in leads or rule.id not in graph:
                continue
            if any(d in leads for d in nx.descendants(graph, rule.id)):
                leads.add(rule.id)
        handlers: list[tuple[frozenset[str], frozenset[str]]] = []
        for rule in self.rules:
            if rule.id not in leads:
                continue
            for alt in self.alternatives(rule):
                for p in alt:
                    if p.type != "deficit":
                        continue
                    d = ctx.pattern(p)
                    if d.impossible:
                        continue
                    handlers.append(
                        (
                            d.strings.get("competency") or ctx.competencies,
                            d.strings.get("severity") or frozenset(SEVERITIES),
                        )
                    )
        for s in sources:
            for sev in sorted(s.severities, key=SEVERITIES.index):
                left = set(s.competencies)
                for comps, sevs in handlers:
                    if sev in sevs:
                        left -= comps
                if left:
                    self.issues.append(
                        _issue(
                            s.action.where,
                            "deficit-without-need",
                            f"rule '{s.rule.id}': {sev} deficits of "
                            f"{_comps_text(frozenset(left), ctx)} "
                            "lead to no need: no rule matching them asserts a need, "
                            "directly or through other facts",
                        )
                    )

    # --- needs no catalogue item can serve ----------------------------------------------------

    def unmet(self) -> None:
        ctx = self.ctx
        profiles: dict[str, Profile] = {}
        for rule in self.rules:
            if rule.id not in self.reachable:
                continue
            roles = self._roles(rule)
            for act in rule.then:
                if act.kind != "need":
                    continue
                fields = dict(act.fields)
                kind = fields.get("kind")
                if not isinstance(kind, str) or kind not in NEED_KINDS:
                    continue
                comp = fields.get("competency")
                comps: list[str | None]
                if comp is None:
                    comps = [None]
                elif isinstance(comp, str):
                    comps = [comp]
                else:
                    dom = ctx.ref_str(rule, comp) if isinstance(comp, Ref) else None
                    comps = list(sorted(dom if dom is not None else ctx.competencies))
                filters = tuple(
                    (k, v)
                    for k, v in act.fields
                    if k not in ("kind", "competency") and isinstance(v, str)
                )
                served: set[str | None] = set()
                for role in roles:
                    if role not in profiles:
                        profiles[role] = Profile.model_validate(
                            {"id": "analysis", "person": {"role": role, "experience_years": 0}}
                        )
                    needs = [Need(kind, c, filters, rule.id) for c in comps if c not in served]
                    if not needs:
                        break
                    resolution = resolve(self.kb, profiles[role], needs)
                    missed = {u.need.competency for u in resolution.unmet}
                    served.update(n.competency for n in needs if n.competency not in missed)
                never = [c for c in comps if c not in served]
                if not never:
                    continue
                what = f"{kind} need" + "".join(f" {k}={v}" for k, v in filters)
                by_reason: dict[str, list[str]] = {}
                for c in never:
                    why = self._why_unmet(kind, c, dict(filters), roles)
                    by_reason.setdefault(why, []).append(c or "")
                detail = "; ".join(
                    why.replace("{}", _short(cs)) for why, cs in sorted(by_reason.items())
                )
                if len(never) == len(comps):
                    head = f"rule '{rule.id}': no catalogue item can ever serve its {what}"
                else:
                    head = (
                        f"rule '{rule.id}': no catalogue item can serve its {what} "
                        f"for {len(never)} of {len(comps)} competencies"
                    )
                role_note = "" if len(roles) == len(ROLES) else f" (roles: {', '.join(roles)})"
                self.issues.append(
                    _issue(act.where, "unmet-by-construction", f"{head}{role_note}: {detail}")
                )

    def _why_unmet(
        self, kind: str, comp: str | None, filters: Mapping[str, str], roles: Sequence[str]
    ) -> str:
        """Why a need cannot be served, in words; ``{}`` stands for the competencies."""
        kb = self.kb
        shown = ", ".join(f"{k}={v}" for k, v in filters.items())
        if kind == "program":
            covering = [p for p in kb.programs.values() if comp in p.covers]
            if not covering:
                return "no programme covers {}"
            if not any(set(roles) & set(p.audience) for p in covering):
                return f"programmes cover {{}} but none is for the role(s) {', '.join(roles)}"
            return f"no programme covering {{}} meets {shown}"
        if kind == "mentor":
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
        named = filters.get("format")
        if named is not None and named not in kb.formats:
            return f"there is no format '{named}' in the catalogue"
        return f"no format meets {shown}" + (" (for {})" if comp else "")

    def _roles(self, rule: Rule) -> list[str]:
        roles = frozenset(ROLES)
        for el in rule.when:
            if isinstance(el, Pattern) and el.type == "person":
                dom = self.ctx.pattern(el).strings.get("role")
                if dom is not None:
                    roles &= dom
        return [r for r in ROLES if r in roles]

    # --- cycles and joins ----------------------------------------------------------------

    def graph(self) -> nx.DiGraph:
        if self._graph is not None:
            return self._graph
        ctx = self.ctx
        graph: nx.DiGraph = nx.DiGraph()
        for r in self.rules:
            graph.add_node(r.id)
        patterns: dict[str, list[Pattern]] = {}
        for r in self.rules:
            pats: list[Pattern] = []
            for el in r.when:
                if isinstance(el, Pattern):
                    pats.append(el)
                elif isinstance(el, AnyGroup):
                    pats.extend(p for alt in el.alternatives for p in alt)
                else:
                    pats.extend(el.patterns)
            patterns[r.id] = pats
        for a in self.rules:
            for act in a.then:
                fact = ctx.fact(a, act)
                for b in self.rules:
                    for p in patterns[b.id]:
                        if p.type == act.fact_type and _compatible(fact, ctx.pattern(p), p):
                            graph.add_edge(a.id, b.id)
                            break
        self._graph = graph
        return graph

    def cycles(self) -> None:
        graph = self.graph()
        by_id = {r.id: r for r in self.rules}
        seen: set[frozenset[str]] = set()
        count = 0
        for cycle in nx.simple_cycles(graph):
            key = frozenset(cycle)
            if key in seen:
                continue
            seen.add(key)
            ring = sorted(cycle, key=lambda rid: by_id[rid].order)
            start = ring[0]
            i = cycle.index(start)
            ordered = cycle[i:] + cycle[:i]
            chain = " -> ".join([*ordered, start])
            first = by_id[start]
            self.issues.append(
                _issue(
                    _rule_where(first),
                    "rule-cycle",
                    f"rules can feed each other through chaining: {chain}",
                )
            )
            count += 1
            if count >= 50:
                break

    def joins(self) -> None:
        for rule in self.rules:
            reported = False
            for alt in self.alternatives(rule):
                counts: dict[str, list[Pattern]] = {}
                for p in alt:
                    counts.setdefault(p.type, []).append(p)
                for ftype, pats in counts.items():
                    if len(pats) < 3 or reported:
                        continue
                    reported = True
                    ordered = all(
                        any(
                            c.op in ("gt", "lt")
                            and isinstance(c.value, Ref)
                            and c.value.alias in {q.alias for q in pats}
                            for c in p.conds
                        )
                        for p in pats[1:]
                    )
                    n = len(pats)
                    tail = (
                        "the patterns are ordered, which keeps one match per combination"
                        if ordered
                        else "prefer ordered joins ('gt: $a.competency') where order is irrelevant"
                    )
                    self.issues.append(
                        _issue(
                            pats[2].where,
                            "large-join",
                            f"rule '{rule.id}' joins {n} {ftype} patterns: up to k^{n} matches "
                            f"for k {ftype} facts; {tail}",
                        )
                    )

    def run(self) -> list[Issue]:
        self.conditions()
        self.providers()
        sources = self.deficit_sources()
        self.conflicts(sources)
        if any(a.kind == "deficit" for r in self.rules for a in r.then):
            self.gaps(sources)
        self.deficits_without_needs(sources)
        self.unmet()
        self.cycles()
        self.joins()
        return sorted(set(self.issues), key=lambda i: (i.file, i.line, i.col, i.code, i.message))


_BASE = ("person", "result", "indicator_result", "group_result", "request")


@dataclass(frozen=True)
class _DeficitSource:
    rule: Rule
    action: Action
    competencies: frozenset[str]
    severities: frozenset[str]
    band: Band | None  # the score band of the deficit's competency, when the rule tests it
    unconditional: bool  # the rule is one result pattern and nothing else


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


def _one(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


def _comps_text(comps: frozenset[str], ctx: _Ctx) -> str:
    """Competencies, naming whole groups where a group is complete."""
    if comps >= ctx.competencies:
        return "every competency"
    parts: list[str] = []
    rest = set(comps)
    for group in sorted(ctx.groups):
        members = {c for c, g in ctx.group_of.items() if g == group}
        if len(members) > 1 and members <= rest:
            parts.append(f"group {group}")
            rest -= members
    if rest:
        parts.append(_short(rest))
    return ", ".join(parts)


def _pattern_text(p: Pattern) -> str:
    if not p.conds:
        return f"{{{p.type}: {{}}}}"
    return "{" + p.type + ": " + ", ".join(_cond_text(c) for c in p.conds) + "}"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _group_positions(kb: KnowledgeBase) -> dict[str, Where]:
    """Where each group is defined in ontology/competencies.yaml."""
    path = kb.root / "ontology" / "competencies.yaml"
    display = _display(path)
    doc = load_yaml_file(path, display)
    out: dict[str, Where] = {}
    groups = doc.data.get("groups") if isinstance(doc.data, Mapping) else None
    if isinstance(groups, list):
        for i, g in enumerate(groups):
            if isinstance(g, Mapping) and isinstance(g.get("id"), str):
                line, col = doc.positions.of(("groups", i))
                out[g["id"]] = (display, line, col)
    return out


def analyse(kb: KnowledgeBase) -> list[Issue]:
    """Static analysis of ``kb``'s rules: every finding as a warning Issue with its place.

    ``kb`` must be a validated knowledge base (:func:`~deficit_engine.loader.load_kb`);
    the result is sorted by file, line and column.
    """
    if not kb.rules:
        return []
    return _Analysis(kb).run()
