"""The rule language: parse and validate ``rules/*.yaml`` into rule objects.

The language is data (DESIGN.md section 5): patterns over typed facts with
field conditions, ``$alias.field`` references, ``any:``/``not:`` groups and
three actions (``deficit``, ``need``, ``fact``). Nothing in a rule file can run
code. Every problem of every file is reported in one pass with its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._yaml import MAX_FILE_BYTES, Loaded, PathKey, load_yaml_file
from .errors import Issue
from .ontology import suggest
from .schema import DELIVERIES, EDUCATION_TYPES, MENTORING_FORMS, PHASES, ROLES

if TYPE_CHECKING:
    from .loader import KnowledgeBase

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
    "NotGroup",
    "Pattern",
    "Ref",
    "Rule",
    "field_kinds",
    "load_rules",
    "parse_rules",
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

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REF = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\.([a-z][a-z0-9_]*)$")

_RULE_KEYS = ("id", "title", "source", "priority", "when", "then", "description")


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
    field: str
    op: str
    value: Value
    where: tuple[str, int, int] = ("", 0, 0)  # the field's key
    value_where: tuple[str, int, int] = ("", 0, 0)  # the operand


@dataclass(frozen=True)
class Pattern:
    type: str
    alias: str
    conds: tuple[Cond, ...]
    where: tuple[str, int, int] = ("", 0, 0)


@dataclass(frozen=True)
class AnyGroup:
    alternatives: tuple[tuple[Pattern, ...], ...]


@dataclass(frozen=True)
class NotGroup:
    patterns: tuple[Pattern, ...]


Element = Pattern | AnyGroup | NotGroup


@dataclass(frozen=True)
class Action:
    kind: str  # deficit | need | fact
    fields: tuple[tuple[str, Value], ...]  # for fact: includes ("type", name)
    where: tuple[str, int, int] = ("", 0, 0)

    @property
    def fact_type(self) -> str:
        if self.kind == "fact":
            return str(dict(self.fields)["type"])
        return self.kind


@dataclass(frozen=True)
class Rule:
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
        out: set[str] = set()
        for el in self.when:
            if isinstance(el, Pattern):
                out.add(el.type)
            elif isinstance(el, AnyGroup):
                out.update(p.type for alt in el.alternatives for p in alt)
        return out

    def negated_types(self) -> set[str]:
        return {p.type for el in self.when if isinstance(el, NotGroup) for p in el.patterns}

    def produced_types(self) -> set[str]:
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


# fields whose values are ids from the KB's ontology and catalogues
KB_VOCABULARIES = frozenset(("competency", "group", "indicator", "level", "format"))


@dataclass
class _Ctx:
    kb: KnowledgeBase
    issues: list[Issue] = field(default_factory=list)
    custom_fields: dict[str, dict[str, tuple[str, int, int]]] = field(default_factory=dict)
    kb_ids: bool = True  # False: the KB's own ids are not known (its ontology has errors)

    def vocab(self, fact_type: str, name: str) -> Sequence[str] | None:
        if fact_type not in FIELDS:
            return None
        if not self.kb_ids and name in KB_VOCABULARIES:
            return None
        onto = self.kb.ontology
        table: dict[str, Sequence[str]] = {
            "competency": sorted(onto.competencies),
            "group": sorted(onto.groups),
            "indicator": sorted(onto.indicators),
            "level": self.kb.scale.ids,
            "severity": SEVERITIES,
            "format": sorted(self.kb.formats),
            "kind": NEED_KINDS,
            "education": EDUCATION_TYPES,
            "phase": PHASES,
            "form": MENTORING_FORMS,
            "delivery": DELIVERIES,
            "role": ROLES,
        }
        return table.get(name)


def _where(doc: Loaded, path: PathKey, key: bool = False) -> tuple[str, int, int]:
    line, col = doc.positions.of(path, key=key)
    return (doc.file, line, col)


def _issue(
    where: tuple[str, int, int],
    code: str,
    message: str,
    suggestion: str | None = None,
    severity: str = "error",
) -> Issue:
    return Issue(where[0], where[1], where[2], code, message, "", suggestion, severity)


# --- phase 1: structure -----------------------------------------------------


class _Parser:
    def __init__(self, doc: Loaded, ctx: _Ctx) -> None:
        self.doc = doc
        self.ctx = ctx

    def err(
        self,
        path: PathKey,
        code: str,
        message: str,
        *,
        key: bool = False,
        suggestion: str | None = None,
    ) -> None:
        self.ctx.issues.append(self.doc.issue(path, code, message, key=key, suggestion=suggestion))

    def value(self, raw: Any, path: PathKey) -> Value:
        """A literal or reference; numbers become floats."""
        if isinstance(raw, str) and raw.startswith("$"):
            m = _REF.match(raw)
            if not m:
                self.err(
                    path, "bad-reference", f"'{raw}' is not a reference of the form $alias.field"
                )
                return None
            return Ref(m.group(1), m.group(2))
        if isinstance(raw, (bool, str)):
            return raw
        if isinstance(raw, (int, float)):
            number = float(raw)
            if number != 0 and not (MIN_NUMBER <= abs(number) < MAX_NUMBER):
                self.err(
                    path,
                    "out-of-range",
                    f"{raw!r}: numbers in rules are 0 or between "
                    f"{MIN_NUMBER:g} and {MAX_NUMBER:g} in size",
                )
            return number
        if isinstance(raw, list):
            return [self.value(item, (*path, i)) for i, item in enumerate(raw)]
        if raw is None:
            self.err(path, "wrong-type", "a value is required here (got null)")
            return None
        self.err(
            path,
            "wrong-type",
            f"a value must be a string, number, boolean or list, not {type(raw).__name__}",
        )
        return None

    def conds(self, raw: Any, path: PathKey) -> tuple[Cond, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, dict):
            self.err(
                path, "wrong-type", "a pattern's conditions must be a mapping of field: condition"
            )
            return ()
        out: list[Cond] = []
        for fname, spec in raw.items():
            fpath = (*path, fname)
            where = _where(self.doc, fpath, key=True)
            if not isinstance(fname, str) or not _NAME.match(fname):
                self.err(fpath, "bad-field", f"'{fname}' is not a field name", key=True)
                continue
            if isinstance(spec, dict):
                if not spec:
                    self.err(fpath, "wrong-type", f"no operator given for '{fname}'")
                for op, arg in spec.items():
                    opath = (*fpath, op)
                    if op not in OPERATORS:
                        self.err(
                            opath,
                            "unknown-operator",
                            f"unknown operator '{op}'",
                            key=True,
                            suggestion=suggest(str(op), OPERATORS),
                        )
                        continue
                    out.append(self.cond(fname, op, arg, opath, where))
            else:
                out.append(
                    Cond(fname, "eq", self.value(spec, fpath), where, _where(self.doc, fpath))
                )
        return tuple(out)

    def cond(
        self, fname: str, op: str, arg: Any, path: PathKey, where: tuple[str, int, int]
    ) -> Cond:
        value = self.value(arg, path)
        if op in ("in", "not_in"):
            if not isinstance(value, list):
                self.err(path, "wrong-type", f"'{op}' takes a list")
        elif op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.err(path, "wrong-type", "'between' takes a list of two bounds [low, high]")
            elif all(isinstance(v, float) for v in value) and value[0] > value[1]:
                self.err(
                    path,
                    "between-reversed",
                    f"'between' bounds are reversed: {value[0]:g} > {value[1]:g}",
                )
            elif not all(isinstance(v, (float, Ref)) for v in value):
                self.err(path, "wrong-type", "'between' bounds must be numbers")
        elif op == "exists":
            if not isinstance(value, bool):
                self.err(path, "wrong-type", "'exists' takes true or false")
        elif op == "contains":
            if isinstance(value, (list, Ref)):
                self.err(path, "wrong-type", "'contains' takes a literal value")
        elif isinstance(value, list):
            self.err(path, "wrong-type", f"'{op}' takes a single value, not a list")
        return Cond(fname, op, value, where, _where(self.doc, path))

    def pattern(self, raw: Any, path: PathKey) -> Pattern | None:
        if not isinstance(raw, dict):
            self.err(path, "wrong-type", "a pattern is a mapping {<fact type>: {conditions}}")
            return None
        alias = raw.get("as")
        types = [k for k in raw if k != "as"]
        if len(types) != 1:
            self.err(
                path,
                "bad-pattern",
                "a pattern names exactly one fact type "
                f"(found {', '.join(map(str, types)) or 'none'})",
            )
            return None
        ftype = types[0]
        if not isinstance(ftype, str) or not _NAME.match(ftype):
            self.err((*path, ftype), "bad-pattern", f"'{ftype}' is not a fact type name", key=True)
            return None
        if alias is not None and (
            not isinstance(alias, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", alias)
        ):
            self.err((*path, "as"), "bad-alias", f"alias '{alias}' must be a plain name")
            alias = None
        conds = self.conds(raw[ftype], (*path, ftype))
        return Pattern(ftype, alias or ftype, conds, _where(self.doc, (*path, ftype), key=True))

    def patterns(self, raw: Any, path: PathKey) -> tuple[Pattern, ...]:
        items = raw if isinstance(raw, list) else [raw]
        base = path if isinstance(raw, list) else None
        out = []
        for i, item in enumerate(items):
            p = self.pattern(item, (*path, i) if base is not None else path)
            if p is not None:
                out.append(p)
        return tuple(out)

    def element(self, raw: Any, path: PathKey) -> Element | None:
        if isinstance(raw, dict) and set(raw) == {"any"}:
            alts = raw["any"]
            if not isinstance(alts, list) or not alts:
                self.err(
                    (*path, "any"), "wrong-type", "'any' takes a non-empty list of alternatives"
                )
                return None
            return AnyGroup(
                tuple(self.patterns(alt, (*path, "any", j)) for j, alt in enumerate(alts))
            )
        if isinstance(raw, dict) and set(raw) == {"not"}:
            if isinstance(raw["not"], list) and len(raw["not"]) != 1:
                self.err(
                    (*path, "not"),
                    "bad-pattern",
                    "'not' takes one pattern; write one 'not' item per pattern",
                )
                return None
            pats = self.patterns(raw["not"], (*path, "not"))
            if not pats:
                return None
            return NotGroup(pats)
        if isinstance(raw, dict) and ("any" in raw or "not" in raw):
            self.err(path, "bad-pattern", "'any' and 'not' stand alone in their list item")
            return None
        return self.pattern(raw, path)

    def action(self, raw: Any, path: PathKey) -> Action | None:
        if not isinstance(raw, dict) or len(raw) != 1:
            self.err(
                path, "bad-action", "an action is a mapping with one key: deficit, need or fact"
            )
            return None
        ((kind, body),) = raw.items()
        if kind not in ("deficit", "need", "fact"):
            self.err(
                (*path, kind),
                "unknown-action",
                f"unknown action '{kind}'",
                key=True,
                suggestion=suggest(str(kind), ("deficit", "need", "fact")),
            )
            return None
        if not isinstance(body, dict):
            self.err((*path, kind), "wrong-type", f"'{kind}' takes a mapping of fields")
            return None
        fields: list[tuple[str, Value]] = []
        for fname, raw_value in body.items():
            fpath = (*path, kind, fname)
            if not isinstance(fname, str) or not _NAME.match(fname):
                self.err(fpath, "bad-field", f"'{fname}' is not a field name", key=True)
                continue
            fields.append((fname, self.value(raw_value, fpath)))
        return Action(kind, tuple(fields), _where(self.doc, (*path, kind), key=True))


T = TypeVar("T")


def _each(
    parser: _Parser,
    raw: dict[str, Any],
    rpath: PathKey,
    key: str,
    what: str,
    parse: Callable[[Any, PathKey], T | None],
) -> tuple[list[T], bool]:
    """Parse ``raw[key]`` (one item, or a list of items); False if any item is bad."""
    value = raw.get(key)
    items = value if isinstance(value, list) else [value]
    out: list[T] = []
    ok = True
    for j, item in enumerate(items):
        parsed = parse(item, (*rpath, key, j) if isinstance(value, list) else (*rpath, key))
        if parsed is None:
            ok = False
        else:
            out.append(parsed)
    if key in raw and not items:
        parser.err((*rpath, key), "wrong-type", f"'{key}' needs at least one {what}")
        ok = False
    return out, ok


def _parse_file(
    doc: Loaded, ctx: _Ctx, start_order: int
) -> tuple[list[Rule], list[tuple[Rule, PathKey]]]:
    parser = _Parser(doc, ctx)
    data = doc.data
    rules: list[Rule] = []
    paths: list[tuple[Rule, PathKey]] = []
    if data is None:
        return rules, paths
    if not isinstance(data, dict):
        parser.err((), "wrong-type", "a rule file is a mapping with 'ruleset' and 'rules'")
        return rules, paths
    for key in data:
        if key not in ("ruleset", "rules", "description"):
            parser.err(
                (key,),
                "unknown-field",
                f"unknown field '{key}'",
                key=True,
                suggestion=suggest(str(key), ("ruleset", "rules", "description")),
            )
    ruleset = data.get("ruleset", "")
    if not isinstance(ruleset, str):
        parser.err(("ruleset",), "wrong-type", "'ruleset' must be a string")
        ruleset = ""
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        parser.err(
            ("rules",) if "rules" in data else (),
            "wrong-type" if "rules" in data else "missing-field",
            "'rules' must be a list of rules"
            if "rules" in data
            else "missing required field 'rules'",
        )
        return rules, paths
    for i, raw in enumerate(raw_rules):
        rpath: PathKey = ("rules", i)
        if not isinstance(raw, dict):
            parser.err(rpath, "wrong-type", "a rule is a mapping")
            continue
        for key in raw:
            if key not in _RULE_KEYS:
                parser.err(
                    (*rpath, key),
                    "unknown-field",
                    f"unknown field '{key}'",
                    key=True,
                    suggestion=suggest(str(key), _RULE_KEYS),
                )
        ok = True
        for key in ("id", "when", "then"):
            if key not in raw:
                parser.err(rpath, "missing-field", f"missing required field '{key}'")
                ok = False
        rid = raw.get("id")
        if rid is not None and (
            not isinstance(rid, str) or not re.match(r"^[A-Za-z0-9_.\-]+$", rid)
        ):
            parser.err(
                (*rpath, "id"),
                "wrong-type",
                "a rule id is a string of letters, digits, '-', '_', '.'",
            )
            ok = False
        title = raw.get("title", rid if isinstance(rid, str) else "")
        if not isinstance(title, str):
            parser.err((*rpath, "title"), "wrong-type", "'title' must be a string")
            title = str(title)
        source = raw.get("source")
        if source is not None and not isinstance(source, str):
            parser.err((*rpath, "source"), "wrong-type", "'source' must be a string")
            source = None
        priority = raw.get("priority", 0)
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or not -1000 <= priority <= 1000
        ):
            parser.err(
                (*rpath, "priority"), "out-of-range", "'priority' is an integer from -1000 to 1000"
            )
            priority = 0
        when, when_ok = _each(parser, raw, rpath, "when", "pattern", parser.element)
        then, then_ok = _each(parser, raw, rpath, "then", "action", parser.action)
        ok = ok and when_ok and then_ok
        if not ok:
            continue
        line = doc.positions.of(rpath)[0]
        rule = Rule(
            str(rid),
            title,
            source,
            priority,
            tuple(cast("list[Element]", when)),  # mypy joins the union to object
            tuple(then),
            doc.file,
            line,
            start_order + len(rules),
            ruleset,
        )
        rules.append(rule)
        paths.append((rule, rpath))
    return rules, paths


# --- phase 2: meaning -------------------------------------------------------


def _collect_custom_types(
    rules: Sequence[Rule], paths: Mapping[int, PathKey], docs: Mapping[str, Loaded], ctx: _Ctx
) -> None:
    for rule in rules:
        for j, act in enumerate(rule.then):
            if act.kind != "fact":
                continue
            fields = dict(act.fields)
            where = _where(docs[rule.file], (*paths[rule.order], "then", j, "fact"), key=True)
            ftype = fields.get("type")
            if not isinstance(ftype, str) or not _NAME.match(ftype):
                ctx.issues.append(
                    _issue(where, "bad-action", "'fact' needs a 'type' that is a plain name")
                )
                continue
            if ftype in FIELDS:
                ctx.issues.append(
                    _issue(
                        where,
                        "bad-action",
                        f"'fact' cannot assert the built-in type '{ftype}'; use its own action",
                    )
                )
                continue
            known = ctx.custom_fields.setdefault(ftype, {})
            for fname in fields:
                if fname in ("id", "sid"):
                    ctx.issues.append(
                        _issue(where, "bad-field", f"'{fname}' is a reserved field name")
                    )
                elif fname != "type":
                    known.setdefault(fname, where)


class _Checker:
    def __init__(self, ctx: _Ctx, rule: Rule) -> None:
        self.ctx = ctx
        self.rule = rule

    def fields_of(self, ftype: str) -> dict[str, str] | None:
        if ftype in FIELDS:
            return FIELDS[ftype]
        if ftype in self.ctx.custom_fields:
            return dict.fromkeys(self.ctx.custom_fields[ftype], "")
        return None

    def err(
        self, where: tuple[str, int, int], code: str, message: str, suggestion: str | None = None
    ) -> None:
        self.ctx.issues.append(_issue(where, code, message, suggestion))

    def check_value(
        self,
        value: Value,
        kind: str,
        ftype: str,
        fname: str,
        where: tuple[str, int, int],
        bound: Mapping[str, str],
        literal_only: bool = False,
    ) -> None:
        if isinstance(value, list) and kind != LIST:
            for item in value:
                self.check_value(item, kind, ftype, fname, where, bound)
            return
        if isinstance(value, Ref):
            if literal_only:
                self.err(where, "bad-reference", "a reference is not allowed here")
                return
            if value.alias not in bound:
                self.err(
                    where,
                    "unbound-alias",
                    f"'{value}' refers to alias '{value.alias}', not bound earlier in this rule",
                    suggest(value.alias, bound),
                )
                return
            ref_fields = self.fields_of(bound[value.alias])
            if ref_fields is not None and value.field not in ref_fields:
                self.err(
                    where,
                    "unknown-field",
                    f"'{value}': fact type '{bound[value.alias]}' has no field '{value.field}'",
                    suggest(value.field, ref_fields),
                )
                return
            ref_kind = ref_fields.get(value.field, "") if ref_fields else ""
            if kind and ref_kind and kind != ref_kind and LIST not in (kind, ref_kind):
                self.err(
                    where, "type-mismatch", f"'{value}' is a {ref_kind} but '{fname}' is a {kind}"
                )
            return
        if value is None:
            return
        if kind == NUM and (isinstance(value, bool) or not isinstance(value, float)):
            self.err(where, "wrong-type", f"'{fname}' is a number; {value!r} is not")
        elif kind == STR and not isinstance(value, str):
            self.err(where, "wrong-type", f"'{fname}' is a string; {value!r} is not")
        elif kind == STR:
            vocab = self.ctx.vocab(ftype, fname)
            if vocab is not None and value not in vocab:
                self.err(where, "unknown-ref", f"unknown {fname} '{value}'", suggest(value, vocab))

    def check_pattern(self, pat: Pattern, bound: dict[str, str]) -> None:
        fields = self.fields_of(pat.type)
        if fields is None:
            known = [*FIELDS, *self.ctx.custom_fields]
            self.err(
                pat.where,
                "unknown-fact-type",
                f"unknown fact type '{pat.type}' (no rule asserts it)",
                suggest(pat.type, known),
            )
        for cond in pat.conds:
            if fields is not None and cond.field not in fields:
                if cond.field in RESERVED_FIELDS:
                    self.err(cond.where, "bad-field", f"'{cond.field}' is a reserved field name")
                else:
                    self.err(
                        cond.where,
                        "unknown-field",
                        f"fact type '{pat.type}' has no field '{cond.field}'",
                        suggest(cond.field, fields),
                    )
                continue
            kind = fields.get(cond.field, "") if fields else ""
            if cond.op == "contains":
                if kind and kind != LIST:
                    self.err(
                        cond.where,
                        "wrong-type",
                        f"'contains' needs a list field; '{cond.field}' is a {kind}",
                    )
                self.check_value(
                    cond.value,
                    STR if kind == LIST else "",
                    pat.type,
                    cond.field,
                    cond.value_where,
                    bound,
                    literal_only=True,
                )
            elif cond.op == "exists":
                continue
            elif cond.op in ("lt", "le", "gt", "ge", "between") and kind == LIST:
                self.err(
                    cond.where,
                    "wrong-type",
                    f"'{cond.op}' cannot compare the list field '{cond.field}'",
                )
            else:
                self.check_value(cond.value, kind, pat.type, cond.field, cond.value_where, bound)
        if pat.alias in bound:
            self.err(
                pat.where,
                "duplicate-alias",
                f"alias '{pat.alias}' is already bound in this rule; "
                "two patterns of one type need 'as:'",
            )
        bound[pat.alias] = pat.type

    def check(self) -> None:
        bound: dict[str, str] = {}
        for el in self.rule.when:
            if isinstance(el, Pattern):
                self.check_pattern(el, bound)
            elif isinstance(el, AnyGroup):
                for alt in el.alternatives:
                    local = dict(bound)
                    for pat in alt:
                        self.check_pattern(pat, local)
            else:
                local = dict(bound)
                for pat in el.patterns:
                    self.check_pattern(pat, local)
        for act in self.rule.then:
            where = act.where
            fields = dict(act.fields)
            if act.kind == "deficit":
                allowed = {"competency": STR, "severity": STR}
                required: tuple[str, ...] = ("competency", "severity")
            elif act.kind == "need":
                allowed = {k: STR for k in ("kind", "competency", *NEED_FILTERS)}
                required = ("kind",)
                kind = fields.get("kind")
                if kind in ("program", "mentor"):
                    required = ("kind", "competency")
            else:
                allowed = dict.fromkeys(self.ctx.custom_fields.get(str(fields.get("type")), {}), "")
                allowed["type"] = STR
                required = ("type",)
            for name in required:
                if name not in fields:
                    self.err(
                        where,
                        "missing-field",
                        f"'{act.kind}' action of rule '{self.rule.id}' needs '{name}'",
                    )
            for name, value in act.fields:
                if name not in allowed:
                    self.err(
                        where,
                        "unknown-field",
                        f"'{act.kind}' action has no field '{name}'",
                        suggest(name, allowed),
                    )
                    continue
                if act.kind == "fact" and name == "type":
                    continue
                if (
                    act.kind == "need"
                    and name == "kind"
                    and isinstance(value, str)
                    and value not in NEED_KINDS
                ):
                    self.err(
                        where,
                        "unknown-need-kind",
                        f"unknown need kind '{value}'",
                        suggest(value, NEED_KINDS),
                    )
                    continue
                ftype = act.kind if act.kind != "fact" else str(fields.get("type"))
                self.check_value(value, allowed[name], ftype, name, where, bound)


def _literal_kind(value: Any) -> str:
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
    """
    kinds: dict[str, dict[str, str]] = {t: dict(f) for t, f in FIELDS.items()}
    facts = [(dict(a.fields), rule) for rule in rules for a in rule.then if a.kind == "fact"]
    for _ in range(len(facts) + 1):
        changed = False
        for fields, rule in facts:
            ftype = fields.get("type")
            if not isinstance(ftype, str):
                continue
            table = kinds.setdefault(ftype, {})
            for name, value in fields.items():
                if name == "type" or table.get(name):
                    continue
                if isinstance(value, Ref):
                    alias_type = _alias_type(rule, value.alias)
                    kind = kinds.get(alias_type or "", {}).get(value.field, "")
                else:
                    kind = _literal_kind(value)
                if kind:
                    table[name] = kind
                    changed = True
        if not changed:
            break
    for fields, _rule in facts:
        ftype = fields.get("type")
        if isinstance(ftype, str):
            for name in fields:
                if name != "type":
                    kinds[ftype].setdefault(name, STR)
    return kinds


