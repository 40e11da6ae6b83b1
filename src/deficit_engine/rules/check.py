"""Phase 2 of rule parsing: what well-formed rules mean, against each other and the KB.

Phase 1 (:mod:`.parse`) made each rule out of valid parts. Here the rule set
is judged as a whole: rule ids are unique; every fact type is provided by the
engine or asserted by some rule; fields exist on their type; literals have the
field's kind and name ids the KB defines (its :class:`~.model.Vocabulary`);
``$alias.field`` references name an alias bound earlier in the same rule; and
the custom fact types rules assert agree on the kinds of their fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .._yaml import Loaded, PathKey
from ..errors import Issue
from ..ontology import suggest
from ..schema import (
    DELIVERIES,
    EDUCATION_TYPES,
    MENTORING_FORMS,
    PHASES,
    QUALIFICATION_CATEGORIES,
    ROLES,
)
from .model import (
    FIELD_NAME,
    FIELDS,
    KB_ID_FIELDS,
    LIST,
    NEED_FILTERS,
    NEED_KINDS,
    NUM,
    RESERVED_FIELDS,
    SEVERITIES,
    STR,
    Action,
    AnyGroup,
    Cond,
    Pattern,
    Ref,
    Rule,
    Value,
    Vocabulary,
    Where,
    field_kinds,
    issue_at,
    literal_kind,
    where_of,
)

__all__ = ["CheckContext", "check_rules"]

# Fields whose values come from a fixed list of the language (not from the KB).
_FIXED_VOCABULARIES: dict[str, Sequence[str]] = {
    "severity": SEVERITIES,
    "kind": NEED_KINDS,
    "education": EDUCATION_TYPES,
    "phase": PHASES,
    "form": MENTORING_FORMS,
    "delivery": DELIVERIES,
    "role": ROLES,
    "category": QUALIFICATION_CATEGORIES,
}

# Operators that order their operands, which a list field cannot be.
_ORDERING = ("lt", "le", "gt", "ge", "between")


@dataclass
class CheckContext:
    """What the checks of one rule set share: the KB's ids, the custom fact types the
    rules assert (found first, so that a rule may match a type a later rule asserts),
    and the issues found so far."""

    vocabulary: Vocabulary | None
    issues: list[Issue]
    custom_fields: dict[str, dict[str, Where]] = field(default_factory=dict)

    def ids_for(self, fact_type: str, name: str) -> Sequence[str] | None:
        """The values a string field of a built-in fact type may take (None: any)."""
        if fact_type not in FIELDS:
            return None
        if name in KB_ID_FIELDS:
            # no vocabulary: the KB's ids are unknown (its ontology is broken)
            return None if self.vocabulary is None else self.vocabulary.ids_of(name)
        return _FIXED_VOCABULARIES.get(name)

    def fields_of(self, ftype: str) -> dict[str, str] | None:
        """Field name -> kind of a fact type ("" for a custom field); None if unknown."""
        if ftype in FIELDS:
            return FIELDS[ftype]
        if ftype in self.custom_fields:
            return dict.fromkeys(self.custom_fields[ftype], "")
        return None


def check_rules(
    rules: Sequence[Rule],
    paths: Mapping[int, PathKey],
    docs: Mapping[str, Loaded],
    vocabulary: Vocabulary | None,
    issues: list[Issue],
) -> None:
    """Check what the parsed rules mean; append every problem to ``issues``.

    Parameters
    ----------
    rules : sequence of Rule
        The well-formed rules of the whole rule set, in order.
    paths : mapping
        Each rule's ``order`` -> its path in its document.
    docs : mapping
        Each rule file's display name -> its document (for places).
    vocabulary : Vocabulary or None
        The KB's ids; None to skip the checks of KB ids.
    issues : list of Issue
        Where problems are appended.
    """
    ctx = CheckContext(vocabulary, issues)
    _check_unique_ids(rules, issues)
    _collect_custom_types(rules, paths, docs, ctx)
    for rule in rules:
        _RuleChecker(ctx, rule).check()
    _check_custom_kinds(rules, issues)


def _check_unique_ids(rules: Sequence[Rule], issues: list[Issue]) -> None:
    first: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in first:
            other = first[rule.id]
            issues.append(
                issue_at(
                    (rule.file, rule.line, 1),
                    "duplicate-id",
                    f"rule id '{rule.id}' is already used at {other.file}:{other.line}",
                )
            )
        else:
            first[rule.id] = rule


def _collect_custom_types(
    rules: Sequence[Rule],
    paths: Mapping[int, PathKey],
    docs: Mapping[str, Loaded],
    ctx: CheckContext,
) -> None:
    """Record the fields of every custom fact type a ``fact`` action asserts."""
    for rule in rules:
        for j, act in enumerate(rule.then):
            if act.kind != "fact":
                continue
            fields = dict(act.fields)
            where = where_of(docs[rule.file], (*paths[rule.order], "then", j, "fact"), key=True)
            problem = _custom_type_problem(fields.get("type"))
            if problem is not None:
                ctx.issues.append(issue_at(where, "bad-action", problem))
                continue
            known = ctx.custom_fields.setdefault(str(fields["type"]), {})
            for fname in fields:
                if fname in ("id", "sid"):
                    ctx.issues.append(
                        issue_at(where, "bad-field", f"'{fname}' is a reserved field name")
                    )
                elif fname != "type":
                    known.setdefault(fname, where)


def _custom_type_problem(ftype: Value) -> str | None:
    if not isinstance(ftype, str) or not FIELD_NAME.match(ftype):
        return "'fact' needs a 'type' that is a plain name"
    if ftype in FIELDS:
        return f"'fact' cannot assert the built-in type '{ftype}'; use its own action"
    return None


def _check_custom_kinds(rules: Sequence[Rule], issues: list[Issue]) -> None:
    """Every rule asserting a custom field gives it the kind the rule set settled on."""
    kinds = field_kinds(rules)
    for rule in rules:
        for act in rule.then:
            if act.kind != "fact":
                continue
            ftype = dict(act.fields).get("type")
            if not isinstance(ftype, str) or ftype in FIELDS:
                continue
            for name, value in act.fields:
                if name == "type" or isinstance(value, Ref) or value is None:
                    continue
                kind = literal_kind(value)
                expected = kinds.get(ftype, {}).get(name)
                if expected and kind != expected:
                    issues.append(
                        issue_at(
                            (rule.file, rule.line, 1),
                            "type-mismatch",
                            f"rule '{rule.id}' asserts {ftype}.{name} as a {kind}; "
                            f"other rules assert it as a {expected}",
                        )
                    )


class _RuleChecker:
    """The checks of one rule: its patterns in order (binding aliases), then its actions."""

    def __init__(self, ctx: CheckContext, rule: Rule) -> None:
        self.ctx = ctx
        self.rule = rule

    def err(self, where: Where, code: str, message: str, suggestion: str | None = None) -> None:
        self.ctx.issues.append(issue_at(where, code, message, suggestion))

    def check(self) -> None:
        bound = self.check_when()
        for act in self.rule.then:
            self.check_action(act, bound)

    # --- when ---------------------------------------------------------------

    def check_when(self) -> dict[str, str]:
        """Check the patterns; return the aliases bound outside ``any:``/``not:``."""
        bound: dict[str, str] = {}
        for el in self.rule.when:
            if isinstance(el, Pattern):
                self.check_pattern(el, bound)
            elif isinstance(el, AnyGroup):
                # an alternative's aliases are bound only within it
                for alt in el.alternatives:
                    local = dict(bound)
                    for pat in alt:
                        self.check_pattern(pat, local)
            else:
                local = dict(bound)
                for pat in el.patterns:
                    self.check_pattern(pat, local)
        return bound

    def check_pattern(self, pat: Pattern, bound: dict[str, str]) -> None:
        """Check a pattern's type and conditions, then bind its alias in ``bound``."""
        fields = self.ctx.fields_of(pat.type)
        if fields is None:
            known = [*FIELDS, *self.ctx.custom_fields]
            self.err(
                pat.where,
                "unknown-fact-type",
                f"unknown fact type '{pat.type}' (no rule asserts it)",
                suggest(pat.type, known),
            )
        for cond in pat.conds:
            self.check_cond(pat.type, fields, cond, bound)
        if pat.alias in bound:
            self.err(
                pat.where,
                "duplicate-alias",
                f"alias '{pat.alias}' is already bound in this rule; "
                "two patterns of one type need 'as:'",
            )
        bound[pat.alias] = pat.type

    def check_cond(
        self, ftype: str, fields: dict[str, str] | None, cond: Cond, bound: Mapping[str, str]
    ) -> None:
        if fields is not None and cond.field not in fields:
            self.unknown_field(ftype, fields, cond)
            return
        kind = fields.get(cond.field, "") if fields else ""
        if cond.op == "contains":
            if kind and kind != LIST:
                self.err(
                    cond.where,
                    "wrong-type",
                    f"'contains' needs a list field; '{cond.field}' is a {kind}",
                )
            element_kind = STR if kind == LIST else ""
            self.check_value(
                cond.value, element_kind, ftype, cond.field, cond.value_where, bound, True
            )
        elif cond.op == "exists":
            return
        elif cond.op in _ORDERING and kind == LIST:
            self.err(
                cond.where,
                "wrong-type",
                f"'{cond.op}' cannot compare the list field '{cond.field}'",
            )
        else:
            self.check_value(cond.value, kind, ftype, cond.field, cond.value_where, bound)

    def unknown_field(self, ftype: str, fields: dict[str, str], cond: Cond) -> None:
        if cond.field in RESERVED_FIELDS:
            self.err(cond.where, "bad-field", f"'{cond.field}' is a reserved field name")
        else:
            self.err(
                cond.where,
                "unknown-field",
                f"fact type '{ftype}' has no field '{cond.field}'",
                suggest(cond.field, fields),
            )

    # --- values ---------------------------------------------------------------

    def check_value(
        self,
        value: Value,
        kind: str,
        ftype: str,
        fname: str,
        where: Where,
        bound: Mapping[str, str],
        literal_only: bool = False,
    ) -> None:
        """Check a value (a literal, a reference, or a list of them) for field ``fname``
        of kind ``kind`` ("" when unknown) of fact type ``ftype``."""
        if isinstance(value, list) and kind != LIST:
            for item in value:
                self.check_value(item, kind, ftype, fname, where, bound)
        elif isinstance(value, Ref):
            if literal_only:
                self.err(where, "bad-reference", "a reference is not allowed here")
            else:
                self.check_reference(value, kind, fname, where, bound)
        elif value is not None:
            self.check_literal(value, kind, ftype, fname, where)

    def check_reference(
        self, ref: Ref, kind: str, fname: str, where: Where, bound: Mapping[str, str]
    ) -> None:
        """``$alias.field``: the alias is bound earlier, has the field, of a compatible kind."""
        if ref.alias not in bound:
            self.err(
                where,
                "unbound-alias",
                f"'{ref}' refers to alias '{ref.alias}', not bound earlier in this rule",
                suggest(ref.alias, bound),
            )
            return
        ref_fields = self.ctx.fields_of(bound[ref.alias])
        if ref_fields is not None and ref.field not in ref_fields:
            self.err(
                where,
                "unknown-field",
                f"'{ref}': fact type '{bound[ref.alias]}' has no field '{ref.field}'",
                suggest(ref.field, ref_fields),
            )
            return
        ref_kind = ref_fields.get(ref.field, "") if ref_fields else ""
        if kind and ref_kind and kind != ref_kind and LIST not in (kind, ref_kind):
            self.err(where, "type-mismatch", f"'{ref}' is a {ref_kind} but '{fname}' is a {kind}")

    def check_literal(self, value: Value, kind: str, ftype: str, fname: str, where: Where) -> None:
        """A literal has the field's kind and, for an id field, names a known id."""
        if kind == NUM and (isinstance(value, bool) or not isinstance(value, float)):
            self.err(where, "wrong-type", f"'{fname}' is a number; {value!r} is not")
        elif kind == STR and not isinstance(value, str):
            self.err(where, "wrong-type", f"'{fname}' is a string; {value!r} is not")
        elif kind == STR:
            known = self.ctx.ids_for(ftype, fname)
            if known is not None and value not in known:
                self.err(where, "unknown-ref", f"unknown {fname} '{value}'", suggest(value, known))

    # --- then -----------------------------------------------------------------

    def check_action(self, act: Action, bound: Mapping[str, str]) -> None:
        """An action names its required fields and only fields its type has."""
        fields = dict(act.fields)
        allowed, required = self.action_fields(act.kind, fields)
        for name in required:
            if name not in fields:
                self.err(
                    act.where,
                    "missing-field",
                    f"'{act.kind}' action of rule '{self.rule.id}' needs '{name}'",
                )
        ftype = act.kind if act.kind != "fact" else str(fields.get("type"))
        for name, value in act.fields:
            if name not in allowed:
                self.err(
                    act.where,
                    "unknown-field",
                    f"'{act.kind}' action has no field '{name}'",
                    suggest(name, allowed),
                )
            elif act.kind == "fact" and name == "type":
                continue
            elif act.kind == "need" and name == "kind" and _unknown_need_kind(value):
                self.err(
                    act.where,
                    "unknown-need-kind",
                    f"unknown need kind '{value}'",
                    suggest(value, NEED_KINDS),
                )
            else:
                self.check_value(value, allowed[name], ftype, name, act.where, bound)

    def action_fields(
        self, kind: str, fields: Mapping[str, Value]
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """The fields an action of ``kind`` may set (name -> kind) and those it must."""
        if kind == "deficit":
            return {"competency": STR, "severity": STR}, ("competency", "severity")
        if kind == "need":
            allowed = {k: STR for k in ("kind", "competency", *NEED_FILTERS)}
            # a programme or a mentor is chosen for a competency; a format need may be general
            if fields.get("kind") in ("program", "mentor"):
                return allowed, ("kind", "competency")
            return allowed, ("kind",)
        allowed = dict.fromkeys(self.ctx.custom_fields.get(str(fields.get("type")), {}), "")
        allowed["type"] = STR
        return allowed, ("type",)


def _unknown_need_kind(value: Value) -> bool:
    return isinstance(value, str) and value not in NEED_KINDS
