"""Domains: the values a fact matching a pattern, or asserted by an action, can hold.

Every check of the analysis reduces to questions about domains. "Can this pattern
ever match?" is "is its domain empty?"; "can this rule feed that one?" is "do the
domain of the fact it asserts and the domain of the other's pattern meet?". A domain
(:class:`Dom`) keeps, per field, the strings it may hold (a finite set, or ``None`` for
any string), the numbers it may hold (a :mod:`band <.intervals>`), and which fields
must or may be present.

:class:`Domains` computes them for one knowledge base. It knows the KB's vocabularies
(competencies and their groups, indicators, the levels of the scale as score bands)
and what rules assert into custom facts' fields, which it works out once, when it is
built, because a pattern on a custom fact can only match what some rule asserts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ..kb import KnowledgeBase
from ..rules import (
    FIELDS,
    NEED_KINDS,
    SEVERITIES,
    Action,
    Cond,
    Pattern,
    Ref,
    Rule,
    Where,
    field_kinds,
)
from ..schema import (
    DELIVERIES,
    EDUCATION_TYPES,
    MENTORING_FORMS,
    PHASES,
    QUALIFICATION_CATEGORIES,
    ROLES,
)
from .intervals import (
    EMPTY,
    FULL,
    Band,
    band_and,
    band_of,
    band_or,
    band_text,
    cond_band,
    cond_text,
    point,
)

__all__ = [
    "NUM",
    "NUM_RANGE",
    "STR",
    "Dom",
    "Domains",
    "Failure",
    "StrDom",
    "alternatives",
    "compatible",
    "outer_pattern",
    "pattern_text",
]

NUM, STR = "number", "string"
Failure = tuple[str, Where]  # why a pattern can never match, and where it says so

StrDom = frozenset[str] | None  # None: any string


@dataclass
class Dom:
    """The values a fact matching a pattern (or asserted by an action) can hold.

    Built field by field by :class:`Domains`; read-only once built.
    """

    strings: dict[str, StrDom] = field(default_factory=dict)
    nums: dict[str, Band] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)  # fields that must be present
    absent: set[str] = field(default_factory=set)  # fields that must be absent
    maybe: set[str] = field(default_factory=set)  # (facts) fields that may be present
    impossible: str | None = None
    where: Where | None = None


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
# The range of the numeric fields the profile schema bounds.
NUM_RANGE: Mapping[str, Band] = MappingProxyType(
    {
        "score_pct": ((0.0, True, 100.0, True),),
        "experience_years": ((0.0, True, 70.0, True),),
    }
)
_SCORED = ("result", "indicator_result", "group_result")


def _level_bands(kb: KnowledgeBase) -> dict[str, Band]:
    """Each level of the scale as the score band it covers (the last one up to 100)."""
    levels: dict[str, Band] = {}
    low = 0.0
    for i, level in enumerate(kb.scale.levels):
        last = i == len(kb.scale.levels) - 1 or level.below is None
        hi = 100.0 if last else float(level.below or 100.0)
        levels[level.id] = band_of([(low, True, hi, last)])
        low = hi
    return levels


@dataclass(frozen=True, eq=False)
class Domains:
    """The domains of one knowledge base's patterns and asserted facts.

    Build it with :meth:`of`. Pattern domains are computed on first use and kept:
    they depend only on the pattern and on this object's (frozen) vocabularies.
    """

    kinds: Mapping[str, Mapping[str, str]]
    competencies: frozenset[str]
    groups: frozenset[str]
    indicators: frozenset[str]
    group_of: Mapping[str, str]  # competency -> its group
    parent: Mapping[str, str]  # indicator -> its competency
    levels: Mapping[str, Band]  # level id -> the score band it covers
    vocab: Mapping[str, frozenset[str]]  # built-in string field -> its values
    custom: Mapping[tuple[str, str], StrDom]  # (custom type, field) -> values rules assert
    _memo: dict[int, Dom] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def of(cls, kb: KnowledgeBase) -> Domains:
        """The domains of ``kb``'s rule set.

        Parameters
        ----------
        kb : KnowledgeBase
            A validated knowledge base.

        Returns
        -------
        Domains
            With the values rules assert into custom facts already worked out.
        """
        onto = kb.ontology
        levels = _level_bands(kb)
        competencies = frozenset(onto.competencies)
        groups = frozenset(onto.groups)
        indicators = frozenset(onto.indicators)
        vocab: dict[str, frozenset[str]] = {
            "competency": competencies,
            "group": groups,
            "indicator": indicators,
            "level": frozenset(levels),
            "severity": frozenset(SEVERITIES),
            "format": frozenset(kb.formats),
            "kind": frozenset(NEED_KINDS),
            "education": frozenset(EDUCATION_TYPES),
            "phase": frozenset(PHASES),
            "form": frozenset(MENTORING_FORMS),
            "delivery": frozenset(DELIVERIES),
            "role": frozenset(ROLES),
            "category": frozenset(QUALIFICATION_CATEGORIES),
        }
        first = cls(
            kinds=field_kinds(list(kb.rules)),
            competencies=competencies,
            groups=groups,
            indicators=indicators,
            group_of={c: onto.group_of(c) for c in onto.competencies},
            parent=dict(onto.indicator_parent),
            levels=levels,
            vocab=vocab,
            custom={},
        )
        return _settle_custom(first, kb.rules)

    def kind(self, ftype: str, name: str) -> str:
        """The kind (``number``, ``string``, ...) of a fact type's field; ``""`` if unknown."""
        return self.kinds.get(ftype, {}).get(name, "")

    def default_str(self, ftype: str, name: str) -> StrDom:
        """The strings a field can hold before any condition: its vocabulary, or any."""
        if ftype in FIELDS:
            return self.vocab.get(name)
        return self.custom.get((ftype, name))

    def default_num(self, name: str) -> Band:
        """The numbers a field can hold before any condition."""
        return NUM_RANGE.get(name, FULL)

    # --- patterns --------------------------------------------------------------

    def pattern(self, pat: Pattern) -> Dom:
        """The domain of the facts ``pat`` can match (``impossible`` says why none can)."""
        key = id(pat)
        if key not in self._memo:
            self._memo[key] = self._pattern(pat)
        return self._memo[key]

    def _pattern(self, pat: Pattern) -> Dom:
        dom = Dom(where=pat.where)
        by_field: dict[str, list[Cond]] = {}
        for cond in pat.conds:
            by_field.setdefault(cond.field, []).append(cond)
        failure: Failure | None = None
        for name, conds in by_field.items():
            failure = self._field(pat.type, name, conds, dom)
            if failure is not None:
                break
        else:
            failure = self._cross(pat, dom)
        if failure is not None:
            dom.impossible, dom.where = failure
        return dom

    def _field(self, ftype: str, name: str, conds: list[Cond], dom: Dom) -> Failure | None:
        """Narrow ``dom`` by one field's conditions; why they exclude every value, if so."""
        for cond in conds:
            if cond.op == "exists":
                (dom.present if cond.value is True else dom.absent).add(name)
        if name in dom.present and name in dom.absent:
            return f"'{name}' must both exist and not exist", conds[0].where
        others = [c for c in conds if c.op != "exists"]
        if name in dom.absent:
            return _absent_failure(ftype, name, conds, others)
        kind = self.kind(ftype, name)
        if kind == NUM:
            return self._number_field(name, others, dom)
        if kind == STR:
            return self._string_field(ftype, name, others, dom)
        return None

    def _number_field(self, name: str, conds: list[Cond], dom: Dom) -> Failure | None:
        band = self.default_num(name)
        for cond in conds:
            cb = cond_band(cond.op, cond.value)
            if cb is None:
                continue
            band = band_and(band, cb)
            if not band:
                texts = ", ".join(cond_text(c) for c in conds)
                limit = (
                    f" ({name} is within {band_text(self.default_num(name))})"
                    if name in NUM_RANGE
                    else ""
                )
                return f"no value satisfies {texts}{limit}", cond.where
        dom.nums[name] = band
        return None

    def _string_field(self, ftype: str, name: str, conds: list[Cond], dom: Dom) -> Failure | None:
        values = self.default_str(ftype, name)
        for cond in conds:
            values = _restrict_strings(values, cond)
            if values is not None and not values:
                texts = ", ".join(cond_text(c) for c in conds)
                return f"no value satisfies {texts}", cond.where
        dom.strings[name] = values
        return None

    def _cross(self, pat: Pattern, dom: Dom) -> Failure | None:
        """Constraints between fields: level and score, competency, group and indicator."""
        if pat.type in _SCORED and ("level" in dom.strings or "score_pct" in dom.nums):
            failure = self._level_and_score(pat, dom)
            if failure is not None:
                return failure
        if (pat.type == "indicator_result" and self.indicators) or (
            pat.type in ("result", "request", "deficit")
            and ("competency" in dom.strings or "group" in dom.strings)
        ):
            return self._competency_group_indicator(pat, dom)
        return None

    def _level_and_score(self, pat: Pattern, dom: Dom) -> Failure | None:
        """Keep the levels whose score band meets the pattern's, and the scores they allow."""
        levels = dom.strings.get("level") or frozenset(self.levels)
        band = dom.nums.get("score_pct", self.default_num("score_pct"))
        fit = frozenset(lv for lv in levels if band_and(self.levels.get(lv, FULL), band))
        if not fit:
            shown = ", ".join(
                f"{lv} is {band_text(self.levels[lv])}"
                for lv in sorted(levels)
                if lv in self.levels
            )
            return (
                f"the level and the score band {band_text(band)} exclude each other "
                f"on the scale ({shown})",
                pat.where,
            )
        dom.strings["level"] = fit
        union: Band = EMPTY
        for lv in fit:
            union = band_or(union, self.levels[lv])
        dom.nums["score_pct"] = band_and(band, union)
        return None

    def _competency_group_indicator(self, pat: Pattern, dom: Dom) -> Failure | None:
        """Keep the competencies in the named groups (and with the named indicators)."""
        comps = dom.strings.get("competency") or self.competencies
        groups = dom.strings.get("group") or self.groups
        comps = frozenset(c for c in comps if self.group_of.get(c) in groups)
        if pat.type == "indicator_result":
            inds = dom.strings.get("indicator") or self.indicators
            inds = frozenset(i for i in inds if self.parent.get(i) in comps)
            comps = frozenset(self.parent[i] for i in inds)
            dom.strings["indicator"] = inds
        if not comps:
            return (
                "no competency satisfies the competency, group and indicator conditions together",
                pat.where,
            )
        dom.strings["competency"] = comps
        dom.strings["group"] = frozenset(self.group_of[c] for c in comps)
        return None

    # --- facts asserted by actions ------------------------------------------------

    def ref_str(self, rule: Rule, ref: Ref) -> StrDom:
        """The strings ``$alias.field`` can stand for in ``rule``."""
        pat = outer_pattern(rule, ref.alias)
        if pat is None:
            return None
        dom = self.pattern(pat)
        if ref.field in dom.strings:
            return dom.strings[ref.field]
        return self.default_str(pat.type, ref.field)

    def ref_num(self, rule: Rule, ref: Ref) -> Band:
        """The numbers ``$alias.field`` can stand for in ``rule``."""
        pat = outer_pattern(rule, ref.alias)
        if pat is None:
            return FULL
        dom = self.pattern(pat)
        return dom.nums.get(ref.field, self.default_num(ref.field))

    def fact(self, rule: Rule, action: Action) -> Dom:
        """The domain of the fact ``action`` of ``rule`` asserts."""
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
                dom.nums[name] = point(value)
        if action.kind == "deficit":
            self._deficit_extras(dom)
        return dom

    def _deficit_extras(self, dom: Dom) -> None:
        """A deficit also carries its competency's group, and maybe the score."""
        comps = dom.strings.get("competency")
        if comps is not None:
            comps = frozenset(c for c in comps if c in self.competencies)
            dom.strings["group"] = frozenset(self.group_of[c] for c in comps)
        else:
            dom.strings["group"] = self.groups
        dom.present.add("group")
        dom.maybe.add("score_pct")
        dom.nums["score_pct"] = self.default_num("score_pct")