def _alias_type(rule: Rule, alias: str) -> str | None:
    for el in rule.when:
        if isinstance(el, Pattern) and el.alias == alias:
            return el.type
    return None


def _check_custom_kinds(rules: Sequence[Rule], ctx: _Ctx) -> None:
    kinds = field_kinds(rules)
    for rule in rules:
        for act in rule.then:
            if act.kind != "fact":
                continue
            fields = dict(act.fields)
            ftype = fields.get("type")
            if not isinstance(ftype, str) or ftype in FIELDS:
                continue
            for name, value in act.fields:
                if name == "type" or isinstance(value, Ref) or value is None:
                    continue
                kind = _literal_kind(value)
                expected = kinds.get(ftype, {}).get(name)
                if expected and kind != expected:
                    ctx.issues.append(
                        _issue(
                            (rule.file, rule.line, 1),
                            "type-mismatch",
                            f"rule '{rule.id}' asserts {ftype}.{name} as a {kind}; "
                            f"other rules assert it as a {expected}",
                        )
                    )


def _stratify(rules: Sequence[Rule], ctx: _Ctx) -> list[Rule]:
    """Assign strata so that a rule with ``not:`` runs after what it negates is complete."""
    producers: dict[str, list[Rule]] = {}
    for rule in rules:
        for t in rule.produced_types():
            producers.setdefault(t, []).append(rule)
    stratum = {r.order: 0 for r in rules}
    limit = len(rules) + 1
    changed = True
    bad: set[int] = set()
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
                bad.add(rule.order)
                continue
            if need != stratum[rule.order]:
                stratum[rule.order] = need
                changed = True
    for rule in rules:
        if rule.order in bad:
            ctx.issues.append(
                _issue(
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


def parse_rules(
    docs: Sequence[Loaded], kb: KnowledgeBase, kb_ids: bool = True
) -> tuple[list[Rule], list[Issue]]:
    """Parse and validate already-loaded rule documents against a KB (with
    ``kb_ids=False``, everything but the ids the KB defines: for a KB whose
    ontology or catalogues have errors, so that the rules' own problems are
    reported in the same pass without false unknown ids)."""
    ctx = _Ctx(kb, kb_ids=kb_ids)
    for doc in docs:
        ctx.issues.extend(doc.issues)
    rules: list[Rule] = []
    paths: dict[int, PathKey] = {}
    by_file = {doc.file: doc for doc in docs}
    for doc in docs:
        if doc.data is None or any(i.code == "yaml-syntax" for i in doc.issues):
            continue
        parsed, rule_paths = _parse_file(doc, ctx, len(rules))
        rules.extend(parsed)
        paths.update((r.order, p) for r, p in rule_paths)
    first: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in first:
            other = first[rule.id]
            ctx.issues.append(
                _issue(
                    (rule.file, rule.line, 1),
                    "duplicate-id",
                    f"rule id '{rule.id}' is already used at {other.file}:{other.line}",
                )
            )
        else:
            first[rule.id] = rule
    _collect_custom_types(rules, paths, by_file, ctx)
    for rule in rules:
        _Checker(ctx, rule).check()
    _check_custom_kinds(rules, ctx)
    rules = _stratify(rules, ctx)
    return rules, ctx.issues


def rule_files(root: Path) -> list[Path]:
    folder = root / "rules"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_rules(
    root: Path, kb: KnowledgeBase, max_bytes: int = MAX_FILE_BYTES, kb_ids: bool = True
) -> tuple[list[Rule], list[Issue]]:
    """Read ``root/rules/*.yaml`` (in file-name order) and validate them against ``kb``
    (see :func:`parse_rules` for ``kb_ids``)."""
    docs = []
    for path in rule_files(root):
        try:
            display = str(path.relative_to(Path.cwd()))
        except ValueError:
            display = str(path)
        docs.append(load_yaml_file(path, display, max_bytes))
    return parse_rules(docs, kb, kb_ids)