def _absent_failure(ftype: str, name: str, conds: list[Cond], others: list[Cond]) -> Failure | None:
    """Why a field required to be absent makes the pattern impossible, if it does."""
    if name in _ALWAYS.get(ftype, set()):
        return f"'{name}' is always present in a {ftype} fact", conds[0].where
    if others:
        return (
            f"'{name}' must be absent, but a comparison on an absent field is false "
            f"({cond_text(others[0])})",
            others[0].where,
        )
    return None


def _asserted_custom(domains: Domains, rules: Iterable[Rule]) -> dict[tuple[str, str], StrDom]:
    """The strings rules assert into each custom fact's fields, as ``domains`` sees them."""
    table: dict[tuple[str, str], StrDom] = {}
    unknown: set[tuple[str, str]] = set()
    for rule in rules:
        for act in rule.then:
            if act.kind != "fact":
                continue
            ftype = act.fact_type
            for name, values in domains.fact(rule, act).strings.items():
                key = (ftype, name)
                if values is None:
                    unknown.add(key)
                else:
                    table[key] = (table.get(key) or frozenset()) | values
    new = {k: (None if k in unknown else v) for k, v in table.items()}
    for k in unknown:
        new[k] = None
    return new


def _settle_custom(domains: Domains, rules: Iterable[Rule]) -> Domains:
    """Recompute the custom fields' values until they settle (a few rounds at most).

    A custom fact's field may be asserted from another custom fact's field, so each
    round sees further along such chains; three rounds cover the chains rule sets have.
    """
    rules = tuple(rules)
    for _ in range(3):
        new = _asserted_custom(domains, rules)
        if new == domains.custom:
            break
        domains = replace(domains, custom=new)
    return domains


def _restrict_strings(values: StrDom, cond: Cond) -> StrDom:
    """The strings of ``values`` that satisfy ``cond`` (references are not narrowed)."""
    v = cond.value
    if cond.op == "eq" and isinstance(v, str):
        return frozenset({v}) if values is None or v in values else frozenset()
    if cond.op == "ne" and isinstance(v, str):
        return None if values is None else values - {v}
    if cond.op in ("in", "not_in") and isinstance(v, list):
        return _restrict_to_list(values, cond.op, v)
    return values


def _restrict_to_list(values: StrDom, op: str, items: list[object]) -> StrDom:
    """``in`` keeps the listed strings (unless a reference may be anything); ``not_in``
    drops them."""
    lits = frozenset(x for x in items if isinstance(x, str))
    if op == "in":
        if any(isinstance(x, Ref) for x in items):
            return values
        return lits if values is None else values & lits
    return None if values is None else values - lits


def outer_pattern(rule: Rule, alias: str) -> Pattern | None:
    """The pattern outside ``any:`` / ``not:`` that binds ``alias`` in ``rule``."""
    for el in rule.when:
        if isinstance(el, Pattern) and el.alias == alias:
            return el
    return None


def alternatives(rule: Rule) -> list[list[Pattern]]:
    """The positive patterns of each combination of ``any:`` alternatives."""
    return [
        [e for e in elements if isinstance(e, Pattern)]
        for _idx, elements, _n in rule.alternatives()
    ]


def compatible(fact: Dom, pat: Dom, pattern: Pattern) -> bool:
    """Can a fact with domain ``fact`` match ``pattern`` (literal conditions only)?"""
    for name in {c.field for c in pattern.conds}:
        if name in pat.absent:
            if name in fact.present and name not in fact.maybe:
                return False
            continue
        if not (name in fact.present or name in fact.maybe):
            return False
        if name in pat.strings and name in fact.strings:
            a, b = pat.strings[name], fact.strings[name]
            if a is not None and b is not None and not (a & b):
                return False
        if name in pat.nums and name in fact.nums and not band_and(pat.nums[name], fact.nums[name]):
            return False
    return True


def pattern_text(p: Pattern) -> str:
    """A pattern as a message quotes it: ``{deficit: severity eq low}``."""
    if not p.conds:
        return f"{{{p.type}: {{}}}}"
    return "{" + p.type + ": " + ", ".join(cond_text(c) for c in p.conds) + "}"
